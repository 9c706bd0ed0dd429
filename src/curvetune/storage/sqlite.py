"""The SQLite study store: ``<study_dir>/study.db`` in WAL mode.

One table of events (the log the study is rebuilt from) and one of reports (so that status,
export and plots can query curves without decoding the log). Each ``append`` is one
transaction, so a ``kill -9`` leaves the store at a clean event boundary. WAL lets readers
(``curvetune status``, the dashboard) look while the controller writes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..events import Event, SegmentFinished
from ..types import Report
from .codec import decode_event, decode_json, encode_event, encode_metrics

SCHEMA_VERSION = 1
_CHUNK = 2048  # event rows read at a time while replaying
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
                self._db = _open_for_reading(self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(
                    # One writer at a time (the controller's thread, or ask/tell under its
                    # lock), but not always the thread that opened the store.
                    self.path,
                    isolation_level=None,
                    check_same_thread=False,
                )
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._check_or_init(readonly)
        except sqlite3.DatabaseError as exc:
            if not readonly and _is_storage_fault(exc):
                raise storage_error(self.path, exc) from None
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
        return _Transaction(self._db, self.path)

    # --------------------------------------------------------------------------- protocol

    def spec(self) -> Mapping[str, Any] | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'spec'").fetchone()
        return json.loads(row[0]) if row else None

    def set_spec(self, spec: Mapping[str, Any]) -> None:
        self._set_meta({"spec": json.dumps(spec)})

    def append(self, events: Sequence[Event]) -> None:
        now = time.time()
        with self._transaction():
            seq = self._next_seq()  # inside the write transaction: no other writer between
            rows, reports = [], []
            for event in events:
                rows.append((seq, event.trial, type(event).__name__, encode_event(event), now))
                if type(event) is SegmentFinished:
                    reports.extend(
                        (seq, event.trial, r.step, encode_metrics(r.metrics)) for r in event.reports
                    )
                seq += 1
            self._db.executemany(
                "INSERT INTO events (seq, trial, kind, data, time) VALUES (?, ?, ?, ?, ?)", rows
            )
            if reports:
                self._db.executemany(
                    "INSERT INTO reports (seq, trial, step, metrics) VALUES (?, ?, ?, ?)", reports
                )

    def _next_seq(self) -> int:
        return self.last_seq() + 1

    def last_seq(self) -> int:
        """The sequence number of the newest event (0 for none): what a reader has seen."""
        return self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]

    def has_results(self) -> bool:
        """Whether any segment came back (with or without reports): a study with results
        can no longer change what it is."""
        row = self._db.execute(
            "SELECT 1 FROM events WHERE kind = 'SegmentFinished' LIMIT 1"
        ).fetchone()
        return row is not None

    def reset(self, spec: Mapping[str, Any]) -> None:
        """Replace the description of a study that has no results yet, forgetting its
        trials (a typo in the objective or the metric fixed before anything trained)."""
        with self._transaction():
            if self.has_results():
                raise StoreError(f"{self.path}: the study has results; it cannot be reset")
            self._db.execute("DELETE FROM events")
            self._db.execute("DELETE FROM reports")
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('spec', ?)", (json.dumps(spec),)
            )

    def events(self, *, facts_only: bool = False) -> Iterator[Event]:
        """Every event in order, streamed: events and their reports are read side by side
        (both tables are in sequence order), so replaying a study holds one chunk of rows
        at a time, not the whole log. ``facts_only`` leaves out the decisions' explanations
        (``Decided``), which a ``History`` does not fold in: half of a study's rows."""
        where = "WHERE kind != 'Decided' " if facts_only else ""
        rows = self._db.execute(f"SELECT seq, trial, kind, data FROM events {where}ORDER BY seq")
        reports = _rows(
            self._db.execute("SELECT rowid, seq, step, metrics FROM reports ORDER BY rowid")
        )
        pending = next(reports, None)
        while chunk := rows.fetchmany(_CHUNK):
            for seq, trial, kind, data in chunk:
                mine: tuple[Report, ...] = ()
                while pending is not None and pending[1] <= seq:
                    if pending[1] == seq:
                        mine += (self._report(pending),)
                    pending = next(reports, None)
                try:
                    yield decode_event(kind, trial, data, mine)
                except (ValueError, TypeError, KeyError) as exc:
                    raise StoreError(
                        f"{self.path}: event {seq} ({kind}, trial {trial}) cannot be read: "
                        f"{type(exc).__name__}: {exc}"
                    ) from None

    def _report(self, row: tuple[int, int, int, str]) -> Report:
        rowid, seq, step, metrics = row
        try:
            return Report(step, decode_json(metrics))
        except (ValueError, TypeError) as exc:
            raise StoreError(
                f"{self.path}: report row {rowid} (event {seq}) cannot be read: {exc}"
            ) from None

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


def _open_for_reading(path: Path) -> sqlite3.Connection:
    """A read-only connection. On a read-only file system SQLite cannot make the WAL's
    shared-memory file, so there the store is opened as immutable: nothing can write it."""
    uri = f"file:{path.resolve()}?mode=ro"
    db = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
    except sqlite3.OperationalError:
        if os.access(path.parent, os.W_OK) and not _read_only_mount(path.parent):
            raise
        db.close()
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:  # immutable would not see what it holds
            raise StoreError(
                f"{path}: its newest writes are still in {wal.name} and the directory is "
                "read-only, so SQLite cannot read them; copy the directory somewhere "
                "writable and look there"
            ) from None
        db = sqlite3.connect(uri + "&immutable=1", uri=True, isolation_level=None)
    return db


def _read_only_mount(directory: Path) -> bool:
    try:
        return bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows)
        return False


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; a disk that refuses the write is a ``StoreError``."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self._path = path

    def __enter__(self) -> None:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise storage_error(self._path, exc) from None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            self._rollback()
            if issubclass(exc_type, sqlite3.OperationalError) and _is_storage_fault(exc):
                raise storage_error(self._path, exc) from None
            return False
        try:
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as error:
            self._rollback()
            raise storage_error(self._path, error) from None
        return False

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
            self._db.execute("ROLLBACK")


_STORAGE_FAULTS = ("SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN")


def _is_storage_fault(exc: BaseException) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    return name.startswith(_STORAGE_FAULTS) or any(
        phrase in text for phrase in ("readonly database", "disk is full", "unable to open")
    )


def storage_error(path: str | Path, exc: BaseException) -> StoreError:
    """One line for a store the disk will not let us write: what, where, what to do."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    where = Path(path)
    if name.startswith("SQLITE_FULL") or "disk is full" in str(exc):
        return StoreError(
            f"the disk holding {where} is full; nothing stored is lost: free some space "
            "and run the same command again"
        )
    read_only = name.startswith("SQLITE_READONLY") or "readonly" in str(exc)
    if read_only or not os.access(where.parent, os.W_OK) or _read_only_mount(where.parent):
        return StoreError(
            f"cannot write the study store {where} (read-only); make {where.parent} "
            "writable and run the same command again (status, export and report -o "
            "ELSEWHERE can still read it)"
        )
    return StoreError(f"cannot write the study store {where}: {exc}; run the same command again")


def _rows(cursor: sqlite3.Cursor) -> Iterator[tuple]:
    """A cursor's rows, fetched a chunk at a time."""
    while chunk := cursor.fetchmany(_CHUNK):
        yield from chunk
