"""The loop that runs a study on workers: fill free slots, take results, act on decisions.

Searchers and schedulers decide (in the ``DecisionCore``); the loop only acts. Every fact
goes through the ``Journal`` before the loop acts on it, so a study killed at any moment can
be rebuilt from its store and continued (a ``Controller`` on a history with running trials
resumes them).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any

from ..checkpoints import CheckpointStore
from ..events import CheckpointSaved, Event, SegmentFinished, TrialFinished, apply
from ..executors import Executor
from ..schedulers import Scheduler
from ..searchers import Searcher
from ..space import Space
from ..storage import Store
from ..types import Continue, Decision, Exploit, History, Trial, TrialState, Wait
from ..worker import Objective, SegmentResult, is_stateless
from .checks import ResultChecks
from .core import DecisionCore
from .journal import Journal, Listener
from .pool import Job, SegmentPool

QUIET_SECONDS = 1.0  # the longest one wait for a result lasts, so Ctrl-C gets through


class Controller:
    """Runs trials of ``objective`` until ``n_trials`` exist and all of them are finished.

    ``history`` must already hold whatever ``store`` holds (see ``Study``). ``listener``
    hears every event after it is in the history (the progress display uses it).
    """

    def __init__(
        self,
        *,
        objective: Objective | str,
        space: Space,
        fixed: Mapping[str, Any],
        searcher: Searcher,
        scheduler: Scheduler,
        executor: Executor,
        store: Store,
        history: History,
        checkpoints: CheckpointStore | None,
        seed: int,
        n_trials: int,
        max_retries: int = 2,
        segment_timeout: float | None = None,
        listener: Listener | None = None,
    ) -> None:
        if n_trials < 0:
            raise ValueError(f"trials must be >= 0, got {n_trials}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if segment_timeout is not None and not segment_timeout > 0:
            raise ValueError(f"segment_timeout must be > 0 seconds, got {segment_timeout}")
        stateless = is_stateless(objective)
        self.history = history
        self.n_trials = n_trials
        self.stateless = stateless
        self.journal = Journal(
            store=store,
            history=history,
            checkpoints=checkpoints,
            stateless=stateless,
            listener=listener,
        )
        self.core = DecisionCore(
            space=space,
            fixed=fixed,
            searcher=searcher,
            scheduler=scheduler,
            history=history,
            journal=self.journal,
            checkpoints=checkpoints,
            seed=seed,
        )
        self.pool = SegmentPool(
            executor=executor,
            objective=objective,
            history=history,
            journal=self.journal,
            checkpoints=checkpoints,
            stateless=stateless,
            max_retries=max_retries,
            segment_timeout=segment_timeout,
        )
        self.checks = ResultChecks(
            history, saves_checkpoints=checkpoints is not None and not stateless
        )
        self._waiting: dict[int, str] = {}  # trials parked by a Wait decision: their reasons

    def run(self, display: AbstractContextManager | None = None) -> History:
        """Run until the budget is spent and nothing is in flight; return the history.
        ``display`` (the live progress) is shown for the length of the run."""
        pool = self.pool
        self.journal.collect_garbage()
        try:
            with display if display is not None else contextlib.nullcontext():
                return self._loop()
        finally:
            pool.cancel_all()
            self.journal.flush()

    def _loop(self) -> History:
        pool = self.pool
        # Every interrupted trial is decided at once, on the history as it was stored,
        # as it was before the interruption (a PBT generation decides together); what
        # cannot run yet waits in the pool's queue.
        for trial in self.history.running():
            self._resume(trial)
        while True:
            while pool.has_room and (pool.start_queued() or self._create_trial()):
                pass
            if not pool.busy:
                self._check_nothing_waits()
                return self.history
            future = self._next_done()
            taken = pool.take(future) if future is not None else None
            if taken is not None:  # None too for an abandoned segment that ended after all
                job, result = taken
                if result is not None:
                    self._on_result(job, result)
                self._recheck_waiting()
            pool.abandon_hung()

    def _next_done(self) -> Future | None:
        """The next finished segment, or None after a quiet second or at a hang deadline.
        The journal is flushed on time meanwhile (group commit)."""
        self.pool.nudge()
        while True:
            now = time.monotonic()
            if self.journal.due <= now:
                self.journal.flush()
            hung_at = self.pool.hang_deadline
            future = self.pool.wait(min(QUIET_SECONDS, self.journal.due - now, hung_at - now))
            if future is not None or self.journal.due == float("inf"):
                return future
            if time.monotonic() >= hung_at:
                return None

    def _create_trial(self) -> bool:
        if len(self.history) >= self.n_trials:
            return False
        created = self.core.create()
        if created is None:
            return False
        self._act(*created)
        return True

    def _resume(self, trial: Trial) -> None:
        """A trial that was running when the study stopped continues from its checkpoint."""
        if trial.step != trial.checkpoint_step and not self.stateless:
            trial = trial.evolve(step=trial.checkpoint_step)
            self.history._put(trial)
        self._act(trial, self.core.decide(trial))

    def _act(self, trial: Trial, decision: Decision) -> None:
        """Do what a recorded decision says: run a segment, or park the trial."""
        if isinstance(decision, (Continue, Exploit)):  # a tuple: faster than a union
            self.pool.submit(self.history[trial.id], decision.until)
        elif isinstance(decision, Wait):
            self._waiting[trial.id] = decision.reason

    def _recheck_waiting(self) -> None:
        """Ask again about every waiting trial (something changed: a barrier may be lifted)."""
        for trial_id in list(self._waiting):
            trial = self.history[trial_id]
            decision = self.core.reconsider(trial)
            if not isinstance(decision, Wait):
                del self._waiting[trial_id]
                self._act(trial, decision)

    def _check_nothing_waits(self) -> None:
        if self._waiting:
            trial_id, reason = next(iter(self._waiting.items()))
            raise RuntimeError(
                f"{type(self.core.scheduler).__name__} keeps {len(self._waiting)} "
                f"trial(s) waiting with nothing left to run (trial {trial_id}: "
                f"{reason or 'no reason given'})"
            )

    def _on_result(self, job: Job, result: SegmentResult) -> None:
        finished = SegmentFinished(
            job.trial,
            result.start,
            result.until,
            result.status,
            result.reports,
            result.error,
            result.seconds,
        )
        events: list[Event] = [finished]
        if result.status == "unwritable":
            # Store what is pending first: that deletes the checkpoints it supersedes, which
            # may be just the room the retry needs.
            self.journal.flush()
            self.pool.lose(job, job.charged + 1.0, result.error, halt=True)
            return
        if result.status == "ok":
            self.checks.check(result)
            if result.checkpoint is not None:
                events.append(CheckpointSaved(job.trial, result.until))
            # The scheduler must see the new reports; these events are stored together with
            # its decision.
            for event in events:
                apply(self.history, event)
            trial = self.history[job.trial]
            self._act(trial, self.core.decide(trial, events, applied=len(events)))
            if result.checkpoint is not None:
                self.journal.superseded(job.trial, job.start)
            return
        state = TrialState.FAILED if result.status == "error" else TrialState.DIVERGED
        reason = result.error.strip().splitlines()[-1] if result.error.strip() else result.status
        events.append(TrialFinished(job.trial, state, reason))
        self.journal.record(events)
        self.journal.release(job.trial)
