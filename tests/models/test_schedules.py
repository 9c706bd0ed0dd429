"""Learning-rate schedules: values, JSON, validation, config keys, optimizers and the MNIST
trainable (scheduled rates reported, resumed exactly, replayed from a record)."""

from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import curvetune.models.mnist as mnist
from curvetune.models.schedule_config import (
    _CONFIG_CHECKS,
    CONFIG_KEYS,
    SCHEDULE_KEYS,
    schedule_from_config,
    study_schedules,
)
from curvetune.models.schedules import (
    SCHEDULES,
    Constant,
    Cosine,
    Exponential,
    InvalidSchedule,
    Piecewise,
    Schedule,
    StepDecay,
    WarmUp,
    apply,
    schedule_from_json,
)
from curvetune.models.settings import parse_config
from curvetune.space import Choice, Float, Int, Space
from curvetune.study import Study
from curvetune.types import Report
from curvetune.worker import SegmentContext, run_segment

LR = 0.1

# ----------------------------------------------------------------------------- values


def test_constant() -> None:
    schedule = Constant(LR)
    assert [schedule.lr(step) for step in (0, 1, 10**6)] == [LR, LR, LR]


def test_step_decay_five_percent_every_hundred() -> None:
    schedule = StepDecay(LR, factor=0.95, every=100)
    assert schedule.lr(0) == LR
    assert schedule.lr(99) == LR
    assert schedule.lr(100) == 0.95 * LR
    assert schedule.lr(199) == 0.95 * LR
    assert schedule.lr(250) == 0.95**2 * LR


def test_exponential() -> None:
    schedule = Exponential(LR, gamma=0.9)
    assert schedule.lr(0) == LR
    assert schedule.lr(1) == LR * 0.9
    assert schedule.lr(5) == LR * 0.9**5
    assert Exponential(LR, gamma=1).lr(1000) == LR


def test_cosine_endpoints_and_shape() -> None:
    schedule = Cosine(LR, total=100, min_lr=0.01)
    assert schedule.lr(0) == LR
    assert schedule.lr(50) == pytest.approx((LR + 0.01) / 2)
    assert schedule.lr(100) == 0.01
    assert schedule.lr(1000) == 0.01
    values = [schedule.lr(step) for step in range(101)]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert all(0.01 <= value <= LR for value in values)
    assert Cosine(LR, total=10).lr(10) == 0.0


def test_warm_up_is_linear_then_hands_over() -> None:
    then = StepDecay(LR, factor=0.5, every=10)
    schedule = WarmUp(4, then, start=0.02)
    assert schedule.lr(0) == 0.02
    ramp = [schedule.lr(step) for step in range(5)]
    assert ramp == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.1])
    assert schedule.lr(4) == then.lr(0) == LR
    # The wrapped schedule's clock starts when the warm-up ends.
    assert schedule.lr(13) == then.lr(9) == LR
    assert schedule.lr(14) == then.lr(10) == LR * 0.5
    assert WarmUp(10, Constant(LR)).lr(5) == pytest.approx(LR / 2)


def test_piecewise_lookups() -> None:
    schedule = Piecewise(((0, 0.1), (10, 0.05), (25, 0.2)))
    lookups = {0: 0.1, 9: 0.1, 10: 0.05, 24: 0.05, 25: 0.2, 10**6: 0.2}
    assert {step: schedule.lr(step) for step in lookups} == lookups
    assert Piecewise([[0, 0.3]]).lr(7) == 0.3
    assert Piecewise([[0, 1], [5.0, 2]]).points == ((0, 1.0), (5, 2.0))  # normalised


# ----------------------------------------------------------------------------- JSON

EXAMPLES: list[Schedule] = [
    Constant(0.1),
    StepDecay(0.1, 0.95, 100),
    Exponential(0.3, 0.999),
    Cosine(0.05, 1000, 1e-4),
    Cosine(0.05, 7),
    WarmUp(50, StepDecay(0.1, 0.95, 100)),
    WarmUp(3, WarmUp(2, Cosine(0.2, 10), start=0.01), start=0.001),
    Piecewise(((0, 0.1), (200, 0.05), (1000, 1 / 3))),
]


