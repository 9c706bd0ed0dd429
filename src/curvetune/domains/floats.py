"""The ``Float`` domain: a real number in [low, high], linear or log, optionally on a step
lattice (whose grid, ``_Lattice``, computes each value from its index). Import it from
``curvetune.domains``, which also describes the unit encoding all domains share.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from ._checks import (
    _STEP_TOLERANCE,
    InvalidDomain,
    _check_default_points,
    _check_points,
    _dedupe,
    _is_number,
    _snap,
)
from ._numeric import encodable, numeric_json, numeric_reduce


@dataclass(frozen=True, slots=True)
class Float:
    """A real number in [low, high]; ``log`` samples uniformly in log space (learning rates),
    ``step`` restricts values to ``low + k * step``, ``points`` sets its grid resolution."""

    low: float
    high: float
    log: bool = field(default=False, kw_only=True)
    step: float | None = field(default=None, kw_only=True)
    points: int | None = field(default=None, kw_only=True)
    # Derived once, so that sampling is a few float operations.
    _a: float = field(init=False, repr=False, compare=False)
    _width: float = field(init=False, repr=False, compare=False)
    _steps: int = field(init=False, repr=False, compare=False)  # last k of low + k*step
    from_unit: Callable[[float], float] = field(init=False, repr=False, compare=False)
    """``u`` in [0, 1] -> a value: ``low`` at 0, ``high`` at 1, linear (or in log space if
    ``log``; on the step lattice if ``step``, one equal bucket per step). A closure
    specialised when the domain is built, as sampling calls it once per draw; ``u`` outside
    [0, 1] is clamped to the nearer end."""

    def __post_init__(self) -> None:
        kind = "Float"
        for name in ("low", "high"):
            value = getattr(self, name)
            if not (_is_number(value) and math.isfinite(value)):
                raise InvalidDomain(kind, f"{name} must be a finite number, got {name}={value!r}")
            object.__setattr__(self, name, float(value))
        low, high = self.low, self.high
        if not low < high:
            raise InvalidDomain(kind, f"needs low < high, got low={low!r} high={high!r}")
        if not math.isfinite(high - low):
            raise InvalidDomain(kind, f"high - low must be finite, got low={low!r} high={high!r}")
        if not isinstance(self.log, bool):
            raise InvalidDomain(kind, f"log must be true or false, got log={self.log!r}")
        if self.log and low <= 0:
            raise InvalidDomain(kind, f"log=True needs low > 0, got low={low!r}")
        _check_points(kind, self.points)
        steps = 0
        if self.step is not None:
            step = self.step
            if not (_is_number(step) and math.isfinite(step) and step > 0):
                raise InvalidDomain(kind, f"step must be a number > 0, got step={step!r}")
            if step > high - low:
                raise InvalidDomain(
                    kind, f"step must not exceed high - low = {high - low!r}, got step={step!r}"
                )
            if self.log:
                raise InvalidDomain(kind, "log=True and step cannot be combined")
            if self.points is not None:
                raise InvalidDomain(kind, "step and points cannot be combined (step sets the grid)")
            object.__setattr__(self, "step", float(step))
            steps = math.floor((high - low) / step + _STEP_TOLERANCE)
        a = math.log(low) if self.log else low
        b = math.log(high) if self.log else high
        object.__setattr__(self, "_a", a)
        object.__setattr__(self, "_width", b - a)
        object.__setattr__(self, "_steps", steps)
        object.__setattr__(self, "from_unit", self._make_from_unit())

    def _make_from_unit(self) -> Callable[[float], float]:
        low, high, a, width, step, steps = (
            self.low, self.high, self._a, self._width, self.step, self._steps
        )  # fmt: skip
        if step is not None:
            n = steps + 1

            def on_steps(u: float) -> float:
                k = int(u * n)
                value = _snap(low + (0 if k < 0 else k if k < steps else steps) * step)
                return value if value < high else high

            return on_steps
        if self.log:
            exp = math.exp

            def log_uniform(u: float) -> float:
                if u <= 0.0:
                    return low
                if u >= 1.0:
                    return high  # exactly: exp(log(high)) need not be
                x = exp(a + width * u)
                return low if x < low else high if x > high else x

            return log_uniform

        def uniform(u: float) -> float:
            if u <= 0.0:
                return low
            if u >= 1.0:
                return high  # exactly: low + (high - low) need not be
            x = a + width * u
            return x if x < high else high

        return uniform

    def to_unit(self, value: float) -> float:
        """Where ``value`` sits in [0, 1], the inverse of ``from_unit``: its fraction of the
        range (in log space if ``log``), or the centre of its bucket if ``step``. A value
        outside [low, high] is clamped to the nearer end."""
        value = encodable(self, value)
        if self.step is not None:
            k = round((value - self.low) / self.step)
            return (min(max(k, 0), self._steps) + 0.5) / (self._steps + 1)
        if self.log and value <= 0:
            return 0.0  # below low > 0, and log would fail
        x = math.log(value) if self.log else value
        return min(max((x - self._a) / self._width, 0.0), 1.0)

    def sample(self, rng: np.random.Generator) -> float:
        """A random value: uniform (in log space if ``log``), on the step lattice if ``step``."""
        return self.from_unit(rng.random())

    def size(self) -> float:
        """How many distinct values the domain holds (``inf`` when continuous)."""
        return self._steps + 1 if self.step is not None else math.inf

    def grid(self, default_points: int = 3) -> tuple[float, ...]:
        """Grid values: every step if ``step``, else ``points`` values (``default_points`` when
        unset) spread evenly (in log space if ``log``), both ends included."""
        return tuple(self.grid_axis(default_points))

    def grid_axis(self, default_points: int = 3) -> Sequence[float]:
        """``grid``'s values as a sequence; a step lattice computes each value from its index,
        so a fine one (``step=1e-9``) is neither built to be counted nor to be indexed."""
        if self.step is not None:
            return _Lattice(self.low, self.step, self._steps + 1, self.high)
        _check_default_points(default_points)
        n = self.points if self.points is not None else default_points
        inner = (self._a + self._width * i / (n - 1) for i in range(1, n - 1))
        if self.log:
            inner = (math.exp(x) for x in inner)
        return _dedupe([self.low, *(_snap(x) for x in inner), self.high])

    def contains(self, value: object) -> bool:
        """Whether ``value`` is a number in [low, high] (and on the step lattice if ``step``)."""
        if not (_is_number(value) and self.low <= value <= self.high):
            return False
        if self.step is None:
            return True
        k = (value - self.low) / self.step
        return abs(k - round(k)) <= _STEP_TOLERANCE * max(1.0, abs(k))

    def __reduce__(self) -> tuple[Any, ...]:
        return numeric_reduce(self)

    def to_json(self) -> dict[str, Any]:
        return numeric_json("float", self)


class _Lattice(Sequence[float]):
    """A Float's step grid, ``min(snap(low + k * step), high)`` for k in [0, count): each value
    is computed from its index, the same way ``Float.grid`` lists them."""

    __slots__ = ("_count", "_high", "_low", "_step")

    def __init__(self, low: float, step: float, count: int, high: float) -> None:
        self._low, self._step, self._count, self._high = low, step, count, high

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, index: int) -> float: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[float, ...]: ...
    def __getitem__(self, index: int | slice) -> float | tuple[float, ...]:
        if isinstance(index, slice):
            return tuple(self[k] for k in range(self._count)[index])
        k = operator.index(index)
        k = k + self._count if k < 0 else k
        if not 0 <= k < self._count:
            raise IndexError(f"lattice index {index} out of range for {self._count} values")
        return min(_snap(self._low + k * self._step), self._high)

    def __repr__(self) -> str:
        return f"_Lattice(low={self._low!r}, step={self._step!r}, count={self._count})"
