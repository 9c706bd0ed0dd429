"""Regularized (aging) evolution, after Real et al. 2019, "Regularized Evolution for Image
Classifier Architecture Search".

The population is the most recent ``population`` finished trials with a score; older trials
age out, which regularises the search towards configurations that are good when retrained
rather than lucky once. Each proposal picks ``tournament`` members at random, copies the best
one's config and mutates it. Until the population is full the searcher samples at random.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from curvetune import _validate
from curvetune.space import Choice, Domain, Space
from curvetune.types import History, Trial, TrialState, better

# Trials that can be parents: trained to the end, or stopped early with a real score. Failed
# and diverged trials hold broken configs, so they never breed.
_ELIGIBLE = (TrialState.COMPLETED, TrialState.STOPPED)
# A numeric mutation either resamples the parameter (global moves) or, as often, perturbs it
# by a Gaussian step of this scale in the parameter's unit (log if ``log``) space (local moves).
PERTURB_SCALE = 0.1
_RESAMPLE_TRIES = 64


class EvolutionSearcher:
    """Aging evolution with tournament selection.

    ``mutation_rate`` None mutates exactly one parameter, chosen uniformly, per child; a number
    in (0, 1] mutates each parameter with that probability instead (at least one always).
    Parameters with a single possible value are never chosen.
    """

    __slots__ = ("mutation_rate", "population", "tournament")

    def __init__(
        self, *, population: int = 20, tournament: int = 5, mutation_rate: float | None = None
    ) -> None:
        owner = "evolution searcher"
        _validate.whole(owner, "population", population, 2)
        if not (_validate.is_whole(tournament) and 1 <= tournament <= population):
            expected = f"a whole number from 1 to population ({population})"
            _validate.refuse(owner, "tournament", expected, tournament)
        rate = mutation_rate
        _validate.number(owner, "mutation_rate", rate, 0, 1, low_open=True, allow_none=True)
        self.population = population
        self.tournament = tournament
        self.mutation_rate = mutation_rate

    def __repr__(self) -> str:
        return (
            f"EvolutionSearcher(population={self.population}, tournament={self.tournament}, "
            f"mutation_rate={self.mutation_rate})"
        )

    def suggest(self, space: Space, history: History, rng: np.random.Generator) -> dict[str, Any]:
        members = self.members(history)
        if len(members) < self.population:
            return space.sample(rng)
        parent = self.select(members, history, rng)
        return mutate(space, parent.config, rng, self.mutation_rate)

    def members(self, history: History) -> list[tuple[Trial, float]]:
        """The population: the newest ``population`` eligible trials and their scores, in trial
        id order. Walks the history from its newest trial (trials are added in id order), so
        the cost is the population plus the trials still running, not the study's length."""
        members: list[tuple[Trial, float]] = []
        metric, population, finite = history.metric, self.population, math.isfinite
        for trial in reversed(history.trials.values()):
            if trial.state in _ELIGIBLE:
                # History.score, inlined: this loop is the searcher's hot path.
                score = trial.last_value(metric)
                if score is not None and finite(score):
                    members.append((trial, score))
                    if len(members) == population:
                        break
        members.sort(key=lambda member: member[0].id)
        return members

    def select(
        self, members: list[tuple[Trial, float]], history: History, rng: np.random.Generator
    ) -> Trial:
        """Tournament: ``tournament`` distinct members drawn uniformly; the best one wins (ties:
        the first drawn)."""
        n, k = len(members), self.tournament
        indices = list(range(n))
        units = rng.random(k).tolist()
        best: tuple[Trial, float] | None = None
        for j, u in enumerate(units):  # partial Fisher-Yates shuffle
            r = j + min(int(u * (n - j)), n - j - 1)
            indices[j], indices[r] = indices[r], indices[j]
            member = members[indices[j]]
            if best is None or better(member[1], best[1], history.mode):
                best = member
        assert best is not None
        return best[0]


def mutate(
    space: Space,
    config: Mapping[str, Any],
    rng: np.random.Generator,
    mutation_rate: float | None = None,
) -> dict[str, Any]:
    """A copy of ``config`` (restricted to the space) with mutated parameters. Parameters with
    a single possible value cannot change; every other mutated value differs from the parent's.
    A parent value outside its domain (the space changed) is resampled."""
    child: dict[str, Any] = {}
    for name in space.names:
        domain = space[name]
        value = config.get(name)
        child[name] = value if domain.contains(value) else domain.sample(rng)
    mutable = [name for name in space.names if space[name].size() > 1]
    if not mutable:
        return child
    if mutation_rate is None or len(mutable) == 1:
        chosen = [mutable[min(int(rng.random() * len(mutable)), len(mutable) - 1)]]
    else:
        units = rng.random(len(mutable)).tolist()
        chosen = [name for name, u in zip(mutable, units, strict=True) if u < mutation_rate]
        if not chosen:
            chosen = [mutable[min(int(rng.random() * len(mutable)), len(mutable) - 1)]]
    for name in chosen:
        child[name] = mutate_value(space[name], child[name], rng)
    return child


def mutate_value(domain: Domain, value: Any, rng: np.random.Generator) -> Any:
    """A value of ``domain`` other than ``value`` (the domain must hold at least two)."""
    a, b = rng.random(2).tolist()
    if isinstance(domain, Choice):
        index = domain.index(value)
        n = len(domain.values)
        j = min(int(a * (n - 1)), n - 2)
        if index is not None and j >= index:
            j += 1
        return domain.values[j]
    if a < 0.5:
        t = domain.to_unit(value) + PERTURB_SCALE * rng.standard_normal()
        t = abs(t) % 2.0  # reflect into [0, 1] at both ends
        candidate = domain.from_unit(2.0 - t if t > 1.0 else t)
    else:
        candidate = domain.from_unit(b)
    if candidate != value:
        return candidate
    for _ in range(_RESAMPLE_TRIES):
        candidate = domain.sample(rng)
        if candidate != value:
            return candidate
    # Practically unreachable: choose among the domain's other lattice values (or its ends).
    size = domain.size()
    others = [v for v in domain.grid(2 if math.isinf(size) else max(2, int(size))) if v != value]
    return others[min(int(rng.random() * len(others)), len(others) - 1)]
