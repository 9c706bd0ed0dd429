"""Compare early-stopping schedulers on curve tables (``curvetune bench stopping``).

For every table and seed, one random order of the table's configurations (the first
``trials`` rows of ``np.random.default_rng([seed, crc32(table name)]).permutation(n)``) is
tried by every scheduler in turn, each a fresh ``make_scheduler(name)``, through
``simulate``. FIFO is always one of them: speedups are relative to it. The numbers of one
run are in ``metrics``; this module runs the grid, takes the medians over seeds and
returns the results (``output`` writes them).

The unit of parallel work is one table (all seeds, all schedulers), done by ``bench_table``
in a process of its own when ``jobs > 1``; it returns plain dicts. Worker processes are
started fresh (``spawn``), so with ``jobs > 1`` every scheduler must be importable from the
registry, not patched into it at run time.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..schedulers import make_scheduler
from . import metrics
from .simulate import simulate
from .tables import MODES, CurveTable, TableError, load_table

BASELINE = "fifo"


@dataclass(frozen=True)
class Settings:
    """What a comparison runs: scheduler names (FIFO first, added if missing), seeds
    0..seeds-1, at most ``trials`` configurations per study, ``workers`` virtual workers,
    the metric."""

    schedulers: tuple[str, ...] = (BASELINE,)
    seeds: int = 20
    trials: int = 200
    workers: int = 4
    metric: str = "val_accuracy"

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedulers", scheduler_names(self.schedulers))
        for name in ("seeds", "trials", "workers"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"--{name} must be a whole number >= 1, got {value!r}")


# ----------------------------------------------------------------------------- inputs


def scheduler_names(text: str | Iterable[str]) -> tuple[str, ...]:
    """Names from ``"a,b"`` (or a list), without repeats, FIFO first (added if missing)."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    names = [p.strip() for p in parts if p.strip()]
    return tuple(dict.fromkeys([BASELINE, *names]))


def table_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; a directory stands for its ``*.npz`` files (sorted by name)."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.glob("*.npz"))
            if not found:
                raise TableError(f"{path}: no .npz curve tables in this directory")
            out.extend(found)
        else:
            out.append(path)
    return list(dict.fromkeys(out))


def check_inputs(paths: Sequence[Path], settings: Settings) -> list[CurveTable]:
    """Load every table and build every scheduler once, so that a bad table, a metric a
    table lacks, or an unknown scheduler fails before any work starts (one clear line)."""
    for name in settings.schedulers:
        make_scheduler(name)  # the registry's own error for an unknown name
    tables, names = [], {}
    for path in paths:
        table = load_table(path)
        if settings.metric not in table.curves:
            have = ", ".join(table.curves)
            raise TableError(f"{path}: no metric {settings.metric!r} in this table; it has {have}")
        if table.name in names:
            raise TableError(f"{path}: table name {table.name!r} is also {names[table.name]}")
        names[table.name] = path
        tables.append(table)
    return tables


def seed_order(table: CurveTable, seed: int, trials: int) -> np.ndarray:
    """The rows one seed tries, in order: the same for every scheduler of the comparison."""
    rng = np.random.default_rng([seed, zlib.crc32(table.name.encode())])
    return rng.permutation(table.n_configs)[:trials]


# ----------------------------------------------------------------------------- one table


def _scheduler(name: str):
    """A fresh scheduler. FIFO runs each replayed trial in one segment: the results are the
    same as with one segment per epoch (nothing is decided in between), ten times faster."""
    return make_scheduler(name, segment=None) if name == BASELINE else make_scheduler(name)


def bench_table(
    path: str | Path, settings: Settings, progress: Callable[[], None] | None = None
) -> dict[str, Any]:
    """All seeds and schedulers on one table, as plain dicts: per scheduler the summary
    (``metrics.summarise`` plus ``passes``, the half bar, and ``passes_full``, the full
    bar), every run's numbers, and the median regret against epochs used (``anytime``).
    ``progress()`` is called after each seed."""
    began = time.perf_counter()
    table = load_table(path)
    metric = settings.metric
    top = metrics.top_rows(table, metric)
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in settings.schedulers}
    traces: dict[str, list[metrics.Anytime]] = {name: [] for name in settings.schedulers}
    seconds = dict.fromkeys(settings.schedulers, 0.0)
    for seed in range(settings.seeds):
        order = seed_order(table, seed, settings.trials)
        runs = {}
        for name in settings.schedulers:
            start = time.perf_counter()
            runs[name] = simulate(
                table,
                _scheduler(name),
                order=order,
                workers=settings.workers,
                metric=metric,
                seed=seed,
            )
            seconds[name] += time.perf_counter() - start
        fifo = metrics.incumbent_trace(runs[BASELINE])
        for name, run in runs.items():
            row = metrics.run_metrics(run, fifo, table, metric, top)
            rows[name].append({"seed": seed, **row})
            traces[name].append(metrics.incumbent_trace(run))
        if progress is not None:
            progress()
    summaries = {name: metrics.summarise(rows[name]) for name in settings.schedulers}
    for name, summary in summaries.items():
        summary["passes"] = metrics.passes(summary, summaries[BASELINE])
        summary["passes_full"] = metrics.passes_full(summary, summaries[BASELINE])
        summary["seconds"] = round(seconds[name], 3)
    return {
        "name": table.name,
        "file": Path(path).name,
        "n_configs": table.n_configs,
        "n_epochs": table.n_epochs,
        "top_rows": len(top),
        "seconds": round(time.perf_counter() - began, 3),
        "schedulers": summaries,
        "anytime": anytime_curves(traces, table, metric),
        "runs": rows,
    }


