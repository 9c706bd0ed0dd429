"""The early stops of a study, as the report shows them: each Stop decision with its
explanation, how every trial ended (its fate, naming the rule that stopped it) and LCM's
predictions with the curves they matched. Computed from the log, drawing nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..events import Decided, Event
from ..types import History, Trial, TrialState


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
        near = nearest_curves(r.details)
        lines.append(
            f"| {r.trial} | {r.step if r.step is not None else ''} | {r.rule} | "
            f"{r.reason} | {near} |"
        )
    return "\n".join(lines) + "\n"


def nearest_curves(details: Mapping) -> str:
    """An LCM stop's matched curves with their distances: ``#7 (0.02), prior #3 (0.05)``.

    A neighbour is a trial id of this study, or a prior study's curve: ``{"study": dir,
    "trial": id}`` (stores written before that named it only ``-1``)."""
    pairs = zip(details.get("neighbours", []), details.get("distances", []), strict=False)
    return ", ".join(f"{_neighbour_label(n)} ({d:.3g})" for n, d in pairs)


def _neighbour_label(neighbour: Any) -> str:
    if isinstance(neighbour, Mapping):
        return f"prior #{neighbour.get('trial')}"
    return f"#{neighbour}" if _own(neighbour) else "prior"


def _own(neighbour: Any) -> bool:
    """Whether a neighbour is a trial of this study (not a prior curve)."""
    return not isinstance(neighbour, Mapping) and neighbour >= 0


def fate(trial: Trial, rules: Mapping[int, str]) -> str:
    """How a trial ended: its state, or for a stopped trial the rule that stopped it
    ("stopped by lcm"), so that a figure can tell LCM's stops from ASHA's."""
    if trial.state is TrialState.STOPPED:
        return f"stopped by {rules.get(trial.id) or 'scheduler'}"
    return trial.state.value


def stop_rules(records: Iterable[StopRecord]) -> dict[int, str]:
    """The rule named by each stopped trial's Stop decision."""
    return {r.trial: r.rule for r in records}


def fates(history: History, records: Iterable[StopRecord]) -> dict[int, str]:
    """Every trial's ``fate``, by id."""
    rules = stop_rules(records)
    return {trial.id: fate(trial, rules) for trial in history.trials.values()}


def fate_counts(fates: Mapping[int, str]) -> dict[str, int]:
    """Trials per fate, in a fixed order (completed, each rule's stops, failed, diverged,
    running) so legends read the same in every report; fates no trial has are left out."""
    counts: dict[str, int] = {}
    for name in fates.values():
        counts[name] = counts.get(name, 0) + 1
    order = ["completed", *sorted(n for n in counts if n.startswith("stopped"))]
    order += ["failed", "diverged", "running"]
    return {name: counts[name] for name in order if name in counts}


@dataclass(frozen=True)
class Prediction:
    """An LCM stop's predicted final value and the nearest complete curve of this study
    (None when only prior curves were nearer than any of this study's)."""

    trial: int
    step: int
    value: float
    neighbour: int | None
    distance: float | None


def lcm_predictions(records: Iterable[StopRecord]) -> list[Prediction]:
    """The LCM stops that predicted a final value (not the ``current`` ablation)."""
    out = []
    for r in records:
        details = r.details
        value = details.get("prediction")
        if r.rule != "lcm" or details.get("predict") == "current" or value is None:
            continue
        pairs = zip(details.get("neighbours", []), details.get("distances", []), strict=False)
        near = next(((n, d) for n, d in pairs if _own(n)), (None, None))
        out.append(Prediction(r.trial, int(r.step or 0), float(value), *near))
    return out
