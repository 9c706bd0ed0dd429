"""The networks (an MLP or a small CNN) and optimizers the MNIST trainable builds from its
``Settings``; re-exported by ``curvetune.models.mnist``."""

from __future__ import annotations

import torch
from torch import nn

from .settings import Settings


def build_model(settings: Settings, seed: int) -> nn.Module:
    """The network for ``settings``, initialised from ``seed`` on the CPU.

    The global torch random state is left as it was, so nothing else in the worker process
    shifts the initialisation (or is shifted by it).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) % 2**63)
        return network(settings)


def network(settings: Settings) -> nn.Module:
    """The layers for ``settings`` (initialised from torch's current random state)."""
    if settings.arch == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=5),  # 28 -> 24
            nn.ReLU(),
            nn.MaxPool2d(2),  # -> 12
            nn.Conv2d(16, 32, kernel_size=5),  # -> 8
            nn.ReLU(),
            nn.MaxPool2d(2),  # -> 4
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 10),
        )
    layers: list[nn.Module] = [nn.Flatten()]
    width = 28 * 28
    for hidden in settings.hidden:
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def build_optimizer(model: nn.Module, settings: Settings) -> torch.optim.Optimizer:
    """SGD (with momentum and weight decay) or Adam (with weight decay) over the model."""
    if settings.optimizer == "adam":
        return torch.optim.Adam(
            model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
        )
    return torch.optim.SGD(
        model.parameters(),
        lr=settings.lr,
        momentum=settings.momentum,
        weight_decay=settings.weight_decay,
    )
