"""Matched halving: ASHA's rungs, with Learning Curve Matching as a veto on its stops.

Successive halving judges a trial by where it stands *now* among everyone at the same rung;
a slow starter that would end well is stopped with the rest. Matching looks at the shape
of the trial's curve instead: when ASHA would stop a trial but the complete curves closest
to it predict a final value among the best ``veto`` share of completed trainings, the trial
goes on to the next rung. Until ``min_complete`` trainings have completed there is nothing
to match, and ASHA alone decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..types import Continue, Decision, History, Stop, Trial
from . import _steps
from ._steps import StepSpec
from .asha import ASHAScheduler
from .lcm import LCMScheduler


@dataclass(frozen=True)
class MatchedHalving:
    min_resource: StepSpec = 0.1
    reduction_factor: int = 3
    veto: float = 0.4  # rescue a trial whose matched final ranks in this best share
    k: int = 5
    min_complete: int = 10
    predict: str = "trend"  # how matching predicts the final value (see LCMScheduler)
    _asha: ASHAScheduler = field(init=False, repr=False, compare=False)
    _lcm: LCMScheduler = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 < self.veto < 1:
            raise ValueError(f"matched halving: veto must be in (0, 1), got {self.veto!r}")
        asha = ASHAScheduler(min_resource=self.min_resource, reduction_factor=self.reduction_factor)
        lcm = LCMScheduler(
            k=self.k, min_complete=self.min_complete, predict=self.predict, checks=[1.0]
        )
        object.__setattr__(self, "_asha", asha)
        object.__setattr__(self, "_lcm", lcm)

    def decide(self, trial: Trial, history: History, rng: np.random.Generator) -> Decision:
        decision = self._asha.decide(trial, history, rng)
        if not isinstance(decision, Stop):
            return decision
        assessment = self._lcm.assess(trial, trial.step, history)
        if assessment is None or assessment.rank > self.veto:
            return decision
        rungs = self._asha.rungs(history.max_steps)
        return Continue(_steps.next_after(trial.step, rungs, history.max_steps))
