"""The lifeline: worker processes end when the controller that started them is gone.

A controller killed with ``kill -9`` (or lost to the out-of-memory killer) runs no clean-up,
and its worker processes would go on training, holding memory and writing checkpoints that
nobody will ever read. So each worker an executor starts itself gets the controller's
*token* and runs one daemon thread that checks every ``INTERVAL`` seconds whether that
process still exists, and ends the worker with ``os._exit`` once it does not.

The token is ``PID:START:HOST``: the controller's process id, its start time (field 22 of
``/proc/PID/stat``, in clock ticks since boot; empty where there is no ``/proc``) and the
host name. The start time tells the controller apart from a later process that got the
same id; the host name keeps a worker on another machine, which cannot see the
controller's processes, from taking it for dead (it does not watch at all).

Why a polling thread rather than ``PR_SET_PDEATHSIG``: that signal fires when the parent
*thread* that forked the worker ends (loky and mpi4py start processes from helper
threads), and spawned MPI ranks are not the controller's children at all. A daemon thread
runs between the bytecodes of a busy worker, and native kernels (torch) release the GIL,
so the check goes on while the worker trains. Its cost is one small ``/proc`` read per
check.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

INTERVAL = 0.5  # seconds between checks: a dead controller's workers end within about this
THREAD_NAME = "curvetune-lifeline"
EXIT_STATUS = 75  # what a worker whose controller is gone ends with (EX_TEMPFAIL)


def controller_token(pid: int | None = None) -> str:
    """The token that names process ``pid`` (default: this one) for its workers."""
    pid = os.getpid() if pid is None else pid
    state = _proc_state(pid)
    start = state[1] if state else ""
    return f"{pid}:{start}:{socket.gethostname()}"


def alive(token: str) -> bool:
    """Whether the process the token names still runs (a zombie counts as gone). The start
    time may be empty (then any process with that id will do); where there is no ``/proc``
    (not Linux) only the process id is checked."""
    pid_text, start, _ = token.split(":", 2)
    pid = int(pid_text)
    state = _proc_state(pid)
    if state is None and not os.path.isdir("/proc"):
        return _exists(pid)
    return state is not None and state[0] not in "ZX" and start in ("", state[1])


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def watch(token: str, *, interval: float = INTERVAL) -> threading.Thread | None:
    """Start this process's lifeline thread, which ends the process once the controller the
    token names is gone. At most one per process (a second call returns the first); none
    when the controller runs on another host. Used as a pool ``initializer``."""
    if token.split(":", 2)[2] != socket.gethostname() or os.name == "nt":
        return None  # another host; or Windows, where os.kill(pid, 0) sends a Ctrl-C
    for thread in threading.enumerate():
        if thread.name == THREAD_NAME:
            return thread
    thread = threading.Thread(target=_watch, args=(token, interval), name=THREAD_NAME, daemon=True)
    thread.start()
    return thread


def _watch(token: str, interval: float) -> None:
    while alive(token):
        time.sleep(interval)
    pid = token.split(":", 1)[0]
    # os.write and os._exit: nothing that could wait on a lock another thread holds.
    os.write(2, f"curvetune: worker {os.getpid()}: controller {pid} is gone; ending\n".encode())
    os._exit(EXIT_STATUS)


def _proc_state(pid: int) -> tuple[str, str] | None:
    """(state letter, start time) from ``/proc/PID/stat``, or None if there is no such
    process (or no ``/proc``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces or ")".
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], fields[19]  # fields 3 (state) and 22 (starttime)
