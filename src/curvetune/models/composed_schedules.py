"""The schedules built from others: ``WarmUp`` (a linear ramp into any schedule) and
``Piecewise`` (a replayed record of rates), with the list of every schedule kind: the
``Schedule`` union and the JSON key table, beside ``WarmUp`` because it accepts any of them.

What a schedule is (``lr(step)``, its JSON form) is described in
``curvetune.models.schedules``, which re-exports these classes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._schedule_checks import InvalidSchedule, _check_count, _check_rate
from .decay_schedules import Constant, Cosine, Exponential, StepDecay


@dataclass(frozen=True, slots=True)
class WarmUp:
    """Linear warm-up from ``start`` (step 0) to ``then.lr(0)`` (step ``steps``), then
    ``then.lr(step - steps)``: the wrapped schedule's clock starts when the warm-up ends."""

    steps: int
    then: Schedule
    start: float = 0.0
    _target: float = field(init=False, repr=False, compare=False)  # then.lr(0)

    def __post_init__(self) -> None:
        kind = "WarmUp"
        object.__setattr__(self, "steps", _check_count(kind, "steps", self.steps))
        if not isinstance(self.then, _SCHEDULE_TYPES):
            raise InvalidSchedule(
                kind, f"then must be a schedule ({type_names()}), got then={self.then!r}"
            )
        object.__setattr__(self, "start", _check_rate(kind, "start", self.start))
        object.__setattr__(self, "_target", self.then.lr(0))

    def lr(self, step: int) -> float:
        if step < self.steps:
            return self.start + (self._target - self.start) * step / self.steps
        return self.then.lr(step - self.steps)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "warmup",
            "steps": self.steps,
            "start": self.start,
            "then": self.then.to_json(),
        }


@dataclass(frozen=True, slots=True)
class Piecewise:
    """The rate of the last point ``(step, rate)`` at or before the step: a replayed record.

    The first point is at step 0 and steps strictly increase. A Population Based Training
    export becomes one point per rate change (the iteration it took effect, the rate).
    """

    points: tuple[tuple[int, float], ...]
    _steps: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _rates: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kind = "Piecewise"
        points = self.points
        if isinstance(points, str | bytes | Mapping) or not isinstance(points, Sequence):
            raise InvalidSchedule(
                kind, f"points must be a list of (step, lr) pairs, got {points!r}"
            )
        if not points:
            raise InvalidSchedule(kind, "points must not be empty (give at least (0, lr))")
        clean: list[tuple[int, float]] = []
        for i, point in enumerate(points):
            if isinstance(point, str | bytes | Mapping) or not (
                isinstance(point, Sequence) and len(point) == 2
            ):
                raise InvalidSchedule(kind, f"points[{i}] must be a (step, lr) pair, got {point!r}")
            step = _check_count(kind, f"points[{i}] step", point[0], low=0)
            rate = _check_rate(kind, f"points[{i}] lr", point[1])
            if i == 0 and step != 0:
                raise InvalidSchedule(kind, f"the first point must be at step 0, got step {step}")
            if clean and step <= clean[-1][0]:
                raise InvalidSchedule(
                    kind,
                    f"point steps must be strictly increasing, got step {step} after "
                    f"step {clean[-1][0]} (points[{i}])",
                )
            clean.append((step, rate))
        object.__setattr__(self, "points", tuple(clean))
        object.__setattr__(self, "_steps", tuple(step for step, _ in clean))
        object.__setattr__(self, "_rates", tuple(rate for _, rate in clean))

    def lr(self, step: int) -> float:
        i = bisect_right(self._steps, step)
        return self._rates[i - 1] if i else self._rates[0]

    def to_json(self) -> dict[str, Any]:
        return {"type": "piecewise", "points": [[step, rate] for step, rate in self.points]}


Schedule = Constant | StepDecay | Exponential | Cosine | WarmUp | Piecewise
_SCHEDULE_TYPES = (Constant, StepDecay, Exponential, Cosine, WarmUp, Piecewise)


JSON_KEYS: dict[str, tuple[type, tuple[str, ...], tuple[str, ...]]] = {
    "constant": (Constant, ("rate",), ()),
    "step": (StepDecay, ("rate", "factor", "every"), ()),
    "exponential": (Exponential, ("rate", "gamma"), ()),
    "cosine": (Cosine, ("rate", "total"), ("min_lr",)),
    "warmup": (WarmUp, ("steps", "then"), ("start",)),
    "piecewise": (Piecewise, ("points",), ()),
}
"""Each schedule's JSON ``type``: its class, its required keys and its optional keys."""


def type_names() -> str:
    """Every schedule's JSON ``type``, for error messages: ``constant, cosine, ...``."""
    return ", ".join(sorted(JSON_KEYS))
