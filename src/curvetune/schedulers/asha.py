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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ..types import Complete, Continue, Decision, History, Stop, Trial, is_finite
from . import _steps
from ._steps import StepSpec


class Column:
    """One number per trial of a history (NaN where it has none), kept in step with it.

    ``derive(trial)`` gives a trial's number. Trials are frozen values that the controller
    replaces whenever something happens to them, so only trials whose object changed since
    the last ``update`` (found by C-speed list comparisons, a few microseconds for 1,000
    trials) are derived again; ``version`` changes whenever a number does. This is cached
    derived data: every decision is still a function of the history it is given (another
    history, or one that changed anywhere, is simply re-read where it differs). The median
    and top-k rules use it too.
    """

    __slots__ = ("_derive", "_positions", "_trials", "_values", "version")

    def __init__(self, derive: Callable[[Trial], float]) -> None:
        self._derive = derive
        self.version = 0
        self._reset()

    def _reset(self) -> None:
        self._trials: list[Trial] = []  # the history's trials when last read, in its order
        self._values = np.empty(0)  # their numbers (with room to grow)
        self._positions: dict[int, int] = {}  # trial id -> index
        self.version += 1

    def update(self, history: History) -> np.ndarray:
        """The numbers of all trials, in the history's order (a view: do not keep it)."""
        current = list(history.trials.values())
        previous, known = self._trials, len(self._trials)
        if len(current) < known:  # another, smaller history: start again
            self._reset()
            previous, known = [], 0
        changed = list(range(known, len(current)))
        if (current if len(current) == known else current[:known]) != previous:
            _differences(current, previous, 0, known, changed)
        self._trials = current  # equal trials that are new objects compare by identity next time
        if changed:
            if len(current) > len(self._values):
                grown = np.full(max(2 * len(self._values), len(current), 64), np.nan)
                grown[: len(self._values)] = self._values
                self._values = grown
            values, before = self._values, self.version
            for index in changed:
                trial = current[index]
                self._positions[trial.id] = index
                old, new = values[index], self._derive(trial)
                if not (old == new or (old != old and new != new)):  # NaN == NaN here
                    values[index] = new
                    self.version = before + 1
        return self._values[: len(current)]

    def position(self, trial: Trial) -> int | None:
        """The index of ``trial``'s id after the last ``update`` (None if absent)."""
        index = self._positions.get(trial.id)
        if index is None or index >= len(self._trials) or self._trials[index].id != trial.id:
            return None
        return index


def _differences(current: list, previous: list, lo: int, hi: int, out: list[int]) -> None:
    """Append to ``out`` the indices in [lo, hi) where the two lists hold different trials."""
    if current[lo:hi] == previous[lo:hi]:  # identity first, then (rarely) field equality
        return
    if hi - lo <= 32:
        out.extend(i for i in range(lo, hi) if current[i] is not previous[i])
        return
    middle = (lo + hi) // 2
    _differences(current, previous, lo, middle, out)
    _differences(current, previous, middle, hi, out)


def value_at(metric: str, step: int) -> Callable[[Trial], float]:
    """A trial's finite value of ``metric`` at ``step`` if it has trained that far, else NaN.

    (A failed segment may leave reports past the trial's ``step``: they do not count.)
    """

    def derive(trial: Trial) -> float:
        if trial.step < step:
            return math.nan
        value = trial.value_at(metric, step)
        return value if value is not None and is_finite(value) else math.nan

    return derive


class Rank(NamedTuple):
    """Where a value stands among the other trials' values at a step, and itself."""

    rank: int  # 1 = best; ties share the better rank
    count: int  # how many values, itself included
    others: np.ndarray  # the others' values (NaN where a trial has none)

    def kth_best(self, value: float, k: int, mode: str) -> float:
        """The ``k``-th best of the values (the worst one that is kept)."""
        ordered = np.sort(np.append(self.others[~np.isnan(self.others)], value))
        return float(ordered[-k] if mode == "max" else ordered[k - 1])


def rank_among(column: Column, history: History, trial: Trial, value: float) -> Rank:
    """``value`` (``trial``'s) ranked against the column's values of every other trial."""
    values = column.update(history)
    index = column.position(trial)
    if index is not None:
        values = values.copy()
        values[index] = math.nan
    better = values > value if history.mode == "max" else values < value
    count = 1 + int(np.count_nonzero(~np.isnan(values)))
    return Rank(1 + int(np.count_nonzero(better)), count, values)


def _whole(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")


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
        _steps.validate("asha: min_resource", self.min_resource)
        _whole("asha: reduction_factor", self.reduction_factor, 2)

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
        value = trial.value_at(metric, rung)
        if value is None or not is_finite(value):
            return None  # nothing to rank (the controller handles non-finite values)
        column = self._columns.get((metric, rung))
        if column is None:
            column = self._columns[metric, rung] = Column(value_at(metric, rung))
        ranked = rank_among(column, history, trial, value)
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
