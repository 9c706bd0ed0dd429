"""The batched executor: segments of several trials trained in one call on one device.

It wraps another executor (``over``: local processes by default, or MPI ranks, Dask
workers, this process) and offers ``batch`` times its slots. Segments of an objective with
a batched entry (``curvetune.batching.Batched``) are held back and grouped by the
objective's ``batch_key`` and the step range; a group is sent to a worker as one
``run_batch`` call when it is full, when the controller has nothing else to submit and
waits (``idle()``, the ``Idling`` hook), or at the latest ``linger`` seconds after its
first member arrived. Each segment still gets its own ordinary ``Future``, resolved with its
own ``SegmentResult``: the controller, the schedulers and the store do not change (the
``concurrent.futures`` seam holds). Segments that cannot be batched (no batched entry, a
``None`` key, a function other than ``run_segment``) pass straight to the inner executor.

Devices: each batch in flight holds a *slot* (0, 1, ... up to the inner executor's
workers), and runs on ``device`` resolved in the worker (``batching.pick_device``):
``"auto"`` is, for a worker that sees CUDA, the GPU ``slot % count`` of its first batch,
kept for the life of the process (one device per worker), else the CPU, so local workers
spread over the visible GPUs; ``"cuda"`` the same but refuses a worker without one;
``"cpu"`` or ``"cuda:N"`` as named. Under MPI or Dask each worker resolves ``"auto"``
against the GPUs it sees (give each its own: ``docs/distributed.md``).

Losses: a batch the engine loses (its worker died, a Dask ``KilledWorker``) fails each
member's future with one shared ``BatchLost``, a ``BrokenExecutor``, so the controller's
ledger charges the members one retry in all; and each of those trials runs its next segment
alone, so a member that kills its worker (or hangs: ``abandon``) is soon charged on its
own. ``segment_timeout`` counts from each member's submission and so must allow for a
whole batch's segment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import BrokenExecutor, Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import _validate
from ..batching import Batched, batched_entry, run_batch
from ..worker import SegmentContext, run_segment
from .hooks import Abandoning, Idling, runs_on_this_host

if TYPE_CHECKING:
    from . import Executor

DEVICES = ("auto", "cpu", "cuda")  # and "cuda:N"
LINGER_SECONDS = 0.5  # the longest a segment waits for company without an idle() call


def check_device(device: str) -> None:
    """Refuse a device no worker could resolve, with one line."""
    _validate.text("executor", "device", device)
    if device in DEVICES or (device.startswith("cuda:") and device[5:].isdigit()):
        return
    raise ValueError(f"executor: device must be auto, cpu, cuda or cuda:N, got {device!r}")


class BatchLost(BrokenExecutor):
    """A batch the engine lost; every member's future fails with the same one (its cause:
    the engine's own error), so the members share the loss."""


@dataclass
class _Group:
    """Segments waiting to go as one batch: same objective, batch key and step range."""

    objective: Any
    members: list[tuple[Any, SegmentContext, Future]] = field(default_factory=list)
    since: float = 0.0


