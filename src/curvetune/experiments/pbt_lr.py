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

The plan and the rate ranges are in ``pbt_lr_plan``, the studies of one seed (and their
timing and replay) in ``pbt_lr_runs``; this module runs them seed by seed, sums them up and
writes the figures and ``results.json``. It re-exports the public names of both.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import mean_std, pin_worker_threads
from . import write_json as _write_json
from .pbt_lr_plan import LR_RANGE, METHODS, MUTABLE_RANGE, Plan, make_plan
from .pbt_lr_runs import CloneTimer, replay, run_baseline, run_pbt

__all__ = [
    "LR_RANGE",
    "METHODS",
    "MUTABLE_RANGE",
    "CloneTimer",
    "Plan",
    "make_plan",
    "replay",
    "run_baseline",
    "run_experiment",
    "run_pbt",
    "run_seed",
    "summarise",
]


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
