"""The study's vocabulary: trials, reports, decisions and the read-only ``History``.

Searchers and schedulers are pure functions of a ``History`` (and an explicit random
generator); they return ``Decision`` values that only the controller applies. Everything
here is a frozen value, so an algorithm cannot change the study behind the controller's back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal

Mode = Literal["min", "max"]


class TrialState(StrEnum):
    """Where a trial stands. Only ``RUNNING`` trials can still change."""

    RUNNING = "running"
    COMPLETED = "completed"  # trained to the full budget
    STOPPED = "stopped"  # stopped early by the scheduler
    FAILED = "failed"  # the objective raised (traceback stored)
    DIVERGED = "diverged"  # a metric became NaN or infinite

    @property
    def finished(self) -> bool:
        return self is not TrialState.RUNNING


@dataclass(frozen=True, slots=True)
class Report:
    """Metrics an objective reported at ``step`` (its unit of resource, e.g. epochs).

    A trial may report several times within one step (say every 100 iterations of an epoch);
    the last report of a step is the step's value.
    """

    step: int
    metrics: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Trial:
    """One configuration and what has happened to it so far."""

    id: int
    config: Mapping[str, Any]
    seed: int
    state: TrialState = TrialState.RUNNING
    reports: tuple[Report, ...] = ()
    step: int = 0  # steps trained so far (the ``until`` of its last successful segment)
    checkpoint_step: int = 0  # step of the newest saved checkpoint (0: none, start afresh)
    reason: str = ""  # why it finished, for STOPPED / FAILED / DIVERGED

    def evolve(self, **changes: Any) -> Trial:
        """A copy with ``changes`` (like ``dataclasses.replace``, several times faster: the
        controller makes one per fact, and replaying a study one per stored event)."""
        get = changes.get
        return Trial(
            get("id", self.id),
            get("config", self.config),
            get("seed", self.seed),
            get("state", self.state),
            get("reports", self.reports),
            get("step", self.step),
            get("checkpoint_step", self.checkpoint_step),
            get("reason", self.reason),
        )

    @property
    def last_step(self) -> int:
        """The highest step the trial has reported (0 before its first report)."""
        return self.reports[-1].step if self.reports else 0

    def value_at(self, metric: str, step: int) -> float | None:
        """The metric's value at ``step`` (the last report of that step), or None."""
        for report in reversed(self.reports):
            if report.step < step:
                return None
            if report.step == step and metric in report.metrics:
                return report.metrics[metric]
        return None

    def curve(self, metric: str) -> tuple[list[int], list[float]]:
        """Steps and values of ``metric``, one point per step (the step's last report)."""
        steps: list[int] = []
        values: list[float] = []
        for report in self.reports:
            if metric not in report.metrics:
                continue
            if steps and steps[-1] == report.step:
                values[-1] = report.metrics[metric]
            else:
                steps.append(report.step)
                values.append(report.metrics[metric])
        return steps, values

    def last_value(self, metric: str) -> float | None:
        """The newest reported value of ``metric``, or None if never reported."""
        for report in reversed(self.reports):
            if metric in report.metrics:
                return report.metrics[metric]
        return None


# ----------------------------------------------------------------------------- decisions


@dataclass(frozen=True, slots=True)
class Continue:
    """Train the trial (from its newest checkpoint) until ``until`` steps are done."""

    until: int


@dataclass(frozen=True, slots=True)
class Stop:
    """End the trial early. ``reason`` is one line for people; ``details`` is for tools."""

    reason: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Complete:
    """The trial has had its full budget."""


@dataclass(frozen=True, slots=True)
class Exploit:
    """Replace the trial's weights by ``source``'s checkpoint, its config by ``config``,
    then continue until ``until`` (Population Based Training's exploit and explore)."""

    source: int
    config: Mapping[str, Any]
    until: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Wait:
    """Not yet: the trial stays where it is (its checkpoint kept), and the scheduler is asked
    again after the next segment of any trial finishes (a generation barrier)."""

    reason: str = ""


