"""What a model-based searcher learns from each trial, stopped ones included.

A trial stopped at step s is neither a full result nor nothing. Three treatments
(``STOPPED``), each a pure function of the History:

* ``pruned`` (Optuna's convention): a stopped trial is a pruned trial, ranked by how far it
  got and then by its last value (TPE puts the better of them among the good trials when
  there are too few completed ones; the GP ignores them).
* ``predicted``: a stopped trial counts as complete with the final value LCM's trend rule
  predicts from its curve: the 5 complete curves nearest its curve up to its stop step (by
  Euclidean distance; inverse-distance weights), their gain from that step to the end added
  to its own value there. Only complete trials with smaller ids are matched, and the
  prediction is made once all of those have finished (until then the trial counts as
  running), so it never changes afterwards and does not depend on when it was computed.
  If none of them completed, the trial is a pruned one, as under ``pruned``.
* ``rung`` (the BOHB idea): the model is fitted on the highest step ("rung") that at least
  ``min_results`` trials have reached; every trial that reached it counts as complete with
  its value there, running ones as running, the others are left out. The rungs are the
  steps at which trials were stopped, and the full budget.

A diverged trial counts as complete with the worst complete value seen (before any
trial has completed: a pruned trial whose value is NaN at step 1, the worst of the pruned),
so that every model, the GP included, learns to avoid its region; a failed trial, or a
config outside the space, is left out. Running trials count as running (constant liar: a
model avoids proposing their neighbourhood twice).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..schedulers.priors import curve_row
from ..types import History, Trial, TrialState

STOPPED = ("pruned", "predicted", "rung")
Kind = Literal["complete", "pruned", "running", "left-out"]
PREDICT_K = 5


@dataclass(frozen=True, slots=True)
class Observation:
    """One trial as the model sees it: ``complete`` with ``value``, ``pruned`` at ``step``
    with ``value`` (NaN: diverged), ``running``, or ``left-out``."""

    kind: Kind
    value: float = math.nan
    step: int = 0


RUNNING = Observation("running")
LEFT_OUT = Observation("left-out")
DIVERGED = Observation("pruned", math.nan, 1)


class Observer:
    """Turns a History into observations under one treatment. It caches the ``predicted``
    values (each is fixed once made: see above) for the history it last saw, so a study
    predicts each stopped trial once."""

    __slots__ = ("_predictions", "_token", "min_results", "treatment")

    def __init__(self, treatment: str, min_results: int) -> None:
        self.treatment = treatment
        self.min_results = min_results
        self._token: object = None
        self._predictions: dict[int, float] = {}

    def observe(self, history: History) -> dict[int, Observation]:
        """Every trial of ``history`` (by id) as the model sees it."""
        if self.treatment == "pruned":
            seen = {t.id: _pruned(t, history.metric) for t in history.trials.values()}
        elif self.treatment == "predicted":
            if self._token is not history.token:
                self._token, self._predictions = history.token, {}
            seen = _predicted(history, self._predictions)
        else:
            seen = _rung(history, self.min_results)
        return _diverged_as_worst(seen, history.mode)


def _diverged_as_worst(seen: dict[int, Observation], mode: str) -> dict[int, Observation]:
    """Diverged trials as complete with the worst complete value, once there is one: a model
    that reads complete trials only (the GP) must learn where training diverges, or it
    proposes there again and again (seen on MNIST: 24 of 40 trials diverged)."""
    values = [o.value for o in seen.values() if o.kind == "complete"]
    if not values or DIVERGED not in seen.values():
        return seen
    worst = Observation("complete", min(values) if mode == "max" else max(values))
    return {i: worst if o is DIVERGED else o for i, o in seen.items()}


def _common(trial: Trial, metric: str) -> Observation | None:
    """The observation every treatment shares, or None for a completed or stopped trial."""
    state = trial.state
    if state is TrialState.RUNNING:
        return RUNNING
    if state is TrialState.DIVERGED:
        return DIVERGED
    if state is TrialState.FAILED:
        return LEFT_OUT
    value = trial.last_value(metric)
    if value is None or not math.isfinite(value):
        return LEFT_OUT
    return None


def _pruned(trial: Trial, metric: str) -> Observation:
    seen = _common(trial, metric)
    if seen is not None:
        return seen
    value = trial.last_value(metric)
    if trial.state is TrialState.COMPLETED:
        return Observation("complete", value)  # type: ignore[arg-type]
    return Observation("pruned", value, last_step_of(trial, metric))  # type: ignore[arg-type]


def last_step_of(trial: Trial, metric: str) -> int:
    """The step of the trial's newest report of ``metric`` (0 if none)."""
    for report in reversed(trial.reports):
        if metric in report.metrics:
            return report.step
    return 0


