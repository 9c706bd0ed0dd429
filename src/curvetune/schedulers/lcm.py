"""Learning Curve Matching (LCM): curvetune's own early-stopping rule.

From the MagmaDNN/OpenDIEL research system. Two stages:

* **Accumulation.** Until ``min_complete`` trainings have completed, nothing is stopped;
  their curves (the metric at the *cumulative points*) and final values are the reference.
* **Checking.** At each *check* step c, the running trial's curve up to c is compared, by
  Euclidean distance over the cumulative points up to c, with the same stretch of every
  recorded complete curve. The ``k`` closest complete trainings predict the final value
  (their finals averaged, weighted by inverse distance unless ``weighting="uniform"``; k=1
  is the original rule). The prediction's *rank percentage* among the finished results (the
  share of completed trainings that are better) decides: the trial stops when it exceeds
  ``threshold``.

Options go beyond the original: k > 1 with distance weighting, per-step normalisation of the
curves (``normalize``), checks and points given as steps or fractions of the budget, the
ablation ``predict="current"`` (rank the trial's current value among completed trainings at
the same step instead of matching), ``confirm`` (a stop also needs that current rank past
the threshold), and ``prior``: complete curves from an earlier study
directory, which skip the accumulation stage. The prior is read when the scheduler is built
and checked against the study (same metric, same budget) by ``check_study`` before the
study's first trial, so a wrong directory costs no training (see ``priors.py``).

Every stop carries its explanation: prediction, neighbour trials and their distances, rank
percentage and threshold; a neighbour from the prior is named by its study and trial.
Decisions are pure; the instance only holds the prior's curves (plain data) and caches the
matrix of complete curves (derived data, grown from the history's feed of changes), so a
decision over 10,000 recorded 50-step curves costs about 0.1 ms, 0.15 ms right after a
completion (``benchmarks/growth.py``); ties between equal distances go by trial id, so the
cache's row order never shows in a decision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..types import Complete, Continue, Decision, History, Mode, Trial
from . import _steps
from ._assessment import Assessment
from ._calibration import Calibration
from ._reference import Curves, Reference, nearest
from ._steps import StepSpec
from .priors import PriorCurves, curve_row, load_prior

SPREAD_FLOOR = 1e-3  # the least spread a conformal margin is scaled by (equal neighbours)

PREDICTIONS = ("match", "trend", "current")
"""How the final value is predicted: ``match`` averages the nearest complete curves' final
values (the original rule); ``trend`` adds their gain from the check to the end to the
trial's own current value; ``current`` (an ablation, no matching) uses the current value
and ranks it among complete curves at the same step."""


@dataclass(frozen=True)
class LCMScheduler:
    """Learning Curve Matching.

    The defaults (trend prediction from the 5 nearest complete curves, checks every 10% of
    the budget from 10%, 5 complete trainings before the first check, stop when more than
    55% of completed trainings are better) were chosen on the 34 YAHPO tables of the
    stopping benchmark only, never on real curves: see ``docs/lcm.md``.
    """

    min_complete: int = 5
    first_check: StepSpec = 0.1
    every: StepSpec = 0.1
    checks: Sequence[StepSpec] | None = None  # explicit check steps (overrides first/every)
    points: Sequence[StepSpec] | None = None  # cumulative points; None: every step
    k: int = 5
    weighting: Literal["distance", "uniform"] = "distance"
    normalize: bool = False
    threshold: float = 0.55
    predict: Literal["match", "trend", "current"] = "trend"
    prior: str | None = None  # a study directory whose completed curves seed the reference
    alpha: float | None = None  # stop on the optimistic (1 - alpha) conformal bound, not the point
    confirm: bool = False  # stop only if the current value also ranks past the threshold
    _prior: PriorCurves | None = field(default=None, init=False, repr=False, compare=False)
    _calibration: Calibration | None = field(default=None, init=False, repr=False, compare=False)
    _cache: Reference = field(default=None, init=False, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        from .. import _validate

        _validate.whole("lcm", "min_complete", self.min_complete, 1)
        _steps.validate("lcm", "first_check", self.first_check)
        _steps.validate("lcm", "every", self.every)
        _steps.validate_all("lcm", "checks", self.checks)
        _steps.validate_all("lcm", "points", self.points)
        _validate.whole("lcm", "k", self.k, 1)
        _validate.one_of("lcm", "weighting", self.weighting, ("distance", "uniform"))
        _validate.flag("lcm", "normalize", self.normalize)
        _validate.flag("lcm", "confirm", self.confirm)
        _validate.number("lcm", "threshold", self.threshold, 0, 1, low_open=True, high_open=True)
        _validate.one_of("lcm", "predict", self.predict, PREDICTIONS)
        _validate.path("lcm", "prior", self.prior, allow_none=True)
        _validate.number("lcm", "alpha", self.alpha, 0, 1, low_open=True, high_open=True,
                         allow_none=True)  # fmt: skip
        object.__setattr__(self, "_cache", Reference())
        if self.prior is not None:  # read once, now: deciding never reads a file
            object.__setattr__(self, "_prior", load_prior(self.prior))

    def check_study(
        self,
        *,
        trials: int | None,
        max_steps: int,
        metric: str | None = None,
        mode: str | None = None,
    ) -> None:
        """Check the prior against the study before its first trial (``Study.optimize`` and
        ``Study.ask`` call this): another metric or another budget is refused while nothing
        has trained yet. ``trials`` and ``mode`` are not LCM's concern."""
        if self._prior is not None:
            self._prior.check(metric, max_steps)

    @property
    def prior_curves(self) -> PriorCurves | None:
        """The prior study's complete curves, read when the scheduler was built."""
        return self._prior

    def _prior_for(self, history: History) -> PriorCurves | None:
        """The prior's curves (read when the scheduler was built), if they fit ``history``."""
        if self._prior is not None:
            self._prior.check(history.metric, history.max_steps)
        return self._prior

    # ----------------------------------------------------------------------------- rule

    def decide(self, trial: Trial, history: History, rng: np.random.Generator) -> Decision:
        if trial.step >= history.max_steps:
            return Complete()
        checks = self._check_steps(history.max_steps)
        if trial.step in checks:
            assessment = self.assess(trial, trial.step, history)
            if (
                assessment is not None
                and assessment.rank > self.threshold
                and (assessment.current_rank is None or assessment.current_rank > self.threshold)
            ):
                return assessment.stop(history.metric, self.threshold)
        return Continue(_steps.next_after(trial.step, checks, history.max_steps))

    def assess(self, trial: Trial, step: int, history: History) -> Assessment | None:
        """Where the trial's (predicted) final value ranks among completed trainings, or None
        while the reference is too small or the trial reported nothing at ``step``."""
        ref = self._cache.update(history, self._prior_for(history))
        if ref.count < self.min_complete:
            return None
        curve = curve_row(trial, history.metric, history.max_steps)
        if np.isnan(curve[step - 1]):
            return None  # nothing reported at the check: no grounds to stop
        if self.predict == "current":
            value = float(curve[step - 1])
            rank, size = _current_rank(value, ref.matrix[:, step - 1], history.mode)
            return Assessment(step, value, rank, size, self.predict, [], [])
        value, spread, rows, distances = self._match(curve, step, ref, history.max_steps)
        neighbours = [ref.neighbour(i) for i in rows]
        current = (
            _current_rank(curve[step - 1], ref.matrix[:, step - 1], history.mode)[0]
            if self.confirm
            else None
        )
        optimistic = None
        if self.alpha is None:
            rank = ref.share_better(value, history.mode)
        else:
            margin = self._margin(step, ref, history) * (spread + SPREAD_FLOOR)
            optimistic = value + (margin if history.mode == "max" else -margin)
            rank = ref.share_better(optimistic, history.mode) if math.isfinite(margin) else 0.0
        return Assessment(
            step, value, rank, ref.count, self.predict, neighbours, distances, optimistic, current
        )

    def _margin(self, step: int, ref: Curves, history: History) -> float:
        """The conformal margin at ``step`` (see ``_calibration``), brought up to date."""
        calibration, max_steps = self._calibration, history.max_steps
        if calibration is None or calibration.key is not history.token:
            calibration = Calibration(self._check_steps(max_steps), self.k, history.token)
            object.__setattr__(self, "_calibration", calibration)

        def predict(curve: np.ndarray, at: int, earlier: Curves) -> tuple[float, float]:
            value, spread, _, _ = self._match(curve, at, earlier, max_steps)
            return value, spread + SPREAD_FLOOR

        calibration.update(ref, predict, history)
        return calibration.margin(step, self.alpha)  # type: ignore[arg-type]

    def _match(
        self, curve: np.ndarray, step: int, ref: Curves, max_steps: int
    ) -> tuple[float, float, list[int], list[float]]:
        """Predict the final value from the k complete curves closest to ``curve[:step]``.
        Also returns how far those curves' own outcomes lie from the prediction (their
        weighted standard deviation: the scale of a conformal margin), their rows in
        ``ref`` and their distances, nearest first."""
        squared = self._distances(curve, step, ref, max_steps)
        rows, distances = nearest(squared, ref.ids, self.k)
        targets = ref.finals[rows]
        if self.predict == "trend":  # the neighbours' gain from here on, added to our value
            gains = targets - ref.matrix[rows, step - 1]
            targets = float(curve[step - 1]) + np.where(np.isnan(gains), 0.0, gains)
        if self.weighting == "distance":
            weights = 1.0 / (distances + 1e-12)
        else:
            weights = np.ones(len(targets))
        weights = weights / np.sum(weights)
        prediction = float(np.sum(weights * targets))
        spread = float(np.sqrt(np.sum(weights * (targets - prediction) ** 2)))
        return prediction, spread, [int(i) for i in rows], [float(d) for d in distances]

    def _distances(self, curve: np.ndarray, step: int, ref: Curves, max_steps: int) -> np.ndarray:
        """Squared Euclidean distance from the trial's curve to every complete curve, over the
        cumulative points up to ``step`` where both have a number. With every step a point
        and a fully reported curve (the default, and nearly always) that is one
        matrix-vector product: |x - m|^2 = |x|^2 - 2 x.m + |m|^2 over the prefix, the last
        term kept per row as a running sum."""
        x = curve[:step]
        if self.points is None and not self.normalize and not np.isnan(x).any():
            cross = ref.filled[:, :step] @ x
            # With every complete curve known at every step, |x|^2 is one number.
            squares_x = float(x @ x) if ref.dense else ref.known[:, :step] @ (x * x)
            return squares_x - 2.0 * cross + ref.squares[:, step - 1]
        columns = self._point_columns(step, max_steps)
        x = curve[columns]
        m = ref.matrix[:, columns]
        if self.normalize:
            scale = np.nanstd(m, axis=0)
            scale[~(scale > 0)] = 1.0
            centre = np.nanmean(m, axis=0)
            x, m = (x - centre) / scale, (m - centre) / scale
        present = ~np.isnan(x)
        diff = m[:, present] - x[present]
        return np.nansum(diff * diff, axis=1)

    # ------------------------------------------------------------------------ geometry

    def _check_steps(self, max_steps: int) -> list[int]:
        return _check_steps(self.checks, self.first_check, self.every, max_steps)

    def _point_columns(self, step: int, max_steps: int) -> np.ndarray:
        if self.points is None:
            return np.arange(step)
        steps = sorted(
            {_steps.at(p, max_steps) for p in self.points if _steps.at(p, max_steps) <= step}
        )
        return np.asarray([s - 1 for s in steps] or [step - 1])


