"""Figures of the experiments, drawn with ``matplotlib.figure.Figure`` (never pyplot).

Every function takes the plain run records the experiments write to ``results.json``
(see ``curvetune.experiments.run_record``), so figures can be redrawn from that file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from . import Setup

STYLE = {"constant": "-", "step": "--"}
LABEL = {"constant": "static", "step": "step decay"}


def _save(fig: Figure, path: Path) -> Path:
    """Lay out and write ``fig`` as PNG (creating the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def _lr_colours(lrs: Sequence[float]) -> dict[float, Any]:
    """One colour per initial learning rate, ordered along a colormap."""
    cmap = colormaps["viridis"]
    count = max(len(lrs) - 1, 1)
    return {lr: cmap(i / count) for i, lr in enumerate(sorted(lrs))}


def _few(values: Sequence[float], most: int = 3) -> list[float]:
    """At most ``most`` values spread over the sorted ``values`` (first, middle, last)."""
    ordered = sorted(set(values))
    if len(ordered) <= most:
        return ordered
    picks = np.linspace(0, len(ordered) - 1, most).round().astype(int)
    return [ordered[i] for i in sorted(set(picks.tolist()))]


# ----------------------------------------------------------------------------- dynamic-lr


def dynamic_lr_figures(
    runs: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], setup: Setup, out: Path
) -> dict[str, Path]:
    """Figures A (lr vs iteration), B (accuracy vs iteration), C (final vs initial lr)."""
    return {
        "lr_vs_iteration": plot_lr_vs_iteration(runs, setup, out / "fig_a_lr.png"),
        "accuracy_vs_iteration": plot_accuracy_vs_iteration(runs, out / "fig_b_accuracy.png"),
        "final_vs_lr": plot_final_vs_lr(summary, out / "fig_c_final.png"),
    }


