"""Validation helpers shared by the parameter domains in ``curvetune.domains``.

``InvalidDomain`` is the error a domain raises for bad arguments (re-exported by
``curvetune.domains`` and ``curvetune.space``); the rest are small value checks and the float
clean-up used when building grids.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

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
