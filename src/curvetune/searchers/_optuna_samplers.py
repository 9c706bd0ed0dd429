"""Optuna's samplers as the model-based searchers use them (imported only with the extra).

Every trial of a mirror holds every parameter of the space, so the joint search space of
the multivariate TPE is the space itself: ``FixedSpaceTPE`` says so instead of computing
the intersection of all trials' spaces, which a sampler made afresh for each proposal (as
the searchers do, to stay pure) would otherwise redo over the whole study every time.
"""

from __future__ import annotations

from typing import Any

import optuna


class FixedSpaceTPE(optuna.samplers.TPESampler):
    """A multivariate, constant-liar ``TPESampler`` over the fixed ``distributions``."""

    def __init__(self, distributions: dict[str, Any], *, seed: int, startup: int) -> None:
        super().__init__(seed=seed, n_startup_trials=startup, multivariate=True, constant_liar=True)
        self._space = {name: d for name, d in distributions.items() if not d.single()}

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return dict(self._space)


def make(name: str, distributions: dict[str, Any], seed: int, startup: int) -> Any:
    """The sampler called ``name`` ("tpe" or "gp"), seeded with ``seed``."""
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    return FixedSpaceTPE(distributions, seed=seed, startup=startup)
