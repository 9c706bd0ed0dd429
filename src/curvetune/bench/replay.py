"""Replaying a curve table as if its configurations were trained now.

``ReplayObjective`` reports row ``config["row"]`` of the table step by step (with the
epoch's seconds, which drive the simulated executor's clock); ``TableOrder`` proposes the
table's rows in a fixed order, so that every scheduler of a comparison sees the same
configurations in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..space import Space
from ..types import History
from ..worker import SegmentContext
from .tables import CurveTable

SECONDS = "epoch_seconds"


class ReplayObjective:
    """An objective that reads its learning curve from the table instead of training."""

    stateless = True  # any step can be read directly: no checkpoints needed

    def __init__(self, table: CurveTable, metrics: Sequence[str] = ("val_accuracy", "val_loss")):
        self.table = table
        self.metrics = [m for m in metrics if m in table.curves]
        self._rows = {m: table.curves[m] for m in self.metrics}

    def __call__(self, config: Mapping[str, Any], ctx: SegmentContext) -> None:
        row = int(config["row"])
        seconds = self.table.epoch_seconds[row]
        columns = [(m, self._rows[m][row]) for m in self.metrics]
        for step in range(ctx.start + 1, ctx.until + 1):
            values = {m: float(curve[step - 1]) for m, curve in columns}
            ctx.report(step, **values, **{SECONDS: float(seconds[step - 1])})


class TableOrder:
    """A searcher that proposes the rows of ``order``, one per trial, then is exhausted."""

    def __init__(self, order: Sequence[int]) -> None:
        self.order = [int(i) for i in order]

    def suggest(
        self, space: Space, history: History, rng: np.random.Generator
    ) -> dict[str, Any] | None:
        n = len(history)
        return {"row": self.order[n]} if n < len(self.order) else None
