"""Read-only SQL over a study store, for the dashboard.

Every helper takes a connection opened by ``connect`` (``mode=ro``, autocommit) and reads
its rows to the end, so no read transaction outlives a call: the controller, the only
writer, is never blocked, and WAL checkpoints are never held back for long. ``snapshot``
groups a few reads into one short, consistent read transaction.

Nothing here decodes the whole event log: callers ask for what came after a ``seq`` (or a
``reports`` rowid) they already have, and curves come from ``reports`` through its
``(trial, seq)`` index.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..storage import SqliteStore, StoreError

# The event kinds the dashboard folds into its trial table one by one (they are few: at most
# a few per trial); segments and decisions, the bulk of the log, are read in aggregate.
KINDS = ("TrialCreated", "Exploited", "TrialFinished")


def check_store(path: Path) -> Mapping[str, Any]:
    """The study's spec, after checking ``path`` is a readable curvetune store of this
    schema (``StoreError`` otherwise, with the same words as every other command)."""
    store = SqliteStore(path, readonly=True)
    try:
        spec = store.spec()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} cannot be read ({exc})") from None
    finally:
        store.close()
    if spec is None:
        raise StoreError(f"{path.parent} holds no study yet")
    return spec


def connect(path: Path) -> sqlite3.Connection:
    """A read-only connection (``file:...?mode=ro``) that any thread may use under a lock."""
    uri = f"file:{path.resolve()}?mode=ro"
    db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout=5000")
    db.execute("PRAGMA query_only=ON")
    return db


@contextlib.contextmanager
def snapshot(db: sqlite3.Connection) -> Iterator[None]:
    """One short read transaction, so reads of ``events`` and ``reports`` agree."""
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")


def last_seq(db: sqlite3.Connection) -> int:
    return db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]


def events_after(db: sqlite3.Connection, seq: int) -> list[tuple[int, int, str, str]]:
    """(seq, trial, kind, data JSON) of the events of ``KINDS`` after ``seq``."""
    marks = ", ".join("?" * len(KINDS))
    return db.execute(
        f"SELECT seq, trial, kind, data FROM events WHERE seq > ? AND kind IN ({marks}) "
        "ORDER BY seq",
        (seq, *KINDS),
    ).fetchall()


def steps_after(db: sqlite3.Connection, seq: int) -> list[tuple[int, int, int]]:
    """Per trial, (trial, until, seq) of its newest successful segment after ``seq``.

    ``json_extract`` runs only on valid JSON (``CASE`` is lazy): a value SQLite's JSON
    cannot read (NaN) costs that row, never the query."""
    return db.execute(
        "SELECT trial, CASE WHEN json_valid(data) THEN json_extract(data, '$.until') END, "
        "MAX(seq) FROM events WHERE seq > ? AND kind = 'SegmentFinished' "
        "AND CASE WHEN json_valid(data) THEN json_extract(data, '$.status') END = 'ok' "
        "GROUP BY trial",
        (seq,),
    ).fetchall()


def decisions_after(
    db: sqlite3.Connection, seq: int, limit: int
) -> list[tuple[int, int, str, float]]:
    """(seq, trial, data JSON, time) of the newest ``limit`` decisions after ``seq``, oldest
    first (read backwards along the primary key, so old decisions cost nothing)."""
    rows = db.execute(
        "SELECT seq, trial, data, time FROM events WHERE seq > ? AND kind = 'Decided' "
        "ORDER BY seq DESC LIMIT ?",
        (seq, limit),
    ).fetchall()
    return rows[::-1]


def latest_values_after(
    db: sqlite3.Connection, rowid: int, metric: str
) -> tuple[list[tuple[int, Any]], int]:
    """Per trial, the value of ``metric`` in its newest report after ``rowid`` that names
    it: (trial, value) pairs, and the newest rowid read.

    SQLite takes the bare columns from the row of ``MAX(rowid)``; ``instr`` tests for the
    key without parsing. A report SQLite's JSON cannot read (NaN, infinity) gives None,
    which is what the dashboard shows for a value that is not a finite number anyway."""
    top = db.execute("SELECT COALESCE(MAX(rowid), 0) FROM reports").fetchone()[0]
    plain = '"' not in metric  # else no JSON path can name it: decode here instead
    column = (
        "CASE WHEN json_valid(metrics) THEN json_extract(metrics, ?) END" if plain else "metrics"
    )
    rows = db.execute(
        f"SELECT trial, {column}, MAX(rowid) FROM reports "
        "WHERE rowid > ? AND rowid <= ? AND instr(metrics, ?) > 0 GROUP BY trial",
        ((f'$."{metric}"',) if plain else ()) + (rowid, top, json.dumps(metric)),
    ).fetchall()
    if not plain:
        rows = [(trial, json.loads(metrics).get(metric), _) for trial, metrics, _ in rows]
    return [(trial, value) for trial, value, _ in rows], top


def curves(
    db: sqlite3.Connection, trials: Iterable[int], metric: str, *, after: int = 0, upto: int
) -> dict[int, list[list[float]]]:
    """``[[step, value], ...]`` of ``metric`` per trial, from reports of events in
    ``(after, upto]``, in the order they were reported (one point per step: see ``merge``)."""
    ids = sorted(set(trials))
    out: dict[int, list[list[float]]] = {trial: [] for trial in ids}
    if not ids:
        return out
    marks = ", ".join("?" * len(ids))
    rows = db.execute(
        f"SELECT trial, step, metrics FROM reports WHERE trial IN ({marks}) "
        "AND seq > ? AND seq <= ? ORDER BY trial, seq, rowid",
        (*ids, after, upto),
    ).fetchall()
    for trial, step, metrics in rows:
        value = json.loads(metrics).get(metric)
        if value is not None:
            merge(out[trial], step, value)
    return out


def merge(points: list[list[float]], step: int, value: float) -> None:
    """Add a report to a curve as ``events.apply`` would: a report of step ``s`` replaces
    what was reported for steps ``>= s`` (the last report of a step, or a rerun segment)."""
    while points and points[-1][0] >= step:
        points.pop()
    points.append([step, value])