Decision = Continue | Stop | Complete | Exploit | Wait


# ----------------------------------------------------------------------------- history


def better(a: float, b: float, mode: Mode) -> bool:
    """True when ``a`` is strictly better than ``b`` for an objective of ``mode``."""
    return a < b if mode == "min" else a > b


def is_finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


class History:
    """A read-only view of a study: its trials, the metric it optimises and its budget.

    The controller owns the only writable copy (``_trials``) and updates it as facts arrive;
    algorithms receive the view and can only read it.
    """

    __slots__ = ("_base", "_changes", "_trials", "max_steps", "metric", "mode", "token")

    def __init__(self, *, metric: str, mode: Mode, max_steps: int) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if max_steps < 1:
            raise ValueError(f"max_steps must be at least 1, got {max_steps}")
        self.metric = metric
        self.mode: Mode = mode
        self.max_steps = max_steps
        self._trials: dict[int, Trial] = {}
        # The feed of changes: the id of every trial put, in order. Position p of the feed
        # is ``_base + p``; the log is compacted (``_base`` moves on) once it is much longer
        # than the study, so it costs O(trials) memory. ``token`` tells histories apart for
        # caches that follow one (hold it, and compare with ``is``).
        self._changes: list[int] = []
        self._base = 0
        self.token = object()

    @property
    def trials(self) -> Mapping[int, Trial]:
        return MappingProxyType(self._trials)

    def __len__(self) -> int:
        return len(self._trials)

    def __getitem__(self, trial_id: int) -> Trial:
        return self._trials[trial_id]

    def in_state(self, *states: TrialState) -> list[Trial]:
        return [t for t in self._trials.values() if t.state in states]

    def completed(self) -> list[Trial]:
        return self.in_state(TrialState.COMPLETED)

    def running(self) -> list[Trial]:
        return self.in_state(TrialState.RUNNING)

    def score(self, trial: Trial) -> float | None:
        """The trial's final (newest) value of the study metric, if finite."""
        value = trial.last_value(self.metric)
        return value if value is not None and is_finite(value) else None

    def best(self) -> Trial | None:
        """The completed trial with the best final value (ties: the earliest)."""
        best_trial, best_value = None, None
        for trial in self._trials.values():
            if trial.state is not TrialState.COMPLETED:
                continue
            value = self.score(trial)
            if value is not None and (best_value is None or better(value, best_value, self.mode)):
                best_trial, best_value = trial, value
        return best_trial

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for trial in self._trials.values():
            counts[trial.state.value] = counts.get(trial.state.value, 0) + 1
        states = ", ".join(f"{n} {state}" for state, n in counts.items())
        text = f"History({len(self)} trials" + (f": {states}" if states else "")
        best = self.best()
        if best is not None:
            text += f"; best {self.metric} {self.score(best):.6g} (#{best.id})"
        return text + ")"

    @property
    def stamp(self) -> int:
        """How many changes the history has seen: a cursor for ``changed_since``."""
        return self._base + len(self._changes)

    def changed_since(self, cursor: int) -> tuple[list[int] | None, int]:
        """The ids of the trials put since ``cursor`` (a ``stamp``; oldest first, repeats
        possible) and the new cursor. ``None`` instead of ids means "too long ago: look at
        every trial" (the feed was compacted past ``cursor``). What a scheduler's cached
        state reads to follow the study in O(changes), not O(trials), per decision."""
        if cursor < self._base:
            return None, self.stamp
        return self._changes[cursor - self._base :], self.stamp

    # Only the controller calls this.
    def _put(self, trial: Trial) -> None:
        self._trials[trial.id] = trial
        changes = self._changes
        changes.append(trial.id)
        if len(changes) > 4 * len(self._trials) + 1024:  # amortised O(1): see changed_since
            self._base += len(changes)
            changes.clear()
