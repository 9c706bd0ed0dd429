"""Run one study over a curve table through the real controller, in virtual time."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..domains import Int
from ..events import Event
from ..executors.simulated import SimulatedExecutor
from ..schedulers import Scheduler
from ..space import Space
from ..study import Study, StudySpec
from ..types import Decision, History, Trial
from .replay import ReplayObjective, TableOrder
from .tables import MODES, CurveTable


@dataclass(frozen=True)
class Run:
    """What one simulated study left: its history, its event log in order, the wall time of
    every scheduler decision, the virtual seconds it took, and when (in virtual time) each
    epoch and each trial ended, so that "epochs used by the time the incumbent improved"
    counts the partial progress of every trial, however its segments were cut."""

    history: History
    events: list[Event]
    decision_seconds: list[float]
    virtual_seconds: float
    epoch_ends: list[float]  # sorted virtual times at which each trained epoch ended
    finished_at: dict[int, float]  # trial id -> virtual time its last segment ended


class TimedScheduler:
    """Measures how long each decision of the wrapped scheduler takes."""

    def __init__(self, inner: Scheduler) -> None:
        self.inner = inner
        self.seconds: list[float] = []

    def decide(self, trial: Trial, history: History, rng: np.random.Generator) -> Decision:
        began = time.perf_counter()
        decision = self.inner.decide(trial, history, rng)
        self.seconds.append(time.perf_counter() - began)
        return decision


def simulate(
    table: CurveTable,
    scheduler: Scheduler,
    *,
    order: Sequence[int],
    workers: int = 4,
    metric: str = "val_accuracy",
    seed: int = 0,
) -> Run:
    """Try the table's rows in ``order`` under ``scheduler`` on ``workers`` virtual workers."""
    if metric not in table.curves:
        raise ValueError(f"table {table.name} has no {metric!r}; it has {', '.join(table.curves)}")
    spec = StudySpec(
        objective=f"replay:{table.name}",
        space=Space({"row": Int(0, max(1, table.n_configs - 1))}),
        metric=metric,
        mode=MODES.get(metric, "max"),
        max_steps=table.n_epochs,
        seed=seed,
    )
    study = Study(spec, objective=ReplayObjective(table))
    timed = TimedScheduler(scheduler)
    executor = SimulatedExecutor(workers=workers)
    study.optimize(
        progress=False,
        trials=len(order),
        searcher=TableOrder(order),
        scheduler=timed,
        executor=executor,
    )
    return Run(
        study.history,
        list(study.store.events()),
        timed.seconds,
        executor.clock,
        sorted(executor.epoch_ends),
        dict(executor.finished_at),
    )
