"""Controller throughput with a no-op objective, next to Optuna.

Run it from the repository root (``PYTHONPATH=src`` if curvetune is not installed)::

    python benchmarks/overhead.py              # 3 repeats of ~2-5 s each per row (~2 min)
    python benchmarks/overhead.py --quick      # small n, 1 repeat (< 20 s); prints only
    python benchmarks/overhead.py --profile    # also cProfile the controller in row 1

The Optuna rows need optuna (``pip install optuna``, or the bench extra:
``pip install -e ".[bench]"``); without it they are skipped. Rows:

1. curvetune, local executor (loky process pool, 2 workers), SQLite store in a fresh study
   directory under ``benchmarks/`` (the repository's disk, not a RAM disk),
   ``objective="curvetune.testing:noop"``, one ``Float`` parameter, ``max_steps=4`` with
   FIFO ``segment=1``, so every trial is 4 segments: segments/s. The pool is warmed with a
   small study on the same executor object first; the "cold" row times the same run with
   a fresh pool, its start-up included.
2. The same with the in-memory store (``directory=None``).
3. curvetune, sequential (in-process) executor, in-memory store, ``max_steps=1``, the
   no-op objective passed as a callable: trials/s. "3 sqlite": the same with the SQLite
   store in a fresh study directory on the repository's disk.
4. The same with ``max_steps=4``: segments/s.
5. Optuna, in-memory, ``RandomSampler(seed=0)``, ``lambda t: t.suggest_float("x", 0, 1)``:
   trials/s.
6. Optuna, in-memory, its default sampler (TPE), fewer trials (it slows as they accrue).
7. Optuna, SQLite storage on the repository's disk, ``RandomSampler``: trials/s.

Only ``optimize`` is timed (creating the study is not). Each row runs ``repeats`` times,
row after row in turn (so a busy spell of a shared machine hits all rows alike); the table
(median and min-max) goes to the console and to ``benchmarks/results/overhead.md``. Targets:
row 1 >= 1,000 segments/s; rows 3 and 3 sqlite >= Optuna in-memory (row 5 of the same
run).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib.metadata
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from curvetune.executors import Executor, make_executor  # noqa: E402
from curvetune.schedulers import FIFOScheduler  # noqa: E402
from curvetune.space import Float  # noqa: E402
from curvetune.study import Study  # noqa: E402
from curvetune.testing import noop  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "overhead.md"
SCRATCH = ROOT / "benchmarks"  # temp dirs for SQLite files go here: the repository's disk
NOOP = "curvetune.testing:noop"
WORKERS = 2
STEPS = 4  # max_steps of the multi-segment rows; FIFO segment=1, so segments = trials * 4
WARMUP_TRIALS = 20
TARGET_SEGMENTS_PER_S = 1_000
OPTUNA_HINT = 'pip install optuna (or the bench extra: pip install -e ".[bench]")'

# Units of work per run (segments or trials, as the row counts them): (full, quick).
SIZES: dict[str, tuple[int, int]] = {
    "local-sqlite": (4_000, 400),
    "local-memory": (4_000, 400),
    "sequential-1": (20_000, 2_000),
    "sequential-4": (40_000, 4_000),
    "optuna-random": (20_000, 2_000),
    "optuna-tpe": (500, 100),
    "optuna-sqlite": (150, 30),
}


# ------------------------------------------------------------------------------- curvetune


def run_study(
    trials: int,
    *,
    executor: Executor,
    max_steps: int,
    objective: Any = NOOP,
    directory: Path | None = None,
) -> float:
    """Seconds that ``optimize`` takes for ``trials`` no-op trials of a fresh study."""
    study = Study.create(
        objective=objective,
        space={"x": Float(0.0, 1.0)},
        metric="loss",
        mode="min",
        max_steps=max_steps,
        directory=directory,
    )
    try:
        gc.collect()
        began = time.perf_counter()
        study.optimize(
            progress=False, trials=trials, scheduler=FIFOScheduler(segment=1), executor=executor
        )
        seconds = time.perf_counter() - began
        if len(study.trials) != trials:
            raise RuntimeError(f"expected {trials} trials, the study has {len(study.trials)}")
        return seconds
    finally:
        study.close()


class Pool:
    """The local executor the local rows share, warmed with a small untimed study."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.executor: Executor | None = None

    def warm(self) -> Executor:
        """The executor, started and warmed (workers up, curvetune imported) if it was not."""
        if self.executor is None:
            self.executor = make_executor("local", workers=self.workers)
            run_study(WARMUP_TRIALS, executor=self.executor, max_steps=STEPS)
        return self.executor

    def stop(self) -> None:
        """Shut the pool down and kill its workers, so that the next one starts afresh."""
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


