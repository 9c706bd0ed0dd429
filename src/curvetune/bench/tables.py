"""Read learning-curve tables (the LCBench ``.npz`` format of ``benchmarks/curves``).

A table holds, for n configurations and T epochs, ``val_accuracy`` and ``val_loss``
(float [n, T]), optionally ``test_accuracy``, ``epoch_seconds`` (seconds of each epoch),
``configs`` (a JSON list of n dicts) and ``meta`` (a JSON dict with at least ``name``).
Anything malformed is refused with a ``TableError`` naming the file and the problem.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CURVE_ARRAYS = ("val_accuracy", "val_loss", "test_accuracy")
REQUIRED = ("val_accuracy", "val_loss", "epoch_seconds")
MODES = {"val_accuracy": "max", "test_accuracy": "max", "val_loss": "min"}


class TableError(ValueError):
    """A curve table that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, eq=False)
class CurveTable:
    name: str
    curves: Mapping[str, np.ndarray]  # metric -> float64 [n, T]
    epoch_seconds: np.ndarray  # float64 [n, T]
    configs: list[dict[str, Any]] = field(default_factory=list)
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_configs(self) -> int:
        return self.epoch_seconds.shape[0]

    @property
    def n_epochs(self) -> int:
        return self.epoch_seconds.shape[1]

    def final(self, metric: str) -> np.ndarray:
        """Every configuration's value at the last epoch."""
        return self.curves[metric][:, -1]

    def best_final(self, metric: str) -> float:
        values = self.final(metric)
        return float(values.max() if MODES.get(metric, "max") == "max" else values.min())


def load_table(path: str | Path) -> CurveTable:
    """Load and check a table; ``TableError`` says what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: no such curve table")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise TableError(f"{path}: not a readable .npz curve table ({exc})") from None
    missing = [key for key in REQUIRED if key not in arrays]
    if missing:
        raise TableError(f"{path}: missing array(s) {', '.join(missing)}; needs {REQUIRED}")
    shape = arrays["val_accuracy"].shape
    if len(shape) != 2 or shape[0] < 1 or shape[1] < 2:
        raise TableError(f"{path}: val_accuracy must be [configurations, epochs], got {shape}")
    curves = {}
    for key in (*CURVE_ARRAYS, "epoch_seconds"):
        if key not in arrays:
            continue
        values = np.asarray(arrays[key], dtype=np.float64)
        if values.shape != shape:
            raise TableError(f"{path}: {key} has shape {values.shape}, val_accuracy {shape}")
        if not np.isfinite(values).all():
            raise TableError(f"{path}: {key} holds NaN or infinite values")
        curves[key] = values
    seconds = curves.pop("epoch_seconds")
    if (seconds < 0).any():
        raise TableError(f"{path}: epoch_seconds must be >= 0")
    meta = _json(path, arrays, "meta", {})
    configs = _json(path, arrays, "configs", [])
    if configs and len(configs) != shape[0]:
        raise TableError(f"{path}: {len(configs)} configs for {shape[0]} curves")
    name = meta.get("name") if isinstance(meta, dict) else None
    return CurveTable(
        name=str(name or path.stem),
        curves=curves,
        epoch_seconds=seconds,
        configs=configs,
        meta=meta,
    )


def _json(path: Path, arrays: Mapping[str, np.ndarray], key: str, default: Any) -> Any:
    if key not in arrays:
        return default
    try:
        return json.loads(str(arrays[key]))
    except json.JSONDecodeError as exc:
        raise TableError(f"{path}: {key} is not valid JSON ({exc})") from None
