"""The figures of ``report.html`` beyond ``plots``' PNGs, and how a figure becomes an
embedded image; the PBT ones (``pbt_figures``) are also written as PNG files by ``report``.

Like ``plots``, every figure is a ``matplotlib.figure.Figure`` (never pyplot): no global
state, no GUI backend. ``data_uri`` turns one into a base64 PNG ``data:`` URI, so the page
carries its images and opens offline.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

from matplotlib import colormaps
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..events import Event
from ..lineage import Copy, StepRate, copies, followed
from ..types import History, is_finite
from .data import Axis, Prediction, member_rates

FATE_COLOURS = {
    "completed": "#1f77b4",
    "running": "#2ca02c",
    "failed": "#d62728",
    "diverged": "#9467bd",
    "stopped by lcm": "#ff7f0e",
    "stopped by asha": "#8c564b",
    "stopped by median": "#e377c2",
    "stopped by topk": "#bcbd22",
}
OTHER_STOP = "#7f7f7f"
DPI = 100


def fate_colour(fate: str) -> str:
    """The colour of a fate in every figure and in the page's legend (one table for both)."""
    return FATE_COLOURS.get(fate, OTHER_STOP)


def data_uri(fig: Figure) -> str:
    """The figure as a base64 PNG ``data:`` URI (laid out first)."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=DPI)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def curves_by_fate_figure(
    history: History, fates: Mapping[int, str], predictions: Sequence[Prediction]
) -> Figure:
    """Every learning curve coloured by its fate (a dot where an unfinished one ended), the
    best one in black, and an ``x`` at the budget's end for each LCM prediction."""
    fig = Figure(figsize=(7.5, 4.4))
    ax = fig.subplots()
    groups: dict[str, list] = {}
    for trial in history.trials.values():
        steps, values = trial.curve(history.metric)
        points = [(s, v) for s, v in zip(steps, values, strict=True) if is_finite(v)]
        if points:
            groups.setdefault(fates[trial.id], []).append(points)
    for name, lines in groups.items():
        colour = fate_colour(name)
        ax.add_collection(LineCollection(lines, colors=colour, alpha=0.5, lw=1, label=name))
        if name != "completed":  # where it ended: a stop at step 1 is a single point
            ends = [line[-1] for line in lines]
            ax.plot(*zip(*ends, strict=True), ".", color=colour, ms=4, alpha=0.7)
    if predictions:
        ax.plot(
            [history.max_steps] * len(predictions),
            [p.value for p in predictions],
            "x",
            color=fate_colour("stopped by lcm"),
            ms=5,
            label="LCM predicted final",
        )
    best = history.best()
    if best is not None:
        ax.plot(*best.curve(history.metric), color="black", lw=2.2, label=f"best (#{best.id})")
    ax.autoscale_view()
    _curve_axes(ax, history.metric)
    ax.set_title(f"Learning curves of {len(history)} trials, by fate")
    if groups:
        ax.legend(fontsize=7)
    return fig


def lcm_matches_figure(history: History, predictions: Sequence[Prediction]) -> Figure:
    """Up to six LCM stops: the stopped curve, its nearest complete curve (dashed) and the
    predicted final value (``x`` at the budget's end): what the prediction was based on."""
    shown = predictions[:6]
    columns = min(3, len(shown))
    rows = (len(shown) + columns - 1) // columns
    fig = Figure(figsize=(3.3 * columns, 2.7 * rows))
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    colour = fate_colour("stopped by lcm")
    for ax, p in zip(axes, shown, strict=False):
        steps, values = history[p.trial].curve(history.metric)
        ax.plot(steps, values, "-o", color=colour, lw=1.6, ms=4, label=f"#{p.trial}")
        if p.neighbour is not None and p.neighbour in history.trials:
            steps, values = history[p.neighbour].curve(history.metric)
            ax.plot(steps, values, "--", color="tab:blue", lw=1.2, label=f"nearest #{p.neighbour}")
        ax.plot([history.max_steps], [p.value], "x", color="black", ms=8, label="predicted")
        ax.axvline(p.step, color="grey", lw=0.8, ls=":")
        ax.set_title(f"#{p.trial} stopped at step {p.step}", fontsize=9)
        _curve_axes(ax, history.metric)
        ax.legend(fontsize=6)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    return fig


