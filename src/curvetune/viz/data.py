"""What the figures show, computed from a study without drawing anything (easy to test)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..events import Decided, Event, SegmentFinished, TrialFinished
from ..types import History, TrialState, better, is_finite


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
        if isinstance(event, SegmentFinished):
            compute += max(0, event.until - event.start) if event.status == "ok" else 0
        elif isinstance(event, TrialFinished) and event.state is TrialState.COMPLETED:
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


@dataclass(frozen=True)
class StopRecord:
    """One early stop and the scheduler's explanation of it."""

    trial: int
    step: int | None
    rule: str
    reason: str
    details: dict


def stops(events: Iterable[Event]) -> list[StopRecord]:
    """Every Stop decision in the log, in the order they were made."""
    return [
        StopRecord(
            trial=e.trial,
            step=e.details.get("step"),
            rule=str(e.details.get("rule", "")),
            reason=e.reason,
            details=dict(e.details),
        )
        for e in events
        if isinstance(e, Decided) and e.kind == "Stop"
    ]


def stops_markdown(records: list[StopRecord]) -> str:
    """A markdown table of stops: trial, step, rule, reason (and LCM's nearest curves)."""
    lines = [
        f"# {len(records)} trial(s) stopped early",
        "",
        "| trial | step | rule | reason | nearest complete curves (distance) |",
        "|---:|---:|---|---|---|",
    ]
    for r in records:
        pairs = zip(r.details.get("neighbours", []), r.details.get("distances", []), strict=False)
        near = ", ".join(f"#{n} ({d:.3g})" if n >= 0 else f"prior ({d:.3g})" for n, d in pairs)
        lines.append(
            f"| {r.trial} | {r.step if r.step is not None else ''} | {r.rule} | "
            f"{r.reason} | {near} |"
        )
    return "\n".join(lines) + "\n"
