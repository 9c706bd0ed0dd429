"""The example training scripts (``examples/*.py``) run as a user runs them, small: each
leaves a study whose ``curvetune report`` has the sections of an ``optimize()`` study's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_module

from curvetune import Float, Study, TrialState
from curvetune.events import Decided
from curvetune.schedulers import LCMScheduler

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TRIALS, EPOCHS = 8, 4  # with seed 0: trials 3 and 6 (of 8) are stopped by LCM at epoch 1


def run(*command: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, *command], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stderr[-3000:]}"
    return done


def run_example(name: str, directory: Path) -> subprocess.CompletedProcess:
    script = str(EXAMPLES / name)
    return run(script, "--trials", str(TRIALS), "--epochs", str(EPOCHS), "--directory",
               str(directory), cwd=directory.parent)  # fmt: skip


def report(directory: Path) -> str:
    """``curvetune report DIR``; the page it wrote."""
    run("-m", "curvetune", "report", str(directory), cwd=directory.parent)
    return (directory / "report" / "report.html").read_text(encoding="utf-8")


def sections(page: str) -> list[tuple[str, str]]:
    """(id, heading) of every section of a report page, in order."""
    return re.findall(r'<section id="([^"]+)">\n<h2>([^<]+)</h2>', page)


@pytest.fixture(scope="module")
def optimize_sections(tmp_path_factory) -> list[tuple[str, str]]:
    """The sections of the report of a small ``optimize()`` study (stopped trials included)."""
    directory = tmp_path_factory.mktemp("optimize") / "study"
    study = Study.create(
        objective="curvetune.testing:stateless_curve",
        space={"x": Float(0.0, 1.0)},
        metric="accuracy",
        mode="max",
        max_steps=6,
        seed=3,
        directory=directory,
        scheduler=LCMScheduler(min_complete=3),
    )
    study.optimize(trials=10, executor="sequential", progress=False)
    study.close()
    found = sections(report(directory))
    assert len(found) == 7, found
    return found


def check_study(directory: Path) -> Study:
    study = Study.load(directory)
    assert len(study.trials) == TRIALS
    assert all(t.state in (TrialState.COMPLETED, TrialState.STOPPED) for t in study.trials)
    assert all(t.step == EPOCHS for t in study.trials if t.state is TrialState.COMPLETED)
    return study


def lcm_stops(study: Study) -> list[Decided]:
    return [
        e
        for e in study.store.events()
        if isinstance(e, Decided) and e.kind == "Stop" and e.details.get("rule") == "lcm"
    ]


@pytest.mark.slow
def test_pytorch_loop_example(tmp_path, optimize_sections):
    directory = tmp_path / "pytorch-loop"
    out = run_example("pytorch_loop.py", directory).stdout
    assert f"{TRIALS} trials (" in out and f"next: curvetune report {directory}" in out

    study = check_study(directory)
    stops = lcm_stops(study)
    assert len(stops) >= 1, out
    stopped = {t.id for t in study.trials if t.state is TrialState.STOPPED}
    assert {e.trial for e in stops} <= stopped
    assert all(study.history[e.trial].step < EPOCHS for e in stops)
    assert all(study.history[e.trial].reason == e.reason for e in stops)
    study.close()

    page = report(directory)
    assert sections(page) == optimize_sections
    assert "<td>(ask/tell)</td>" in page
    assert 'alt="LCM matches"' in page  # the stopped curves beside their nearest matches
    assert f"{len(stops)} trial(s) stopped early" in page

    again = run_example("pytorch_loop.py", directory).stdout  # rerun: the budget is spent
    assert not [line for line in again.splitlines() if line.startswith("trial ")]
    assert f"{TRIALS} trials (" in again
    assert len(Study.load(directory).trials) == TRIALS


@pytest.mark.slow
def test_lightning_example(tmp_path, optimize_sections):
    require_module("lightning")
    directory = tmp_path / "lightning-mnist"
    out = run_example("lightning_mnist.py", directory).stdout
    assert f"{TRIALS} trials (" in out

    study = check_study(directory)
    assert all(
        [r.step for r in t.reports] == list(range(1, t.step + 1)) for t in study.trials
    )  # one report per epoch: the sanity check reported nothing
    assert lcm_stops(study), out
    study.close()

    assert sections(report(directory)) == optimize_sections


@pytest.mark.slow
def test_optuna_example(tmp_path):
    """An Optuna study with LCMPruner, in SQLite storage: pruned trials say why, and a rerun
    with the same storage resumes it (no new trials once the budget is spent)."""
    require_module("optuna")
    import optuna

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    command = ("--trials", str(TRIALS), "--epochs", str(EPOCHS), "--storage", storage)
    out = run(str(EXAMPLES / "optuna_lcm.py"), *command, cwd=tmp_path).stdout
    assert f"{TRIALS} trials, " in out
    study = optuna.load_study(study_name="curvetune-lcm", storage=storage)
    pruned = [t for t in study.trials if t.state is optuna.trial.TrialState.PRUNED]
    assert pruned, out
    assert all(t.user_attrs["curvetune_stop"]["rule"] == "lcm" for t in pruned)
    run(str(EXAMPLES / "optuna_lcm.py"), *command, cwd=tmp_path)
    assert len(optuna.load_study(study_name="curvetune-lcm", storage=storage).trials) == TRIALS
