"""``benchmarks/make_tables.py`` on a tiny setting: the tables it writes have the format of
``../shared/benchmarks/curves/README.md``, the bench's loader reads them, and an interrupted
run resumes where it stopped."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from curvetune.bench.stopping import table_paths
from curvetune.bench.tables import load_table

pytest.importorskip("torch")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "make_tables.py"
NAMES = ("project-mnist-mlp", "project-mnist-cnn", "project-synthetic")
META_KEYS = {
    "name",
    "source",
    "license",
    "n_configs",
    "n_epochs",
    "metrics",
    "surrogate",
    "sampling",
    "postprocessing",
}
TINY = ["--configs", "3", "--epochs", "2", "--train", "96", "--val", "64"]


@pytest.fixture(scope="module")
def make_tables():
    spec = importlib.util.spec_from_file_location("make_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def tables(make_tables, tmp_path_factory):
    """The three tiny tables; torch's thread count is restored for the tests after these."""
    import torch

    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("tables")
    try:
        assert make_tables.main([*TINY, "--out", str(out)]) == 0
        torch.set_num_threads(1)  # the resume test compares with these, on one thread too
        yield out
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("name", NAMES)
def test_format(tables, name):
    with np.load(tables / f"{name}.npz", allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    for key in ("val_accuracy", "val_loss", "epoch_seconds", "train_loss"):
        assert arrays[key].dtype == np.float32 and arrays[key].shape == (3, 2), key
        assert np.isfinite(arrays[key]).all(), key
    acc = arrays["val_accuracy"]
    assert ((acc >= 0) & (acc <= 1)).all()
    assert (arrays["val_loss"] >= 0).all() and (arrays["epoch_seconds"] > 0).all()
    assert arrays["configs"].shape == () and arrays["meta"].shape == ()
    configs = json.loads(str(arrays["configs"]))
    meta = json.loads(str(arrays["meta"]))
    assert len(configs) == 3 and all("lr" in c and "schedule" in c for c in configs)
    assert set(meta) >= META_KEYS
    assert meta["name"] == name and meta["surrogate"] is False
    assert (meta["n_configs"], meta["n_epochs"]) == (3, 2)
    assert "seed" in meta["sampling"]

    table = load_table(tables / f"{name}.npz")
    assert table.name == name and table.n_configs == 3 and table.n_epochs == 2
    assert set(table.curves) == {"val_accuracy", "val_loss"}


def test_folder_is_a_bench_input(tables):
    """The bench takes the folder; no partial file is left for it to trip over."""
    assert [p.name for p in table_paths([tables])] == sorted(f"{n}.npz" for n in NAMES)
    assert not list(tables.glob("*.partial*"))


def test_mnist_rows_are_trainable_configs(tables, make_tables):
    from curvetune.models.settings import parse_config

    for name in NAMES[:2]:
        table = load_table(tables / f"{name}.npz")
        for config in table.configs:
            parse_config({**table.meta["fixed_hyperparameters"], **config})


def test_resume_after_interruption(make_tables, tables, tmp_path):
    spec = make_tables.SPECS["project-synthetic"]
    sizes = {"configs": 3, "epochs": 2, "train": 96, "val": 64}
    assert make_tables.make_table(spec, tmp_path, stop_after=2, say=lambda _: None, **sizes) is None
    partial = tmp_path / f"{spec.name}.partial.jsonl"
    assert len(partial.read_text().splitlines()) == 1 + 2  # header and two rows
    said = []
    path = make_tables.make_table(spec, tmp_path, say=said.append, **sizes)
    assert "2 done before, 1 to train" in said[0] and not partial.exists()
    resumed, fresh = load_table(path), load_table(tables / f"{spec.name}.npz")
    assert resumed.configs == fresh.configs
    # Training is deterministic on one thread: the resumed table equals the uninterrupted one.
    np.testing.assert_array_equal(resumed.curves["val_accuracy"], fresh.curves["val_accuracy"])


def test_diverged_epochs_are_cleaned(make_tables):
    rows = {
        "acc": [0.5, 0.0],
        "loss": [1.0, float("nan")],
        "train_loss": [1.0, float("inf")],
        "seconds": [0.1, 0.1],
    }
    cleaned, counts = make_tables.clean(rows, classes=10)
    assert cleaned["acc"] == [0.5, 0.1] and cleaned["loss"] == [1.0, make_tables.LOSS_CAP]
    assert cleaned["train_loss"][1] == make_tables.LOSS_CAP
    assert counts == {"diverged_epochs": 1, "clipped_losses": 0}
