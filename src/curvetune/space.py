"""The search space: named parameter domains, their sampling, their grids and their JSON form.

A domain is a frozen value (``Float``, ``Int`` or ``Choice``) validated when it is built. Every
random draw goes through the ``numpy.random.Generator`` the caller passes, so a search is a pure
function of (space, history, rng). Each domain maps one uniform number ``u`` in [0, 1) to a
value (``_from_unit``) and back (``_to_unit``): sampling costs one draw per parameter (a whole
``Space`` draws them in one call) and searchers can perturb values in that unit space.

The JSON form of a parameter is also what the study file uses::

    {"type": "float", "low": 0.001, "high": 0.5, "log": true}
    {"type": "int", "low": 16, "high": 256, "log": true, "points": 4}
    {"type": "choice", "values": [32, 64, 128]}      # or just [32, 64, 128]
"""

from __future__ import annotations

import itertools
import math
import numbers
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

JsonScalar = str | int | float | bool

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_STEP_TOLERANCE = 1e-9  # relative slack when deciding how many steps fit in a range


class InvalidDomain(ValueError):
    """A domain's arguments are invalid. ``detail`` is the message without the domain's name,
    so ``Space.from_json`` can name the parameter instead."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.detail = detail


def _snap(value: float) -> float:
    """Drop the float noise of ``low + k * step`` (0.30000000000000004 -> 0.3)."""
    return float(f"{value:.15g}")


def _is_number(value: object) -> bool:
    kind = type(value)
    if kind is float or kind is int:  # fast path: ABC checks cost ~0.5 us
        return True
    return isinstance(value, numbers.Real) and kind is not bool


def _is_integer(value: object) -> bool:
    kind = type(value)
    if kind is int:
        return True
    return isinstance(value, numbers.Integral) and kind is not bool


def _check_points(kind: str, points: object) -> None:
    if points is not None and not (_is_integer(points) and points >= 2):
        raise InvalidDomain(kind, f"points must be an integer >= 2, got points={points!r}")


def _check_default_points(default_points: int) -> None:
    if not (_is_integer(default_points) and default_points >= 2):
        raise ValueError(f"grid points must be an integer >= 2, got {default_points!r}")


def _dedupe(values: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(values))


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
    # u in [0, 1) -> value: a closure specialised once, as sampling is on the hot path.
    _from_unit: Callable[[float], float] = field(init=False, repr=False, compare=False)

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
        object.__setattr__(self, "_from_unit", self._make_from_unit())

    def _make_from_unit(self) -> Callable[[float], float]:
        low, high, a, width, step, steps = (
            self.low, self.high, self._a, self._width, self.step, self._steps
        )  # fmt: skip
        if step is not None:
            n = steps + 1

            def on_steps(u: float) -> float:
                k = int(u * n)
                value = _snap(low + (k if k < steps else steps) * step)
                return value if value < high else high

            return on_steps
        if self.log:
            exp = math.exp

            def log_uniform(u: float) -> float:
                x = exp(a + width * u)
                return low if x < low else high if x > high else x

            return log_uniform

        def uniform(u: float) -> float:
            x = a + width * u
            return x if x < high else high

        return uniform

    def _to_unit(self, value: float) -> float:
        if self.step is not None:
            k = round((value - self.low) / self.step)
            return (min(max(k, 0), self._steps) + 0.5) / (self._steps + 1)
        x = math.log(value) if self.log and value > 0 else value
        return min(max((x - self._a) / self._width, 0.0), 1.0)

    def sample(self, rng: np.random.Generator) -> float:
        """A random value: uniform (in log space if ``log``), on the step lattice if ``step``."""
        return self._from_unit(rng.random())

    def size(self) -> float:
        """How many distinct values the domain holds (``inf`` when continuous)."""
        return self._steps + 1 if self.step is not None else math.inf

    def grid(self, default_points: int = 3) -> tuple[float, ...]:
        """Grid values: every step if ``step``, else ``points`` values (``default_points`` when
        unset) spread evenly (in log space if ``log``), both ends included."""
        if self.step is not None:
            return tuple(
                min(_snap(self.low + k * self.step), self.high) for k in range(self._steps + 1)
            )
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
        # The specialised sampler is a closure, which pickle cannot carry: rebuild from JSON.
        return (domain_from_json, (self.to_json(),))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        if self.points is not None:
            out["points"] = self.points
        return out


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
    _from_unit: Callable[[float], int] = field(init=False, repr=False, compare=False)

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
        object.__setattr__(self, "_from_unit", self._make_from_unit())

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
            return low + (k if k < last else last) * step

        return uniform

    def _to_unit(self, value: float) -> float:
        if self.log:
            x = math.log(value) if value > 0 else self._a
            return min(max((x - self._a) / self._width, 0.0), 1.0)
        k = round((value - self.low) / (self.step or 1))
        return (min(max(k, 0), self._count - 1) + 0.5) / self._count

    def sample(self, rng: np.random.Generator) -> int:
        """A random integer, low and high included (log-uniform if ``log``)."""
        return self._from_unit(rng.random())

    def size(self) -> int:
        """How many distinct values the domain holds."""
        return self._count

    def grid(self, default_points: int = 3) -> tuple[int, ...]:
        """Grid values: every step if ``step``; every integer if there are no more than
        ``points`` of them; else ``points`` values spread evenly (in log space if ``log``),
        rounded and deduplicated (so a log grid may hold fewer)."""
        if self.step is not None:
            return tuple(range(self.low, self.high + 1, self.step))
        _check_default_points(default_points)
        n = self.points if self.points is not None else default_points
        if self._count <= n:
            return tuple(range(self.low, self.high + 1))
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
        # The specialised sampler is a closure, which pickle cannot carry: rebuild from JSON.
        return (domain_from_json, (self.to_json(),))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "int", "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        if self.points is not None:
            out["points"] = self.points
        return out


# ----------------------------------------------------------------------------- Choice


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a list of JSON scalars (str, int, float, bool), sampled uniformly; its grid is
    every value in the given order."""

    values: tuple[JsonScalar, ...]
    _from_unit: Callable[[float], JsonScalar] = field(init=False, repr=False, compare=False)

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
            return values[k if k < last else last]

        object.__setattr__(self, "_from_unit", uniform)

    def _index(self, value: object) -> int | None:
        for i, candidate in enumerate(self.values):
            if candidate == value and isinstance(candidate, bool) == isinstance(value, bool):
                return i
        return None

    def sample(self, rng: np.random.Generator) -> JsonScalar:
        """A value chosen uniformly."""
        return self._from_unit(rng.random())

    def size(self) -> int:
        return len(self.values)

    def grid(self, default_points: int = 3) -> tuple[JsonScalar, ...]:
        """Every value, in the given order (``default_points`` does not apply)."""
        return self.values

    def contains(self, value: object) -> bool:
        return self._index(value) is not None

    def __reduce__(self) -> tuple[Any, ...]:
        # The specialised sampler is a closure, which pickle cannot carry: rebuild from JSON.
        return (domain_from_json, (self.to_json(),))

    def to_json(self) -> dict[str, Any]:
        return {"type": "choice", "values": list(self.values)}


