"""An in-memory store for tests and throwaway studies: nothing survives the process."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..events import Decided, Event, SegmentFinished


class MemoryStore:
    def __init__(self) -> None:
        self._spec: Mapping[str, Any] | None = None
        self._events: list[Event] = []

    def spec(self) -> Mapping[str, Any] | None:
        return self._spec

    def set_spec(self, spec: Mapping[str, Any]) -> None:
        self._spec = dict(spec)

    def append(self, events: Sequence[Event]) -> None:
        self._events.extend(events)

    def events(self, *, facts_only: bool = False) -> Iterator[Event]:
        if facts_only:
            return iter([e for e in self._events if not isinstance(e, Decided)])
        return iter(list(self._events))

    def last_seq(self) -> int:
        return len(self._events)

    def has_results(self) -> bool:
        return any(type(event) is SegmentFinished for event in self._events)

    def reset(self, spec: Mapping[str, Any]) -> None:
        self._spec, self._events = dict(spec), []

    def close(self) -> None:
        pass
