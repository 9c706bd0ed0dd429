"""The search space: named parameter domains, their sampling, their grids and their JSON form.

The domains themselves (``Float``, ``Int``, ``Choice``) and the parsing of one domain's JSON
form (``domain_from_json``) live in ``curvetune.domains`` and are re-exported here with
``InvalidDomain``; this module holds ``Space``.

The JSON form of a parameter is also what the study file uses::

    {"type": "float", "low": 0.001, "high": 0.5, "log": true}
    {"type": "int", "low": 16, "high": 256, "log": true, "points": 4}
    {"type": "choice", "values": [32, 64, 128]}      # or just [32, 64, 128]
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from .domains import Choice, Domain, Float, Int, InvalidDomain, JsonScalar, domain_from_json

__all__ = [
    "Choice",
    "Domain",
    "Float",
    "Int",
    "InvalidDomain",
    "JsonScalar",
    "Space",
    "domain_from_json",
]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


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
        self._from_units = tuple(domain.from_unit for _, domain in self._items)

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

    def to_unit(self, config: Mapping[str, Any]) -> np.ndarray:
        """``config`` as a point of the unit cube: one float in [0, 1] per parameter, in
        ``names`` order (each domain's ``to_unit``, so log scales and buckets are honoured).

        This is the encoding searchers work in: a model-based searcher fits its model to
        evaluated configs as vectors and proposes new vectors, and evolution perturbs a
        parent's values there. Keys the space does not name are ignored; a missing parameter
        raises ``ValueError``, and so does a value a ``Choice`` does not hold."""
        missing = [name for name in self._names if name not in config]
        if missing:
            raise ValueError(
                f"config {dict(config)!r} lacks space parameter(s) {', '.join(map(repr, missing))}"
            )
        return np.array([d.to_unit(config[name]) for name, d in self._items], dtype=float)

    def from_unit(self, vector: Sequence[float] | np.ndarray) -> dict[str, Any]:
        """The configuration at a point of the unit cube, the inverse of ``to_unit``: entry i
        is decoded by parameter ``names[i]``'s domain (values outside [0, 1] are clamped to
        the nearer end). Raises ``ValueError`` unless ``vector`` holds exactly one finite
        number per parameter."""
        units = np.asarray(vector, dtype=float)
        if units.shape != (len(self._names),):
            raise ValueError(
                f"a unit vector for this space holds {len(self._names)} numbers, one per "
                f"parameter ({', '.join(self._names)}); got shape {units.shape}"
            )
        if not np.isfinite(units).all():
            raise ValueError(f"a unit vector must hold finite numbers, got {units.tolist()!r}")
        fns = self._from_units
        return {name: f(u) for name, f, u in zip(self._names, fns, units.tolist(), strict=True)}

    def grid(self, default_points: int = 3) -> list[dict[str, Any]]:
        """The full factorial grid, built as a list; the first parameter varies slowest. Its
        size is the product of the axes' sizes: a searcher indexes ``grid_axes`` instead."""
        axes = self.grid_axes(default_points)
        return [dict(zip(self._names, values, strict=True)) for values in itertools.product(*axes)]

    def grid_axes(self, default_points: int = 3) -> tuple[Sequence[Any], ...]:
        """Each parameter's grid values, in space order, as sequences that need not hold their
        values (a step lattice is computed per index): a grid point is one index per axis."""
        return tuple(domain.grid_axis(default_points) for _, domain in self._items)

    def grid_size(self, default_points: int = 3) -> int:
        """How many points ``grid(default_points)`` holds, without building it or an axis."""
        return math.prod(len(axis) for axis in self.grid_axes(default_points))

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
