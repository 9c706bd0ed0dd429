import pytest

from curvetune.space import Float
from curvetune.study import Study


@pytest.fixture
def make_study(tmp_path):
    """A study of ``curvetune.testing:synthetic`` over ``x`` in [0, 1], on disk by default."""

    def make(*, directory="study", max_steps=4, seed=0, fixed=None, objective=None):
        return Study.create(
            objective=objective or "curvetune.testing:synthetic",
            space={"x": Float(0.0, 1.0)},
            metric="accuracy",
            mode="max",
            max_steps=max_steps,
            seed=seed,
            fixed=fixed or {},
            directory=None if directory is None else tmp_path / directory,
        )

    return make


def require_module(name: str) -> None:
    """Skip a test whose optional engine is missing, except under CI (``CI=true``), where
    ``.ci/run`` installs every engine and a missing one is a failure, not a skip."""
    import importlib.util

    require(
        importlib.util.find_spec(name) is not None,
        f"{name} is not installed (pip install -e '.[test]' brings it)",
    )


def require(ok: bool, message: str) -> None:
    """Skip when ``ok`` is false, except under CI (``CI=true``), where ``.ci/run`` installs
    everything the tests need and a missing piece is a failure, not a skip."""
    import os

    if ok:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)  # inside a test, or over a module


def mpiexec() -> str:
    """The mpiexec beside this Python (the mpich wheel puts it there), else the one on PATH."""
    import shutil
    import sys
    from pathlib import Path

    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.exists() else shutil.which("mpiexec") or "mpiexec"


def one_error_line(capsys) -> str:
    """The one line a command wrote on stderr (no traceback, nothing else)."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "Traceback" not in err[0]
    return err[0]


class Interrupt(KeyboardInterrupt):
    """What Ctrl-C (or a kill) does to a run: raised from the listener after an event."""


def interrupted_after(n_events: int):
    """A study listener that interrupts the run right after its ``n_events``-th event."""
    seen = []

    def listen(history, event):
        seen.append(event)
        if len(seen) == n_events:
            raise Interrupt()

    return listen


STUDY_FILE = """
[study]
objective = "curvetune.testing:synthetic"
metric = "accuracy"
directory = "{directory}"
seed = 3

[budget]
trials = {trials}
steps = {steps}

[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}
width = {{ type = "int", low = 8, high = 64, log = true }}
kind = ["a", "b"]

[fixed]
sleep = {sleep}

[executor]
name = "{executor}"
workers = 2
"""


def write_study(tmp_path, *, trials=4, steps=3, sleep=0.0, executor="sequential", extra=""):
    """A small study file (the synthetic objective over three parameters) and its
    directory, both under ``tmp_path``; ``extra`` is appended to the file."""
    path = tmp_path / "study.toml"
    directory = tmp_path / "runs" / "s"
    text = STUDY_FILE.format(
        directory=directory, trials=trials, steps=steps, sleep=sleep, executor=executor
    )
    path.write_text(text + extra)
    return path, directory


def error_of(args, capsys) -> str:
    """The one line ``curvetune ARGS`` prints on stderr when it exits 2."""
    from curvetune.cli import main

    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


# ------------------------------------------------------------------ searchers under test


def curve_study(space, *, max_steps: int, seed: int = 3, directory=None) -> Study:
    """A study of ``curvetune.testing:stateless_curve`` (metric ``accuracy``, max) over
    ``space``: what the searcher tests run their searchers in."""
    return Study.create(
        objective="curvetune.testing:stateless_curve",
        space=space,
        metric="accuracy",
        mode="max",
        max_steps=max_steps,
        seed=seed,
        directory=directory,
    )


def optimize_asha(study: Study, searcher, trials: int) -> None:
    """``trials`` trials under ASHA (some stopped early), on the sequential executor."""
    study.optimize(
        trials=trials, searcher=searcher, scheduler="asha", executor="sequential", progress=False
    )


def trial_configs(study: Study) -> list[tuple]:
    """Every trial's (id, config, seed): what two runs of one study must agree on."""
    return [(t.id, dict(t.config), t.seed) for t in study.history.trials.values()]


def _quadratic(config, ctx) -> None:
    ctx.report(ctx.until, loss=(config["x"] - 0.3) ** 2 + (config["y"] - 0.7) ** 2)


def best_on_quadratic(searcher, seed: int, trials: int) -> float:
    """The best loss ``searcher`` finds in ``trials`` trials on a 2-D quadratic."""
    space = {"x": Float(-2.0, 2.0), "y": Float(-2.0, 2.0)}
    study = Study.create(
        objective=_quadratic, space=space, metric="loss", mode="min", max_steps=1, seed=seed
    )
    study.optimize(
        trials=trials, searcher=searcher, scheduler="fifo", executor="sequential", progress=False
    )
    best = study.history.best()
    assert best is not None
    return study.history.score(best)
