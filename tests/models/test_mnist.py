"""The ready MNIST trainable: reports, determinism, resuming, config checks, checkpoints."""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from curvetune.models.mnist import (
    DEFAULTS,
    KEYS,
    STATE_FILE,
    check_config,
    epoch_permutation,
    lr_at,
    train,
)
from curvetune.space import Float, Space
from curvetune.types import Report
from curvetune.worker import SegmentContext, run_segment

OBJECTIVE = "curvetune.models.mnist:train"
SMALL: dict[str, Any] = {"max_train": 512, "hidden": 32, "device": "cpu"}  # 16 iterations/epoch
STEP_KEYS = {"val_loss", "val_accuracy", "train_loss", "iteration", "lr"}


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: these models are tiny, and on a busy machine several threads
    waiting for each other can make a test many times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_ctx(
    tmp_path: Path,
    name: str = "c",
    *,
    start: int = 0,
    until: int = 2,
    checkpoint_in: str | None = None,
    seed: int = 1,
) -> SegmentContext:
    """A segment context whose checkpoint goes to ``tmp_path/name`` (created)."""
    out = tmp_path / name
    out.mkdir(exist_ok=True)
    return SegmentContext(
        trial_id=0,
        seed=seed,
        start=start,
        until=until,
        checkpoint_in=checkpoint_in,
        checkpoint_out=str(out),
    )


def run(config: dict[str, Any], ctx: SegmentContext) -> list[Report]:
    """Run one segment through the worker and insist that it succeeded."""
    result = run_segment(OBJECTIVE, config, ctx)
    assert result.status == "ok", result.error
    return list(result.reports)


def step_ends(reports: list[Report]) -> list[Report]:
    """The last report of each step."""
    ends: dict[int, Report] = {}
    for report in reports:
        ends[report.step] = report
    return [ends[step] for step in sorted(ends)]


def test_reports_every_step_with_the_right_keys(tmp_path: Path) -> None:
    reports = run(SMALL, make_ctx(tmp_path, until=3))
    assert [r.step for r in reports] == [1, 2, 3]
    for report in reports:
        assert set(report.metrics) == STEP_KEYS
        assert 0.0 <= report.metrics["val_accuracy"] <= 1.0
        assert report.metrics["lr"] == 0.05
    assert [r.metrics["iteration"] for r in reports] == [16, 32, 48]


def test_learns_well_above_chance(tmp_path: Path) -> None:
    reports = run({"max_train": 2000, "device": "cpu"}, make_ctx(tmp_path, until=2))
    # Seeds 0-4 give 0.83-0.86 after two epochs; chance is 0.1.
    assert reports[-1].metrics["val_accuracy"] > 0.7
    assert reports[-1].metrics["val_loss"] < reports[0].metrics["val_loss"] + 0.05


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"optimizer": "sgd", "momentum": 0.9, "weight_decay": 1e-4},
        {"optimizer": "adam", "lr": 1e-3},
        {"iters_per_step": 10},  # steps end mid-epoch: resuming must find the right batch
        {"batch_size": 100},  # a short last batch in each epoch
    ],
)
def test_resume_is_bit_identical(tmp_path: Path, extra: dict[str, Any]) -> None:
    config = {**SMALL, **extra}
    straight = run(config, make_ctx(tmp_path, "straight", until=3))
    first = run(config, make_ctx(tmp_path, "one", until=1))
    second = run(
        config,
        make_ctx(tmp_path, "two", start=1, until=2, checkpoint_in=str(tmp_path / "one")),
    )
    third = run(
        config,
        make_ctx(tmp_path, "three", start=2, until=3, checkpoint_in=str(tmp_path / "two")),
    )
    assert first + second + third == straight


def test_iters_per_step(tmp_path: Path) -> None:
    reports = run({**SMALL, "iters_per_step": 7}, make_ctx(tmp_path, until=3))
    assert [(r.step, r.metrics["iteration"]) for r in reports] == [(1, 7), (2, 14), (3, 21)]


def test_report_every_adds_intermediate_reports(tmp_path: Path) -> None:
    reports = run({**SMALL, "report_every": 5}, make_ctx(tmp_path, until=2))
    seen = [(r.step, r.metrics["iteration"]) for r in reports]
    assert seen == [(1, 5), (1, 10), (1, 15), (1, 16), (2, 20), (2, 25), (2, 30), (2, 32)]
    assert all(set(r.metrics) == STEP_KEYS for r in reports)
    plain = run(SMALL, make_ctx(tmp_path, "plain", until=2))
    assert step_ends(reports) == plain  # extra validation does not change training


