"""Ask/tell: a study driven from the user's own training loop.

``study.ask()`` hands out a ``TrialHandle``; the loop trains and calls
``trial.report(step, **metrics)``; ``trial.should_stop()`` says whether the scheduler
stopped it; ``study.tell(trial)`` ends it. The searcher and scheduler run in the same
``DecisionCore`` as ``Study.optimize``'s, and every fact goes to the same store, so the
explanations, the report and the dashboard are the same. A reported step that reaches the
``until`` of the scheduler's last ``Continue`` ends a segment: the scheduler decides then,
and its decision is written at once (a training loop is slow; nothing is lost but the
steps of the segment under way).

A program killed mid-study reopens it: finished trials are kept, and ``ask()`` first hands
back the trials that were asked but never told, from step 0 (curvetune keeps no state of
the user's loop), so a budget stays exact.
"""

from __future__ import annotations

import math
import operator
import threading
import time
from collections import deque
from typing import Any

from .control import DecisionCore, Journal
from .control.checks import missing_metric_message, reports_metric
from .events import Decided, Event, SegmentFinished, TrialFinished, apply
from .schedulers import PBTScheduler, Scheduler
from .searchers import Searcher
from .spec import StudySpec
from .storage import Store, StoreError
from .types import Complete, Continue, Decision, History, Report, Stop, Trial, TrialState


class AskTell:
    """The engine behind ``Study.ask``/``Study.tell`` for one open study."""

    def __init__(
        self,
        spec: StudySpec,
        *,
        history: History,
        store: Store,
        searcher: Searcher,
        scheduler: Scheduler,
    ) -> None:
        if isinstance(scheduler, PBTScheduler):
            raise ValueError(
                "pbt moves a population together (a generation waits at a barrier, then "
                "copies another member's weights), which needs the workers and checkpoints "
                "of study.optimize(); it cannot run from ask/tell"
            )
        self.spec = spec
        self.history = history
        self.journal = Journal(store=store, history=history, checkpoints=None, stateless=True)
        self.core = DecisionCore(
            space=spec.space,
            fixed=spec.fixed,
            searcher=searcher,
            scheduler=scheduler,
            history=history,
            journal=self.journal,
            checkpoints=None,
            seed=spec.seed,
        )
        self._lock = threading.Lock()  # threads of one loop may ask, report and tell
        self._orphans = deque(t.id for t in history.running())  # asked, never told
        self._out: dict[int, TrialHandle] = {}  # handed out by this session, not told
        self._metric_seen = any(
            reports_metric(t.reports, history.metric) for t in history.trials.values()
        )
        self.closed = False  # set by ``Study.close``: handles still out are refused then
        self.fault = ""  # why the store failed: the session is over (reopen the study)

    @property
    def asked(self) -> list[int]:
        """The trials in the loop's hands: asked and not yet told."""
        return sorted(self._out)

    def ask(self) -> TrialHandle | None:
        with self._lock:
            self.check_usable()
            orphans = self._orphans
            while orphans and self.history[orphans[0]].state is not TrialState.RUNNING:
                orphans.popleft()  # finished meanwhile (by optimize)
            if orphans:
                trial = self.history[orphans.popleft()]
                trial = trial.evolve(step=0)  # the loop starts it afresh
                self.history._put(trial)
                decision = self.core.decide(trial)
            else:
                created = self.core.create()
                if created is None:
                    return None
                trial, decision = created
            self._flush()
            handle = TrialHandle(self, trial)
            handle._settle(decision)
            self._out[trial.id] = handle
            return handle

    def tell(self, handle: TrialHandle, error: str | None, diverged: bool = False) -> None:
        with self._lock:
            if not isinstance(handle, TrialHandle):
                raise TypeError(f"tell takes the TrialHandle ask() gave, got {handle!r}")
            if handle._engine is self:
                self.check_usable()
            if handle._engine is not self or self._out.get(handle.id) is not handle:
                if handle._told:
                    raise ValueError(f"trial {handle.id} was told already; tell it once")
                raise ValueError(f"trial {handle.id} was not asked from this study")
            events: list[Event] = []
            if error is not None or diverged:
                if handle._decision is not None:
                    raise ValueError(
                        f"trial {handle.id} had already finished ({handle.state.value}) "
                        "when it was told it failed; tell it without error"
                    )
                text = str(error or "").strip()
                status, state = "error", TrialState.FAILED
                if diverged:
                    status, state = "diverged", TrialState.DIVERGED
                reason = text.splitlines()[-1] if text else status
                events.append(handle._segment(status, text))
                events.append(TrialFinished(handle.id, state, reason))
            elif handle._decision is None:  # the loop ended it before the scheduler did
                if handle._reports:
                    events.append(handle._segment("ok", ""))
                step = handle._reports[-1].step if handle._reports else handle._start
                reason = f"ended by the loop at step {step} of {self.spec.max_steps}"
                events.append(Decided(handle.id, "Stop", reason=reason))
                events.append(TrialFinished(handle.id, TrialState.STOPPED, reason))
            self.journal.record(events)
            handle._told = True
            del self._out[handle.id]
            self._flush()

    def close_segment(self, handle: TrialHandle) -> Decision:
        """``handle`` reported its ``until``, or beyond: store the reports up to it and ask
        the scheduler there, as ``optimize`` would have (a loop that reports every few
        steps is judged at the scheduler's own steps, on what it reported by then)."""
        with self._lock:
            finished = handle._segment("ok", "", until=handle._until)
            if finished.reports and not self._metric_seen:
                if not reports_metric(finished.reports, self.history.metric):
                    who = f"trial {handle.id}"
                    fix = f"report {self.history.metric!r}, or create the study with that metric"
                    raise ValueError(
                        missing_metric_message(self.history.metric, finished.reports, who, fix)
                    )
                self._metric_seen = True
            apply(self.history, finished)
            decision = self.core.decide(self.history[handle.id], [finished], applied=1)
            self._flush()
            return decision

    def check_usable(self) -> None:
        """Refuse to go on once the study was closed or its store failed."""
        if self.fault:
            raise StoreError(f"{self.fault}; the ask/tell session ended: open the study again")
        if self.closed:
            raise StoreError("this study was closed; open it again to go on")

    def _flush(self) -> None:
        """Store what was recorded. If the store fails, the history is ahead of it: the
        session ends there, and reopening the study goes on from what was stored."""
        try:
            self.journal.flush()
        except StoreError as exc:
            self.fault = str(exc)
            raise


