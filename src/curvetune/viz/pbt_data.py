"""What the PBT figures and tables show: every copy of a member's weights with the setting
before and after, and every member's setting (``lr``) per step it trained. Computed from
the log, drawing nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..events import Event, TrialCreated
from ..lineage import copies
from ..types import History, Trial, is_finite


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