Domain = Float | Int | Choice

_KEYS: dict[str, tuple[type, frozenset[str]]] = {
    "choice": (Choice, frozenset({"type", "values"})),
    "float": (Float, frozenset({"type", "low", "high", "log", "step", "points"})),
    "int": (Int, frozenset({"type", "low", "high", "log", "step", "points"})),
}


def domain_from_json(spec: object) -> Domain:
    """Build one domain from its JSON form (a bare list means a ``Choice``)."""
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


# ----------------------------------------------------------------------------- Space


class Space(Mapping[str, Domain]):
    """Named parameter domains, in order. Immutable and hashable, so searchers can cache
    per-space work (a grid) keyed by it."""

    __slots__ = ("_domains", "_from_units", "_hash", "_items", "_names")

    def __init__(self, params: Mapping[str, Domain]) -> None:
        if not isinstance(params, Mapping):
            raise ValueError(f"a space is a mapping of parameter names to domains, got {params!r}")
        if not params:
            raise ValueError("a search space needs at least one parameter")
        for name, domain in params.items():
            if not (isinstance(name, str) and _NAME.match(name)):
                raise ValueError(
                    f"space parameter names must start with a letter or '_' and hold only "
                    f"letters, digits, '_', '-' or '.', got {name!r}"
                )
            if not isinstance(domain, Float | Int | Choice):
                raise ValueError(
                    f"space parameter {name!r}: expected Float, Int or Choice, got {domain!r}"
                )
        self._items: tuple[tuple[str, Domain], ...] = tuple(params.items())
        self._names: tuple[str, ...] = tuple(params)
        self._domains: dict[str, Domain] = dict(self._items)
        self._hash = hash(self._items)
        self._from_units = tuple(domain._from_unit for _, domain in self._items)

    # Mapping protocol (order-sensitive equality: the order fixes grid and sample order).
    def __getitem__(self, name: str) -> Domain:
        return self._domains[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Space):
            return NotImplemented
        return self is other or (self._hash == other._hash and self._items == other._items)

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[Any, ...]:
        return (Space, (dict(self._items),))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name!r}: {domain!r}" for name, domain in self._items)
        return f"Space({{{inner}}})"

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One random configuration (one batched draw from ``rng`` for all parameters)."""
        fns = self._from_units
        if len(fns) == 1:
            return {self._names[0]: fns[0](rng.random())}
        units = rng.random(len(fns)).tolist()
        return {name: f(u) for name, f, u in zip(self._names, fns, units, strict=False)}

    def grid(self, default_points: int = 3) -> list[dict[str, Any]]:
        """The full factorial grid; the first parameter varies slowest."""
        axes = [domain.grid(default_points) for _, domain in self._items]
        return [dict(zip(self._names, values, strict=True)) for values in itertools.product(*axes)]

    def grid_size(self, default_points: int = 3) -> int:
        """How many points ``grid(default_points)`` holds, without building it."""
        return math.prod(len(domain.grid(default_points)) for _, domain in self._items)

    def contains(self, config: Mapping[str, Any]) -> bool:
        """Whether ``config`` gives every parameter a value inside its domain."""
        return all(name in config and d.contains(config[name]) for name, d in self._items)

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {name: domain.to_json() for name, domain in self._items}

    @classmethod
    def from_json(cls, data: object) -> Space:
        """Build and validate a space from its JSON (or TOML) form; errors name the parameter."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a space is a table of parameter names to domains, got {data!r}")
        params: dict[str, Domain] = {}
        for name, spec in data.items():
            try:
                params[name] = domain_from_json(spec)
            except InvalidDomain as error:
                raise ValueError(f"space parameter {name!r}: {error.detail}") from None
        return cls(params)
