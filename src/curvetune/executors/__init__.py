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
from dataclasses import dataclass
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

BATCHED = "batched"
"""The executor that trains segments of several trials in one call (``batched.py``), over
one of ``EXECUTORS`` (``over``, default local); its own settings are ``batch`` (members per
call, default 16) and ``device`` ("auto", "cpu", "cuda", "cuda:N"; default auto)."""


@dataclass(frozen=True)
class Batching:
    """The batched executor's settings: members per call, their device, the engine below."""

    batch: int = 16
    device: str = "auto"
    over: str = "local"


def check_executor(
    name: str,
    *,
    workers: int | None = None,
    address: str | None = None,
    batching: Batching | None = None,
) -> None:
    """Refuse settings no executor could take, with one line, before anything is started:
    the one place the rules live (``make_executor``, study files and the CLI all use it)."""
    _validate.text("executor", "name", name)
    if name == BATCHED:
        batching = batching or Batching()
        _validate.whole("executor", "batch", batching.batch, 1)
        from .batched import check_device

        check_device(batching.device)
        _validate.text("executor", "over", batching.over)
        if batching.over not in EXECUTORS:
            allowed = ", ".join(EXECUTORS)
            raise ValueError(f"executor: over must be one of {allowed}, got {batching.over!r}")
        name = batching.over  # the rest is the engine's
    elif batching is not None:
        raise ValueError(
            f"executor: batch, device and over are for the batched executor, not {name!r}"
        )
    if name not in EXECUTORS:
        allowed = ", ".join((*EXECUTORS, BATCHED))
        raise ValueError(f"executor: unknown name {name!r}; allowed: {allowed}")
    if workers is not None:  # None: the executor's own default
        _validate.whole("executor", "workers", workers, 1)

    if address is not None:
        _validate.text("executor", "address", address)
        if name not in TAKES_ADDRESS:
            allowed = ", ".join(sorted(TAKES_ADDRESS))
            raise ValueError(f"executor: an address is for the {allowed} executor, not {name!r}")


def make_executor(
    name: str = "local",
    *,
    workers: int | None = None,
    address: str | None = None,
    batching: Batching | None = None,
) -> Executor:
    """Build an executor by name: "local" (process pool, default), "sequential", "dask"
    (a local cluster, or the scheduler at ``address``), "mpi" (spawned ranks; under
    mpiexec use ``open_executor``, which lets the other ranks serve) or "batched" (segments
    of several trials in one call, over the engine ``batching.over``)."""
    check_executor(name, workers=workers, address=address, batching=batching)
    if name == BATCHED:
        batching = batching or Batching()
        return _batched(make_executor(batching.over, workers=workers, address=address), batching)
    return EXECUTORS[name](workers, address)


def _batched(inner: Executor, batching: Batching) -> Executor:
    from .batched import BatchedExecutor

    return BatchedExecutor(inner, batch=batching.batch, device=batching.device)


@contextlib.contextmanager
def open_executor(
    name: str = "local",
    *,
    workers: int | None = None,
    address: str | None = None,
    batching: Batching | None = None,
) -> Iterator[Executor | None]:
    """An executor for the length of a ``with`` block, shut down at its end.

    Yields ``None`` on the MPI ranks that serve segments (under mpiexec every rank runs the
    same program; only the one that gets an executor opens the study).
    """
    check_executor(name, workers=workers, address=address, batching=batching)
    engine = (batching or Batching()).over if name == BATCHED else name
    if engine == "mpi":
        from .mpi import mpi_session

        with mpi_session(workers) as executor:
            if executor is None or name != BATCHED:
                yield executor
                return
            batched = _batched(executor, batching or Batching())
            try:
                yield batched
            finally:
                batched.release()  # the session shuts the ranks down
        return
    executor = make_executor(name, workers=workers, address=address, batching=batching)
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
    "BATCHED",
    "EXECUTORS",
    "TAKES_ADDRESS",
    "Batching",
    "Executor",
    "MissingExtraError",
    "check_executor",
    "make_executor",
    "make_or_keep",
    "open_executor",
]
