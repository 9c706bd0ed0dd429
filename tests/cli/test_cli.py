"""The command line: a whole study through `curvetune run`, its inspection commands, and one
clear line with exit status 2 for every kind of bad input."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import error_of, mpiexec, require_module, write_study

from curvetune.cli import main
from curvetune.events import SegmentFinished
from curvetune.study import Study
from curvetune.types import TrialState


def test_run_then_status_best_export_report(tmp_path, capsys):
    path, directory = write_study(tmp_path)
    assert main(["run", str(path), "--quiet"]) == 0
    assert "best trial" in capsys.readouterr().out
    assert main(["status", str(directory)]) == 0
    assert "completed" in capsys.readouterr().out
    assert main(["best", str(directory)]) == 0
    best = json.loads(capsys.readouterr().out)
    assert best["state"] == "completed" and set(best["config"]) >= {"x", "width", "kind"}
    assert main(["export", str(directory), "--format", "csv"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert len(rows) == 5 and rows[0].startswith("trial,state,steps,accuracy")
    out = tmp_path / "export.json"
    assert main(["export", str(directory), "--format", "json", "-o", str(out)]) == 0
    assert len(json.loads(out.read_text())["trials"]) == 4
    assert main(["report", str(directory)]) == 0
    names = sorted(p.name for p in (directory / "report").iterdir())
    assert names == ["best_so_far.png", "learning_curves.png", "report.html", "space_3d.png"]
    assert all((directory / "report" / n).stat().st_size > 10_000 for n in names)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda t: t + "\n[budget\n", "not valid TOML"),
        (lambda t: t + "\n[nonsense]\na = 1\n", "unknown section [nonsense]"),
        (lambda t: t.replace("seed = 3", "seed = 3\ncolour = 1"), "unknown key 'colour'"),
        (lambda t: t + '\n[searcher]\nname = "bayes"\n', "unknown searcher 'bayes'"),
        (lambda t: t + '\n[searcher]\nname = "grid"\npointz = 3\n', "unknown option 'pointz'"),
        (lambda t: t + '\n[scheduler]\nname = "magic"\n', "unknown scheduler 'magic'"),
        (lambda t: t.replace("high = 1.0", "high = -1.0"), "'x'"),
        (lambda t: t.replace("low = 8,", "low = 0,"), "'width'"),
        (lambda t: t.replace("curvetune.testing:synthetic", "nowhere.at.all:f"), "nowhere"),
        (lambda t: t.replace("curvetune.testing:synthetic", "curvetune.testing:nope"), "nope"),
        (lambda t: t.replace("trials = 4", "trials = 0"), "trials"),
        (lambda t: t.replace('name = "sequential"', 'name = "cloud"'), "unknown name 'cloud'"),
    ],
)
def test_bad_study_file_gets_one_line_and_exit_2(tmp_path, capsys, mutate, expected):
    path, _ = write_study(tmp_path)
    path.write_text(mutate(path.read_text()))
    assert expected in error_of(["run", str(path)], capsys)


def test_missing_study_file_and_directory(tmp_path, capsys):
    assert "no such study file" in error_of(["run", str(tmp_path / "none.toml")], capsys)
    assert "no study here" in error_of(["status", str(tmp_path)], capsys)


def test_corrupt_store_gets_one_line(tmp_path, capsys):
    path, directory = write_study(tmp_path)
    directory.mkdir(parents=True)
    (directory / "study.db").write_bytes(b"this is not a database at all" * 100)
    assert "not a readable curvetune study store" in error_of(["run", str(path)], capsys)
    assert "not a readable curvetune study store" in error_of(["status", str(directory)], capsys)


def test_store_of_another_version_gets_one_line(tmp_path, capsys):
    path, directory = write_study(tmp_path)
    assert main(["run", str(path), "--quiet"]) == 0
    capsys.readouterr()
    with sqlite3.connect(directory / "study.db") as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    assert "incompatible" in error_of(["run", str(path)], capsys)
    assert "incompatible" in error_of(["best", str(directory)], capsys)


def test_changed_study_in_same_directory_is_refused(tmp_path, capsys):
    path, _ = write_study(tmp_path)
    assert main(["run", str(path), "--quiet"]) == 0
    capsys.readouterr()
    path.write_text(path.read_text().replace("high = 1.0", "high = 2.0"))
    assert "different space" in error_of(["run", str(path)], capsys)


def test_objective_attribute_that_does_not_exist_is_refused_up_front(tmp_path, capsys):
    path, _ = write_study(tmp_path)
    path.write_text(path.read_text().replace("curvetune.testing:synthetic", "json:nope"))
    assert "nope" in error_of(["run", str(path)], capsys)


@pytest.mark.slow
@pytest.mark.parametrize(
    "executor", ["local", "batched", pytest.param("mpi", marks=pytest.mark.mpi)]
)
def test_kill_9_then_rerun_finishes_exact_budget(tmp_path, executor):
    """`kill -9` of the controller mid-study, then the same command: exactly the budgeted
    trials, no finished trial lost or re-run, interrupted trials continue from checkpoints.
    Under MPI the controller is rank 0, and losing it ends the whole job. Batched: batches
    of three members on two local workers, killed with batches in flight."""
    trials, steps = (8 if executor == "batched" else 6), 5  # batched: 6 run in lockstep
    path, directory = write_study(
        tmp_path, trials=trials, steps=steps, sleep=0.15, executor=executor
    )
    if executor == "batched":
        text = path.read_text().replace("testing:synthetic", "testing:batched_synthetic")
        path.write_text(text + "batch = 3\n")
    command = [sys.executable, "-m", "curvetune", "run", str(path), "--quiet"]
    if executor == "mpi":
        require_module("mpi4py")
        command = [mpiexec(), "-n", "3", *command]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        _wait_until(lambda: _progress(directory)[0] >= 2 and _progress(directory)[1], timeout=60)
    finally:
        os.kill(proc.pid if executor != "mpi" else _rank_0(proc.pid), signal.SIGKILL)
        proc.wait(timeout=60)
    before = Study.load(directory)
    done_before = {t.id: t for t in before.history.trials.values() if t.state.finished}
    running_before = {t.id: t.checkpoint_step for t in before.history.running()}
    before.close()
    assert done_before and running_before
    time.sleep(1.0)  # let orphaned workers notice their parent is gone

    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, timeout=120)
    after = Study.load(directory)
    history = after.history
    assert sorted(history.trials) == list(range(trials))
    assert all(t.state is TrialState.COMPLETED for t in history.trials.values())
    for trial_id, trial in done_before.items():
        assert history[trial_id] == trial  # untouched
    segments: dict[int, list[tuple[int, int]]] = {}
    for event in after.store.events():
        if isinstance(event, SegmentFinished):
            segments.setdefault(event.trial, []).append((event.start, event.until))
    for trial_id, checkpoint in running_before.items():
        # Everything up to the stored checkpoint was kept; training went on from there.
        resumed = [s for s in segments[trial_id] if s[0] >= checkpoint]
        assert resumed[0][0] == checkpoint
    assert any(checkpoint > 0 for checkpoint in running_before.values())
    for trial_id in history.trials:
        state = json.loads((after.checkpoints.dir_for(trial_id, steps) / "state.json").read_text())
        assert state["trained"] == list(range(1, steps + 1))  # no step skipped or repeated
        if executor == "batched":
            assert max(state["batches"]) > 1  # trained with others


def _rank_0(launcher: int) -> int:
    """The process id of MPI rank 0 among mpiexec's descendants."""
    for entry in Path("/proc").iterdir():
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            parents = _ancestors(int(entry.name))
        except (OSError, ValueError):
            continue
        if launcher in parents and b"PMI_RANK=0" in environ:
            return int(entry.name)
    raise AssertionError("no rank 0 found under mpiexec")


