"""Model-based searchers: Optuna's TPE and GP samplers, driven from a curvetune History.

Why Optuna's samplers: they are the most used implementations of TPE (Bergstra et al. 2011;
Watanabe 2023) and of GP-based optimisation with a log-EI acquisition, kept up with by a
large team, tested against many benchmarks, and they take any mix of log, step, int and
categorical parameters. Writing either by hand would be a worse copy. They need the
``optuna`` extra (``pip install 'curvetune[optuna]'``).

How they are driven (``_optuna_mirror``): the History is mirrored into an in-memory Optuna
study (stopped trials as ``_observations`` says), a fresh sampler seeded from the
searcher's generator proposes one trial, and the proposal is read back as a config. So a
proposal is a pure function of (space, history, rng): a resumed study proposes what it
would have uninterrupted. Running trials are in the mirror as running: TPE's constant liar
and the GP's own handling keep W workers from proposing the same point W times.

The first ``startup`` trials are quasi-random (``sobol``) rather than independent draws.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _validate
from ..space import Space
from ..types import History
from ._observations import STOPPED, Observer
from ._optuna_mirror import OptunaMirror
from .sobol import sobol_point

SAMPLERS = ("tpe", "gp")


class ModelSearcher:
    """Propose with Optuna's ``sampler`` ("tpe" or "gp") fitted to the History.

    ``stopped`` is how stopped trials inform the model (``_observations``: "pruned",
    "predicted" or "rung"); ``startup`` trials are quasi-random first; ``min_results`` is how
    many trials a rung needs before the "rung" treatment fits on it (default: ``startup``);
    ``window``, if set, fits on the newest ``window`` finished trials only (the GP's cost
    grows with the cube of what it fits on).
    """

    __slots__ = ("_mirror", "_observer", "min_results", "sampler", "startup", "stopped", "window")

    def __init__(
        self,
        sampler: str = "tpe",
        *,
        stopped: str = "rung",
        startup: int = 10,
        min_results: int | None = None,
        window: int | None = None,
    ) -> None:
        owner = f"{sampler} searcher"
        _validate.one_of("model searcher", "sampler", sampler, SAMPLERS)
        _validate.one_of(owner, "stopped", stopped, STOPPED)
        _validate.whole(owner, "startup", startup, 1)
        _validate.whole(owner, "min_results", min_results, 2, allow_none=True)
        _validate.whole(owner, "window", window, 2, allow_none=True)
        from ..executors._optional import require

        require("optuna", extra="optuna", what=f"the {sampler} searcher")
        self.sampler = sampler
        self.stopped = stopped
        self.startup = startup
        self.min_results = min_results
        self.window = window
        self._observer = Observer(stopped, min_results or startup)
        self._mirror: OptunaMirror | None = None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(stopped={self.stopped!r}, startup={self.startup}, "
            f"min_results={self.min_results}, window={self.window})"
        )

    def suggest(self, space: Space, history: History, rng: np.random.Generator) -> dict[str, Any]:
        if len(history) < self.startup:
            return sobol_point(space, history, rng)
        observations = self._observer.observe(history)
        if self.window is not None:
            observations = _newest(observations, self.window)
        mirror = self._mirror_of(space, history, observations)
        from . import _optuna_samplers  # imports optuna: only once a model proposes

        seed = int(rng.integers(2**31 - 1))
        return mirror.ask(_optuna_samplers.make(self.sampler, mirror.distributions, seed,
                                                self.startup))  # fmt: skip

    def _mirror_of(self, space: Space, history: History, observations: dict) -> OptunaMirror:
        """The mirror of ``observations``: the cached one updated in place when it follows
        this History and space over every trial (no window), else a new one."""
        mirror, configs = self._mirror, _configs(history)
        reusable = (
            mirror is not None
            and self.window is None
            and mirror.token is history.token
            and mirror.space == space
        )
        if not (reusable and mirror.sync(observations, configs)):
            mirror = OptunaMirror(space, history.mode, history.token)
            mirror.sync(observations, configs)
            self._mirror = mirror
        return mirror


class TPESearcher(ModelSearcher):
    """Tree-structured Parzen Estimator (Optuna's ``TPESampler``, multivariate, constant liar)."""

    __slots__ = ()

    def __init__(
        self, *, stopped: str = "rung", startup: int = 10, min_results: int | None = None,
        window: int | None = None,
    ) -> None:  # fmt: skip
        super().__init__("tpe", stopped=stopped, startup=startup, min_results=min_results,
                         window=window)  # fmt: skip


class GPSearcher(ModelSearcher):
    """Gaussian-process optimisation (Optuna's ``GPSampler``: Matern 5/2, log EI), fitted on
    the newest ``window`` finished trials (default 100: see ``docs/search.md``)."""

    __slots__ = ()

    def __init__(
        self, *, stopped: str = "rung", startup: int = 10, min_results: int | None = None,
        window: int | None = 100,
    ) -> None:  # fmt: skip
        super().__init__("gp", stopped=stopped, startup=startup, min_results=min_results,
                         window=window)  # fmt: skip


def _configs(history: History):
    return lambda trial_id: history[trial_id].config


def _newest(observations: dict[int, Any], window: int) -> dict[int, Any]:
    """The running trials and the newest ``window`` finished ones the model can use."""
    finished = [i for i, seen in observations.items() if seen.kind in ("complete", "pruned")]
    keep = set(finished[-window:])
    return {i: seen for i, seen in observations.items() if seen.kind == "running" or i in keep}