def local_sqlite(pool: Pool, segments: int) -> float:
    """Row 1: warm local pool, SQLite store in a fresh directory on the repository's disk."""
    executor = pool.warm()
    with tempfile.TemporaryDirectory(prefix=".overhead-", dir=SCRATCH) as scratch:
        return run_study(
            segments // STEPS, executor=executor, max_steps=STEPS, directory=Path(scratch)
        )


def local_sqlite_cold(pool: Pool, segments: int) -> float:
    """Row 1, cold: the same run on a fresh pool, its start-up (and imports) timed too."""
    pool.stop()
    with tempfile.TemporaryDirectory(prefix=".overhead-", dir=SCRATCH) as scratch:
        began = time.perf_counter()
        pool.executor = make_executor("local", workers=pool.workers)
        run_study(
            segments // STEPS, executor=pool.executor, max_steps=STEPS, directory=Path(scratch)
        )
        return time.perf_counter() - began


def local_memory(pool: Pool, segments: int) -> float:
    """Row 2: warm local pool, in-memory store."""
    return run_study(segments // STEPS, executor=pool.warm(), max_steps=STEPS)


def sequential(max_steps: int, sqlite: bool = False) -> Callable[[int], float]:
    """Rows 3 and 4: sequential executor, in-memory store (``sqlite``: a study directory on
    the repository's disk), the no-op as a callable."""

    def run(units: int) -> float:
        executor = make_executor("sequential")
        if not sqlite:
            return run_study(
                units // max_steps, executor=executor, max_steps=max_steps, objective=noop
            )
        with tempfile.TemporaryDirectory(prefix=".overhead-", dir=SCRATCH) as scratch:
            return run_study(
                units // max_steps,
                executor=executor,
                max_steps=max_steps,
                objective=noop,
                directory=Path(scratch),
            )

    return run


# ---------------------------------------------------------------------------------- Optuna


def load_optuna() -> ModuleType | None:
    """Optuna with its logging silenced, or None (with a message) if it is not installed."""
    try:
        import optuna
    except ImportError:
        print(f"optuna is not installed, skipping the Optuna rows: {OPTUNA_HINT}", flush=True)
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def optuna_objective(trial: Any) -> float:
    """The Optuna counterpart of the no-op: one float suggested and returned."""
    return trial.suggest_float("x", 0, 1)


def optuna_run(optuna: ModuleType, *, sampler: str, sqlite: bool = False) -> Callable[[int], float]:
    """Rows 5-7: seconds that Optuna's ``optimize`` takes for ``trials`` trials."""

    def run(trials: int) -> float:
        with tempfile.TemporaryDirectory(prefix=".overhead-", dir=SCRATCH) as scratch:
            storage = f"sqlite:///{Path(scratch) / 'optuna.db'}" if sqlite else None
            chosen = optuna.samplers.RandomSampler(seed=0) if sampler == "random" else None
            study = optuna.create_study(sampler=chosen, storage=storage)
            gc.collect()
            began = time.perf_counter()
            study.optimize(optuna_objective, n_trials=trials)
            seconds = time.perf_counter() - began
            if len(study.trials) != trials:
                raise RuntimeError(f"expected {trials} trials, Optuna has {len(study.trials)}")
            return seconds

    return run


# ------------------------------------------------------------------------------ the rows


@dataclass
class Row:
    """One line of the table: what is run, how much of it, and the rates measured."""

    key: str
    system: str
    setup: str
    unit: str  # "segments" or "trials"
    units: int  # per run
    run: Callable[[int], float]  # units -> seconds
    rates: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.rates)


