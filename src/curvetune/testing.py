"""Small objectives for tests, examples and benchmarks: no framework, milliseconds each.

They follow the real contract (``objective(config, ctx)``, checkpoints included), so the
controller, executors and store can be exercised without training a network.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .worker import DivergedError, SegmentContext


def noop(config: Mapping[str, Any], ctx: SegmentContext) -> None:
    """Reports a constant at ``until`` and does nothing else (for overhead measurements)."""
    ctx.report(ctx.until, loss=0.0)


def synthetic(config: Mapping[str, Any], ctx: SegmentContext) -> None:
    """A saturating learning curve whose final accuracy peaks at ``x = 0.3``.

    ``accuracy(step) = final * (1 - exp(-step / 3))`` with ``final = 1 - (x - 0.3)^2``. The
    checkpoint (``state.json``) lists every step trained so far, so tests can prove that a
    resumed trial neither skipped nor repeated a step. ``sleep`` (seconds per step) makes it
    slow enough to kill mid-segment; ``fail_above`` raises for larger ``x``; ``nan_above``
    reports NaN for larger ``x``; ``checkpoint_bytes`` pads each checkpoint to that size.
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
        if config.get("checkpoint_bytes"):  # a checkpoint of some size, for full-disk tests
            (Path(ctx.checkpoint_out) / "weights.bin").write_bytes(
                bytes(int(config["checkpoint_bytes"]))
            )


def stateless_curve(config: Mapping[str, Any], ctx: SegmentContext) -> None:
    """``synthetic``'s curve, computed at any step from scratch: it keeps no state, says so
    (``stateless = True``), and refuses checkpoints, which it must never be given."""
    if ctx.checkpoint_in is not None or ctx.checkpoint_out is not None:
        raise RuntimeError("a stateless objective was given a checkpoint")
    final = 1.0 - (float(config.get("x", 0.0)) - 0.3) ** 2
    for step in range(ctx.start + 1, ctx.until + 1):
        ctx.report(step, accuracy=final * (1 - math.exp(-step / 3)))


stateless_curve.stateless = True  # type: ignore[attr-defined]


def sleeper(config: Mapping[str, Any], ctx: SegmentContext) -> None:
    """Sleeps ``seconds`` per segment and reports (for scaling measurements)."""
    time.sleep(float(config.get("seconds", 0.1)))
    ctx.report(ctx.until, loss=float(config.get("x", 0.0)))


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def dies_once(config: Mapping[str, Any], ctx: SegmentContext) -> None:
    """Kills its own worker process (SIGKILL) the first time each trial reaches step 2, then
    behaves like ``synthetic``: for testing that a lost worker's segment is retried."""
    if _first_time_at_step_2(config, ctx, "died"):
        os.kill(os.getpid(), signal.SIGKILL)
    synthetic(config, ctx)


def hangs_once(config: Mapping[str, Any], ctx: SegmentContext) -> None:
    """Hangs (sleeps ``hang_seconds``, default an hour) the first time each trial reaches
    step 2, then behaves like ``synthetic``: for testing ``segment_timeout``."""
    if _first_time_at_step_2(config, ctx, "hung"):
        time.sleep(float(config.get("hang_seconds", 3600)))
    synthetic(config, ctx)


def _first_time_at_step_2(config: Mapping[str, Any], ctx: SegmentContext, what: str) -> bool:
    """True once per trial (a marker file in ``marker_dir`` remembers it across processes)."""
    marker = Path(config["marker_dir"]) / f"{ctx.trial_id}.{what}"
    if ctx.start < 2 <= ctx.until and not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(os.getpid()))
        return True
    return False


class Counter:
    """The class form of an objective: counts up by ``increment`` each step."""

    def setup(self, config: Mapping[str, Any], seed: int) -> None:
        self.increment = float(config.get("x", 1.0))
        self.total = 0.0

    def step(self) -> dict[str, float]:
        self.total += self.increment
        return {"total": self.total}

    def save(self, directory: Path) -> None:
        _write_json(directory / "counter.json", {"total": self.total})

    def load(self, directory: Path) -> None:
        self.total = json.loads((directory / "counter.json").read_text())["total"]


def sgd_quadratic(config: Mapping[str, Any], ctx: SegmentContext) -> None:
    """Gradient descent on ``(w - 3)^2`` from ``w = 0``, ``iters`` iterations per step, at
    learning rate ``lr``: too small crawls, above 1 diverges. The checkpoint keeps ``w``, so
    a Population Based Training exploit really copies progress. Reports ``loss``, ``lr`` and
    ``iteration``.
    """
    w = 0.0
    if ctx.checkpoint_in is not None:
        w = json.loads((Path(ctx.checkpoint_in) / "w.json").read_text())["w"]
    lr, iters = float(config["lr"]), int(config.get("iters", 5))
    for step in range(ctx.start + 1, ctx.until + 1):
        for _ in range(iters):
            w -= lr * 2 * (w - 3)
        ctx.report(step, loss=min((w - 3) ** 2, 1e300), lr=lr, iteration=step * iters)
    if ctx.checkpoint_out is not None:
        os.makedirs(ctx.checkpoint_out, exist_ok=True)
        _write_json(Path(ctx.checkpoint_out) / "w.json", {"w": w})


class BatchedSynthetic:
    """``synthetic`` with a batched entry (``curvetune.batching.Batched``): configs with the
    same ``shape`` (default 0) share a batch. Each member trains as ``synthetic`` does and
    its checkpoint's ``state.json`` also records the size of every batch it was trained in
    (``batches``) and the device it was given, so tests can see what was batched."""

    def __call__(self, config: Mapping[str, Any], ctx: SegmentContext) -> None:
        synthetic(config, ctx)
        self._note(ctx, 1, "alone")

    def batch_key(self, config: Mapping[str, Any]) -> Any:
        return config.get("shape", 0)

    def train_batch(
        self, configs: Sequence[Mapping[str, Any]], contexts: Sequence[SegmentContext], device: str
    ) -> None:
        for config, ctx in zip(configs, contexts, strict=True):
            try:
                synthetic(config, ctx)
            except DivergedError:
                continue  # that member leaves the batch; the others go on
            self._note(ctx, len(contexts), device)

    @staticmethod
    def _note(ctx: SegmentContext, size: int, device: str) -> None:
        if ctx.checkpoint_out is None:
            return
        path = Path(ctx.checkpoint_out) / "state.json"
        state = json.loads(path.read_text())
        before = {}
        if ctx.checkpoint_in is not None:
            before = json.loads((Path(ctx.checkpoint_in) / "state.json").read_text())
        state["batches"] = [*before.get("batches", []), size]
        state["device"] = device
        _write_json(path, state)


batched_synthetic = BatchedSynthetic()