@pytest.mark.parametrize("schedule", EXAMPLES, ids=repr)
def test_json_round_trip_is_exact(schedule: Schedule) -> None:
    data = schedule.to_json()
    assert isinstance(data["type"], str)
    back = schedule_from_json(json.loads(json.dumps(data)))
    assert back == schedule
    assert type(back) is type(schedule)
    assert back.to_json() == data
    assert [back.lr(step) for step in (0, 1, 99, 100, 5000)] == [
        schedule.lr(step) for step in (0, 1, 99, 100, 5000)
    ]


def test_schedules_are_hashable_values() -> None:
    assert len({StepDecay(0.1, 0.95, 100), StepDecay(0.1, 0.95, 100.0), Constant(0.1)}) == 2


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([1, 2], "expected a table"),
        ({"rate": 0.1}, "missing key 'type'"),
        ({"type": "cyclic"}, "unknown type 'cyclic'; allowed types: constant, cosine"),
        ({"type": "constant", "rate": 0.1, "gamma": 0.9}, "unknown key 'gamma'"),
        ({"type": "step", "rate": 0.1, "factor": 0.9}, "missing key 'every'"),
        ({"type": "step", "rate": 0.1, "factor": 1.1, "every": 10}, "StepDecay: factor"),
        ({"type": "warmup", "steps": 5, "then": {"type": "nope"}}, "unknown type 'nope'"),
    ],
)
def test_bad_json_is_refused(data: object, match: str) -> None:
    with pytest.raises(InvalidSchedule, match=match) as info:
        schedule_from_json(data)
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Constant(-0.1), "Constant: rate must be a finite number >= 0"),
        (lambda: Constant(math.nan), "Constant: rate must be a finite number >= 0"),
        (lambda: Constant(math.inf), "Constant: rate must be a finite number >= 0"),
        (lambda: Constant("fast"), "Constant: rate must be a finite number >= 0"),
        (lambda: Constant(True), "Constant: rate must be a finite number >= 0"),
        (lambda: StepDecay(-1e-3, 0.9, 10), "StepDecay: rate must be a finite number >= 0"),
        (lambda: StepDecay(0.1, 0.0, 10), r"StepDecay: factor must be a number in \(0, 1\]"),
        (lambda: StepDecay(0.1, 1.5, 10), r"values > 1 would grow it\), got factor=1.5"),
        (lambda: StepDecay(0.1, 0.9, 0), "StepDecay: every must be a whole number >= 1"),
        (lambda: StepDecay(0.1, 0.9, 2.5), "StepDecay: every must be a whole number >= 1"),
        (lambda: Exponential(-0.1, 0.9), "Exponential: rate must be a finite number >= 0"),
        (lambda: Exponential(0.1, 1.01), r"Exponential: gamma must be a number in \(0, 1\]"),
        (lambda: Exponential(0.1, -0.5), r"Exponential: gamma must be a number in \(0, 1\]"),
        (lambda: Cosine(0.1, 0), "Cosine: total must be a whole number >= 1"),
        (lambda: Cosine(0.1, 10, -0.01), "Cosine: min_lr must be a finite number >= 0"),
        (lambda: Cosine(0.1, 10, 0.2), "Cosine: min_lr must not exceed rate"),
        (lambda: WarmUp(0, Constant(0.1)), "WarmUp: steps must be a whole number >= 1"),
        (lambda: WarmUp(5, 0.1), "WarmUp: then must be a schedule"),
        (lambda: WarmUp(5, Constant(0.1), start=-1), "WarmUp: start must be a finite number"),
        (lambda: Piecewise(()), "Piecewise: points must not be empty"),
        (lambda: Piecewise("0:0.1"), "Piecewise: points must be a list of"),
        (lambda: Piecewise([(0, 0.1, 3)]), r"Piecewise: points\[0\] must be a \(step, lr\) pair"),
        (lambda: Piecewise([(5, 0.1)]), "Piecewise: the first point must be at step 0"),
        (lambda: Piecewise([(0, 0.1), (-3, 0.1)]), r"points\[1\] step must be a whole number"),
        (lambda: Piecewise([(0, 0.1), (10, -0.1)]), r"points\[1\] lr must be a finite number"),
        (lambda: Piecewise([(0, 0.1), (9, 0.2), (9, 0.3)]), "strictly increasing, got step 9"),
    ],
)
def test_invalid_arguments_are_refused_in_one_line(make: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        make()
    assert isinstance(info.value, InvalidSchedule)
    assert "\n" not in str(info.value)


def test_a_negative_rate_is_refused_everywhere() -> None:
    for make in (
        lambda: Constant(-0.1),
        lambda: StepDecay(-0.1, 0.95, 100),
        lambda: Exponential(-0.1, 0.9),
        lambda: Cosine(-0.1, 10),
        lambda: WarmUp(5, Constant(0.1), start=-0.1),
        lambda: Piecewise([(0, -0.1)]),
        lambda: schedule_from_config({"lr": -0.1}),
        lambda: schedule_from_config(
            {"lr": 0.1, "schedule": "cosine", "cosine_total": 9, "min_lr": -0.1}
        ),
    ):
        with pytest.raises(ValueError, match=r"must be a finite number >= 0") as info:
            make()
        assert "\n" not in str(info.value)


def test_integral_floats_become_ints() -> None:
    schedule = StepDecay(0.1, 0.95, 100.0)
    assert schedule.every == 100 and type(schedule.every) is int
    assert schedule.to_json()["every"] == 100


# ----------------------------------------------------------------------------- config keys


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"lr": LR}, Constant(LR)),
        ({"lr": LR, "schedule": None, "decay": None}, Constant(LR)),
        ({"lr": LR, "schedule": "constant"}, Constant(LR)),
        ({"lr": LR, "schedule": "step"}, StepDecay(LR, 0.95, 100)),
        ({"lr": LR, "schedule": "step", "decay": 0.5, "decay_every": 10}, StepDecay(LR, 0.5, 10)),
        ({"lr": LR, "schedule": "exponential"}, Exponential(LR, 0.999)),
        ({"lr": LR, "schedule": "exponential", "gamma": 0.9}, Exponential(LR, 0.9)),
        # A choice of schedules: an "exponential" trial also carries step's decay.
        (
            {"lr": LR, "schedule": "exponential", "gamma": 0.9, "decay": 0.5},
            Exponential(LR, 0.9),
        ),
        ({"lr": LR, "schedule": "step", "gamma": 0.9, "decay": 0.5}, StepDecay(LR, 0.5, 100)),
        ({"lr": LR, "schedule": "cosine", "cosine_total": 500}, Cosine(LR, 500)),
        ({"lr": LR, "schedule": "cosine", "total_iterations": 300}, Cosine(LR, 300)),
        (
            {
                "lr": LR,
                "schedule": "cosine",
                "cosine_total": 50,
                "total_iterations": 300,
                "min_lr": 0.01,
            },
            Cosine(LR, 50, 0.01),
        ),
        (
            {"schedule": "piecewise", "lr_points": [[0, 0.1], [20, 0.01]]},
            Piecewise(((0, 0.1), (20, 0.01))),
        ),
        ({"lr": LR, "warmup": 0}, Constant(LR)),
        ({"lr": LR, "warmup": 20}, WarmUp(20, Constant(LR))),
        ({"lr": LR, "schedule": "step", "warmup": 5}, WarmUp(5, StepDecay(LR, 0.95, 100))),
        (
            {
                "lr": LR,
                "schedule": "step",
                "warmup": 5,
                "lr_schedule": {"type": "piecewise", "points": [[0, 0.2], [10, 0.02]]},
            },
            Piecewise(((0, 0.2), (10, 0.02))),
        ),
        ({"lr": LR, "unrelated": "kept out"}, Constant(LR)),
    ],
)
def test_schedule_from_config(config: dict[str, Any], expected: Schedule) -> None:
    assert schedule_from_config(config) == expected


