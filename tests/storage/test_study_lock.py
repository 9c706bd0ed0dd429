"""One controller per study directory: a second is refused with one line naming the holder,
a killed holder never blocks the rerun, readers never take the lock, and two stores that
append at once never collide on the event sequence."""

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from conftest import one_error_line, write_study

from curvetune.cli import main
from curvetune.events import SegmentFinished, TrialCreated
from curvetune.storage import SqliteStore, StudyLock, StudyLockedError
from curvetune.study import Study


def test_a_second_controller_is_refused_naming_pid_and_host(tmp_path, capsys):
    path, directory = write_study(tmp_path)
    assert main(["run", str(path), "--quiet", "--trials", "2"]) == 0
    capsys.readouterr()
    with StudyLock(directory):  # another controller holds the study
        assert main(["run", str(path), "--quiet"]) == 2
        line = one_error_line(capsys)
        assert f"pid {os.getpid()}" in line and socket.gethostname() in line
        assert "in use by another curvetune run" in line
        # Readers never take the lock.
        for command in (["status"], ["best"], ["export"], ["report"]):
            assert main([*command, str(directory)]) == 0, command
    assert len(Study.load(directory).history) == 2  # the refused run changed nothing


def test_the_python_api_takes_the_same_lock(make_study):
    study = make_study()
    with StudyLock(study.directory), pytest.raises(StudyLockedError, match="in use"):
        study.optimize(trials=2, executor="sequential", progress=False)
    study.optimize(trials=2, executor="sequential", progress=False)
    assert len(study.history) == 2


def test_a_killed_holder_never_blocks_the_rerun(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from curvetune.storage import StudyLock; "
            "StudyLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(StudyLockedError, match=f"pid {holder.pid}"):
        StudyLock(tmp_path).acquire()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    with StudyLock(tmp_path) as lock:  # the OS released it with the process
        assert lock.held


def test_a_study_that_another_run_continued_is_reread_before_running(make_study):
    """A Study opened before another run wrote to its directory must not act on its stale
    history: it reads the store again once it holds the lock."""
    first = make_study()
    second = make_study()  # opened now, before the first run
    first.optimize(trials=3, executor="sequential", progress=False)
    second.optimize(trials=5, executor="sequential", progress=False)
    events = list(second.store.events())
    assert sum(isinstance(e, TrialCreated) for e in events) == 5


def test_two_stores_appending_at_once_never_collide_on_seq(tmp_path):
    """The next sequence number is read inside the write transaction."""
    path = tmp_path / "study.db"
    SqliteStore(path).close()
    errors: list[BaseException] = []

    def write(trial: int) -> None:
        store = SqliteStore(path)
        try:
            for step in range(150):
                store.append([SegmentFinished(trial, step, step + 1, "ok")])
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(t,)) for t in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[0]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*), MAX(seq) FROM events").fetchone() == (450, 450)


@pytest.mark.slow
def test_two_cli_controllers_at_once_one_refused_one_finishes_the_budget(tmp_path):
    trials, steps = 4, 3
    path, directory = write_study(tmp_path, trials=trials, steps=steps, sleep=0.1, executor="local")
    command = [sys.executable, "-m", "curvetune", "run", str(path), "--quiet"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (directory / "study.lock").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    second = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert second.returncode == 2, second.stderr
    assert len(second.stderr.strip().splitlines()) == 1
    assert f"pid {first.pid}" in second.stderr
    assert first.wait(timeout=120) == 0, first.stderr.read()
    study = Study.load(directory)
    events = list(study.store.events())
    assert sum(isinstance(e, TrialCreated) for e in events) == trials
    segments = [(e.trial, e.until) for e in events if isinstance(e, SegmentFinished)]
    assert sorted(segments) == [(t, s) for t in range(trials) for s in range(1, steps + 1)]
    holder = json.loads((directory / "study.lock").read_text())
    assert holder["pid"] == first.pid