def plot_lr_vs_iteration(runs: Sequence[Mapping[str, Any]], setup: Setup, path: Path) -> Path:
    """(A) The learning rate each schedule gives over training, for a few initial rates.

    Drawn per iteration from the schedules themselves (the runs report it once a step).
    """
    from ..models.schedule_config import schedule_from_config

    lrs = _few([r["lr0"] for r in runs])
    colours = _lr_colours(lrs)
    iterations = np.arange(setup.total_iterations)
    fig = Figure(figsize=(6.4, 4))
    ax = fig.subplots()
    for lr in lrs:
        for schedule, style in STYLE.items():
            rule = schedule_from_config(
                {
                    "lr": lr,
                    "schedule": schedule,
                    "decay": setup.decay,
                    "decay_every": setup.decay_every,
                }
            )
            rates = [rule.lr(int(i)) for i in iterations]
            ax.plot(
                iterations,
                rates,
                style,
                color=colours[lr],
                lw=1.6,
                label=f"{LABEL[schedule]}, lr0={lr:g}",
            )
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("learning rate")
    ax.set_title("Learning rate: static vs step decay")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def _mean_curve(runs: Sequence[Mapping[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``key`` over runs, per step, over the steps every run reached."""
    length = min(len(r[key]) for r in runs)
    values = np.array([r[key][:length] for r in runs], dtype=float)
    iterations = np.array(runs[0]["iteration"][:length], dtype=float)
    return iterations, values.mean(axis=0)


def plot_accuracy_vs_iteration(runs: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """(B) Validation accuracy over training, static vs decay, mean over seeds per lr."""
    lrs = sorted({r["lr0"] for r in runs})
    colours = _lr_colours(lrs)
    fig = Figure(figsize=(6.4, 4))
    ax = fig.subplots()
    for lr in lrs:
        for schedule, style in STYLE.items():
            group = [r for r in runs if r["lr0"] == lr and r["schedule"] == schedule]
            group = [r for r in group if r["val_accuracy"]]
            if not group:
                continue
            x, y = _mean_curve(group, "val_accuracy")
            ax.plot(x, y, style, color=colours[lr], lw=1.4, label=f"{LABEL[schedule]}, lr0={lr:g}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation accuracy (mean over seeds)")
    ax.set_title("Validation accuracy: static (—) vs step decay (--)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    return _save(fig, path)


def plot_final_vs_lr(summary: Mapping[str, Any], path: Path) -> Path:
    """(C) Final accuracy vs initial learning rate, mean ± std over seeds, per schedule."""
    fig = Figure(figsize=(6.4, 4))
    ax = fig.subplots()
    markers = {"constant": "o", "step": "s"}
    for schedule, rows in summary["final_accuracy"].items():
        rows = [r for r in rows if r["mean"] is not None]
        if not rows:
            continue
        ax.errorbar(
            [r["lr0"] for r in rows],
            [r["mean"] for r in rows],
            yerr=[r["std"] for r in rows],
            fmt=STYLE[schedule],
            marker=markers[schedule],
            capsize=3,
            label=LABEL[schedule],
        )
    ax.set_xscale("log")
    ax.set_xlabel("initial learning rate")
    ax.set_ylabel("final validation accuracy")
    ax.set_title("Final accuracy vs initial learning rate (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    return _save(fig, path)


# ----------------------------------------------------------------------------- pbt-lr


def _fitness_colours(members: Sequence[Mapping[str, Any]]) -> tuple[list[Any], Normalize]:
    """A colour per member by its final fitness (unknown fitness: grey)."""
    finals = [m["final_accuracy"] for m in members]
    known = [f for f in finals if f is not None] or [0.0, 1.0]
    norm = Normalize(min(known), max(known) if max(known) > min(known) else min(known) + 1e-9)
    cmap = colormaps["viridis"]
    return [cmap(norm(f)) if f is not None else "grey" for f in finals], norm


def plot_pbt_lr(
    members: Sequence[Mapping[str, Any]], exploits: Sequence[Mapping[str, Any]], path: Path
) -> Path:
    """Every member's learning rate over training, coloured by final fitness; exploits
    (the iteration a member took another's weights and its new rate) marked by ``x``."""
    colours, norm = _fitness_colours(members)
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for member, colour in zip(members, colours, strict=True):
        if not member["lr"]:
            continue
        x = [0, *member["iteration"]]  # the rate of a step holds from its start
        y = [member["lr"][0], *member["lr"]]
        ax.step(x, y, where="pre", color=colour, lw=1.2, alpha=0.9)
    if exploits:
        ax.scatter(
            [e["iteration"] for e in exploits],
            [e["lr"] for e in exploits],
            marker="x",
            color="tab:red",
            s=28,
            zorder=3,
            label="exploit",
        )
        ax.legend(fontsize=8)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("learning rate")
    ax.set_title(f"PBT: learning rate of {len(members)} members")
    ax.grid(alpha=0.3)
    mappable = colormaps["viridis"]
    fig.colorbar(_scalar_mappable(norm, mappable), ax=ax, label="final val_accuracy")
    return _save(fig, path)


def plot_pbt_fitness(members: Sequence[Mapping[str, Any]], path: Path) -> Path:
    """Validation accuracy over training per member, coloured by final fitness."""
    colours, norm = _fitness_colours(members)
    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for member, colour in zip(members, colours, strict=True):
        ax.plot(member["iteration"], member["val_accuracy"], "-o", color=colour, lw=1, ms=2.5)
    ax.set_xlabel("iteration")
    ax.set_ylabel("validation accuracy")
    ax.set_title("PBT: fitness over time per member")
    ax.grid(alpha=0.3)
    fig.colorbar(_scalar_mappable(norm, colormaps["viridis"]), ax=ax, label="final val_accuracy")
    return _save(fig, path)


def _scalar_mappable(norm: Normalize, cmap: Any) -> Any:
    """A colorbar source for ``norm`` and ``cmap`` (no artist needed)."""
    from matplotlib.cm import ScalarMappable

    mappable = ScalarMappable(norm=norm, cmap=cmap)
    mappable.set_array([])
    return mappable
