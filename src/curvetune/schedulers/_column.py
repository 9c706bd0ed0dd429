"""Per-trial numbers kept in step with a history, and ranks among them.

Shared by the stopping rules that compare a trial with everyone's value at a step (ASHA,
the median rule, top-k): a ``Column`` follows the history's feed of changes
(``History.changed_since``), so it re-derives only the trials that changed since the last
decision, and keeps its finite numbers in a ``SortedList`` (inserting into a plain sorted
list moves half of it: 10 us at 20,000 values), so an update, a rank, a k-th best or a
median costs O(log n): a decision costs the same with 100 trials as with 100,000.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from sortedcontainers import SortedList

from ..types import History, Mode, Trial, is_finite


class Column:
    """One number per trial of a history (NaN where it has none), kept in step with it.

    ``derive(trial)`` gives a trial's number. Only the trials the history reports as changed
    since the last ``update`` are derived again (all of them for another history, or when
    the feed was compacted past this column's cursor). This is cached derived data: every
    decision is still a function of the history it is given, and a fresh column on the
    same history gives the same answers.
    """

    __slots__ = ("_cursor", "_derive", "_history", "_sorted", "_values")

    def __init__(self, derive: Callable[[Trial], float]) -> None:
        self._derive = derive
        self._reset(None)

    def _reset(self, history: History | None) -> None:
        self._history = None if history is None else history.token  # held: ids stay unique
        self._cursor = 0
        self._values: dict[int, float] = {}  # trial id -> its finite number
        self._sorted = SortedList()  # the finite numbers, ascending

    def update(self, history: History) -> Column:
        """Bring the column up to date with ``history``; returns itself."""
        if self._history is not history.token:
            self._reset(history)
        changed, self._cursor = history.changed_since(self._cursor)
        ids = history.trials.keys() if changed is None else dict.fromkeys(changed)
        trials, values, ordered = history.trials, self._values, self._sorted
        for trial_id in ids:
            new = self._derive(trials[trial_id])
            old = values.get(trial_id)
            if old == new or (old is None and new != new):  # unchanged (NaN: no number)
                continue
            if old is not None:
                ordered.remove(old)
                del values[trial_id]
            if new == new:
                ordered.add(new)
                values[trial_id] = new
        return self

    def __len__(self) -> int:
        """How many trials have a number."""
        return len(self._sorted)

    def value(self, trial_id: int) -> float | None:
        return self._values.get(trial_id)

    def median(self) -> float:
        """The median of the numbers (NaN when there is none), as ``numpy.median``."""
        ordered, n = self._sorted, len(self._sorted)
        if n == 0:
            return math.nan
        middle = n // 2
        return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2

    def nth_with(self, trial_id: int, value: float, index: int) -> float:
        """The ``index``-th smallest (negative: from the largest) of the numbers with
        ``trial_id``'s own replaced by ``value``, found without copying the sorted list."""
        ordered, own = self._sorted, self._values.get(trial_id)
        size = len(ordered) + (own is None)
        i = index if index >= 0 else size + index
        if not 0 <= i < size:
            raise IndexError(f"no value at index {index} of {size}")
        skip = len(ordered) if own is None else ordered.bisect_left(own)  # own's place

        def rest(j: int) -> float:  # the j-th smallest of the others
            return ordered[j if j < skip else j + 1]

        below = ordered.bisect_left(value) - (own is not None and own < value)
        if i < below:
            return float(rest(i))
        return float(value if i == below else rest(i - 1))

    def rank(self, trial: Trial, value: float, mode: Mode) -> Rank:
        """``value`` (``trial``'s) ranked against every other trial's number."""
        ordered = self._sorted
        own = self._values.get(trial.id)
        if mode == "max":
            better = len(ordered) - ordered.bisect_right(value)
        else:
            better = ordered.bisect_left(value)
        if own is not None and (own > value if mode == "max" else own < value):
            better -= 1  # its own (older) number does not count against it
        others = len(ordered) - (own is not None)
        return Rank(1 + better, 1 + others, self, trial.id, value)


class Rank(NamedTuple):
    """Where a value stands among the other trials' values at a step, and itself."""

    rank: int  # 1 = best; ties share the better rank
    count: int  # how many values, itself included
    column: Column
    trial: int
    value: float

    def kth_best(self, value: float, k: int, mode: str) -> float:
        """The ``k``-th best of the values, the trial's own ``value`` among them (the worst
        one that is kept)."""
        return self.column.nth_with(self.trial, value, k - 1 if mode == "min" else -k)


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
    return value, column.update(history).rank(trial, value, history.mode)
