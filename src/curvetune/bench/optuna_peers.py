"""Optuna studies as peers in the search benchmark, on the same oracle and compute budget.

Three peers, each an in-memory Optuna study (direction maximise) driven by ask-and-tell:

* ``optuna-tpe+hyperband``: ``TPESampler(seed)`` with ``HyperbandPruner(min_resource=1,
  max_resource=n_epochs, reduction_factor=3)``, Optuna's BOHB-like setup (TPE within each
  Hyperband bracket, trials stopped at the brackets' rungs).
* ``optuna-tpe+median``: ``TPESampler(seed)`` with ``MedianPruner()`` (defaults): a trial is
  stopped when its value at an epoch is below the median of earlier trials at that epoch.
* ``optuna-random+none``: ``RandomSampler(seed)`` with ``NopPruner()``: every trial trains
  all epochs, the baseline.

Virtual time: ``workers`` virtual workers share a virtual clock and an event heap of epoch
ends. A free worker asks the study for a trial (while fewer than ``budget_epochs`` epochs
have been trained) and looks up its whole learning curve in the oracle; epoch ``e`` of a
trial started at ``t`` ends at ``t`` plus the seconds of its first ``e`` epochs. Epoch ends
are processed in time order (ties by trial number): the value is reported, and the trial
is told pruned if the pruner says so, told complete after its last epoch, or goes on to
its next epoch. Each processed epoch end counts one epoch of compute, whatever becomes of
its trial. Once the budget is reached no trial is asked; running ones finish or are pruned,
and the run ends when none runs. On a ``TableOracle`` each proposal is moved to the nearest
row not yet tried (``resolve``), as the curvetune searchers are (the study keeps its own
proposal as the trial's parameters); the run stops asking when every row has been tried.

``run_peer`` returns the incumbent trace in the form of ``metrics.incumbent_trace``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..executors._optional import require
from ..searchers._optuna_space import distributions, to_config
from ..viz.data import Anytime
from .oracles import TableOracle


@dataclass(frozen=True)
class PeerRun:
    study: Any  # the finished optuna Study
    trace: Anytime
    epochs: int  # epochs trained over all trials, completed and pruned


Factory = Callable[[Any, int, int], tuple[Any, Any]]  # (optuna, seed, n_epochs) -> parts

PEERS: dict[str, Factory] = {
    "optuna-tpe+hyperband": lambda optuna, seed, n_epochs: (
        optuna.samplers.TPESampler(seed=seed),
        optuna.pruners.HyperbandPruner(min_resource=1, max_resource=n_epochs, reduction_factor=3),
    ),
    "optuna-tpe+median": lambda optuna, seed, n_epochs: (
        optuna.samplers.TPESampler(seed=seed),
        optuna.pruners.MedianPruner(),
    ),
    "optuna-random+none": lambda optuna, seed, n_epochs: (
        optuna.samplers.RandomSampler(seed=seed),
        optuna.pruners.NopPruner(),
    ),
}


def make_study(name: str, *, n_epochs: int, seed: int) -> Any:
    """The peer's in-memory study. Its name is fixed (Hyperband assigns brackets by a hash
    of the study name and trial number, so a random name would break determinism)."""
    if name not in PEERS:
        raise ValueError(f"unknown Optuna peer {name!r}; choose one of {', '.join(PEERS)}")
    optuna = require("optuna", extra="optuna", what="the Optuna peers")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler, pruner = PEERS[name](optuna, seed, n_epochs)
    return optuna.create_study(
        study_name=f"{name}-seed{seed}", direction="maximize", sampler=sampler, pruner=pruner
    )


def run_peer(name: str, oracle: Any, *, budget_epochs: int, workers: int, seed: int) -> Anytime:
    """Run peer ``name`` on ``oracle`` with ``workers`` virtual workers until at least
    ``budget_epochs`` epochs are trained; the incumbent (best final value of a completed
    trial) against the epochs trained when it was found, as ``metrics.incumbent_trace``."""
    return simulate_peer(
        name, oracle, budget_epochs=budget_epochs, workers=workers, seed=seed
    ).trace


def simulate_peer(
    name: str, oracle: Any, *, budget_epochs: int, workers: int, seed: int
) -> PeerRun:
    """``run_peer`` with the study and the total epochs trained as well (a table row tried
    is the trial's user attribute ``row``)."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    study = make_study(name, n_epochs=oracle.n_epochs, seed=seed)
    from optuna.trial import TrialState

    dists = distributions(oracle.space)
    table = isinstance(oracle, TableOracle)
    used: set[int] = set()
    heap: list[tuple[float, int, int]] = []  # (epoch end, trial number, epoch 1-based)
    running: dict[int, tuple[Any, np.ndarray, np.ndarray]] = {}  # number -> trial, values, ends
    trained = 0
    exhausted = False
    points: list[int] = []
    best: list[float] = []

    def start(now: float) -> None:
        nonlocal exhausted
        if exhausted or trained >= budget_epochs:
            return
        trial = study.ask(dists)
        config = to_config(oracle.space, trial.params)
        if table:
            config = oracle.resolve(config, used)
            if config is None:
                study.tell(trial, state=TrialState.FAIL)
                exhausted = True
                return
            row = oracle.row_of(config)
            used.add(row)
            trial.set_user_attr("row", row)
        values, seconds = oracle.curve(config)
        values = np.asarray(values, dtype=float)
        ends = now + np.cumsum(np.asarray(seconds, dtype=float))
        running[trial.number] = (trial, values, ends)
        heapq.heappush(heap, (float(ends[0]), trial.number, 1))

    for _ in range(workers):
        start(0.0)
    while heap:
        now, number, epoch = heapq.heappop(heap)
        trial, values, ends = running[number]
        trained += 1
        value = float(values[epoch - 1])
        trial.report(value, epoch)
        if epoch == len(values):
            study.tell(trial, value)
            if not best or value > best[-1]:
                points.append(trained)
                best.append(value)
        elif trial.should_prune():
            study.tell(trial, state=TrialState.PRUNED)
        else:
            heapq.heappush(heap, (float(ends[epoch]), number, epoch + 1))
            continue
        del running[number]
        start(now)
    if points:
        points.append(trained)
        best.append(best[-1])
    return PeerRun(study, Anytime(points, best), trained)
