"""Segments on MPI ranks, through ``mpi4py.futures`` (the ``mpi`` extra: mpi4py + mpich).

Two ways in, both mpi4py's own:

- **Under mpiexec** every rank runs the same command, e.g.
  ``mpiexec -n 8 python -m curvetune run study.toml --executor mpi``. ``mpi_session`` makes
  rank 0 the root of an ``MPICommExecutor`` over ``COMM_WORLD`` (it runs the controller and
  writes the store); ranks 1..7 serve segments until the root is done, then return.
- **Without mpiexec** (a world of one rank) the pool starts ``workers`` ranks itself with
  ``MPI_Comm_spawn``, which mpich supports; handy on a workstation and in tests.

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
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from ._optional import require

BACKOFF_SECONDS = 0.002


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
    """A pool of ``workers`` ranks (default 2) started with ``MPI_Comm_spawn``."""
    futures = require("mpi4py.futures", extra="mpi", what="the mpi executor")
    count = workers or 2
    return MPIExecutor(futures.MPIPoolExecutor(max_workers=count, **_options()), workers=count)


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
