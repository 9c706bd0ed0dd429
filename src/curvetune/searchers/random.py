"""Random search: every configuration is an independent draw from the space."""

from __future__ import annotations

from typing import Any

import numpy as np

from curvetune.space import Space
from curvetune.types import History


class RandomSearcher:
    """Samples the space independently each time; never exhausted (the study's trial budget
    ends it). A strong baseline (Bergstra & Bengio 2012) and the fallback of evolution."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RandomSearcher()"

    def suggest(self, space: Space, history: History, rng: np.random.Generator) -> dict[str, Any]:
        return space.sample(rng)
