"""The executor contract: every name in ``EXECUTORS`` is run through the same checks, so a
newly registered engine is held to them without a test of its own.

A registered executor has the ``Executor`` seam (``workers`` a whole number >= 1,
``submit`` returning a ``concurrent.futures.Future`` that carries the result or the error,
``shutdown``); runs a small stateless study to exactly the result the sequential executor
gives; turns an objective that raises into failed trials, not a crashed study; declares the
optional hooks (``Abandoning``, ``Idling``, ``SameHost``) its module documents, and no
others; and refuses ``workers=0`` and ``workers=True`` in one line before anything starts.
The simulated executor (the benchmarks', not registered) is held to the same checks.

The Dask and MPI engines are slow (a cluster, spawned ranks) and skipped where their
package is missing (a failure under CI, as ``conftest.require_module`` has it). MPI runs in
a child process (this file run as a script): ``MPI_Init`` in the test process would stay
for the rest of the session.

(No ``conftest.py``: see ``test_scheduler_contract.py``.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from curvetune.executors import EXECUTORS, make_executor
from curvetune.executors.hooks import Abandoning, Idling, SameHost, runs_on_this_host
from curvetune.executors.simulated import SimulatedExecutor
from curvetune.space import Float
from curvetune.study import Study
from curvetune.types import TrialState

TRIALS = 4
MAX_STEPS = 6
SEED = 2
WORKERS = 2
FAIL_ABOVE = 0.5  # ``curvetune.testing.synthetic`` raises for a larger x

# What each engine's module says it offers beyond the seam (see ``executors/hooks.py``):
# local kills a hung segment's process, Dask its worker, MPI writes the rank off; the
# simulated executor advances its clock when the controller idles; local, sequential and
# simulated run every segment on this machine. A newly registered engine must say here.
HOOKS: dict[str, set[str]] = {
    "local": {"Abandoning", "SameHost"},
    "sequential": {"SameHost"},
    "mpi": {"Abandoning"},
    "dask": {"Abandoning"},
    "simulated": {"Idling", "SameHost"},
}
PROTOCOLS = {"Abandoning": Abandoning, "Idling": Idling, "SameHost": SameHost}

NEEDS = {"dask": "distributed", "mpi": "mpi4py"}  # the optional package of an engine
ISOLATED = {"mpi"}  # run in a child process
HEAVY = {"dask": [pytest.mark.slow, pytest.mark.dask], "mpi": [pytest.mark.slow, pytest.mark.mpi]}

NAMES = [pytest.param(name, marks=HEAVY.get(name, []), id=name) for name in EXECUTORS]
ENGINES = [*NAMES, pytest.param("simulated", id="simulated")]


def build(name: str) -> Any:
    if name == "simulated":
        return SimulatedExecutor(workers=WORKERS)
    return make_executor(name, workers=None if name == "sequential" else WORKERS)


def make_study(directory: Path, *, fail: bool = False) -> Study:
    return Study.create(
        objective="curvetune.testing:synthetic" if fail else "curvetune.testing:stateless_curve",
        space={"x": Float(0.0, 1.0)},
        metric="accuracy",
        max_steps=MAX_STEPS,
        seed=SEED,
        fixed={"fail_above": FAIL_ABOVE} if fail else None,
        directory=directory,
    )


def outcome(directory: Path, executor: Any, *, fail: bool = False) -> list[tuple]:
    """The facts of a small study run on ``executor`` (fifo: every step a segment)."""
    study = make_study(directory, fail=fail)
    study.optimize(trials=TRIALS, scheduler="fifo", executor=executor, progress=False)
    facts = [
        (t.id, dict(t.config), t.seed, t.state, t.step, t.reports, t.reason.splitlines()[-1:])
        for t in study.history.trials.values()
    ]
    study.close()
    return facts


# ----------------------------------------------------------------------- the checks


def check_seam(name: str, executor: Any, tmp: Path) -> None:
    workers = executor.workers
    assert isinstance(workers, int) and not isinstance(workers, bool) and workers >= 1, workers
    future = executor.submit(pow, 2, 10)
    raising = executor.submit(int, "not a number")
    for _ in range(2 if isinstance(executor, Idling) else 0):
        executor.idle()  # results arrive as the controller idles, one segment each time
    assert isinstance(future, Future) and isinstance(raising, Future), type(future)
    assert future.result(timeout=30) == 1024
    assert isinstance(raising.exception(timeout=30), ValueError)  # carried, not raised


def check_same_result(name: str, executor: Any, tmp: Path) -> None:
    expected = outcome(tmp / "sequential", build("sequential"))
    assert outcome(tmp / name, executor) == expected
    assert all(facts[3] is TrialState.COMPLETED for facts in expected)


def check_failure(name: str, executor: Any, tmp: Path) -> None:
    got = outcome(tmp / name, executor, fail=True)
    states = [facts[3] for facts in got]
    assert TrialState.FAILED in states and TrialState.COMPLETED in states, states
    for _, config, _, state, _, _, reason in got:
        assert (state is TrialState.FAILED) == (config["x"] > FAIL_ABOVE), (config, state)
        if state is TrialState.FAILED:
            assert reason and reason[0].startswith("ValueError: x="), reason
    assert got == outcome(tmp / "sequential", build("sequential"), fail=True)


def check_hooks(name: str, executor: Any, tmp: Path) -> None:
    assert name in HOOKS, f"executor {name!r}: say in HOOKS which hooks its module documents"
    offered = {hook for hook, protocol in PROTOCOLS.items() if isinstance(executor, protocol)}
    assert offered == HOOKS[name]
    assert runs_on_this_host(executor) is ("SameHost" in HOOKS[name])
    if "SameHost" in offered:
        assert type(executor).same_host is True  # a class attribute, as hooks.SameHost says


CHECKS = {
    "seam": check_seam,
    "same_result": check_same_result,
    "failure": check_failure,
    "hooks": check_hooks,
}


def run_check(check: str, name: str, tmp: Path) -> None:
    executor = build(name)
    try:
        CHECKS[check](name, executor, tmp)
    finally:
        executor.shutdown(wait=True)


def contract(check: str, name: str, tmp_path: Path) -> None:
    if name in NEEDS:
        from conftest import require_module

        require_module(NEEDS[name])
    if name not in ISOLATED:
        run_check(check, name, tmp_path)
        return
    # mpich spawns ranks through the mpiexec on PATH: the one beside this Python, as in a venv.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    done = subprocess.run(
        [sys.executable, __file__, check, name, str(tmp_path)],
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# ----------------------------------------------------------------------- the tests


@pytest.mark.parametrize("name", ENGINES)
def test_the_executor_seam(name, tmp_path):
    contract("seam", name, tmp_path)


@pytest.mark.parametrize("name", ENGINES)
def test_a_stateless_study_ends_as_on_the_sequential_executor(name, tmp_path):
    contract("same_result", name, tmp_path)


@pytest.mark.parametrize("name", ENGINES)
def test_a_segment_that_raises_is_a_failed_trial_not_a_crash(name, tmp_path):
    contract("failure", name, tmp_path)


@pytest.mark.parametrize("name", ENGINES)
def test_the_hooks_are_what_the_engine_documents(name, tmp_path):
    contract("hooks", name, tmp_path)


def test_every_registered_engine_declares_its_hooks():
    assert set(EXECUTORS) <= set(HOOKS), set(EXECUTORS) - set(HOOKS)


@pytest.mark.parametrize("bad", [0, True])
@pytest.mark.parametrize("name", list(EXECUTORS))
def test_bad_workers_are_one_line_before_anything_starts(name, bad):
    """``check_executor`` refuses before a builder runs, so no engine is needed here."""
    with pytest.raises(ValueError) as error:
        make_executor(name, workers=bad)
    assert str(error.value) == f"executor: workers must be a whole number >= 1, got {bad!r}"


@pytest.mark.parametrize("bad", [0, True, 1.5, "2", None])
def test_the_simulated_executor_refuses_bad_workers_in_one_line(bad):
    with pytest.raises(ValueError) as error:
        SimulatedExecutor(workers=bad)
    message = str(error.value)
    assert "\n" not in message and "workers" in message and message.endswith(f"got {bad!r}")


if __name__ == "__main__":  # one check in a process of its own: CHECK NAME DIRECTORY
    run_check(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
