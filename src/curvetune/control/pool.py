"""The segment pool: segments in flight on an executor, their retries and their timeouts.

A segment is submitted with the checkpoint it starts from and the one it saves to; its
result arrives through a done-callback into a queue (``concurrent.futures.wait`` would
re-register waiters on every future in flight on every call). A segment the executor
loses, or one still running past ``segment_timeout``, is retried while its trial's
retries last (``LossLedger`` charges a loss shared by n segments 1/n each); then its trial
fails, or, when the disk is at fault, the study halts.
"""

from __future__ import annotations

import dataclasses
import queue
import time
from collections import deque
from concurrent.futures import Future

from ..checkpoints import CheckpointStore
from ..events import SegmentLost, TrialFinished
from ..executors import Executor
from ..executors.hooks import Abandoning, Idling
from ..types import History, Trial, TrialState
from ..worker import Objective, SegmentContext, SegmentResult, run_segment
from .checks import StudyHalted
from .journal import Journal
from .losses import LossLedger


@dataclasses.dataclass
class Job:
    """One segment in flight: trial ``trial`` from ``start`` to ``until``."""

    trial: int
    start: int
    until: int
    attempt: int  # segments of this stretch lost so far
    charged: float = 0.0  # of the retries (see ``LossLedger``)
    deadline: float = float("inf")  # monotonic time past which it counts as hung


class SegmentPool:
    """Submits segments of ``objective`` to ``executor`` and takes back their results."""

    def __init__(
        self,
        *,
        executor: Executor,
        objective: Objective | str,
        history: History,
        journal: Journal,
        checkpoints: CheckpointStore | None,
        stateless: bool,
        max_retries: int = 2,
        segment_timeout: float | None = None,
    ) -> None:
        self.executor = executor
        self.objective = objective
        self.history = history
        self.journal = journal
        self.checkpoints = checkpoints
        self.stateless = stateless
        self.max_retries = max_retries
        self.segment_timeout = segment_timeout
        self._inflight: dict[Future, Job] = {}
        self._done: queue.SimpleQueue[Future] = queue.SimpleQueue()  # fed by done-callbacks
        self._queued: deque[tuple[int, int, int, float]] = deque()  # waiting for a worker
        self._losses = LossLedger()
        # The optional hooks, looked up once: a Protocol check costs microseconds.
        self._idle = executor.idle if isinstance(executor, Idling) else None
        self._abandon = executor.abandon if isinstance(executor, Abandoning) else None

    @property
    def has_room(self) -> bool:
        return len(self._inflight) < self.executor.workers

    @property
    def busy(self) -> bool:
        return bool(self._inflight)

    @property
    def hang_deadline(self) -> float:
        """When the oldest segment in flight counts as hung (never without a timeout)."""
        if self.segment_timeout is None:
            return float("inf")
        return min((job.deadline for job in self._inflight.values()), default=float("inf"))

    def submit(self, trial: Trial, until: int, attempt: int = 0, charged: float = 0.0) -> None:
        """Run ``trial`` on to step ``until``, now or once a worker is free."""
        if not self.has_room:  # e.g. a barrier released many
            self._queued.append((trial.id, until, attempt, charged))
            return
        if self.stateless:  # it can start anywhere, and keeps nothing to resume from
            ctx = SegmentContext(trial.id, trial.seed, trial.step, until, None, None)
        else:
            start = trial.checkpoint_step
            checkpoint_in = checkpoint_out = None
            if self.checkpoints is not None:
                if start > 0:
                    checkpoint_in = self.checkpoints.path_for(trial.id, start)
                # A retry may find what the lost attempt half-wrote; a first attempt cannot:
                # start-up garbage collection removed all the store does not vouch for.
                if attempt:
                    checkpoint_out = str(self.checkpoints.prepare(trial.id, until))
                else:
                    checkpoint_out = self.checkpoints.path_for(trial.id, until)
            ctx = SegmentContext(trial.id, trial.seed, start, until, checkpoint_in, checkpoint_out)
        future = self.executor.submit(run_segment, self.objective, trial.config, ctx)
        deadline = time.monotonic() + (self.segment_timeout or float("inf"))
        self._inflight[future] = Job(ctx.trial_id, ctx.start, until, attempt, charged, deadline)
        future.add_done_callback(self._done.put)

    def start_queued(self) -> bool:
        """Submit the oldest segment waiting for a worker; False if none waits."""
        if not self._queued:
            return False
        trial_id, until, attempt, charged = self._queued.popleft()
        self.submit(self.history[trial_id], until, attempt, charged)
        return True

    def nudge(self) -> None:
        """Tell an idling executor that the controller waits (it may advance its clock)."""
        if self._idle is not None and self._done.empty():
            self._idle()

    def wait(self, timeout: float) -> Future | None:
        try:
            return self._done.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def take(self, future: Future) -> tuple[Job, SegmentResult | None] | None:
        """The job and result of a finished segment, with no result for one the executor
        lost (retried or failed here); None for one abandoned before it ended."""
        job = self._inflight.pop(future, None)
        if job is None:
            return None
        try:
            result = future.result()
        except Exception as exc:  # the worker died or the executor lost the segment
            charged = job.charged + self._losses.charge(future, exc, self._inflight)
            self.lose(job, charged, f"{type(exc).__name__}: {exc}")
            return job, None
        finally:
            self._losses.settle(future)
        return job, result

    def abandon_hung(self) -> None:
        """A segment past ``segment_timeout`` counts as a lost worker: the executor stops it
        if it can, and it is retried like any lost segment. It alone pays for the loss."""
        now = time.monotonic()
        if now < self.hang_deadline:
            return
        for future, job in list(self._inflight.items()):
            if now < job.deadline or future.done():
                continue
            del self._inflight[future]
            self._losses.spare(self._inflight)  # whatever the stopping takes down with it
            if self._abandon is not None:
                self._abandon(future)
            error = f"hung: still running after segment_timeout = {self.segment_timeout} s"
            self.lose(job, job.charged + 1.0, error)

    def lose(self, job: Job, charged: float, error: str, halt: bool = False) -> None:
        """Retry a lost segment while retries last; then the trial fails, or, when the loss
        is the disk's fault (``halt``), the study stops and the trial waits for the rerun."""
        lost = SegmentLost(job.trial, job.attempt + 1, error)
        if charged <= self.max_retries + 1e-9:
            self.journal.record([lost])
            self.submit(self.history[job.trial], job.until, job.attempt + 1, charged)
            return
        if halt:
            self.journal.record([lost])
            raise StudyHalted(
                f"{error}; tried {job.attempt + 1} times. The disk is full or read-only: free "
                f"some space and run the same command again (trial {job.trial} continues then)"
            )
        reason = f"worker lost {job.attempt + 1} times; last: {error}"
        self.journal.record([lost, TrialFinished(job.trial, TrialState.FAILED, reason)])
        self.journal.release(job.trial)

    def cancel_all(self) -> None:
        for future in self._inflight:
            future.cancel()
