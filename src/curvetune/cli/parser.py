"""The command line's grammar: every command, argument and its help text."""

from __future__ import annotations

import argparse
from pathlib import Path

STUDY_DIR = "the study's directory (holds study.db)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="curvetune", description="Tune the hyperparameters of neural networks."
    )
    parser.add_argument("--version", action="version", version=f"curvetune {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a study file (continues it if already started)")
    run.add_argument("study", type=Path, help="the study's TOML file")
    run.add_argument(
        "--executor", help="override [executor] name: local | sequential | mpi | dask | batched"
    )
    run.add_argument("--workers", type=int, help="override [executor] workers")
    run.add_argument("--batch", type=int, help="batched: override [executor] batch")
    run.add_argument("--device", help="batched: override [executor] device (auto|cpu|cuda|cuda:N)")
    run.add_argument("--address", help="dask: join the scheduler at tcp://HOST:8786")
    run.add_argument(
        "--segment-timeout",
        type=float,
        help="override [executor] segment_timeout (seconds)",
    )
    run.add_argument("--trials", type=int, help="override [budget] trials")
    run.add_argument("--directory", type=Path, help="override [study] directory")
    run.add_argument("--quiet", action="store_true", help="no progress display")

    status = sub.add_parser("status", help="trials by state, budget used, best so far")
    status.add_argument("directory", type=Path, help=STUDY_DIR)

    best = sub.add_parser("best", help="the best trial and its checkpoint (JSON)")
    best.add_argument("directory", type=Path, help=STUDY_DIR)

    export = sub.add_parser("export", help="every trial as CSV or JSON")
    export.add_argument("directory", type=Path, help=STUDY_DIR)
    export.add_argument(
        "--format", choices=("csv", "json"), default="csv", help="csv (default) or json"
    )
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")

    report = sub.add_parser("report", help="the study's report: report.html and PNG figures")
    report.add_argument("directory", type=Path, help=STUDY_DIR)
    report.add_argument(
        "-o",
        "--output",
        type=Path,
        help="FILE.html: only that page; else a folder for the PNG figures, stops.md and "
        "report.html (default: DIR/report)",
    )

    schedule = sub.add_parser(
        "pbt-schedule", help="the learning-rate schedule a PBT member followed (replayable)"
    )
    schedule.add_argument("directory", type=Path, help=STUDY_DIR + " (a PBT study)")
    schedule.add_argument("--trial", type=int, help="member (default: the best)")
    schedule.add_argument(
        "-o", "--output", type=Path, help="JSON file (default: DIR/pbt-schedule.json)"
    )

    bench = sub.add_parser("bench", help="benchmarks on learning-curve tables and a surrogate")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    stopping = bench_sub.add_parser(
        "stopping", help="compare early-stopping schedulers with FIFO on curve tables"
    )
    stopping.add_argument(
        "--table",
        type=Path,
        action="append",
        required=True,
        help="a curve table (.npz), or a folder of them; repeat for more",
    )
    stopping.add_argument(
        "--schedulers", default="fifo", help="comma-separated names (fifo is always added)"
    )
    stopping.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (default 20)")
    stopping.add_argument("--trials", type=int, default=200, help="trials per study (default 200)")
    stopping.add_argument("--workers", type=int, default=4, help="virtual workers (default 4)")
    stopping.add_argument("--metric", default="val_accuracy", help="metric (default val_accuracy)")
    stopping.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    stopping.add_argument("--out", type=Path, default=Path("bench-stopping"), help="results folder")
    stopping.add_argument("--quiet", action="store_true", help="no progress display")
    _search_arguments(bench_sub)

    experiment = sub.add_parser("experiment", help="reproducible MNIST learning-rate experiments")
    experiment.add_argument("name", choices=("dynamic-lr", "pbt-lr"), help="which experiment")
    experiment.add_argument(
        "--out", type=Path, help="results folder (default: runs/experiments/NAME)"
    )
    experiment.add_argument("--quick", action="store_true", help="tiny run to check the pipeline")
    experiment.add_argument("--seeds", type=int, help="seeds 0..N-1 (default 3; quick: 1)")
    experiment.add_argument("--steps", type=int, help="steps per run (default 30; quick: 3/2)")
    experiment.add_argument(
        "--population", type=int, help="pbt-lr: PBT population (default 16; quick: 4)"
    )
    experiment.add_argument(
        "--workers", type=int, help="segments run at once (default 2; quick: 1, in process)"
    )
    experiment.add_argument(
        "--executor",
        choices=("local", "sequential", "batched"),
        help="where the training runs (default local; quick: sequential); batched: each "
        "worker trains its share of the members in one pass",
    )

    dashboard = sub.add_parser("dashboard", help="a live, read-only web page of a study")
    dashboard.add_argument("directory", type=Path, help=STUDY_DIR)
    dashboard.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    dashboard.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)"
    )
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("curvetune")
    except PackageNotFoundError:
        return "unknown"


def _search_arguments(bench_sub) -> None:
    search = bench_sub.add_parser(
        "search", help="compare searchers x schedulers (and Optuna) on a surrogate or tables"
    )
    where = search.add_mutually_exclusive_group(required=True)
    where.add_argument("--surrogate", type=Path, help="the YAHPO LCBench surrogate's folder")
    where.add_argument(
        "--table", type=Path, action="append", help="search among a curve table's configs; repeat"
    )
    search.add_argument(
        "--task", action="append", help="surrogate task id; repeat, or 'all' (default: all)"
    )
    search.add_argument("--searchers", default="random,evolution,tpe,gp",
                        help="comma-separated; NAME[TREATMENT] for a stopped-trial treatment, "
                        "e.g. tpe[predicted] (default random,evolution,tpe,gp)")  # fmt: skip
    search.add_argument("--schedulers", default="fifo,asha10,lcm", help="comma-separated")
    search.add_argument("--extra", default="", help="more SEARCHER+SCHEDULER combinations")
    search.add_argument(
        "--peers", default="", help="'optuna' (all three) or comma-separated peer names"
    )
    search.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    search.add_argument("--budget", type=int, default=50, help="full trainings (default 50)")
    search.add_argument("--workers", type=int, default=4, help="virtual workers (default 4)")
    search.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    search.add_argument("--out", type=Path, default=Path("bench-search"), help="results folder")
    search.add_argument("--quiet", action="store_true", help="no progress display")
