"""Config validation for the MNIST trainable: defaults, allowed keys and values, ``Settings``.

``parse_config`` turns a trial's config into a ``Settings``, filling in ``DEFAULTS`` and raising
``ValueError`` naming the key for an unknown key or a bad value. ``check_study`` refuses, before
any trial, what a single trial's config cannot show: a schedule key that no schedule the study
can choose reads, or a schedule the study can draw that misses a key it needs. The keys and
their meaning are tabled in ``curvetune.models.mnist``, which re-exports the public names here.
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..domains import Domain
from .schedule_config import (
    CONFIG_KEYS,
    check_schedule_keys,
    schedule_from_config,
    study_schedules,
)
from .schedules import Schedule

DEFAULTS: Mapping[str, Any] = {
    "arch": "mlp",
    "hidden": 128,
    "optimizer": "sgd",
    "lr": 0.05,
    "momentum": 0.0,
    "weight_decay": 0.0,
    "batch_size": 32,
    "iters_per_step": None,
    "report_every": None,
    "max_train": None,
    "data": "bundled",
    "device": None,
}

KEYS: tuple[str, ...] = (*DEFAULTS, *(key for key in CONFIG_KEYS if key not in DEFAULTS))
"""Every config key the trainable reads: its own (``DEFAULTS``) and the schedule's."""

ARCHS = ("mlp", "cnn")
OPTIMIZERS = ("sgd", "adam")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True, slots=True)
class Settings:
    """A validated config: the keys this trainable reads, with defaults filled in."""

    arch: str
    hidden: tuple[int, ...]  # MLP hidden widths; () for the CNN
    optimizer: str
    lr: float
    momentum: float
    weight_decay: float
    batch_size: int
    iters_per_step: int | None
    report_every: int | None
    max_train: int | None
    data: str
    device: str  # "auto", "cpu" or "cuda"
    schedule: Schedule  # built once per segment from lr and the schedule keys


def parse_config(config: Mapping[str, Any]) -> Settings:
    """Validate a trial's config; an unknown key or a bad value raises ``ValueError`` naming it.

    The learning-rate schedule keys (``schedule``, ``decay``, ``decay_every``, ``gamma``, ...)
    are read and validated by ``curvetune.models.schedule_config.schedule_from_config``.
    """
    check_keys(config)
    arch = _choice(config, "arch", ARCHS)
    device = config.get("device", DEFAULTS["device"])
    if device is None:
        device = "auto"
    elif device not in DEVICES:
        raise ValueError(
            f"config key 'device' must be one of None, {_list(DEVICES)}; got {device!r}"
        )
    data = config.get("data", DEFAULTS["data"])
    if not isinstance(data, str | os.PathLike) or not os.fspath(data):
        raise ValueError(
            f"config key 'data' must be 'bundled' or a directory of MNIST IDX files "
            f"('idx:/path' or '/path'); got {data!r}"
        )
    return Settings(
        arch=arch,
        hidden=_hidden(config) if arch == "mlp" else (),
        optimizer=_choice(config, "optimizer", OPTIMIZERS),
        lr=_real(config, "lr", low=0.0, low_inclusive=False),
        momentum=_real(config, "momentum", low=0.0, high=1.0),
        weight_decay=_real(config, "weight_decay", low=0.0),
        batch_size=_positive_int(config, "batch_size"),
        iters_per_step=_optional_positive_int(config, "iters_per_step"),
        report_every=_optional_positive_int(config, "report_every"),
        max_train=_optional_positive_int(config, "max_train"),
        data=os.fspath(data),
        device=device,
        # Last, so that a bad 'lr' gets the message above; errors name the schedule key.
        schedule=schedule_from_config(config, default_lr=DEFAULTS["lr"]),
    )


def check_keys(keys: Iterable[object]) -> None:
    """Refuse a key the trainable does not read (a typo such as ``hiden``), with one line
    naming it, a close match if there is one, and the keys it takes (``KEYS``)."""
    for key in keys:
        if key in KEYS:
            continue
        close = difflib.get_close_matches(key, KEYS, n=1) if isinstance(key, str) else []
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown config key {key!r}{hint}; the MNIST trainable takes {', '.join(KEYS)}"
        )


def check_study(fixed: Mapping[str, Any], space: Mapping[str, Domain]) -> None:
    """Refuse a study's settings that would fail or be ignored in some of its trials.

    On top of what ``parse_config`` checks per trial: an unknown key in ``fixed`` or the
    space; a schedule name the space can draw that is not a schedule; a schedule key that
    none of the schedules the study can choose reads (``decay`` with ``schedule =
    "exponential"`` fixed; with ``Choice(["constant", "step"])`` it is read by the "step"
    trials); and, for each schedule the study can choose, a fixed value with one point of
    the space that it refuses (``cosine_total`` missing for the "cosine" trials of a
    choice). Raises ``ValueError`` with one line.
    """
    check_keys([*fixed, *space])
    schedules = study_schedules(fixed, space)
    check_schedule_keys([*(k for k, v in fixed.items() if v is not None), *space], schedules)
    rng = np.random.default_rng(0)
    point = {**fixed, **{name: domain.sample(rng) for name, domain in space.items()}}
    for name in schedules:
        parse_config({**point, "schedule": name})


def _choice(config: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = config.get(key, DEFAULTS[key])
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"config key {key!r} must be one of {_list(allowed)}; got {value!r}")
    return value


def _real(
    config: Mapping[str, Any],
    key: str,
    *,
    low: float,
    high: float | None = None,
    low_inclusive: bool = True,
) -> float:
    """A finite number in [low, high) (or (low, high) when ``low_inclusive`` is False)."""
    value = config.get(key, DEFAULTS[key])
    lower = f"{'>=' if low_inclusive else '>'} {low}"
    wanted = f"a finite number {lower}" + (f" and < {high}" if high is not None else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"config key {key!r} must be {wanted}; got {value!r}")
    number = float(value)
    ok = math.isfinite(number) and (number >= low if low_inclusive else number > low)
    if not ok or (high is not None and number >= high):
        raise ValueError(f"config key {key!r} must be {wanted}; got {value!r}")
    return number


def _positive_int(config: Mapping[str, Any], key: str) -> int:
    """A positive integer (integral floats such as 32.0 are accepted)."""
    value = config.get(key, DEFAULTS[key])
    number = _as_int(value)
    if number is None or number < 1:
        raise ValueError(f"config key {key!r} must be a positive integer; got {value!r}")
    return number


def _optional_positive_int(config: Mapping[str, Any], key: str) -> int | None:
    """None, or a positive integer."""
    value = config.get(key, DEFAULTS[key])
    number = _as_int(value)
    if value is not None and (number is None or number < 1):
        raise ValueError(f"config key {key!r} must be None or a positive integer; got {value!r}")
    return number


def _hidden(config: Mapping[str, Any]) -> tuple[int, ...]:
    """An int (two hidden layers that wide) or a list of ints (one layer each)."""
    value = config.get("hidden", DEFAULTS["hidden"])
    single = _as_int(value)
    if single is not None and single >= 1:
        return (single, single)
    if isinstance(value, list | tuple):
        widths = [_as_int(item) for item in value]
        if all(width is not None and width >= 1 for width in widths):
            return tuple(int(width) for width in widths if width is not None)
    raise ValueError(
        f"config key 'hidden' must be a positive integer or a list of positive integers; "
        f"got {value!r}"
    )


def _as_int(value: Any) -> int | None:
    """``value`` as an int if it is an integer (or an integral float), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)
    return None


def _list(values: tuple[str, ...]) -> str:
    return ", ".join(repr(v) for v in values)
