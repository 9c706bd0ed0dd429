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

from .. import _validate
from ..types import Continue, Decision, History, Stop, Trial
from . import _steps
from ._steps import StepSpec
from .asha import ASHAScheduler
from .lcm import PREDICTIONS, LCMScheduler


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
        # Every option is checked here, so an error names matched-halving, not the parts.
        owner = "matched-halving"
        _steps.validate(owner, "min_resource", self.min_resource)
        _validate.whole(owner, "reduction_factor", self.reduction_factor, 2)
        _validate.number(owner, "veto", self.veto, 0, 1, low_open=True, high_open=True)
        _validate.whole(owner, "k", self.k, 1)
        _validate.whole(owner, "min_complete", self.min_complete, 1)
        _validate.one_of(owner, "predict", self.predict, PREDICTIONS)
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
