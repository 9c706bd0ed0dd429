"""Segments on MPI ranks, through ``mpi4py.futures`` (the ``mpi`` extra: mpi4py + mpich).

Two ways in, both mpi4py's own:

- **Under mpiexec** every rank runs the same command, e.g.
  ``mpiexec -n 8 python -m curvetune run study.toml --executor mpi``. ``mpi_session`` makes
  rank 0 the root of an ``MPICommExecutor`` over ``COMM_WORLD`` (it runs the controller and
  writes the store); ranks 1..7 serve segments until the root is done, then return.
- **Without mpiexec** (a world of one rank) the pool starts ``workers`` ranks itself with
  ``MPI_Comm_spawn``, which mpich supports; handy on a workstation and in tests. mpich
  does that by starting ``mpiexec`` from ``PATH`` (without one it aborts, and the
  process hangs), so ``spawned`` checks for it first; and a spawn that has not answered
  after ``SPAWN_SECONDS`` is an error too, not a hang. Each spawned rank holds a
  lifeline to the controller (``lifeline.py``) and ends when it is gone.

Only small things cross MPI: the objective's import path, the config and the checkpoint
*paths* (large pickles through mpi4py.futures can crawl). Checkpoints therefore go to a
directory every rank can see (the study directory on a shared file system).

Idle ranks poll for work with exponential back-off up to a ceiling. Measured with 32
ranks on 2 cores (``benchmarks/scaling.py``): mpi4py's 1 ms costs each idle rank 3.4% of
a core (together a whole core, on a node whose other ranks train); 10 ms costs 1.3% but
took 0.1 s segments from 94% to 42% efficiency. We use 2 ms: 2.3%, 94%
(``MPI4PY_FUTURES_BACKOFF`` in the environment overrides it). The loss of a rank ends the
whole MPI job: the recovery is to run the same command again, which resumes the study.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from . import lifeline
from ._optional import require

BACKOFF_SECONDS = 0.002
# Spawning 32 ranks on 2 cores takes about 2 s; CURVETUNE_MPI_SPAWN_TIMEOUT overrides it.
SPAWN_SECONDS = 60.0
WEDGED_EXIT_STATUS = 2  # the CLI's status for an error it reports in one line


class MPIExecutor:
    """The executor seam over an ``mpi4py.futures.MPIPoolExecutor``."""

    def __init__(self, pool: Any, *, workers: int) -> None:
        self._pool = pool
        self.workers = workers
        self._abandoned: list[Future] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        return self._pool.submit(fn, *args)

    def abandon(self, future: Future) -> None:
        """MPI cannot stop a rank's task: a hung segment's rank is written off for the run."""
        if not future.cancel():
            self._abandoned.append(future)

    @property
    def stuck(self) -> bool:
        """Whether an abandoned segment still holds a rank (shutting down would wait on it)."""
        return any(not future.done() for future in self._abandoned)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait and not self.stuck, cancel_futures=cancel_futures)


def _options() -> dict[str, Any]:
    if os.environ.get("MPI4PY_FUTURES_BACKOFF"):
        return {}  # mpi4py reads it itself
    return {"backoff": BACKOFF_SECONDS}


def world_size() -> int:
    """Ranks in ``COMM_WORLD`` (1 when not started by mpiexec)."""
    MPI = require("mpi4py.MPI", extra="mpi", what="the mpi executor")
    return MPI.COMM_WORLD.Get_size()


def spawned(workers: int | None = None) -> MPIExecutor:
    """A pool of ``workers`` ranks (default 2) started with ``MPI_Comm_spawn``, booted before
    it is returned: a spawn that cannot work is a one-line ``ValueError``, never a hang."""
    futures = require("mpi4py.futures", extra="mpi", what="the mpi executor")
    count = workers or 2
    if shutil.which("mpiexec") is None:
        raise ValueError(
            "executor 'mpi': cannot spawn ranks: no mpiexec on PATH (the mpi extra's mpich "
            f"wheel puts it beside python: {Path(sys.executable).parent}); run under "
            "mpiexec or add it to PATH"
        )
    pool = futures.MPIPoolExecutor(
        max_workers=count,
        initializer=lifeline.watch,
        initargs=(lifeline.controller_token(),),
        **_options(),
    )
    return MPIExecutor(pool, workers=_boot(pool, count, _spawn_seconds()))


def _spawn_seconds() -> float:
    text = os.environ.get("CURVETUNE_MPI_SPAWN_TIMEOUT")
    try:
        return float(text) if text else SPAWN_SECONDS
    except ValueError:
        raise ValueError(
            f"CURVETUNE_MPI_SPAWN_TIMEOUT must be a number of seconds, got {text!r}"
        ) from None


def _boot(pool: Any, count: int, timeout: float) -> int:
    """Start the pool's ranks, waiting at most ``timeout`` seconds; returns how many started
    (mpi4py asks for 1 to ``count``: mpich gives them all).

    mpi4py spawns from a thread of its own and waits for it at exit; a spawn that never
    returns cannot be cancelled, so this process could then never exit. On a timeout the
    error is raised and the process is set to end at exit without waiting for that thread
    (status 2, the CLI's for a one-line error).
    """
    booted: list[int] = []
    booting = threading.Thread(
        target=lambda: booted.append(pool.num_workers),  # 0 when the spawn failed
        name="curvetune-mpi-spawn",
        daemon=True,
    )
    booting.start()
    booting.join(timeout)
    if booting.is_alive():
        _exit_at_shutdown(WEDGED_EXIT_STATUS)
        raise ValueError(
            f"executor 'mpi': spawning {count} ranks did not finish in {timeout:g} s "
            f"(mpiexec: {shutil.which('mpiexec')}); run under mpiexec instead, or set "
            "CURVETUNE_MPI_SPAWN_TIMEOUT"
        )
    if not booted or booted[0] < 1:
        raise ValueError(
            f"executor 'mpi': spawning {count} ranks failed (mpiexec: "
            f"{shutil.which('mpiexec')}); run under mpiexec instead"
        )
    return booted[0]


def _exit_at_shutdown(status: int) -> None:
    """End the process at interpreter shutdown, before threads are joined (mpi4py joins its
    wedged spawn thread there, and MPI_Finalize would wait on it too). Callbacks registered
    with ``threading._register_atexit`` run last-registered first, so this one runs before
    mpi4py's."""

    def end() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)

    register = getattr(threading, "_register_atexit", None)
    if register is None:  # pragma: no cover - every supported Python has it
        return
    with contextlib.suppress(RuntimeError):  # shutdown has already begun
        register(end)