def _ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        stat = Path(f"/proc/{pid}/stat").read_text()
        pid = int(stat.rsplit(")", 1)[1].split()[1])
        chain.append(pid)
    return chain


def _progress(directory: Path) -> tuple[int, int]:
    """(finished trials, checkpoints saved by unfinished trials), read as a bystander."""
    finished = "SELECT trial FROM events WHERE kind = 'TrialFinished'"
    try:
        with sqlite3.connect(f"file:{directory / 'study.db'}?mode=ro", uri=True) as db:
            done = db.execute(f"SELECT COUNT(*) FROM ({finished})").fetchone()[0]
            saved = db.execute(
                "SELECT COUNT(*) FROM events WHERE kind = 'CheckpointSaved' "
                f"AND trial NOT IN ({finished})"
            ).fetchone()[0]
            return done, min(saved, 1)
    except sqlite3.Error:
        return 0, 0


def _wait_until(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


MNIST_BATCHED_STUDY = """
[study]
objective = "curvetune.models.mnist:train"
metric = "val_accuracy"
directory = "{directory}"
seed = 5

[budget]
trials = 6
steps = 6

[space]
lr = {{ type = "float", low = 0.01, high = 0.2, log = true }}

[fixed]
hidden = 16
max_train = 512
iters_per_step = 16

[executor]
name = "batched"
batch = 2
workers = 2
"""


@pytest.mark.slow
def test_kill_9_with_mnist_batches_in_flight_then_rerun_trains_every_step_once(tmp_path):
    """The bundled MNIST trainable, stacked two members a call: killed while batches train,
    the rerun resumes each member from its own checkpoint (saved from the stacked state),
    and every member's curve has each step once, at the iteration it should."""
    directory = tmp_path / "runs" / "mnist"
    path = tmp_path / "study.toml"
    path.write_text(MNIST_BATCHED_STUDY.format(directory=directory))
    command = [sys.executable, "-m", "curvetune", "run", str(path), "--quiet"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CURVETUNE_THREADS": "1"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    try:
        _wait_until(lambda: _progress(directory)[1], timeout=120)  # a checkpoint is stored
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    time.sleep(1.0)  # let orphaned workers notice their parent is gone
    before = Study.load(directory)
    resumed_from = {t.id: t.checkpoint_step for t in before.history.running()}
    before.close()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, timeout=300)
    after = Study.load(directory)
    trials = after.history.trials.values()
    assert all(t.state is TrialState.COMPLETED for t in trials)
    assert any(step > 0 for step in resumed_from.values())  # resumed mid-training
    for trial in trials:
        steps, iterations = trial.curve("iteration")
        assert steps == list(range(1, 7))
        assert iterations == [16.0 * s for s in steps]
    after.close()
