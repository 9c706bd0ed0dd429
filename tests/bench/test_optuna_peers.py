"""The Optuna peers of the search benchmark, on a tiny fake oracle and a small table."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("optuna")

from optuna.trial import TrialState

from curvetune.bench.optuna_peers import PEERS, run_peer, simulate_peer
from curvetune.bench.oracles import TableOracle
from curvetune.bench.tables import CurveTable
from curvetune.space import Float, Int, Space

N_EPOCHS = 9


class FakeOracle:
    """``final * (1 - exp(-e/3))``, final peaking at x=0.3 and k=4; 1 s per epoch."""

    name = "fake"
    space = Space({"x": Float(0.0, 1.0), "k": Int(1, 8)})
    n_epochs = N_EPOCHS

    def curve(self, config):
        final = 0.9 - (config["x"] - 0.3) ** 2 - 0.01 * abs(config["k"] - 4)
        epochs = np.arange(1, N_EPOCHS + 1)
        return final * (1 - np.exp(-epochs / 3)), np.ones(N_EPOCHS)

    def reference(self):
        return 0.9, 0.7


def table_oracle(n: int = 12) -> TableOracle:
    rng = np.random.default_rng(0)
    configs = [{"lr": float(10 ** rng.uniform(-4, -1)), "width": int(w)} for w in range(n)]
    finals = rng.uniform(0.5, 0.9, size=n)
    epochs = np.arange(1, N_EPOCHS + 1)
    curves = finals[:, None] * (1 - np.exp(-epochs / 3))[None, :]
    table = CurveTable(
        name="tiny",
        curves={"val_accuracy": curves, "val_loss": 1 - curves},
        epoch_seconds=rng.uniform(0.5, 2.0, size=(n, N_EPOCHS)),
        configs=configs,
    )
    return TableOracle(table)


def _monotone(trace) -> None:
    assert trace.compute and len(trace.compute) == len(trace.best)
    assert all(a <= b for a, b in zip(trace.compute, trace.compute[1:], strict=False))
    assert all(a <= b for a, b in zip(trace.best, trace.best[1:], strict=False))
    assert trace.best[-1] == trace.best[-2]


@pytest.mark.parametrize("name", list(PEERS))
@pytest.mark.parametrize("workers", [1, 3])
def test_budget_and_trace(name: str, workers: int) -> None:
    budget = 60
    run = simulate_peer(name, FakeOracle(), budget_epochs=budget, workers=workers, seed=0)
    assert budget <= run.epochs <= budget + workers * N_EPOCHS
    assert run.trace.compute[-1] == run.epochs
    trained = sum(len(t.intermediate_values) for t in run.study.trials)
    assert trained == run.epochs
    _monotone(run.trace)
    complete = [t.value for t in run.study.trials if t.state is TrialState.COMPLETE]
    assert math.isclose(run.trace.best[-1], max(complete))
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in run.study.trials)


@pytest.mark.parametrize("name", list(PEERS))
def test_deterministic_per_seed(name: str) -> None:
    a = run_peer(name, FakeOracle(), budget_epochs=60, workers=2, seed=3)
    b = run_peer(name, FakeOracle(), budget_epochs=60, workers=2, seed=3)
    c = run_peer(name, FakeOracle(), budget_epochs=60, workers=2, seed=4)
    assert a == b
    assert a != c


def _epochs_per_trial(name: str) -> float:
    run = simulate_peer(name, FakeOracle(), budget_epochs=120, workers=2, seed=1)
    return run.epochs / len(run.study.trials)


def test_pruners_prune() -> None:
    full = _epochs_per_trial("optuna-random+none")
    assert full == N_EPOCHS
    for name in ("optuna-tpe+hyperband", "optuna-tpe+median"):
        run = simulate_peer(name, FakeOracle(), budget_epochs=120, workers=2, seed=1)
        assert any(t.state is TrialState.PRUNED for t in run.study.trials)
        assert _epochs_per_trial(name) < full


@pytest.mark.parametrize("name", list(PEERS))
def test_table_rows_never_repeat(name: str) -> None:
    oracle = table_oracle(12)
    run = simulate_peer(name, oracle, budget_epochs=60, workers=3, seed=0)
    rows = [t.user_attrs["row"] for t in run.study.trials if "row" in t.user_attrs]
    assert len(rows) == len(set(rows))
    assert 60 <= run.epochs <= 60 + 3 * N_EPOCHS
    _monotone(run.trace)
    assert run.trace.best[-1] <= oracle.reference()[0]


def test_table_exhausted_stops_asking() -> None:
    oracle = table_oracle(5)
    run = simulate_peer("optuna-random+none", oracle, budget_epochs=1000, workers=2, seed=0)
    rows = sorted(t.user_attrs["row"] for t in run.study.trials if "row" in t.user_attrs)
    assert rows == [0, 1, 2, 3, 4]
    assert run.epochs == 5 * N_EPOCHS
    assert math.isclose(run.trace.best[-1], oracle.reference()[0])


def test_nothing_completed_gives_empty_trace() -> None:
    trace = run_peer("optuna-random+none", FakeOracle(), budget_epochs=0, workers=2, seed=0)
    assert trace.compute == [] and trace.best == []


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"optuna-tpe\+hyperband.*optuna-random\+none"):
        run_peer("optuna-cmaes", FakeOracle(), budget_epochs=10, workers=1, seed=0)
