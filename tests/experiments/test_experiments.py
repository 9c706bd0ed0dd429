"""The ``curvetune experiment`` pipelines, run in their ``--quick`` form through the CLI."""

from __future__ import annotations

import json

import pytest

from curvetune.cli import main
from curvetune.experiments import log_spaced, mean_std
from curvetune.experiments.dynamic_lr import make_plan, summarise


@pytest.fixture
def one_thread(monkeypatch):
    """Train with one torch thread (fast on a busy machine), restoring the count after."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    monkeypatch.setenv("CURVETUNE_THREADS", "1")
    yield
    torch.set_num_threads(before)


def _figures_ok(out, document):
    for name in document["figures"].values():
        path = out / name
        assert path.suffix == ".png" and path.stat().st_size > 5000, path


def test_log_spaced_and_mean_std():
    assert log_spaced(0.005, 0.5, 6)[0] == 0.005 and log_spaced(0.005, 0.5, 6)[-1] == 0.5
    assert len(log_spaced(0.005, 0.5, 6)) == 6
    assert mean_std([1.0, None, 3.0]) == {"mean": 2.0, "std": 1.0, "n": 2}
    assert mean_std([None])["mean"] is None


def test_dynamic_lr_summary_picks_best_mean():
    runs = [
        {"schedule": "constant", "lr0": 0.1, "final_accuracy": 0.8},
        {"schedule": "constant", "lr0": 0.01, "final_accuracy": 0.7},
        {"schedule": "step", "lr0": 0.1, "final_accuracy": 0.85},
        {"schedule": "step", "lr0": 0.01, "final_accuracy": None},  # diverged
    ]
    summary = summarise(runs, [0.01, 0.1])
    assert summary["best_static"]["lr0"] == 0.1
    assert summary["best_step_decay"]["mean"] == 0.85
    assert summary["decay_beat_static"] is True
    assert make_plan().setup.total_iterations == 3000


@pytest.mark.slow
def test_dynamic_lr_quick(tmp_path, one_thread):
    out = tmp_path / "dyn"
    assert main(["experiment", "dynamic-lr", "--quick", "--out", str(out)]) == 0
    document = json.loads((out / "results.json").read_text())
    assert set(document) >= {"setup", "lrs", "seeds", "summary", "figures", "runs"}
    assert len(document["runs"]) == 2 * 2
    run = document["runs"][0]
    assert set(run) >= {"lr0", "schedule", "seed", "iteration", "lr", "val_accuracy"}
    assert run["iteration"] == [10, 20, 30]
    assert set(document["summary"]) >= {"best_static", "best_step_decay", "decay_beat_static"}
    decayed = [r for r in document["runs"] if r["schedule"] == "step"]
    assert all(r["lr"][-1] < r["lr0"] for r in decayed)
    assert len(document["figures"]) == 3
    _figures_ok(out, document)


@pytest.mark.slow
def test_pbt_lr_quick(tmp_path, one_thread):
    out = tmp_path / "pbt"
    assert main(["experiment", "pbt-lr", "--quick", "--out", str(out)]) == 0
    document = json.loads((out / "results.json").read_text())
    assert document["population"] == 4
    assert document["total_iterations_per_method"] == 4 * 2 * 10
    summary = document["summary"]
    assert set(summary["best_final_accuracy"]) == {"pbt", "random", "step_decay"}
    assert 0 <= summary["pbt_clone_share"]["mean"] <= 1
    seed = document["per_seed"][0]
    assert len(seed["pbt"]["members"]) == len(seed["random"]) == len(seed["step_decay"]) == 4
    assert seed["pbt"]["timing"]["wall_seconds"] > 0
    points = seed["pbt"]["lineage"]["points"]
    assert points and points[0][0] == 0
    replay = seed["replay"]
    assert replay["lr_schedule"] == {"type": "piecewise", "points": points}
    assert replay["final_accuracy"] is not None and replay["member_final_accuracy"] is not None
    _figures_ok(out, document)


def test_experiment_rejects_bad_seeds(tmp_path, capsys):
    argv = ["experiment", "pbt-lr", "--quick", "--seeds", "0", "--out", str(tmp_path)]
    assert main(argv) == 2
    assert "--seeds" in capsys.readouterr().err


@pytest.mark.parametrize("module", ["dynamic_lr", "pbt_lr"])
def test_make_plan_takes_workers_for_the_executor(module):
    import importlib

    make = importlib.import_module(f"curvetune.experiments.{module}").make_plan
    assert make().setup.workers == 2 and make(workers=None) == make()  # today's default
    full = make(workers=6).setup
    assert (full.executor, full.workers) == ("local", 6)
    assert (make(quick=True).setup.executor, make(quick=True).setup.workers) == ("sequential", 1)
    assert make(quick=True, workers=1).setup.executor == "sequential"
    quick = make(quick=True, workers=3).setup  # more than one at once needs processes
    assert (quick.executor, quick.workers, quick.iters_per_step) == ("local", 3, 10)
    for bad in (0, -2, 1.5, True, "2"):
        with pytest.raises(ValueError, match=r"^workers must be a whole number >= 1") as info:
            make(workers=bad)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("module", ["dynamic_lr", "pbt_lr"])
def test_the_studies_run_on_the_planned_workers(module, tmp_path, monkeypatch):
    import importlib

    from curvetune.study import Study

    class Stopped(Exception):
        """Raised in place of training."""

    experiment = importlib.import_module(f"curvetune.experiments.{module}")
    seen = []

    def optimize(self, **options):
        seen.append((options["executor"], options["workers"]))
        raise Stopped

    monkeypatch.setattr(Study, "optimize", optimize)
    monkeypatch.setenv("CURVETUNE_THREADS", "1")  # run_experiment pins it for "local"
    plan = experiment.make_plan(quick=True, workers=3)
    with pytest.raises(Stopped):
        experiment.run_experiment(tmp_path, plan, log=lambda line: None)
    assert seen == [("local", 3)]


@pytest.mark.slow
def test_pbt_lr_batched_gives_the_verdicts_of_one_member_per_segment(tmp_path, one_thread):
    documents = {}
    for executor in ("sequential", "batched"):
        out = tmp_path / executor
        argv = ["experiment", "pbt-lr", "--quick", "--executor", executor, "--out", str(out)]
        assert main(argv) == 0
        documents[executor] = json.loads((out / "results.json").read_text())
    alone, together = (documents[e]["per_seed"][0] for e in ("sequential", "batched"))
    assert together["pbt"]["exploits"] == alone["pbt"]["exploits"]
    for got, want in zip(together["pbt"]["members"], alone["pbt"]["members"], strict=True):
        assert got["val_accuracy"] == pytest.approx(want["val_accuracy"], abs=1e-3)
    best = {e: d["summary"]["best_final_accuracy"] for e, d in documents.items()}
    for method, value in best["sequential"].items():  # PBT, random and step decay alike
        assert best["batched"][method]["mean"] == pytest.approx(value["mean"], abs=1e-3)


def test_a_batched_setup_splits_the_members_over_the_workers():
    from curvetune.executors.batched import BatchedExecutor
    from curvetune.experiments import Setup, executor_for

    assert Setup().with_executor(None) == Setup()
    with pytest.raises(ValueError, match="executor must be one of local, sequential, batched"):
        Setup().with_executor("ray")
    with executor_for(Setup().with_executor("batched"), 16) as executor:
        assert isinstance(executor, BatchedExecutor)
        assert (executor.batch, executor.workers) == (8, 16)
    with executor_for(Setup(), 16) as executor:
        assert executor == "local"
