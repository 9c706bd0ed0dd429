"""``curvetune report DIR``: the study's figures as PNG files (those of report.html that
stand alone, PBT's included), and its early stops."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..events import Event
from ..space import Choice
from .data import best_so_far, stops, stops_markdown
from .plots import plot_best_so_far, plot_learning_curves, plot_space_3d, save_png
from .report_figures import pbt_figures


def write_report(study, out: Path, events: Sequence[Event] | None = None) -> list[Path]:
    """Write best-so-far, learning curves, (3+ parameters) the 3-D parameter view, (PBT)
    ``pbt_lineage.png`` and ``pbt_lr.png`` as report.html shows them, and, when trials
    were stopped early, ``stops.md`` with every stop's explanation. ``events`` saves
    reading the log again when the caller has it."""
    history = study.history
    out = Path(out)
    events = list(study.store.events()) if events is None else list(events)
    written = [
        plot_best_so_far(best_so_far(events, history), history, out / "best_so_far.png"),
        plot_learning_curves(history, out / "learning_curves.png"),
    ]
    space = study.spec.space
    if len(space) >= 3 and len(history):
        names = list(space.names)[:3]
        log_axes = {n for n in names if not isinstance(space[n], Choice) and space[n].log}
        written.append(plot_space_3d(history, names, log_axes, out / "space_3d.png"))
    for stem, figure in pbt_figures(history, events).items():
        written.append(save_png(figure, out / f"{stem}.png"))
    records = stops(events)
    if records:
        (out / "stops.md").write_text(stops_markdown(records))
        written.append(out / "stops.md")
    return written
