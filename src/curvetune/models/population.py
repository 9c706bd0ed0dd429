"""The batched entry of the MNIST trainable: a population of networks trained in one pass.

``train_batch(configs, contexts, device)`` (``curvetune.batching.Batched``) trains several
trials' segments together: their weights are stacked (``torch.func.stack_module_state``),
one forward (``torch.func.functional_call`` under ``torch.func.vmap``) and one backward
serve them all, and the optimiser steps are done on the stacked tensors with each member's
own rate, momentum and weight decay (``curvetune.models.stacked``). Each member still takes
exactly the batches its one-member run (``curvetune.models.mnist.train``) would take, reports
the same metrics through its own context, leaves the batch when it diverges, and saves a
checkpoint in the one-member format, so a member may resume alone or in another batch.

``batch_rules.batch_key(config)`` says which configs may share a batch: those that agree
on everything that fixes tensor shapes or the loop (arch, hidden, optimizer, batch_size,
iters_per_step, report_every, max_train, data, device); they may differ in the rate and its
schedule, momentum, weight decay and seed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..batching import report_member
from ..worker import SegmentContext
from .batch_rules import batch_device, check_batch
from .device import apply_thread_env, device_tensors
from .networks import (
    Position,
    build_model,
    build_optimizer,
    load_checkpoint,
    network,
    save_checkpoint,
)
from .settings import Settings
from .stacked import StackedAdam, StackedSGD
from .stacked_net import StackedMLP, stacked_net
from .training import EVAL_BATCH, STATE_FILE, epoch_permutation, lr_at

CPU_PASS = 8
"""The most members one pass trains on a CPU; more go in further passes. Past about eight
members of the reference MLP the stacked weights outgrow the caches and each member costs
more (one thread, 4,000 digits an epoch: 81, 61, 53, 51, 61 and 75 ms a member-epoch for 1,
2, 4, 8, 16 and 32 members in one pass). On a GPU every member goes in one pass."""

_Member = tuple[Mapping[str, Any], Settings, SegmentContext, nn.Module, Any]


def train_batch(
    configs: Sequence[Mapping[str, Any]], contexts: Sequence[SegmentContext], device: str
) -> None:
    """Train each member ``i`` from ``contexts[i].start`` to ``contexts[i].until`` on
    ``device`` (a config's own ``device`` wins over it unless None or "auto")."""
    train_stacked(configs, check_batch(configs, contexts), contexts, device)


def train_stacked(
    configs: Sequence[Mapping[str, Any]],
    settings: Sequence[Settings],
    contexts: Sequence[SegmentContext],
    device: str,
) -> None:
    """``train_batch`` for members already checked (``batch_rules.check_batch``: their
    ``settings``)."""
    if not configs:
        return
    apply_thread_env()
    first = settings[0]
    dev = batch_device(first, device)
    train_x, train_y, val_x, val_y = device_tensors(first.data, str(dev))
    if first.max_train is not None:
        train_x, train_y = train_x[: first.max_train], train_y[: first.max_train]
    if train_x.shape[0] == 0:
        raise ValueError(f"data source {first.data!r} has no training examples")

    groups: dict[tuple[int, int, int], list[_Member]] = {}
    for config, s, ctx in zip(configs, settings, contexts, strict=True):
        if ctx.checkpoint_in is not None:
            model, optimizer, pos = load_checkpoint(Path(ctx.checkpoint_in) / STATE_FILE, s, dev)
        elif ctx.start > 0:
            raise ValueError(f"segment starts at step {ctx.start} but has no checkpoint to load")
        else:
            model, optimizer, pos = build_model(s, ctx.seed).to(dev), None, Position()
        key = (pos.iteration, pos.epoch, pos.offset)
        groups.setdefault(key, []).append((config, s, ctx, model, optimizer))
    start, until = contexts[0].start, contexts[0].until
    width = len(configs) if dev.type == "cuda" else CPU_PASS
    for (iteration, epoch, offset), members in groups.items():  # equal positions train together
        for begin in range(0, len(members), width):
            population = _Population(
                members[begin : begin + width],
                Position(iteration, epoch, offset),
                (train_x, train_y, val_x, val_y),
            )
            population.run(start, until)


class _Population:
    """Members at one position, stacked: the loop of ``mnist._Loop`` for all of them."""

    def __init__(
        self, members: list[_Member], position: Position, tensors: tuple[Tensor, ...]
    ) -> None:
        self.configs = [m[0] for m in members]
        self.settings = [m[1] for m in members]
        self.contexts = [m[2] for m in members]
        self.schedules = [s.schedule for s in self.settings]
        self.position = position
        self.train_x, self.train_y, self.val_x, self.val_y = tensors
        s = self.settings
        with torch.device("meta"):
            base = network(s[0])  # holds no weights: the stacked form lends it each member's
        self.net = stacked_net([m[3] for m in members], base)
        self.names = self.net.names
        named = [dict(m[3].named_parameters()) for m in members]
        own = [[params[name] for name in self.names] for params in named]
        flip = self.net.flip
        self.optimizer: StackedSGD | StackedAdam
        if s[0].optimizer == "adam":
            states = [
                StackedAdam.torch_state(m[4], p, flip) for m, p in zip(members, own, strict=True)
            ]
            self.optimizer = StackedAdam(self.net.leaves, [x.weight_decay for x in s], states)
        else:
            buffers = [
                StackedSGD.torch_state(m[4], p, flip) for m, p in zip(members, own, strict=True)
            ]
            momentum, decay = [x.momentum for x in s], [x.weight_decay for x in s]
            self.optimizer = StackedSGD(self.net.leaves, momentum, decay, buffers)
        self.lr_now = [x.lr for x in s]
        self.optimizer.set_lr(self.lr_now, self.net.leaves)
        self._perm: Tensor | None = None
        self._perm_epoch = -1

    def run(self, start: int, until: int) -> None:
        """Train steps ``start + 1 .. until``, then save each surviving member."""
        for step in range(start + 1, until + 1):
            self.train_step(step)
            if not self.contexts:
                return
        self.save(until)

    def train_step(self, step: int) -> None:
        """One step for every member, reporting (and dropping the diverged) as it goes."""
        optimizer = self.optimizer
        configs, schedules, net = self.configs, self.schedules, self.net
        leaves = net.leaves
        fused = isinstance(net, StackedMLP) and isinstance(optimizer, StackedSGD)
        x, y, pos = self.train_x, self.train_y, self.position
        n, batch_size = x.shape[0], self.settings[0].batch_size
        report_every, per_step = self.settings[0].report_every, self.settings[0].iters_per_step
        first = pos.iteration
        end = first + per_step if per_step is not None else -1
        lr_now = self.lr_now
        loss_sum = torch.zeros(len(configs), device=x.device)
        perm = self._perm if self._perm_epoch == pos.epoch else None
        sample = x.shape[1:]
        while True:
            begin, stop, turned = pos.take(n, batch_size)
            if turned or perm is None:
                perm = self._permutation(pos.epoch, n)
            index = perm[:, begin:stop].reshape(-1)
            lrs = [lr_at(c, pos.iteration, s) for c, s in zip(configs, schedules, strict=True)]
            if lrs != lr_now:
                optimizer.set_lr(lrs, leaves)
                lr_now = lrs
            xb = x.index_select(0, index).view(len(lrs), -1, *sample)
            yb = y.index_select(0, index).view(len(lrs), -1)
            if fused:  # the backward adds each gradient into the SGD step's buffers
                into = optimizer.begin(leaves)  # type: ignore[union-attr]
                losses = net.accumulate_gradients(xb, yb, into)  # type: ignore[union-attr]
                optimizer.finish(leaves, into)  # type: ignore[union-attr]
            else:
                losses = net.losses(xb, yb)
                grads = torch.autograd.grad(losses.sum(), leaves)
                optimizer.step(leaves, grads)
            loss_sum += losses.detach()
            pos.iteration += 1
            if (pos.iteration == end) if per_step is not None else (pos.offset >= n):
                break
            if report_every is not None and pos.iteration % report_every == 0:
                self.lr_now = lr_now
                kept = self._report(step, loss_sum, pos.iteration - first)
                if kept is not None:  # some diverged: go on with the others
                    if not kept:
                        return
                    loss_sum = loss_sum[kept]
                    configs, schedules, leaves = self.configs, self.schedules, net.leaves
                    perm, lr_now = self._perm, self.lr_now
        self.lr_now = lr_now
        self._report(step, loss_sum, pos.iteration - first)

    def _report(self, step: int, loss_sum: Tensor, iterations: int) -> list[int] | None:
        """Report every member's metrics; drop those that diverged (None: all went on)."""
        val_loss, correct = self._evaluate()
        table = torch.stack([val_loss, correct.double(), loss_sum.double()]).tolist()
        count = max(self.val_x.shape[0], 1)
        iteration = float(self.position.iteration)
        kept = [
            i
            for i, ctx in enumerate(self.contexts)
            if report_member(
                ctx,
                step,
                val_loss=table[0][i] / count,
                val_accuracy=table[1][i] / count,
                train_loss=table[2][i] / max(iterations, 1),
                iteration=iteration,
                lr=float(self.lr_now[i]),
            )
        ]
        if len(kept) == len(self.contexts):
            return None
        self._select(kept)
        return kept

    @torch.no_grad()
    def _evaluate(self) -> tuple[Tensor, Tensor]:
        """Each member's summed validation loss (float64) and correct count, as [P]."""
        x, y, size = self.val_x, self.val_y, len(self.contexts)
        chunk = max(1, EVAL_BATCH // size)  # the one-member loop's memory, shared
        loss_sum = torch.zeros(size, dtype=torch.float64, device=x.device)
        correct = torch.zeros(size, dtype=torch.int64, device=x.device)
        for begin in range(0, x.shape[0], chunk):
            logits = self.net.logits(x[begin : begin + chunk])
            target = y[begin : begin + chunk].expand(size, -1)
            losses = F.cross_entropy(logits.transpose(1, 2), target, reduction="none")
            loss_sum += losses.sum(dim=1)
            correct += (logits.argmax(dim=2) == target).sum(dim=1)
        return loss_sum, correct

    def _permutation(self, epoch: int, n: int) -> Tensor:
        """Each member's visiting order of epoch ``epoch``, as [P, n] on the device."""
        orders = [epoch_permutation(ctx.seed, epoch, n) for ctx in self.contexts]
        self._perm = torch.from_numpy(np.stack(orders)).to(self.train_x.device)
        self._perm_epoch = epoch
        return self._perm

    def _select(self, members: list[int]) -> None:
        """Keep only ``members``: the stacked state shrinks, and so does the compute. None
        left: the pass is over (the stacked state is left as it is, never used again)."""
        self.configs = [self.configs[i] for i in members]
        self.settings = [self.settings[i] for i in members]
        self.contexts = [self.contexts[i] for i in members]
        self.schedules = [self.schedules[i] for i in members]
        self.lr_now = [self.lr_now[i] for i in members]
        if not members:
            return
        index = torch.tensor(members, dtype=torch.long, device=self.train_x.device)
        self.net.select(index)
        if self._perm is not None:
            self._perm = self._perm.index_select(0, index)
        self.optimizer.select(index, members, self.net.leaves)
        self.optimizer.set_lr(self.lr_now, self.net.leaves)

    def save(self, step: int) -> None:
        """Each member's checkpoint, in the one-member format, into its ``checkpoint_out``."""
        for i, ctx in enumerate(self.contexts):
            if ctx.checkpoint_out is None:
                continue
            os.makedirs(ctx.checkpoint_out, exist_ok=True)  # the objective creates it
            settings = self.settings[i]
            with torch.device("meta"):
                model = network(settings)
            weights = {
                name: self.net.flip(k, t[i].detach()).clone()
                for k, (name, t) in enumerate(zip(self.names, self.net.leaves, strict=True))
            }
            model.load_state_dict(weights, assign=True)
            optimizer = build_optimizer(model, settings)
            for group in optimizer.param_groups:
                group["lr"] = self.lr_now[i]
            own = dict(model.named_parameters())
            params = [own[name] for name in self.names]
            self.optimizer.write_member(i, optimizer, params, self.net.flip)
            path = Path(ctx.checkpoint_out) / STATE_FILE
            save_checkpoint(path, model, optimizer, settings, self.position, step)
