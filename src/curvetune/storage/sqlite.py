"""The SQLite study store: ``<study_dir>/study.db`` in WAL mode.

One table of events (the log the study is rebuilt from) and one of reports (so that status,
export and plots can query curves without decoding the log). Each ``append`` is one
transaction, so a ``kill -9`` leaves the store at a clean event boundary. WAL lets readers
(``curvetune status``, the dashboard) look while the controller writes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..events import EVENT_TYPES, Event, SegmentFinished
from ..types import Report, TrialState

SCHEMA_VERSION = 1
FORMAT = "curvetune-study"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    trial INTEGER,
    kind TEXT NOT NULL,
    data TEXT NOT NULL,
    time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    seq INTEGER NOT NULL,
    trial INTEGER NOT NULL,
    step INTEGER NOT NULL,
    metrics TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_by_trial ON reports (trial, seq);
"""


class StoreError(Exception):
    """The store cannot be used: corrupt, not ours, or written by another schema version."""


class SqliteStore:
    """Append-only event log in SQLite. ``readonly`` opens it for looking only."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        if readonly and not self.path.exists():
            raise StoreError(f"no study store at {self.path}")
        try:
            if readonly:
                uri = f"file:{self.path.resolve()}?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, isolation_level=None)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._check_or_init(readonly)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{self.path} is not a readable curvetune study store ({exc})"
            ) from None

    def _check_or_init(self, readonly: bool) -> None:
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        if "meta" not in tables:
            if readonly or tables:
                raise StoreError(f"{self.path} is an SQLite file but not a curvetune study store")
            self._db.executescript(_SCHEMA)
            self._set_meta({"format": FORMAT, "schema_version": str(SCHEMA_VERSION)})
            return
        meta = dict(self._db.execute("SELECT key, value FROM meta"))
        if meta.get("format") != FORMAT:
            raise StoreError(f"{self.path} is an SQLite file but not a curvetune study store")
        version = meta.get("schema_version")
        if version != str(SCHEMA_VERSION):
            raise StoreError(
                f"{self.path} was written by an incompatible curvetune "
                f"(store schema {version}; this version reads schema {SCHEMA_VERSION})"
            )

    def _set_meta(self, values: Mapping[str, str]) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", values.items()
            )

    def _transaction(self):
        return _Transaction(self._db)

    # --------------------------------------------------------------------------- protocol

    def spec(self) -> Mapping[str, Any] | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'spec'").fetchone()
        return json.loads(row[0]) if row else None

    def set_spec(self, spec: Mapping[str, Any]) -> None:
        self._set_meta({"spec": json.dumps(spec)})

    def append(self, events: Sequence[Event]) -> None:
        now = time.time()
        seq = self._next_seq()
        rows, reports = [], []
        for event in events:
            rows.append((seq, event.trial, type(event).__name__, _encode(event), now))
            if type(event) is SegmentFinished:
                reports.extend(
                    (seq, event.trial, r.step, json.dumps(r.metrics)) for r in event.reports
                )
            seq += 1
        with self._transaction():
            self._db.executemany(
                "INSERT INTO events (seq, trial, kind, data, time) VALUES (?, ?, ?, ?, ?)", rows
            )
            if reports:
                self._db.executemany(
                    "INSERT INTO reports (seq, trial, step, metrics) VALUES (?, ?, ?, ?)", reports
                )

    def _next_seq(self) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM events").fetchone()
        return row[0]

    def events(self) -> Iterator[Event]:
        reports: dict[int, list[Report]] = {}
        for seq, step, metrics in self._db.execute(
            "SELECT seq, step, metrics FROM reports ORDER BY rowid"
        ):
            reports.setdefault(seq, []).append(Report(step, json.loads(metrics)))
        rows = self._db.execute("SELECT seq, trial, kind, data FROM events ORDER BY seq")
        for seq, trial, kind, data in rows.fetchall():
            yield _decode(kind, trial, data, tuple(reports.get(seq, ())))

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ queries for readers

    def event_rows(self) -> list[tuple[int, int | None, str, dict[str, Any], float]]:
        """(seq, trial, kind, data, time) of every event, for reports and exports."""
        return [
            (seq, trial, kind, json.loads(data), t)
            for seq, trial, kind, data, t in self._db.execute(
                "SELECT seq, trial, kind, data, time FROM events ORDER BY seq"
            )
        ]


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


def _encode(event: Event) -> str:
    """The event's fields as JSON, less ``trial`` (a column) and ``reports`` (a table)."""
    data = {name: getattr(event, name) for name in _stored_fields(type(event))}
    if "state" in data:
        data["state"] = data["state"].value
    return json.dumps(data, default=_plain)


@functools.cache
def _stored_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("trial", "reports"))


def _plain(value: Any) -> Any:
    """JSON for what decisions carry besides plain types: numpy values, mappings, tuples."""
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot store {type(value).__name__} in the study log")


def _decode(kind: str, trial: int, data: str, reports: tuple[Report, ...]) -> Event:
    cls = EVENT_TYPES.get(kind)
    if cls is None:
        raise StoreError(f"unknown event kind {kind!r} in the store")
    values = json.loads(data)
    values["trial"] = trial
    if cls is SegmentFinished:
        values["reports"] = reports
    if "state" in values:
        values["state"] = TrialState(values["state"])
    return cls(**values)