def _check_steps(
    checks: Sequence[StepSpec] | None, first: StepSpec, every: StepSpec, max_steps: int
) -> list[int]:
    """Check steps before the end of the budget, ascending."""
    if checks is not None:
        return sorted({_steps.at(c, max_steps) for c in checks} - {max_steps})
    start, gap = _steps.at(first, max_steps), _steps.at(every, max_steps)
    return list(range(start, max_steps, gap))


def _current_rank(value: float, population: np.ndarray, mode: Mode) -> tuple[float, int]:
    """The share of ``population`` (complete curves' values at one step; NaN: not reported)
    better than ``value``, and how many values it held."""
    population = population[~np.isnan(population)]
    if not population.size:
        return 0.0, 0
    return float(np.mean(_better(population, float(value), mode))), int(population.size)


def _better(values: np.ndarray, value: float, mode: Mode) -> np.ndarray:
    return values < value if mode == "min" else values > value


# Named presets (study files and the benchmark use these names).
PRESETS: dict[str, type | tuple[type, dict[str, Any]]] = {
    "lcm": LCMScheduler,
    # The original rule: nearest curve only, median threshold, 5 complete trainings,
    # a check at every step from the first.
    "lcm-k1": (
        LCMScheduler,
        {
            "predict": "match",
            "k": 1,
            "weighting": "uniform",
            "threshold": 0.5,
            "min_complete": 5,
            "first_check": 1,
            "every": 1,
        },
    ),
    # Ablation: rank the current value among complete curves at the same step (no matching).
    "lcm-last": (LCMScheduler, {"predict": "current"}),
    # Stops on the conformal bound, not the point (``alpha``, see ``_calibration``): a
    # trial stops only when even an optimistic prediction ranks below the threshold.
    "lcm-interval": (LCMScheduler, {"alpha": 0.3, "threshold": 0.45, "every": 0.05}),
    # Conservative: the interval rule with a tighter bound (about 5% of the best
    # configurations stopped on the shared tables, at a median speedup above 2).
    "lcm-safe": (LCMScheduler, {"alpha": 0.2, "threshold": 0.4, "every": 0.05}),
    # A stop needs the current value's rank to agree with the prediction's (``confirm``):
    # fewer of the best stopped, at a little speed (benchmarks/results/stopping-confirm.md).
    "lcm-confirm": (LCMScheduler, {"confirm": True}),
    "lcm-interval-confirm": (
        LCMScheduler,
        {"alpha": 0.3, "threshold": 0.45, "every": 0.05, "confirm": True},
    ),
}
