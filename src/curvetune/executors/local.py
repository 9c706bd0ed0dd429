"""The default executor: a pool of local worker processes (loky, spawn-style start).

loky is used rather than ``concurrent.futures.ProcessPoolExecutor`` because it survives the
loss of a worker: the segment that was running reports ``TerminatedWorkerError`` (which the
controller retries from the last checkpoint) and the next submit gets a fresh pool, where
the standard pool stays broken for good.

Each worker holds a lifeline to this process (``lifeline.py``): a controller killed with
``kill -9`` takes its workers with it within a second, and loky's resource tracker then
unlinks the pool's named semaphores (``sem.loky-PID-*``) itself. A run also removes the
directory of segment notes a killed one left in ``/dev/shm``. Semaphores are left to the
tracker: one whose creator looks dead may belong to a live pool in another pid namespace
that shares ``/dev/shm``, and a worker it respawns opens them by name.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, wait
from pathlib import Path
from typing import Any

from loky import get_reusable_executor
from loky.process_executor import ShutdownExecutorError, TerminatedWorkerError

from . import lifeline

ABANDON_SECONDS = 10  # the longest to wait for loky to notice a killed worker
NOTES_PREFIX = "curvetune-pids-"  # + "PID.START-" of the controller + mkdtemp's letters
_NOTES = re.compile(re.escape(NOTES_PREFIX) + r"(\d+)\.(\d*)-\w+")


class LocalExecutor:
    same_host = True  # processes of this machine (see ``hooks.SameHost``)

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
        self._lifeline = lifeline.controller_token()
        notes_parent = notes_directory()
        remove_stale(notes_parent)
        pid, start, _ = self._lifeline.split(":", 2)
        prefix = f"{NOTES_PREFIX}{pid}.{start}-"
        self._pid_dir = Path(tempfile.mkdtemp(prefix=prefix, dir=notes_parent))
        self._pool = self._new_pool()
        self._tokens: dict[Future, str] = {}  # segment -> the note its worker writes
        self._count = 0

    def _new_pool(self):
        return get_reusable_executor(
            max_workers=self.workers,
            timeout=300,
            reuse=True,
            env=self._env,
            initializer=lifeline.watch,
            initargs=(self._lifeline,),
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
    with contextlib.suppress(OSError):  # without its note a hung segment is only retried
        (directory / str(os.getpid())).write_text(token)
    return fn(*args)


def notes_directory() -> Path:
    """Where the segment notes go: memory-backed where there is one (``/dev/shm``), since a
    note per segment must cost next to nothing; else the temporary directory."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def remove_stale(directory: Path) -> list[Path]:
    """Remove the segment-note directories that killed controllers left in ``directory``
    (``/dev/shm``): names of ours whose controller is gone, owned by this user. Returns
    what was removed. A name carries its controller's start time, so a later process that
    got the same id does not keep it.
    """
    removed: list[Path] = []
    uid = os.getuid() if hasattr(os, "getuid") else None
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for entry in entries:
        notes = _NOTES.fullmatch(entry.name)
        try:
            if notes is None or lifeline.alive(f"{notes[1]}:{notes[2]}:"):
                continue
            if uid is not None and entry.lstat().st_uid != uid:
                continue
            shutil.rmtree(entry)
        except OSError:
            continue  # gone meanwhile, or not ours to remove
        removed.append(entry)
    return removed
