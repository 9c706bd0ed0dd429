"""What ``Float`` and ``Int`` share beyond their value checks: their JSON form, how they
pickle, and which values they can encode. Both are ``low``/``high`` ranges with the same
options (``log``, ``step``, ``points``), so one function writes each form for both.
"""

from __future__ import annotations

import math
import numbers
from functools import partial
from typing import Any, Protocol


class NumericDomain(Protocol):
    """The fields a ``Float`` or an ``Int`` has (read-only, as both are frozen)."""

    @property
    def low(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def log(self) -> bool: ...
    @property
    def step(self) -> float | None: ...
    @property
    def points(self) -> int | None: ...


def numeric_json(kind: str, domain: NumericDomain) -> dict[str, Any]:
    """A Float's or Int's JSON form; keys at their defaults are left out."""
    out: dict[str, Any] = {"type": kind, "low": domain.low, "high": domain.high}
    if domain.log:
        out["log"] = True
    if domain.step is not None:
        out["step"] = domain.step
    if domain.points is not None:
        out["points"] = domain.points
    return out


def numeric_reduce(domain: NumericDomain) -> tuple[Any, ...]:
    """A Float's or Int's ``__reduce__``: its specialised ``from_unit`` is a closure, which
    pickle cannot carry, so the domain travels as its constructor's arguments and is built
    (and checked) again."""
    options = {"log": domain.log, "step": domain.step, "points": domain.points}
    return (partial(type(domain), **options), (domain.low, domain.high))


def encodable(domain: object, value: Any) -> float:
    """``value`` as a float ``to_unit`` can place, or one clear ValueError (a bool, a
    string, NaN are no point of a numeric range)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"{value!r} is not a number, so not a point of {domain!r}")
    return float(value)
