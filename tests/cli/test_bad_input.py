"""The first hour: a typo anywhere (objective, metric, a flag) gets one line and exit 2, a
fixed typo reruns in the same directory, a user's own module imports as under ``python -m``,
a study where every trial failed says so and exits non-zero, SIGTERM is Ctrl-C."""

import dataclasses
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import one_error_line, write_study

from curvetune.cli import build_parser, main
from curvetune.executors import Batching
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


# ------------------------------------------------------- one vocabulary for bad options

_NUMERIC = re.compile(r"(int|float|StepSpec)( \| None)?")


def _options(cls) -> list[tuple[str, object, str]]:
    """(option, default, annotation) for each option the class takes."""
    if dataclasses.is_dataclass(cls):
        return [(f.name, f.default, str(f.type)) for f in dataclasses.fields(cls) if f.init]
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return [(p.name, p.default, str(p.annotation)) for p in parameters]


def _registered(kind: str, registry) -> list[tuple[str, str, str, str]]:
    """(kind, name, option, annotation) for every registered name and each of its options."""
    found = []
    for name, entry in registry.items():
        cls = entry[0] if isinstance(entry, tuple) else entry
        found += [(kind, name, option, annotation) for option, _, annotation in _options(cls)]
    return found


def _build(kind: str, name: str, **options):
    from curvetune.schedulers import make_scheduler
    from curvetune.searchers import make_searcher

    return (make_scheduler if kind == "scheduler" else make_searcher)(name, **options)


def _every_option():
    from curvetune.schedulers import SCHEDULERS
    from curvetune.searchers import SEARCHERS

    return _registered("scheduler", SCHEDULERS) + _registered("searcher", SEARCHERS)


NUMERIC_OPTIONS = [o for o in _every_option() if _NUMERIC.fullmatch(o[3])]
FLAG_OPTIONS = [o for o in _every_option() if o[3] == "bool"]


def test_the_option_inspection_finds_what_it_should():
    names = {(kind, name) for kind, name, *_ in NUMERIC_OPTIONS}
    from curvetune.schedulers import SCHEDULERS

    assert {name for kind, name in names if kind == "scheduler"} == set(SCHEDULERS)
    assert ("searcher", "grid") in names and ("searcher", "evolution") in names
    options = {(name, option) for _, name, option, _ in NUMERIC_OPTIONS}
    assert {("topk", "k"), ("fifo", "segment"), ("lcm", "threshold")} <= options
    assert {("evolution", "mutation_rate"), ("pbt", "interval")} <= options
    assert len(NUMERIC_OPTIONS) >= 40
    assert {(name, option) for _, name, option, _ in FLAG_OPTIONS} >= {
        ("lcm", "normalize"),
        ("pbt", "synchronous"),
        ("grid", "shuffle"),
    }


def _assert_one_line_naming(error: pytest.ExceptionInfo, name: str, option: str, bad) -> None:
    message = str(error.value)
    assert "\n" not in message, message
    owner, _, rest = message.partition(": ")
    assert name.startswith(owner.split()[0]), message  # "asha10" is built by "asha"
    assert rest.startswith(f"{option} must be "), message
    assert message.endswith(f", got {bad!r}"), message


@pytest.mark.parametrize("bad", [True, False, "x"])
@pytest.mark.parametrize(("kind", "name", "option", "annotation"), NUMERIC_OPTIONS, ids=str)
def test_every_numeric_option_refuses_a_bool_or_a_string(kind, name, option, annotation, bad):
    with pytest.raises(ValueError) as error:
        _build(kind, name, **{option: bad})
    _assert_one_line_naming(error, name, option, bad)


@pytest.mark.parametrize("bad", [1, "yes", None])
@pytest.mark.parametrize(("kind", "name", "option", "annotation"), FLAG_OPTIONS, ids=str)
def test_every_switch_refuses_what_is_not_a_bool(kind, name, option, annotation, bad):
    with pytest.raises(ValueError) as error:
        _build(kind, name, **{option: bad})
    _assert_one_line_naming(error, name, option, bad)


