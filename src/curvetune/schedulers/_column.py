"""Per-trial numbers kept in step with a history, and ranks among them.

Shared by the stopping rules that compare a trial with everyone's value at a step (ASHA,
the median rule, top-k): ``Column`` re-derives only the trials that changed since the last
decision, so a decision over 1,000 trials costs tens of microseconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ..types import History, Trial, is_finite


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


def rank_at_step(
    columns: dict[tuple[str, int], Column], history: History, trial: Trial, step: int
) -> tuple[float, Rank] | None:
    """The trial's value of the study metric at ``step`` ranked against every other trial's
    value there (the column cached in ``columns``); None when it has no finite value."""
    metric = history.metric
    value = trial.value_at(metric, step)
    if value is None or not is_finite(value):
        return None  # nothing to rank (the controller handles non-finite values)
    column = columns.get((metric, step))
    if column is None:
        column = columns[metric, step] = Column(value_at(metric, step))
    return value, rank_among(column, history, trial, value)
