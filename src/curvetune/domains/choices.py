"""The ``Choice`` domain, one of a written-out list of JSON scalars (``JsonScalar``), each
owning an equal bucket of [0, 1] in the given order. ``curvetune.domains`` re-exports both
names and describes what every domain offers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._checks import InvalidDomain

JsonScalar = str | int | float | bool


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

    def index(self, value: object) -> int | None:
        """Where ``value`` stands in ``values`` (``True`` is not ``1``), or None."""
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
        index = self.index(value)
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
        return self.index(value) is not None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its constructor call: ``from_unit`` is a closure, which pickle cannot
        carry, so the choice is built again from its values."""
        return (Choice, (self.values,))

    def to_json(self) -> dict[str, Any]:
        return {"type": "choice", "values": list(self.values)}
