"""Schedulers decide how long each trial lives.

A scheduler is one method, ``decide(trial, history, rng) -> Decision``, called when a trial
is created and after each of its segments. It reads the ``History`` and returns a
``Continue``, ``Stop``, ``Complete`` or ``Exploit``; the controller applies it.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..types import Decision, History, Trial
from .asha import ASHAScheduler
from .fifo import FIFOScheduler
from .lcm import PRESETS as LCM_PRESETS
from .lcm import LCMScheduler
from .matched_halving import MatchedHalving
from .median import MedianStoppingRule
from .pbt import PBTScheduler
from .topk import TopKScheduler


@runtime_checkable
class Scheduler(Protocol):
    def decide(self, trial: Trial, history: History, rng: np.random.Generator) -> Decision: ...


@runtime_checkable
class ChecksStudy(Protocol):
    """A scheduler with rules for the study as a whole, checked before its first trial
    (PBT needs a budget of at least its population; LCM reads its prior study then).
    ``trials`` is None for an ask/tell study, whose budget is the user's loop."""

    def check_study(
        self, *, trials: int | None, max_steps: int, metric: str | None, mode: str | None
    ) -> None: ...


# Names a study file or the benchmark may use: a class, or a preset (class, defaults).
SCHEDULERS: dict[str, type | tuple[type, dict[str, Any]]] = {
    "fifo": FIFOScheduler,
    "median": MedianStoppingRule,
    "median10": (MedianStoppingRule, {"first_check": 0.1}),
    "asha": ASHAScheduler,
    "asha10": (ASHAScheduler, {"min_resource": 0.1}),
    "topk": TopKScheduler,
    "topk10": (TopKScheduler, {"first_check": 0.1}),
    **LCM_PRESETS,  # lcm, lcm-k1, lcm-last, lcm-interval, lcm-safe
    "matched-halving": MatchedHalving,  # ASHA rungs with a matching veto
    "pbt": PBTScheduler,  # population based training (exploit and explore)
}


def make_scheduler(name: str, **options: Any) -> Scheduler:
    """Build a scheduler by name with keyword options; errors say what is allowed."""
    from .._options import construct

    return construct("scheduler", SCHEDULERS, name, options)


__all__ = [
    "SCHEDULERS",
    "ASHAScheduler",
    "ChecksStudy",
    "FIFOScheduler",
    "LCMScheduler",
    "MatchedHalving",
    "MedianStoppingRule",
    "PBTScheduler",
    "Scheduler",
    "TopKScheduler",
    "make_scheduler",
]
