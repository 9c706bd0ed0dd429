"""The default executor: a pool of local worker processes (loky, spawn-style start).

loky is used rather than ``concurrent.futures.ProcessPoolExecutor`` because it survives the
loss of a worker: the segment that was running reports ``TerminatedWorkerError`` (which the
controller retries from the last checkpoint) and the next submit gets a fresh pool, where
the standard pool stays broken for good.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from loky import get_reusable_executor
from loky.process_executor import ShutdownExecutorError, TerminatedWorkerError


class LocalExecutor:
    def __init__(self, *, workers: int) -> None:
        self.workers = workers
        cores = os.cpu_count() or 1
        # Each worker gets its share of the cores, so N trainings don't fight for them.
        threads = str(max(1, cores // workers))
        self._env = {
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "CURVETUNE_THREADS": threads,
        }
        self._pool = self._new_pool()

    def _new_pool(self):
        return get_reusable_executor(
            max_workers=self.workers, timeout=300, reuse=True, env=self._env
        )

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        try:
            return self._pool.submit(fn, *args)
        except (ShutdownExecutorError, TerminatedWorkerError, RuntimeError):
            # A worker died and broke the pool: loky hands out a fresh one.
            self._pool = self._new_pool()
            return self._pool.submit(fn, *args)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, kill_workers=cancel_futures)
