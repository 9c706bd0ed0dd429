"""The SQLite store keeps every event exactly, atomically, and readable by bystanders."""

import numpy as np
import pytest

from curvetune.checkpoints import CheckpointStore
from curvetune.events import (
    CheckpointSaved,
    Decided,
    Exploited,
    SegmentFinished,
    SegmentLost,
    TrialCreated,
    TrialFinished,
    apply,
    replay,
)
from curvetune.storage import MemoryStore, SqliteStore, StoreError
from curvetune.types import History, Report, TrialState

EVENTS = [
    TrialCreated(0, {"lr": 0.1, "arch": "mlp", "hidden": [64, 32]}, 12345),
    Decided(0, "Continue", until=2),
    SegmentFinished(0, 0, 2, "ok", (Report(1, {"acc": 0.5}), Report(2, {"acc": 0.7})), "", 0.1),
    CheckpointSaved(0, 2),
    Decided(0, "Stop", reason="worse than 90% of finished trials", details={"rank": 0.95}),
    TrialFinished(0, TrialState.STOPPED, "worse than 90% of finished trials"),
    TrialCreated(1, {"lr": 0.2}, 7),
    SegmentLost(1, 1, "TerminatedWorkerError: killed"),
    SegmentFinished(1, 0, 1, "error", (), "Traceback ...\nValueError: boom", 0.01),
    TrialFinished(1, TrialState.FAILED, "ValueError: boom"),
    TrialCreated(2, {"lr": 0.3}, 8),
    Exploited(2, 0, 2, {"lr": 0.24}),
]


def test_sqlite_round_trip_is_exact(tmp_path):
    store = SqliteStore(tmp_path / "study.db")
    store.set_spec({"objective": "m:f", "space": {"b": {"type": "float"}, "a": [1, 2]}})
    store.append(EVENTS[:5])
    store.append(EVENTS[5:])
    store.close()
    again = SqliteStore(tmp_path / "study.db")
    assert list(again.events()) == EVENTS
    assert list(again.spec()["space"]) == ["b", "a"]  # parameter order survives


def test_memory_and_sqlite_rebuild_the_same_history(tmp_path):
    histories = []
    for store in (MemoryStore(), SqliteStore(tmp_path / "s.db")):
        store.append(EVENTS)
        histories.append(replay(History(metric="acc", mode="max", max_steps=4), store.events()))
    assert histories[0].trials == histories[1].trials
    trial = histories[0][0]
    assert trial.state is TrialState.STOPPED and trial.step == 2 and trial.checkpoint_step == 2
    assert histories[0][2].config == {"lr": 0.24} and histories[0][2].step == 2


def test_numpy_values_in_decision_details_are_stored_as_json(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    store.append([Decided(0, "Stop", details={"distance": np.float64(0.5), "ids": np.arange(3)})])
    (event,) = store.events()
    assert event.details == {"distance": 0.5, "ids": [0, 1, 2]}


def test_failed_append_leaves_nothing_behind(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    store.append(EVENTS[:2])
    with pytest.raises(TypeError):
        store.append([EVENTS[2], Decided(0, "Stop", details={"x": object()})])
    assert list(store.events()) == EVENTS[:2]


def test_reader_sees_what_the_writer_committed(tmp_path):
    writer = SqliteStore(tmp_path / "s.db")
    writer.append(EVENTS[:3])
    reader = SqliteStore(tmp_path / "s.db", readonly=True)
    assert len(list(reader.events())) == 3
    writer.append(EVENTS[3:])
    assert len(list(reader.events())) == len(EVENTS)
    with pytest.raises(Exception):  # noqa: B017 - sqlite's read-only error
        reader._db.execute("INSERT INTO meta VALUES ('x', 'y')")


def test_missing_or_foreign_files_are_refused(tmp_path):
    with pytest.raises(StoreError, match="no study store"):
        SqliteStore(tmp_path / "none.db", readonly=True)
    import sqlite3

    with sqlite3.connect(tmp_path / "other.db") as db:
        db.execute("CREATE TABLE people (name TEXT)")
    with pytest.raises(StoreError, match="not a curvetune study store"):
        SqliteStore(tmp_path / "other.db")


def test_segment_after_a_rerun_replaces_the_lost_reports():
    history = History(metric="acc", mode="max", max_steps=4)
    apply(history, TrialCreated(0, {}, 1))
    apply(history, SegmentFinished(0, 0, 3, "ok", tuple(Report(s, {"acc": s}) for s in (1, 2, 3))))
    apply(history, SegmentFinished(0, 1, 2, "ok", (Report(2, {"acc": 20}),)))
    assert [(r.step, r.metrics["acc"]) for r in history[0].reports] == [(1, 1), (2, 20)]


def test_checkpoint_store_gc_keeps_only_what_is_named(tmp_path):
    store = CheckpointStore(tmp_path)
    for trial, step in [(0, 1), (0, 2), (1, 1), (2, 3)]:
        store.dir_for(trial, step).mkdir(parents=True)
        (store.dir_for(trial, step) / "w").write_text("x")
    store.gc({0: 2, 2: None})
    assert store.steps(0) == [2]
    assert store.steps(1) == [] and store.steps(2) == []
    clone = store.clone(0, 2, 5, 2)
    assert (clone / "w").read_text() == "x" and store.latest(5) == 2
