"""Segments of several trials trained in one call: the batched objective contract.

An objective may offer, beside ``objective(config, ctx)``, a batched entry that trains the
segments of several trials at once, as one computation on one device (a population of
small networks stacked with ``torch.func``): ``objective.train_batch(configs, contexts,
device)``. Which configs can share a batch is the objective's to say, through
``objective.batch_key(config)``: configs with equal keys agree on everything that fixes
tensor shapes (architecture, batch size, data) and may differ in everything else
(learning rate and its schedule, momentum, weight decay, seed). ``None`` means "this config
cannot be batched"; it then runs on its own, through the ordinary entry.

The batched executor (``executors/batched.py``) groups submitted segments by key and step
range and sends each group to a worker as one ``run_batch`` call, which returns one
ordinary ``SegmentResult`` per member: the controller, the schedulers and the store see
nothing different. Each member still reports, checkpoints and diverges on its own:

* every member reports through its own ``SegmentContext`` (``report_member`` says whether
  it may go on: a NaN or infinite metric ends that member as diverged, not the batch);
* every member saves into its own ``ctx.checkpoint_out``, in the format the one-member
  entry reads, so a member may resume alone or in another batch, and PBT's exploit copies
  one member's checkpoint as it copies any trial's;
* an exception out of ``train_batch`` ends the batch: every member that had not diverged
  is then trained again on its own, through the ordinary entry, so only a member at fault
  fails (as an error, or as ``unwritable`` when the disk refused its checkpoint).
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from .worker import (
    DivergedError,
    Objective,
    SegmentContext,
    SegmentResult,
    load_objective,
    run_segment,
    segment_result,
)


@runtime_checkable
class Batched(Protocol):
    """An objective that can train the segments of several trials together."""

    def batch_key(self, config: Mapping[str, Any]) -> Hashable | None:
        """What fixes the tensor shapes of ``config``'s training: equal keys may share a
        batch; ``None``: this config trains only on its own."""
        ...

    def train_batch(
        self,
        configs: Sequence[Mapping[str, Any]],
        contexts: Sequence[SegmentContext],
        device: str,
    ) -> None:
        """Train each member ``i`` from ``contexts[i].start`` to ``contexts[i].until`` (all
        equal) on ``device``, reporting with ``report_member`` and saving each member's
        checkpoint into its own ``checkpoint_out``."""
        ...


def batched_entry(objective: Objective | str) -> Batched | None:
    """The objective (a callable, or the import path of one) when it has a batched entry."""
    target = load_objective(objective) if isinstance(objective, str) else objective
    return target if isinstance(target, Batched) else None


def report_member(ctx: SegmentContext, step: int, **metrics: float) -> bool:
    """Record one member's metrics at ``step``; False when a value is NaN or infinite: the
    member diverged and leaves the batch (its segment ends as diverged)."""
    try:
        ctx.report(step, **metrics)
    except DivergedError:
        return False
    return True


def run_batch(
    objective: Objective | str,
    configs: Sequence[Mapping[str, Any]],
    contexts: Sequence[SegmentContext],
    device: str = "auto",
    slot: int = 0,
) -> list[SegmentResult]:
    """Run one batch of segments and give each member its own ``SegmentResult``.

    What runs on a worker (it pickles, like ``run_segment``). ``device`` is resolved here,
    in the worker (``pick_device``: the GPU of this worker, first chosen by ``slot``).
    Each member is charged an equal share of the batch's seconds. When the batch raises
    (one member's unreadable checkpoint, a device out of memory), the members that had not
    diverged are trained again one by one through the ordinary entry, so only a member at
    fault ends with the error and the others go on.
    """
    began = time.perf_counter()
    try:
        entry = batched_entry(objective)
        if entry is None:
            raise TypeError(f"objective {objective!r} has no batched entry (train_batch)")
        entry.train_batch(configs, contexts, pick_device(device, slot))
    except Exception:  # the whole batch ended: each member alone, as run_segment runs it
        return [
            _alone(objective, config, ctx) for config, ctx in zip(configs, contexts, strict=True)
        ]
    share = (time.perf_counter() - began) / max(len(contexts), 1)
    results = []
    for ctx in contexts:
        error = divergence(ctx)
        results.append(segment_result(ctx, "diverged" if error else "ok", error, share))
    return results


def _alone(objective: Objective | str, config: Mapping[str, Any], ctx: SegmentContext):
    """A member of a failed batch: diverged as it was, or its segment run on its own."""
    error = divergence(ctx)
    if error:
        return segment_result(ctx, "diverged", error, 0.0)
    ctx.reports.clear()  # what it reported inside the failed batch does not count
    return run_segment(objective, config, ctx)


def divergence(ctx: SegmentContext) -> str:
    """One line naming the first non-finite metric a member reported ("" if none)."""
    for report in ctx.reports:
        for name, value in report.metrics.items():
            if not math.isfinite(value):
                return f"{name} became {value} at step {report.step}"
    return ""


class DeviceChoice:
    """Which GPU this worker process trains on: the one its first batch's slot named, kept
    for the life of the process, so each worker uses one device and holds one CUDA
    context. (The batches in flight hold slots 0, 1, ...; a pool of W idle workers takes
    its first W batches one each, so W workers spread over the GPUs.)"""

    def __init__(self) -> None:
        self._gpu: int | None = None

    def pick(self, device: str, slot: int = 0) -> str:
        """The torch device a batch in ``slot`` runs on, as this worker sees its GPUs:
        ``"auto"``: this worker's GPU when CUDA is available, else ``"cpu"``; ``"cuda"``:
        the same GPU, and an error without one; anything else (``"cpu"``, ``"cuda:N"``) as
        named. torch is imported only for ``auto`` and ``cuda``."""
        if device not in ("auto", "cuda"):
            return device
        import torch

        if not torch.cuda.is_available():
            if device == "cuda":
                raise ValueError("executor device is 'cuda' but this worker sees no CUDA device")
            return "cpu"
        if self._gpu is None:
            self._gpu = slot % torch.cuda.device_count()
        return f"cuda:{self._gpu}"


WORKER_DEVICE = DeviceChoice()
"""This process's choice (a worker process runs the batches of one executor)."""


def pick_device(device: str, slot: int = 0) -> str:
    """``WORKER_DEVICE.pick``: the device this worker process trains a batch on."""
    return WORKER_DEVICE.pick(device, slot)
