"""A simulated executor with a virtual clock, for benchmarks over recorded curves.

Segments run in the calling process when submitted, but their results arrive in the order
they would have finished on ``workers`` machines: each segment takes the virtual seconds its
reports say (the ``duration_metric`` summed over them; one second per step if absent). The
controller calls ``idle()`` when it has nothing else to do, which advances the clock to the
next finishing segment and completes it. A whole study runs in milliseconds.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class SimulatedExecutor:
    def __init__(self, *, workers: int, duration_metric: str = "epoch_seconds") -> None:
        if workers < 1:
            raise ValueError(f"simulated executor: workers must be >= 1, got {workers}")
        self.workers = workers
        self.duration_metric = duration_metric
        self.clock = 0.0  # virtual seconds since the start
        self._running: list[tuple[float, int, Future, Any, BaseException | None]] = []
        self._count = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        result: Any = None
        error: BaseException | None = None
        try:
            result = fn(*args)
        except Exception as exc:  # delivered as a lost segment, like a dead worker
            error = exc
        finish = self.clock + self._duration(result)
        future: Future = Future()
        heapq.heappush(self._running, (finish, self._count, future, result, error))
        self._count += 1
        return future

    def idle(self) -> None:
        """Advance the clock to the next segment that finishes, and complete it."""
        if not self._running:
            return
        finish, _, future, result, error = heapq.heappop(self._running)
        self.clock = max(self.clock, finish)
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def _duration(self, result: Any) -> float:
        reports = getattr(result, "reports", ())
        seconds = [
            r.metrics[self.duration_metric] for r in reports if self.duration_metric in r.metrics
        ]
        if seconds:
            return float(sum(seconds))
        return float(max(1, getattr(result, "until", 1) - getattr(result, "start", 0)))

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._running.clear()