def test_a_bool_for_a_number_in_a_study_file_is_one_line_naming_the_section(tmp_path, capsys):
    path, directory = write_study(tmp_path)
    path.write_text(path.read_text() + '\n[scheduler]\nname = "lcm"\nk = true\n')
    assert main(["run", str(path), "--quiet"]) == 2
    line = one_error_line(capsys)
    assert "[scheduler] lcm: k must be a whole number >= 1, got True" in line
    assert not directory.exists()


# ------------------------------------------------------------------ executor registry


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("ray", {}, "executor: unknown name 'ray'; allowed: local, sequential, mpi, dask, batched"),
        ("local", {"workers": 0}, "executor: workers must be a whole number >= 1, got 0"),
        ("local", {"workers": True}, "executor: workers must be a whole number >= 1, got True"),
        ("local", {"workers": "2"}, "executor: workers must be a whole number >= 1, got '2'"),
        (
            "sequential",
            {"address": "tcp://h:8786"},
            "executor: an address is for the dask executor, not 'sequential'",
        ),
        (
            "batched",
            {"batching": Batching(over="batched")},
            "executor: over must be one of local, sequential, mpi, dask, got 'batched'",
        ),
        (
            "batched",
            {"batching": Batching(device=0)},
            "executor: device must be a non-empty string, got 0",
        ),
        (
            "batched",
            {"batching": Batching(over="sequential"), "address": "tcp://h:8786"},
            "executor: an address is for the dask executor, not 'sequential'",
        ),
    ],
)
def test_executor_registry_refuses_bad_settings_in_one_line(name, options, expected):
    from curvetune.executors import EXECUTORS, check_executor, make_executor

    assert list(EXECUTORS) == ["local", "sequential", "mpi", "dask"]
    for check in (check_executor, make_executor):
        with pytest.raises(ValueError) as error:
            check(name, **options)
        assert str(error.value) == expected


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ('name = "cloud"', "[executor] executor: unknown name 'cloud'; allowed: local,"),
        ("workers = 0", "[executor] executor: workers must be a whole number >= 1, got 0"),
        ("workers = true", "[executor] executor: workers must be a whole number >= 1, got True"),
        ('address = "tcp://h:8786"', "[executor] executor: an address is for the dask executor"),
    ],
)
def test_executor_settings_in_a_study_file_follow_the_registry(tmp_path, capsys, setting, expected):
    path, directory = write_study(tmp_path)
    text = path.read_text().replace("workers = 2\n", "")
    key = setting.split(" = ")[0]
    if key == "name":
        text = text.replace('name = "sequential"', setting)
    else:
        text += setting + "\n"
    path.write_text(text)
    assert main(["run", str(path), "--quiet"]) == 2
    assert expected in one_error_line(capsys)
    assert not directory.exists()


def test_a_study_file_builds_its_searcher_and_scheduler_once(tmp_path, monkeypatch):
    """The parse builds them (that is the check); the run uses those very objects."""
    import curvetune.config as config
    import curvetune.study as study_module
    from curvetune.schedulers import ASHAScheduler
    from curvetune.searchers import GridSearcher

    path, _ = write_study(tmp_path)
    path.write_text(
        path.read_text() + '\n[searcher]\nname = "grid"\npoints = 2\n\n[scheduler]\nname = "asha"\n'
    )
    built = []
    for name in ("make_searcher", "make_scheduler"):
        real = getattr(config, name)
        monkeypatch.setattr(
            config, name, lambda *a, _real=real, **k: built.append(a) or _real(*a, **k)
        )
    plan = config.load_study_file(path)
    assert isinstance(plan.searcher, GridSearcher) and plan.searcher.points == 2
    assert isinstance(plan.scheduler, ASHAScheduler)
    assert (plan.searcher_name, plan.scheduler_name) == ("grid", "asha")
    assert dict(plan.searcher_options) == {"points": 2}
    assert len(built) == 2
    used = {}
    real_optimize = study_module.Study.optimize

    def optimize(self, **kwargs):
        used.update(kwargs)
        return real_optimize(self, **kwargs)

    monkeypatch.setattr(study_module.Study, "optimize", optimize)
    monkeypatch.setattr(config, "load_study_file", lambda _path: plan)
    assert main(["run", str(path), "--quiet"]) == 0
    assert used["searcher"] is plan.searcher and used["scheduler"] is plan.scheduler
    assert len(built) == 2  # nothing built again
