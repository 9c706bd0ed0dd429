"""Study stores: an append-only log of events, read back to resume a study.

``SqliteStore`` (``<study_dir>/study.db``) is the default; ``MemoryStore`` serves tests and
throwaway studies. Only the controller writes; any number of readers may look.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from ..events import Event
from .lock import StudyLock, StudyLockedError
from .memory import MemoryStore
from .sqlite import SCHEMA_VERSION, SqliteStore, StoreError


class Store(Protocol):
    def spec(self) -> Mapping[str, Any] | None:
        """The study's fixed description, or None for a new store."""

    def set_spec(self, spec: Mapping[str, Any]) -> None: ...

    def append(self, events: Sequence[Event]) -> None:
        """Append ``events`` atomically: after a crash either all of them are there or none."""

    def events(self, *, facts_only: bool = False) -> Iterator[Event]:
        """Every event, in the order it was appended (``facts_only``: without the
        ``Decided`` explanations, which replaying a ``History`` does not need)."""

    def last_seq(self) -> int:
        """How many events the store holds (the newest one's number)."""

    def has_results(self) -> bool:
        """Whether any segment has come back (the study can no longer change its spec)."""

    def reset(self, spec: Mapping[str, Any]) -> None:
        """Forget the trials of a study without results and describe it anew."""

    def close(self) -> None: ...


__all__ = [
    "SCHEMA_VERSION",
    "MemoryStore",
    "SqliteStore",
    "Store",
    "StoreError",
    "StudyLock",
    "StudyLockedError",
]
