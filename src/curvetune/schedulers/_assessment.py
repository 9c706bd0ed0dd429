"""LCM's verdict on a trial at a check, and the explained ``Stop`` it becomes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..types import Stop


@dataclass(frozen=True)
class Assessment:
    """LCM's view of a trial at a check: its (predicted) final value, the share of completed
    trainings that are better (``rank``), and the matched neighbours behind the prediction:
    a trial id of this study, or ``{"study": directory, "trial": id}`` for a prior curve."""

    step: int
    value: float
    rank: float
    finished: int
    predict: str
    neighbours: list[int | dict[str, Any]]
    distances: list[float]
    optimistic: float | None = None  # the conformal bound the rank was taken of, if any
    current_rank: float | None = None  # with ``confirm``: the current value's rank at ``step``

    def stop(self, metric: str, threshold: float, rule: str = "lcm") -> Stop:
        what = "value" if self.predict == "current" else "predicted final"
        bound = "" if self.optimistic is None else f" (at best {self.optimistic:.4g})"
        reason = (
            f"{what} {metric} {self.value:.4g}{bound} at step {self.step} is worse than "
            f"{self.rank:.0%} of {self.finished} completed trainings (threshold {threshold:.0%})"
        )
        priors: dict[str, list[str]] = {}  # the earlier studies' trials the prediction leans on
        for n in self.neighbours:
            if isinstance(n, dict):
                priors.setdefault(n["study"], []).append(f"#{n['trial']}")
        if priors:
            named = "; ".join(f"prior {study} {', '.join(ids)}" for study, ids in priors.items())
            reason += f"; matched {named}"
        details: dict[str, Any] = {
            "rule": rule,
            "step": self.step,
            "prediction": self.value,
            "predict": self.predict,
            "rank": self.rank,
            "threshold": threshold,
            "finished": self.finished,
            "neighbours": self.neighbours,
            "distances": self.distances,
        }
        if self.optimistic is not None:
            details["optimistic"] = self.optimistic
        return Stop(reason, details)
