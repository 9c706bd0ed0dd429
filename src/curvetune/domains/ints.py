"""The ``Int`` domain: an integer in [low, high], both included, linear or log, optionally
on a step lattice; each value owns an equal bucket of [0, 1]. Import it from
``curvetune.domains`` (the unit encoding and the JSON form are described there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._checks import (
    InvalidDomain,
    _check_default_points,
    _check_points,
    _dedupe,
    _is_integer,
)
from ._numeric import encodable, numeric_json, numeric_reduce


@dataclass(frozen=True, slots=True)
class Int:
    """An integer in [low, high], both included; ``log`` samples log-uniformly (layer widths),
    ``step`` restricts values to ``low + k * step``, ``points`` sets its grid resolution."""

    low: int
    high: int
    log: bool = field(default=False, kw_only=True)
    step: int | None = field(default=None, kw_only=True)
    points: int | None = field(default=None, kw_only=True)
    _a: float = field(init=False, repr=False, compare=False)
    _width: float = field(init=False, repr=False, compare=False)
    _count: int = field(init=False, repr=False, compare=False)  # number of values
    from_unit: Callable[[float], int] = field(init=False, repr=False, compare=False)
    """``u`` in [0, 1] -> an integer: [0, 1] is cut into one equal bucket per value (in log
    space if ``log``, where a bucket is ``[log(v - 0.5), log(v + 0.5)]``), so ``low`` is at 0
    and ``high`` at 1. A closure specialised when the domain is built, as sampling calls it
    once per draw; ``u`` outside [0, 1] is clamped to the nearer end."""

    def __post_init__(self) -> None:
        kind = "Int"
        for name in ("low", "high"):
            value = getattr(self, name)
            if not _is_integer(value):
                raise InvalidDomain(kind, f"{name} must be an integer, got {name}={value!r}")
            object.__setattr__(self, name, int(value))
        low, high = self.low, self.high
        if not low <= high:
            raise InvalidDomain(kind, f"needs low <= high, got low={low!r} high={high!r}")
        if not isinstance(self.log, bool):
            raise InvalidDomain(kind, f"log must be true or false, got log={self.log!r}")
        if self.log and low <= 0:
            raise InvalidDomain(kind, f"log=True needs low > 0, got low={low!r}")
        _check_points(kind, self.points)
        count = high - low + 1
        if self.step is not None:
            step = self.step
            if not (_is_integer(step) and step > 0):
                raise InvalidDomain(kind, f"step must be an integer > 0, got step={step!r}")
            if step > max(high - low, 1):
                raise InvalidDomain(
                    kind, f"step must not exceed high - low = {high - low}, got step={step!r}"
                )
            if self.log:
                raise InvalidDomain(kind, "log=True and step cannot be combined")
            if self.points is not None:
                raise InvalidDomain(kind, "step and points cannot be combined (step sets the grid)")
            object.__setattr__(self, "step", int(step))
            count = (high - low) // step + 1
        # log: round(exp(U(log(low - 0.5), log(high + 0.5)))) gives every integer its share.
        a = math.log(low - 0.5) if self.log else low
        b = math.log(high + 0.5) if self.log else high + 1
        object.__setattr__(self, "_a", a)
        object.__setattr__(self, "_width", b - a)
        object.__setattr__(self, "_count", count)
        object.__setattr__(self, "from_unit", self._make_from_unit())

    def _make_from_unit(self) -> Callable[[float], int]:
        low, high, a, width, count = self.low, self.high, self._a, self._width, self._count
        if self.log:
            exp = math.exp

            def log_uniform(u: float) -> int:
                value = round(exp(a + width * u))
                return low if value < low else high if value > high else value

            return log_uniform
        step, last = self.step or 1, count - 1

        def uniform(u: float) -> int:
            k = int(u * count)
            return low + (0 if k < 0 else k if k < last else last) * step

        return uniform

    def to_unit(self, value: float) -> float:
        """Where ``value`` sits in [0, 1], the inverse of ``from_unit``: the centre of its
        bucket, or its log's fraction of the log range if ``log``. A value outside
        [low, high] is clamped to the nearer end."""
        value = encodable(self, value)
        if self.log:
            x = math.log(value) if value > 0 else self._a
            return min(max((x - self._a) / self._width, 0.0), 1.0)
        k = round((value - self.low) / (self.step or 1))
        return (min(max(k, 0), self._count - 1) + 0.5) / self._count

    def sample(self, rng: np.random.Generator) -> int:
        """A random integer, low and high included (log-uniform if ``log``)."""
        return self.from_unit(rng.random())

    def size(self) -> int:
        """How many distinct values the domain holds."""
        return self._count

    def grid(self, default_points: int = 3) -> tuple[int, ...]:
        """Grid values: every step if ``step``; every integer if there are no more than
        ``points`` of them; else ``points`` values spread evenly (in log space if ``log``),
        rounded and deduplicated (so a log grid may hold fewer)."""
        return tuple(self.grid_axis(default_points))

    def grid_axis(self, default_points: int = 3) -> Sequence[int]:
        """``grid``'s values as a sequence; every step or every integer is a ``range``, so a
        wide one (``Int(0, 10**12, step=1)``) is neither built to be counted nor to be indexed."""
        if self.step is not None:
            return range(self.low, self.high + 1, self.step)
        _check_default_points(default_points)
        n = self.points if self.points is not None else default_points
        if self._count <= n:
            return range(self.low, self.high + 1)
        if self.log:
            a, b = math.log(self.low), math.log(self.high)
            spread = (math.exp(a + (b - a) * i / (n - 1)) for i in range(n))
        else:
            spread = (self.low + (self.high - self.low) * i / (n - 1) for i in range(n))
        values = [min(max(round(x), self.low), self.high) for x in spread]
        values[0], values[-1] = self.low, self.high
        return _dedupe(values)

    def contains(self, value: object) -> bool:
        """Whether ``value`` is an integer in [low, high] (and on the step lattice if ``step``)."""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not (_is_integer(value) and self.low <= value <= self.high):
            return False
        return (value - self.low) % (self.step or 1) == 0

    def __reduce__(self) -> tuple[Any, ...]:
        return numeric_reduce(self)

    def to_json(self) -> dict[str, Any]:
        return numeric_json("int", self)
