"""Compare searchers x schedulers (and Optuna peers) on a live surrogate or on curve tables
(``curvetune bench search``).

For every task and seed, each combination ``SEARCHER+SCHEDULER`` runs one study through the
real controller with the simulated executor (the oracle's epoch seconds drive the virtual
clock), until the study has trained ``budget`` full trainings' worth of epochs
(``Budgeted`` stops proposing then; running trials finish). A searcher name may carry a
stopped-trial treatment in brackets, ``tpe[predicted]``. Peers (``optuna_peers``) run on
the same oracle, budget and virtual workers. Each run leaves its anytime trace (the
incumbent, the best final value of a trial trained to the full budget, against epochs
used); ``search_report`` turns the traces into regrets, tables and plots.

The unit of parallel work is one task (all seeds and combinations), in a fresh process.
"""

from __future__ import annotations

import multiprocessing
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..executors.simulated import SimulatedExecutor
from ..schedulers import make_scheduler
from ..searchers import make_searcher
from ..space import Space
from ..study import Study, StudySpec
from ..types import History
from ..worker import SegmentContext
from . import metrics
from .oracles import NearestUnused, Oracle, Surrogate, SurrogateOracle, TableOracle
from .simulate import Run
from .tables import load_table

METRIC = "val_accuracy"
SECONDS = "epoch_seconds"
_NAME = re.compile(r"^(?P<searcher>[a-z_-]+)(\[(?P<stopped>[a-z]+)\])?$")


@dataclass(frozen=True)
class SearchSettings:
    """What a comparison runs: searchers x schedulers, peers, seeds 0..seeds-1, a budget in
    full trainings, virtual workers."""

    searchers: tuple[str, ...] = ("random", "evolution", "tpe", "gp")
    schedulers: tuple[str, ...] = ("fifo", "asha10", "lcm")
    peers: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()  # more SEARCHER+SCHEDULER combinations (treatment variants)
    seeds: int = 10
    budget: int = 50
    workers: int = 4
    first_seed: int = 0  # seeds first_seed .. first_seed + seeds - 1 (to add seeds later)

    def __post_init__(self) -> None:
        for name in ("seeds", "budget", "workers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"--{name} must be a whole number >= 1, got {value!r}")
        if not isinstance(self.first_seed, int) or self.first_seed < 0:
            raise ValueError(f"first_seed must be a whole number >= 0, got {self.first_seed!r}")
        for name in self.searchers:
            searcher_of(name)  # the registry's error for an unknown name or treatment
        for name in self.schedulers:
            make_scheduler(name)
        for combo in self.extra:
            searcher, plus, scheduler = combo.rpartition("+")
            if not plus:
                raise ValueError(f"combination {combo!r}: expected SEARCHER+SCHEDULER")
            searcher_of(searcher)
            make_scheduler(scheduler)
        if self.peers:
            from .optuna_peers import PEERS

            unknown = [p for p in self.peers if p not in PEERS]
            if unknown:
                raise ValueError(f"unknown peer {unknown[0]!r}; allowed: {', '.join(PEERS)}")

    @property
    def combos(self) -> list[str]:
        grid = [f"{a}+{b}" for a in self.searchers for b in self.schedulers]
        return list(dict.fromkeys([*grid, *self.extra]))


def names(text: str) -> tuple[str, ...]:
    """``"a,b"`` as a tuple of names, without blanks or repeats."""
    return tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))


def searcher_of(name: str) -> Any:
    """A fresh searcher for ``name`` (``tpe`` or ``tpe[predicted]``)."""
    match = _NAME.match(name)
    if match is None:
        raise ValueError(f"searcher {name!r}: expected NAME or NAME[TREATMENT], e.g. tpe[rung]")
    options = {"stopped": match["stopped"]} if match["stopped"] else {}
    return make_searcher(match["searcher"], **options)


# ----------------------------------------------------------------------------- one study


class OracleObjective:
    """Reports the oracle's curve of the config, with each epoch's seconds."""

    stateless = True  # any step can be read directly

    def __init__(self, oracle: Oracle) -> None:
        self.oracle = oracle

    def __call__(self, config: Mapping[str, Any], ctx: SegmentContext) -> None:
        values, seconds = self.oracle.curve(config)
        for step in range(ctx.start + 1, ctx.until + 1):
            ctx.report(step, **{METRIC: float(values[step - 1]), SECONDS: float(seconds[step - 1])})


class Budgeted:
    """Proposes what ``inner`` does until the History has trained ``epochs`` epochs."""

    def __init__(self, inner: Any, epochs: int) -> None:
        self.inner = inner
        self.epochs = epochs

    def suggest(self, space: Space, history: History, rng: np.random.Generator):
        if sum(t.step for t in history.trials.values()) >= self.epochs:
            return None
        return self.inner.suggest(space, history, rng)


