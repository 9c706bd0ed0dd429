"""Optuna pruners that stop trials with curvetune's rules: ``LCMPruner``, ``MatchedHalvingPruner``.

One argument turns an Optuna study's usual pruning loop into Learning Curve Matching::

    import optuna
    from curvetune.integrations.optuna import LCMPruner

    def objective(trial):
        ...
        for epoch in range(50):                 # Optuna's steps: 0 is the first epoch
            trial.report(train_one_epoch(), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return final_value

    study = optuna.create_study(direction="maximize", pruner=LCMPruner(max_steps=50))

**Steps.** By default Optuna step 0 is the first epoch (Optuna's own convention) and steps
run 0..max_steps-1; pass ``first_step=1`` when your loop reports epochs 1..max_steps.
Optuna step ``first_step + i`` is curvetune step ``i + 1``. A report outside the budget is
an error (``ValueError``, which fails the trial), not a guess.

**Decisions.** Each ``prune`` mirrors the study's trials into a curvetune ``History``
(intermediate values are the curves; the objective's return value is not used: a complete
curve's final value is its last report) and asks the scheduler, exactly as curvetune's
controller would: once when the trial starts, then at each step a ``Continue(until=...)``
named. A trial that skipped a check step is judged, at that check, on what it had reported
by then. On a sequential study this gives the stop decisions curvetune's own scheduler gives
on the same sequence of trials (``benchmarks/optuna_agreement.py``). A NaN or infinite
report prunes the trial at once (curvetune ends such a trial as diverged). Every prune
leaves its explanation in the trial's user attrs under ``"curvetune_stop"``: reason, rule,
step (Optuna's), curvetune_step, and the rule's details (LCM: prediction, rank, threshold,
neighbours, which are Optuna trial numbers, and their distances).

**Storage.** Decisions are computed from ``study.get_trials`` alone (the pruner's cache of
finished curves is only a cache), so any storage works and a study resumed by a new
pruner (``optuna.load_study(..., pruner=LCMPruner(...))``) decides as if it had never
stopped. A lock makes one pruner safe under ``study.optimize(n_jobs=...)``. Multi-objective
studies are refused (``ValueError``; Optuna itself does not prune them).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..executors._optional import require
from ..schedulers import make_scheduler
from ..schedulers.lcm import PRESETS
from ..types import Complete, Continue, Stop

require("optuna", extra="optuna", what="curvetune.integrations.optuna")

from optuna.pruners import BasePruner  # noqa: E402
from optuna.study import StudyDirection  # noqa: E402

from ._optuna_history import (  # noqa: E402
    STOP_ATTR,
    Chain,
    StudyMirror,
    first_non_finite,
    jsonable,
)

USER_ATTR = STOP_ATTR

__all__ = ["USER_ATTR", "LCMPruner", "MatchedHalvingPruner", "SchedulerPruner"]


class SchedulerPruner(BasePruner):
    """An Optuna pruner deciding with any curvetune stopping rule (a scheduler whose
    ``decide`` returns ``Continue``, ``Stop`` or ``Complete``), over ``max_steps`` steps."""

    def __init__(
        self, scheduler: Any, max_steps: int, *, first_step: int = 0, metric: str = "value"
    ) -> None:
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a whole number >= 1, got {max_steps!r}")
        if type(first_step) is not int or first_step not in (0, 1):
            raise ValueError(
                f"first_step must be 0 (Optuna's convention: step 0 is the first epoch) "
                f"or 1 (steps count epochs from 1), got {first_step!r}"
            )
        self.scheduler = scheduler
        self.max_steps = max_steps
        self.first_step = first_step
        self._metric = metric
        self._lock = threading.Lock()
        self._mirror: StudyMirror | None = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(max_steps={self.max_steps}, first_step={self.first_step}, "
            f"scheduler={self.scheduler!r})"
        )

    def __getstate__(self) -> dict[str, Any]:  # the cache and lock stay behind
        return {**self.__dict__, "_lock": None, "_mirror": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    # ----------------------------------------------------------------------------- Optuna

    def prune(self, study: Any, trial: Any) -> bool:
        if len(study.directions) != 1:
            raise ValueError(
                f"{type(self).__name__} prunes single-objective studies only; this study has "
                f"{len(study.directions)} objectives"
            )
        mode = "min" if study.direction == StudyDirection.MINIMIZE else "max"
        with self._lock:
            mirror = self._mirror
            if mirror is None or not mirror.follows(study, mode):
                mirror = self._mirror = StudyMirror(
                    study,
                    metric=self._metric,
                    mode=mode,
                    max_steps=self.max_steps,
                    first_step=self.first_step,
                )
            points = mirror.points(trial, strict=True)
            if not points:
                return False  # nothing reported: nothing to judge
            chain = mirror.chains.setdefault(trial.number, Chain())
            if chain.stop is None:
                self._advance(study, trial, mirror, chain, points)
            stop = chain.stop
        return stop is not None

    def _advance(
        self, study: Any, trial: Any, mirror: StudyMirror, chain: Chain, points: list
    ) -> None:
        """Ask the scheduler at every step it asked to be asked at, up to the newest report
        (before a non-finite value: that ends the trial there), as the controller would."""
        diverged = first_non_finite(points)
        limit = points[-1][0] if diverged is None else diverged - 1
        if not chain.done and chain.until <= limit:
            history, number = mirror.history, trial.number
            mirror.sync(study, skip=number)
            while not chain.done and chain.until <= limit:
                step = chain.until
                mirror.put(number, [p for p in points if p[0] <= step], step)
                rng = np.random.default_rng([0, 1, number, step])
                decision = self.scheduler.decide(history[number], history, rng)
                if isinstance(decision, Stop):
                    self._record(study, trial, chain, step, decision.reason, decision.details)
                    return
                if isinstance(decision, Complete):
                    chain.done = True
                elif isinstance(decision, Continue) and step < decision.until <= self.max_steps:
                    chain.until = decision.until
                else:
                    raise RuntimeError(
                        f"{type(self.scheduler).__name__} answered {decision!r} for trial "
                        f"{number} at step {step}; an Optuna pruner needs a stopping rule "
                        f"(Continue until a later step <= {self.max_steps}, Stop or Complete)"
                    )
        if diverged is not None:
            value = dict(points)[diverged]
            reason = f"{mirror.history.metric} became {value} at step {diverged}"
            self._record(study, trial, chain, diverged, reason, {"rule": "diverged"})

    def _record(
        self, study: Any, trial: Any, chain: Chain, step: int, reason: str, details: Any
    ) -> None:
        """Remember the stop and leave its explanation in the trial's user attrs."""
        if self.first_step != 1:  # the reason counts curvetune's steps (1 = first epoch)
            reason += f" (curvetune step {step} is Optuna step {step - 1 + self.first_step})"
        explanation = {
            **jsonable(dict(details)),
            "reason": reason,
            "step": step - 1 + self.first_step,
            "curvetune_step": step,
        }
        explanation.setdefault("rule", type(self.scheduler).__name__)
        chain.stop = explanation
        study._storage.set_trial_user_attr(trial._trial_id, USER_ATTR, explanation)


