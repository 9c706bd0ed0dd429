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

from .. import _validate
from ._optional import MissingExtraError


class Executor(Protocol):
    workers: int

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future: ...

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None: ...


def _local(workers: int | None, address: str | None) -> Executor:
    from .local import LocalExecutor

    return LocalExecutor(workers=workers or os.cpu_count() or 1)


def _sequential(workers: int | None, address: str | None) -> Executor:
    """One segment at a time in this process, whatever ``workers`` says (a study file may
    name workers for the engine it runs on elsewhere)."""
    from .sequential import SequentialExecutor

    return SequentialExecutor()


def _mpi(workers: int | None, address: str | None) -> Executor:
    from .mpi import spawned, world_size

    if world_size() > 1:
        raise ValueError(
            "executor 'mpi' under mpiexec: open it with curvetune.executors.open_executor"
            "('mpi') on every rank, before the study is opened (only rank 0 may open it)"
        )
    return spawned(workers)


def _dask(workers: int | None, address: str | None) -> Executor:
    from .dask import DaskExecutor

    return DaskExecutor(workers=workers, address=address)


Builder = Callable[[int | None, str | None], Executor]

EXECUTORS: dict[str, Builder] = {
    "local": _local,  # a process pool, the default
    "sequential": _sequential,  # in this process, one segment at a time
    "mpi": _mpi,  # spawned ranks (under mpiexec: open_executor)
    "dask": _dask,  # a local cluster, or the scheduler at ``address``
}
"""Executor names and their builders, ``builder(workers, address)``; each imports its engine
(and any optional package) only when called."""

TAKES_ADDRESS = frozenset({"dask"})
"""The executors that can join a running scheduler at an ``address``."""


def check_executor(name: str, *, workers: int | None = None, address: str | None = None) -> None:
    """Refuse settings no executor could take, with one line, before anything is started:
    the one place the rules live (``make_executor``, study files and the CLI all use it)."""
    _validate.text("executor", "name", name)
    if name not in EXECUTORS:
        raise ValueError(f"executor: unknown name {name!r}; allowed: {', '.join(EXECUTORS)}")
    if workers is not None:  # None: the executor's own default
        _validate.whole("executor", "workers", workers, 1)

    if address is not None:
        _validate.text("executor", "address", address)
        if name not in TAKES_ADDRESS:
            allowed = ", ".join(sorted(TAKES_ADDRESS))
            raise ValueError(f"executor: an address is for the {allowed} executor, not {name!r}")


def make_executor(
    name: str = "local", *, workers: int | None = None, address: str | None = None
) -> Executor:
    """Build an executor by name: "local" (process pool, default), "sequential", "dask"
    (a local cluster, or the scheduler at ``address``) or "mpi" (spawned ranks; under
    mpiexec use ``open_executor``, which lets the other ranks serve)."""
    check_executor(name, workers=workers, address=address)
    return EXECUTORS[name](workers, address)


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


@contextlib.contextmanager
def make_or_keep(executor: str | Executor, workers: int | None = None) -> Iterator[Executor]:
    """The executor named (built here, shut down at the end of the block), or the one
    given (its owner shuts it down)."""
    if not isinstance(executor, str):
        yield executor
        return
    built = make_executor(executor, workers=workers)
    try:
        yield built
    finally:
        built.shutdown(wait=False, cancel_futures=True)


__all__ = [
    "EXECUTORS",
    "TAKES_ADDRESS",
    "Executor",
    "MissingExtraError",
    "check_executor",
    "make_executor",
    "make_or_keep",
    "open_executor",
]
