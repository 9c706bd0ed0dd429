"""Learning-rate schedules: small frozen values that a study can search, store and replay.

A schedule maps a global, 0-based iteration ``step`` to a learning rate (``lr(step)``). The
trainable asks for it every iteration, so each ``lr`` is a few float operations of plain
Python (no numpy, no torch). Schedules are validated when they are built, compare by value and
have a JSON form (``to_json``, parsed back by ``schedule_from_json``) that round-trips
exactly, so a schedule can sit in a study's config and an exported Population Based Training
run can be replayed as a ``Piecewise`` schedule::

    {"type": "constant", "rate": 0.1}
    {"type": "step", "rate": 0.1, "factor": 0.95, "every": 100}
    {"type": "exponential", "rate": 0.1, "gamma": 0.999}
    {"type": "cosine", "rate": 0.1, "total": 1000, "min_lr": 0.0}
    {"type": "warmup", "steps": 50, "start": 0.0, "then": {"type": "constant", "rate": 0.1}}
    {"type": "piecewise", "points": [[0, 0.1], [200, 0.05]]}

The base rate is the field ``rate``, not ``lr``: ``lr`` is the method every schedule has.

``curvetune.models.schedule_config.schedule_from_config`` builds one from flat study-config
keys (``lr``, ``schedule``, ``decay``, ``gamma``, ...), so a search space can hold the choice
of schedule and its parameters as ordinary parameters; ``apply`` sets an optimizer's rate.
torch is never imported here (nor by ``curvetune.models``, whose MNIST trainable loads
lazily), so a study can build and check schedules without it.
"""

from __future__ import annotations

import math
import numbers
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = [
    "SCHEDULES",
    "Constant",
    "Cosine",
    "Exponential",
    "InvalidSchedule",
    "Piecewise",
    "Schedule",
    "StepDecay",
    "WarmUp",
    "apply",
    "schedule_from_json",
]

SCHEDULES = ("constant", "step", "exponential", "cosine", "piecewise")
"""The values config key ``schedule`` accepts (see ``schedule_from_config``)."""

STEP_DECAY_DEFAULT = 0.95  # "5 % every 100 iterations"
STEP_EVERY_DEFAULT = 100
EXPONENTIAL_GAMMA_DEFAULT = 0.999


class InvalidSchedule(ValueError):
    """A schedule's arguments are invalid; the message is one line naming the class and field.

    ``field``, ``requirement`` and ``value`` are kept (when the error concerns one field) so
    ``schedule_from_config`` can name the config key instead of the class field.
    """

    def __init__(
        self,
        kind: str,
        detail: str,
        *,
        field: str | None = None,
        requirement: str | None = None,
        value: object = None,
    ) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.field = field
        self.requirement = requirement
        self.value = value


# ----------------------------------------------------------------------------- value checks

_RATE = "a finite number >= 0 (a learning rate)"
_DECAY = "a number in (0, 1] (a decay: 1 keeps the rate, values > 1 would grow it)"


def _field_error(kind: str, name: str, requirement: str, value: object) -> InvalidSchedule:
    return InvalidSchedule(
        kind,
        f"{name} must be {requirement}, got {name}={value!r}",
        field=name,
        requirement=requirement,
        value=value,
    )


def _real(value: object) -> float | None:
    """``value`` as a finite float if it is a real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _whole(value: object) -> int | None:
    """``value`` as an int if it is an integer or an integral float (not a bool), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    number = _real(value)
    return int(number) if number is not None and number.is_integer() else None


def _check_rate(kind: str, name: str, value: object) -> float:
    number = _real(value)
    if number is None or number < 0:
        raise _field_error(kind, name, _RATE, value)
    return number


def _check_decay(kind: str, name: str, value: object) -> float:
    number = _real(value)
    if number is None or not 0 < number <= 1:
        raise _field_error(kind, name, _DECAY, value)
    return number


def _check_count(kind: str, name: str, value: object, low: int = 1) -> int:
    number = _whole(value)
    if number is None or number < low:
        raise _field_error(kind, name, f"a whole number >= {low}", value)
    return number


# ----------------------------------------------------------------------------- schedules


@dataclass(frozen=True, slots=True)
class Constant:
    """The same rate at every step."""

    rate: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", _check_rate("Constant", "rate", self.rate))

    def lr(self, step: int) -> float:
        return self.rate

    def to_json(self) -> dict[str, Any]:
        return {"type": "constant", "rate": self.rate}


