"""The studies of the PBT learning-rate experiment, one seed at a time: PBT with its timing
and its best member's lineage, the two baselines (random search, step decay), and the
replay of that lineage as a fresh training.

The experiment itself is described in ``curvetune.experiments.pbt_lr``, which re-exports
the public names here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..space import Float
from . import METRIC, OBJECTIVE, executor_for, run_record
from .pbt_lr_plan import LR_RANGE, MUTABLE_RANGE, Plan

# ----------------------------------------------------------------------------- timing


@dataclass
class CloneTimer:
    """Seconds and count of ``CheckpointStore.clone`` calls while ``active()`` is entered."""

    seconds: float = 0.0
    calls: int = 0

    @contextlib.contextmanager
    def active(self) -> Iterator[CloneTimer]:
        """Wrap ``CheckpointStore.clone`` (the controller calls it in this process)."""
        from ..checkpoints import CheckpointStore

        original = CheckpointStore.clone

        def timed(store: Any, *args: Any) -> Path:
            begin = time.perf_counter()
            try:
                return original(store, *args)
            finally:
                self.seconds += time.perf_counter() - begin
                self.calls += 1

        CheckpointStore.clone = timed  # type: ignore[method-assign]
        try:
            yield self
        finally:
            CheckpointStore.clone = original  # type: ignore[method-assign]


# ----------------------------------------------------------------------------- studies


def _study(plan: Plan, seed: int, directory: Path, fixed: dict[str, Any]) -> Any:
    """A study over ``lr`` (log-uniform in ``LR_RANGE``) with ``fixed`` settings."""
    from ..study import Study

    return Study.create(
        objective=OBJECTIVE,
        space={"lr": Float(*LR_RANGE, log=True)},
        metric=METRIC,
        mode="max",
        max_steps=plan.setup.steps,
        seed=seed,
        fixed=fixed,
        directory=directory,
    )


def run_pbt(plan: Plan, seed: int, directory: Path) -> dict[str, Any]:
    """The PBT study of one seed: members, exploits, timing, the best member's lineage."""
    from ..events import Exploited, SegmentFinished
    from ..schedulers.pbt import PBTScheduler

    setup = plan.setup
    low, high = MUTABLE_RANGE
    scheduler = PBTScheduler(
        population=plan.population,
        interval=1,
        quantile=0.25,
        synchronous=True,
        mutable={"lr": {"type": "float", "low": low, "high": high, "log": True}},
    )
    study = _study(plan, seed, directory, setup.fixed())
    timer = CloneTimer()
    try:
        begin, cpu = time.perf_counter(), time.process_time()
        with timer.active(), executor_for(setup, plan.population) as executor:
            history = study.optimize(
                progress=False,
                trials=plan.population,
                searcher="random",
                scheduler=scheduler,
                executor=executor,
                workers=setup.workers,
            )
        wall = time.perf_counter() - begin
        controller_cpu = time.process_time() - cpu  # training runs in the worker processes
        events = list(study.store.events())
    finally:
        study.close()
    segments = sum(e.seconds for e in events if isinstance(e, SegmentFinished))
    members = [_member(t, setup.steps) for t in history.trials.values()]
    exploits = [
        {
            "trial": e.trial,
            "source": e.source,
            "step": e.step,
            "iteration": e.step * setup.iters_per_step,
            "lr": e.config["lr"],
        }
        for e in events
        if isinstance(e, Exploited)
    ]
    return {
        "members": members,
        "exploits": exploits,
        "timing": _timing(wall, segments, timer, setup.workers, controller_cpu),
        "lineage": _lineage(history, events),
    }


def _member(trial: Any, steps: int) -> dict[str, Any]:
    """A member's run record plus its initial and final learning rate."""
    record = run_record(trial, steps)
    record["final_lr"] = trial.config["lr"]
    return record


