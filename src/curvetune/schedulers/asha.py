"""ASHA: asynchronous successive halving, the stopping variant.

Li, Jamieson, Rostamizadeh, Gonina, Ben-tzur, Hardt, Recht and Talwalkar, "A System for
Massively Parallel Hyperparameter Tuning", MLSys 2020 (arXiv:1810.05934). Its stopping form,
as in Ray Tune's ``ASHAScheduler`` and Syne Tune's ``stopping`` type: every trial starts
(nobody waits to be promoted), and at each rung it either continues or is stopped for good.

Rungs are at ``r * eta**k <= max_steps`` (``r`` = ``min_resource`` resolved against the
budget, ``eta`` = ``reduction_factor``); a rung at ``max_steps`` itself is just completion.
When a trial reaches a rung, the values recorded at that rung are every trial's value of the
metric there, for all trials that have trained that far (running, completed and stopped
alike, and the trial itself). With ``n`` values recorded and ``n >= eta``, the trial
continues iff it is among the best ``ceil(n / eta)`` of them (ties with the last one kept
continue); with fewer than ``eta`` values it continues.

Rounding, and how this relates to Ray: Ray continues a trial whose value is ``>=`` the
``100 * (1 - 1/eta)`` percentile (numpy's linear interpolation) of the recorded values. Over
``n`` values that cutoff keeps exactly the best ``1 + floor((n - 1) / eta) = ceil(n / eta)``,
so the rank rule here is Ray's rule (rounded up) without floating-point doubt at the
boundary. Two differences, both as this project specifies: the trial's own value is among
the ``n`` (Ray ranks it against the values recorded before it), and no cutoff applies until
``eta`` values exist (Ray applies one from the first recorded value). The record is read
from the history on every decision, so the rule is a pure function of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import _validate
from ..types import Complete, Continue, Decision, History, Stop, Trial
from . import _steps
from ._column import Column, rank_at_step
from ._steps import StepSpec


@dataclass(frozen=True)
class ASHAScheduler:
    """Asynchronous successive halving (stopping variant): at each rung keep the top 1/eta.

    ``min_resource`` is the first rung: a step (int >= 1) or a fraction of the budget in
    (0, 1]; ``reduction_factor`` (eta, a whole number >= 2) is the ratio between rungs and
    the inverse of the fraction kept at each.
    """

    min_resource: StepSpec = 1
    reduction_factor: int = 3
    _columns: dict[tuple[str, int], Column] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _rungs: dict[int, tuple[int, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        _steps.validate("asha", "min_resource", self.min_resource)
        _validate.whole("asha", "reduction_factor", self.reduction_factor, 2)

    def rungs(self, max_steps: int) -> tuple[int, ...]:
        """The check steps: rungs ``r * eta**k`` below ``max_steps`` (reaching
        ``max_steps`` is completion, not a check)."""
        rungs = self._rungs.get(max_steps)
        if rungs is None:
            rung, found = _steps.at(self.min_resource, max_steps), []
            while rung < max_steps:
                found.append(rung)
                rung *= self.reduction_factor
            rungs = self._rungs[max_steps] = tuple(found)
        return rungs

    def decide(self, trial: Trial, history: History, rng: np.random.Generator) -> Decision:
        max_steps, step = history.max_steps, trial.step
        if step >= max_steps:
            return Complete()
        rungs = self.rungs(max_steps)
        if step in rungs:
            stop = self._judge(trial, history, step)
            if stop is not None:
                return stop
        return Continue(_steps.next_after(step, rungs, max_steps))

    def _judge(self, trial: Trial, history: History, rung: int) -> Stop | None:
        metric, mode, eta = history.metric, history.mode, self.reduction_factor
        found = rank_at_step(self._columns, history, trial, rung)
        if found is None:
            return None
        value, ranked = found
        recorded = ranked.count
        if recorded < eta:
            return None
        kept = math.ceil(recorded / eta)
        rank = ranked.rank
        if rank <= kept:
            return None
        cutoff = ranked.kth_best(value, kept, mode)
        return Stop(
            f"{metric} {value:.4g} at rung {rung} ranks {rank} of {recorded} values recorded "
            f"there; only the best {kept} (1/{eta}, rounded up; cutoff {cutoff:.4g}) continue",
            {
                "rule": "asha",
                "step": rung,
                "rung": rung,
                "value": value,
                "cutoff": cutoff,
                "rank": rank,
                "kept": kept,
                "recorded": recorded,
                "reduction_factor": eta,
            },
        )
