"""Top-k after r steps: train every configuration r steps, then continue only the best k.

Egele, Mohr, Viering and Balaprakash, "The Unreasonable Effectiveness Of Early Discarding
After One Epoch In Neural Network Hyperparameter Optimization", Neurocomputing 597 (2024)
127964 (arXiv:2404.04111). Its "i-Epoch" baseline trains every sampled configuration for a
constant i epochs and discards it there, selecting on the i-epoch scores; the companion
paper (Egele, Guyon, Sun and Balaprakash, "Is One Epoch All You Need For Multi-Fidelity
Hyperparameter Optimization?", arXiv:2307.15422, 2023) states the baseline as: discard all
models except the top K after one epoch, then train those further to select the best. The
first finds that successive halving and learning-curve extrapolation add little or nothing
over i-Epoch (i = 1 is often enough); the second that the top-K baseline matches
multi-fidelity methods with an order of magnitude less computation.

The papers rank a finished pool: all N candidates have their i-epoch score before any is
continued. A study decides as trials arrive, so this is the online form: a trial at step r
continues iff its value there ranks within the best ``k`` of all trials that have reached
step r so far, itself included (ties with the k-th continue); ``k`` is the option ``k`` when
given, else ``max(1, ceil(fraction * n))`` with ``n`` the number of those trials. A decision
is never revised. With a fixed ``k``, every trial in the top k of the whole pool is also in
the top k of each earlier part of it, so the online rule continues a superset of what the
batch rule continues (about ``k * (1 + ln(N / k))`` trials for a pool in random order); with
``fraction`` the bar grows with ``n``, and early arrivals face a lower one. Like the papers'
rule it looks once, at ``first_check``; after that a trial trains to the budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _validate
from ..types import Complete, Continue, Decision, History, Stop, Trial
from . import _steps
from ._column import Column, rank_at_step
from ._steps import StepSpec


@dataclass(frozen=True)
class TopKScheduler:
    """Check once at ``first_check`` (a step, or a fraction of the budget): keep the best
    ``k`` of the trials that reached it (``k`` a whole number >= 1), or when ``k`` is None
    the best ``fraction`` of them (in (0, 1], rounded up, at least one)."""

    first_check: StepSpec = 1
    k: int | None = None
    fraction: float = 0.1
    _columns: dict[tuple[str, int], Column] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        _steps.validate("topk", "first_check", self.first_check)
        _validate.whole("topk", "k", self.k, 1, allow_none=True)
        _validate.number("topk", "fraction", self.fraction, 0, 1, low_open=True)

    def decide(self, trial: Trial, history: History, rng: np.random.Generator) -> Decision:
        max_steps, step = history.max_steps, trial.step
        if step >= max_steps:
            return Complete()
        check = _steps.at(self.first_check, max_steps)
        if step == check:
            stop = self._judge(trial, history, check)
            if stop is not None:
                return stop
        return Continue(check if step < check else max_steps)

    def keep(self, reached: int) -> int:
        """How many of ``reached`` trials continue."""
        if self.k is not None:
            return self.k
        return max(1, math.ceil(self.fraction * reached - 1e-9))

    def _judge(self, trial: Trial, history: History, check: int) -> Stop | None:
        metric, mode = history.metric, history.mode
        found = rank_at_step(self._columns, history, trial, check)
        if found is None:
            return None
        value, ranked = found
        reached = ranked.count
        kept = self.keep(reached)
        if reached <= kept or ranked.rank <= kept:
            return None
        rank, cutoff = ranked.rank, ranked.kth_best(value, kept, mode)
        how = "" if self.k is not None else f" ({self.fraction:g} of {reached}, rounded up)"
        details: dict[str, Any] = {
            "rule": "topk",
            "step": check,
            "value": value,
            "cutoff": cutoff,
            "rank": rank,
            "k": kept,
            "reached": reached,
            "fraction": None if self.k is not None else self.fraction,
        }
        return Stop(
            f"{metric} {value:.4g} at step {check} ranks {rank} of the {reached} trials that "
            f"reached it; only the best {kept}{how} continue (cutoff {cutoff:.4g})",
            details,
        )