def test_schedule_from_config_default_lr() -> None:
    assert schedule_from_config({"schedule": "step"}, default_lr=0.05) == StepDecay(0.05, 0.95, 100)
    assert schedule_from_config({"lr": 0.2}, default_lr=0.05) == Constant(0.2)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"lr": LR, "schedule": "cyclic"},
            "config key 'schedule' must be one of 'constant', 'step', 'exponential', 'cosine', "
            "'piecewise'; got 'cyclic'",
        ),
        ({"lr": LR, "schedule": 3}, "config key 'schedule' must be one of"),
        ({"schedule": "step"}, "config key 'lr' is required for schedule 'step'"),
        ({"lr": "fast"}, "config key 'lr' must be a finite number >= 0"),
        ({"lr": LR, "schedule": "step", "decay": 1.05}, r"config key 'decay' must be .*\(0, 1\]"),
        ({"lr": LR, "decay": 0}, "config key 'decay'"),  # checked even when unused
        ({"lr": LR, "schedule": "exponential", "gamma": 1.5}, r"config key 'gamma' .*\(0, 1\]"),
        ({"lr": LR, "gamma": 0}, "config key 'gamma'"),
        # decay was once exponential's per-iteration factor: never reread as something else
        (
            {"lr": LR, "schedule": "exponential", "decay": 0.95},
            "schedule 'exponential' takes its factor per iteration from config key 'gamma', "
            "not 'decay'",
        ),
        ({"lr": LR, "schedule": "step", "decay_every": 0}, "config key 'decay_every'"),
        ({"lr": LR, "schedule": "step", "decay_every": 2.5}, "config key 'decay_every'"),
        ({"lr": LR, "schedule": "cosine"}, "config key 'cosine_total' is required"),
        ({"lr": LR, "schedule": "cosine", "cosine_total": -5}, "config key 'cosine_total'"),
        ({"lr": LR, "schedule": "cosine", "total_iterations": 0}, "config key 'total_iterations'"),
        (
            {"lr": LR, "schedule": "cosine", "cosine_total": 9, "min_lr": 0.5},
            "config key 'min_lr' must not exceed 'lr'",
        ),
        ({"lr": LR, "warmup": -1}, "config key 'warmup' must be a whole number >= 0"),
        ({"lr": LR, "warmup": True}, "config key 'warmup'"),
        ({"schedule": "piecewise"}, "config key 'lr_points' is required"),
        (
            {"schedule": "piecewise", "lr_points": [[1, 0.1]]},
            "config key 'lr_points': Piecewise: the first point must be at step 0",
        ),
        ({"lr": LR, "lr_points": []}, "config key 'lr_points'"),  # checked even when unused
        (
            {"lr_schedule": {"type": "step", "rate": 0.1}},
            "config key 'lr_schedule': schedule: missing key 'factor'",
        ),
        (
            {"lr_schedule": {"type": "constant", "rate": -1}},
            "config key 'lr_schedule': Constant: rate must be",
        ),
        ({"lr_schedule": "step"}, "config key 'lr_schedule': schedule: expected a table"),
    ],
)
def test_bad_config_names_the_key(config: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        schedule_from_config(config)
    assert "\n" not in str(info.value)


def test_every_schedule_name_builds() -> None:
    config = {"lr": LR, "cosine_total": 10, "lr_points": [[0, LR]]}
    for name in SCHEDULES:
        assert schedule_from_config({**config, "schedule": name}).lr(0) == LR


# ----------------------------------------------------------------------------- study keys


def test_the_key_lists_match_what_schedule_from_config_reads() -> None:
    assert set(SCHEDULE_KEYS) == set(SCHEDULES)
    read = {*_CONFIG_CHECKS, "schedule", "lr_points", "lr_schedule", "total_iterations"}
    assert set(CONFIG_KEYS) == read


@pytest.mark.parametrize(
    ("fixed", "space", "expected"),
    [
        ({}, {}, ("constant",)),
        ({"schedule": None}, {}, ("constant",)),
        ({"schedule": "step"}, {}, ("step",)),
        ({}, {"schedule": Choice(("constant", "exponential"))}, ("constant", "exponential")),
    ],
)
def test_study_schedules(
    fixed: dict[str, Any], space: dict[str, Any], expected: tuple[str, ...]
) -> None:
    assert study_schedules(fixed, space) == expected


def lr_space(**more: Any) -> Space:
    return Space({"lr": Float(0.01, 0.5, log=True), **more})


ALL = Choice(("constant", "step", "exponential"))


@pytest.mark.parametrize(
    ("fixed", "space", "message"),
    [
        # The reference setting: exponential read decay=0.95 per iteration (lr 1.6e-6 at 200).
        (
            {"schedule": "exponential", "decay": 0.95},
            lr_space(),
            "config key 'decay' is not used by schedule 'exponential', which takes lr, gamma, "
            "warmup; 'decay' is read by schedule 'step'; exponential's factor per iteration "
            "is 'gamma' (rename 'decay')",
        ),
        (
            {"decay": 0.95, "decay_every": 100},
            lr_space(schedule=ALL),
            "schedule 'exponential' takes its factor per iteration from config key 'gamma'",
        ),
        (
            {"schedule": "step", "gamma": 0.99},
            lr_space(),
            "config key 'gamma' is not used by schedule 'step', which takes lr, decay, "
            "decay_every, warmup",
        ),
        ({"decay": 0.9}, lr_space(), "config key 'decay' is not used by schedule 'constant'"),
        (
            {"min_lr": 0.001},
            lr_space(schedule=Choice(("constant", "step"))),
            "config key 'min_lr' is not used by schedule 'constant' or 'step', which take lr, "
            "warmup, decay, decay_every; 'min_lr' is read by schedule 'cosine'",
        ),
        (
            {"schedule": "piecewise", "lr_points": [[0, 0.1]]},
            lr_space(),
            "config key 'lr' is not used by schedule 'piecewise'",
        ),
        (
            {"schedule": "cosine"},
            Space({"lr": Float(0.01, 0.5), "decay_every": Int(10, 100)}),
            "config key 'decay_every' is not used by schedule 'cosine'",
        ),
        # A key a schedule needs, missing for the trials that draw it.
        (
            {},
            lr_space(schedule=Choice(("constant", "cosine"))),
            "config key 'cosine_total' is required for schedule 'cosine'",
        ),
        (
            {},
            lr_space(schedule=Choice(("constant", "cyclic"))),
            "space parameter 'schedule' must be one of 'constant', 'step'",
        ),
        ({}, lr_space(schedule=Float(0.0, 1.0)), "space parameter 'schedule' must be a choice"),
        ({"schedule": "cyclic"}, lr_space(), "config key 'schedule' must be one of"),
    ],
)
def test_study_refuses_schedule_keys_no_trial_reads(
    fixed: dict[str, Any], space: Space, message: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)) as info:
        mnist.train.check_study(fixed, space)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("fixed", "space"),
    [
        ({"decay": 0.95, "decay_every": 100, "gamma": 0.999}, lr_space(schedule=ALL)),
        ({"gamma": 0.999}, lr_space(schedule=ALL, decay=Float(0.5, 1.0))),
        ({"decay": 0.5}, lr_space(schedule=Choice(("constant", "step")))),  # dynamic-lr
        ({"schedule": "exponential", "gamma": 0.99, "warmup": 10}, lr_space()),
        ({"schedule": "step", "decay": None, "gamma": None}, lr_space()),  # None: not set
        (
            {"cosine_total": 100, "min_lr": 0.001},
            lr_space(schedule=Choice(("constant", "cosine"))),
        ),
        ({"schedule": "piecewise", "lr_points": [[0, 0.1]]}, Space({"hidden": Int(8, 64)})),
        ({"lr_schedule": {"type": "constant", "rate": 0.1}}, lr_space()),  # overrides them all
    ],
)
def test_study_accepts_keys_some_schedule_reads(fixed: dict[str, Any], space: Space) -> None:
    mnist.train.check_study(fixed, space)


