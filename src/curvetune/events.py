"""The facts a study is made of, and how they fold into a ``History``.

The controller appends these to the store, in order, and nothing else writes there. Running
the same study again replays them (``replay``) to rebuild the ``History`` exactly as it was,
which is what makes a killed study resumable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .types import History, Report, Trial, TrialState


@dataclass(frozen=True, slots=True)
class TrialCreated:
    trial: int
    config: Mapping[str, Any]
    seed: int


@dataclass(frozen=True, slots=True)
class SegmentFinished:
    """A segment came back. ``status`` is "ok", "error" or "diverged"; reports of steps
    after ``start`` replace whatever an earlier, interrupted attempt had reported."""

    trial: int
    start: int
    until: int
    status: str
    reports: tuple[Report, ...] = ()
    error: str = ""
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class CheckpointSaved:
    trial: int
    step: int


@dataclass(frozen=True, slots=True)
class Decided:
    """A scheduler decision and its explanation (``kind`` is the decision's class name)."""

    trial: int
    kind: str
    until: int | None = None
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Exploited:
    """The trial took ``source``'s checkpoint (at ``step``) and the new ``config``."""

    trial: int
    source: int
    step: int
    config: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class SegmentLost:
    """A segment's worker died (or the segment hung); it will be retried or the trial fails."""

    trial: int
    attempt: int
    error: str


@dataclass(frozen=True, slots=True)
class TrialFinished:
    trial: int
    state: TrialState
    reason: str = ""


Event = (
    TrialCreated
    | SegmentFinished
    | CheckpointSaved
    | Decided
    | Exploited
    | SegmentLost
    | TrialFinished
)

EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        TrialCreated,
        SegmentFinished,
        CheckpointSaved,
        Decided,
        Exploited,
        SegmentLost,
        TrialFinished,
    )
}


def apply(history: History, event: Event) -> None:
    """Fold one event into the history (the controller's only way to change it).

    Applying a ``SegmentFinished`` or ``CheckpointSaved`` twice changes nothing more.
    """
    fold = _FOLDS.get(type(event))
    if fold is not None:  # a Decided changes nothing: it explains
        fold(history, event)


def _created(history: History, event: TrialCreated) -> None:
    history._put(Trial(id=event.trial, config=dict(event.config), seed=event.seed))


def _segment(history: History, event: SegmentFinished) -> None:
    t = history[event.trial]
    step = event.until if event.status == "ok" else t.step
    reports = _kept(t.reports, event.start) + event.reports
    # Most facts of a study are segments: the Trial is built directly, not through evolve.
    history._put(Trial(t.id, t.config, t.seed, t.state, reports, step, t.checkpoint_step, t.reason))


def _checkpoint(history: History, event: CheckpointSaved) -> None:
    history._put(history[event.trial].evolve(checkpoint_step=event.step))


def _exploited(history: History, event: Exploited) -> None:
    trial = history[event.trial]
    history._put(
        trial.evolve(config=dict(event.config), checkpoint_step=event.step, step=event.step)
    )


def _finished(history: History, event: TrialFinished) -> None:
    history._put(history[event.trial].evolve(state=event.state, reason=event.reason))


_FOLDS: dict[type, Callable[[History, Any], None]] = {
    TrialCreated: _created,
    SegmentFinished: _segment,
    CheckpointSaved: _checkpoint,
    Exploited: _exploited,
    TrialFinished: _finished,
}


def _kept(reports: tuple[Report, ...], start: int) -> tuple[Report, ...]:
    """The reports of steps up to ``start``: all of them unless an interrupted attempt
    reported past it (reports are in step order), found from the end, so a trial of K
    segments costs O(K) in all, not O(K^2)."""
    end = len(reports)
    while end and reports[end - 1].step > start:
        end -= 1
    return reports if end == len(reports) else reports[:end]


def replay(history: History, events: Iterable[Event]) -> History:
    """Fold a stored log into ``history``, as ``apply`` would one event at a time, but
    building each trial once: on mutable drafts, frozen into ``Trial`` values at the end.
    (Re-opening a study of 20,000 x 10 segments would otherwise make 200,000 trials only
    to throw them away.)"""
    drafts: dict[int, _Draft] = {}
    for event in events:
        kind = type(event)
        if kind is TrialCreated:
            drafts[event.trial] = _Draft(Trial(event.trial, dict(event.config), event.seed))
            continue
        if kind is Decided:
            continue
        draft = drafts.get(event.trial)
        if draft is None:
            draft = drafts[event.trial] = _Draft(history[event.trial])
        if kind is SegmentFinished:
            draft.segment(event)
        elif kind is CheckpointSaved:
            draft.checkpoint_step = event.step
        elif kind is Exploited:
            draft.config, draft.checkpoint_step = dict(event.config), event.step
            draft.step = event.step
        elif kind is TrialFinished:
            draft.state, draft.reason = event.state, event.reason
    for draft in drafts.values():
        history._put(draft.freeze())
    return history


class _Draft:
    """A trial while a log is replayed: the fields of ``Trial``, mutable, its reports a list.
    Each change mirrors the fold of the same event above."""

    __slots__ = ("checkpoint_step", "config", "id", "reason", "reports", "seed", "state", "step")

    def __init__(self, trial: Trial) -> None:
        self.id, self.config, self.seed, self.state = (
            trial.id,
            trial.config,
            trial.seed,
            trial.state,
        )
        self.reports, self.step = list(trial.reports), trial.step
        self.checkpoint_step, self.reason = trial.checkpoint_step, trial.reason

    def segment(self, event: SegmentFinished) -> None:
        reports = self.reports
        while reports and reports[-1].step > event.start:  # as _kept
            reports.pop()
        reports.extend(event.reports)
        if event.status == "ok":
            self.step = event.until

    def freeze(self) -> Trial:
        return Trial(
            self.id,
            self.config,
            self.seed,
            self.state,
            tuple(self.reports),
            self.step,
            self.checkpoint_step,
            self.reason,
        )
