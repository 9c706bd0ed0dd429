"""Learning-rate schedules from a study's flat config keys, so a search space can hold a
schedule choice with its own parameters (``schedule = Choice(["constant", "step"])``,
``decay = Float(0.8, 1.0)``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .schedules import (
    EXPONENTIAL_DECAY_DEFAULT,
    SCHEDULES,
    STEP_DECAY_DEFAULT,
    STEP_EVERY_DEFAULT,
    Constant,
    Cosine,
    Exponential,
    InvalidSchedule,
    Piecewise,
    Schedule,
    StepDecay,
    WarmUp,
    _check_count,
    _check_decay,
    _check_rate,
    schedule_from_json,
)


def schedule_from_config(config: Mapping[str, Any], *, default_lr: float | None = None) -> Schedule:
    """The schedule that flat study-config keys describe; errors name the key.

    ============== ========== =====================================================
    key            default    meaning
    ============== ========== =====================================================
    lr             required   base rate (``default_lr`` when missing, if given)
    schedule       "constant" one of ``SCHEDULES``
    decay          0.95/0.999 "step": factor (0.95); "exponential": gamma (0.999)
    decay_every    100        "step": iterations between decays
    cosine_total   (required) "cosine": iterations to anneal over; falls back to
                              config key ``total_iterations`` when that is set
    min_lr         0          "cosine": the rate it anneals down to
    warmup         0          iterations of linear warm-up from 0 (0: none)
    lr_points      (required) "piecewise": a list of [step, lr]
    lr_schedule    None       a full JSON schedule (``to_json``); overrides all the
                              other keys (replaying a Population Based Training export)
    ============== ========== =====================================================

    A missing key and a key set to None are the same. Every key present is validated,
    whichever schedule is chosen, so a bad value fails every trial of a study, not just
    those that drew the schedule that reads it. ``lr`` is not needed with ``lr_schedule``
    or ``schedule="piecewise"`` (the points carry the rates). A warm-up delays the wrapped
    schedule: with ``warmup=w`` the step decay counts from iteration ``w``.
    """
    name = config.get("schedule")
    if name is None:
        name = "constant"
    elif not isinstance(name, str) or name not in SCHEDULES:
        allowed = ", ".join(repr(s) for s in SCHEDULES)
        raise ValueError(f"config key 'schedule' must be one of {allowed}; got {name!r}")
    values = {
        key: _config_value(key, check, config[key])
        for key, check in _CONFIG_CHECKS.items()
        if config.get(key) is not None
    }
    points: Piecewise | None = None
    if config.get("lr_points") is not None:
        try:
            points = Piecewise(config["lr_points"])
        except InvalidSchedule as error:
            raise ValueError(f"config key 'lr_points': {error}") from None
    if config.get("lr_schedule") is not None:
        try:
            return schedule_from_json(config["lr_schedule"])
        except InvalidSchedule as error:
            raise ValueError(f"config key 'lr_schedule': {error}") from None

    if name == "piecewise":
        if points is None:
            raise ValueError(
                "config key 'lr_points' is required for schedule 'piecewise' "
                "(a list of [step, lr], the first at step 0)"
            )
        schedule: Schedule = points
    else:
        if "lr" in values:
            lr = values["lr"]
        elif default_lr is not None:
            lr = _config_value("lr", _CONFIG_CHECKS["lr"], default_lr)
        else:
            raise ValueError(f"config key 'lr' is required for schedule {name!r} (the base rate)")
        if name == "constant":
            schedule = Constant(lr)
        elif name == "step":
            decay = values.get("decay", STEP_DECAY_DEFAULT)
            schedule = StepDecay(lr, decay, values.get("decay_every", STEP_EVERY_DEFAULT))
        elif name == "exponential":
            schedule = Exponential(lr, values.get("decay", EXPONENTIAL_DECAY_DEFAULT))
        else:  # cosine
            total = values.get("cosine_total")
            if total is None:
                fallback = config.get("total_iterations")
                if fallback is None:
                    raise ValueError(
                        "config key 'cosine_total' is required for schedule 'cosine' "
                        "(iterations to anneal over), or set 'total_iterations'"
                    )
                total = _config_value("total_iterations", _CONFIG_CHECKS["cosine_total"], fallback)
            min_lr = values.get("min_lr", 0.0)
            if min_lr > lr:
                raise ValueError(
                    f"config key 'min_lr' must not exceed 'lr' (cosine anneals from lr down to "
                    f"min_lr); got min_lr={min_lr!r} with lr={lr!r}"
                )
            schedule = Cosine(lr, total, min_lr)
    warmup = values.get("warmup", 0)
    return WarmUp(warmup, schedule) if warmup else schedule


def _config_value(key: str, check: _Check, value: object) -> Any:
    """``check(kind, key, value)`` with its error reworded to name config key ``key``."""
    try:
        return check("config", key, value)
    except InvalidSchedule as error:
        raise ValueError(f"config key {key!r} must be {error.requirement}; got {value!r}") from None


_Check = Callable[[str, str, object], Any]  # (kind, name, value) -> the checked value
_CONFIG_CHECKS: dict[str, _Check] = {
    "lr": _check_rate,
    "decay": _check_decay,
    "decay_every": _check_count,
    "cosine_total": _check_count,
    "min_lr": _check_rate,
    "warmup": lambda kind, name, value: _check_count(kind, name, value, low=0),
}
