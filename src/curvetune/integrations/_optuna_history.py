"""An Optuna study mirrored into a curvetune ``History``: what the Optuna pruners decide on.

Everything here is derived from ``study.get_trials`` (a cache, not a record): trial number n
is curvetune trial n, its intermediate values are its reports (Optuna step ``first_step`` is
curvetune step 1), COMPLETE is completed (stopped, if its curve ends before ``max_steps``:
a short curve is no complete one to match), PRUNED stopped (at the step its explanation
names, as the controller's history would hold it), FAIL failed, RUNNING running (WAITING
trials have done nothing yet and are left out). Finished trials never change, so
each is folded in once; a running one is brought up to date with the reports it added since.
A fresh mirror of the same storage is therefore the same history, which is what makes a
study resumed by a new pruner decide as one run straight through.

The history changes only through ``curvetune.events.apply``, as the controller changes its
own, so the schedulers' caches (which follow the history's feed of changes) stay valid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

from ..events import SegmentFinished, TrialCreated, TrialFinished, apply
from ..types import History, Mode, Report, TrialState

STOP_ATTR = "curvetune_stop"  # the user attr in which a prune is explained

FINISHED = {
    OptunaState.COMPLETE: TrialState.COMPLETED,
    OptunaState.PRUNED: TrialState.STOPPED,
    OptunaState.FAIL: TrialState.FAILED,
}
FOLLOWED = (*FINISHED, OptunaState.RUNNING)

Points = list[tuple[int, float]]  # (curvetune step, value), ascending steps


@dataclass
class Chain:
    """Where the scheduler stands with one running trial: the step at which it is asked
    next (0: not asked yet, as the controller asks when a trial is created), and its stop,
    once it has stopped the trial (asked again, the pruner answers the same)."""

    until: int = 0
    stop: dict[str, Any] | None = None
    done: bool = False  # reached the end of the budget (Complete)


class StudyMirror:
    """One Optuna study's trials as a curvetune ``History`` of ``metric`` and ``mode``."""

    def __init__(
        self, study: Any, *, metric: str, mode: Mode, max_steps: int, first_step: int
    ) -> None:
        self.storage, self.study_id = study._storage, study._study_id
        self.history = History(metric=metric, mode=mode, max_steps=max_steps)
        self.first_step = first_step
        self.chains: dict[int, Chain] = {}  # running trials this process has judged
        self._applied: dict[int, tuple[int, int]] = {}  # number -> (points folded, last step)
        self._finished: set[int] = set()

    def follows(self, study: Any, mode: Mode) -> bool:
        return (
            study._storage is self.storage
            and study._study_id == self.study_id
            and mode == self.history.mode
        )

    def points(self, trial: FrozenTrial, *, strict: bool = False) -> Points:
        """The trial's intermediate values as curvetune steps, ascending. ``strict``: a step
        outside the budget is an error (the trial being judged); otherwise it is left out."""
        max_steps, first = self.history.max_steps, self.first_step
        out = []
        for step, value in sorted(trial.intermediate_values.items()):
            at = step - first + 1
            if 1 <= at <= max_steps:
                out.append((at, float(value)))
            elif strict:
                last = first + max_steps - 1
                raise ValueError(
                    f"trial {trial.number} reported step {step}, outside the pruner's budget: "
                    f"max_steps={max_steps} with first_step={first} means steps "
                    f"{first}..{last} (step {first} is the first epoch); pass the right "
                    "max_steps, or first_step=1 if your steps count from 1"
                )
        return out

    def sync(self, study: Any, skip: int) -> None:
        """Fold in what changed in the study's trials, except trial ``skip`` (the one being
        judged, which the pruner puts itself, cut at the step it is judged at)."""
        history = self.history
        for trial in study.get_trials(deepcopy=False, states=FOLLOWED):
            number = trial.number
            if number in self._finished or number == skip:
                continue
            state = FINISHED.get(trial.state)
            points = self.points(trial)
            step = points[-1][0] if points else 0
            stop = trial.user_attrs.get(STOP_ATTR)
            if state is TrialState.STOPPED and isinstance(stop, dict) and "curvetune_step" in stop:
                # Where the rule stopped it, as the controller's history holds it (a loop
                # that reports every few steps was judged at a check between two reports).
                step = min(step, int(stop["curvetune_step"]))
                points = [p for p in points if p[0] <= step]
            elif state is TrialState.COMPLETED and step < history.max_steps:
                state = TrialState.STOPPED  # a short curve is no complete one to match
            self.put(number, points, step)
            if state is not None:
                apply(history, TrialFinished(number, state))
                self._finished.add(number)
                self.chains.pop(number, None)

    def put(self, number: int, points: Points, step: int) -> None:
        """Make trial ``number`` a running trial at ``step`` with these reports, folding in
        only the reports it did not have (or all of them, when its reports shrank or one
        arrived below the last)."""
        history = self.history
        if number not in history.trials:
            apply(history, TrialCreated(number, {}, 0))
        count, last = self._applied.get(number, (0, 0))
        new = [p for p in points if p[0] > last]
        start = last
        if count + len(new) != len(points):
            start, new = 0, points
        if new or start != last or history[number].step != step:
            metric = history.metric
            reports = tuple(Report(s, {metric: v}) for s, v in new)
            apply(history, SegmentFinished(number, start, step, "ok", reports))
        self._applied[number] = (len(points), points[-1][0] if points else 0)


def first_non_finite(points: Points) -> int | None:
    """The first step whose value is NaN or infinite (curvetune ends such a trial there)."""
    for step, value in points:
        if not math.isfinite(value):
            return step
    return None


def jsonable(value: Any) -> Any:
    """``value`` with numpy numbers and tuples made plain JSON types (for user attrs)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, int | float):
        return value
    return str(value)
