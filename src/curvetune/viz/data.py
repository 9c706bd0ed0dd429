"""What the figures show, computed from a study without drawing anything (easy to test).

Here: compute against the best value so far, each parameter's values as numbers, final
values and state counts. The stops and fates are in ``stop_data``, the parallel-coordinates
axes in ``parallel_axes`` and the PBT copies and rates in ``pbt_data``; this module
re-exports them all, so every figure's data can be imported from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..events import Event, SegmentFinished, TrialFinished
from ..types import History, TrialState, better, is_finite
from .parallel_axes import Axis, completed_values, parameter_axes, result_axis
from .pbt_data import ExploitRow, exploit_rows, member_rates
from .stop_data import (
    Prediction,
    StopRecord,
    fate,
    fate_counts,
    fates,
    lcm_predictions,
    nearest_curves,
    stop_rules,
    stops,
    stops_markdown,
)

__all__ = [
    "Anytime",
    "Axis",
    "ExploitRow",
    "Prediction",
    "StopRecord",
    "best_so_far",
    "completed_values",
    "exploit_rows",
    "fate",
    "fate_counts",
    "fates",
    "final_values",
    "lcm_predictions",
    "member_rates",
    "nearest_curves",
    "numeric_axes",
    "parameter_axes",
    "result_axis",
    "state_counts",
    "steps_trained",
    "stop_rules",
    "stops",
    "stops_markdown",
]


@dataclass(frozen=True)
class Anytime:
    """Best completed value so far against compute spent (steps trained, all trials)."""

    compute: list[int]
    best: list[float]


def best_so_far(events: Iterable[Event], history: History) -> Anytime:
    """Replay the log: compute grows with every segment, the incumbent with every completion."""
    compute, points, values = 0, [], []
    incumbent: float | None = None
    for event in events:
        compute += _steps_of(event)
        if isinstance(event, TrialFinished) and event.state is TrialState.COMPLETED:
            value = history.score(history[event.trial])
            if value is not None and (incumbent is None or better(value, incumbent, history.mode)):
                incumbent = value
                points.append(compute)
                values.append(value)
    if points:
        points.append(compute)
        values.append(values[-1])
    return Anytime(points, values)


def numeric_axes(history: History, names: list[str]) -> dict[str, list[float]]:
    """Each parameter's values over the trials, as numbers (choices by their index)."""
    axes: dict[str, list[float]] = {}
    trials = list(history.trials.values())
    for name in names:
        values = [t.config.get(name) for t in trials]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            axes[name] = [float(v) for v in values]
        else:
            levels = list(dict.fromkeys(map(str, values)))
            axes[name] = [float(levels.index(str(v))) for v in values]
    return axes


def final_values(history: History) -> list[float | None]:
    """The study metric's final value per trial (None where never finite)."""
    out: list[float | None] = []
    for trial in history.trials.values():
        value = trial.last_value(history.metric)
        out.append(value if value is not None and is_finite(value) else None)
    return out


def state_counts(history: History) -> dict[str, int]:
    """Trials in every state, zeros included, in ``TrialState``'s order."""
    counts = {state.value: 0 for state in TrialState}
    for trial in history.trials.values():
        counts[trial.state.value] += 1
    return counts


def steps_trained(events: Iterable[Event]) -> int:
    """Compute spent: steps of every segment that came back ok (PBT's copied steps and
    retried segments count as trained, as ``best_so_far`` counts them)."""
    return sum(_steps_of(e) for e in events)


def _steps_of(event: Event) -> int:
    """Steps an event trained: a segment's that came back ok, 0 for anything else."""
    if isinstance(event, SegmentFinished) and event.status == "ok":
        return max(0, event.until - event.start)
    return 0