def test_a_study_is_refused_before_any_trial(tmp_path: Path) -> None:
    study = Study.create(
        objective=OBJECTIVE,
        space={"lr": Float(0.01, 0.5, log=True)},
        metric="val_accuracy",
        max_steps=1,
        fixed={"schedule": "exponential", "decay": 0.95, "max_train": 64, "device": "cpu"},
        directory=tmp_path / "study",
    )
    with pytest.raises(ValueError, match="config key 'decay' is not used by schedule 'exp"):
        study.optimize(trials=1, executor="sequential")
    assert study.trials == []
    study.close()


# ----------------------------------------------------------------------------- optimizers


def test_apply_sets_every_param_group() -> None:
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))
    optimizer = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.3}], lr=LR)
    schedule = StepDecay(LR, factor=0.5, every=10)
    assert apply(optimizer, schedule, 0) == LR
    assert [group["lr"] for group in optimizer.param_groups] == [LR, LR]
    assert apply(optimizer, schedule, 25) == LR * 0.25
    assert [group["lr"] for group in optimizer.param_groups] == [LR * 0.25, LR * 0.25]
    a.grad, b.grad = torch.ones(2), torch.ones(3)
    optimizer.step()  # the optimizer uses the rate apply set
    assert torch.allclose(a.detach(), torch.full((2,), -LR * 0.25))


