"""The study facade: what a user holds in Python.

A ``Study`` is a directory (``study.db`` plus ``checkpoints/``) or, without a directory, an
in-memory study. Opening an existing directory rebuilds its history from the store. Two ways
to run it, on the same store and the same decision core: ``optimize`` runs an objective on
workers (finished trials are kept, unfinished ones resume from their last checkpoint), and
``ask``/``tell`` serve the user's own training loop.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console

from . import _validate
from .asktell import AskTell, TrialHandle
from .checkpoints import CheckpointHome, CheckpointStore
from .control import Controller, Listener, fan_out
from .events import replay
from .executors import Executor, make_or_keep
from .preflight import check_algorithms, check_objective
from .progress import display_for
from .schedulers import Scheduler, make_scheduler
from .searchers import Searcher, make_searcher
from .space import Domain, Space
from .spec import ASK_TELL, StudyMismatchError, StudySpec, reconcile
from .storage import MemoryStore, SqliteStore, Store, StoreError, StudyLock
from .types import History, Mode, Trial, TrialState
from .worker import Objective, load_objective

__all__ = ["Study", "StudyMismatchError", "StudySpec", "TrialHandle"]


class Study:
    """A tuning study: ``Study.create(...)`` starts or reopens one, ``Study.load(dir)`` opens
    an existing directory by what it stores (read-only unless ``readonly=False``).

    A study with ``directory=None`` lives in memory and nothing survives the process.
    ``searcher`` and ``scheduler`` (names or objects) are what ``ask`` and ``optimize`` use
    unless ``optimize`` is given others.
    """

    def __init__(
        self,
        spec: StudySpec,
        *,
        directory: str | Path | None = None,
        objective: Objective | None = None,
        readonly: bool = False,
        searcher: str | Searcher = "random",
        scheduler: str | Scheduler = "fifo",
    ) -> None:
        self.spec = spec
        self.directory = Path(directory) if directory is not None else None
        self.readonly = readonly
        self.searcher = _built(searcher, make_searcher, Searcher, "suggest(space, history, rng)")
        self.scheduler = _built(scheduler, make_scheduler, Scheduler, "decide(trial, history, rng)")
        self._callable = objective
        self._home = CheckpointHome(self.directory)
        self._session: contextlib.ExitStack | None = None  # the lock ask/tell holds
        self._asktell: AskTell | None = None
        self._opening = threading.Lock()  # two threads' first ask() open one session
        self._closed = False
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
        space: Space | Mapping[str, Domain],
        metric: str,
        max_steps: int,
        objective: str | Objective | None = None,
        mode: Mode = "max",
        seed: int = 0,
        fixed: Mapping[str, Any] | None = None,
        directory: str | Path | None = None,
        searcher: str | Searcher = "random",
        scheduler: str | Scheduler = "fifo",
    ) -> Study:
        """Start a study, or reopen the one in ``directory`` if it describes the same study.

        ``objective`` is an import path ``"package.module:function"`` (what worker
        processes and a resumed run need) or, for in-process executors, a callable; leave
        it out for a study trained by your own loop through ``ask``/``tell``.
        """
        if objective is None:
            name = ASK_TELL
        else:
            name = objective if isinstance(objective, str) else _qualname(objective)
        space = space if isinstance(space, Space) else Space(space)
        spec = StudySpec(name, space, metric, mode, max_steps, seed, dict(fixed or {}))
        fn = None if objective is None or isinstance(objective, str) else objective
        return cls(spec, directory=directory, objective=fn, searcher=searcher, scheduler=scheduler)

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
        """Store or check the spec; a stored study without results takes a new one (its
        untrained trials are forgotten), never under a controller that is running it."""
        if reconcile(self.store, self.spec, self.directory):
            with contextlib.nullcontext() if locked else self._lock():
                self.store.reset(self.spec.to_json())
                if self.directory is not None:
                    self.checkpoints.gc({})

    def _lock(self) -> contextlib.AbstractContextManager:
        """The study's one-controller lock (nothing to lock for an in-memory study)."""
        if self.directory is None:
            return contextlib.nullcontext()
        return StudyLock(self.directory)

    def _writable(self) -> None:
        if self._closed:
            raise StoreError("this study was closed; open it again to go on")
        if self.readonly:
            raise StoreError(
                f"{self.directory} was opened read-only; to continue it use "
                f"Study.load({str(self.directory)!r}, readonly=False)"
            )

    def _take_over(self, stack: contextlib.ExitStack) -> None:
        """Hold the lock in ``stack``; then read what another run may have changed."""
        stack.enter_context(self._lock())
        self._adopt_spec(locked=True)  # another run may have described it anew
        if self.store.last_seq() != self._seen_seq:  # or written to it
            self._load_history()

    @property
    def checkpoints(self) -> CheckpointStore:
        """Where trials save their state (see ``CheckpointHome``)."""
        return self._home.store

    # ----------------------------------------------------------------- optimize

    def optimize(
        self,
        *,
        trials: int,
        searcher: str | Searcher | None = None,
        scheduler: str | Scheduler | None = None,
        executor: str | Executor = "local",
        workers: int | None = None,
        max_retries: int = 2,
        segment_timeout: float | None = None,
        listener: Listener | None = None,
        progress: bool | Console = True,
    ) -> History:
        """Run (or continue) the study until ``trials`` trials exist and all have finished.

        ``searcher`` and ``scheduler`` default to the study's own. ``executor`` is a name
        ("local", "sequential", "dask", "mpi") or an executor, e.g. one from
        ``curvetune.executors.open_executor``. A segment still running after
        ``segment_timeout`` seconds counts as lost and is retried (up to ``max_retries``).
        ``progress`` shows the live display (on stderr, or on the rich ``Console`` given);
        ``False`` keeps quiet.

        Only one run at a time may write a study directory: a second one raises
        ``StudyLockedError`` naming the process that holds it.
        """
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise ValueError(f"trials must be a whole number >= 1, got {trials!r}")
        self._writable()
        if self._callable is None and self.spec.objective == ASK_TELL:
            raise ValueError(
                "this study has no objective (it was created for ask/tell); pass "
                "objective= to Study.create to run it with optimize()"
            )
        if self._asktell is not None and self._asktell.asked:
            raise ValueError(
                f"trial(s) {', '.join(map(str, self._asktell.asked))} were asked and not told: "
                "tell them before optimize() takes the study over"
            )
        if searcher is not None:
            searcher = _built(searcher, make_searcher, Searcher, "suggest(space, history, rng)")
        if scheduler is not None:
            scheduler = _built(scheduler, make_scheduler, Scheduler, "decide(trial, history, rng)")
        searcher, scheduler = searcher or self.searcher, scheduler or self.scheduler
        objective = self._callable or load_objective(self.spec.objective)  # must import
        with contextlib.ExitStack() as stack:
            if self._session is None:  # ask/tell may hold the lock already
                self._take_over(stack)
            try:
                check_objective(self.spec, objective)
                check_algorithms(self.spec, searcher, scheduler, trials)
                display = display_for(self.history, trials, progress)
                with make_or_keep(executor, workers) as pool:
                    Controller(
                        objective=self._callable or self.spec.objective,
                        space=self.spec.space,
                        fixed=self.spec.fixed,
                        searcher=searcher,
                        scheduler=scheduler,
                        executor=pool,
                        store=self.store,
                        history=self.history,
                        checkpoints=self._home.for_executor(pool),
                        seed=self.spec.seed,
                        n_trials=trials,
                        max_retries=max_retries,
                        segment_timeout=segment_timeout,
                        listener=fan_out([x for x in (listener, display) if x is not None]),
                    ).run(display)
            finally:
                self._seen_seq = self.store.last_seq()
        return self.history

    # ----------------------------------------------------------------- ask/tell

    def ask(self) -> TrialHandle | None:
        """The next trial for your own training loop: a trial asked but never told by a
        program that died comes first (from step 0), then a new one from the searcher.
        None once the searcher has nothing left (a finished grid).

        The first ``ask`` takes the study's lock (one program writes a study at a time)
        and keeps it until ``close()``.
        """
        with self._opening:
            if self._asktell is None:
                self._open_session()
        self._writable()
        return self._asktell.ask()

    def _open_session(self) -> None:
        """Take the lock for the session (until ``close``) and build its engine."""
        self._writable()
        stack = contextlib.ExitStack()
        try:
            self._take_over(stack)
            engine = AskTell(
                self.spec,
                history=self.history,
                store=self.store,
                searcher=self.searcher,
                scheduler=self.scheduler,
            )
            check_algorithms(self.spec, self.searcher, self.scheduler, None)
        except BaseException:
            stack.close()
            raise
        self._asktell, self._session = engine, stack

    def tell(self, trial: TrialHandle, *, error: str | None = None, diverged: bool = False) -> None:
        """End ``trial``: as the scheduler left it (stopped or completed), as stopped by your
        loop if it ended it early, as failed with ``error`` (one line or a traceback), or
        as diverged (a loss gone NaN; ``error`` may say where)."""
        self._writable()
        if self._asktell is None:
            raise ValueError(f"{trial!r} was not asked from this study")
        self._asktell.tell(trial, error, diverged)

    def remaining(self, trials: int) -> int:
        """How many more ``ask()`` calls a budget of ``trials`` allows: ``trials`` less the
        trials finished. A trial asked and never told is not finished: ``ask()`` hands it
        back first, so ``for _ in range(study.remaining(50))`` ends with exactly 50 trials,
        however often the program was killed and rerun."""
        _validate.whole("remaining", "trials", trials, 0)
        finished = len(self.history) - len(self.history.in_state(TrialState.RUNNING))
        return max(0, trials - finished)

    # ----------------------------------------------------------------- reading

    @property
    def trials(self) -> list[Trial]:
        return list(self.history.trials.values())

    @property
    def best_trial(self) -> Trial | None:
        return self.history.best()

    def close(self) -> None:
        """Release the lock ask/tell held and the store; an in-memory study's checkpoints
        go with it."""
        self._closed = True
        if self._asktell is not None:
            self._asktell.closed = True
        if self._session is not None:
            self._session.close()
            self._session = None
        self.store.close()
        self._home.close()

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.directory or "in memory"
        return f"<Study {self.spec.objective} at {where}: {self.history}>"


def _qualname(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def _built(algorithm: Any, make: Any, protocol: type, method: str) -> Any:
    """``algorithm`` itself, or the one its name names; anything else is one clear line."""
    if isinstance(algorithm, str):
        return make(algorithm)
    if not isinstance(algorithm, protocol):
        role = protocol.__name__.lower()
        raise TypeError(f"{role} must be a name or an object with {method}, got {algorithm!r}")
    return algorithm
