"""Population Based Training of the learning rate on MNIST (``curvetune experiment pbt-lr``).

Per seed, three studies with the same total training iterations (``population`` runs of
``steps`` steps of ``iters_per_step`` iterations):

* ``pbt``: PBT (synchronous, interval 1 step, quantile 0.25, ``lr`` mutable on a log
  range); members have static rates, changed only by exploit/explore;
* ``random``: random search, ``population`` full runs each with its own static random rate;
* ``step_decay``: ``population`` full runs with random initial rates and step decay.

All three draw their initial rates with the same study seed, so the initial rates agree.
PBT's wall time is measured around ``optimize``; the time spent cloning checkpoints is
measured by wrapping ``CheckpointStore.clone``, and the controller's share is estimated as
wall time minus the sum of segment seconds divided by the workers. The best member's
learning-rate lineage (``lineage.followed`` + ``piecewise``) is replayed as a fresh training
with ``lr_schedule``; replayed vs member final accuracy is reported.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..space import Float
from . import METRIC, OBJECTIVE, Setup, mean_std, pin_worker_threads, run_record
from . import write_json as _write_json

LR_RANGE = (0.005, 0.5)  # initial rates, log-uniform (all three methods)
MUTABLE_RANGE = (1e-3, 1.0)  # where PBT's explore may take a rate
METHODS = ("pbt", "random", "step_decay")


@dataclass(frozen=True)
class Plan:
    """What to run: the setup, population size and seeds."""

    setup: Setup
    population: int = 16
    seeds: Sequence[int] = (0, 1, 2)


def make_plan(
    *,
    quick: bool = False,
    seeds: int | None = None,
    steps: int | None = None,
    population: int | None = None,
    workers: int | None = None,
) -> Plan:
    """The full plan (population 16, 30 steps of 100 iterations, 3 seeds, 2 workers), or the
    ``quick`` one (population 4, 2 steps of 10 iterations on 512 examples, 1 seed,
    sequential executor). ``workers`` overrides the number of segments run at once
    (``Setup.with_workers``); the timing's overhead estimate divides by it."""
    if quick:
        setup = Setup.quick(steps or 2).with_workers(workers)
        return Plan(setup, population=population or 4, seeds=tuple(range(seeds or 1)))
    setup = Setup(steps=steps or 30).with_workers(workers)
    return Plan(setup, population=population or 16, seeds=tuple(range(seeds or 3)))


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
        with timer.active():
            history = study.optimize(
                progress=False,
                trials=plan.population,
                searcher="random",
                scheduler=scheduler,
                executor=setup.executor,
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
        history = study.optimize(
            progress=False,
            trials=plan.population,
            searcher="random",
            scheduler="fifo",
            executor=setup.executor,
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


# ----------------------------------------------------------------------------- experiment


def run_seed(plan: Plan, seed: int, out: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """PBT, random search and step decay for one seed, then the replay of PBT's best."""
    studies = out / "studies" / f"seed{seed}"
    log(f"seed {seed}: PBT, population {plan.population}")
    pbt = run_pbt(plan, seed, studies / "pbt")
    log(f"seed {seed}: random search and step decay, {plan.population} runs each")
    result = {
        "seed": seed,
        "pbt": pbt,
        "random": run_baseline(plan, seed, studies / "random", "random"),
        "step_decay": run_baseline(plan, seed, studies / "step-decay", "step_decay"),
    }
    if pbt["lineage"]["points"]:
        result["replay"] = replay(plan, pbt["lineage"])
    return result


def summarise(seeds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Best final accuracy per method (mean ± std over seeds), PBT overhead and replay."""
    best = {
        method: mean_std(
            _best_final(s["pbt"]["members"] if method == "pbt" else s[method]) for s in seeds
        )
        for method in METHODS
    }
    timing = [s["pbt"]["timing"] for s in seeds]
    replays = [s.get("replay") for s in seeds]
    return {
        "best_final_accuracy": best,
        "pbt_wall_seconds": mean_std(t["wall_seconds"] for t in timing),
        "pbt_clone_share": mean_std(t["clone_share"] for t in timing),
        "pbt_bookkeeping_share": mean_std(t.get("bookkeeping_share") for t in timing),
        "pbt_overhead_share": mean_std(t["overhead_share"] for t in timing),
        "replay_final_accuracy": mean_std(r and r["final_accuracy"] for r in replays),
        "member_final_accuracy": mean_std(r and r["member_final_accuracy"] for r in replays),
        "replay_minus_member": mean_std(r and r["difference"] for r in replays),
    }


def _best_final(runs: Sequence[dict[str, Any]]) -> float | None:
    """The highest final accuracy among ``runs`` (None if no run finished)."""
    finals = [r["final_accuracy"] for r in runs if r["final_accuracy"] is not None]
    return max(finals) if finals else None


def run_experiment(out: Path, plan: Plan, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every seed under ``out/studies``, write the figures and ``results.json``."""
    from . import figures

    pin_worker_threads(plan.setup.executor)
    seeds = [run_seed(plan, seed, out, log) for seed in plan.seeds]
    first = seeds[0]["pbt"]
    paths = {
        "pbt_lr": figures.plot_pbt_lr(first["members"], first["exploits"], out / "pbt_lr.png"),
        "pbt_fitness": figures.plot_pbt_fitness(first["members"], out / "pbt_fitness.png"),
    }
    document = {
        "experiment": "pbt-lr",
        "setup": plan.setup.to_json(),
        "population": plan.population,
        "total_iterations_per_method": plan.population * plan.setup.total_iterations,
        "lr_range": list(LR_RANGE),
        "mutable_range": list(MUTABLE_RANGE),
        "seeds": list(plan.seeds),
        "summary": summarise(seeds),
        "figures": {name: str(path.relative_to(out)) for name, path in paths.items()},
        "figures_seed": plan.seeds[0],
        "per_seed": seeds,
    }
    _write_json(out / "results.json", document)
    return document
