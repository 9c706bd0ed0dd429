"""The one loop that runs a study: fill free worker slots, submit segments, apply decisions.

Searchers and schedulers decide; the controller is the only part that acts. It appends
every fact to the store before acting on it, so a study killed at any moment can be rebuilt
from the store and continued (``Controller`` on a store that already has events resumes).
"""

from __future__ import annotations

import dataclasses
import difflib
import queue
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from functools import partial
from typing import Any

import numpy as np

from .checkpoints import CheckpointStore
from .events import (
    CheckpointSaved,
    Decided,
    Event,
    Exploited,
    SegmentFinished,
    SegmentLost,
    TrialCreated,
    TrialFinished,
    apply,
)
from .executors import Executor
from .losses import LossLedger
from .notes import note
from .schedulers import Scheduler
from .searchers import Searcher
from .space import Space
from .storage import Store
from .types import (
    Complete,
    Continue,
    Decision,
    Exploit,
    History,
    Report,
    Stop,
    Trial,
    TrialState,
    Wait,
)
from .worker import Objective, SegmentContext, SegmentResult, is_stateless, run_segment

Listener = Callable[[History, Event], None]

FLUSH_SECONDS = 0.05  # longest a recorded fact waits for the store; a crash loses no more


class StudyHalted(Exception):
    """The study cannot go on as it is (a full disk, a metric never reported). The message
    is one line saying what to do; the store is intact and the same command continues."""


def _reports_metric(reports: tuple[Report, ...], metric: str) -> bool:
    return any(metric in report.metrics for report in reports)


class _OnDemandRng:
    """A ``numpy.random.Generator`` made on first use: most schedulers never draw, and
    seeding one costs 10 us, as much as the rest of a decision."""

    __slots__ = ("_entropy", "_rng")

    def __init__(self, entropy: tuple[int, ...]) -> None:
        self._entropy = entropy
        self._rng: np.random.Generator | None = None

    def __getattr__(self, name: str) -> Any:
        if self._rng is None:
            self._rng = np.random.default_rng(list(self._entropy))
        return getattr(self._rng, name)


@dataclasses.dataclass
class _InFlight:
    trial: int
    start: int
    until: int
    attempt: int  # segments of this stretch lost so far
    charged: float = 0.0  # of the retries (see ``LossLedger``)
    deadline: float = float("inf")  # monotonic time past which it counts as hung


