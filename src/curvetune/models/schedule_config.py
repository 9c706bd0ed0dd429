"""Learning-rate schedules from a study's flat config keys, so a search space can hold a
schedule choice with its own parameters (``schedule = Choice(["constant", "step"])``,
``decay = Float(0.8, 1.0)``).

``SCHEDULE_KEYS`` says which keys each schedule reads, so a study can refuse a key that none
of the schedules it can choose uses (``check_schedule_keys``, with ``study_schedules``
finding those schedules in the fixed settings or the space): a key nothing reads is a
mistake that would otherwise be silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from ..domains import Choice, Domain
from ._schedule_checks import _check_count, _check_decay, _check_rate
from .schedules import (
    EXPONENTIAL_GAMMA_DEFAULT,
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
    schedule_from_json,
)


def schedule_from_config(config: Mapping[str, Any], *, default_lr: float | None = None) -> Schedule:
    """The schedule that flat study-config keys describe; errors name the key.

    ============== ========== =====================================================
    key            default    meaning
    ============== ========== =====================================================
    lr             required   base rate (``default_lr`` when missing, if given)
    schedule       "constant" one of ``SCHEDULES``
    decay          0.95       "step": the factor per ``decay_every`` iterations
    decay_every    100        "step": iterations between decays
    gamma          0.999      "exponential": the factor per iteration (torch's
                              ``ExponentialLR`` gamma, applied every iteration)
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
    those that drew the schedule that reads it; keys this function does not know are left
    alone (they belong to the trainable). ``lr`` is not needed with ``lr_schedule`` or
    ``schedule="piecewise"`` (the points carry the rates). A warm-up delays the wrapped
    schedule: with ``warmup=w`` the step decay counts from iteration ``w``.

    ``decay`` once was exponential's per-iteration factor too; ``schedule="exponential"``
    with ``decay`` but no ``gamma`` (a config written then) is refused rather than run with
    the default gamma: ``decay = 0.95`` read per iteration leaves 3.5e-5 of the rate after
    200 iterations, while as step's factor (per 100 iterations) it leaves 90 %.
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
            if "decay" in values and "gamma" not in values:
                raise ValueError(EXPONENTIAL_DECAY)
            schedule = Exponential(lr, values.get("gamma", EXPONENTIAL_GAMMA_DEFAULT))
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
    "gamma": _check_decay,
    "cosine_total": _check_count,
    "min_lr": _check_rate,
    "warmup": lambda kind, name, value: _check_count(kind, name, value, low=0),
}


# ----------------------------------------------------------------------------- which keys

SCHEDULE_KEYS: Mapping[str, tuple[str, ...]] = {
    "constant": ("lr", "warmup"),
    "step": ("lr", "decay", "decay_every", "warmup"),
    "exponential": ("lr", "gamma", "warmup"),
    "cosine": ("lr", "cosine_total", "total_iterations", "min_lr", "warmup"),
    "piecewise": ("lr_points", "warmup"),
}
"""The config keys each schedule reads (``lr_schedule``, which overrides them all, aside)."""

CONFIG_KEYS: tuple[str, ...] = (
    "schedule",
    *dict.fromkeys(key for keys in SCHEDULE_KEYS.values() for key in keys),
    "lr_schedule",
)
"""Every config key ``schedule_from_config`` reads."""

EXPONENTIAL_DECAY = (
    "schedule 'exponential' takes its factor per iteration from config key 'gamma', not "
    "'decay' (step's factor per 'decay_every' iterations); set 'gamma' (before 'gamma' "
    "existed, exponential read 'decay': move that value to 'gamma')"
)


def study_schedules(fixed: Mapping[str, Any], space: Mapping[str, Domain]) -> tuple[str, ...]:
    """The schedules a study's trials can run: the space's ``schedule`` choices, else the
    fixed ``schedule`` (missing or None: "constant"). A value that is not a schedule name,
    or a ``schedule`` parameter that is not a ``Choice``, raises ``ValueError``."""
    allowed = ", ".join(repr(s) for s in SCHEDULES)
    if "schedule" in space:
        domain = space["schedule"]
        if not isinstance(domain, Choice):
            raise ValueError(
                f"space parameter 'schedule' must be a choice of {allowed}; got {domain!r}"
            )
        names: tuple[Any, ...] = domain.values
        where = "space parameter 'schedule'"
    else:
        name = fixed.get("schedule")
        names = ("constant" if name is None else name,)
        where = "config key 'schedule'"
    for name in names:
        if not isinstance(name, str) or name not in SCHEDULES:
            raise ValueError(f"{where} must be one of {allowed}; got {name!r}")
    return tuple(names)


def check_schedule_keys(keys: Iterable[str], schedules: Collection[str]) -> None:
    """Refuse a schedule key that none of ``schedules`` reads, with one line.

    ``keys`` are the keys a study sets (fixed ones set to None left out) and ``schedules``
    those its trials can run (``study_schedules``). A trial that drew "constant" from a
    choice carries ``decay`` for the trials that drew "step", so only a key that no
    possible schedule reads is a mistake. Keys that are not schedule keys are left alone.
    """
    used = {key for name in schedules for key in SCHEDULE_KEYS[name]}
    for key in keys:
        if key not in CONFIG_KEYS or key in ("schedule", "lr_schedule") or key in used:
            continue
        readers = [name for name, names in SCHEDULE_KEYS.items() if key in names]
        takes = ", ".join(dict.fromkeys(k for name in schedules for k in SCHEDULE_KEYS[name]))
        which = " or ".join(repr(name) for name in schedules)
        message = (
            f"config key {key!r} is not used by schedule {which}, which "
            f"{'takes' if len(schedules) == 1 else 'take'} {takes}; "
            f"{key!r} is read by schedule {' or '.join(repr(name) for name in readers)}"
        )
        if key == "decay" and "exponential" in schedules:
            message += "; exponential's factor per iteration is 'gamma' (rename 'decay')"
        raise ValueError(message)
