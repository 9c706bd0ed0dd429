"""Small objectives for tests, examples and benchmarks: no framework, milliseconds each.

They follow the real contract (``objective(config, ctx)``, checkpoints included), so the
controller, executors and store can be exercised without training a network.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .worker import SegmentContext


def noop(config: Mapping[str, Any], ctx: SegmentContext) -> None:
    """Reports a constant at ``until`` and does nothing else (for overhead measurements)."""
    ctx.report(ctx.until, loss=0.0)


def synthetic(config: Mapping[str, Any], ctx: SegmentContext) -> None:
    """A saturating learning curve whose final accuracy peaks at ``x = 0.3``.

    ``accuracy(step) = final * (1 - exp(-step / 3))`` with ``final = 1 - (x - 0.3)^2``. The
    checkpoint (``state.json``) lists every step trained so far, so tests can prove that a
    resumed trial neither skipped nor repeated a step. ``sleep`` (seconds per step) makes it
    slow enough to kill mid-segment; ``fail_above`` raises for larger ``x``; ``nan_above``
    reports NaN for larger ``x``.
    """
    x = float(config.get("x", 0.0))
    trained: list[int] = []
    if ctx.checkpoint_in is not None:
        trained = json.loads((Path(ctx.checkpoint_in) / "state.json").read_text())["trained"]
        if trained and trained[-1] != ctx.start:
            raise RuntimeError(f"checkpoint at step {trained[-1]}, asked to start at {ctx.start}")
    if "fail_above" in config and x > config["fail_above"]:
        raise ValueError(f"x={x} is above fail_above={config['fail_above']}")
    final = 1.0 - (x - 0.3) ** 2
    for step in range(ctx.start + 1, ctx.until + 1):
        if config.get("sleep"):
            time.sleep(float(config["sleep"]))
        trained.append(step)
        if "nan_above" in config and x > config["nan_above"]:
            ctx.report(step, accuracy=math.nan)
        ctx.report(step, accuracy=final * (1 - math.exp(-step / 3)), loss=1 - final)
    if ctx.checkpoint_out is not None:
        os.makedirs(ctx.checkpoint_out, exist_ok=True)
        _write_json(
            Path(ctx.checkpoint_out) / "state.json", {"trained": trained, "pid": os.getpid()}
        )


def sleeper(config: Mapping[str, Any], ctx: SegmentContext) -> None:
    """Sleeps ``seconds`` per segment and reports (for scaling measurements)."""
    time.sleep(float(config.get("seconds", 0.1)))
    ctx.report(ctx.until, loss=float(config.get("x", 0.0)))


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
