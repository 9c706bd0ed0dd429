"""What an executor may offer beyond the ``concurrent.futures`` seam, declared as Protocols.

The controller asks ``isinstance(executor, Abandoning)`` rather than looking for a method
by name, so the contract is written down here and checked by type checkers.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Protocol, runtime_checkable


@runtime_checkable
class Abandoning(Protocol):
    """An executor that can stop one segment that ran past ``segment_timeout`` (local
    kills its process, Dask its worker, MPI writes the rank off). Whatever else the
    stopping takes down reports its loss through its own future."""

    def abandon(self, future: Future) -> None: ...


@runtime_checkable
class Idling(Protocol):
    """An executor told when the controller has nothing to do but wait: the simulated one
    advances its virtual clock to the next finished segment."""

    def idle(self) -> None: ...


@runtime_checkable
class SameHost(Protocol):
    """An executor whose segments all run on this machine, so a local temporary directory
    can hold an in-memory study's checkpoints. ``same_host`` is a class attribute."""

    same_host: bool


def runs_on_this_host(executor: object) -> bool:
    """Whether every segment of ``executor`` runs on this machine."""
    return isinstance(executor, SameHost) and executor.same_host is True
