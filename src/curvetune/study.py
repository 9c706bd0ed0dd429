"""The study facade: what a user holds in Python.

A ``Study`` is a directory (``study.db`` plus ``checkpoints/``) or, without a directory, an
in-memory study. Opening an existing directory rebuilds its history from the store, and
``optimize`` continues it: finished trials are kept, unfinished ones resume from their last
checkpoint.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from .checkpoints import CheckpointStore
from .controller import Controller, Listener
from .events import replay
from .executors import Executor, make_executor
from .notes import note
from .progress import StudyProgress
from .schedulers import Scheduler, make_scheduler
from .searchers import Searcher, make_searcher
from .space import Domain, Space
from .storage import MemoryStore, SqliteStore, Store, StoreError, StudyLock
from .types import History, Mode, Trial
from .worker import Objective, load_objective


class StudyMismatchError(ValueError):
    """The directory holds a different study than the one described."""


@dataclass(frozen=True)
class StudySpec:
    """What a study is; fixed for its lifetime (changing it means a new study directory)."""

    objective: str
    space: Space
    metric: str
    mode: Mode
    max_steps: int
    seed: int = 0
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        if not isinstance(self.max_steps, int) or self.max_steps < 1:
            raise ValueError(f"max_steps must be a whole number >= 1, got {self.max_steps!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a whole number >= 0, got {self.seed!r}")
        if not self.metric:
            raise ValueError("metric must name the reported metric to optimise")
        clash = sorted(set(self.fixed) & set(self.space.names))
        if clash:
            raise ValueError(f"{clash[0]!r} is both a fixed setting and a searched parameter")

    def to_json(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "space": self.space.to_json(),
            "metric": self.metric,
            "mode": self.mode,
            "max_steps": self.max_steps,
            "seed": self.seed,
            "fixed": dict(self.fixed),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StudySpec:
        return cls(**{**data, "space": Space.from_json(data["space"])})


class Study:
    """A tuning study: ``Study.create(...)`` starts or reopens one, ``Study.load(dir)`` opens
    an existing directory by what it stores (read-only unless ``readonly=False``).

    A study with ``directory=None`` lives in memory and nothing survives the process.
    """

    def __init__(
        self,
        spec: StudySpec,
        *,
        directory: str | Path | None = None,
        objective: Objective | None = None,
        readonly: bool = False,
    ) -> None:
        self.spec = spec
        self.directory = Path(directory) if directory is not None else None
        self.readonly = readonly
        self._callable = objective
        self._scratch: tempfile.TemporaryDirectory | None = None  # in-memory checkpoints
        if self.directory is None:
            self.store: Store = MemoryStore()
        else:
            self.store = SqliteStore(self.directory / "study.db", readonly=readonly)
        if not readonly:
            self._adopt_spec()
        self._load_history()

    def _load_history(self) -> None:
        spec = self.spec
        self.history = History(metric=spec.metric, mode=spec.mode, max_steps=spec.max_steps)
        replay(self.history, self.store.events(facts_only=True))
        self._seen_seq = self.store.last_seq()

    @classmethod
    def create(
        cls,
        *,
        objective: str | Objective,
        space: Space | Mapping[str, Domain],
        metric: str,
        mode: Mode = "max",
        max_steps: int,
        seed: int = 0,
        fixed: Mapping[str, Any] | None = None,
        directory: str | Path | None = None,
    ) -> Study:
        """Start a study, or reopen the one in ``directory`` if it describes the same study.

        ``objective`` is an import path ``"package.module:function"`` (what worker
        processes and a resumed run need) or, for in-process executors, a callable.
        """
        name = objective if isinstance(objective, str) else _qualname(objective)
        space = space if isinstance(space, Space) else Space(space)
        spec = StudySpec(name, space, metric, mode, max_steps, seed, dict(fixed or {}))
        fn = None if isinstance(objective, str) else objective
        return cls(spec, directory=directory, objective=fn)

    @classmethod
    def load(cls, directory: str | Path, *, readonly: bool = True) -> Study:
        """Open the study stored in ``directory`` (to inspect it, or to continue it)."""
        store = SqliteStore(Path(directory) / "study.db", readonly=True)
        try:
            stored = store.spec()
        finally:
            store.close()
        if stored is None:
            raise StoreError(f"{directory} holds no study yet")
        return cls(StudySpec.from_json(stored), directory=directory, readonly=readonly)

    def _adopt_spec(self, *, locked: bool = False) -> None:
        """Store the spec of a new study; check it against a stored one. A study that has
        no results yet takes a corrected description (its untrained trials are forgotten):
        fixing a typo in the objective or the metric must not need a new directory."""
        stored = self.store.spec()
        mine = self.spec.to_json()
        if stored is None:
            self.store.set_spec(mine)
            return
        changed = [key for key in mine if _normal(stored.get(key)) != _normal(mine[key])]
        if not changed:
            return
        if not self.store.has_results():
            # Never under a controller that is running it.
            with contextlib.nullcontext() if locked else self._lock():
                self.store.reset(mine)
                if self.directory is not None:
                    self.checkpoints.gc({})
            return
        key = changed[0]
        raise StudyMismatchError(
            f"{self.directory} holds a study with a different {key} "
            f"({stored.get(key)!r}, not {mine[key]!r}) and has results; use a new directory"
        )

    def _lock(self) -> contextlib.AbstractContextManager:
        """The study's one-controller lock (nothing to lock for an in-memory study)."""
        if self.directory is None:
            return contextlib.nullcontext()
        return StudyLock(self.directory)

    @property
    def checkpoints(self) -> CheckpointStore:
        """Where trials save their state: ``<directory>/checkpoints``, or a temporary
        directory for an in-memory study (removed with the study), so that no study
        retrains a trial from scratch at every segment."""
        if self.directory is not None:
            return CheckpointStore(self.directory / "checkpoints")
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="curvetune-checkpoints-")
        return CheckpointStore(self._scratch.name)

    def optimize(
        self,
        *,
        trials: int,
        searcher: str | Searcher = "random",
        scheduler: str | Scheduler = "fifo",
        executor: str | Executor = "local",
        workers: int | None = None,
        max_retries: int = 2,
        segment_timeout: float | None = None,
        listener: Listener | None = None,
        progress: bool | Console = True,
    ) -> History:
        """Run (or continue) the study until ``trials`` trials exist and all have finished.

        ``executor`` is a name ("local", "sequential", "dask", "mpi") or an executor, e.g.
        one from ``curvetune.executors.open_executor``. A segment still running after
        ``segment_timeout`` seconds counts as lost and is retried (up to ``max_retries``).
        ``progress`` shows the live display (on stderr, or on the rich ``Console`` given);
        ``False`` keeps quiet.

        Only one run at a time may write a study directory: a second one raises
        ``StudyLockedError`` naming the process that holds it.
        """
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise ValueError(f"trials must be a whole number >= 1, got {trials!r}")
        if self.readonly:
            raise StoreError(
                f"{self.directory} was opened read-only; to continue it use "
                f"Study.load({str(self.directory)!r}, readonly=False)"
            )
        with self._lock():
            self._adopt_spec(locked=True)  # another run may have described it anew
            if self.store.last_seq() != self._seen_seq:  # or written to it
                self._load_history()
            try:
                self._run(
                    trials=trials,
                    searcher=make_searcher(searcher) if isinstance(searcher, str) else searcher,
                    scheduler=make_scheduler(scheduler)
                    if isinstance(scheduler, str)
                    else scheduler,
                    executor=executor,
                    workers=workers,
                    max_retries=max_retries,
                    segment_timeout=segment_timeout,
                    listener=listener,
                    progress=progress,
                )
            finally:
                self._seen_seq = self.store.last_seq()
        return self.history

    def _run(
        self,
        *,
        trials: int,
        searcher: Searcher,
        scheduler: Scheduler,
        executor: str | Executor,
        workers: int | None,
        max_retries: int,
        segment_timeout: float | None,
        listener: Listener | None,
        progress: bool | Console,
    ) -> None:
        """Check everything that can be checked before a trial exists, then run."""
        objective = self._callable or load_objective(self.spec.objective)  # must import
        self._check_settings(objective)
        check = getattr(scheduler, "check_study", None)  # a scheduler's own budget rules
        if check is not None:
            check(
                trials=trials,
                max_steps=self.spec.max_steps,
                metric=self.spec.metric,
                mode=self.spec.mode,
            )
        cut = getattr(searcher, "unvisited_note", None)  # a grid larger than the budget
        if cut is not None and (message := cut(self.spec.space, trials)):
            note(message)
        display = _display(self.history, trials, progress)
        listeners = [x for x in (listener, display) if x is not None]
        owned = isinstance(executor, str)
        pool = make_executor(executor, workers=workers) if isinstance(executor, str) else executor
        try:
            with display if display is not None else contextlib.nullcontext():
                Controller(
                    objective=self._callable or self.spec.objective,
                    space=self.spec.space,
                    fixed=self.spec.fixed,
                    searcher=searcher,
                    scheduler=scheduler,
                    executor=pool,
                    store=self.store,
                    history=self.history,
                    checkpoints=self._checkpoints_for(pool),
                    seed=self.spec.seed,
                    n_trials=trials,
                    max_retries=max_retries,
                    segment_timeout=segment_timeout,
                    listener=_fan_out(listeners),
                ).run()
        finally:
            if owned:
                pool.shutdown(wait=False, cancel_futures=True)

    def _checkpoints_for(self, executor: Executor) -> CheckpointStore | None:
        """The study's checkpoints; for an in-memory study a temporary directory, unless the
        executor may run segments on other machines, which could not read it (those
        trials then retrain each segment from scratch: give the study a directory)."""
        if self.directory is not None or _same_host(executor):
            return self.checkpoints
        note(
            "an in-memory study on an executor that may span machines keeps no checkpoints, "
            "so every segment retrains from step 0; give the study a directory"
        )
        return None

    def _check_settings(self, objective: Objective) -> None:
        """Let an objective refuse bad settings before any trial starts: one that can check
        the whole study (``objective.check_study(fixed, space)``: keys no trial may use) and
        one that can check a config (``objective.check_config``: the fixed settings with
        one sampled point)."""
        check_study = getattr(objective, "check_study", None)
        if check_study is not None:
            check_study(self.spec.fixed, self.spec.space)
        check = getattr(objective, "check_config", None)
        if check is None:
            return
        sample = self.spec.space.sample(np.random.default_rng(self.spec.seed))
        check({**self.spec.fixed, **sample})

    @property
    def trials(self) -> list[Trial]:
        return list(self.history.trials.values())

    @property
    def best_trial(self) -> Trial | None:
        return self.history.best()

    def close(self) -> None:
        self.store.close()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def __repr__(self) -> str:
        where = self.directory or "in memory"
        return f"<Study {self.spec.objective} at {where}: {self.history}>"


def _same_host(executor: Executor) -> bool:
    """Whether every segment runs on this machine (so a local temporary directory serves)."""
    from .executors.sequential import SequentialExecutor
    from .executors.simulated import SimulatedExecutor

    if isinstance(executor, SequentialExecutor | SimulatedExecutor):
        return True
    from .executors.local import LocalExecutor

    return isinstance(executor, LocalExecutor)


def _display(history: History, trials: int, progress: bool | Console) -> StudyProgress | None:
    if progress is False:
        return None
    console = progress if isinstance(progress, Console) else Console(stderr=True)
    return StudyProgress(history, trials, console=console)


def _fan_out(listeners: list[Listener]) -> Listener | None:
    """One listener that tells each of ``listeners`` (None when there is none)."""
    if not listeners:
        return None
    if len(listeners) == 1:
        return listeners[0]

    def tell(history: History, event) -> None:
        for listener in listeners:
            listener(history, event)

    return tell


def _qualname(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def _normal(value: Any) -> Any:
    """JSON-normal form, so tuples and lists (and int/float keys) compare as stored."""
    import json

    return json.loads(json.dumps(value, sort_keys=True))