def test_report_every_on_a_step_boundary_is_not_doubled(tmp_path: Path) -> None:
    reports = run({**SMALL, "report_every": 8}, make_ctx(tmp_path, until=1))
    assert [r.metrics["iteration"] for r in reports] == [8, 16]


def test_cnn_runs_a_step(tmp_path: Path) -> None:
    reports = run({"arch": "cnn", "max_train": 128, "device": "cpu"}, make_ctx(tmp_path, until=1))
    assert len(reports) == 1 and set(reports[0].metrics) == STEP_KEYS
    state = torch.load(tmp_path / "c" / STATE_FILE, weights_only=True)
    assert state["arch"] == "cnn"


def test_mlp_hidden_list_sets_the_depth(tmp_path: Path) -> None:
    run({**SMALL, "hidden": [24, 16, 12]}, make_ctx(tmp_path, until=1))
    state = torch.load(tmp_path / "c" / STATE_FILE, weights_only=True)
    weights = [v.shape for k, v in state["model"].items() if k.endswith("weight")]
    assert weights == [(24, 784), (16, 24), (12, 16), (10, 12)]


def test_checkpoint_is_plain_data(tmp_path: Path) -> None:
    run({**SMALL, "momentum": 0.5}, make_ctx(tmp_path, until=2))
    directory = tmp_path / "c"
    assert sorted(p.name for p in directory.iterdir()) == [STATE_FILE]  # no temp file left
    state = torch.load(directory / STATE_FILE, weights_only=True)
    assert (state["iteration"], state["epoch"], state["offset"], state["step"]) == (32, 1, 512, 2)
    assert state["optimizer_name"] == "sgd" and state["hidden"] == [32, 32]
    assert state["optimizer"]["state"]  # momentum buffers travel with the checkpoint


def test_creates_the_checkpoint_directory(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, until=1)
    ctx.checkpoint_out = str(tmp_path / "not" / "yet")
    result = run_segment(OBJECTIVE, SMALL, ctx)
    assert result.status == "ok", result.error
    assert result.checkpoint == ctx.checkpoint_out
    assert (tmp_path / "not" / "yet" / STATE_FILE).is_file()


def test_seeds_differ_and_repeat(tmp_path: Path) -> None:
    a = run(SMALL, make_ctx(tmp_path, "a", until=1, seed=3))
    b = run(SMALL, make_ctx(tmp_path, "b", until=1, seed=3))
    c = run(SMALL, make_ctx(tmp_path, "c", until=1, seed=4))
    assert a == b
    assert a != c


def test_global_torch_random_state_is_untouched(tmp_path: Path) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(SMALL, make_ctx(tmp_path, until=1))
    assert torch.equal(torch.rand(3), expected)


def test_changed_lr_applies_after_resume(tmp_path: Path) -> None:
    run(SMALL, make_ctx(tmp_path, "one", until=1))
    resumed = run(
        {**SMALL, "lr": 0.01},
        make_ctx(tmp_path, "two", start=1, until=2, checkpoint_in=str(tmp_path / "one")),
    )
    assert resumed[0].metrics["lr"] == 0.01


def test_other_architecture_in_checkpoint_is_refused(tmp_path: Path) -> None:
    run(SMALL, make_ctx(tmp_path, "one", until=1))
    ctx = make_ctx(tmp_path, "two", start=1, until=2, checkpoint_in=str(tmp_path / "one"))
    with pytest.raises(ValueError, match="hidden"):
        train({**SMALL, "hidden": 16}, ctx)


class NotAState:
    """Something ``torch.load(weights_only=True)`` must refuse to unpickle."""


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (
            {"model": NotAState()},
            r"not a curvetune MNIST checkpoint torch can load safely \(weights_only=True "
            r"refused it: Unsupported global: GLOBAL [\w.]*NotAState was not an allowed "
            r"global by default\)",
        ),
        (
            b"garbage",
            r"not a curvetune MNIST checkpoint torch can load safely \(weights_only=True "
            r"refused it: .+\)",
        ),
        (b"", r"torch cannot read it \(the file is empty\)"),
        ([1, 2], r"not a curvetune MNIST checkpoint \(it holds a list, not a dict\)"),
        ({"arch": "mlp"}, r"not a curvetune MNIST checkpoint \(no 'hidden' entry\)"),
    ],
)
def test_an_unreadable_checkpoint_names_its_path(
    tmp_path: Path, content: object, pattern: str
) -> None:
    directory = tmp_path / "foreign"
    directory.mkdir()
    path = directory / STATE_FILE
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    ctx = make_ctx(tmp_path, "next", start=1, until=2, checkpoint_in=str(directory))
    result = run_segment(OBJECTIVE, SMALL, ctx)
    assert result.status == "error"
    last = result.error.strip().splitlines()[-1]
    assert re.fullmatch(f"ValueError: checkpoint {re.escape(str(path))}: {pattern}", last), last


