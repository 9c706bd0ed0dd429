"""Static vs step-decayed learning rates on MNIST (``curvetune experiment dynamic-lr``).

For each seed, one grid study trains every (initial learning rate, schedule) pair: schedule
"constant" (static) or "step" (the rate multiplied by ``decay`` every ``decay_every``
iterations, by default 5 % every 100). Every run trains the same number of iterations.
Results: ``results.json`` (every run's per-step numbers and a summary) and three figures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..space import Choice
from . import (
    METRIC,
    OBJECTIVE,
    Setup,
    executor_for,
    log_spaced,
    mean_std,
    pin_worker_threads,
    run_record,
)
from . import write_json as _write_json

SCHEDULES = ("constant", "step")
LABELS = {"constant": "static", "step": "step decay"}


@dataclass(frozen=True)
class Plan:
    """What to run: the setup, the initial rates, the seeds."""

    setup: Setup
    lrs: Sequence[float] = field(default_factory=lambda: log_spaced(0.005, 0.5, 6))
    seeds: Sequence[int] = (0, 1, 2)


def make_plan(
    *,
    quick: bool = False,
    seeds: int | None = None,
    steps: int | None = None,
    workers: int | None = None,
) -> Plan:
    """The full plan (6 rates × 2 schedules × 3 seeds, 30 steps of 100 iterations, 2
    workers), or the ``quick`` one (2 rates × 2 schedules × 1 seed, 3 steps of 10
    iterations on 512 examples, sequential executor) that checks the pipeline in seconds.
    ``workers`` overrides the number of segments run at once (``Setup.with_workers``)."""
    if quick:
        setup = Setup.quick(steps or 3).with_workers(workers)
        return Plan(setup, lrs=[0.01, 0.1], seeds=tuple(range(seeds or 1)))
    return Plan(Setup(steps=steps or 30).with_workers(workers), seeds=tuple(range(seeds or 3)))


def run_seed(plan: Plan, seed: int, directory: Path) -> list[dict[str, Any]]:
    """One grid study (every rate × schedule) with study seed ``seed``; its run records."""
    from ..study import Study

    setup = plan.setup
    fixed = {**setup.fixed(), "decay": setup.decay, "decay_every": setup.decay_every}
    study = Study.create(
        objective=OBJECTIVE,
        space={"lr": Choice(tuple(plan.lrs)), "schedule": Choice(SCHEDULES)},
        metric=METRIC,
        mode="max",
        max_steps=setup.steps,
        seed=seed,
        fixed=fixed,
        directory=directory,
    )
    try:
        trials = len(plan.lrs) * len(SCHEDULES)
        with executor_for(setup, trials) as executor:
            history = study.optimize(
                progress=False,
                trials=trials,
                searcher="grid",
                scheduler="fifo",
                executor=executor,
                workers=setup.workers,
            )
        runs = []
        for trial in history.trials.values():
            record = run_record(trial, setup.steps)
            record.update(lr0=trial.config["lr"], schedule=trial.config["schedule"], seed=seed)
            runs.append(record)
        return runs
    finally:
        study.close()


def summarise(runs: Sequence[dict[str, Any]], lrs: Sequence[float]) -> dict[str, Any]:
    """Final accuracy per (schedule, lr0) over seeds, the best of each schedule, the verdict.

    The best of a schedule is the initial rate with the highest mean final accuracy over
    seeds; runs that diverged or failed have no final accuracy and are left out of means
    (their count is in ``n``, which then falls short of the number of seeds).
    """
    table: dict[str, list[dict[str, Any]]] = {}
    for schedule in SCHEDULES:
        rows = []
        for lr in lrs:
            finals = [
                r["final_accuracy"] for r in runs if r["schedule"] == schedule and r["lr0"] == lr
            ]
            rows.append({"lr0": lr, **mean_std(finals), "runs": len(finals)})
        table[schedule] = rows
    best = {s: _best_row(table[s]) for s in SCHEDULES}
    static, decay = best["constant"], best["step"]
    beat = None
    if static["mean"] is not None and decay["mean"] is not None:
        beat = decay["mean"] > static["mean"]
    return {
        "final_accuracy": table,
        "best_static": static,
        "best_step_decay": decay,
        "decay_beat_static": beat,
        "difference": None if beat is None else decay["mean"] - static["mean"],
    }


def _best_row(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The row with the highest mean (rows without a mean only if none has one)."""
    known = [r for r in rows if r["mean"] is not None]
    if not known:
        return {"lr0": None, "mean": None, "std": None, "n": 0}
    return max(known, key=lambda r: r["mean"])


def run_experiment(out: Path, plan: Plan, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every seed's study under ``out/studies``, write figures and ``results.json``."""
    from . import figures

    pin_worker_threads(plan.setup.executor)
    runs: list[dict[str, Any]] = []
    for seed in plan.seeds:
        log(f"seed {seed}: {len(plan.lrs)} rates × {len(SCHEDULES)} schedules")
        runs.extend(run_seed(plan, seed, out / "studies" / f"seed{seed}"))
    summary = summarise(runs, plan.lrs)
    paths = figures.dynamic_lr_figures(runs, summary, plan.setup, out)
    document = {
        "experiment": "dynamic-lr",
        "setup": plan.setup.to_json(),
        "lrs": list(plan.lrs),
        "schedules": {s: LABELS[s] for s in SCHEDULES},
        "seeds": list(plan.seeds),
        "summary": summary,
        "figures": {name: str(path.relative_to(out)) for name, path in paths.items()},
        "runs": runs,
    }
    _write_json(out / "results.json", document)
    return document
