"""A disk that refuses writes (full, read-only) ends a run with one line and exit 2, the
store intact, and the same command continues once the cause is fixed. A checkpoint that
cannot be written is the disk's fault, not the trial's: retried, then the study stops."""

import errno
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import one_error_line, require, write_study

from curvetune.cli import main
from curvetune.control import StudyHalted
from curvetune.events import SegmentLost
from curvetune.space import Float
from curvetune.storage import SqliteStore, StoreError
from curvetune.study import Study
from curvetune.testing import synthetic
from curvetune.types import TrialState
from curvetune.worker import SegmentContext, is_unwritable_disk, run_segment


def test_a_full_store_is_one_line_and_nothing_is_lost(tmp_path):
    store = SqliteStore(tmp_path / "study.db")
    store.append([SegmentLost(0, 1, "x")])
    store._db.execute("PRAGMA max_page_count = 1")  # what a full disk looks like to SQLite
    with pytest.raises(StoreError, match="is full") as caught:
        store.append([SegmentLost(0, 2, "y" * 100_000)])
    assert "\n" not in str(caught.value)
    store.close()
    assert [e.attempt for e in SqliteStore(tmp_path / "study.db").events()] == [1]


def test_a_bad_event_row_names_the_file_and_the_row(tmp_path, capsys):
    path, directory = write_study(tmp_path)
    assert main(["run", str(path), "--quiet"]) == 0
    capsys.readouterr()
    with sqlite3.connect(directory / "study.db") as db:
        db.execute("UPDATE events SET data = '{not json' WHERE seq = 3")
    assert main(["status", str(directory)]) == 2
    line = one_error_line(capsys)
    assert str(directory / "study.db") in line and "event 3" in line


def test_disk_errors_are_recognised_through_torch_and_oserror():
    assert is_unwritable_disk(OSError(errno.ENOSPC, "No space left on device"))
    torch_full = RuntimeError(
        "[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534"
    )
    assert is_unwritable_disk(torch_full)
    wrapped = ValueError("saving failed")
    wrapped.__cause__ = OSError(errno.EDQUOT, "Disk quota exceeded")
    assert is_unwritable_disk(wrapped)
    assert not is_unwritable_disk(ValueError("lr must be > 0"))
    assert not is_unwritable_disk(OSError(errno.ENOENT, "No such file"))


class FlakyDisk:
    """``synthetic``, whose checkpoint writes fail with ENOSPC while ``full`` is set."""

    def __init__(self) -> None:
        self.full = False

    def __call__(self, config, ctx: SegmentContext) -> None:
        synthetic(config, ctx)
        if self.full and ctx.checkpoint_out is not None:
            raise OSError(errno.ENOSPC, "No space left on device", ctx.checkpoint_out)


def test_an_unwritable_checkpoint_is_retried_then_stops_the_study(tmp_path):
    disk = FlakyDisk()
    study = Study.create(
        objective=disk,
        space={"x": Float(0.0, 1.0)},
        metric="accuracy",
        max_steps=4,
        directory=tmp_path / "s",
    )
    disk.full = True
    with pytest.raises(StudyHalted, match="disk is full or read-only") as caught:
        study.optimize(trials=3, scheduler="asha", executor="sequential", progress=False)
    assert "\n" not in str(caught.value)
    # Nothing was charged to the trials: none failed, the budget is intact.
    assert all(t.state is TrialState.RUNNING for t in study.history.trials.values())
    lost = [e for e in study.store.events() if isinstance(e, SegmentLost)]
    assert [e.attempt for e in lost] == [1, 2, 3]  # retried max_retries times first
    disk.full = False
    history = study.optimize(trials=3, scheduler="asha", executor="sequential", progress=False)
    assert len(history) == 3 and all(t.state.finished for t in history.trials.values())
    assert not any(t.state is TrialState.FAILED for t in history.trials.values())


def test_a_segment_on_a_full_disk_says_unwritable(tmp_path):
    disk = FlakyDisk()
    disk.full = True
    out = tmp_path / "c" / "0" / "1"
    result = run_segment(disk, {"x": 0.3}, SegmentContext(0, 1, 0, 1, None, str(out)))
    assert result.status == "unwritable"
    assert str(out) in result.error and "MiB free" in result.error
    assert not out.exists()  # the half-written checkpoint is gone