def test_start_without_checkpoint_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no checkpoint"):
        train(SMALL, make_ctx(tmp_path, start=1, until=2))


def test_idx_directory_as_data_source(tmp_path: Path) -> None:
    directory = tmp_path / "mnist"
    directory.mkdir()
    rng = np.random.default_rng(0)
    for name, shape in [
        ("train-images-idx3-ubyte", (64, 28, 28)),
        ("train-labels-idx1-ubyte", (64,)),
        ("t10k-images-idx3-ubyte", (16, 28, 28)),
        ("t10k-labels-idx1-ubyte", (16,)),
    ]:
        values = rng.integers(0, 256 if len(shape) == 3 else 10, size=shape, dtype=np.uint8)
        header = bytes([0, 0, 0x08, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)
        (directory / name).write_bytes(header + values.tobytes())
    config = {"data": f"idx:{directory}", "hidden": 8, "device": "cpu"}
    reports = run(config, make_ctx(tmp_path, until=1))
    assert reports[0].metrics["iteration"] == 2  # 64 examples, batches of 32


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("hiden", "unknown config key 'hiden' (did you mean 'hidden'?); the MNIST trainable "),
        ("momentun", "unknown config key 'momentun' (did you mean 'momentum'?)"),
        ("note", "unknown config key 'note'; the MNIST trainable takes arch, hidden, "),
    ],
)
def test_unknown_keys_are_refused(tmp_path: Path, key: str, message: str) -> None:
    config = {**SMALL, key: 64}
    with pytest.raises(ValueError, match="^" + re.escape(message)) as info:
        check_config(config)
    assert "\n" not in str(info.value)
    assert "decay_every" in str(info.value)  # the schedule's keys are listed too
    result = run_segment(OBJECTIVE, config, make_ctx(tmp_path, until=1))
    assert result.status == "error" and message in result.error


def test_unknown_keys_in_a_study_are_refused() -> None:
    space = Space({"lr": Float(0.01, 0.1), "momentun": Float(0.0, 0.9)})
    with pytest.raises(ValueError, match=r"unknown config key 'momentun' .*'momentum'"):
        train.check_study({"arch": "mlp"}, space)
    with pytest.raises(ValueError, match="unknown config key 'hiden'"):
        train.check_study({"hiden": 64}, Space({"lr": Float(0.01, 0.1)}))
    train.check_study({"hidden": 64}, space=Space({"momentum": Float(0.0, 0.9)}))


def test_every_key_has_one_list() -> None:
    assert set(DEFAULTS) <= set(KEYS) and len(set(KEYS)) == len(KEYS)
    assert {"schedule", "decay", "gamma", "lr_schedule"} <= set(KEYS)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("arch", "rnn"),
        ("optimizer", "rmsprop"),
        ("lr", -0.1),
        ("lr", 0),
        ("lr", "fast"),
        ("lr", float("nan")),
        ("momentum", 1.0),
        ("momentum", -0.5),
        ("weight_decay", -1e-3),
        ("batch_size", 0),
        ("batch_size", 2.5),
        ("batch_size", True),
        ("hidden", 0),
        ("hidden", [64, 0]),
        ("hidden", "wide"),
        ("iters_per_step", 0),
        ("report_every", -5),
        ("max_train", "all"),
        ("device", "tpu"),
        ("data", ""),
    ],
)
def test_bad_config_values_name_the_key(tmp_path: Path, key: str, value: Any) -> None:
    with pytest.raises(ValueError, match=key):
        train({**SMALL, key: value}, make_ctx(tmp_path, until=1))


def test_integral_floats_and_numpy_numbers_are_accepted(tmp_path: Path) -> None:
    config = {**SMALL, "batch_size": 64.0, "lr": np.float64(0.05), "hidden": np.int64(16)}
    assert len(run(config, make_ctx(tmp_path, until=1))) == 1


def test_lr_at_is_the_configured_rate() -> None:
    assert lr_at({"lr": 0.2}, 0) == 0.2
    assert lr_at({"lr": 0.2}, 10_000) == 0.2
    assert lr_at({}, 5) == 0.05


def test_epoch_permutation_depends_on_seed_and_epoch_only() -> None:
    a = epoch_permutation(1, 0, 100)
    assert sorted(a.tolist()) == list(range(100))
    np.testing.assert_array_equal(a, epoch_permutation(1, 0, 100))
    assert not np.array_equal(a, epoch_permutation(1, 1, 100))
    assert not np.array_equal(a, epoch_permutation(2, 0, 100))