@dataclass(frozen=True, slots=True)
class StepDecay:
    """``rate * factor ** (step // every)``: the rate drops by ``factor`` every ``every`` steps
    (``StepDecay(lr, factor=0.95, every=100)`` is "5 % every 100 iterations")."""

    rate: float
    factor: float
    every: int

    def __post_init__(self) -> None:
        kind = "StepDecay"
        object.__setattr__(self, "rate", _check_rate(kind, "rate", self.rate))
        object.__setattr__(self, "factor", _check_decay(kind, "factor", self.factor))
        object.__setattr__(self, "every", _check_count(kind, "every", self.every))

    def lr(self, step: int) -> float:
        return self.rate * self.factor ** (step // self.every)

    def to_json(self) -> dict[str, Any]:
        return {"type": "step", "rate": self.rate, "factor": self.factor, "every": self.every}


@dataclass(frozen=True, slots=True)
class Exponential:
    """``rate * gamma ** step``: a decay by ``gamma`` at every step."""

    rate: float
    gamma: float

    def __post_init__(self) -> None:
        kind = "Exponential"
        object.__setattr__(self, "rate", _check_rate(kind, "rate", self.rate))
        object.__setattr__(self, "gamma", _check_decay(kind, "gamma", self.gamma))

    def lr(self, step: int) -> float:
        return self.rate * self.gamma**step

    def to_json(self) -> dict[str, Any]:
        return {"type": "exponential", "rate": self.rate, "gamma": self.gamma}


@dataclass(frozen=True, slots=True)
class Cosine:
    """Cosine annealing from ``rate`` (step 0) to ``min_lr`` (step ``total``), ``min_lr`` after.

    Both ends are exact: ``lr(0) == rate`` and ``lr(total) == min_lr``.
    """

    rate: float
    total: int
    min_lr: float = 0.0
    _scale: float = field(init=False, repr=False, compare=False)  # pi / total

    def __post_init__(self) -> None:
        kind = "Cosine"
        object.__setattr__(self, "rate", _check_rate(kind, "rate", self.rate))
        object.__setattr__(self, "total", _check_count(kind, "total", self.total))
        object.__setattr__(self, "min_lr", _check_rate(kind, "min_lr", self.min_lr))
        if self.min_lr > self.rate:
            raise InvalidSchedule(
                kind,
                f"min_lr must not exceed rate (it anneals down to min_lr), "
                f"got rate={self.rate!r} min_lr={self.min_lr!r}",
            )
        object.__setattr__(self, "_scale", math.pi / self.total)

    def lr(self, step: int) -> float:
        if step >= self.total:
            return self.min_lr
        # rate - span * (1 - cos) / 2 rather than min_lr + span * (1 + cos) / 2: exact at 0.
        value = self.rate - (self.rate - self.min_lr) * 0.5 * (1.0 - math.cos(self._scale * step))
        return value if value > self.min_lr else self.min_lr

    def to_json(self) -> dict[str, Any]:
        return {"type": "cosine", "rate": self.rate, "total": self.total, "min_lr": self.min_lr}


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
                kind, f"then must be a schedule ({_type_names()}), got then={self.then!r}"
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


# ----------------------------------------------------------------------------- JSON

# type -> (class, required keys, optional keys)
_JSON: dict[str, tuple[type, tuple[str, ...], tuple[str, ...]]] = {
    "constant": (Constant, ("rate",), ()),
    "step": (StepDecay, ("rate", "factor", "every"), ()),
    "exponential": (Exponential, ("rate", "gamma"), ()),
    "cosine": (Cosine, ("rate", "total"), ("min_lr",)),
    "warmup": (WarmUp, ("steps", "then"), ("start",)),
    "piecewise": (Piecewise, ("points",), ()),
}


def _type_names() -> str:
    return ", ".join(sorted(_JSON))


def schedule_from_json(data: object) -> Schedule:
    """Build a schedule from its JSON form (``to_json``); the round trip is exact."""
    kind = "schedule"
    if not isinstance(data, Mapping):
        raise InvalidSchedule(kind, f"expected a table with a 'type' key, got {data!r}")
    if "type" not in data:
        raise InvalidSchedule(kind, f"missing key 'type' (allowed types: {_type_names()})")
    name = data["type"]
    if not isinstance(name, str) or name not in _JSON:
        raise InvalidSchedule(kind, f"unknown type {name!r}; allowed types: {_type_names()}")
    cls, required, optional = _JSON[name]
    allowed = ("type", *required, *optional)
    for key in data:
        if key not in allowed:
            raise InvalidSchedule(
                kind,
                f"unknown key {key!r} for type {name!r}; allowed keys: {', '.join(allowed)}",
            )
    for key in required:
        if key not in data:
            raise InvalidSchedule(
                kind, f"missing key {key!r} (type {name!r} needs {', '.join(required)})"
            )
    arguments = {key: data[key] for key in allowed[1:] if key in data}
    if cls is WarmUp:
        arguments["then"] = schedule_from_json(arguments["then"])
    return cls(**arguments)


# ----------------------------------------------------------------------------- optimizers


def apply(optimizer: torch.optim.Optimizer, schedule: Schedule, step: int) -> float:
    """Set every param group's rate to ``schedule.lr(step)`` and return it.

    A group is written only when its rate differs, so calling this every iteration costs a
    comparison per group while the rate holds.
    """
    lr = schedule.lr(step)
    for group in optimizer.param_groups:
        if group["lr"] != lr:
            group["lr"] = lr
    return lr