def parallel_figure(axes: Sequence[Axis], result: Axis, values: Sequence[float | None]) -> Figure:
    """Parallel coordinates: one line per trial through its parameters' scaled positions
    and its result, coloured by final value (grey, underneath: none); axes with ticks."""
    every = [*axes, result]
    fig = Figure(figsize=(max(6.0, 1.8 * len(every)), 4.4))
    ax = fig.subplots()
    known = [v for v in values if v is not None]
    norm = Normalize(min(known), max(known)) if known else Normalize(0, 1)
    cmap = colormaps["viridis"]
    grey, lines, colours = [], [], []
    for i, value in enumerate(values):
        points = [(x, a.positions[i]) for x, a in enumerate(every) if a.positions[i] is not None]
        if value is None:
            grey.append(points)
        else:
            lines.append(points)
            colours.append(cmap(norm(value)))
    ax.add_collection(LineCollection(grey, colors="0.75", lw=0.8, alpha=0.5))
    ax.add_collection(LineCollection(lines, colors=colours, lw=1.2, alpha=0.8))
    box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1}
    for x, axis in enumerate(every):
        ax.axvline(x, color="black", lw=0.8)
        for position, label in axis.ticks:
            ax.text(x + 0.03, position, label, fontsize=7, va="center", bbox=box)
    ax.set_xlim(-0.2, len(every) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xticks(range(len(every)), [a.name for a in every], fontsize=8)
    ax.set_yticks([])
    ax.set_title(f"Parameters vs result ({len(values)} trials)")
    fig.colorbar(_mappable(norm), ax=ax, label=result.name)
    return fig


def pbt_figures(
    history: History, events: Sequence[Event], log: Sequence[Copy] | None = None
) -> dict[str, Figure]:
    """A PBT study's figures by file stem: ``pbt_lineage`` (who copied whom) and, when the
    members report ``lr`` or are configured with one, ``pbt_lr`` (every member's rate and
    the schedule the best member's weights followed); empty when no member copied another.
    One source for the page's ``pbt`` section and the report folder's PNG files."""
    log = copies(events) if log is None else log
    if not log:
        return {}
    path = best_lineage(history, events)
    figures = {"pbt_lineage": lineage_figure(history, log, path)}
    rates = member_rates(history, events)
    if rates:
        values = {t.id: history.score(t) for t in history.trials.values()}
        figures["pbt_lr"] = rates_figure(rates, values, path, history.metric)
    return figures


def best_lineage(history: History, events: Sequence[Event]) -> list[StepRate]:
    """The rates the best member's weights followed (``curvetune pbt-schedule``), or none
    when there is no best member yet or it did not report ``lr`` at every step."""
    best = history.best()
    if best is None:
        return []
    try:
        return followed(history, events, best.id)
    except ValueError:
        return []


def lineage_figure(history: History, log: Sequence[Copy], path: Sequence[StepRate]) -> Figure:
    """PBT lineage: members on y, steps on x, an arrow from the source to the copier at
    every copy; the best member's weights' path through the members in black."""
    members = sorted(history.trials)
    row = {m: i for i, m in enumerate(members)}
    fig = Figure(figsize=(7.5, max(3.0, 0.28 * len(members) + 1.5)))
    ax = fig.subplots()
    for m in members:
        ax.plot([0, history[m].last_step], [row[m], row[m]], color="0.85", lw=1, zorder=1)
    at_step: dict[int, int] = {}
    for copy in log:  # copies at the same step side by side, so none hides another
        at_step[copy.step] = at_step.get(copy.step, 0) + 1
    seen: dict[int, int] = {}
    for copy in log:
        k, n = seen.get(copy.step, 0), at_step[copy.step]
        seen[copy.step] = k + 1
        x = copy.step + (k - (n - 1) / 2) * min(0.12, 0.6 / n)
        ax.plot([x], [row[copy.source]], ".", color="tab:red", ms=4)
        ax.annotate(
            "",
            xy=(x, row[copy.trial]),
            xytext=(x, row[copy.source]),
            arrowprops={"arrowstyle": "->", "color": "tab:red", "lw": 0.8, "alpha": 0.7},
        )
    if path:
        ax.step(
            [0] + [r.step for r in path],
            [row[path[0].trial]] + [row[r.trial] for r in path],
            where="pre",
            color="black",
            lw=2,
            label=f"weights of #{path[-1].trial}",
        )
        ax.legend(fontsize=7, loc="upper left")
    ax.set_yticks(range(len(members)), [f"#{m}" for m in members], fontsize=7)
    ax.set_xlim(0, history.max_steps + 0.5)
    ax.set_ylim(-0.7, len(members) - 0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel("member")
    ax.set_title(f"PBT lineage: {len(log)} copies (arrow: source -> copier)")
    return fig


def rates_figure(
    rates: Mapping[int, tuple[list[int], list[float]]],
    values: Mapping[int, float | None],
    path: Sequence[StepRate],
    metric: str,
) -> Figure:
    """Every member's learning rate over steps (log scale), coloured by its final value,
    and in black the schedule the best member's weights really followed (``lineage``)."""
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.subplots()
    known = [v for v in values.values() if v is not None]
    norm = Normalize(min(known), max(known)) if known else Normalize(0, 1)
    cmap = colormaps["viridis"]
    for member, (steps, lrs) in rates.items():
        value = values.get(member)
        colour = cmap(norm(value)) if value is not None else "grey"
        ax.step([0, *steps], [lrs[0], *lrs], where="pre", color=colour, lw=1, alpha=0.85)
    if path:
        ax.step(
            [0] + [r.step for r in path],
            [path[0].lr] + [r.lr for r in path],
            where="pre",
            color="black",
            lw=2.2,
            label=f"followed by #{path[-1].trial}'s weights",
        )
        ax.legend(fontsize=7)
    if all(lr > 0 for _, lrs in rates.values() for lr in lrs):
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title(f"Learning rate of {len(rates)} members")
    ax.grid(alpha=0.3)
    fig.colorbar(_mappable(norm), ax=ax, label=f"final {metric}")
    return fig


def _curve_axes(ax, metric: str) -> None:
    """Labels and grid shared by the learning-curve panels."""
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)


def _mappable(norm: Normalize):
    """A colorbar source for ``norm`` on viridis (no artist needed)."""
    from matplotlib.cm import ScalarMappable

    mappable = ScalarMappable(norm=norm, cmap=colormaps["viridis"])
    mappable.set_array([])
    return mappable
