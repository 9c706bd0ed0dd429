"""How events and reports are written as JSON in the store, and read back.

The controller writes every fact it learns, so this is on its hot path: the common events
(a decision without explanation, a segment that came back without error) and reports of
plain numbers are formatted directly, which costs a fifth of a general JSON encode; the
rest goes through one shared encoder. Floats are written as ``json`` writes them
(``repr``; ``NaN``, ``Infinity``), so either way the same text comes back as the same
values.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii as _text
from typing import Any

from ..events import (
    EVENT_TYPES,
    CheckpointSaved,
    Decided,
    Event,
    SegmentFinished,
    TrialCreated,
    TrialFinished,
)
from ..types import Report, TrialState


def _plain(value: Any) -> Any:
    """JSON for what decisions carry besides plain types: numpy values, mappings, tuples."""
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__} in the study log")


# One encoder for every event (``json.dumps(default=...)`` builds a new one per call), and
# one decoder read without ``json.loads``'s whitespace handling (we wrote none).
_ENCODER = json.JSONEncoder(default=_plain)
_DECODER = json.JSONDecoder()


def encode_event(event: Event) -> str:
    """The event's fields as JSON, less ``trial`` (a column) and ``reports`` (a table)."""
    kind = type(event)
    if kind is Decided and not event.details and _is_count(event.until):
        until = "null" if event.until is None else str(event.until)
        return (
            f'{{"kind": {_text(event.kind)}, "until": {until}, '
            f'"reason": {_text(event.reason)}, "details": {{}}}}'
        )
    if kind is SegmentFinished and type(event.seconds) is float and math.isfinite(event.seconds):
        return (
            f'{{"start": {int(event.start)}, "until": {int(event.until)}, '
            f'"status": {_text(event.status)}, "error": {_text(event.error)}, '
            f'"seconds": {event.seconds!r}}}'
        )
    if kind is TrialCreated and type(event.seed) is int:
        try:
            config = ", ".join(f"{_text(k)}: {_scalar(v)}" for k, v in event.config.items())
        except TypeError:  # a list, a numpy value: the general encoder
            pass
        else:
            return f'{{"config": {{{config}}}, "seed": {event.seed}}}'
    if kind is TrialFinished:
        return f'{{"state": {_text(event.state.value)}, "reason": {_text(event.reason)}}}'
    if kind is CheckpointSaved and type(event.step) is int:
        return f'{{"step": {event.step}}}'
    data = {name: getattr(event, name) for name in _stored_fields(kind)}
    if "state" in data:
        data["state"] = data["state"].value
    return _ENCODER.encode(data)


def encode_metrics(metrics: Mapping[str, float]) -> str:
    """A report's metrics as a JSON object (plain floats formatted directly)."""
    try:
        return "{" + ", ".join(f"{_text(k)}: {_number(v)}" for k, v in metrics.items()) + "}"
    except TypeError:  # a key or value of another type: the general encoder decides
        return _ENCODER.encode(dict(metrics))


def decode_event(kind: str, trial: int, data: str, reports: tuple[Report, ...]) -> Event:
    """The event stored as ``kind``, ``trial``, ``data`` (and its reports)."""
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    values = _DECODER.raw_decode(data)[0]
    if cls is SegmentFinished:  # most of a log: positional is quicker than keywords
        get = values.get
        return cls(
            trial,
            values["start"],
            values["until"],
            values["status"],
            reports,
            get("error", ""),
            get("seconds", 0.0),
        )
    if cls is TrialFinished:
        values["state"] = TrialState(values["state"])
    return cls(trial, **values)


def decode_json(text: str) -> Any:
    return _DECODER.raw_decode(text)[0]


def _number(value: float) -> str:
    if type(value) is not float:
        raise TypeError("not a float")
    if math.isfinite(value):
        return repr(value)
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def _scalar(value: object) -> str:
    """A plain config value as JSON (TypeError for anything else)."""
    kind = type(value)
    if kind is float:
        return _number(value)  # type: ignore[arg-type]
    if kind is int:
        return str(value)
    if kind is str:
        return _text(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    raise TypeError("not a plain value")


def _is_count(value: object) -> bool:
    return value is None or type(value) is int


@functools.cache
def _stored_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("trial", "reports"))