class TrialHandle:
    """One trial of an ask/tell study, in the hands of the user's loop."""

    def __init__(self, engine: AskTell, trial: Trial) -> None:
        self._engine = engine
        self.id = trial.id
        self.config: dict[str, Any] = dict(trial.config)  # the loop's copy: the store's stays
        self.seed = trial.seed  # for the loop's own generators, if it wants reproducibility
        self._start = trial.step  # where the segment under way began
        self._until = 0  # the step at which the scheduler decides next
        self._reports: list[Report] = []
        self._began = time.monotonic()
        self._decision: Stop | Complete | None = None
        self._told = False

    def report(self, step: int, **metrics: float) -> None:
        """Record ``metrics`` at ``step`` (1, 2, ... up to the study's ``max_steps``).
        Reporting the step at which the scheduler asked to be consulted lets it decide."""
        self._check_open()
        step = _step(self.id, step, self.max_steps)
        last = self._reports[-1].step if self._reports else self._start
        if step < last:
            raise ValueError(
                f"trial {self.id}: step {step} after step {last}; steps must not go back"
            )
        if not self._reports and step == self._start and self._start > 0:
            raise ValueError(
                f"trial {self.id}: step {step} was judged already (the scheduler decided on "
                f"its report); report step {step + 1} or later"
            )
        if not metrics:
            raise ValueError(f"trial {self.id}: report at step {step} names no metric")
        values = {name: _finite(self.id, step, name, value) for name, value in metrics.items()}
        self._reports.append(Report(step, values))
        while self._decision is None and step >= self._until:
            self._settle(self._engine.close_segment(self))

    @property
    def metric(self) -> str:
        """The study's metric: what ``report`` must include for the scheduler to judge."""
        return self._engine.spec.metric

    @property
    def max_steps(self) -> int:
        """The study's budget of steps per trial (steps run 1..max_steps)."""
        return self._engine.spec.max_steps

    @property
    def step(self) -> int:
        """The last step reported (0 before the first report)."""
        return self._reports[-1].step if self._reports else self._start

    def should_stop(self) -> bool:
        """Whether the loop should stop training this trial: the scheduler stopped it, or it
        reached the study's budget of steps (then ``state`` is COMPLETED)."""
        return self._decision is not None

    @property
    def state(self) -> TrialState:
        if isinstance(self._decision, Stop):
            return TrialState.STOPPED
        if isinstance(self._decision, Complete):
            return TrialState.COMPLETED
        return TrialState.RUNNING

    @property
    def reason(self) -> str:
        """Why the scheduler stopped it ("" while it runs or once completed)."""
        return self._decision.reason if isinstance(self._decision, Stop) else ""

    def _check_open(self) -> None:
        if self._engine.closed or self._engine.fault:
            why = self._engine.fault or "its study was closed"
            raise ValueError(
                f"trial {self.id}: {why}; reopen the study and ask() again (it hands this "
                "trial back first)"
            )
        if self._told:
            raise ValueError(f"trial {self.id} was told already; it takes no more reports")
        if self._decision is not None:
            why = (
                f"was stopped by the scheduler at step {self._start} ({self.reason})"
                if isinstance(self._decision, Stop)
                else f"reached the budget of {self._engine.spec.max_steps} steps"
            )
            raise ValueError(
                f"trial {self.id} {why}; it takes no more reports: call study.tell(trial)"
            )

    def _settle(self, decision: Decision) -> None:
        """Take the decision recorded after the last segment: go on to its ``until``, or end.
        Reports past the segment's end open the next one."""
        if self._until:  # a segment closed (not the first decision, made at ask)
            self._start = self._until
            self._reports = [r for r in self._reports if r.step > self._until]
        self._began = time.monotonic()
        if isinstance(decision, Continue):
            self._until = decision.until
        elif isinstance(decision, Stop | Complete):
            self._decision = decision
        else:
            raise RuntimeError(
                f"{type(self._engine.core.scheduler).__name__} returned {decision!r}; "
                "ask/tell can only continue, stop or complete a trial (use study.optimize())"
            )

    def _segment(self, status: str, error: str, until: int | None = None) -> SegmentFinished:
        """The segment under way as a fact: its reports up to ``until`` (default: all, to
        the last one reported; a failed segment ends where it began)."""
        reports = tuple(r for r in self._reports if until is None or r.step <= until)
        if until is None:
            until = reports[-1].step if reports and status == "ok" else self._start
        seconds = time.monotonic() - self._began
        return SegmentFinished(self.id, self._start, until, status, reports, error, seconds)

    def __repr__(self) -> str:
        return f"<TrialHandle {self.id} {self.state.value} config={dict(self.config)}>"


def _step(trial_id: int, step: Any, max_steps: int) -> int:
    """``step`` as an int (numpy integers too) in 1..max_steps, or one clear error."""
    try:
        whole = operator.index(step) if not isinstance(step, bool) else None
    except TypeError:
        whole = None
    if whole is None or not 1 <= whole <= max_steps:
        raise ValueError(
            f"trial {trial_id}: step must be a whole number from 1 to max_steps = "
            f"{max_steps}, got {step!r}"
        )
    return whole


def _finite(trial_id: int, step: int, name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"trial {trial_id}: {name} = {value!r} at step {step} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"trial {trial_id}: {name} = {value!r} at step {step} is not a number"
        ) from None
    if not math.isfinite(number):
        raise ValueError(
            f"trial {trial_id}: {name} = {number} at step {step}; a diverged trial ends with "
            "study.tell(trial, diverged=True)"
        )
    return number
