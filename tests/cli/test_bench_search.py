"""``curvetune bench search``: a tiny table end to end, one line and exit 2 for bad input,
and one short run on the YAHPO surrogate where its folder is present."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import one_error_line

from curvetune.bench import oracles
from curvetune.cli import main

ROOT = Path(__file__).resolve().parents[2]
SURROGATE = ROOT / "benchmarks" / "yahpo-lcbench"
OUTPUTS = ("results.json", "results.md", "anytime-mean.png", "anytime-tasks.png")


def write_table(path: Path, rows: int = 12, epochs: int = 4) -> Path:
    rng = np.random.default_rng(0)
    configs = [{"lr": float(10 ** rng.uniform(-4, -1)), "depth": int(rng.integers(1, 5))}
               for _ in range(rows)]  # fmt: skip
    finals = np.asarray([0.9 - 0.05 * (np.log10(c["lr"]) + 2.5) ** 2 for c in configs])
    accuracy = np.outer(finals, np.linspace(0.4, 1.0, epochs))
    np.savez_compressed(
        path,
        val_accuracy=accuracy,
        val_loss=1.0 - accuracy,
        epoch_seconds=np.ones_like(accuracy),
        configs=json.dumps(configs),
        meta=json.dumps({"name": "tiny-search"}),
    )
    return path


def test_search_on_a_table_writes_the_results(tmp_path, capsys):
    table = write_table(tmp_path / "tiny.npz")
    out = tmp_path / "out"
    argv = ["bench", "search", "--table", str(table), "--searchers", "random,tpe",
            "--schedulers", "fifo,lcm", "--seeds", "1", "--budget", "3", "--workers", "2",
            "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    combos = results["tasks"]["tiny-search"]["combos"]
    assert set(combos) == {"random+fifo", "random+lcm", "tpe+fifo", "tpe+lcm"}
    assert set(combos["tpe+lcm"]["regret_at_budget"]) == {"3"}
    assert results["settings"]["sources"] == ["table:tiny.npz"]
    assert "beats_random+lcm_at_20" in results["claims"]["combinations"]["tpe+lcm"]
    assert "| combination |" in (out / "results.md").read_text()
    printed = capsys.readouterr().out
    assert "4 combination(s)" in printed and "wrote" in printed


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--seeds", "0"], "--seeds must be a whole number >= 1"),
        (["--budget", "0"], "--budget must be a whole number >= 1"),
        (["--jobs", "0"], "--jobs must be a whole number >= 1"),
        (["--searchers", "bogus"], "unknown searcher 'bogus'"),
        (["--searchers", "tpe[bogus]"], "stopped must be one of"),
        (["--schedulers", "bogus"], "unknown scheduler 'bogus'"),
        (["--extra", "tpe"], "expected SEARCHER+SCHEDULER"),
        (["--peers", "bogus"], "unknown peer 'bogus'"),
        (["--task", "3945"], "--task goes with --surrogate, not with --table"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, extra, expected):
    table = write_table(tmp_path / "tiny.npz")
    argv = ["bench", "search", "--table", str(table), "--searchers", "random",
            "--schedulers", "fifo", "--seeds", "1", "--budget", "2",
            "--out", str(tmp_path / "out"), "--quiet", *extra]  # fmt: skip
    assert main(argv) == 2
    assert expected in one_error_line(capsys)
    assert not (tmp_path / "out").exists()


def small(tmp_path, *where):
    """A one-seed random+fifo search over ``where`` (``--table F`` or ``--surrogate D``)."""
    return ["bench", "search", *where, "--searchers", "random", "--schedulers", "fifo",
            "--seeds", "1", "--out", str(tmp_path / "out"), "--quiet"]  # fmt: skip


def test_a_missing_table_is_one_line_and_exit_2(tmp_path, capsys):
    missing = tmp_path / "missing.npz"
    assert main(small(tmp_path, "--table", str(missing))) == 2
    line = one_error_line(capsys)
    assert "missing.npz" in line and "no such curve table" in line


def test_a_table_without_configs_is_one_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "bare.npz"
    accuracy = np.full((3, 4), 0.5)
    np.savez_compressed(path, val_accuracy=accuracy, val_loss=accuracy,
                        epoch_seconds=np.ones_like(accuracy))  # fmt: skip
    assert main(small(tmp_path, "--table", str(path))) == 2
    assert "lists no configs" in one_error_line(capsys)


def test_a_wrong_surrogate_folder_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(small(tmp_path, "--surrogate", str(tmp_path / "nowhere"))) == 2
    line = one_error_line(capsys)
    assert "nowhere" in line and "model.onnx" in line


needs_surrogate = pytest.mark.skipif(
    not (SURROGATE / "model.onnx").is_file() or importlib.util.find_spec("onnxruntime") is None,
    reason="benchmarks/yahpo-lcbench/model.onnx or onnxruntime missing",
)


@needs_surrogate
def test_an_unknown_surrogate_task_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(small(tmp_path, "--surrogate", str(SURROGATE), "--task", "999")) == 2
    line = one_error_line(capsys)
    assert "unknown task '999'" in line and "3945" in line


@needs_surrogate
def test_search_on_the_surrogate_with_optuna_peers(tmp_path, monkeypatch):
    monkeypatch.setattr(oracles, "REFERENCE_CONFIGS", 64)  # 2,000 takes seconds; fine here
    out = tmp_path / "out"
    argv = ["bench", "search", "--surrogate", str(SURROGATE), "--task", "3945",
            "--searchers", "random", "--schedulers", "fifo", "--peers", "optuna",
            "--seeds", "1", "--budget", "2", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    combos = results["tasks"]["yahpo-3945"]["combos"]
    assert "random+fifo" in combos
    assert {"optuna-tpe+hyperband", "optuna-tpe+median", "optuna-random+none"} <= set(combos)
    assert results["settings"]["sources"] == ["surrogate:3945"]
    for name in OUTPUTS:
        assert (out / name).is_file(), name
