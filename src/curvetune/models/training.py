"""What both MNIST training loops share (the one-member loop in ``mnist.py`` and the
population's in ``population.py``): the checkpoint's file name, the validation batch, the
learning rate at an iteration, an epoch's visiting order, and the validation metrics."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .schedule_config import schedule_from_config
from .schedules import Schedule
from .settings import DEFAULTS

STATE_FILE = "state.pt"
EVAL_BATCH = 4096  # validation batch size: large, since no gradients are kept


def lr_at(config: Mapping[str, Any], iteration: int, schedule: Schedule | None = None) -> float:
    """The learning rate for (0-based) global ``iteration``: the one place schedules hook in.

    ``schedule`` is the one ``parse_config`` built from ``config`` for the segment
    (``Settings.schedule``); the training loop passes it, as it calls this every iteration.
    Without it the schedule is built from ``config`` here (keys: see
    ``curvetune.models.schedule_config.schedule_from_config``; ``lr`` defaults to 0.05),
    which is fine for a one-off question but too slow per iteration. ``iteration`` counts from
    the start of the run, not of the segment, so decays continue across segments and resume
    exactly.
    """
    if schedule is None:
        schedule = schedule_from_config(config, default_lr=DEFAULTS["lr"])
    return schedule.lr(iteration)


def epoch_permutation(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which epoch ``epoch`` visits ``n`` examples, fixed by ``(seed, epoch)``.

    Depends on nothing else, so a resumed run can recompute it for any epoch.
    """
    rng = np.random.default_rng([int(seed) % 2**64, int(epoch)])
    return rng.permutation(n)


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = EVAL_BATCH
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over all of ``(x, y)``."""
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=x.device)
    correct = torch.zeros((), dtype=torch.int64, device=x.device)
    for begin in range(0, x.shape[0], batch_size):
        logits = model(x[begin : begin + batch_size])
        target = y[begin : begin + batch_size]
        loss_sum += F.cross_entropy(logits, target, reduction="sum")
        correct += (logits.argmax(dim=1) == target).sum()
    count = max(x.shape[0], 1)
    return loss_sum.item() / count, correct.item() / count
