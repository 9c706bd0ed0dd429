"""The study facade: what a user holds in Python.

A ``Study`` is a directory (``study.db`` plus ``checkpoints/``) or, without a directory, an
in-memory study. Opening an existing directory rebuilds its history from the store, and
``optimize`` continues it: finished trials are kept, unfinished ones resume from their last
checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoints import CheckpointStore
from .controller import Controller, Listener
from .events import replay
from .executors import Executor, make_executor
from .schedulers import Scheduler, make_scheduler
from .searchers import Searcher, make_searcher
from .space import Domain, Space
from .storage import MemoryStore, SqliteStore, Store, StoreError
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
        self._callable = objective
        if self.directory is None:
            self.store: Store = MemoryStore()
        else:
            self.store = SqliteStore(self.directory / "study.db", readonly=readonly)
        if not readonly:
            self._adopt_spec()
        self.history = History(metric=spec.metric, mode=spec.mode, max_steps=spec.max_steps)
        replay(self.history, self.store.events())

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

    def _adopt_spec(self) -> None:
        stored = self.store.spec()
        mine = self.spec.to_json()
        if stored is None:
            self.store.set_spec(mine)
            return
        for key in mine:
            if _normal(stored.get(key)) != _normal(mine[key]):
                raise StudyMismatchError(
                    f"{self.directory} holds a study with a different {key} "
                    f"({stored.get(key)!r}, not {mine[key]!r}); use a new directory"
                )

    @property
    def checkpoints(self) -> CheckpointStore | None:
        return CheckpointStore(self.directory / "checkpoints") if self.directory else None

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
    ) -> History:
        """Run (or continue) the study until ``trials`` trials exist and all have finished.

        ``executor`` is a name ("local", "sequential", "dask", "mpi") or an executor, e.g.
        one from ``curvetune.executors.open_executor``. A segment still running after
        ``segment_timeout`` seconds counts as lost and is retried (up to ``max_retries``).
        """
        objective = self._callable or load_objective(self.spec.objective)  # must import
        self._check_settings(objective)
        searcher = make_searcher(searcher) if isinstance(searcher, str) else searcher
        scheduler = make_scheduler(scheduler) if isinstance(scheduler, str) else scheduler
        check = getattr(scheduler, "check_study", None)  # a scheduler's own budget rules
        if check is not None:
            check(trials=trials, max_steps=self.spec.max_steps)
        owned = isinstance(executor, str)
        pool = make_executor(executor, workers=workers) if isinstance(executor, str) else executor
        try:
            Controller(
                objective=self._callable or self.spec.objective,
                space=self.spec.space,
                fixed=self.spec.fixed,
                searcher=searcher,
                scheduler=scheduler,
                executor=pool,
                store=self.store,
                history=self.history,
                checkpoints=self.checkpoints,
                seed=self.spec.seed,
                n_trials=trials,
                max_retries=max_retries,
                segment_timeout=segment_timeout,
                listener=listener,
            ).run()
        finally:
            if owned:
                pool.shutdown(wait=False, cancel_futures=True)
        return self.history

    def _check_settings(self, objective: Objective) -> None:
        """Let an objective that can check a config (``objective.check_config``) refuse bad
        settings before any trial starts: the fixed settings with one sampled point."""
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


def _qualname(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def _normal(value: Any) -> Any:
    """JSON-normal form, so tuples and lists (and int/float keys) compare as stored."""
    import json

    return json.loads(json.dumps(value, sort_keys=True))
