"""Learning-rate schedules: small frozen values that a study can search, store and replay.

A schedule maps a global, 0-based iteration ``step`` to a learning rate (``lr(step)``). The
trainable asks for it every iteration, so each ``lr`` is a few float operations of plain
Python (no numpy, no torch). Schedules are validated when they are built, compare by value and
have a JSON form (``to_json``, parsed back by ``schedule_from_json``) that round-trips
exactly, so a schedule can sit in a study's config and an exported Population Based Training
run can be replayed as a ``Piecewise`` schedule::

    {"type": "constant", "rate": 0.1}
    {"type": "step", "rate": 0.1, "factor": 0.95, "every": 100}
    {"type": "exponential", "rate": 0.1, "gamma": 0.999}
    {"type": "cosine", "rate": 0.1, "total": 1000, "min_lr": 0.0}
    {"type": "warmup", "steps": 50, "start": 0.0, "then": {"type": "constant", "rate": 0.1}}
    {"type": "piecewise", "points": [[0, 0.1], [200, 0.05]]}

The base rate is the field ``rate``, not ``lr``: ``lr`` is the method every schedule has.

This module is the schedules' public home: the classes live in ``decay_schedules`` (one
formula of the step each) and ``composed_schedules`` (``WarmUp`` and ``Piecewise``, with the
``Schedule`` union), their checks and ``InvalidSchedule`` in ``_schedule_checks``; all are
re-exported here, where the JSON parsing and ``apply`` live.

``curvetune.models.schedule_config.schedule_from_config`` builds one from flat study-config
keys (``lr``, ``schedule``, ``decay``, ``gamma``, ...), so a search space can hold the choice
of schedule and its parameters as ordinary parameters; ``apply`` sets an optimizer's rate.
torch is never imported here (nor by ``curvetune.models``, whose MNIST trainable loads
lazily), so a study can build and check schedules without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ._schedule_checks import InvalidSchedule
from .composed_schedules import JSON_KEYS, Piecewise, Schedule, WarmUp, type_names
from .decay_schedules import Constant, Cosine, Exponential, StepDecay

if TYPE_CHECKING:
    import torch

__all__ = [
    "SCHEDULES",
    "Constant",
    "Cosine",
    "Exponential",
    "InvalidSchedule",
    "Piecewise",
    "Schedule",
    "StepDecay",
    "WarmUp",
    "apply",
    "schedule_from_json",
]

SCHEDULES = ("constant", "step", "exponential", "cosine", "piecewise")
"""The values config key ``schedule`` accepts (see ``schedule_from_config``)."""

STEP_DECAY_DEFAULT = 0.95  # "5 % every 100 iterations"
STEP_EVERY_DEFAULT = 100
EXPONENTIAL_GAMMA_DEFAULT = 0.999


# ----------------------------------------------------------------------------- JSON


def schedule_from_json(data: object) -> Schedule:
    """Build a schedule from its JSON form (``to_json``); the round trip is exact."""
    kind = "schedule"
    if not isinstance(data, Mapping):
        raise InvalidSchedule(kind, f"expected a table with a 'type' key, got {data!r}")
    if "type" not in data:
        raise InvalidSchedule(kind, f"missing key 'type' (allowed types: {type_names()})")
    name = data["type"]
    if not isinstance(name, str) or name not in JSON_KEYS:
        raise InvalidSchedule(kind, f"unknown type {name!r}; allowed types: {type_names()}")
    cls, required, optional = JSON_KEYS[name]
    allowed = ("type", *required, *optional)
    for key in data:
        if key not in allowed:
            raise InvalidSchedule(
                kind,
                f"unknown key {key!r} for type {name!r}; allowed keys: {', '.join(allowed)}",
            )
    for key in required:
        if key not in data:
            raise InvalidSchedule(
                kind, f"missing key {key!r} (type {name!r} needs {', '.join(required)})"
            )
    arguments = {key: data[key] for key in allowed[1:] if key in data}
    if cls is WarmUp:
        arguments["then"] = schedule_from_json(arguments["then"])
    return cls(**arguments)


# ----------------------------------------------------------------------------- optimizers


def apply(optimizer: torch.optim.Optimizer, schedule: Schedule, step: int) -> float:
    """Set every param group's rate to ``schedule.lr(step)`` and return it.

    A group is written only when its rate differs, so calling this every iteration costs a
    comparison per group while the rate holds.
    """
    lr = schedule.lr(step)
    for group in optimizer.param_groups:
        if group["lr"] != lr:
            group["lr"] = lr
    return lr
