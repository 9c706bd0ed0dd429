"""Prior curves: the completed learning curves of an earlier study, as plain data.

LCM's ``prior`` option names a study directory whose complete curves seed the reference
set, so matching starts without an accumulation stage. Reading that directory is I/O and
can fail (no study there, no complete curve), so it happens once, when the scheduler is
built, and yields a ``PriorCurves``: numbers and names, nothing that holds a store open.
Whether those curves fit the new study (its metric, its budget) is checked before its first
trial (``LCMScheduler.check_study``), so a refusal costs no training, and deciding never
reads a file.

The earlier study is read straight from its store and folded with ``events.replay``; the
``Study`` facade is not imported (it imports the controller, which imports the schedulers).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..events import replay
from ..storage import SqliteStore, StoreError
from ..types import History, Trial


@dataclass(frozen=True, eq=False)
class PriorCurves:
    """Complete curves of ``metric`` from the study in directory ``study``: row i is trial
    ``trials[i]``'s value at steps 1..``max_steps`` (NaN where it did not report)."""

    study: str
    metric: str
    max_steps: int
    trials: tuple[int, ...]
    curves: np.ndarray

    def check(self, metric: str | None, max_steps: int) -> None:
        """Refuse curves that cannot be matched against a study of ``metric`` over
        ``max_steps`` steps (``metric=None``: any metric)."""
        if metric is not None and self.metric != metric:
            raise ValueError(
                f"lcm: prior study {self.study} optimised metric {self.metric!r}, "
                f"this one {metric!r}; curves must be of the same metric"
            )
        if self.max_steps != max_steps:
            raise ValueError(
                f"lcm: prior study {self.study} trained {self.max_steps} steps, "
                f"this one {max_steps}; curves must cover the same budget"
            )

    def source(self, row: int) -> dict[str, str | int]:
        """How a decision's details name row ``row`` (JSON, so it can be stored)."""
        return {"study": self.study, "trial": self.trials[row]}


def load_prior(
    directory: str | Path, *, metric: str | None = None, max_steps: int | None = None
) -> PriorCurves:
    """The complete curves of the study in ``directory``, over its own budget.

    Raises ValueError when the directory holds no study or no completed curve of the full
    budget, and, when ``metric`` or ``max_steps`` are given, when they are not the earlier
    study's (curves would not line up step for step; see ``PriorCurves.check``).
    """
    name = str(directory)
    spec, history = _read(Path(directory), name)
    if metric is not None or max_steps is not None:
        PriorCurves(name, spec["metric"], spec["max_steps"], (), np.empty(0)).check(
            metric, spec["max_steps"] if max_steps is None else max_steps
        )
    max_steps = spec["max_steps"]
    metric = spec["metric"]
    rows, ids = [], []
    for trial in history.completed():
        row = curve_row(trial, metric, max_steps)
        if trial.step >= max_steps and np.isfinite(row[-1]):
            rows.append(row)
            ids.append(trial.id)
    if not rows:
        raise ValueError(
            f"lcm: prior study {name} has no completed curve of {metric!r} "
            f"over the full {max_steps} steps"
        )
    curves = np.vstack(rows)
    curves.setflags(write=False)
    return PriorCurves(name, metric, max_steps, tuple(ids), curves)


def _read(directory: Path, name: str) -> tuple[dict, History]:
    """The earlier study's spec and its history, from ``directory/study.db`` (read-only)."""
    path = directory / "study.db"
    if not path.is_file():
        raise ValueError(f"lcm: prior study {name}: no study here (no study.db)")
    try:
        store = SqliteStore(path, readonly=True)
    except StoreError as exc:
        raise ValueError(f"lcm: prior study {name}: {exc}") from None
    try:
        spec = store.spec()
        if spec is None:
            raise ValueError(f"lcm: prior study {name}: no study here (its store is empty)")
        history = History(metric=spec["metric"], mode=spec["mode"], max_steps=spec["max_steps"])
        replay(history, store.events(facts_only=True))
    finally:
        store.close()
    return dict(spec), history


def curve_row(trial: Trial, metric: str, max_steps: int) -> np.ndarray:
    """The trial's metric at steps 1..max_steps (NaN where not reported)."""
    row = np.full(max_steps, np.nan)
    steps, values = trial.curve(metric)
    for step, value in zip(steps, values, strict=True):
        if 1 <= step <= max_steps:
            row[step - 1] = value
    return row


__all__ = ["PriorCurves", "curve_row", "load_prior"]
