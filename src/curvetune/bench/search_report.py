"""Regrets, tables and plots of a search comparison (``search.compare``'s traces).

*Regret* at a budget of B trainings is the task's best known value minus the incumbent once
B x n_epochs epochs are used (the incumbent: the best final value of a trial trained to
the full budget); *normalised* by the task's best known minus its median final value, so
0 is the best known and 1 the median configuration. No incumbent yet counts as 1. The best
known value is the best of the task's reference (the table, or 2,000 random configurations
of the surrogate) and of every run of the comparison. The *AUC* is the mean normalised
regret over budgets from 1 to ``budget`` trainings on a log axis. Per task: medians over
seeds; over tasks: means, and counts of tasks where one combination is below another.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from . import metrics

BUDGETS = (10, 20, 50)
CURVE_POINTS = 60
RECOMMENDED = "tpe+asha10"  # the setting the README recommends (see docs/search.md)
CLAIMED = (RECOMMENDED, "tpe+lcm", "gp+asha10", "gp+lcm")  # what the claims are counted for
BASELINE = "random+lcm"


def _trace(raw: Mapping[str, list]) -> metrics.Anytime:
    return metrics.Anytime(list(raw["compute"]), list(raw["best"]))


def regrets(trace, trainings: float, n_epochs: int, best: float, median: float):
    """(normalised, raw) regret once ``trainings`` x ``n_epochs`` epochs are used: raw is
    the best known minus the incumbent (minus the median before any incumbent), normalised
    divides it by best minus median (1 before any incumbent)."""
    value = metrics.incumbent_at(trace, trainings * n_epochs)
    if value is None:
        return 1.0, max(0.0, best - median)
    raw = max(0.0, best - value)
    return raw / max(best - median, 1e-12), raw


def normalized_regret(trace, trainings: float, n_epochs: int, best: float, median: float) -> float:
    return regrets(trace, trainings, n_epochs, best, median)[0]


def _median_or_none(values: list[float]) -> float | None:
    """The median, or None (JSON null) when no run had a value."""
    return float(np.median(values)) if values else None


def budgets(budget: int) -> list[int]:
    """The budgets regrets are read at: 10, 20 and 50 trainings up to ``budget``, and it."""
    return sorted({b for b in BUDGETS if b <= budget} | {budget})


def curve_grid(budget: int) -> np.ndarray:
    return np.geomspace(1.0, float(budget), CURVE_POINTS)


def task_summary(task: Mapping[str, Any], budget: int) -> dict[str, Any]:
    """Per combination: median over seeds of the normalised regret at each budget (and of
    the raw one, in the metric's units), of the AUC, of the epochs used and of the final
    incumbent; and the median curve."""
    n_epochs = task["n_epochs"]
    finals = [t["best"][-1] for runs in task["traces"].values() for t in runs if t["best"]]
    best = max([task["reference"]["best"], *finals])
    median = task["reference"]["median"]
    grid = curve_grid(budget)
    combos: dict[str, Any] = {}
    for name, runs in task["traces"].items():
        traces = [_trace(r) for r in runs]
        pairs = {
            str(b): [regrets(t, b, n_epochs, best, median) for t in traces] for b in budgets(budget)
        }
        at = {b: float(np.median([n for n, _ in p])) for b, p in pairs.items()}
        raw_at = {b: float(np.median([r for _, r in p])) for b, p in pairs.items()}
        curves = np.asarray(
            [[normalized_regret(t, g, n_epochs, best, median) for g in grid] for t in traces]
        )
        if budget > 1:
            widths = np.diff(np.log(grid))
            aucs = np.sum((curves[:, 1:] + curves[:, :-1]) / 2 * widths, axis=1)
            aucs = aucs / math.log(budget)
        else:  # one training: the curve is one point
            aucs = curves[:, -1]
        combos[name] = {
            "regret_at_budget": at,
            "raw_regret_at_budget": raw_at,
            "normalized_regret_auc": float(np.median(aucs)),
            "epochs": float(np.median([t.compute[-1] if t.compute else 0 for t in traces])),
            "best": _median_or_none([t.best[-1] for t in traces if t.best]),
            "curve": [round(float(v), 6) for v in np.median(curves, axis=0)],
        }
    return {"best_known": best, "median": median, "combos": combos}


def summarise(raw: Mapping[str, Any]) -> dict[str, Any]:
    """results.json: per task and combination, and the comparisons over tasks."""
    budget = raw["settings"]["budget"]
    tasks = {name: task_summary(task, budget) for name, task in raw["tasks"].items()}
    names = list(next(iter(tasks.values()))["combos"]) if tasks else []
    peers = [n for n in names if n.startswith("optuna-")]
    mean_curves = {
        n: np.mean([t["combos"][n]["curve"] for t in tasks.values()], axis=0).tolist()
        for n in names
    }
    overall = {
        n: {
            "mean_regret_at_budget": {
                b: float(np.mean([t["combos"][n]["regret_at_budget"][b] for t in tasks.values()]))
                for b in next(iter(tasks.values()))["combos"][n]["regret_at_budget"]
            },
            "mean_auc": float(
                np.mean([t["combos"][n]["normalized_regret_auc"] for t in tasks.values()])
            ),
        }
        for n in names
    }
    return {
        "tasks": tasks,
        "overall": overall,
        "mean_curve": {"trainings": curve_grid(budget).tolist(), "regret": mean_curves},
        "claims": claims(tasks, mean_curves, curve_grid(budget), peers),
        "settings": raw["settings"],
    }


def wins(tasks: Mapping[str, Any], a: str, b: str | Sequence[str], at: str) -> int | None:
    """Tasks where ``a``'s regret at ``at`` is below ``b``'s (below the best of several)."""
    others = [b] if isinstance(b, str) else list(b)
    count = 0
    for task in tasks.values():
        combos = task["combos"]
        if a not in combos or not others or not all(o in combos for o in others):
            return None
        if at not in combos[a]["regret_at_budget"]:
            return None
        rival = min(combos[o]["regret_at_budget"][at] for o in others)
        count += combos[a]["regret_at_budget"][at] < rival
    return count


def claims(tasks, mean_curves, grid, peers) -> dict[str, Any]:
    """The issue's comparisons, as counts, for each combination of ``CLAIMED`` that ran."""
    out: dict[str, Any] = {"tasks": len(tasks), "recommended": RECOMMENDED, "combinations": {}}
    for name in CLAIMED:
        if name not in mean_curves:
            continue
        mine: dict[str, Any] = {}
        for at in ("20", "50"):
            mine[f"beats_{BASELINE}_at_{at}"] = wins(tasks, name, BASELINE, at)
        if peers:
            mine["beats_best_optuna_at_50"] = wins(tasks, name, peers, "50")
            ours = np.asarray(mean_curves[name])
            theirs = np.min([mean_curves[p] for p in peers], axis=0)
            shown = grid >= 10
            below = bool(np.all(ours[shown] < theirs[shown])) if shown.any() else None
            mine["mean_curve_below_optuna_from_10"] = below
        out["combinations"][name] = mine
    return out


# ----------------------------------------------------------------------------- writing


def write(summary: Mapping[str, Any], out: Path) -> list[Path]:
    """results.json, results.md and the anytime plots of ``summarise``'s ``summary``."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "results.json", out / "results.md"]
    written[0].write_text(json.dumps(summary, indent=1))
    written[1].write_text(markdown(summary))
    written.append(plot_mean(summary, out / "anytime-mean.png"))
    written.append(plot_tasks(summary, out / "anytime-tasks.png"))
    return written


def markdown(summary: Mapping[str, Any]) -> str:
    s = summary["settings"]
    lines = [
        "# Search comparison",
        "",
        f"{len(summary['tasks'])} task(s), {s['seeds']} seeds, budget {s['budget']} full "
        f"trainings, {s['workers']} virtual workers. Normalised regret: 0 = best known, "
        "1 = the median configuration; medians over seeds, means over tasks.",
        "",
    ]
    for name, counts in summary["claims"]["combinations"].items():
        told = ", ".join(f"{k} {v}" for k, v in counts.items())
        lines.append(f"- **{name}**: {told}")
    lines += [""]
    at = [str(b) for b in budgets(s["budget"])]
    top = at[-1]
    lines += [
        "| combination | " + " | ".join(f"@{b}" for b in at) + f" | AUC | below {BASELINE} "
        f"@{top} | below best Optuna @{top} |",
        "|---|" + "---:|" * (len(at) + 3),
    ]
    peers = [n for n in summary["overall"] if n.startswith("optuna-")]
    ranked = sorted(summary["overall"].items(), key=lambda kv: kv[1]["mean_auc"])
    for name, o in ranked:
        r = o["mean_regret_at_budget"]
        vs_random = wins(summary["tasks"], name, BASELINE, top) if name != BASELINE else "-"
        vs_optuna = wins(summary["tasks"], name, peers, top) if peers and name not in peers else "-"
        cells = " | ".join(f"{r[b]:.3f}" for b in at)
        lines.append(f"| {name} | {cells} | {o['mean_auc']:.3f} | {vs_random} | {vs_optuna} |")
    lines += treatments(summary, top)
    lines += ["", f"## Per task, normalised regret at {top} trainings", ""]
    shown = [n for n in (*CLAIMED, BASELINE, *peers) if n in summary["overall"]]
    lines += ["| task | " + " | ".join(shown) + " |", "|---|" + "---:|" * len(shown)]
    for task, t in summary["tasks"].items():
        cells = [f"{t['combos'][n]['regret_at_budget'][top]:.3f}" for n in shown]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


TREATMENTS = {"pruned": "tpe[pruned]", "predicted": "tpe[predicted]", "rung (default)": "tpe"}


def treatments(summary: Mapping[str, Any], top: str) -> list[str]:
    """How stopped trials should inform TPE: the three treatments under each scheduler that
    stops trials, with the tasks where the default (rung) is below the other two."""
    overall, tasks = summary["overall"], summary["tasks"]
    rows = []
    for scheduler in ("lcm", "asha10"):
        for label, searcher in TREATMENTS.items():
            name = f"{searcher}+{scheduler}"
            if name not in overall:
                continue
            o = overall[name]
            r = o["mean_regret_at_budget"]
            rivals = [f"{s}+{scheduler}" for s in TREATMENTS.values() if s != searcher]
            beaten = wins(tasks, name, rivals, top) if all(x in overall for x in rivals) else None
            cells = " | ".join(f"{r[b]:.3f}" for b in r)
            rows.append(f"| {scheduler} | {label} | {cells} | {o['mean_auc']:.3f} | {beaten} |")
    if not rows:
        return []
    budgets_shown = list(next(iter(overall.values()))["mean_regret_at_budget"])
    return [
        "",
        "## Stopped trials: what TPE learns from them",
        "",
        "pruned: Optuna's convention (ranked by step reached, then value); predicted: LCM's "
        "trend prediction of the final value; rung: fitted on the highest rung with enough "
        "results (BOHB). Mean normalised regret over tasks; last column: tasks where this "
        f"treatment is below both others at {top} trainings.",
        "",
        "| scheduler | treatment | "
        + " | ".join(f"@{b}" for b in budgets_shown)
        + " | AUC | below both others |",
        "|---|---|" + "---:|" * (len(budgets_shown) + 2),
        *rows,
    ]


MEAN_SHOWN = (*CLAIMED, "random+fifo", "random+lcm", "random+asha10", "evolution+asha10",
              "cmaes+asha10")  # fmt: skip


def plot_mean(summary: Mapping[str, Any], path: Path) -> Path:
    """The mean normalised regret over tasks against budget: the claimed combinations, the
    baselines, the other model-based searchers with ASHA, and the Optuna peers (dashed)."""
    fig = Figure(figsize=(7.5, 4.6))
    ax = fig.subplots()
    grid = summary["mean_curve"]["trainings"]
    curves = summary["mean_curve"]["regret"]
    ours = [n for n in dict.fromkeys(MEAN_SHOWN) if n in curves]
    shown = ours + [n for n in curves if n.startswith("optuna-")]
    tab20 = matplotlib.colormaps["tab20"].colors
    palette = tab20[::2] + tab20[1::2]  # the ten strong colours first
    for index, name in enumerate(shown):
        style = "--" if name.startswith("optuna-") else "-"
        width = 2.6 if name == RECOMMENDED else 1.3
        ax.plot(grid, curves[name], style, lw=width, color=palette[index % 20], label=name)
    ax.set_xscale("log")
    ax.set_xlabel("budget used (full trainings)")
    ax.set_ylabel("mean normalised regret (0 = best known, 1 = median config)")
    ax.set_title(f"Mean over {len(summary['tasks'])} task(s)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_tasks(summary: Mapping[str, Any], path: Path) -> Path:
    tasks = summary["tasks"]
    n = len(tasks)
    cols = min(6, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(2.6 * cols, 2.0 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    grid = summary["mean_curve"]["trainings"]
    peers = [k for k in summary["overall"] if k.startswith("optuna-")]
    for ax, (task, t) in zip(axes, tasks.items(), strict=False):
        for name in (*CLAIMED, BASELINE, *peers):
            if name in t["combos"]:
                ax.plot(grid, t["combos"][name]["curve"], "--" if name in peers else "-", lw=1,
                        label=name)  # fmt: skip
        ax.set_xscale("log")
        ax.set_title(task, fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].legend(fontsize=5)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return path
