"""CMA-ES (Hansen 2016, "The CMA Evolution Strategy: A Tutorial"), with the ``cmaes`` library's
optimiser replayed from the History.

CMA-ES samples each generation of ``population`` points from a Gaussian over the unit cube
of the space (``Space.to_unit``; log scales honoured), then moves the mean towards the better
half of them and adapts the step size and the covariance from their ranks. It suits smooth
numeric spaces of a few to a few dozen parameters and studies long enough for several
generations. It needs the ``optuna`` extra (``pip install 'curvetune[optuna]'``, which brings
``cmaes``).

Why a replay: the optimiser's state (mean, step size, covariance, evolution paths) is made
by telling it generation after generation, and a resumed study has only its History. Optuna's
own ``CmaEsSampler`` keeps that state in Optuna trials' system attributes, which a curvetune
study cannot rebuild, so this searcher drives ``cmaes.CMA`` itself and rebuilds the state
from the History: the observations are taken in trial id order and cut into consecutive
generations of ``population``, and each full generation is told to a fresh optimiser in
turn. The optimiser is cached for the history it follows and told only the generations that
have become full since (one ``tell`` per generation over the study), and a fresh instance
rebuilds exactly the same state, so a proposal is a pure function of (space, history, rng):
each one is the optimiser's ``ask`` with its generator reseeded from the given one.

What a trial tells it:

* a completed trial: its final value of the metric;
* a trial stopped early: its last value. Under early stopping that is a pessimistic score
  (the trial stopped before it could improve), so stopped configs rank below what they
  would have reached: CMA-ES only uses ranks, and the scheduler stopped them because they
  ranked low, so this mostly agrees with the scheduler;
* a diverged trial: worse than every finite value (its config steers the search away);
* a failed trial, one that reported no value, or one whose config is no longer in the
  space: nothing (left out; the next observation takes its place in the generation).

Limits: no ``Choice`` parameters (CMA-ES needs an ordered, numeric space: use ``tpe``);
``Int`` parameters are searched as continuous and rounded by the space. Generations are
formed only over the settled prefix of the study, the trials before the first one still
running, so the grouping never depends on the order in which parallel workers finish; with
W workers (or a trial the scheduler keeps running) the state lags the newest results, and a
generation may hold points drawn from an older distribution than the one it updates.
Parameters with a single value are not dimensions of the search.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _validate
from ..space import Choice, Space
from ..types import History, Trial, TrialState

OWNER = "cmaes searcher"
# The smallest population the update is defined for: with fewer than 4 points the rank-mu
# learning rate is 0 and the library divides by it.
MIN_POPULATION = 4
_SEED_BOUND = 2**32  # what numpy's legacy RandomState, the library's generator, accepts


class CmaEsSearcher:
    """CMA-ES over the unit cube of a numeric space, replayed from the History.

    ``population`` is the number of points per generation (None: the library's default,
    ``4 + floor(3 ln d)`` for ``d`` searched parameters); ``sigma`` is the initial step size
    in the unit cube (the first generation is drawn around its centre). Never exhausted.
    """

    __slots__ = ("_replay", "population", "sigma")

    def __init__(self, *, population: int | None = None, sigma: float = 0.25) -> None:
        _validate.whole(OWNER, "population", population, MIN_POPULATION, allow_none=True)
        _validate.number(OWNER, "sigma", sigma, 0, 1, low_open=True)
        from ..executors._optional import require

        require("cmaes", extra="optuna", what="the cmaes searcher")
        self.population = population
        self.sigma = float(sigma)
        self._replay: _Replay | None = None

    def __repr__(self) -> str:
        return f"CmaEsSearcher(population={self.population}, sigma={self.sigma})"

    def suggest(self, space: Space, history: History, rng: np.random.Generator) -> dict[str, Any]:
        axes = searched_axes(space)
        if not axes:  # nothing to search: every parameter has one value
            return space.sample(rng)
        replay = self._replay
        if replay is None or not replay.follows(space, history, self.population, self.sigma):
            replay = _Replay(space, axes, history, self.population, self.sigma)
        if not replay.catch_up(history):  # a settled trial changed: rebuild from scratch
            replay = _Replay(space, axes, history, self.population, self.sigma)
            replay.catch_up(history)
        self._replay = replay
        return replay.propose(rng)


def searched_axes(space: Space) -> list[int]:
    """The positions (in ``space.names`` order) of the parameters with more than one value;
    raises ``ValueError`` if any of them is a ``Choice``."""
    choices = [n for n in space.names if isinstance(space[n], Choice) and space[n].size() > 1]
    if choices:
        names = ", ".join(repr(name) for name in choices)
        raise ValueError(
            f"{OWNER}: the space has choice parameter(s) {names}; CMA-ES needs numeric "
            "parameters only (Float, Int): use tpe"
        )
    return [i for i, name in enumerate(space.names) if space[name].size() > 1]


class _Replay:
    """The optimiser told every full generation of one history's settled prefix so far.

    Derived data only: it holds what a fresh replay of the same history would build, and is
    advanced trial by trial as the settled prefix grows (``catch_up``)."""

    __slots__ = (
        "axes",
        "cursor",
        "mode",
        "optimizer",
        "pending",
        "population",
        "sigma",
        "space",
        "stamp",
        "token",
    )

    def __init__(
        self, space: Space, axes: list[int], history: History, population: int | None, sigma: float
    ) -> None:
        from cmaes import CMA

        d = len(axes)
        self.space, self.axes, self.population, self.sigma = space, axes, population, sigma
        self.token, self.mode = history.token, history.mode
        self.optimizer = CMA(
            mean=np.full(d, 0.5),
            sigma=sigma,
            bounds=np.array([[0.0, 1.0]] * d),
            seed=0,  # never used: propose reseeds it from the searcher's generator
            population_size=population,
        )
        self.cursor = 0  # the id of the first trial not yet settled (or not yet seen)
        self.pending: list[tuple[np.ndarray, float]] = []  # the generation being filled
        self.stamp = 0  # the history's stamp when last caught up

    def follows(self, space: Space, history: History, population: int | None, sigma: float) -> bool:
        return (
            self.token is history.token
            and self.space == space
            and self.population == population
            and self.sigma == sigma
        )

    def catch_up(self, history: History) -> bool:
        """Tell the generations completed since the last call; False (nothing told) if a
        trial already replayed was put again since, when only a rebuild is safe."""
        changed, stamp = history.changed_since(self.stamp)
        if self.cursor and (changed is None or any(i < self.cursor for i in changed)):
            return False
        self.stamp = stamp
        trials, size = history.trials, self.optimizer.population_size
        while self.cursor < len(history):
            trial = trials.get(self.cursor)
            if trial is not None:
                if trial.state is TrialState.RUNNING:
                    break
                seen = self.observe(trial, history.metric)
                if seen is not None:
                    self.pending.append(seen)
                    if len(self.pending) == size:
                        self.optimizer.tell(self.pending)  # (it sorts the list in place)
                        self.pending = []
            self.cursor += 1
        return True

    def observe(self, trial: Trial, metric: str) -> tuple[np.ndarray, float] | None:
        """The trial as a solution for the library, which minimises: (point, value), the value
        negated under mode "max"; None when the trial tells nothing (see the module)."""
        if trial.state is TrialState.FAILED or not self.space.contains(trial.config):
            return None
        if trial.state is TrialState.DIVERGED:
            value = math.inf
        else:
            last = trial.last_value(metric)
            if last is None or not math.isfinite(last):
                return None
            value = -last if self.mode == "max" else last
        return self.space.to_unit(trial.config)[self.axes], value

    def propose(self, rng: np.random.Generator) -> dict[str, Any]:
        """One draw from the current distribution, inside the cube (the library resamples
        points outside it, then clips), with the library's generator seeded from ``rng``."""
        optimizer = self.optimizer
        optimizer.reseed_rng(int(rng.integers(_SEED_BOUND)))
        units = np.full(len(self.space), 0.5)  # single-valued parameters: any point will do
        units[self.axes] = optimizer.ask()
        return self.space.from_unit(units)
