"""Population Based Training lineage: who copied whom, and the schedule a member followed.

A member's weights at step s were trained by its own settings since its last exploit, and
before that by whatever trained the weights it copied, recursively. ``followed`` walks the
log's ``Exploited`` events back through those copies to give, for every step of a member's
training, the learning rate (and the global iteration count) that really produced its
weights: the schedule a fresh training can replay (``piecewise``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .events import Event, Exploited
from .types import History


@dataclass(frozen=True)
class Copy:
    """At log position ``index``, ``trial`` took ``source``'s checkpoint of step ``step``."""

    index: int
    trial: int
    source: int
    step: int


@dataclass(frozen=True)
class StepRate:
    """The learning rate that trained step ``step``, by member ``trial``, ending at
    global iteration ``iteration`` (None when not reported)."""

    step: int
    trial: int
    lr: float
    iteration: int | None


def copies(events: Sequence[Event]) -> list[Copy]:
    """Every exploit in the log, in order."""
    return [
        Copy(i, e.trial, e.source, e.step) for i, e in enumerate(events) if isinstance(e, Exploited)
    ]


def followed(
    history: History, events: Sequence[Event], trial_id: int, metric: str = "lr"
) -> list[StepRate]:
    """The rate of every step 1..(trial's last step) along the trial's weights' lineage."""
    log = copies(events)
    end = history[trial_id].last_step
    return _path(history, log, trial_id, end, len(events), metric)


def _path(
    history: History, log: list[Copy], trial_id: int, end: int, before: int, metric: str
) -> list[StepRate]:
    earlier = [c for c in log if c.trial == trial_id and c.index < before and c.step <= end]
    start, prefix = 0, []
    if earlier:
        last = earlier[-1]
        prefix = _path(history, log, last.source, last.step, last.index, metric)
        start = last.step
    trial = history[trial_id]
    own = []
    for step in range(start + 1, end + 1):
        lr = trial.value_at(metric, step)
        if lr is None:
            raise ValueError(f"trial {trial_id} reported no {metric!r} at step {step}")
        iteration = trial.value_at("iteration", step)
        own.append(StepRate(step, trial_id, lr, None if iteration is None else int(iteration)))
    return prefix + own


def piecewise(path: Sequence[StepRate]) -> list[tuple[int, float]]:
    """``(first iteration, lr)`` points of a piecewise-constant schedule replaying ``path``
    (a step whose start is unknown is placed at the previous step's reported end)."""
    points: list[tuple[int, float]] = []
    begin = 0
    for rate in path:
        if not points or points[-1][1] != rate.lr:
            points.append((begin, rate.lr))
        if rate.iteration is not None:
            begin = rate.iteration
    return points