# ------------------------------------------------------------------ a real small file system


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs (root only: CI runs as root, so there it must work)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True
    )
    require(done.returncode == 0, f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave: int) -> Path:
    """A file that takes all but ``leave`` bytes of the disk."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    filler.write_bytes(bytes(max(0, free - leave)))
    return filler


def _study_on(disk: Path, tmp_path: Path, **extra) -> tuple[Path, Path]:
    path, _ = write_study(tmp_path, trials=4, steps=3)
    directory = disk / "study"
    text = path.read_text().replace(str(tmp_path / "runs" / "s"), str(directory))
    for key, value in extra.items():
        text = text.replace("[fixed]\n", f"[fixed]\n{key} = {value}\n")
    path.write_text(text)
    return path, directory


@pytest.mark.slow
def test_a_read_only_study_directory_is_one_line_then_resumes(small_disk, tmp_path, capsys):
    path, directory = _study_on(small_disk, tmp_path)
    assert main(["run", str(path), "--quiet", "--trials", "2"]) == 0
    capsys.readouterr()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    assert main(["run", str(path), "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "read-only" in line and str(directory) in line
    assert main(["status", str(directory)]) == 0  # still readable
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert main(["run", str(path), "--quiet"]) == 0
    assert len(Study.load(directory).history) == 4


@pytest.mark.slow
def test_a_full_disk_is_one_line_then_resumes(small_disk, tmp_path, capsys):
    path, directory = _study_on(small_disk, tmp_path)
    assert main(["run", str(path), "--quiet", "--trials", "1"]) == 0
    capsys.readouterr()
    filler = _fill(small_disk, leave=0)
    assert main(["run", str(path), "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "full" in line and "run the same command again" in line
    filler.unlink()
    assert main(["run", str(path), "--quiet"]) == 0
    history = Study.load(directory).history
    assert len(history) == 4 and all(
        t.state is TrialState.COMPLETED for t in history.trials.values()
    )


@pytest.mark.slow
def test_checkpoints_on_a_nearly_full_disk_stop_the_study_without_failing_trials(
    small_disk, tmp_path, capsys
):
    path, directory = _study_on(small_disk, tmp_path, checkpoint_bytes=300_000)
    assert main(["run", str(path), "--quiet", "--trials", "1"]) == 0
    capsys.readouterr()
    filler = _fill(small_disk, leave=150_000)  # room for the store, not for a checkpoint
    assert main(["run", str(path), "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "cannot write checkpoint" in line and "disk is full" in line
    history = Study.load(directory).history
    assert not [t for t in history.trials.values() if t.state is TrialState.FAILED]
    filler.unlink()
    assert main(["run", str(path), "--quiet"]) == 0
    history = Study.load(directory).history
    assert len(history) == 4 and all(
        t.state is TrialState.COMPLETED for t in history.trials.values()
    )
    summary = json.loads(
        subprocess.run(
            [sys.executable, "-m", "curvetune", "best", str(directory)],
            capture_output=True,
            text=True,
        ).stdout
    )
    assert summary["checkpoint"] is not None


def test_a_full_disk_under_the_objectives_own_files_stays_the_trials_error(tmp_path):
    def train(config, ctx):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "cache.npz"))

    out = tmp_path / "c" / "0" / "1"
    result = run_segment(train, {}, SegmentContext(0, 1, 0, 1, None, str(out)))
    assert result.status == "error" and "cache.npz" in result.error


def test_a_study_opened_to_look_refuses_to_run_in_one_line(make_study):
    study = make_study()
    study.optimize(trials=1, executor="sequential", progress=False)
    looked = Study.load(study.directory)
    with pytest.raises(StoreError, match=r"opened read-only; to continue it use Study.load"):
        looked.optimize(trials=2, executor="sequential", progress=False)


def test_a_file_system_without_flock_runs_unlocked_with_a_note(tmp_path, monkeypatch):
    import fcntl

    from curvetune.notes import StudyNote
    from curvetune.storage import StudyLock

    def no_flock(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_flock)
    with pytest.warns(StudyNote, match="cannot lock files"):
        StudyLock(tmp_path).acquire()
