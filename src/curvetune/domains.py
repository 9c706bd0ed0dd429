"""Parameter domains: ``Float``, ``Int`` and ``Choice``, their sampling, grids and JSON form.

A domain is a frozen value validated when it is built. Every random draw goes through the
``numpy.random.Generator`` the caller passes, so a search is a pure function of
(space, history, rng).

Unit encoding: each domain maps a number ``u`` in [0, 1] onto its values (``from_unit``) and a
value back into [0, 1] (``to_unit``), with ``from_unit(to_unit(v)) == v`` for every value ``v``
of the domain (up to float rounding for a continuous ``Float``). Sampling is ``from_unit`` of
one uniform draw (a whole ``Space`` draws them in one call), and searchers work in this unit
cube: evolution perturbs values there, a model-based searcher fits and proposes there. The
scale is the domain's own: log for ``log=True``, one equal bucket per value for an ``Int`` or
a ``Choice``, so every value gets the same share of [0, 1].

A domain's JSON form (``to_json``) is parsed back by ``domain_from_json``, here; the form is
described in ``curvetune.space``, which re-exports everything here.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from ._domain_checks import (
    _STEP_TOLERANCE,
    InvalidDomain,
    _check_default_points,
    _check_points,
    _dedupe,
    _is_integer,
    _is_number,
    _snap,
)

JsonScalar = str | int | float | bool


def _reduce(domain: Domain) -> tuple[Any, ...]:
    """A domain's ``__reduce__``: its specialised ``from_unit`` is a closure, which pickle
    cannot carry, so it travels as its JSON form and is rebuilt by ``domain_from_json``."""
    return (domain_from_json, (domain.to_json(),))


# ----------------------------------------------------------------------------- Float


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
        return _reduce(self)

    def to_json(self) -> dict[str, Any]:
        return _numeric_json("float", self)


def _numeric_json(kind: str, domain: Float | Int) -> dict[str, Any]:
    """A Float's or Int's JSON form; keys at their defaults are left out."""
    out: dict[str, Any] = {"type": kind, "low": domain.low, "high": domain.high}
    if domain.log:
        out["log"] = True
    if domain.step is not None:
        out["step"] = domain.step
    if domain.points is not None:
        out["points"] = domain.points
    return out


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


# ----------------------------------------------------------------------------- Int


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
        return _reduce(self)

    def to_json(self) -> dict[str, Any]:
        return _numeric_json("int", self)


# ----------------------------------------------------------------------------- Choice


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a list of JSON scalars (str, int, float, bool), sampled uniformly; its grid is
    every value in the given order."""

    values: tuple[JsonScalar, ...]
    from_unit: Callable[[float], JsonScalar] = field(init=False, repr=False, compare=False)
    """``u`` in [0, 1] -> a value: [0, 1] is cut into one equal bucket per value, in the
    given order. A closure specialised when the domain is built, as sampling calls it once
    per draw; ``u`` outside [0, 1] is clamped to the nearer end."""

    def __post_init__(self) -> None:
        kind = "Choice"
        values = self.values
        if isinstance(values, str | bytes) or not isinstance(values, Sequence):
            raise InvalidDomain(kind, f"values must be a list, got values={values!r}")
        if not values:
            raise InvalidDomain(kind, "values must not be empty")
        for value in values:
            if not isinstance(value, str | int | float):  # bool is an int
                raise InvalidDomain(kind, f"values must be str, int, float or bool, got {value!r}")
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidDomain(kind, f"values must be finite, got {value!r}")
        seen: list[JsonScalar] = []
        for value in values:
            if value in seen:  # 1, 1.0 and True are equal in Python, so they clash too
                raise InvalidDomain(kind, f"values must be distinct, {value!r} appears twice")
            seen.append(value)
        values = tuple(values)
        object.__setattr__(self, "values", values)
        n, last = len(values), len(values) - 1

        def uniform(u: float) -> JsonScalar:
            k = int(u * n)
            return values[0 if k < 0 else k if k < last else last]

        object.__setattr__(self, "from_unit", uniform)

    def _index(self, value: object) -> int | None:
        for i, candidate in enumerate(self.values):
            if candidate == value and isinstance(candidate, bool) == isinstance(value, bool):
                return i
        return None

    def to_unit(self, value: JsonScalar) -> float:
        """The centre of ``value``'s bucket in [0, 1] (the inverse of ``from_unit``). The
        buckets follow the order of ``values``, which may mean nothing (strings): a
        model-based searcher may prefer a one-hot encoding, while this one keeps every
        parameter one number. Raises ``ValueError`` for a value that is not one of ``values``
        (``True`` is not ``1`` here)."""
        index = self._index(value)
        if index is None:
            raise ValueError(f"{value!r} is not one of the choices {list(self.values)!r}")
        return (index + 0.5) / len(self.values)

    def sample(self, rng: np.random.Generator) -> JsonScalar:
        """A value chosen uniformly."""
        return self.from_unit(rng.random())

    def size(self) -> int:
        return len(self.values)

    def grid(self, default_points: int = 3) -> tuple[JsonScalar, ...]:
        """Every value, in the given order (``default_points`` does not apply)."""
        return self.values

    def grid_axis(self, default_points: int = 3) -> Sequence[JsonScalar]:
        """The same values as ``grid`` (a Choice's list is small: it was written out)."""
        return self.values

    def contains(self, value: object) -> bool:
        return self._index(value) is not None

    def __reduce__(self) -> tuple[Any, ...]:
        return _reduce(self)

    def to_json(self) -> dict[str, Any]:
        return {"type": "choice", "values": list(self.values)}


Domain = Float | Int | Choice


# ----------------------------------------------------------------------------- JSON

_KEYS: dict[str, tuple[type, frozenset[str]]] = {
    "choice": (Choice, frozenset({"type", "values"})),
    "float": (Float, frozenset({"type", "low", "high", "log", "step", "points"})),
    "int": (Int, frozenset({"type", "low", "high", "log", "step", "points"})),
}


def domain_from_json(spec: object) -> Domain:
    """Build one domain from its JSON form (a bare list means a ``Choice``); the inverse of a
    domain's ``to_json``. Here, beside the domains, because unpickling a domain calls it."""
    if isinstance(spec, list | tuple):
        return Choice(tuple(spec))
    if not isinstance(spec, Mapping):
        raise InvalidDomain(
            "parameter", f"expected a table with a 'type' key or a list of choices, got {spec!r}"
        )
    allowed_types = ", ".join(sorted(_KEYS))
    if "type" not in spec:
        raise InvalidDomain("parameter", f"missing key 'type' (allowed types: {allowed_types})")
    kind = spec["type"]
    if kind not in _KEYS:
        raise InvalidDomain("parameter", f"unknown type {kind!r}; allowed types: {allowed_types}")
    cls, allowed = _KEYS[kind]
    for key in spec:
        if key not in allowed:
            raise InvalidDomain(
                "parameter",
                f"unknown key {key!r} for type {kind!r}; "
                f"allowed keys: {', '.join(sorted(allowed))}",
            )
    required = ("values",) if cls is Choice else ("low", "high")
    for key in required:
        if key not in spec:
            raise InvalidDomain(
                "parameter", f"missing key {key!r} (type {kind!r} needs {' and '.join(required)})"
            )
    if cls is Choice:
        return Choice(spec["values"])
    options = {k: spec[k] for k in ("log", "step", "points") if k in spec}
    return cls(spec["low"], spec["high"], **options)