class LCMPruner(SchedulerPruner):
    """Learning Curve Matching (``curvetune.schedulers.LCMScheduler``) as an Optuna pruner.

    ``lcm_options`` are ``LCMScheduler``'s (``min_complete``, ``k``, ``threshold``,
    ``predict``, ``first_check``, ``every``, ``checks``, ``points``, ``weighting``,
    ``normalize``, ``prior``), or ``preset=`` one of ``curvetune.schedulers.lcm.PRESETS``
    (``"lcm"``, ``"lcm-k1"``, ``"lcm-last"``, ``"lcm-safe"``) with options on top. ``prior``
    (a curvetune study directory) is read now, so a wrong one fails before any training.
    """

    def __init__(
        self, max_steps: int, *, first_step: int = 0, preset: str = "lcm", **lcm_options: Any
    ) -> None:
        if preset not in PRESETS:
            raise ValueError(f"unknown LCM preset {preset!r}; choose from {', '.join(PRESETS)}")
        scheduler = make_scheduler(preset, **lcm_options)  # unknown options: one clear line
        metric = "value"
        if scheduler.prior_curves is not None:  # the history must speak the prior's metric
            metric = scheduler.prior_curves.metric
            scheduler.check_study(trials=None, max_steps=max_steps, metric=metric)
        super().__init__(scheduler, max_steps, first_step=first_step, metric=metric)


class MatchedHalvingPruner(SchedulerPruner):
    """Matched halving (``curvetune.schedulers.MatchedHalving``: ASHA's rungs with a Learning
    Curve Matching veto on its stops) as an Optuna pruner; ``options`` are its own
    (``min_resource``, ``reduction_factor``, ``veto``, ``k``, ``min_complete``, ``predict``)."""

    def __init__(self, max_steps: int, *, first_step: int = 0, **options: Any) -> None:
        scheduler = make_scheduler("matched-halving", **options)
        super().__init__(scheduler, max_steps, first_step=first_step)
