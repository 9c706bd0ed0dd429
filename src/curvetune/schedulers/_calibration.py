"""How wrong LCM's predictions have been: conformal calibration at each check step.

A point prediction of a trial's final value says nothing about how sure it is. The
reference set can say it: each complete curve, when it joined the reference, could have
been predicted from the curves before it, at every check step, exactly as a running trial
is. The errors of those predictions (in the "better" direction: final minus prediction for
``max``, prediction minus final for ``min``) are the calibration residuals of that step.

**What it guarantees.** If a running trial and the complete curves are exchangeable (drawn
from the same distribution of configurations and trained alike; a sequential study with a
random searcher is), its own residual is like one more draw among them, so the
``ceil((n + 1)(1 - alpha))``-th smallest of n residuals bounds it from above with
probability at least ``1 - alpha``: the *optimistic* prediction ``prediction + that
residual`` is at least the trial's true final value, except with probability ``alpha``.
A trial is stopped only when even its optimistic prediction ranks worse than ``threshold``;
a trial whose true final ranks better than ``threshold`` (every top-5% one, for any
threshold above 5%) is then stopped at a check only on a miscoverage, so **its chance of a
false stop is at most alpha per check** (at most ``alpha`` times the number of checks over
its life, by the union bound). Fewer than ``1/alpha - 1`` residuals give no finite bound:
nothing is stopped yet. Residuals are computed from earlier curves only ("sequential"
conformal, in the canonical order: prior curves, then trials by id, each once every trial
before it has finished), so adding a curve never changes an earlier residual and the
residuals do not depend on the order trials completed in. Only the first ``FULL`` curves
are calibrated: the work is then bounded (about a second, once, for a study
resumed with thousands of curves), and later predictions, made from a larger reference,
err less than those residuals say, so the bound only grows more cautious.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from sortedcontainers import SortedList

from ..types import History, TrialState
from ._reference import Curves

FULL = 1000  # the curves calibrated (the first ones): enough residuals for any alpha >= 1%

Predict = Callable[[np.ndarray, int, Curves], tuple[float, float]]  # -> (final, its scale)


class Calibration:
    """Residuals of the predictor at each check step, grown as the reference grows."""

    def __init__(self, checks: list[int], min_rows: int, key: object) -> None:
        self.checks = checks
        self.min_rows = min_rows  # rows a prediction needs before it (k neighbours)
        self.key = key  # the history (its token) whose reference this calibrates
        self._residuals = {step: SortedList() for step in checks}
        self._calibrated = 0  # curves calibrated so far (at most FULL)
        self._next = -(2**63)  # order keys below this are done
        self._scan = 0  # every trial below this id has finished

    def update(self, ref: Curves, predict: Predict, history: History) -> None:
        """Calibrate the curves that became final since the last call.

        Curves are calibrated in the reference's canonical order (prior curves, then trials
        by id), each against the curves before it in that order, and only once every trial
        before it has finished: so the residuals are a function of the history, not of the
        order trials completed in, and a resumed study decides as an uninterrupted one.
        """
        trials, count = history.trials, len(history)  # ids 0..n-1 (a gap ends the scan)
        while self._scan < count:  # finished trials never run again: amortised O(1)
            trial = trials.get(self._scan)  # (a mirrored Optuna study may skip a number)
            if trial is None or trial.state is TrialState.RUNNING:
                break
            self._scan += 1
        if self._calibrated >= FULL or ref.count == 0 or self._scan <= self._next:
            return  # nothing became final since the last call: no pass over the keys
        keys = ref.order_keys()
        todo = np.flatnonzero((keys >= self._next) & (keys < self._scan))
        sign = 1.0 if history.mode == "max" else -1.0
        for row in todo[np.argsort(keys[todo], kind="stable")]:
            if self._calibrated >= FULL:
                break
            before = keys < keys[row]
            self._calibrated += 1
            if np.count_nonzero(before) < self.min_rows:
                continue
            earlier = ref.subset(before)
            curve, final = ref.matrix[row], float(ref.finals[row])
            for step in self.checks:
                if np.isnan(curve[step - 1]):
                    continue
                value, scale = predict(curve, step, earlier)
                error = sign * (final - value) / scale
                if math.isfinite(error):
                    self._residuals[step].add(error)
        self._next = self._scan

    def margin(self, step: int, alpha: float) -> float:
        """How much better than predicted a trial may end, with probability ``1 - alpha``
        (``inf`` while too few residuals give no bound)."""
        residuals = self._residuals.get(step)
        if not residuals:
            return math.inf
        rank = math.ceil((len(residuals) + 1) * (1.0 - alpha))
        if rank > len(residuals):
            return math.inf
        return max(0.0, float(residuals[rank - 1]))

    def count(self, step: int) -> int:
        return len(self._residuals.get(step, ()))