def test_importing_schedules_needs_no_torch() -> None:
    code = (
        "import sys; sys.modules['torch'] = None; "
        "import curvetune.models.schedules, curvetune.models.schedule_config; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_the_models_package_still_offers_train() -> None:
    """``curvetune.models`` loads its torch trainable on first use, not on import."""
    import curvetune.models
    import curvetune.models.mnist

    assert curvetune.models.train is curvetune.models.mnist.train


# ----------------------------------------------------------------------------- MNIST

OBJECTIVE = "curvetune.models.mnist:train"
# 256 examples in batches of 32 (8 iterations an epoch); a step is 10 iterations.
STEPPED: dict[str, Any] = {
    "max_train": 256,
    "hidden": 16,
    "device": "cpu",
    "lr": LR,
    "schedule": "step",
    "decay": 0.5,
    "decay_every": 10,
    "iters_per_step": 10,
}


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: the models are tiny and other work may share the machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_ctx(
    tmp_path: Path,
    name: str,
    *,
    start: int = 0,
    until: int = 1,
    checkpoint_in: Path | None = None,
    seed: int = 1,
) -> SegmentContext:
    return SegmentContext(
        trial_id=0,
        seed=seed,
        start=start,
        until=until,
        checkpoint_in=None if checkpoint_in is None else str(checkpoint_in),
        checkpoint_out=str(tmp_path / name),
    )


def run(config: dict[str, Any], ctx: SegmentContext) -> list[Report]:
    result = run_segment(OBJECTIVE, config, ctx)
    assert result.status == "ok", result.error
    return list(result.reports)


def test_settings_carry_the_schedule() -> None:
    assert parse_config(STEPPED).schedule == StepDecay(LR, 0.5, 10)
    assert parse_config({}).schedule == Constant(0.05)  # the trainable's default lr


def test_lr_at_uses_the_schedule() -> None:
    assert mnist.lr_at(STEPPED, 19) == LR * 0.5
    assert mnist.lr_at(STEPPED, 20) == LR * 0.25
    assert mnist.lr_at({"lr": 5.0}, 20, Constant(0.3)) == 0.3  # a given schedule wins


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("schedule", "cyclic"),
        ("decay", 1.5),
        ("decay_every", 0),
        ("warmup", -1),
        ("min_lr", -0.1),
        ("lr_points", [[3, 0.1]]),
        ("lr_schedule", {"type": "step"}),
    ],
)
def test_trainable_refuses_bad_schedule_keys(tmp_path: Path, key: str, value: Any) -> None:
    with pytest.raises(ValueError, match=f"config key '{key}'"):
        mnist.train({**STEPPED, key: value}, make_ctx(tmp_path, "c"))