def build_rows(pool: Pool, optuna: ModuleType | None, quick: bool) -> list[Row]:
    """Every row to measure, in table order (the Optuna rows only if Optuna is there)."""
    size = {name: sizes[1] if quick else sizes[0] for name, sizes in SIZES.items()}
    fs = file_system(SCRATCH)
    local = f"local, {WORKERS} workers, max_steps={STEPS}"
    rows = [
        Row(
            "1",
            "curvetune",
            f"{local}, SQLite on {fs}, warm pool",
            "segments",
            size["local-sqlite"],
            lambda n: local_sqlite(pool, n),
        ),
        Row(
            "1 cold",
            "curvetune",
            "as 1, pool start-up timed too",
            "segments",
            size["local-sqlite"],
            lambda n: local_sqlite_cold(pool, n),
        ),
        Row(
            "2",
            "curvetune",
            f"{local}, in-memory, warm pool",
            "segments",
            size["local-memory"],
            lambda n: local_memory(pool, n),
        ),
        Row(
            "3",
            "curvetune",
            "sequential, in-memory, max_steps=1",
            "trials",
            size["sequential-1"],
            sequential(1),
        ),
        Row(
            "3 sqlite",
            "curvetune",
            f"sequential, SQLite on {fs}, max_steps=1",
            "trials",
            size["sequential-1"],
            sequential(1, sqlite=True),
        ),
        Row(
            "4",
            "curvetune",
            f"sequential, in-memory, max_steps={STEPS}",
            "segments",
            size["sequential-4"],
            sequential(STEPS),
        ),
    ]
    if optuna is not None:
        rows += [
            Row(
                "5",
                "Optuna",
                "in-memory, RandomSampler(seed=0)",
                "trials",
                size["optuna-random"],
                optuna_run(optuna, sampler="random"),
            ),
            Row(
                "6",
                "Optuna",
                "in-memory, default sampler (TPESampler, unseeded)",
                "trials",
                size["optuna-tpe"],
                optuna_run(optuna, sampler="default"),
            ),
            Row(
                "7",
                "Optuna",
                f"SQLite on {fs}, RandomSampler(seed=0)",
                "trials",
                size["optuna-sqlite"],
                optuna_run(optuna, sampler="random", sqlite=True),
            ),
        ]
    return rows


def measure(rows: list[Row], repeats: int) -> None:
    """Run every row ``repeats`` times, row after row in turn, keeping units per second."""
    for repeat in range(1, repeats + 1):
        for row in rows:
            seconds = row.run(row.units)
            row.rates.append(row.units / seconds)
            print(
                f"  repeat {repeat}/{repeats}  row {row.key:<6} {row.units:>6,} {row.unit:<8} "
                f"in {seconds:6.2f} s: {row.rates[-1]:>9,.0f} {row.unit}/s",
                flush=True,
            )


# ------------------------------------------------------------------------------ the table