def _predicted(history: History, cache: dict[int, float]) -> dict[int, Observation]:
    metric, max_steps = history.metric, history.max_steps
    out: dict[int, Observation] = {}
    complete_curves: list[np.ndarray] = []
    all_finished = True  # every trial with a smaller id has finished
    for trial in history.trials.values():  # in id order
        seen = _common(trial, metric)
        if trial.state is TrialState.STOPPED and seen is None:
            if trial.id in cache:
                out[trial.id] = Observation("complete", cache[trial.id])
            elif all_finished and complete_curves:
                value = predict_final(trial, metric, max_steps, np.asarray(complete_curves))
                cache[trial.id] = value
                out[trial.id] = Observation("complete", value)
            elif all_finished:  # nothing completed before it, ever: Optuna's convention
                out[trial.id] = _pruned(trial, metric)
            else:
                out[trial.id] = RUNNING
        elif seen is None:  # completed
            out[trial.id] = Observation("complete", trial.last_value(metric))  # type: ignore[arg-type]
            complete_curves.append(curve_row(trial, metric, max_steps))
        else:
            out[trial.id] = seen
        all_finished = all_finished and trial.state.finished
    return out


def predict_final(trial: Trial, metric: str, max_steps: int, complete: np.ndarray) -> float:
    """LCM's trend prediction of the trial's final value from the ``complete`` curves
    (rows of steps 1..max_steps): its value at its last step plus the inverse-distance
    weighted gain of the ``PREDICT_K`` curves nearest its own up to that step."""
    curve = curve_row(trial, metric, max_steps)
    step = min(trial.curve(metric)[0][-1], max_steps)  # its metric's last step, not the trial's
    prefix = curve[:step]
    known = ~np.isnan(prefix)
    diff = np.where(known, complete[:, :step] - np.where(known, prefix, 0.0), 0.0)
    distances = np.sqrt(np.nansum(diff * diff, axis=1))
    rows = np.argsort(distances, kind="stable")[:PREDICT_K]
    gains = complete[rows, -1] - complete[rows, step - 1]
    gains = np.where(np.isnan(gains), 0.0, gains)
    weights = 1.0 / (distances[rows] + 1e-12)
    return float(curve[step - 1] + np.sum(weights * gains) / np.sum(weights))


def _rung(history: History, min_results: int) -> dict[int, Observation]:
    metric, max_steps = history.metric, history.max_steps
    seen_of = [(t, _common(t, metric)) for t in history.trials.values()]
    levels = {max_steps} | {
        t.last_step for t, _ in seen_of if t.state is TrialState.STOPPED and t.last_step > 0
    }
    reached = np.sort(
        [min(t.last_step, max_steps) for t, seen in seen_of if seen is None or seen is RUNNING]
    )
    rung = min(levels)
    for level in sorted(levels, reverse=True):  # the highest level enough trials reached
        if reached.size - int(np.searchsorted(reached, level, side="left")) >= min_results:
            rung = level
            break
    out: dict[int, Observation] = {}
    for trial, seen in seen_of:
        if seen is not None and seen is not RUNNING:
            out[trial.id] = seen
        elif trial.last_step >= rung:
            value = _value_by(trial, metric, rung)
            out[trial.id] = Observation("complete", value) if value is not None else LEFT_OUT
        else:
            out[trial.id] = RUNNING if trial.state is TrialState.RUNNING else LEFT_OUT
    return out


def _value_by(trial: Trial, metric: str, step: int) -> float | None:
    """The trial's value at the latest step it reported up to ``step``, if finite (reports
    are in step order: a binary search finds where to start looking back)."""
    reports = trial.reports
    for i in range(bisect.bisect_right(reports, step, key=_step) - 1, -1, -1):
        if metric in reports[i].metrics:
            value = reports[i].metrics[metric]
            return value if math.isfinite(value) else None
    return None


def _step(report) -> int:
    return report.step