@pytest.mark.usefixtures("one_torch_thread")
def test_trainable_reports_the_scheduled_rate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop must use the schedule parse_config built, never rebuild it per iteration.
    def rebuilt(*args: Any, **kwargs: Any) -> Schedule:
        raise AssertionError("lr_at rebuilt the schedule inside the training loop")

    from curvetune.models import training  # where lr_at lives

    monkeypatch.setattr(training, "schedule_from_config", rebuilt)
    reports = run(STEPPED, make_ctx(tmp_path, "a", until=3))
    # Step k trains iterations 10(k-1) .. 10k-1 and reports the rate its last one used.
    seen = [(r.step, r.metrics["iteration"], r.metrics["lr"]) for r in reports]
    assert seen == [(1, 10, LR), (2, 20, LR * 0.5), (3, 30, LR * 0.25)]


@pytest.mark.usefixtures("one_torch_thread")
def test_reported_rate_is_the_last_iterations_rate(tmp_path: Path) -> None:
    # Decays every 4 iterations, steps of 10: step 1's last iteration is 9, 9 // 4 = 2
    # decays; step 2's is 19, 4 decays. Not the rate of the next iteration (10 // 4 = 2,
    # 20 // 4 = 5). Intermediate reports (report_every) follow the same rule.
    config = {**STEPPED, "decay_every": 4, "report_every": 5}
    reports = run(config, make_ctx(tmp_path, "a", until=2))
    seen = [(r.step, r.metrics["iteration"], r.metrics["lr"]) for r in reports]
    assert seen == [
        (1, 5, LR * 0.5),  # iteration 4
        (1, 10, LR * 0.25),  # iteration 9
        (2, 15, LR * 0.5**3),  # iteration 14
        (2, 20, LR * 0.5**4),  # iteration 19
    ]


