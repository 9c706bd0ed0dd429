"""The batched MNIST entry: a population trained in one pass agrees with one-member runs."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from curvetune.batching import Batched, run_batch
from curvetune.models.batch_rules import batch_key
from curvetune.models.mnist import STATE_FILE, train
from curvetune.models.population import train_batch
from curvetune.types import Report
from curvetune.worker import SegmentContext

SMALL: dict[str, Any] = {"max_train": 256, "hidden": 32, "device": "cpu"}  # 8 iterations/epoch
VAL_COUNT = 2000  # the bundled validation digits


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def context(
    tmp_path: Path,
    name: str,
    seed: int,
    *,
    start: int = 0,
    until: int = 2,
    checkpoint_in: Path | None = None,
) -> SegmentContext:
    """A context saving into ``tmp_path/name`` (the objective creates the directory)."""
    return SegmentContext(
        trial_id=seed,
        seed=seed,
        start=start,
        until=until,
        checkpoint_in=None if checkpoint_in is None else str(checkpoint_in),
        checkpoint_out=str(tmp_path / name),
    )


def one_member(config: dict[str, Any], ctx: SegmentContext) -> list[Report]:
    train(config, ctx)
    return ctx.reports


def assert_same_curve(batched: list[Report], alone: list[Report], rel: float = 1e-4) -> None:
    """Equal steps, keys, iterations and rates; losses within ``rel`` relative; accuracy
    within one validation example."""
    assert [r.step for r in batched] == [r.step for r in alone]
    for got, want in zip(batched, alone, strict=True):
        assert got.metrics.keys() == want.metrics.keys()
        assert got.metrics["iteration"] == want.metrics["iteration"]
        assert got.metrics["lr"] == pytest.approx(want.metrics["lr"], rel=1e-12)
        for name in ("val_loss", "train_loss"):
            assert got.metrics[name] == pytest.approx(want.metrics[name], rel=rel), name
        accuracy = abs(got.metrics["val_accuracy"] - want.metrics["val_accuracy"])
        assert accuracy <= 1.5 / VAL_COUNT


STEP = {"schedule": "step", "decay": 0.5, "decay_every": 5}
POPULATIONS = {
    "mlp-sgd": [  # momentum, weight decay and a step schedule; reports inside a step too
        {**SMALL, "report_every": 5, "lr": 0.05, "momentum": 0.9, "weight_decay": 1e-3, **STEP},
        {**SMALL, "report_every": 5, "lr": 0.1},
        {**SMALL, "report_every": 5, "lr": 0.02, "momentum": 0.5, "weight_decay": 1e-2},
    ],
    "mlp-adam": [  # steps of 5 iterations cross the 8-iteration epochs
        {**SMALL, "optimizer": "adam", "iters_per_step": 5, "lr": 1e-3},
        {**SMALL, "optimizer": "adam", "iters_per_step": 5, "lr": 3e-3, "weight_decay": 1e-2},
    ],
    "cnn": [
        {**SMALL, "arch": "cnn", "max_train": 128, "lr": 0.05},
        {**SMALL, "arch": "cnn", "max_train": 128, "lr": 0.1, "momentum": 0.9},
    ],
}


@pytest.mark.parametrize("name", list(POPULATIONS))
def test_batched_training_agrees_with_one_member_training(tmp_path: Path, name: str) -> None:
    configs = POPULATIONS[name]
    # The CNN's gradient jumps where max pooling's near-ties flip: its one-member curve itself
    # moves by 1e-3 within a few steps when the weights move by 1e-7. Two short steps.
    until, rel = (2, 1e-3) if name == "cnn" else (3, 2e-6)  # MLPs: about 1.5e-7 measured
    contexts = [context(tmp_path, f"b{i}", seed=i + 1, until=until) for i in range(len(configs))]
    train_batch(configs, contexts, "cpu")
    for i, config in enumerate(configs):
        alone = one_member(config, context(tmp_path, f"a{i}", seed=i + 1, until=until))
        assert len(alone) > until if name == "mlp-sgd" else len(alone) == until
        assert_same_curve(contexts[i].reports, alone, rel)


def test_a_diverging_member_leaves_the_batch_and_changes_no_other(tmp_path: Path) -> None:
    lrs = [0.05, 1e6, 0.1]
    configs = [{**SMALL, "lr": lr, "momentum": 0.9, "report_every": 3} for lr in lrs]
    contexts = [context(tmp_path, f"b{i}", seed=i + 1, until=3) for i in range(3)]
    results = run_batch(train, configs, contexts, "cpu")

    assert [r.status for r in results] == ["ok", "diverged", "ok"]
    assert results[1].checkpoint is None and not (tmp_path / "b1").exists()
    assert not all(math.isfinite(v) for v in results[1].reports[-1].metrics.values())
    assert len(results[1].reports) < len(results[0].reports)
    for i in (0, 2):
        assert results[i].checkpoint == str(tmp_path / f"b{i}")
        assert (tmp_path / f"b{i}" / STATE_FILE).is_file()
        alone = one_member(configs[i], context(tmp_path, f"a{i}", seed=i + 1, until=3))
        assert_same_curve(list(results[i].reports), alone)


def test_a_pass_whose_members_all_diverge_leaves_the_next_pass_alone(tmp_path: Path) -> None:
    # CPU_PASS = 8 members a pass: the first eight all diverge, the ninth trains after them.
    configs = [{**SMALL, "lr": 1e9} for _ in range(8)] + [{**SMALL, "lr": 0.05}]
    contexts = [context(tmp_path, f"b{i}", seed=i + 1) for i in range(9)]
    results = run_batch(train, configs, contexts, "cpu")
    assert [r.status for r in results] == ["diverged"] * 8 + ["ok"]
    alone = one_member(configs[8], context(tmp_path, "a8", seed=9))
    assert_same_curve(list(results[8].reports), alone)


def test_the_cnn_on_a_cpu_trains_its_members_one_after_another_in_the_call(
    tmp_path: Path,
) -> None:
    # Through vmap the CNN was slower on a CPU than alone (0.8x, docs/population.md):
    # the MNIST entry trains its members alone there, with the batch's semantics.
    cnn = {"arch": "cnn", "max_train": 256, "device": "cpu"}
    configs = [{**cnn, "lr": lr} for lr in (0.05, 1e9)]
    contexts = [context(tmp_path, f"b{i}", seed=i + 1, until=1) for i in range(2)]
    results = run_batch(train, configs, contexts, "cpu")
    assert [r.status for r in results] == ["ok", "diverged"]
    alone = one_member(configs[0], context(tmp_path, "a0", seed=1, until=1))
    assert list(results[0].reports) == alone  # the same code path: equal to the bit


def test_a_member_stopped_between_segments_leaves_the_others_unchanged(tmp_path: Path) -> None:
    configs = [
        {**SMALL, "lr": 0.05 * (i + 1), "momentum": 0.3 * i, "weight_decay": 1e-3 * i}
        for i in range(4)
    ]
    first = [context(tmp_path, f"s{i}", seed=i + 1) for i in range(4)]
    train_batch(configs, first, "cpu")
    second = [
        context(tmp_path, f"t{i}", seed=i + 1, start=2, until=4, checkpoint_in=tmp_path / f"s{i}")
        for i in range(3)  # member 3 was stopped
    ]
    train_batch(configs[:3], second, "cpu")
    for i in range(3):
        alone = one_member(configs[i], context(tmp_path, f"a{i}", seed=i + 1, until=4))
        assert_same_curve(first[i].reports + second[i].reports, alone)


def assert_same_checkpoint(batched: Path, alone: Path) -> None:
    """The same entries, optimizer groups and state keys, and close tensors."""
    got = torch.load(batched / STATE_FILE, weights_only=True)
    want = torch.load(alone / STATE_FILE, weights_only=True)
    assert got.keys() == want.keys()
    for key in ("arch", "hidden", "optimizer_name", "iteration", "epoch", "offset", "step"):
        assert got[key] == want[key], key
    assert got["optimizer"]["param_groups"] == want["optimizer"]["param_groups"]
    assert got["optimizer"]["state"].keys() == want["optimizer"]["state"].keys()
    for index, state in want["optimizer"]["state"].items():
        assert got["optimizer"]["state"][index].keys() == state.keys()
        for name, value in state.items():
            torch.testing.assert_close(got["optimizer"]["state"][index][name], value)
    for name, value in want["model"].items():
        torch.testing.assert_close(got["model"][name], value, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_checkpoints_pass_between_batched_and_one_member_training(
    tmp_path: Path, optimizer: str
) -> None:
    configs = [
        {**SMALL, "optimizer": optimizer, "lr": 0.01, "momentum": 0.9},
        {**SMALL, "optimizer": optimizer, "lr": 0.003, "weight_decay": 1e-2},
    ]
    alone = [
        one_member(c, context(tmp_path, f"a{i}", i + 1, until=4)) for i, c in enumerate(configs)
    ]

    # Batched 0 -> 2, then member by member 2 -> 4.
    batched = [context(tmp_path, f"b{i}", seed=i + 1) for i in range(2)]
    train_batch(configs, batched, "cpu")
    for i, config in enumerate(configs):
        one_member(config, ctx := context(tmp_path, f"h{i}", i + 1, until=2))
        assert_same_checkpoint(tmp_path / f"b{i}", tmp_path / f"h{i}")
        resumed = context(
            tmp_path, f"c{i}", i + 1, start=2, until=4, checkpoint_in=tmp_path / f"b{i}"
        )
        assert_same_curve(batched[i].reports + one_member(config, resumed), alone[i])

        # Member by member 0 -> 2 (``ctx``), then batched 2 -> 4.
        assert_same_curve(ctx.reports, alone[i][:2])
    later = [
        context(tmp_path, f"d{i}", i + 1, start=2, until=4, checkpoint_in=tmp_path / f"h{i}")
        for i in range(2)
    ]
    train_batch(configs, later, "cpu")
    for i in range(2):
        assert_same_curve(alone[i][:2] + later[i].reports, alone[i])


def test_members_at_different_positions_train_in_sub_batches(tmp_path: Path) -> None:
    # Checkpoints at step 2 of runs with 5 and 3 iterations per step: iterations 10 and 6.
    made = [{**SMALL, "iters_per_step": 5}, {**SMALL, "iters_per_step": 3, "lr": 0.1}]
    for i, config in enumerate(made):
        one_member(config, context(tmp_path, f"m{i}", seed=i + 1))
    configs = [{**config, "iters_per_step": 4} for config in made]
    batched = [
        context(tmp_path, f"b{i}", i + 1, start=2, until=4, checkpoint_in=tmp_path / f"m{i}")
        for i in range(2)
    ]
    train_batch(configs, batched, "cpu")
    for i, config in enumerate(configs):
        ctx = context(tmp_path, f"a{i}", i + 1, start=2, until=4, checkpoint_in=tmp_path / f"m{i}")
        assert_same_curve(batched[i].reports, one_member(config, ctx))
    assert [r.metrics["iteration"] for r in batched[0].reports] == [14.0, 18.0]
    assert [r.metrics["iteration"] for r in batched[1].reports] == [10.0, 14.0]


def test_batch_key_and_refusals(tmp_path: Path) -> None:
    assert isinstance(train, Batched)
    key = batch_key(SMALL)
    for other in (
        {"lr": 0.3},
        {"momentum": 0.9, "weight_decay": 0.1},
        {**STEP},
        {"schedule": "cosine", "cosine_total": 100},
    ):
        assert batch_key({**SMALL, **other}) == key
    for other in ({"hidden": 64}, {"arch": "cnn"}, {"optimizer": "adam"}, {"batch_size": 16}):
        assert batch_key({**SMALL, **other}) != key

    mixed = [context(tmp_path, "x", 1, until=2), context(tmp_path, "y", 2, until=3)]
    with pytest.raises(ValueError, match="step ranges differ") as error:
        train_batch([SMALL, SMALL], mixed, "cpu")
    assert "\n" not in str(error.value)
    same = [context(tmp_path, "x", 1), context(tmp_path, "y", 2)]
    with pytest.raises(ValueError, match="batch_key") as error:
        train_batch([SMALL, {**SMALL, "hidden": 64}], same, "cpu")
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="no checkpoint"):
        train_batch([SMALL], [context(tmp_path, "z", 1, start=1, until=2)], "cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["mlp-sgd", "cnn"])
def test_on_a_gpu_batched_training_agrees_with_one_member_training(
    tmp_path: Path, name: str
) -> None:
    # The CUDA path: stacked on the device (the CNN through vmap), checkpoints from it,
    # against each member alone on the same device. Looser: GPU kernels round differently.
    configs = [{**config, "device": "cuda"} for config in POPULATIONS[name]]
    contexts = [context(tmp_path, f"b{i}", seed=i + 1, until=2) for i in range(len(configs))]
    results = run_batch(train, configs, contexts, "auto")
    assert all(r.status == "ok" for r in results)
    for i, config in enumerate(configs):
        alone = one_member(config, context(tmp_path, f"a{i}", seed=i + 1, until=2))
        assert_same_curve(list(results[i].reports), alone, rel=1e-3)
        state = torch.load(tmp_path / f"b{i}" / STATE_FILE, weights_only=True, map_location="cpu")
        assert state["step"] == 2
