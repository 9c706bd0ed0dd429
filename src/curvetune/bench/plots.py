"""Figures of a stopping comparison, drawn with ``matplotlib.figure.Figure`` (no pyplot: no
global state, no GUI backend)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure


def plot_anytime(
    anytime: Mapping[str, Any], path: Path, *, title: str = "", metric: str = ""
) -> Path:
    """Median regret of the incumbent against epochs used (log x, symlog y), one line per
    scheduler.

    ``anytime`` is ``{"epochs": grid, "regret": {scheduler: values}}`` as made by
    ``stopping.anytime_curves``: ``values[i]`` belongs to ``grid[i]``; a curve may be
    shorter than the grid (the scheduler used fewer epochs), and ends in a dot.
    """
    fig = Figure(figsize=(7, 4.4))
    ax = fig.subplots()
    grid = anytime["epochs"]
    palette = matplotlib.colormaps["tab20"].colors  # distinct colours for up to 20 lines
    for index, (name, values) in enumerate(anytime["regret"].items()):
        if not values:
            continue
        xs = grid[: len(values)]
        baseline = name == "fifo"
        (line,) = ax.step(
            xs,
            values,
            where="post",
            label=name,
            lw=2.2 if baseline else 1.4,
            color="black" if baseline else palette[(2 * index) % 20 + (index // 10) % 2],
            ls="--" if baseline else "-",
        )
        ax.plot(xs[-1:], values[-1:], "o", ms=4, color=line.get_color())
    ax.set_xscale("log")
    ax.set_yscale("symlog", linthresh=1e-3)  # zero regret, and 0.5 before any completion
    ax.set_xlabel("epochs used (all trials)")
    ax.set_ylabel(f"regret of best completed ({metric})" if metric else "regret")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
