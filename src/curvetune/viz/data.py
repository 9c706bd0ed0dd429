"""What the figures show, computed from a study without drawing anything (easy to test)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..events import Decided, Event, SegmentFinished, TrialCreated, TrialFinished
from ..lineage import copies
from ..space import Choice, Space
from ..types import History, Trial, TrialState, better, is_finite


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


# ----------------------------------------------------------------------------- report.html


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


@dataclass(frozen=True)
class Axis:
    """One vertical axis of a parallel-coordinates plot: every trial's position in [0, 1]
    (None: no value) and the ticks that label it."""

    name: str
    positions: list[float | None]
    ticks: list[tuple[float, str]]


def parameter_axes(history: History, space: Space) -> list[Axis]:
    """An axis per parameter: numbers scaled to the domain's bounds (log10 for log domains,
    widened to any value outside them), choices by their index in the domain."""
    trials = list(history.trials.values())
    axes = []
    for name in space.names:
        domain = space[name]
        values = [t.config.get(name) for t in trials]
        if isinstance(domain, Choice):
            axes.append(_choice_axis(name, list(domain.values), values))
        else:
            axes.append(_number_axis(name, domain.low, domain.high, domain.log, values))
    return axes


def completed_values(history: History) -> list[float | None]:
    """Per trial, its final value if it completed (None otherwise: a stopped trial's last
    value is an early one, and would look worse than the configuration is)."""
    return [
        history.score(t) if t.state is TrialState.COMPLETED else None
        for t in history.trials.values()
    ]


def result_axis(history: History) -> Axis:
    """The completed trials' final value of the study metric, scaled worst to best."""
    values = completed_values(history)
    return _number_axis(f"final {history.metric}", None, None, False, values)


def _choice_axis(name: str, levels: list, values: list) -> Axis:
    """Choices evenly spaced by index; every level labelled (every k-th when many)."""
    last = max(len(levels) - 1, 1)
    positions = [levels.index(v) / last if v in levels else None for v in values]
    every = max(1, len(levels) // 10)
    ticks = [(i / last, str(v)) for i, v in enumerate(levels) if i % every == 0]
    return Axis(name, positions, ticks)


def _number_axis(name: str, low, high, log: bool, values: list) -> Axis:
    """Numbers scaled to [low, high] (log10 when ``log``), bounds widened to the data."""
    numbers = [
        float(v) if is_finite(v) and not isinstance(v, bool) and (v > 0 or not log) else None
        for v in values
    ]
    scaled = [None if v is None else (math.log10(v) if log else v) for v in numbers]
    seen = [v for v in scaled if v is not None]
    bounds = [math.log10(b) if log else float(b) for b in (low, high) if b is not None]
    if not seen and not bounds:
        return Axis(name, scaled, [])
    lo, hi = min(seen + bounds), max(seen + bounds)
    width = hi - lo
    positions = [None if v is None else (v - lo) / width if width else 0.5 for v in scaled]
    ends = [lo, (lo + hi) / 2, hi] if width else [lo]
    ticks = [((v - lo) / width if width else 0.5, f"{10**v if log else v:.3g}") for v in ends]
    return Axis(name, positions, ticks)


@dataclass(frozen=True)
class ExploitRow:
    """A PBT copy: at ``step`` member ``trial`` took ``source``'s weights, and its setting
    went from ``before`` to ``after`` (the copied value, perturbed)."""

    step: int
    trial: int
    source: int
    before: Any
    after: Any


def exploit_rows(events: Sequence[Event], key: str = "lr") -> list[ExploitRow]:
    """Every copy of the log (``lineage.copies``) with the setting ``key`` before and after."""
    current = {e.trial: e.config for e in events if isinstance(e, TrialCreated)}
    rows = []
    for copy in copies(events):
        new = events[copy.index].config
        before = current.get(copy.trial, {}).get(key)
        rows.append(ExploitRow(copy.step, copy.trial, copy.source, before, new.get(key)))
        current[copy.trial] = new
    return rows


def member_rates(
    history: History, events: Sequence[Event], key: str = "lr"
) -> dict[int, tuple[list[int], list[float]]]:
    """Every member's setting ``key`` per step it trained: as reported by the objective (the
    numbers ``pbt-schedule`` follows; the MNIST trainable and ``sgd_quadratic`` report
    ``lr``), else from its config and the configs its exploits gave it."""
    created = {e.trial: e.config for e in events if isinstance(e, TrialCreated)}
    copied: dict[int, list[tuple[int, Any]]] = {}
    for copy in copies(events):
        copied.setdefault(copy.trial, []).append((copy.step, events[copy.index].config.get(key)))
    out = {}
    for trial in history.trials.values():
        steps, rates = trial.curve(key)
        if not steps:
            first = created.get(trial.id, trial.config).get(key)
            steps, rates = _configured(first, copied.get(trial.id, []), trial)
        if steps:
            out[trial.id] = (steps, rates)
    return out


def _configured(
    first: Any, copied: Sequence[tuple[int, Any]], trial: Trial
) -> tuple[list[int], list[float]]:
    """The setting per step from the trial's configs: its ``first``, then each exploit's
    (step of the copied checkpoint, value) from the step after on (later copies win)."""
    last = max(trial.last_step, trial.step)
    rates = [first] * last
    for step, value in copied:
        rates[step:last] = [value] * (last - step)
    keep = [(s, float(r)) for s, r in enumerate(rates, start=1) if is_finite(r)]
    return [s for s, _ in keep], [r for _, r in keep]
