"""An in-memory index of a study for the dashboard, kept up to date incrementally.

Each request first calls ``refresh``, which reads only the events after the last ``seq``
it saw and the reports after the last rowid (one short read transaction), and folds them
into one small row per trial: its config, state, step, reason and newest value of the study
metric. The bulk of the log (segments, decisions, reports) is read in aggregate by SQL: the
newest segment and report per trial, the newest few hundred decisions. Sorting and paging
10,000 rows is then a few milliseconds of Python; the log is never replayed per request.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import queries

RECENT_DECISIONS = 500  # decisions kept for the page's list (the store has them all)
STATES = ("running", "completed", "stopped", "failed", "diverged")


@dataclass(slots=True)
class TrialRow:
    """What the trials table shows of one trial."""

    id: int
    created: str  # the TrialCreated event's JSON: most rows are never shown, so decoded late
    state: str = "running"
    step: int = 0
    reason: str = ""
    value: float | None = None
    step_seq: int = 0  # seq of the event that set ``step`` (a segment or an exploit)
    decoded: dict[str, Any] | None = None  # the config, once decoded (or exploited)

    @property
    def config(self) -> dict[str, Any]:
        if self.decoded is None:
            self.decoded = dict(json.loads(self.created)["config"])
        return self.decoded


@dataclass(slots=True)
class _Sorted:
    key: tuple[str, str, str]
    seq: int
    ids: list[int] = field(default_factory=list)


class StudyIndex:
    """The trials table, the recent decisions and the study's counts, for one store.

    Thread-safe: the server's worker threads share one read-only connection under a lock.
    """

    def __init__(self, db: sqlite3.Connection, spec: Mapping[str, Any]) -> None:
        self._db = db
        self.metric: str = spec["metric"]
        self.mode: str = spec["mode"]
        self.params: list[str] = list(spec["space"])
        self.seq = 0
        self._report_rowid = 0
        self._trials: dict[int, TrialRow] = {}
        self._decisions: deque[tuple[int, int, str, float]] = deque(maxlen=RECENT_DECISIONS)
        self._sorted: _Sorted | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------- updating

    def refresh(self) -> int:
        """Fold in what the writer committed since the last call; the newest ``seq``."""
        with self._lock, queries.snapshot(self._db):
            after = self.seq
            for seq, trial, kind, data in queries.events_after(self._db, after):
                self._fold(seq, trial, kind, data)
            for trial, until, seq in queries.steps_after(self._db, after):
                row = self._trials.get(trial)
                if row is not None and seq > row.step_seq and until is not None:
                    row.step, row.step_seq = until, seq
            self._decisions.extend(queries.decisions_after(self._db, after, RECENT_DECISIONS))
            rows, self._report_rowid = queries.latest_values_after(
                self._db, self._report_rowid, self.metric
            )
            for trial, value in rows:
                row = self._trials.get(trial)
                if row is not None:
                    row.value = finite(value)
            self.seq = max(after, queries.last_seq(self._db))
            return self.seq

    def _fold(self, seq: int, trial: int, kind: str, data: str) -> None:
        if kind == "TrialCreated":  # its config is decoded when first needed
            self._trials[trial] = TrialRow(trial, data)
            return
        row = self._trials.get(trial)
        if row is None:
            return
        values = json.loads(data)
        if kind == "Exploited":
            row.decoded = dict(values["config"])
            row.step, row.step_seq = values["step"], seq
        elif kind == "TrialFinished":
            row.state = values["state"]
            row.reason = values.get("reason", "")

    # ------------------------------------------------------------------------- reading

    def summary(self) -> dict[str, Any]:
        """Counts by state and the best completed trial so far."""
        with self._lock:
            counts = dict.fromkeys(STATES, 0)
            best: TrialRow | None = None
            for row in self._trials.values():
                counts[row.state] = counts.get(row.state, 0) + 1
                done = row.state == "completed" and row.value is not None
                if done and _better(row.value, None if best is None else best.value, self.mode):
                    best = row
            return {
                "seq": self.seq,
                "total": len(self._trials),
                "counts": counts,
                "best": None if best is None else {"id": best.id, "value": best.value},
            }

    def page(
        self,
        *,
        sort: str = "id",
        order: str = "asc",
        state: str = "",
        offset: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        """One page of the trials table, sorted by ``sort`` (id, state, step, value or a
        parameter's name); trials without a value (or the parameter) come last either way."""
        if sort not in ("id", "state", "step", "value", *self.params):
            raise ValueError(f"cannot sort by {sort!r}")
        if order not in ("asc", "desc"):
            raise ValueError(f"order must be asc or desc, not {order!r}")
        if state and state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        with self._lock:
            ids = self._order((sort, order, state))
            rows = [self._trials[i] for i in ids[offset : offset + limit]]
            return {
                "seq": self.seq,
                "total": len(ids),
                "offset": offset,
                "limit": limit,
                "rows": [self._row_json(row) for row in rows],
            }

    def _order(self, key: tuple[str, str, str]) -> list[int]:
        """Trial ids in the order asked for, cached until the store changes."""
        cached = self._sorted
        if cached is not None and cached.key == key and cached.seq == self.seq:
            return cached.ids
        sort, order, state = key
        rows = [r for r in self._trials.values() if not state or r.state == state]
        if sort in ("id", "state", "step", "value"):
            pick = lambda r: getattr(r, sort)  # noqa: E731
        else:
            pick = lambda r: r.config.get(sort)  # noqa: E731
        known = [r for r in rows if pick(r) is not None]
        missing = [r for r in rows if pick(r) is None]
        known.sort(key=lambda r: (_sortable(pick(r)), r.id), reverse=order == "desc")
        missing.sort(key=lambda r: r.id)
        ids = [r.id for r in known + missing]
        self._sorted = _Sorted(key, self.seq, ids)
        return ids

    def _row_json(self, row: TrialRow) -> dict[str, Any]:
        return {
            "id": row.id,
            "state": row.state,
            "step": row.step,
            "value": row.value,
            "reason": row.reason,
            "params": {name: _plain(row.config.get(name)) for name in self.params},
        }

    def decisions(self, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """The newest decisions after ``after`` (at most ``limit``), oldest first."""
        with self._lock:
            recent = [d for d in self._decisions if d[0] > after][-limit:]
        out = []
        for seq, trial, data, time in recent:
            values = json.loads(data)
            out.append(
                {
                    "seq": seq,
                    "trial": trial,
                    "kind": values.get("kind", ""),
                    "until": values.get("until"),
                    "reason": values.get("reason", ""),
                    "time": time,
                }
            )
        return out

    def curves(self, trials: list[int], *, after: int = 0) -> dict[str, list[list[Any]]]:
        """Learning curves of ``metric`` for ``trials`` from reports after ``after``."""
        with self._lock, queries.snapshot(self._db):
            found = queries.curves(self._db, trials, self.metric, after=after, upto=self.seq)
        return {
            str(trial): [[step, finite(value)] for step, value in points]
            for trial, points in found.items()
        }


def finite(value: Any) -> float | None:
    """The value if it is a finite number (JSON has no NaN or infinity), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _better(a: float, b: float | None, mode: str) -> bool:
    return b is None or (a < b if mode == "min" else a > b)


def _sortable(value: Any) -> tuple[int, Any]:
    """Numbers before strings, so mixed parameter values still sort."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value) if not math.isnan(value) else (2, 0)
    return (1, str(value))


def _plain(value: Any) -> Any:
    """A parameter value fit for JSON (non-finite floats become their name)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
