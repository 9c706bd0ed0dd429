"""Checkpoint directories: ``<root>/<trial>/<step>/``, on a file system every worker sees.

Workers write into the directory they are given; the controller decides which directories
still matter (the newest checkpoint of every trial that may continue or be copied, and the
final one of completed trials) and ``gc`` removes the rest. An exploit clones a directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from .executors.hooks import runs_on_this_host
from .notes import note


class CheckpointStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._root = str(self.root)

    def dir_for(self, trial: int, step: int) -> Path:
        return Path(self.path_for(trial, step))

    def path_for(self, trial: int, step: int) -> str:
        """``dir_for`` as a string, without ``pathlib``: the controller names two
        directories per segment, and pathlib's joins cost more than the rest of it."""
        return f"{self._root}{os.sep}{trial}{os.sep}{step}"

    def steps(self, trial: int) -> list[int]:
        """Steps with a checkpoint directory on disk for ``trial``, ascending."""
        trial_dir = self.root / str(trial)
        if not trial_dir.is_dir():
            return []
        return sorted(int(p.name) for p in trial_dir.iterdir() if p.name.isdigit())

    def latest(self, trial: int) -> int | None:
        steps = self.steps(trial)
        return steps[-1] if steps else None

    def prepare(self, trial: int, step: int) -> Path:
        """An empty directory for a segment to save into (a stale partial one is cleared)."""
        target = self.dir_for(trial, step)
        if target.exists():
            shutil.rmtree(target)
        return target

    def clone(self, src_trial: int, src_step: int, dst_trial: int, dst_step: int) -> Path:
        """Copy a checkpoint to another trial (Population Based Training's exploit).

        The copy is made beside the target and swapped in by renames, so a crash leaves
        either the old directory or the new one (``gc`` puts back an old one left aside).
        """
        source = self.dir_for(src_trial, src_step)
        target = self.dir_for(dst_trial, dst_step)
        target.parent.mkdir(parents=True, exist_ok=True)
        fresh = target.with_name(target.name + ".partial")
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.copytree(source, fresh)
        if target.exists():
            old = target.with_name(target.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
            fresh.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            fresh.rename(target)
        return target

    def remove(self, trial: int, step: int) -> None:
        """Remove one checkpoint (one that a newer checkpoint of the trial replaced)."""
        shutil.rmtree(self.dir_for(trial, step), ignore_errors=True)

    def discard(self, trial: int, keep: int | None = None) -> None:
        """Remove a trial's checkpoints except step ``keep`` (None: remove them all)."""
        for step in self.steps(trial):
            if step != keep:
                shutil.rmtree(self.dir_for(trial, step), ignore_errors=True)
        trial_dir = self.root / str(trial)
        if keep is None and trial_dir.is_dir():
            shutil.rmtree(trial_dir, ignore_errors=True)

    def gc(self, keep: Mapping[int, int | None]) -> None:
        """Keep only checkpoint ``keep[trial]`` of every trial; trials not named lose all."""
        if not self.root.is_dir():
            return
        for old in self.root.glob("*/*.old"):  # a clone interrupted between its renames
            restored = old.with_name(old.name.removesuffix(".old"))
            if not restored.exists():
                old.rename(restored)
        for trial_dir in self.root.iterdir():
            if trial_dir.name.isdigit():
                self.discard(int(trial_dir.name), keep.get(int(trial_dir.name)))


class CheckpointHome:
    """Where a study's trials save their state: ``<directory>/checkpoints``, or, for an
    in-memory study (``directory=None``), a temporary directory made on first use and
    removed by ``close()``, so that no study retrains a trial from scratch every segment."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._scratch: tempfile.TemporaryDirectory | None = None

    @property
    def store(self) -> CheckpointStore:
        if self.directory is not None:
            return CheckpointStore(self.directory / "checkpoints")
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="curvetune-checkpoints-")
        return CheckpointStore(self._scratch.name)

    def for_executor(self, executor: object) -> CheckpointStore | None:
        """The checkpoints segments on ``executor`` can use: none for an in-memory study on
        an executor that may run segments on other machines, which could not read a local
        temporary directory (those trials then retrain each segment from scratch)."""
        if self.directory is not None or runs_on_this_host(executor):
            return self.store
        note(
            "an in-memory study on an executor that may span machines keeps no checkpoints, "
            "so every segment retrains from step 0; give the study a directory"
        )
        return None

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None