def _timing(
    wall: float, segments: float, timer: CloneTimer, workers: int, controller_cpu: float
) -> dict[str, Any]:
    """PBT wall time, checkpoint-clone time, the controller's own CPU time (bookkeeping:
    decisions, the store, clones; the training runs in worker processes) and the estimated
    overhead including idle time."""
    overhead = max(wall - segments / workers, 0.0)
    return {
        "controller_cpu_seconds": controller_cpu,
        "bookkeeping_share": controller_cpu / wall if wall > 0 else None,
        "wall_seconds": wall,
        "segment_seconds_sum": segments,
        "workers": workers,
        "clone_seconds": timer.seconds,
        "clone_calls": timer.calls,
        "clone_share": timer.seconds / wall if wall > 0 else None,
        "overhead_seconds": overhead,
        "overhead_share": overhead / wall if wall > 0 else None,
        "method": (
            "wall: perf_counter around Study.optimize; clone: perf_counter around every "
            "CheckpointStore.clone call (a wrapper in the controller process); bookkeeping: "
            "process_time of the controller process around Study.optimize (with the local "
            "executor the training runs in other processes); overhead: "
            "wall - sum(SegmentFinished.seconds) / workers (controller bookkeeping, clones, "
            "waits at the generation barrier and idle workers)"
        ),
    }


def _lineage(history: Any, events: Sequence[Any]) -> dict[str, Any]:
    """The best member's followed learning rates and the piecewise schedule replaying them."""
    from ..lineage import followed, piecewise

    best = history.best()
    if best is None:
        return {"trial": None, "points": [], "steps": []}
    path = followed(history, events, best.id)
    return {
        "trial": best.id,
        "final_accuracy": history.score(best),
        "root_trial": path[0].trial if path else best.id,
        "root_seed": history[path[0].trial].seed if path else best.seed,
        "points": [[int(i), float(lr)] for i, lr in piecewise(path)],
        "steps": [
            {"step": r.step, "member": r.trial, "lr": r.lr, "iteration": r.iteration} for r in path
        ],
    }


def run_baseline(plan: Plan, seed: int, directory: Path, method: str) -> list[dict[str, Any]]:
    """``population`` full runs with random initial rates: static, or with step decay."""
    setup = plan.setup
    fixed = setup.fixed()
    if method == "step_decay":
        fixed.update(schedule="step", decay=setup.decay, decay_every=setup.decay_every)
    study = _study(plan, seed, directory, fixed)
    try:
        with executor_for(setup, plan.population) as executor:
            history = study.optimize(
                progress=False,
                trials=plan.population,
                searcher="random",
                scheduler="fifo",
                executor=executor,
                workers=setup.workers,
            )
        return [
            {**run_record(t, setup.steps), "lr0": t.config["lr"]} for t in history.trials.values()
        ]
    finally:
        study.close()


def replay(plan: Plan, lineage: dict[str, Any]) -> dict[str, Any]:
    """Train once from scratch with the lineage's piecewise ``lr_schedule`` (in-process).

    Uses the seed of the member whose fresh weights start the lineage; data order differs
    from the member's (each member's segments use its own seed), so this replays the
    schedule, not the exact run.
    """
    from ..models.mnist import train
    from ..worker import SegmentContext

    setup = plan.setup
    schedule = {"type": "piecewise", "points": lineage["points"]}
    config = {**setup.fixed(), "lr_schedule": schedule}
    ctx = SegmentContext(0, int(lineage["root_seed"]), 0, setup.steps, None, None)
    begin = time.perf_counter()
    train(config, ctx)
    seconds = time.perf_counter() - begin
    last = {r.step: r.metrics for r in ctx.reports}
    steps = sorted(last)
    final = last[steps[-1]][METRIC] if steps and steps[-1] == setup.steps else None
    member = lineage.get("final_accuracy")
    return {
        "lr_schedule": schedule,
        "seed": int(lineage["root_seed"]),
        "iteration": [int(last[s]["iteration"]) for s in steps],
        "lr": [last[s]["lr"] for s in steps],
        "val_accuracy": [last[s][METRIC] for s in steps],
        "final_accuracy": final,
        "member_final_accuracy": member,
        "difference": None if final is None or member is None else final - member,
        "seconds": seconds,
    }
