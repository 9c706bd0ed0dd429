"""Matplotlib renderers for the study report. Each draws one figure and saves it as PNG.

Figures are built with ``matplotlib.figure.Figure`` directly, not pyplot: no global figure
state, no GUI backend, safe in worker processes and threads.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..types import History, TrialState
from .data import Anytime, final_values, numeric_axes

STATE_COLOURS = {
    TrialState.COMPLETED: "tab:blue",
    TrialState.RUNNING: "tab:green",
    TrialState.STOPPED: "tab:orange",
    TrialState.FAILED: "tab:red",
    TrialState.DIVERGED: "tab:purple",
}


def plot_best_so_far(anytime: Anytime, history: History, path: Path) -> Path:
    """Save ``best_so_far_figure`` as PNG."""
    return save_png(best_so_far_figure(anytime, history), path)


def best_so_far_figure(anytime: Anytime, history: History) -> Figure:
    """The incumbent's value as a step function of compute (also embedded in report.html)."""
    fig = Figure(figsize=(6.4, 4))
    ax = fig.subplots()
    if anytime.compute:
        ax.step(anytime.compute, anytime.best, where="post", color="tab:blue", lw=2)
        ax.plot(anytime.compute[:-1], anytime.best[:-1], "o", color="tab:blue", ms=4)
    ax.set_xlabel("compute spent (steps trained, all trials)")
    ax.set_ylabel(f"best {history.metric} so far")
    ax.set_title("Best completed trial vs compute")
    ax.grid(alpha=0.3)
    return fig


def plot_learning_curves(history: History, path: Path) -> Path:
    fig = Figure(figsize=(6.4, 4))
    ax = fig.subplots()
    seen: set[TrialState] = set()
    best = history.best()
    for trial in history.trials.values():
        steps, values = trial.curve(history.metric)
        if not steps:
            continue
        label = trial.state.value if trial.state not in seen else None
        seen.add(trial.state)
        ax.plot(steps, values, color=STATE_COLOURS[trial.state], alpha=0.55, lw=1, label=label)
    if best is not None:
        steps, values = best.curve(history.metric)
        ax.plot(steps, values, color="black", lw=2.2, label=f"best (#{best.id})")
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(history.metric)
    ax.set_title(f"Learning curves of {len(history)} trials")
    ax.grid(alpha=0.3)
    if seen:
        ax.legend(fontsize=8)
    return save_png(fig, path)


def plot_space_3d(history: History, names: list[str], log_axes: set[str], path: Path) -> Path:
    """The first three parameters as a 3-D scatter (a cube for a grid), coloured by result."""
    return save_png(space_3d_figure(history, names, log_axes), path)


def space_3d_figure(history: History, names: list[str], log_axes: set[str]) -> Figure:
    """The figure of ``plot_space_3d``, unsaved (report.html embeds it)."""
    axes = numeric_axes(history, names)
    values = final_values(history)
    keep = [i for i, v in enumerate(values) if v is not None]
    fig = Figure(figsize=(7, 5.6))
    ax = fig.add_subplot(projection="3d")
    coords = []
    for name in names:
        column = [axes[name][i] for i in keep]
        coords.append([math.log10(v) for v in column] if name in log_axes else column)
    colours = [values[i] for i in keep]
    points = ax.scatter(*coords, c=colours, cmap="viridis", s=60, depthshade=False)
    for axis, name, column in zip((ax.xaxis, ax.yaxis, ax.zaxis), names, coords, strict=True):
        axis.set_label_text(name + (" (log scale)" if name in log_axes else ""))
        levels = sorted(set(column))
        if len(levels) <= 6:  # a grid: tick exactly its levels, labelled with real values
            axis.set_ticks(levels)
            if name in log_axes:
                axis.set_ticklabels([f"{10**v:.3g}" for v in levels])
    fig.colorbar(points, ax=ax, shrink=0.7, label=f"final {history.metric}")
    ax.set_title(f"{len(keep)} trials over {' x '.join(names)}")
    return fig


def save_png(fig: Figure, path: Path) -> Path:
    """Lay out ``fig`` and write it to ``path`` as PNG (creating the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
