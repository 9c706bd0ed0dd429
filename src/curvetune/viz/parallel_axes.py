"""The axes of a parallel-coordinates plot: every trial's parameters scaled to their
domain (log10 for log domains, choices by index) and its final value, each with the ticks
that label it. Computed from the history, drawing nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..space import Choice, Space
from ..types import History, TrialState, is_finite


@dataclass(frozen=True)
class Axis:
    """One vertical axis of a parallel-coordinates plot: every trial's position in [0, 1]
    (None: no value) and the ticks that label it."""

    name: str
    positions: list[float | None]
    ticks: list[tuple[float, str]]


def parameter_axes(history: History, space: Space) -> list[Axis]:
    """An axis per parameter: numbers scaled to the domain's bounds (log10 for log domains,
    widened to any value outside them), choices by their index in the domain."""
    trials = list(history.trials.values())
    axes = []
    for name in space.names:
        domain = space[name]
        values = [t.config.get(name) for t in trials]
        if isinstance(domain, Choice):
            axes.append(_choice_axis(name, list(domain.values), values))
        else:
            axes.append(_number_axis(name, domain.low, domain.high, domain.log, values))
    return axes


def completed_values(history: History) -> list[float | None]:
    """Per trial, its final value if it completed (None otherwise: a stopped trial's last
    value is an early one, and would look worse than the configuration is)."""
    return [
        history.score(t) if t.state is TrialState.COMPLETED else None
        for t in history.trials.values()
    ]


def result_axis(history: History) -> Axis:
    """The completed trials' final value of the study metric, scaled worst to best."""
    values = completed_values(history)
    return _number_axis(f"final {history.metric}", None, None, False, values)


def _choice_axis(name: str, levels: list, values: list) -> Axis:
    """Choices evenly spaced by index; every level labelled (every k-th when many)."""
    last = max(len(levels) - 1, 1)
    positions = [levels.index(v) / last if v in levels else None for v in values]
    every = max(1, len(levels) // 10)
    ticks = [(i / last, str(v)) for i, v in enumerate(levels) if i % every == 0]
    return Axis(name, positions, ticks)


def _number_axis(name: str, low, high, log: bool, values: list) -> Axis:
    """Numbers scaled to [low, high] (log10 when ``log``), bounds widened to the data."""
    numbers = [
        float(v) if is_finite(v) and not isinstance(v, bool) and (v > 0 or not log) else None
        for v in values
    ]
    scaled = [None if v is None else (math.log10(v) if log else v) for v in numbers]
    seen = [v for v in scaled if v is not None]
    bounds = [math.log10(b) if log else float(b) for b in (low, high) if b is not None]
    if not seen and not bounds:
        return Axis(name, scaled, [])
    lo, hi = min(seen + bounds), max(seen + bounds)
    width = hi - lo
    positions = [None if v is None else (v - lo) / width if width else 0.5 for v in scaled]
    ends = [lo, (lo + hi) / 2, hi] if width else [lo]
    ticks = [((v - lo) / width if width else 0.5, f"{10**v if log else v:.3g}") for v in ends]
    return Axis(name, positions, ticks)
