"""The default executor: a pool of local worker processes (loky, spawn-style start).

loky is used rather than ``concurrent.futures.ProcessPoolExecutor`` because it survives the
loss of a worker: the segment that was running reports ``TerminatedWorkerError`` (which the
controller retries from the last checkpoint) and the next submit gets a fresh pool, where
the standard pool stays broken for good.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, wait
from pathlib import Path
from typing import Any

from loky import get_reusable_executor
from loky.process_executor import ShutdownExecutorError, TerminatedWorkerError

ABANDON_SECONDS = 10  # the longest to wait for loky to notice a killed worker


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
        self._pid_dir = Path(tempfile.mkdtemp(prefix="curvetune-pids-"))
        self._pid_files: dict[Future, Path] = {}
        self._count = 0

    def _new_pool(self):
        return get_reusable_executor(
            max_workers=self.workers, timeout=300, reuse=True, env=self._env
        )

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        self._count += 1
        pid_file = self._pid_dir / f"{self._count}.pid"
        try:
            future = self._pool.submit(_noting_pid, pid_file, fn, *args)
        except (ShutdownExecutorError, TerminatedWorkerError, RuntimeError):
            # A worker died and broke the pool: loky hands out a fresh one.
            self._pool = self._new_pool()
            future = self._pool.submit(_noting_pid, pid_file, fn, *args)
        self._pid_files[future] = pid_file
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future) -> None:
        path = self._pid_files.pop(future, None)
        if path is not None:
            path.unlink(missing_ok=True)

    def abandon(self, future: Future) -> None:
        """Stop a hung segment: kill the worker process that runs it (each segment notes its
        process id on the way in). loky then fails the other segments in flight too, as
        for any dead worker; the next submit gets a fresh pool."""
        if future.cancel():
            return
        path = self._pid_files.pop(future, None)
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.kill(int(path.read_text()), signal.SIGKILL)
        # Until loky sees the death, a submit would land in the doomed pool.
        wait([future], timeout=ABANDON_SECONDS)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, kill_workers=cancel_futures)
        shutil.rmtree(self._pid_dir, ignore_errors=True)


def _noting_pid(pid_file: Path, fn: Callable[..., Any], *args: Any) -> Any:
    """Runs in the worker: note which process runs this segment, then run it."""
    pid_file.write_text(str(os.getpid()))
    return fn(*args)
