"""An in-memory Optuna study that mirrors a History, for Optuna's samplers to read.

Trial i of the History is the i-th mirrored trial that is not a proposal (proposals are
asked, read and then marked failed, which every sampler ignores), so a mirror kept up to
date call after call holds the same trials, in the same order, with the same states and
values as one built from scratch after a resume: the samplers, seeded afresh from the
searcher's generator on every proposal, propose the same configuration either way.

Kept up to date in place while that is possible: a trial that appears is added, a running
one that finishes is finished (Optuna lets only running trials change). When a finished
trial's observation changes (the ``rung`` treatment moved to a higher rung) or the History
is another one, the mirror is built again from scratch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ..space import Space
from . import _optuna_space
from ._observations import Observation

_STATES = {"complete": "COMPLETE", "pruned": "PRUNED", "running": "RUNNING", "left-out": "FAIL"}


class OptunaMirror:
    """The mirror of one History (``token``) in one space, for one optimisation mode."""

    def __init__(self, space: Space, mode: str, token: object) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.space = space
        self.token = token
        self._optuna = optuna
        self.distributions = _optuna_space.distributions(space)
        self._storage = optuna.storages.InMemoryStorage()
        direction = "maximize" if mode == "max" else "minimize"
        self.study = optuna.create_study(storage=self._storage, direction=direction)
        self._study_id = self._storage.get_study_id_from_name(self.study.study_name)
        self._trial_ids: dict[int, int] = {}  # history trial id -> Optuna's trial id
        self._seen: dict[int, Observation] = {}

    def sync(self, observations: Mapping[int, Observation], configs: Callable[[int], Any]) -> bool:
        """Bring the mirror up to date with ``observations`` (history id -> observation, in
        id order); ``configs(id)`` gives a trial's config. False when it cannot be done in
        place (a finished trial changed): build a new mirror then."""
        for trial_id, seen in observations.items():
            before = self._seen.get(trial_id)
            if before == seen or (before is not None and _same(before, seen)):
                continue
            if before is None:
                self._add(trial_id, seen, configs(trial_id))
            elif before.kind == "running":
                self._finish(trial_id, seen)
            else:
                return False
        return True

    def ask(self, sampler: Any) -> dict[str, Any]:
        """``sampler``'s proposal given the mirrored trials, as a config of the space."""
        self.study.sampler = sampler
        trial = self.study.ask(self.distributions)
        params = dict(trial.params)
        self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
        return _optuna_space.to_config(self.space, params)

    def _add(self, trial_id: int, seen: Observation, config: Any) -> None:
        self._seen[trial_id] = seen
        params = _optuna_space.to_params(self.space, config)
        if params is None:  # outside today's space: nothing the model can place
            return
        TrialState = self._optuna.trial.TrialState
        state = getattr(TrialState, _STATES[seen.kind])
        template = self._optuna.trial.create_trial(
            state=state,
            params=params,
            distributions=self.distributions,
            value=seen.value if seen.kind == "complete" else None,
            intermediate_values={seen.step: seen.value} if seen.kind == "pruned" else None,
        )
        self._trial_ids[trial_id] = self._storage.create_new_trial(self._study_id, template)

    def _finish(self, trial_id: int, seen: Observation) -> None:
        self._seen[trial_id] = seen
        optuna_id = self._trial_ids.get(trial_id)
        if optuna_id is None or seen.kind == "running":
            return
        TrialState = self._optuna.trial.TrialState
        if seen.kind == "pruned":
            self._storage.set_trial_intermediate_value(optuna_id, seen.step, seen.value)
        values = [seen.value] if seen.kind == "complete" else None
        self._storage.set_trial_state_values(
            optuna_id, getattr(TrialState, _STATES[seen.kind]), values
        )


def _same(a: Observation, b: Observation) -> bool:
    """Equal, NaN values included (a diverged trial stays what it was)."""
    return (
        a.kind == b.kind
        and a.step == b.step
        and (a.value == b.value or (math.isnan(a.value) and math.isnan(b.value)))
    )