@contextlib.contextmanager
def mpi_session(workers: int | None = None) -> Iterator[MPIExecutor | None]:
    """Yield the executor on the rank that leads, ``None`` on ranks that serve segments.

    Under mpiexec with N ranks there are N - 1 workers, whatever ``workers`` says (a study
    file written for a laptop still runs); in a world of one rank, ``workers`` ranks are
    spawned (default 2).
    """
    MPI = require("mpi4py.MPI", extra="mpi", what="the mpi executor")
    futures = require("mpi4py.futures", extra="mpi", what="the mpi executor")
    comm = MPI.COMM_WORLD
    size = comm.Get_size()
    if size == 1:
        executor = spawned(workers)
        try:
            yield executor
        finally:
            executor.shutdown(wait=True)
        return
    with futures.MPICommExecutor(comm, root=0, **_options()) as pool:
        if pool is None:
            yield None  # a serving rank: it ran segments until the root was done
            return
        executor = MPIExecutor(pool, workers=size - 1)
        try:
            yield executor
        finally:
            if executor.stuck:  # the root's exit would wait forever on the written-off rank
                print(
                    "curvetune: a rank still runs a segment abandoned after segment_timeout; "
                    "ending the MPI job with MPI_Abort (everything is in the store)",
                    file=sys.stderr,
                    flush=True,
                )
                comm.Abort(3)
