"""Oracles of the search benchmark: the space a table spans, nearest-unused rows, the
YAHPO LCBench surrogate (skipped where its model or onnxruntime is missing)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from curvetune.bench import oracles
from curvetune.bench.oracles import (
    LCBENCH_SPACE,
    NearestUnused,
    Surrogate,
    SurrogateError,
    SurrogateOracle,
    TableOracle,
    filled,
    table_space,
)
from curvetune.bench.tables import CurveTable, load_table
from curvetune.domains import Choice, Float, Int
from curvetune.types import History, Trial

ROOT = Path(__file__).resolve().parents[2]
SURROGATE = ROOT / "benchmarks" / "yahpo-lcbench"
SHARED_TABLE = ROOT.parent / "shared" / "benchmarks" / "curves" / "lcbench-yahpo-126025.npz"
HAS_SURROGATE = (SURROGATE / "model.onnx").is_file() and (
    importlib.util.find_spec("onnxruntime") is not None
)
needs_surrogate = pytest.mark.skipif(
    not HAS_SURROGATE, reason="benchmarks/yahpo-lcbench/model.onnx or onnxruntime missing"
)


def table_of(configs, finals=None, epochs=3, name="t"):
    n = len(configs)
    finals = np.linspace(0.1, 0.9, n) if finals is None else np.asarray(finals, dtype=float)
    values = np.outer(finals, np.linspace(0.5, 1.0, epochs))
    return CurveTable(name, {"val_accuracy": values, "val_loss": 1 - values}, np.ones_like(values),
                      configs)  # fmt: skip


# ----------------------------------------------------------------------------- table_space


def test_table_space_infers_ints_floats_log_scales_and_choices():
    rng = np.random.default_rng(0)
    configs = [
        {
            "lr": float(10 ** rng.uniform(-5, -1)),  # log-uniform: log
            "frac": float(rng.uniform(0.001, 1.0)),  # positive, spans 1000x, uniform: not log
            "units": int(2 ** rng.uniform(3, 12)),  # log-uniform ints over 512x
            "layers": int(rng.integers(1, 6)),
            "neg": float(rng.uniform(-1.0, 1.0)),
            "opt": str(rng.choice(["adam", "sgd"])),
        }
        for _ in range(200)
    ]
    space = table_space(table_of(configs))
    lr, frac, units, layers = space["lr"], space["frac"], space["units"], space["layers"]
    assert isinstance(lr, Float) and lr.log
    assert lr.low == min(c["lr"] for c in configs) and lr.high == max(c["lr"] for c in configs)
    assert isinstance(frac, Float) and not frac.log
    assert isinstance(units, Int) and units.log
    assert isinstance(layers, Int) and not layers.log and (layers.low, layers.high) == (1, 5)
    assert isinstance(space["neg"], Float) and not space["neg"].log
    assert isinstance(space["opt"], Choice) and set(space["opt"].values) == {"adam", "sgd"}


def test_log_uniform_draws_over_a_32x_range_are_log():
    rng = np.random.default_rng(0)
    configs = [{"batch": int(2 ** rng.uniform(4, 9))} for _ in range(200)]  # 16..512
    assert table_space(table_of(configs))["batch"].log


def test_a_range_under_ten_x_is_not_log_even_when_skewed():
    configs = [{"x": v} for v in (1.0, 1.1, 1.2, 1.3, 9.0)]
    assert not table_space(table_of(configs))["x"].log


def test_list_values_become_json_choices_and_missing_keys_take_the_lowest_value():
    configs = [
        {"widths": [64, 32], "lr": 0.1, "schedule": "cosine"},
        {"widths": [128], "lr": 0.01, "schedule": "step", "gamma": 0.5},
        {"widths": [64, 32], "lr": 0.05, "schedule": "step", "gamma": 0.9},
    ]
    space = table_space(table_of(configs))
    assert isinstance(space["widths"], Choice)
    assert space["widths"].values == (json.dumps([64, 32]), json.dumps([128]))
    assert isinstance(space["gamma"], Float)
    first = filled(space, configs[0])
    assert first["gamma"] == 0.5  # the domain's lowest value
    assert first["widths"] == "[64, 32]"
    assert set(first) == set(space.names)
    assert filled(space, {"lr": 0.1})["schedule"] == "cosine"  # a Choice's first value
    oracle = TableOracle(table_of(configs))
    assert oracle.row_of(first) == 0
    assert oracle.row_of(filled(space, configs[2])) == 2


def test_lcbench_names_give_the_lcbench_space_and_no_configs_is_refused():
    rng = np.random.default_rng(1)
    configs = [LCBENCH_SPACE.sample(rng) for _ in range(5)]
    assert table_space(table_of(configs)) is LCBENCH_SPACE
    with pytest.raises(ValueError, match="lists no configs"):
        table_space(CurveTable("empty", {}, np.ones((2, 2))))


# ----------------------------------------------------------------------------- TableOracle


def grid_oracle():
    configs = [{"x": float(x), "y": float(y)} for x in range(5) for y in range(4)]
    finals = [0.5 + 0.02 * i for i in range(len(configs))]
    return TableOracle(table_of(configs, finals, epochs=4)), configs


def test_resolve_gives_the_nearest_unused_row_and_none_when_all_are_used():
    oracle, configs = grid_oracle()
    assert oracle.resolve({"x": 2.1, "y": 0.9}, set()) == {"x": 2.0, "y": 1.0}
    nearest = oracle.row_of({"x": 2.0, "y": 1.0})
    second = oracle.resolve({"x": 2.1, "y": 0.9}, {nearest})
    assert second != {"x": 2.0, "y": 1.0} and oracle.row_of(second) != nearest
    assert second in ({"x": 3.0, "y": 1.0}, {"x": 2.0, "y": 0.0}, {"x": 2.0, "y": 2.0})
    used: set[int] = set()
    for _ in range(len(configs)):
        row = oracle.row_of(oracle.resolve({"x": 0.0, "y": 0.0}, used))
        assert row not in used
        used.add(row)
    assert used == set(range(len(configs)))
    assert oracle.resolve({"x": 0.0, "y": 0.0}, used) is None


def test_table_oracle_curve_and_reference():
    oracle, configs = grid_oracle()
    values, seconds = oracle.curve(configs[3])
    np.testing.assert_allclose(values, oracle.table.curves["val_accuracy"][3])
    np.testing.assert_allclose(seconds, np.ones(4))
    assert oracle.n_epochs == 4 and oracle.name == "t"
    finals = oracle.table.final("val_accuracy")
    assert oracle.reference() == (pytest.approx(finals.max()), pytest.approx(np.median(finals)))
    assert oracle.reference()[0] == pytest.approx(0.5 + 0.02 * 19)


def test_nearest_unused_moves_proposals_off_tried_rows():
    oracle, configs = grid_oracle()

    class Fixed:
        def suggest(self, space, history, rng):
            return {"x": 0.0, "y": 0.0}

    class Done:
        def suggest(self, space, history, rng):
            return None

    rng = np.random.default_rng(0)
    history = History(metric="val_accuracy", mode="max", max_steps=4)
    searcher = NearestUnused(Fixed(), oracle)
    assert searcher.suggest(oracle.space, history, rng) == {"x": 0.0, "y": 0.0}
    history._put(Trial(id=0, config={"x": 0.0, "y": 0.0}, seed=0))
    moved = searcher.suggest(oracle.space, history, rng)
    assert moved in ({"x": 1.0, "y": 0.0}, {"x": 0.0, "y": 1.0})
    for i, config in enumerate(configs[1:], start=1):
        history._put(Trial(id=i, config=config, seed=i))
    assert searcher.suggest(oracle.space, history, rng) is None  # every row tried
    assert NearestUnused(Done(), oracle).suggest(oracle.space, history, rng) is None


# ----------------------------------------------------------------------------- surrogate


@pytest.fixture(scope="module")
def surrogate():
    if not HAS_SURROGATE:
        pytest.skip("benchmarks/yahpo-lcbench/model.onnx or onnxruntime missing")
    return Surrogate(SURROGATE)


@needs_surrogate
def test_the_surrogate_answers_34_tasks_deterministically(surrogate):
    assert len(surrogate.tasks) == 34 and "3945" in surrogate.tasks
    rng = np.random.default_rng(3)
    configs = [LCBENCH_SPACE.sample(rng) for _ in range(4)]
    accuracy, seconds = surrogate.curves("3945", configs)
    assert accuracy.shape == seconds.shape == (4, 52)
    assert ((accuracy >= 0) & (accuracy <= 1)).all()
    assert (seconds > 0).all()
    again, seconds_again = surrogate.curves("3945", configs)
    np.testing.assert_array_equal(accuracy, again)
    np.testing.assert_array_equal(seconds, seconds_again)
    short, _ = surrogate.curves("3945", configs[:1], epochs=5)
    assert short.shape == (1, 5)


@needs_surrogate
def test_surrogate_oracle_caches_and_names_its_task(surrogate):
    oracle = SurrogateOracle(surrogate, "3945")
    config = LCBENCH_SPACE.sample(np.random.default_rng(0))
    values, seconds = oracle.curve(config)
    assert values.shape == seconds.shape == (52,)
    assert oracle.curve(config)[0] is values
    assert oracle.name == "yahpo-3945"


@needs_surrogate
def test_surrogate_reference_is_best_and_median(surrogate, monkeypatch):
    monkeypatch.setattr(oracles, "REFERENCE_CONFIGS", 40)
    oracle = SurrogateOracle(surrogate, "3945")
    best, median = oracle.reference()
    assert 0 <= median <= best <= 1
    assert oracle.reference() == (best, median)


@needs_surrogate
def test_an_unknown_task_names_the_allowed_ones(surrogate):
    config = LCBENCH_SPACE.sample(np.random.default_rng(0))
    with pytest.raises(SurrogateError, match=r"unknown task '999'.*3945.*126025"):
        surrogate.curves("999", [config])


def test_a_missing_surrogate_folder_names_the_path(tmp_path):
    folder = tmp_path / "no-such-folder"
    with pytest.raises(SurrogateError, match="no-such-folder") as info:
        Surrogate(folder)
    assert "missing" in str(info.value) and "model.onnx" in str(info.value)


@needs_surrogate
def test_a_folder_without_config_space_is_a_surrogate_error(tmp_path):
    for name in ("model.onnx", "encoding.json"):
        (tmp_path / name).symlink_to(SURROGATE / name)
    with pytest.raises(SurrogateError, match=r"config_space\.json: missing"):
        Surrogate(tmp_path)


@needs_surrogate
@pytest.mark.skipif(not SHARED_TABLE.is_file(), reason="shared lcbench-yahpo-126025.npz missing")
def test_the_surrogate_reproduces_the_shared_yahpo_table(surrogate):
    table = load_table(SHARED_TABLE)
    assert table_space(table) is LCBENCH_SPACE
    accuracy, _ = surrogate.curves("126025", table.configs[:3])
    np.testing.assert_allclose(accuracy, table.curves["val_accuracy"][:3], atol=1e-6, rtol=0)


def test_a_repeated_configuration_is_tried_once():
    table = CurveTable(
        name="dupes",
        curves={"val_accuracy": np.tile(np.linspace(0.1, 0.9, 4)[:, None], (1, 3))},
        epoch_seconds=np.ones((4, 3)),
        configs=[{"x": 1.0}, {"x": 1.0}, {"x": 2.0}, {"x": 3.0}],
    )
    oracle = TableOracle(table)
    used: set[int] = set()
    seen = []
    while (config := oracle.resolve({"x": 1.0}, used)) is not None:
        seen.append(config["x"])
        used.add(oracle.row_of(config))
    assert sorted(seen) == [1.0, 2.0, 3.0]


def test_null_and_non_finite_values_count_as_missing():
    table = CurveTable(
        name="gaps",
        curves={"val_accuracy": np.tile(np.linspace(0.1, 0.9, 4)[:, None], (1, 3))},
        epoch_seconds=np.ones((4, 3)),
        configs=[{"x": 1.0, "on": True}, {"x": float("nan"), "on": False},
                 {"x": None, "on": True}, {"x": 3.0}],
    )  # fmt: skip
    oracle = TableOracle(table)
    assert oracle.space["x"] == Float(1.0, 3.0)
    assert oracle.space["on"] == Choice((True, False))
    assert oracle.resolve({"x": 1.0, "on": False}, set()) == {"x": 1.0, "on": False}