def run_combo(oracle: Oracle, combo: str, seed: int, budget: int, workers: int) -> metrics.Anytime:
    """One study of ``SEARCHER+SCHEDULER`` on ``oracle``: its incumbent trace."""
    searcher_name, scheduler_name = combo.rsplit("+", 1)
    searcher = searcher_of(searcher_name)
    if isinstance(oracle, TableOracle):
        searcher = NearestUnused(searcher, oracle)
    spec = StudySpec(
        objective=f"oracle:{oracle.name}",
        space=oracle.space,
        metric=METRIC,
        mode="max",
        max_steps=oracle.n_epochs,
        seed=seed,
    )
    study = Study(spec, objective=OracleObjective(oracle))
    executor = SimulatedExecutor(workers=workers)
    scheduler = make_scheduler(scheduler_name)
    limit = budget * oracle.n_epochs
    if isinstance(oracle, TableOracle):
        limit = min(limit, oracle.table.n_configs * oracle.n_epochs)
    study.optimize(
        progress=False,
        trials=10**9,
        searcher=Budgeted(searcher, limit),
        scheduler=scheduler,
        executor=executor,
    )
    run = Run(study.history, [], [], executor.clock, sorted(executor.epoch_ends),
              dict(executor.finished_at))  # fmt: skip
    return metrics.incumbent_trace(run)


# ----------------------------------------------------------------------------- one task


def oracle_for(source: str) -> Oracle:
    """``surrogate:DIR:TASK`` or ``table:FILE`` as an oracle."""
    kind, _, rest = source.partition(":")
    if kind == "surrogate":
        directory, _, task = rest.rpartition(":")
        return SurrogateOracle(Surrogate(directory), task)
    return TableOracle(load_table(rest))


def bench_task(source: str, settings: SearchSettings) -> dict[str, Any]:
    """Every seed and combination (and peer) on one task: its traces and reference."""
    began = time.perf_counter()
    oracle = oracle_for(source)
    best, median = oracle.reference()
    traces: dict[str, list[dict[str, list]]] = {}
    seconds: dict[str, float] = {}
    for seed in range(settings.first_seed, settings.first_seed + settings.seeds):
        for combo in settings.combos:
            start = time.perf_counter()
            trace = run_combo(oracle, combo, seed, settings.budget, settings.workers)
            _keep(traces, seconds, combo, trace, start)
        for peer in settings.peers:
            from .optuna_peers import run_peer

            start = time.perf_counter()
            limit = settings.budget * oracle.n_epochs
            trace = run_peer(peer, oracle, budget_epochs=limit, workers=settings.workers, seed=seed)
            _keep(traces, seconds, peer, trace, start)
    return {
        "task": oracle.name,
        "n_epochs": oracle.n_epochs,
        "reference": {"best": best, "median": median},
        "traces": traces,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
        "wall_seconds": round(time.perf_counter() - began, 3),
    }


def _keep(traces, seconds, name: str, trace: metrics.Anytime, start: float) -> None:
    traces.setdefault(name, []).append({"compute": list(trace.compute), "best": list(trace.best)})
    seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start


def compare(
    sources: Sequence[str],
    settings: SearchSettings,
    *,
    jobs: int = 1,
    done: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """``bench_task`` over every source (``jobs`` processes); ``done(task)`` after each."""
    done = done or (lambda task: None)
    results: dict[str, dict[str, Any]] = {}
    if jobs <= 1 or len(sources) == 1:
        for source in sources:
            result = bench_task(source, settings)
            results[source] = result
            done(result["task"])
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = {pool.submit(bench_task, s, settings): s for s in sources}
            for future in as_completed(futures):
                result = future.result()
                results[futures[future]] = result
                done(result["task"])
    ordered = [results[s] for s in sources]
    return {
        "tasks": {r["task"]: r for r in ordered},
        "settings": {**asdict(settings), "sources": [_public(s) for s in sources]},
    }


def surrogate_sources(directory: str | Path, tasks: Sequence[str]) -> list[str]:
    """Sources for ``tasks`` of the surrogate in ``directory`` (all 34 if ``tasks`` is
    ``["all"]``), checked now so a wrong folder or task fails before any work."""
    surrogate = Surrogate(directory)
    chosen = surrogate.tasks if list(tasks) == ["all"] else list(tasks)
    for task in chosen:
        if task not in surrogate.codes:
            raise ValueError(
                f"unknown task {task!r}; the surrogate has {', '.join(surrogate.tasks)}"
            )
    return [f"surrogate:{directory}:{task}" for task in chosen]


def _public(source: str) -> str:
    """A source as written to results.json: no folder paths."""
    kind, _, rest = source.partition(":")
    if kind == "surrogate":
        return f"surrogate:{rest.rpartition(':')[2]}"
    return f"table:{Path(rest).name}"
