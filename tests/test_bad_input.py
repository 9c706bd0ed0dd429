"""The first hour: a typo anywhere (objective, metric, a flag) gets one line and exit 2, a
fixed typo reruns in the same directory, a user's own module imports as under ``python -m``,
a study where every trial failed says so and exits non-zero, SIGTERM is Ctrl-C."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import one_error_line
from test_cli import write_study

from curvetune.cli import build_parser, main
from curvetune.space import Float
from curvetune.study import Study


def test_a_typo_in_the_objective_leaves_the_directory_usable(tmp_path, capsys):
    path, directory = write_study(tmp_path)
    good = path.read_text()
    path.write_text(good.replace("curvetune.testing:synthetic", "curvetune.testin:synthetic"))
    assert main(["run", str(path), "--quiet"]) == 2
    assert "curvetune.testin" in one_error_line(capsys)
    path.write_text(good)
    assert main(["run", str(path), "--quiet"]) == 0
    assert len(Study.load(directory).history) == 4


def test_a_study_without_results_takes_a_corrected_description(make_study, tmp_path):
    make_study()  # described and stored, nothing trained
    fixed = Study.create(
        objective="curvetune.testing:synthetic",
        space={"x": Float(0.0, 2.0)},
        metric="accuracy",
        max_steps=4,
        directory=tmp_path / "study",
    )
    assert fixed.store.spec()["space"] == fixed.spec.space.to_json()
    fixed.optimize(trials=2, executor="sequential", progress=False)
    with pytest.raises(ValueError, match="has results; use a new directory"):
        make_study()


def test_a_metric_typo_stops_at_the_first_segment_then_reruns_fixed(tmp_path, capsys):
    path, directory = write_study(tmp_path)
    good = path.read_text()
    path.write_text(good.replace('metric = "accuracy"', 'metric = "acc"'))
    assert main(["run", str(path), "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "'acc'" in line and "'accuracy'" in line and "'loss'" in line
    assert "did you mean 'accuracy'?" in line
    path.write_text(good)
    assert main(["run", str(path), "--quiet"]) == 0
    assert Study.load(directory).history.best() is not None


def test_every_trial_failed_is_a_summary_and_a_non_zero_exit(tmp_path, capsys):
    path, _ = write_study(tmp_path)
    path.write_text(path.read_text().replace("[fixed]\n", "[fixed]\nfail_above = -1.0\n"))
    assert main(["run", str(path), "--quiet"]) == 1
    captured = capsys.readouterr()
    assert "4 failed" in captured.out
    assert "no trial completed; first failed: trial #0: ValueError" in captured.err


@pytest.mark.parametrize(
    ("flag", "value"), [("--trials", "0"), ("--workers", "0"), ("--segment-timeout", "0")]
)
def test_zero_on_the_command_line_is_refused_not_ignored(tmp_path, capsys, flag, value):
    path, directory = write_study(tmp_path)
    assert main(["run", str(path), "--quiet", flag, value]) == 2
    assert flag in one_error_line(capsys)
    assert not directory.exists()


def test_a_module_beside_the_study_file_imports_in_process(tmp_path, monkeypatch, capsys):
    project = tmp_path / "project"
    project.mkdir()
    (project / "myproj_inline.py").write_text("from curvetune.testing import synthetic as train\n")
    path, directory = write_study(tmp_path)
    study_file = project / "study.toml"
    study_file.write_text(
        path.read_text().replace("curvetune.testing:synthetic", "myproj_inline:train")
    )
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("PYTHONPATH", "")
    monkeypatch.chdir(tmp_path)  # not the module's folder: the study file's folder counts
    assert main(["run", str(study_file), "--quiet"]) == 0
    assert len(Study.load(directory).history) == 4


@pytest.mark.slow
def test_a_module_in_the_current_directory_imports_under_the_console_script(tmp_path):
    """``curvetune run`` (the console script, not ``python -m``) with local workers."""
    (tmp_path / "myproj.py").write_text("from curvetune.testing import synthetic as train\n")
    path, directory = write_study(tmp_path, executor="local")
    path.write_text(path.read_text().replace("curvetune.testing:synthetic", "myproj:train"))
    script = Path(sys.executable).parent / "curvetune"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(script), "run", path.name, "--quiet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    history = Study.load(directory).history
    assert len(history) == 4 and history.best() is not None


@pytest.mark.slow
def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    path, directory = write_study(tmp_path, trials=4, steps=4, sleep=0.2, executor="local")
    command = [sys.executable, "-m", "curvetune", "run", str(path), "--quiet"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (directory / "checkpoints").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "run the same command again" in out
    assert "Traceback" not in err
    assert subprocess.run(command, capture_output=True, timeout=120).returncode == 0
    assert len(Study.load(directory).history) == 4


def test_best_names_the_checkpoint_to_load(tmp_path, capsys):
    path, directory = write_study(tmp_path)
    assert main(["run", str(path), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["best", str(directory)]) == 0
    best = json.loads(capsys.readouterr().out)
    checkpoint = Path(best["checkpoint"])
    assert checkpoint == directory / "checkpoints" / str(best["trial"]) / "3"
    assert (checkpoint / "state.json").is_file()


def test_version_and_help_for_every_argument(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("curvetune ")
    missing = []

    def walk(parser, prefix):
        for action in parser._actions:
            if action.dest == "help":
                continue
            if getattr(action, "choices", None) and hasattr(action, "_name_parser_map"):
                for name, sub in action.choices.items():
                    walk(sub, f"{prefix} {name}")
                continue
            if not action.help:
                missing.append(f"{prefix} {action.dest}")

    walk(build_parser(), "curvetune")
    assert not missing, missing


def test_experiment_takes_workers_and_refuses_zero(capsys):
    assert main(["experiment", "pbt-lr", "--quick", "--workers", "0"]) == 2
    assert "--workers" in one_error_line(capsys)
