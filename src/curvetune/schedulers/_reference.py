"""LCM's reference set: the complete curves a trial is matched against, kept as derived
data that follows the history's feed of changes, and the search for the nearest of them.

Rows are appended once per completed trial into arrays that double when full (never
rebuilt), column-major, with what a match by prefix needs beside the values: NaN as 0, a
mask of known numbers, running sums of squares and the finals in sorted order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sortedcontainers import SortedList

from ..types import History, Mode, TrialState
from .priors import PriorCurves, curve_row


@dataclass
class Curves:
    """The reference: complete curves (rows), their final values and trial ids; a prior
    curve's id is -(r + 1) for row r of ``prior``. ``filled`` is ``matrix`` with NaN as 0,
    ``known`` marks the numbers, ``squares`` holds each row's running sums of squares (over
    the known numbers) and ``ordered`` the finals, ascending: what a match by prefix needs,
    kept so that one decision is a few matrix-vector products, not a pass over copies."""

    matrix: np.ndarray
    finals: np.ndarray
    ids: np.ndarray
    filled: np.ndarray
    known: np.ndarray
    squares: np.ndarray
    ordered: SortedList
    dense: bool
    prior: PriorCurves | None = None

    @property
    def count(self) -> int:
        return len(self.finals)

    def neighbour(self, row: int) -> int | dict[str, Any]:
        """Row ``row`` as a decision names it: a trial id, or the prior study and trial."""
        trial_id = int(self.ids[row])
        if trial_id >= 0 or self.prior is None:
            return trial_id
        return self.prior.source(-trial_id - 1)

    def subset(self, rows: np.ndarray) -> Curves:
        """The curves at ``rows`` (indices or a mask), for matching only: without the
        sorted finals."""
        return Curves(
            self.matrix[rows],
            self.finals[rows],
            self.ids[rows],
            np.asfortranarray(self.filled[rows]),
            np.asfortranarray(self.known[rows]),
            np.asfortranarray(self.squares[rows]),
            SortedList(),
            self.dense,
            self.prior,
        )

    def order_keys(self) -> np.ndarray:
        """Each row's place in the canonical order of the reference: prior curves first (in
        their order), then trials by id, whatever order they completed in."""
        return tie_keys(self.ids)

    def share_better(self, value: float, mode: Mode) -> float:
        """The share of the finals strictly better than ``value`` (a binary search)."""
        ordered = self.ordered
        if not ordered:
            return 0.0
        if mode == "min":
            return ordered.bisect_left(value) / len(ordered)
        return (len(ordered) - ordered.bisect_right(value)) / len(ordered)


class Reference:
    """Grows the matrix of complete curves as trials complete (derived data, not decisions).

    It follows the history's feed of changes, so a decision looks only at the trials that
    changed since the last one; completed trials never change, so a row is appended once,
    into arrays that double when full (never rebuilt). A different history (another study)
    or another prior starts afresh; prior curves come first.
    """

    def __init__(self) -> None:
        self._prior: PriorCurves | None = None
        self._history: object = None
        self._cursor = 0
        self._seen: set[int] = set()
        self._width = 0
        self._count = 0
        self._dense = True
        self._allocate(0, 0)

    def _allocate(self, width: int, rows: int) -> None:
        self._matrix = np.full((rows, width), np.nan)
        # Column-major: a match reads the first columns of every row.
        self._filled = np.zeros((rows, width), order="F")
        self._known = np.zeros((rows, width), order="F")
        self._squares = np.zeros((rows, width), order="F")
        self._finals = np.zeros(rows)
        self._ids = np.zeros(rows, dtype=np.int64)
        self._ordered = SortedList()

    def update(self, history: History, prior: PriorCurves | None = None) -> Curves:
        if self._history is not history.token or self._prior is not prior:
            self._reset(history, prior)
        changed, self._cursor = history.changed_since(self._cursor)
        ids = history.trials.keys() if changed is None else changed
        trials, seen = history.trials, self._seen
        for trial_id in ids:
            if trial_id in seen:
                continue
            trial = trials[trial_id]
            if trial.state is TrialState.COMPLETED:
                seen.add(trial_id)
                self._add(curve_row(trial, history.metric, history.max_steps), trial_id)
        n = self._count
        return Curves(
            self._matrix[:n],
            self._finals[:n],
            self._ids[:n],
            self._filled[:n],
            self._known[:n],
            self._squares[:n],
            self._ordered,
            self._dense,
            self._prior,
        )

    def _add(self, row: np.ndarray, trial_id: int) -> None:
        present = ~np.isnan(row)
        if not present.any():
            return
        n = self._count
        if n == len(self._finals):  # full: double (amortised O(1) per row)
            self._grow(max(64, 2 * n))
        filled = np.where(present, row, 0.0)
        self._matrix[n] = row
        self._filled[n] = filled
        self._known[n] = present
        self._squares[n] = np.cumsum(filled * filled)
        final = float(row[present][-1])
        self._finals[n] = final
        self._ids[n] = trial_id
        self._ordered.add(final)
        self._dense = self._dense and bool(present.all())
        self._count = n + 1

    def _grow(self, rows: int) -> None:
        old = (self._matrix, self._filled, self._known, self._squares, self._finals, self._ids)
        ordered, n = self._ordered, self._count
        self._allocate(self._width, rows)
        for new, before in zip(
            (self._matrix, self._filled, self._known, self._squares, self._finals, self._ids),
            old,
            strict=True,
        ):
            new[:n] = before[:n]
        self._ordered = ordered

    def _reset(self, history: History, prior: PriorCurves | None) -> None:
        self._history, self._prior, self._cursor = history.token, prior, 0
        self._seen, self._count, self._width = set(), 0, history.max_steps
        self._dense = True
        self._allocate(self._width, 0)
        if prior is not None:
            for row, curve in enumerate(prior.curves):
                self._add(curve, -row - 1)


def nearest(squared: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the ``k`` smallest squared distances, nearest first, and their
    distances. Equal distances go to prior curves first (in their order), then to the lower
    trial id, so the answer depends on the reference's content, not on the order trials
    completed in. A few ``argmin`` passes beat a partition for small k."""
    k = min(k, len(squared))
    if k == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    work = squared.copy()
    for _ in range(k - 1):  # the k-th smallest value, after k - 1 removals
        work[int(np.argmin(work))] = np.inf
    candidates = np.flatnonzero(squared <= work.min())  # k of them, more on a tie
    order = np.lexsort((tie_keys(ids[candidates]), squared[candidates]))
    rows = candidates[order[:k]]
    return rows, np.sqrt(np.maximum(squared[rows], 0.0))


def tie_keys(ids: np.ndarray) -> np.ndarray:
    """Trial ids as they break ties: a prior row r (id -(r + 1)) before every trial."""
    return np.where(ids >= 0, ids, -(2**62) - ids - 1)
