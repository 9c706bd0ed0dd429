"""Executors run segments. The seam is the ``concurrent.futures`` subset every engine has:
``submit(fn, *args) -> Future`` and ``shutdown()``, plus ``workers`` (how many segments may
run at once). An executor that can stop a hung segment also has ``abandon(future)``; what
else that takes down reports its loss through its own future. Engines that need optional
packages are imported only when asked for.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, Protocol

from ._optional import MissingExtraError


class Executor(Protocol):
    workers: int

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future: ...

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None: ...


EXECUTORS = ("local", "sequential", "mpi", "dask")


def make_executor(
    name: str = "local", *, workers: int | None = None, address: str | None = None
) -> Executor:
    """Build an executor by name: "local" (process pool, default), "sequential", "dask"
    (a local cluster, or the scheduler at ``address``) or "mpi" (spawned ranks; under
    mpiexec use ``open_executor``, which lets the other ranks serve)."""
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"executor: workers must be a whole number >= 1, got {workers!r}")
    if address is not None and name != "dask":
        raise ValueError(f"executor: an address is for the dask executor, not {name!r}")
    if name == "local":
        from .local import LocalExecutor

        return LocalExecutor(workers=workers or os.cpu_count() or 1)
    if name == "sequential":
        from .sequential import SequentialExecutor

        return SequentialExecutor()
    if name == "dask":
        from .dask import DaskExecutor

        return DaskExecutor(workers=workers, address=address)
    if name == "mpi":
        from .mpi import spawned, world_size

        if world_size() > 1:
            raise ValueError(
                "executor 'mpi' under mpiexec: open it with curvetune.executors.open_executor"
                "('mpi') on every rank, before the study is opened (only rank 0 may open it)"
            )
        return spawned(workers)
    raise ValueError(f"unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}")


@contextlib.contextmanager
def open_executor(
    name: str = "local", *, workers: int | None = None, address: str | None = None
) -> Iterator[Executor | None]:
    """An executor for the length of a ``with`` block, shut down at its end.

    Yields ``None`` on the MPI ranks that serve segments (under mpiexec every rank runs the
    same program; only the one that gets an executor opens the study).
    """
    if name == "mpi":
        from .mpi import mpi_session

        with mpi_session(workers) as executor:
            yield executor
        return
    executor = make_executor(name, workers=workers, address=address)
    try:
        yield executor
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


__all__ = ["EXECUTORS", "Executor", "MissingExtraError", "make_executor", "open_executor"]
