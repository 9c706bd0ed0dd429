"""The networks (an MLP or a small CNN) and optimizers the MNIST trainable builds from its
``Settings``, and the checkpoints that carry them between segments; re-exported by
``curvetune.models.mnist``."""

from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .settings import Settings

CHECKPOINT_FORMAT = 1
_CHECKPOINT_KEYS = (
    "arch",
    "hidden",
    "optimizer_name",
    "model",
    "optimizer",
    "iteration",
    "epoch",
    "offset",
)


@dataclass(slots=True)
class Position:
    """Where training stands: iterations done, the current epoch, examples used of it."""

    iteration: int = 0
    epoch: int = 0
    offset: int = 0

    def take(self, n: int, batch_size: int) -> tuple[int, int, bool]:
        """The next batch: its span ``[begin, end)`` of the current epoch's visiting order
        of ``n`` examples, and whether a new epoch began for it (the last one used up)."""
        turned = self.offset >= n
        if turned:
            self.epoch += 1
            self.offset = 0
        begin = self.offset
        self.offset = min(begin + batch_size, n)
        return begin, self.offset, turned


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


# ----------------------------------------------------------------------------- checkpoints


def save_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    settings: Settings,
    position: Position,
    step: int,
) -> None:
    """Write model, optimizer and position to ``path`` atomically (temp file, then replace).

    Only tensors, numbers, strings, lists and dicts: ``torch.load(weights_only=True)`` reads it.
    """
    state = {
        "format": CHECKPOINT_FORMAT,
        "arch": settings.arch,
        "hidden": list(settings.hidden),
        "optimizer_name": settings.optimizer,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "iteration": position.iteration,
        "epoch": position.epoch,
        "offset": position.offset,
        "step": int(step),
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_checkpoint(
    path: Path, settings: Settings, device: torch.device
) -> tuple[nn.Module, torch.optim.Optimizer, Position]:
    """The model, optimizer and position saved in ``path``, on ``device``.

    The model is built on the meta device and takes the saved tensors as they are, so a
    resumed segment spends no time initialising weights it would overwrite. The optimizer's
    hyperparameters come from the current config, not the checkpoint, so a checkpoint taken
    over with a changed config (Population Based Training) uses the new values; a checkpoint
    of another optimizer type restores only the weights.
    """
    state = _read_state(path, device)
    saved = (state["arch"], tuple(state["hidden"]))
    if saved != (settings.arch, settings.hidden):
        raise ValueError(
            f"checkpoint {path} holds arch={saved[0]!r} hidden={list(saved[1])}, but the config "
            f"asks for arch={settings.arch!r} hidden={list(settings.hidden)}"
        )
    with torch.device("meta"):
        model = network(settings)
    model.load_state_dict(state["model"], assign=True)
    optimizer = build_optimizer(model, settings)
    if state["optimizer_name"] == settings.optimizer:
        optimizer.load_state_dict(state["optimizer"])
        for group in optimizer.param_groups:
            group["lr"] = settings.lr
            group["weight_decay"] = settings.weight_decay
            if settings.optimizer == "sgd":
                group["momentum"] = settings.momentum
    position = Position(
        iteration=int(state["iteration"]), epoch=int(state["epoch"]), offset=int(state["offset"])
    )
    return model, optimizer, position


def _read_state(path: Path, device: torch.device) -> dict[str, Any]:
    """The dict ``save_checkpoint`` wrote to ``path``, read with ``weights_only=True``.

    Anything else fails with one line naming the file and what is wrong with it, not with
    torch's page-long advice to turn ``weights_only`` off (which would run code from the
    file): a file that pickles other objects, one torch cannot read, one that is not ours.
    """
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file {path} does not exist")
    try:
        state = torch.load(path, weights_only=True, map_location=device)
    except pickle.UnpicklingError as error:
        raise ValueError(_refused(path, error)) from None
    except RuntimeError as error:
        if "weights_only" in str(error):
            raise ValueError(_refused(path, error)) from None
        raise ValueError(
            f"checkpoint {path}: torch cannot read it ({_first_line(error)})"
        ) from None
    except EOFError:
        raise ValueError(f"checkpoint {path}: torch cannot read it (the file is empty)") from None
    if not isinstance(state, dict):
        raise ValueError(
            f"checkpoint {path}: not a curvetune MNIST checkpoint "
            f"(it holds a {type(state).__name__}, not a dict)"
        )
    missing = [key for key in _CHECKPOINT_KEYS if key not in state]
    if missing:
        raise ValueError(
            f"checkpoint {path}: not a curvetune MNIST checkpoint (no {missing[0]!r} entry)"
        )
    return state


def _refused(path: Path, error: Exception) -> str:
    return (
        f"checkpoint {path}: not a curvetune MNIST checkpoint torch can load safely "
        f"(weights_only=True refused it: {_first_line(error)})"
    )


def _first_line(error: Exception) -> str:
    """The telling line of a torch load error: what its ``WeightsUnpickler error`` says
    when it has one (its first sentence), else its first non-empty line, without colour
    codes and at most 200 characters."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    _, marker, detail = text.partition("WeightsUnpickler error:")
    lines = [line.strip() for line in (detail if marker else text).splitlines() if line.strip()]
    line = lines[0] if lines else type(error).__name__
    if marker:
        line = line.split(". ")[0].rstrip(".")
    return line if len(line) <= 200 else line[:197] + "..."
