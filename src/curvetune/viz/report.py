"""``curvetune report DIR``: the study's figures as PNG files."""

from __future__ import annotations

from pathlib import Path

from ..space import Choice
from .data import best_so_far
from .plots import plot_best_so_far, plot_learning_curves, plot_space_3d


def write_report(study, out: Path) -> list[Path]:
    """Write best-so-far, learning curves and (3+ parameters) the 3-D parameter view."""
    history = study.history
    out = Path(out)
    written = [
        plot_best_so_far(
            best_so_far(study.store.events(), history), history, out / "best_so_far.png"
        ),
        plot_learning_curves(history, out / "learning_curves.png"),
    ]
    space = study.spec.space
    if len(space) >= 3 and len(history):
        names = list(space.names)[:3]
        log_axes = {n for n in names if not isinstance(space[n], Choice) and space[n].log}
        written.append(plot_space_3d(history, names, log_axes, out / "space_3d.png"))
    return written
