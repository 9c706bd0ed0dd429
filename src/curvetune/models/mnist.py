"""A ready MNIST trainable: ``objective="curvetune.models.mnist:train"``.

``train(config, ctx)`` follows the worker's objective contract: it builds an MLP or a small
CNN, loads ``state.pt`` from ``ctx.checkpoint_in`` when there is one, trains the steps
``ctx.start + 1 .. ctx.until`` (a step is one epoch, or ``iters_per_step`` iterations),
reports validation metrics at the end of each step (and every ``report_every`` iterations
if asked) and saves ``state.pt`` into ``ctx.checkpoint_out``.

Config keys, all optional; any other key is refused (``check_config``, and every segment),
so a typo such as ``hiden`` fails the study up front instead of being silently ignored:

============== ===================== ===============================================
key            default               meaning
============== ===================== ===============================================
arch           "mlp"                 "mlp" or "cnn"
hidden         128                   MLP hidden widths: an int (two layers that wide)
                                     or a list of ints (one layer per entry)
optimizer      "sgd"                 "sgd" or "adam"
lr             0.05                  learning rate (> 0)
momentum       0.0                   SGD momentum in [0, 1); ignored by Adam
weight_decay   0.0                   L2 penalty (>= 0)
batch_size     32                    examples per iteration
iters_per_step None                  None: a step is an epoch; n: n iterations
report_every   None                  also report every n (global) iterations
max_train      None                  use only the first n training examples
data           "bundled"             see ``curvetune.models.data.load_data``
device         None                  None/"auto" (CUDA if available), "cpu", "cuda"
schedule       "constant"            learning-rate schedule: "constant", "step",
                                     "exponential", "cosine", "piecewise"; its own keys
                                     (decay, decay_every, gamma, warmup, lr_schedule,
                                     ...) are listed by ``schedule_from_config`` in
                                     ``curvetune.models.schedule_config``
============== ===================== ===============================================

Training is deterministic and resumable: epoch ``e`` visits the training examples in the
order of a permutation drawn from a generator seeded by ``(ctx.seed, e)``, and a checkpoint
records the position (epoch, offset into it, global iteration), so a run resumed from any
step boundary takes exactly the batches an uninterrupted run would have taken. On CPU the
resumed metrics are bit-identical.

Set the environment variable ``CURVETUNE_THREADS`` to pin torch's intra-op thread count.

``train.batch_key`` and ``train.train_batch`` (``curvetune.batching.Batched``; the rules in
``curvetune.models.batch_rules``, the stacked training in ``curvetune.models.population``)
train the segments of several trials as one population (``train_stacked_or_alone``).

``train.check_config(config)`` checks one trial's config and ``train.check_study(fixed,
space)`` a whole study's settings (a schedule key that no schedule the study can choose
reads is refused: ``gamma`` with ``schedule = "step"``); both raise ``ValueError`` with one
line. The config is validated by ``curvetune.models.settings``; the networks and checkpoints
are built by ``curvetune.models.networks``; their public names are re-exported here. The
device, the thread count and the data on the device come from ``curvetune.models.device``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..worker import DivergedError, SegmentContext
from .batch_rules import batch_device, batch_key, check_batch, stacks
from .device import apply_thread_env, device_tensors, resolve_device
from .networks import CHECKPOINT_FORMAT as CHECKPOINT_FORMAT
from .networks import Position, build_model, build_optimizer, load_checkpoint, save_checkpoint
from .population import train_stacked
from .settings import ARCHS as ARCHS
from .settings import DEFAULTS as DEFAULTS
from .settings import DEVICES as DEVICES
from .settings import KEYS as KEYS
from .settings import OPTIMIZERS as OPTIMIZERS
from .settings import Settings, check_study, parse_config
from .training import EVAL_BATCH as EVAL_BATCH
from .training import STATE_FILE as STATE_FILE
from .training import epoch_permutation as epoch_permutation
from .training import evaluate as evaluate
from .training import lr_at as lr_at

# ----------------------------------------------------------------------------- the objective


def check_config(config: Mapping[str, Any]) -> None:
    """Refuse a bad trial config (unknown key, unknown arch, negative rate, bad schedule...)
    with one line. See ``check_study`` for what only the whole study shows."""
    parse_config(config)


def train(config: Mapping[str, Any], ctx: SegmentContext) -> None:
    """Train steps ``ctx.start + 1 .. ctx.until`` of an MNIST model (the objective contract)."""
    settings = parse_config(config)
    apply_thread_env()
    device = resolve_device(settings.device)
    train_x, train_y, val_x, val_y = device_tensors(settings.data, str(device))
    if settings.max_train is not None:
        train_x, train_y = train_x[: settings.max_train], train_y[: settings.max_train]
    if train_x.shape[0] == 0:
        raise ValueError(f"data source {settings.data!r} has no training examples")

    if ctx.checkpoint_in is not None:
        model, optimizer, position = load_checkpoint(
            Path(ctx.checkpoint_in) / STATE_FILE, settings, device
        )
    elif ctx.start > 0:
        raise ValueError(f"segment starts at step {ctx.start} but has no checkpoint to load")
    else:
        model = build_model(settings, ctx.seed).to(device)
        optimizer = build_optimizer(model, settings)
        position = Position()

    loop = _Loop(
        model, optimizer, position, (train_x, train_y, val_x, val_y), settings, config, ctx
    )
    for step in range(ctx.start + 1, ctx.until + 1):
        metrics = loop.train_step(step)
        ctx.report(step, **metrics)

    if ctx.checkpoint_out is not None:
        os.makedirs(ctx.checkpoint_out, exist_ok=True)  # the objective creates it (worker contract)
        save_checkpoint(
            Path(ctx.checkpoint_out) / STATE_FILE,
            model,
            optimizer,
            settings,
            loop.position,
            ctx.until,
        )


class _Loop:
    """The training loop of one segment; its only state is the model's and the position."""

    def __init__(
        self,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        position: Position,
        tensors: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
        settings: Settings,
        config: Mapping[str, Any],
        ctx: SegmentContext,
    ) -> None:
        self.model = model
        self.optimizer = optimizer
        self.position = position
        self.train_x, self.train_y, self.val_x, self.val_y = tensors
        self.settings = settings
        self.config = config
        self.ctx = ctx
        self._perm: torch.Tensor | None = None
        self._perm_epoch = -1

    def train_step(self, step: int) -> dict[str, float]:
        """Train one step and return the step-end metrics.

        Written as one tight loop: a benchmark holds this trainable to within 5 % of a bare
        PyTorch loop, so per-iteration work is only what the bare loop does plus two integer
        comparisons and one ``lr_at`` call.
        """
        model, optimizer, config = self.model, self.optimizer, self.config
        schedule = self.settings.schedule
        x, y = self.train_x, self.train_y
        pos = self.position
        n = x.shape[0]
        batch_size = self.settings.batch_size
        report_every = self.settings.report_every
        per_step = self.settings.iters_per_step
        first = pos.iteration
        end = first + per_step if per_step is not None else -1
        lr_now = optimizer.param_groups[0]["lr"]
        loss_sum = torch.zeros((), device=x.device)
        perm = self._perm if self._perm_epoch == pos.epoch else None
        model.train()
        while True:
            begin, stop, turned = pos.take(n, batch_size)
            if turned or perm is None:
                perm = self._permutation(pos.epoch, n, x.device)
            index = perm[begin:stop]
            lr = lr_at(config, pos.iteration, schedule)
            if lr != lr_now:
                for group in optimizer.param_groups:
                    group["lr"] = lr
                lr_now = lr
            loss = F.cross_entropy(model(x[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            pos.iteration += 1
            if (pos.iteration == end) if per_step is not None else (pos.offset >= n):
                break
            if report_every is not None and pos.iteration % report_every == 0:
                self.ctx.report(step, **self._metrics(loss_sum, pos.iteration - first, lr_now))
                model.train()
        return self._metrics(loss_sum, pos.iteration - first, lr_now)

    def _metrics(self, loss_sum: torch.Tensor, iterations: int, lr: float) -> dict[str, float]:
        """Validation loss and accuracy, the mean train loss so far, iteration and lr."""
        val_loss, val_accuracy = evaluate(self.model, self.val_x, self.val_y)
        return {
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "train_loss": loss_sum.item() / max(iterations, 1),
            "iteration": float(self.position.iteration),
            "lr": float(lr),
        }

    def _permutation(self, epoch: int, n: int, device: torch.device) -> torch.Tensor:
        """Epoch ``epoch``'s visiting order on ``device``, kept while the epoch lasts."""
        perm = torch.from_numpy(epoch_permutation(self.ctx.seed, epoch, n)).to(device)
        self._perm, self._perm_epoch = perm, epoch
        return perm


# Studies check up front: each trial's config, and the fixed settings with the space.
train.check_config = check_config  # type: ignore[attr-defined]
train.check_study = check_study  # type: ignore[attr-defined]


def train_stacked_or_alone(
    configs: Sequence[Mapping[str, Any]], contexts: Sequence[SegmentContext], device: str
) -> None:
    """The batched entry (``curvetune.batching.Batched``): the members stacked
    (``population.train_stacked``), except on a CPU for a network with no stacked form (the
    CNN), whose members train one after another in this call: through ``vmap`` on a CPU
    they trained at 0.8x the speed of one member per process (``docs/population.md``)."""
    settings = check_batch(configs, contexts)
    if not settings or batch_device(settings[0], device).type == "cuda" or stacks(settings[0]):
        train_stacked(configs, settings, contexts, device)
        return
    for config, ctx in zip(configs, contexts, strict=True):
        try:
            train({**config, "device": "cpu"}, ctx)
        except DivergedError:
            continue  # that member leaves the batch; the others go on


# Segments of several trials train together (curvetune.batching.Batched).
train.batch_key = batch_key  # type: ignore[attr-defined]
train.train_batch = train_stacked_or_alone  # type: ignore[attr-defined]