class BatchedExecutor:
    """Groups batchable segments into ``run_batch`` calls on ``inner``."""

    def __init__(
        self,
        inner: Executor,
        *,
        batch: int = 16,
        device: str = "auto",
        linger: float = LINGER_SECONDS,
    ) -> None:
        _validate.whole("executor", "batch", batch, 1)
        check_device(device)
        _validate.number("executor", "linger", linger, 0)
        self.inner = inner
        self.batch = batch
        self.device = device
        self.linger = linger
        self.workers = inner.workers * batch
        self.same_host = runs_on_this_host(inner)  # see ``hooks.SameHost``
        self._lock = threading.Lock()  # what follows, but never held across inner calls
        self._sending = threading.Lock()  # one send at a time (inner.submit may not be safe)
        self._groups: dict[Hashable, _Group] = {}
        self._slots: dict[Future, int] = {}  # batch in flight -> its device slot
        self._batch_of: dict[Future, Future] = {}  # member future -> its batch's future
        self._trials_of: dict[Future, list[int]] = {}  # batch in flight -> its trials
        self._alone: set[int] = set()  # trials whose next segment runs unbatched
        self._losses: dict[int, BatchLost] = {}  # id(engine error) -> the shared loss
        self._timer: threading.Timer | None = None
        self._inner_idle = inner.idle if isinstance(inner, Idling) else None
        self._entries: dict[Any, Batched | None] = {}  # objective -> its batched entry
        self.batches = 0  # batches sent (for benchmarks and tests)

    # ----------------------------------------------------------------- the seam

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        key = self._group_key(fn, args)
        if key is None:
            return self.inner.submit(fn, *args)
        objective, config, ctx = args
        with self._lock:
            alone = ctx.trial_id in self._alone
            self._alone.discard(ctx.trial_id)
        if alone:  # its last batch was lost: this segment runs on its own
            return self.inner.submit(fn, *args)
        future: Future = Future()
        full = None
        with self._lock:
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Group(objective, since=time.monotonic())
            group.members.append((config, ctx, future))
            if len(group.members) >= self.batch:
                full = self._groups.pop(key)
            else:
                self._arm_timer()
        if full is not None:
            self._send(full)
        return future

    def idle(self) -> None:
        """The controller waits: whatever is held back goes now."""
        self.flush()
        if self._inner_idle is not None:
            self._inner_idle()

    def flush(self, older_than: float | None = None) -> None:
        """Send every group held back (only those waiting ``older_than`` seconds, if given)."""
        now = time.monotonic()
        with self._lock:
            due = [
                self._groups.pop(key)
                for key in list(self._groups)
                if older_than is None or now - self._groups[key].since >= older_than
            ]
        for group in due:
            self._send(group)

    def abandon(self, future: Future) -> None:
        """Stop the batch a hung segment runs in; its members (the hung one among them) run
        their next segments alone."""
        with self._lock:
            batch = self._batch_of.get(future)
            self._alone.update(self._trials_of.get(batch, ()))
        if batch is not None and isinstance(self.inner, Abandoning):
            self.inner.abandon(batch)

    def release(self) -> None:
        """Stop the timer and cancel every segment still held back (the inner executor is
        its owner's to shut down)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            groups, self._groups = list(self._groups.values()), {}
        for group in groups:
            for _, _, future in group.members:
                future.cancel()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.release()
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)

    # ----------------------------------------------------------------- batching

    def _group_key(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Hashable | None:
        if fn is not run_segment or len(args) != 3:
            return None
        objective, config, ctx = args
        if objective not in self._entries:  # looked up once: a Protocol check costs microseconds
            self._entries[objective] = batched_entry(objective)
        entry = self._entries[objective]
        if entry is None:
            return None
        try:
            key = entry.batch_key(config)
        except Exception:  # a bad config: its segment runs alone and fails there, as it would
            return None
        if key is None:
            return None
        return (objective, key, ctx.start, ctx.until)

    def _send(self, group: _Group) -> None:
        """Submit one group as a batch, in the lowest device slot no batch holds; members
        cancelled while held back are left out. One send at a time, not under ``_lock``: an
        inner executor may run the batch (and its callback) inside submit."""
        members = [m for m in group.members if m[2].set_running_or_notify_cancel()]
        if not members:
            return
        futures = [future for _, _, future in members]
        with self._sending:
            with self._lock:
                held = set(self._slots.values())
                slot = min(set(range(len(held) + 1)) - held)
            try:
                batch = self.inner.submit(
                    run_batch,
                    group.objective,
                    [config for config, _, _ in members],
                    [ctx for _, ctx, _ in members],
                    self.device,
                    slot,
                )
            except Exception as exc:  # the engine refused it (shut down, broken, gone)
                for future in futures:
                    future.set_exception(exc)
                return
            with self._lock:  # recorded before the callback that forgets it can run
                self.batches += 1
                self._slots[batch] = slot
                self._trials_of[batch] = [ctx.trial_id for _, ctx, _ in members]
                for future in futures:
                    self._batch_of[future] = batch
        batch.add_done_callback(lambda done: self._distribute(done, futures))

    def _distribute(self, batch: Future, members: list[Future]) -> None:
        """Each member's future gets its own result, or the batch's shared loss."""
        with self._lock:
            self._slots.pop(batch, None)
            trials = self._trials_of.pop(batch, [])
            for future in members:
                self._batch_of.pop(future, None)
        error = BaseException("batch cancelled") if batch.cancelled() else batch.exception()
        if error is None:
            for future, result in zip(members, batch.result(), strict=True):
                future.set_result(result)
            return
        loss = self._shared_loss(error)
        with self._lock:
            self._alone.update(trials)
        for future in members:
            future.set_exception(loss)

    def _shared_loss(self, error: BaseException) -> BatchLost:
        """One ``BatchLost`` per engine error: batches lost to the same breakage (loky fails
        every call in flight with one exception) share one loss."""
        with self._lock:
            loss = self._losses.get(id(error))
            if loss is None or loss.__cause__ is not error:
                loss = BatchLost(f"batch lost: {type(error).__name__}: {error}")
                loss.__cause__ = error
                if len(self._losses) > 64:
                    self._losses.clear()
                self._losses[id(error)] = loss
            return loss

    def _arm_timer(self) -> None:
        """Make sure held-back segments go within ``linger`` seconds (the lock is held)."""
        if self._timer is not None and self._timer.is_alive():
            return
        self._timer = threading.Timer(self.linger, self._on_timer)
        self._timer.daemon = True
        self._timer.start()

    def _on_timer(self) -> None:
        self.flush(older_than=self.linger * 0.999)
        with self._lock:
            self._timer = None
            if self._groups:
                self._arm_timer()