class Controller:
    """Runs trials of ``objective`` until ``n_trials`` exist and all of them are finished.

    ``history`` must already hold whatever ``store`` holds (see ``Study``). ``listener``
    hears every event after it is stored (the progress display uses it).
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
        self.objective = objective
        self.space = space
        self.fixed = dict(fixed)
        self.searcher = searcher
        self.scheduler = scheduler
        self.executor = executor
        self.store = store
        self.history = history
        self.checkpoints = checkpoints
        self.n_trials = n_trials
        self.max_retries = max_retries
        self.segment_timeout = segment_timeout
        self.listener = listener
        self._stateless = is_stateless(objective)
        self._seed = seed
        # Trial i draws from stream i of one PCG64 (2**64 numbers apart), rewound and
        # advanced per trial: 2 us, where a generator seeded afresh costs 10 us.
        self._trial_bits = np.random.PCG64(np.random.SeedSequence([seed, 0]))
        self._trial_start = self._trial_bits.state
        self._trial_rng = np.random.Generator(self._trial_bits)
        # Until the study's metric has been seen in a report, a segment that reports other
        # metrics only is a typo in ``metric``, not a study to run to the end without values.
        self._metric_seen = any(
            _reports_metric(t.reports, history.metric) for t in history.trials.values()
        )
        self._warned_no_checkpoint = False
        self._inflight: dict[Future, _InFlight] = {}
        self._done: queue.SimpleQueue[Future] = queue.SimpleQueue()  # fed by done-callbacks
        self._pending: list[Event] = []  # recorded, not yet in the store
        self._flush_due = 0.0
        self._after_flush: list[Callable[[], None]] = []  # file deletions the store must see first
        self._exhausted = False
        self._waiting: dict[int, str] = {}  # trials parked by a Wait decision: their reasons
        self._queued: deque[tuple[int, int, int, float]] = deque()  # waiting for a worker
        self._losses = LossLedger()

    # ------------------------------------------------------------------------- main loop

    def run(self) -> History:
        """Run until the budget is spent and nothing is in flight; return the history."""
        self._collect_garbage()
        try:
            # Every interrupted trial is decided at once, on the history as it was stored,
            # as it was before the interruption (a PBT generation decides together); what
            # cannot run yet waits in the queue.
            for trial in self.history.running():
                self._resume(trial)
            while True:
                while len(self._inflight) < self.executor.workers:
                    if self._queued:
                        trial_id, until, attempt, charged = self._queued.popleft()
                        self._submit(self.history[trial_id], until, attempt, charged)
                    elif not self._create_trial():
                        break
                if not self._inflight:
                    if self._waiting:
                        trial_id, reason = next(iter(self._waiting.items()))
                        raise RuntimeError(
                            f"{type(self.scheduler).__name__} keeps {len(self._waiting)} "
                            f"trial(s) waiting with nothing left to run (trial {trial_id}: "
                            f"{reason or 'no reason given'})"
                        )
                    return self.history
                future = self._next_done()
                job = self._inflight.pop(future, None) if future is not None else None
                if job is not None:  # None too for an abandoned segment that ended after all
                    self._on_done(future, job)
                    self._recheck_waiting()
                self._abandon_hung()
        finally:
            for future in self._inflight:
                future.cancel()
            self._flush()

    def _next_done(self) -> Future | None:
        """The next finished segment, or None after a quiet second (so Ctrl-C gets through).

        An executor with an ``idle()`` method (the simulated one) is told when the controller
        has nothing to do but wait.

        Events are group-committed: written at most ``FLUSH_SECONDS`` after the first of
        them was recorded, in one transaction, so a fast study is not bound by commits.
        """
        idle = getattr(self.executor, "idle", None)
        if idle is not None and self._done.empty():
            idle()  # a simulated executor advances its virtual clock
        while True:
            wait = 1.0
            if self._pending:
                wait = self._flush_due - time.monotonic()
                if wait <= 0:
                    self._flush()
                    wait = 1.0
            hung_at = self._first_deadline()
            wait = min(wait, max(0.0, hung_at - time.monotonic()))
            try:
                return self._done.get(timeout=wait)
            except queue.Empty:
                if not self._pending or time.monotonic() >= hung_at:
                    return None

    def _create_trial(self) -> bool:
        if self._exhausted or len(self.history) >= self.n_trials:
            return False
        trial_id = len(self.history)
        rng = self._rng_for_trial(trial_id)
        config = self.searcher.suggest(self.space, self.history, rng)
        if config is None:
            self._exhausted = True
            return False
        seed = int(rng.integers(2**31 - 1))
        created = TrialCreated(trial_id, {**self.fixed, **config}, seed)
        apply(self.history, created)  # stored together with the first decision
        self._decide(self.history[trial_id], [created], applied=1)
        return True

    def _rng_for_trial(self, trial_id: int) -> np.random.Generator:
        """Trial ``trial_id``'s own stream: it draws the same numbers whether or not the study
        was interrupted before it (what it proposes may still depend on what finished)."""
        self._trial_bits.state = self._trial_start
        self._trial_bits.advance(trial_id << 64)
        return self._trial_rng

    def _resume(self, trial: Trial) -> None:
        """A trial that was running when the study stopped continues from its checkpoint."""
        if trial.step != trial.checkpoint_step and not self._stateless:
            trial = trial.evolve(step=trial.checkpoint_step)
            self.history._put(trial)
        self._decide(trial)

    # ------------------------------------------------------------------------- decisions

    def _decide(self, trial: Trial, events: list[Event] | None = None, applied: int = 0) -> None:
        """Ask the scheduler about ``trial``; store its decision after ``events`` (of which
        the first ``applied`` are in the history already) and act on it."""
        decision = self.scheduler.decide(trial, self.history, self._rng_for(trial))
        self._apply(trial, decision, events or [], applied)

    def _rng_for(self, trial: Trial) -> np.random.Generator:
        """The generator of one decision, seeded by the trial and its step: the same decision
        draws the same numbers in a resumed study. Built only if the scheduler draws."""
        return _OnDemandRng((self._seed, 1, trial.id, trial.step))  # type: ignore[return-value]

    def _recheck_waiting(self) -> None:
        """Ask again about every waiting trial (something changed: a barrier may be lifted)."""
        for trial_id in list(self._waiting):
            trial = self.history[trial_id]
            decision = self.scheduler.decide(trial, self.history, self._rng_for(trial))
            if not isinstance(decision, Wait):
                del self._waiting[trial_id]
                self._apply(self.history[trial_id], decision, [])

    def _apply(
        self, trial: Trial, decision: Decision, events: list[Event], applied: int = 0
    ) -> None:
        """Store the decision (with whatever came before it) in one go, then act on it."""
        if isinstance(decision, Continue):
            self._check_until(trial, decision.until)
            events.append(Decided(trial.id, "Continue", until=decision.until))
            self._record(events, applied)
            self._submit(self.history[trial.id], decision.until, attempt=0)
        elif isinstance(decision, Exploit):
            self._exploit(trial, decision, events, applied)
        elif isinstance(decision, Stop):
            events.append(
                Decided(trial.id, "Stop", reason=decision.reason, details=decision.details)
            )
            events.append(TrialFinished(trial.id, TrialState.STOPPED, decision.reason))
            self._record(events, applied)
            self._release(trial.id)
        elif isinstance(decision, Wait):
            events.append(Decided(trial.id, "Wait", reason=decision.reason))
            self._record(events, applied)
            self._waiting[trial.id] = decision.reason
        elif isinstance(decision, Complete):
            events.append(Decided(trial.id, "Complete"))
            events.append(TrialFinished(trial.id, TrialState.COMPLETED))
            self._record(events, applied)
            self._release(trial.id)
        else:
            raise TypeError(f"scheduler returned {decision!r}, which is not a Decision")

    def _exploit(
        self, trial: Trial, decision: Exploit, events: list[Event], applied: int = 0
    ) -> None:
        source = self.history[decision.source]
        step = source.checkpoint_step
        if self.checkpoints is not None and step > 0:
            self.checkpoints.clone(source.id, step, trial.id, step)
        self._check_until(trial.evolve(step=step), decision.until)
        events.append(
            Decided(
                trial.id,
                "Exploit",
                until=decision.until,
                reason=decision.reason,
                details={"source": source.id, "step": step},
            )
        )
        events.append(Exploited(trial.id, source.id, step, dict(decision.config)))
        self._record(events, applied)
        self._submit(self.history[trial.id], decision.until, attempt=0)

    def _check_until(self, trial: Trial, until: int) -> None:
        if not trial.step < until <= self.history.max_steps:
            raise RuntimeError(
                f"{type(self.scheduler).__name__} asked trial {trial.id} to continue until "
                f"step {until}, but it is at step {trial.step} and the budget is "
                f"{self.history.max_steps} steps"
            )

    # ------------------------------------------------------------------------- segments

    def _submit(self, trial: Trial, until: int, attempt: int, charged: float = 0.0) -> None:
        if len(self._inflight) >= self.executor.workers:  # e.g. a barrier released many
            self._queued.append((trial.id, until, attempt, charged))
            return
        if self._stateless:  # it can start anywhere, and keeps nothing to resume from
            ctx = SegmentContext(trial.id, trial.seed, trial.step, until, None, None)
            self._send(ctx, attempt, charged)
            return
        start = trial.checkpoint_step
        checkpoint_in = checkpoint_out = None
        if self.checkpoints is not None:
            if start > 0:
                checkpoint_in = self.checkpoints.path_for(trial.id, start)
            # A retry may find what the lost attempt half-wrote; a first attempt cannot, since
            # start-up garbage collection removed everything the store does not vouch for.
            if attempt:
                checkpoint_out = str(self.checkpoints.prepare(trial.id, until))
            else:
                checkpoint_out = self.checkpoints.path_for(trial.id, until)
        ctx = SegmentContext(trial.id, trial.seed, start, until, checkpoint_in, checkpoint_out)
        self._send(ctx, attempt, charged)

    def _send(self, ctx: SegmentContext, attempt: int, charged: float) -> None:
        config = self.history[ctx.trial_id].config
        future = self.executor.submit(run_segment, self.objective, config, ctx)
        deadline = time.monotonic() + (self.segment_timeout or float("inf"))
        job = _InFlight(ctx.trial_id, ctx.start, ctx.until, attempt, charged, deadline)
        self._inflight[future] = job
        future.add_done_callback(self._done.put)

    def _on_done(self, future: Future, job: _InFlight) -> None:
        try:
            result: SegmentResult = future.result()
        except Exception as exc:  # the worker died or the executor lost the segment
            charged = job.charged + self._losses.charge(future, exc, self._inflight)
            self._on_lost(job, charged, f"{type(exc).__name__}: {exc}")
            return
        finally:
            self._losses.settle(future)
        events: list[Event] = [
            SegmentFinished(
                job.trial,
                result.start,
                result.until,
                result.status,
                result.reports,
                result.error,
                result.seconds,
            )
        ]
        if result.status == "unwritable":
            # Store what is pending first: that deletes the checkpoints it supersedes, which
            # may be just the room the retry needs.
            self._flush()
            self._on_lost(job, job.charged + 1.0, result.error, halt=True)
            return
        if result.status == "ok":
            self._check_metric(result)
            self._check_checkpoint(result)
            if result.checkpoint is not None:
                events.append(CheckpointSaved(job.trial, result.until))
            # The scheduler must see the new reports; these events are stored together with
            # its decision.
            for event in events:
                apply(self.history, event)
            self._decide(self.history[job.trial], events, applied=len(events))
            if result.checkpoint is not None and job.start > 0 and self.checkpoints is not None:
                # Superseded, but the store may still name it until the next flush.
                self._after_flush.append(partial(self.checkpoints.remove, job.trial, job.start))
            return
        state = TrialState.FAILED if result.status == "error" else TrialState.DIVERGED
        reason = result.error.strip().splitlines()[-1] if result.error.strip() else result.status
        events.append(TrialFinished(job.trial, state, reason))
        self._record(events)
        self._release(job.trial)

    def _abandon_hung(self) -> None:
        """A segment past ``segment_timeout`` counts as a lost worker: the executor stops it
        if it can, and it is retried like any lost segment. It alone pays for the loss."""
        now = time.monotonic()
        if now < self._first_deadline():
            return
        for future, job in list(self._inflight.items()):
            if now < job.deadline or future.done():
                continue
            del self._inflight[future]
            self._losses.spare(self._inflight)  # whatever the stopping takes down with it
            abandon = getattr(self.executor, "abandon", None)
            if abandon is not None:
                abandon(future)
            error = f"hung: still running after segment_timeout = {self.segment_timeout} s"
            self._on_lost(job, job.charged + 1.0, error)

    def _first_deadline(self) -> float:
        """When the oldest segment in flight counts as hung (never without a timeout)."""
        if self.segment_timeout is None:
            return float("inf")
        return min((job.deadline for job in self._inflight.values()), default=float("inf"))

    def _on_lost(self, job: _InFlight, charged: float, error: str, halt: bool = False) -> None:
        """Retry a lost segment while retries last; then the trial fails, or, when the loss
        is the disk's fault (``halt``), the study stops and the trial waits for the rerun."""
        trial = self.history[job.trial]
        if charged <= self.max_retries + 1e-9:
            self._record([SegmentLost(job.trial, job.attempt + 1, error)])
            self._submit(trial, job.until, job.attempt + 1, charged)
            return
        if halt:
            self._record([SegmentLost(job.trial, job.attempt + 1, error)])
            raise StudyHalted(
                f"{error}; tried {job.attempt + 1} times. The disk is full or read-only: free "
                f"some space and run the same command again (trial {job.trial} continues then)"
            )
        reason = f"worker lost {job.attempt + 1} times; last: {error}"
        self._record(
            [
                SegmentLost(job.trial, job.attempt + 1, error),
                TrialFinished(job.trial, TrialState.FAILED, reason),
            ]
        )
        self._release(job.trial)

    def _check_metric(self, result: SegmentResult) -> None:
        """Stop the study at the first segment that reports metrics, none of them the
        study's (a typo in ``metric``). Nothing of that segment is stored."""
        if self._metric_seen or not result.reports:
            return
        if _reports_metric(result.reports, self.history.metric):
            self._metric_seen = True
            return
        names = sorted({name for report in result.reports for name in report.metrics})
        metric = self.history.metric
        close = [n for n in names if n.startswith(metric) or metric.startswith(n)]
        close = close or difflib.get_close_matches(metric, names, n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise StudyHalted(
            f"the objective reports {', '.join(map(repr, names))} but not the study's metric "
            f"{self.history.metric!r}{hint}; fix 'metric' and run the same command again"
        )

    def _check_checkpoint(self, result: SegmentResult) -> None:
        """Warn once when a stateful objective saved nothing: every segment then retrains
        from step 0, which makes a trial cost O(steps^2)."""
        if (
            result.checkpoint is None
            and not self._stateless
            and not self._warned_no_checkpoint
            and self.checkpoints is not None
            and result.until < self.history.max_steps
        ):
            self._warned_no_checkpoint = True
            note(
                f"trial {result.trial_id}'s segment to step {result.until} saved nothing in "
                "ctx.checkpoint_out, so every segment retrains from step 0; save the state "
                "there, or mark the objective stateless = True if it keeps none"
            )

    # ------------------------------------------------------------------------- bookkeeping

    def _record(self, events: list[Event], applied: int = 0) -> None:
        """Apply events to the history, tell the listener, and queue them for the store.

        Events reach the store in order and in whole groups at the next ``_flush``. Acting
        before a decision is stored is safe: if the run dies first, the store holds the
        state before the decision, and the segment is simply run again from the checkpoint
        the store names. That checkpoint must therefore survive until the flush: deleting
        files waits in ``_after_flush``.
        """
        if not self._pending:
            self._flush_due = time.monotonic() + FLUSH_SECONDS
        self._pending.extend(events)
        for index, event in enumerate(events):
            if index >= applied:  # the first ``applied`` are in the history already
                apply(self.history, event)
            if self.listener is not None:
                self.listener(self.history, event)

    def _flush(self) -> None:
        if self._pending:
            self.store.append(self._pending)
            self._pending = []
        for action in self._after_flush:
            action()
        self._after_flush.clear()

    def _release(self, trial_id: int) -> None:
        """A finished trial keeps only its final checkpoint if completed, none otherwise.
        A trial that never stored one has nothing on disk to look at (a failed segment
        removes what it half-wrote; start-up garbage collection, what a crash left)."""
        trial = self.history[trial_id]
        if self.checkpoints is None or self._stateless or trial.checkpoint_step == 0:
            return
        keep = trial.checkpoint_step if trial.state is TrialState.COMPLETED else None
        self._after_flush.append(partial(self.checkpoints.discard, trial_id, keep))

    def _collect_garbage(self) -> None:
        if self.checkpoints is None:
            return
        keep: dict[int, int | None] = {}
        for trial in self.history.trials.values():
            if trial.state in (TrialState.RUNNING, TrialState.COMPLETED):
                keep[trial.id] = trial.checkpoint_step or None
        self.checkpoints.gc(keep)
