"""FIFO: run every trial to the full budget, one segment at a time, and never stop early."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate
from ..types import Complete, Continue, Decision, History, Trial


@dataclass(frozen=True)
class FIFOScheduler:
    """Train every trial to ``history.max_steps``.

    ``segment`` is the number of steps between checkpoints (and between decisions): small
    segments make a killed study lose less work; ``None`` runs the whole budget at once
    (for objectives that cannot save a checkpoint).
    """

    segment: int | None = 1

    def __post_init__(self) -> None:
        _validate.whole("fifo", "segment", self.segment, 1, allow_none=True)

    def decide(self, trial: Trial, history: History, rng: np.random.Generator) -> Decision:
        if trial.step >= history.max_steps:
            return Complete()
        if self.segment is None:
            return Continue(history.max_steps)
        return Continue(min(history.max_steps, trial.step + self.segment))
