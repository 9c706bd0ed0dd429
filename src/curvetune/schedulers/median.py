"""The median stopping rule of Google Vizier.

Golovin, Solnik, Moitra, Kochanski, Karro and Sculley, "Google Vizier: A Service for
Black-Box Optimization", KDD 2017, section 3.2 (automated early stopping), the median
stopping rule: a pending trial is stopped at step s if its best objective value by step s is
strictly worse than the median of the running averages, up to step s, of all completed
trials' objective values.

Here a completed trial's running average at s is the mean of its values (one per step, the
step's last report) at steps 1..s; a completed trial with no value at or before s is left
out. The rule looks at ``first_check`` and every ``every`` steps after it, and only once at
least ``min_completed`` completed trials have a running average at s (Vizier states no
minimum; Ray Tune's version asks for 3 by default).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _validate
from ..types import Complete, Continue, Decision, History, Stop, Trial, TrialState, better
from . import _steps
from ._column import Column
from ._steps import StepSpec

# metric -> {trial id: (reports when read, steps with a finite value, running averages there)}
_CurveCache = dict[str, dict[int, tuple[Any, np.ndarray, np.ndarray]]]


def _running_averages(trial: Trial, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Steps with a finite value, and the mean of the values up to each of them."""
    steps, values = trial.curve(metric)
    step_array = np.asarray(steps, dtype=np.int64)
    value_array = np.asarray(values, dtype=float)
    finite = np.isfinite(value_array)
    step_array, value_array = step_array[finite], value_array[finite]
    return step_array, np.cumsum(value_array) / np.arange(1, len(value_array) + 1)


def best_up_to(trial: Trial, metric: str, step: int, mode: str) -> float | None:
    """The trial's best value of ``metric`` at steps <= ``step`` (None if it has none)."""
    steps, values = trial.curve(metric)
    best = None
    for s, value in zip(steps, values, strict=True):
        if s > step:
            break
        if math.isfinite(value) and (best is None or better(value, best, mode)):
            best = value
    return best


@dataclass(frozen=True)
class MedianStoppingRule:
    """Stop a trial whose best value so far is worse than the median running average of the
    completed trials at the same step.

    ``first_check`` and ``every`` are steps (int >= 1) or fractions of the budget in (0, 1];
    ``min_completed`` (a whole number >= 1) completed trials are needed before it stops any.
    """

    first_check: StepSpec = 1
    every: StepSpec = 1
    min_completed: int = 3
    _curves: _CurveCache = field(default_factory=dict, init=False, repr=False, compare=False)
    # (metric, step) -> the completed trials' running averages there
    _columns: dict[tuple[str, int], Column] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        _steps.validate("median", "first_check", self.first_check)
        _steps.validate("median", "every", self.every)
        _validate.whole("median", "min_completed", self.min_completed, 1)

    def checks(self, max_steps: int) -> tuple[int, int]:
        """The first check step and the distance between checks, in a budget of ``max_steps``."""
        return _steps.at(self.first_check, max_steps), _steps.at(self.every, max_steps)

    def decide(self, trial: Trial, history: History, rng: np.random.Generator) -> Decision:
        max_steps, step = history.max_steps, trial.step
        if step >= max_steps:
            return Complete()
        first, every = self.checks(max_steps)
        if step < first:
            return Continue(first)
        if (step - first) % every == 0:
            stop = self._judge(trial, history, step)
            if stop is not None:
                return stop
        following = first + ((step - first) // every + 1) * every
        return Continue(min(following, max_steps))

    def _judge(self, trial: Trial, history: History, step: int) -> Stop | None:
        metric, mode = history.metric, history.mode
        best = best_up_to(trial, metric, step, mode)
        if best is None:
            return None
        median, completed = self.median(history, step)
        if completed < self.min_completed or not better(median, best, mode):
            return None
        return Stop(
            f"{metric} {best:.4g} (best up to step {step}) is worse than the median {median:.4g} "
            f"of the running averages of {completed} completed trials at step {step}",
            {
                "rule": "median",
                "step": step,
                "value": best,
                "median": median,
                "completed": completed,
            },
        )

    def median(self, history: History, step: int) -> tuple[float, int]:
        """The median of the completed trials' running averages at ``step``, and how many
        completed trials have one (NaN and 0 when none has)."""
        key = (history.metric, step)
        column = self._columns.get(key)
        if column is None:
            column = self._columns[key] = Column(self._running_average(history.metric, step))
        column.update(history)
        return column.median(), len(column)

    def running_averages(self, history: History, step: int) -> list[float]:
        """Each completed trial's mean of ``history.metric`` over steps 1..``step``."""
        derive = self._running_average(history.metric, step)
        averages = (derive(t) for t in history.trials.values())
        return [a for a in averages if not math.isnan(a)]

    def _running_average(self, metric: str, step: int) -> Callable[[Trial], float]:
        """A completed trial's running average at ``step`` (NaN for other trials, and for
        one with no finite value up to ``step``). Each trial's running averages at all its
        steps are derived once and cached while its ``reports`` are the same tuple."""
        curves = self._curves.setdefault(metric, {})

        def derive(trial: Trial) -> float:
            if trial.state is not TrialState.COMPLETED:
                return math.nan
            curve = curves.get(trial.id)
            if curve is None or curve[0] is not trial.reports:
                curve = curves[trial.id] = (trial.reports, *_running_averages(trial, metric))
            at = int(np.searchsorted(curve[1], step, side="right")) - 1
            return float(curve[2][at]) if at >= 0 else math.nan

        return derive
