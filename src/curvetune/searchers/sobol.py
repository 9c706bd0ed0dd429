"""Quasi-random search: the points of a Sobol' sequence, randomly shifted.

Sobol' points cover the unit cube more evenly than independent draws, so a first handful
of trials spans the space better: model-based searchers use them for their first trials.
The shift (Cranley-Patterson rotation) makes every study's points differ while keeping
them a pure function of the History: trial 0 is a random draw, and trial n is Sobol'
point n (point 0 is the origin) plus trial 0's position in the unit cube, modulo 1.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..space import Space
from ..types import History


class SobolSearcher:
    """Trial n gets the n-th point of a shifted Sobol' sequence (never exhausted)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SobolSearcher()"

    def suggest(self, space: Space, history: History, rng: np.random.Generator) -> dict[str, Any]:
        return sobol_point(space, history, rng)


def sobol_point(space: Space, history: History, rng: np.random.Generator) -> dict[str, Any]:
    """The configuration of the next trial (number ``len(history)``) of the sequence."""
    n = len(history)
    first = history.trials.get(0) if n else None
    if first is None or not space.contains(first.config):
        return space.sample(rng)  # trial 0, or the space changed since it was drawn
    from ..executors._optional import require

    qmc = require("scipy.stats.qmc", extra="optuna", what="quasi-random (sobol) proposals")
    engine = qmc.Sobol(len(space), scramble=False)
    with warnings.catch_warnings():  # "balance properties need 2^m points": one at a time
        warnings.simplefilter("ignore", UserWarning)
        point = engine.fast_forward(n).random(1)[0]
    return space.from_unit((point + space.to_unit(first.config)) % 1.0)
