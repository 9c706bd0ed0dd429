"""Which MNIST configs may share a batch, whether they are checked to, and where a batch
runs: the rules ``population.py`` (the stacked training) and ``mnist.py`` (the entry that
chooses between stacked and one member after another) share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..worker import SegmentContext
from .device import resolve_device
from .networks import network
from .settings import Settings, parse_config
from .stacked_net import StackedMLP


def batch_key(config: Mapping[str, Any]) -> tuple:
    """What fixes the tensor shapes and the loop of ``config``'s training."""
    return _key(parse_config(config))


def _key(s: Settings) -> tuple:
    fixed = (s.arch, s.hidden, s.optimizer, s.batch_size, s.iters_per_step, s.report_every)
    return (*fixed, s.max_train, s.data, s.device)


def check_batch(
    configs: Sequence[Mapping[str, Any]], contexts: Sequence[SegmentContext]
) -> list[Settings]:
    """The members' settings; a ``ValueError`` (one line) unless they can share a batch:
    as many configs as contexts, one ``batch_key``, one step range."""
    if len(configs) != len(contexts):
        raise ValueError(f"train_batch got {len(configs)} configs but {len(contexts)} contexts")
    settings = [parse_config(config) for config in configs]
    if len({_key(s) for s in settings}) > 1:
        raise ValueError(
            "train_batch: the configs differ in what fixes the tensor shapes (batch_key): "
            + "; ".join(sorted({repr(_key(s)) for s in settings}))
        )
    ranges = sorted({(ctx.start, ctx.until) for ctx in contexts})
    if len(ranges) > 1:
        raise ValueError(
            "train_batch: the members' step ranges differ ("
            + ", ".join(f"{a}->{b}" for a, b in ranges)
            + "); a batch trains one range"
        )
    return settings


def batch_device(settings: Settings, device: str) -> torch.device:
    """Where a batch runs: the executor's ``device``, unless the config names its own."""
    return resolve_device(device if settings.device == "auto" else settings.device)


def stacks(settings: Settings) -> bool:
    """Whether the network has a stacked form cheaper than a loop on a CPU (the MLP)."""
    with torch.device("meta"):
        return StackedMLP.fits(network(settings))
