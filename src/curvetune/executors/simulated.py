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

import numpy as np

from .. import _validate


class SimulatedExecutor:
    same_host = True  # see ``hooks.SameHost``

    def __init__(self, *, workers: int, duration_metric: str = "epoch_seconds") -> None:
        _validate.whole("simulated executor", "workers", workers, 1)
        self.workers = workers
        self.duration_metric = duration_metric
        self.clock = 0.0  # virtual seconds since the start
        self.epoch_ends: list[float] = []  # virtual time at which each trained step ended
        self.finished_at: dict[int, float] = {}  # trial id -> end of its latest segment
        self._running: list[tuple[float, int, Future, Any, BaseException | None]] = []
        self._count = 0
        self._trial_of: dict[int, int] = {}

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        result: Any = None
        error: BaseException | None = None
        try:
            result = fn(*args)
        except Exception as exc:  # delivered as a lost segment, like a dead worker
            error = exc
        durations = self._durations(result)
        ends = self.clock + np.cumsum(durations)
        self.epoch_ends.extend(ends.tolist())
        finish = float(ends[-1]) if len(ends) else self.clock
        future: Future = Future()
        heapq.heappush(self._running, (finish, self._count, future, result, error))
        if result is not None and hasattr(result, "trial_id"):
            self._trial_of[self._count] = result.trial_id
        self._count += 1
        return future

    def idle(self) -> None:
        """Advance the clock to the next segment that finishes, and complete it."""
        if not self._running:
            return
        finish, number, future, result, error = heapq.heappop(self._running)
        self.clock = max(self.clock, finish)
        if number in self._trial_of:
            self.finished_at[self._trial_of.pop(number)] = finish
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def _durations(self, result: Any) -> np.ndarray:
        """Virtual seconds of each step the segment trained (one second each by default)."""
        reports = getattr(result, "reports", ())
        last: dict[int, float] = {}  # the last report of a step carries its duration
        for r in reports:
            if self.duration_metric in r.metrics:
                last[r.step] = r.metrics[self.duration_metric]
        if last:
            return np.asarray([last[step] for step in sorted(last)], dtype=float)
        steps = max(1, getattr(result, "until", 1) - getattr(result, "start", 0))
        return np.ones(steps)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._running.clear()
