"""The decision core: the one place where the searcher proposes and the scheduler decides.

Both ways of running a study use it: ``Study.optimize``'s loop, which runs segments on
workers, and ask/tell, where the user's own loop trains. The core turns each decision into
the facts that record it (``Decided`` and what follows from it), hands them to the journal,
and returns the decision for its driver to act on. So the rules exist once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..checkpoints import CheckpointStore
from ..events import Decided, Event, Exploited, TrialCreated, TrialFinished, apply
from ..schedulers import Scheduler
from ..searchers import Searcher
from ..space import Space
from ..types import Complete, Continue, Decision, Exploit, History, Stop, Trial, TrialState, Wait
from .journal import Journal

_FINAL = (Stop, Complete)  # a tuple: isinstance with a union is several times slower


class OnDemandRng:
    """A ``numpy.random.Generator`` made on first use: most schedulers never draw, and
    seeding one costs 10 us, as much as the rest of a decision."""

    __slots__ = ("_entropy", "_rng")

    def __init__(self, entropy: tuple[int, ...]) -> None:
        self._entropy = entropy
        self._rng: np.random.Generator | None = None

    def __getattr__(self, name: str) -> Any:
        if self._rng is None:
            self._rng = np.random.default_rng(list(self._entropy))
        return getattr(self._rng, name)


class DecisionCore:
    """Creates trials and decides about them, recording every decision in ``journal``.

    Reproducible: trial i's config and seed come from stream i of one PCG64 (2**64 numbers
    apart, rewound and advanced per trial: 2 us, where seeding afresh costs 10 us), and
    each decision from a generator seeded by (seed, trial, step), so a resumed study draws
    what an uninterrupted one would.
    """

    def __init__(
        self,
        *,
        space: Space,
        fixed: Mapping[str, Any],
        searcher: Searcher,
        scheduler: Scheduler,
        history: History,
        journal: Journal,
        checkpoints: CheckpointStore | None,
        seed: int,
    ) -> None:
        self.space = space
        self.fixed = dict(fixed)
        self.searcher = searcher
        self.scheduler = scheduler
        self.history = history
        self.journal = journal
        self.checkpoints = checkpoints
        self._seed = seed
        self._trial_bits = np.random.PCG64(np.random.SeedSequence([seed, 0]))
        self._trial_start = self._trial_bits.state
        self._trial_rng = np.random.Generator(self._trial_bits)
        self.exhausted = False  # the searcher has nothing more to propose

    def create(self) -> tuple[Trial, Decision] | None:
        """A new trial from the searcher and its first decision, stored together; None once
        the searcher has nothing left (a finished grid)."""
        if self.exhausted:
            return None
        trial_id = len(self.history)
        rng = self._rng_for_trial(trial_id)
        config = self.searcher.suggest(self.space, self.history, rng)
        if config is None:
            self.exhausted = True
            return None
        seed = int(rng.integers(2**31 - 1))
        created = TrialCreated(trial_id, {**self.fixed, **config}, seed)
        apply(self.history, created)
        trial = self.history[trial_id]
        return trial, self.decide(trial, [created], applied=1)

    def decide(self, trial: Trial, events: list[Event] | None = None, applied: int = 0) -> Decision:
        """Ask the scheduler about ``trial``; record its decision after ``events`` (of which
        the first ``applied`` are in the history already) and return it."""
        decision = self.scheduler.decide(trial, self.history, self._rng_for(trial))
        self._settle(trial, decision, events or [], applied)
        return decision

    def reconsider(self, trial: Trial) -> Decision:
        """Ask again about a waiting trial; a new decision is recorded, a ``Wait`` is not
        (it was, when the trial began to wait)."""
        decision = self.scheduler.decide(trial, self.history, self._rng_for(trial))
        if not isinstance(decision, Wait):
            self._settle(trial, decision, [], 0)
        return decision

    def _rng_for_trial(self, trial_id: int) -> np.random.Generator:
        self._trial_bits.state = self._trial_start
        self._trial_bits.advance(trial_id << 64)
        return self._trial_rng

    def _rng_for(self, trial: Trial) -> np.random.Generator:
        return OnDemandRng((self._seed, 1, trial.id, trial.step))  # type: ignore[return-value]

    def _settle(self, trial: Trial, decision: Decision, events: list[Event], applied: int) -> None:
        if isinstance(decision, Continue):
            self._check_until(trial, decision.until)
            events.append(Decided(trial.id, "Continue", until=decision.until))
        elif isinstance(decision, Exploit):
            events += self._exploit(trial, decision)
        elif isinstance(decision, Stop):
            events.append(
                Decided(trial.id, "Stop", reason=decision.reason, details=decision.details)
            )
            events.append(TrialFinished(trial.id, TrialState.STOPPED, decision.reason))
        elif isinstance(decision, Wait):
            events.append(Decided(trial.id, "Wait", reason=decision.reason))
        elif isinstance(decision, Complete):
            events.append(Decided(trial.id, "Complete"))
            events.append(TrialFinished(trial.id, TrialState.COMPLETED))
        else:
            raise TypeError(f"scheduler returned {decision!r}, which is not a Decision")
        self.journal.record(events, applied)
        if isinstance(decision, _FINAL):
            self.journal.release(trial.id)

    def _exploit(self, trial: Trial, decision: Exploit) -> list[Event]:
        source = self.history[decision.source]
        step = source.checkpoint_step
        if self.checkpoints is not None and step > 0:
            self.checkpoints.clone(source.id, step, trial.id, step)
        self._check_until(trial.evolve(step=step), decision.until)
        details = {"source": source.id, "step": step}
        return [
            Decided(trial.id, "Exploit", decision.until, decision.reason, details),
            Exploited(trial.id, source.id, step, dict(decision.config)),
        ]

    def _check_until(self, trial: Trial, until: int) -> None:
        if not trial.step < until <= self.history.max_steps:
            raise RuntimeError(
                f"{type(self.scheduler).__name__} asked trial {trial.id} to continue until "
                f"step {until}, but it is at step {trial.step} and the budget is "
                f"{self.history.max_steps} steps"
            )
