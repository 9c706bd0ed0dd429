"""Where the MNIST trainable runs: the torch device a config names, the thread count
``CURVETUNE_THREADS`` pins, and the data as tensors cached on that device.

``curvetune.models.mnist`` (the objective and its training loop) calls these once per
segment; the cache is what keeps the trainable close to a bare loop's speed.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
import torch

from .data import load_data


def resolve_device(name: str) -> torch.device:
    """``"auto"``: CUDA when available, else the CPU; ``"cuda"`` must be available."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("config key 'device' is 'cuda' but CUDA is not available here")
    return torch.device(name)


@lru_cache(maxsize=4)
def device_tensors(
    source: str, device: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(train_x, train_y, val_x, val_y)`` of ``load_data(source)`` as tensors on ``device``.

    Images are shaped (N, 1, 28, 28). Cached per process and device: converting and copying
    the data once, not once per segment, is part of staying close to a bare loop's speed.
    """
    data = load_data(source)
    target = torch.device(device)

    def convert(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(array)).to(target)

    return (
        convert(data.train_x).unsqueeze(1),
        convert(data.train_y),
        convert(data.val_x).unsqueeze(1),
        convert(data.val_y),
    )


def apply_thread_env() -> None:
    """Pin torch's thread count to ``CURVETUNE_THREADS`` when that is set (else leave it)."""
    raw = os.environ.get("CURVETUNE_THREADS")
    if not raw:
        return
    try:
        threads = int(raw)
    except ValueError:
        raise ValueError(f"CURVETUNE_THREADS must be a positive integer, got {raw!r}") from None
    if threads < 1:
        raise ValueError(f"CURVETUNE_THREADS must be a positive integer, got {raw!r}")
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
