"""One controller per study: an exclusive lock on ``<study>/study.lock`` held for a run.

Two controllers on one study directory would both create trials and train the same
segments (found by hand: 16 trial creations for 8 trials, a lost step, and an
``IntegrityError`` on the event sequence). The lock is an ``flock`` on a file beside the
store, so the operating system releases it when the process dies: a controller killed with
``kill -9`` never blocks the rerun. The file names the holder (pid, host, start time) for
the refusal message; readers (``status``, ``report``, ``dashboard``, ``export``) never
take it.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from pathlib import Path

from ..notes import note
from .sqlite import StoreError

LOCK_NAME = "study.lock"
_NO_FLOCK = {errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP}


class StudyLockedError(StoreError):
    """Another controller holds the study directory."""


class StudyLock:
    """``with StudyLock(directory):`` holds the study for this process, or raises
    ``StudyLockedError`` naming the pid and host that hold it."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): one controller per study is on the user
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(_unwritable(self.path.parent, exc)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(fd)
            os.close(fd)
            if exc.errno in _NO_FLOCK:  # Lustre without -o flock, some NFS and CIFS mounts
                note(
                    f"the file system of {self.path.parent} cannot lock files "
                    f"({exc.strerror}); running unlocked: run one controller at a time"
                )
                return
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise StoreError(f"cannot lock {self.path}: {exc.strerror}") from None
            raise StudyLockedError(
                f"{self.path.parent} is in use by another curvetune run ({holder}); "
                "wait for it to finish, or stop it, then run this again"
            ) from None
        self._fd = fd
        self._write_holder(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> StudyLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    @staticmethod
    def _write_holder(fd: int) -> None:
        text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, text.encode(), 0)
        except OSError:  # a full disk: the lock holds all the same, only the note is lost
            pass


def _read_holder(fd: int) -> str:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(data["since"]))
        return f"pid {data['pid']} on host {data['host']}, since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not said who it is yet"


def _unwritable(directory: Path, exc: OSError) -> str:
    """One line for a study directory the controller cannot write."""
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"cannot write to the study directory {directory} ({exc.strerror}); make it "
            "writable and run the same command again (status, export and report -o "
            "ELSEWHERE can still read it)"
        )
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"the disk holding {directory} is full; free some space and run the same command again"
        )
    return f"cannot write to the study directory {directory}: {exc.strerror}"
