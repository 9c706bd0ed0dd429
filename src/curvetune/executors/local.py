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
        # Memory-backed where there is one: a note per segment must cost next to nothing.
        shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self._pid_dir = Path(tempfile.mkdtemp(prefix="curvetune-pids-", dir=shm))
        self._tokens: dict[Future, str] = {}  # segment -> the note its worker writes
        self._count = 0

    def _new_pool(self):
        return get_reusable_executor(
            max_workers=self.workers, timeout=300, reuse=True, env=self._env
        )

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        self._count += 1
        note = (self._pid_dir, str(self._count))
        try:
            future = self._pool.submit(_noting_segment, note, fn, *args)
        except (ShutdownExecutorError, TerminatedWorkerError, RuntimeError):
            # A worker died and broke the pool: loky hands out a fresh one.
            self._pool = self._new_pool()
            future = self._pool.submit(_noting_segment, note, fn, *args)
        self._tokens[future] = note[1]
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future) -> None:
        self._tokens.pop(future, None)

    def abandon(self, future: Future) -> None:
        """Stop a hung segment: kill the worker process that runs it (each worker notes the
        segment it is running). loky then fails the other segments in flight too, as for
        any dead worker; the next submit gets a fresh pool."""
        token = self._tokens.pop(future, None)
        if future.cancel() or token is None:
            return
        for note in self._pid_dir.iterdir():
            with contextlib.suppress(OSError, ValueError):
                if note.read_text() == token:
                    os.kill(int(note.name), signal.SIGKILL)
        # Until loky sees the death, a submit would land in the doomed pool.
        wait([future], timeout=ABANDON_SECONDS)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, kill_workers=cancel_futures)
        shutil.rmtree(self._pid_dir, ignore_errors=True)


def _noting_segment(note: tuple[Path, str], fn: Callable[..., Any], *args: Any) -> Any:
    """Runs in the worker: note which segment this process runs (a file named by the pid,
    overwritten in place: cheaper than a file per segment), then run it."""
    directory, token = note
    (directory / str(os.getpid())).write_text(token)
    return fn(*args)