def file_system(path: Path) -> str:
    """The type and device of the file system holding ``path`` (from /proc/mounts)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return "the repository's disk"
    target, best = str(path.resolve()), ("", "unknown", "?")
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        device, mount, kind = parts[:3]
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best[0]):  # the last of equal mounts is visible
            best = (mount, kind, device)
    return f"{best[1]} ({best[2]})"


def version(package: str) -> str:
    """The installed version of ``package``, or "not installed"."""
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    """One line describing where and when the numbers came from."""
    return (
        f"{os.cpu_count()} CPUs (os.cpu_count()), {platform.platform()}, "
        f"Python {platform.python_version()}, curvetune {version('curvetune')}, "
        f"optuna {version('optuna')}; {time.strftime('%Y-%m-%d %H:%M')}"
    )


def targets(rows: list[Row]) -> dict[str, tuple[str, str]]:
    """(target, met) for the rows that have a target."""
    by_key = {row.key: row for row in rows}
    result = {}
    if "1" in by_key:
        met = by_key["1"].median >= TARGET_SEGMENTS_PER_S
        result["1"] = (f"≥ {TARGET_SEGMENTS_PER_S:,} segments/s", "yes" if met else "**no**")
    for key in ("3", "3 sqlite"):
        if key not in by_key:
            continue
        if "5" in by_key:
            optuna_rate = by_key["5"].median
            met = by_key[key].median >= optuna_rate
            goal = f"≥ row 5 ({optuna_rate:,.0f} trials/s)"
            result[key] = (goal, "yes" if met else "**no**")
        else:
            result[key] = ("≥ row 5 (Optuna not installed)", "not measured")
    return result


def table(rows: list[Row], repeats: int, quick: bool, load: tuple[float, float]) -> str:
    """The markdown report: machine line, table of medians, and what the rows mean."""
    goals = targets(rows)
    lines = [
        "# Controller overhead: no-op objective, curvetune vs Optuna",
        "",
        f"Machine: {machine()}.",
        "",
        f"Median of {repeats} run(s) per row{' (--quick: small n)' if quick else ''}, "
        "rows measured in turn; written by "
        f"`python benchmarks/overhead.py{' --quick' if quick else ''}`. Load average "
        f"(1 min) {load[0]:.2f} at the start, {load[1]:.2f} at the end.",
        "",
        "| row | system | setup | n per run | median /s | min–max /s | µs per unit "
        "| target | met |",
        "|---|---|---|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        goal, met = goals.get(row.key, ("—", "—"))
        lines.append(
            f"| {row.key} | {row.system} | {row.setup} | {row.units:,} {row.unit} "
            f"| {row.median:,.0f} {row.unit}/s | {min(row.rates):,.0f}–{max(row.rates):,.0f} "
            f"| {1e6 / row.median:,.0f} | {goal} | {met} |"
        )
    lines += [
        "",
        "- Objective: curvetune's `curvetune.testing:noop` (reports `loss=0.0` once at "
        "`ctx.until`), one `Float(0, 1)` parameter, random search, FIFO `segment=1`; "
        'Optuna\'s `lambda t: t.suggest_float("x", 0, 1)`.',
        f"- A segment is one submitted unit of work; with `max_steps={STEPS}` each trial is "
        f"{STEPS} segments (trials/s = segments/s ÷ {STEPS}).",
        "- Timed: `optimize` only (study creation excluded), except `1 cold`, which also "
        "times `make_executor` and the start of the worker processes.",
        f'- Local rows share one `make_executor("local", workers={WORKERS})` object, '
        f"warmed by an untimed {WARMUP_TRIALS}-trial study.",
        "- SQLite files (curvetune's study directory and Optuna's database) live in fresh "
        "temp dirs under `benchmarks/` (the repository's disk, not a RAM disk).",
        "- Row 6 uses fewer trials: TPE's cost per trial grows with the number of trials, so "
        "its rate depends on n. Row 7 uses few trials because it is slow.",
    ]
    if not any(row.system == "Optuna" for row in rows):
        lines.append(f"- Optuna rows skipped: optuna is not installed ({OPTUNA_HINT}).")
    return "\n".join(lines) + "\n"


# -------------------------------------------------------------------------------- profile


def profile(pool: Pool, segments: int, top: int = 25) -> None:
    """cProfile the controller process during one row-1 run (the workers are not seen)."""
    pool.warm()
    profiler = cProfile.Profile()
    profiler.enable()
    local_sqlite(pool, segments)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        print(f"\ncProfile of row 1 ({segments:,} segments), controller process, by {order}:")
        pstats.Stats(profiler).sort_stats(order).print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small n, 1 repeat (< 20 s)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per row (default 3)")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"markdown file to write (default {RESULTS.relative_to(ROOT)}; none with --quick)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile the controller during row 1"
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    output = args.output or (None if args.quick else RESULTS)
    print(machine(), flush=True)
    optuna = load_optuna()
    pool = Pool(WORKERS)
    load_start = os.getloadavg()[0]
    try:
        rows = build_rows(pool, optuna, args.quick)
        measure(rows, repeats)
        if args.profile:
            profile(pool, rows[0].units)
    finally:
        pool.stop()
    report = table(rows, repeats, args.quick, (load_start, os.getloadavg()[0]))
    print()
    print(report)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report)
        print(f"written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