def anytime_curves(
    traces: Mapping[str, Sequence[metrics.Anytime]], table: CurveTable, metric: str, points=120
) -> dict[str, Any]:
    """Median regret over seeds on a log-spaced grid of epochs used (from one full training,
    the earliest a trial can complete), per scheduler; each scheduler's curve stops at the
    most epochs any of its runs used."""
    first = table.n_epochs  # no trial can complete before one full training
    most = max((t.compute[-1] for runs in traces.values() for t in runs if t.compute), default=0)
    grid = np.unique(np.round(np.geomspace(first, max(most, first + 1), points)).astype(int))
    curves = {}
    for name, runs in traces.items():
        used = max((t.compute[-1] for t in runs if t.compute), default=0)
        shown = grid[grid <= used] if used else grid[:0]
        curves[name] = [round(v, 7) for v in metrics.regret_curve(runs, shown, table, metric)]
    return {"epochs": [int(g) for g in grid], "regret": curves}


# ----------------------------------------------------------------------------- the grid

_queue: Any = None  # progress queue of a worker process


def _init_worker(progress_queue: Any) -> None:
    global _queue
    _queue = progress_queue


def _worker_table(path: str, settings: Settings) -> dict[str, Any]:
    return bench_table(path, settings, progress=lambda: _queue.put(1))


def compare(
    paths: Sequence[Path],
    settings: Settings,
    *,
    jobs: int = 1,
    advance: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run ``bench_table`` over every table (``jobs`` processes) and gather the results in
    the order of ``paths``. ``advance(k)`` reports k more (table, seed) units done."""
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"--jobs must be a whole number >= 1, got {jobs!r}")
    advance = advance or (lambda k: None)
    if jobs == 1 or len(paths) == 1:
        done = [bench_table(p, settings, progress=lambda: advance(1)) for p in paths]
    else:
        done = _in_processes(paths, settings, min(jobs, len(paths)), advance)
    return {
        "tables": {result["name"]: result for result in done},
        "settings": settings_dict(settings, paths, jobs),
    }


def _in_processes(
    paths: Sequence[Path], settings: Settings, jobs: int, advance: Callable[[int], None]
) -> list[dict[str, Any]]:
    context = multiprocessing.get_context("spawn")
    ticks = context.Queue()
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_init_worker, initargs=(ticks,)
    ) as pool:
        futures: dict[Future, int] = {
            pool.submit(_worker_table, str(p), settings): i for i, p in enumerate(paths)
        }
        pending = set(futures)
        try:
            while pending:
                _drain(ticks, advance, timeout=0.2)
                finished, pending = wait(pending, timeout=0, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()  # a worker's error ends the comparison here
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        _drain(ticks, advance, timeout=0.2)
    results = [None] * len(paths)
    for future, index in futures.items():
        results[index] = future.result()
    return results


def _drain(ticks: Any, advance: Callable[[int], None], timeout: float) -> None:
    """Pass on the ticks the workers sent, waiting up to ``timeout`` for the first."""
    count = 0
    try:
        count += ticks.get(timeout=timeout)
        while True:
            count += ticks.get_nowait()
    except queue.Empty:
        pass
    if count:
        advance(count)


def settings_dict(settings: Settings, paths: Sequence[Path], jobs: int) -> dict[str, Any]:
    """The settings as written to results.json (table files by name only, no paths)."""
    from .. import __version__

    return {
        **asdict(settings),
        "schedulers": list(settings.schedulers),
        "mode": MODES.get(settings.metric, "max"),
        "tables": [Path(p).name for p in paths],
        "jobs": jobs,
        "tolerance": metrics.TOLERANCE,
        "budgets": list(metrics.BUDGETS),
        "top_share": metrics.TOP_SHARE,
        "pass": {
            "speedup_at_least": metrics.PASS_SPEEDUP,
            "final_regret_at_most_fifo_plus": metrics.PASS_REGRET_SLACK,
            "full_bar_false_stop_rate_at_most": metrics.PASS_FALSE_STOPS,
        },
        "order": "np.random.default_rng([seed, zlib.crc32(table name)]).permutation(n)[:trials]",
        "curvetune": __version__,
    }