@pytest.mark.usefixtures("one_torch_thread")
def test_resumed_run_matches_an_uninterrupted_one(tmp_path: Path) -> None:
    straight = run(STEPPED, make_ctx(tmp_path, "straight", until=3))
    first = run(STEPPED, make_ctx(tmp_path, "one", until=1))
    rest = run(STEPPED, make_ctx(tmp_path, "two", start=1, until=3, checkpoint_in=tmp_path / "one"))
    assert first + rest == straight  # lrs and every metric, bit for bit
    assert [r.metrics["lr"] for r in rest] == [LR * 0.5, LR * 0.25]


@pytest.mark.usefixtures("one_torch_thread")
def test_piecewise_replay_of_reported_rates(tmp_path: Path) -> None:
    original = run(STEPPED, make_ctx(tmp_path, "original", until=3))
    # One point per step: the iteration it began at (the previous report's count), its rate.
    starts = [0, *(int(r.metrics["iteration"]) for r in original[:-1])]
    record = Piecewise(tuple(zip(starts, (r.metrics["lr"] for r in original), strict=True)))
    assert record.points == ((0, LR), (10, LR * 0.5), (20, LR * 0.25))
    replay_config = {
        key: value
        for key, value in STEPPED.items()
        if key not in ("schedule", "decay", "decay_every")
    }
    replay_config["lr_schedule"] = json.loads(json.dumps(record.to_json()))
    replayed = run(replay_config, make_ctx(tmp_path, "replayed", until=3))
    assert [r.metrics["lr"] for r in replayed] == [r.metrics["lr"] for r in original]
    assert replayed == original  # the same rates at every iteration: the same training
