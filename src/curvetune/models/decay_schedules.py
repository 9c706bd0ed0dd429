"""The schedules that are one formula of the step: ``Constant``, ``StepDecay``,
``Exponential`` and ``Cosine``, each a base ``rate`` and how it decays.

What a schedule is (``lr(step)``, its JSON form) is described in
``curvetune.models.schedules``, which re-exports these classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ._schedule_checks import InvalidSchedule, _check_count, _check_decay, _check_rate


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
