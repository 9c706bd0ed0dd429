"""Early-stopping schedulers against FIFO on all 35 LCBench curve tables.

Run it from the repository root (``PYTHONPATH=src`` if curvetune is not installed)::

    python benchmarks/stopping.py               # 35 tables x 20 seeds x 200 trials, 4 workers
    python benchmarks/stopping.py --workers 1   # the same with 1 virtual worker
    python benchmarks/stopping.py --quick       # 3 tables x 3 seeds x 50 trials; prints only

The tables are read from ``../shared/benchmarks/curves/`` next to the repository (see the
README there). Every scheduler in the registry takes part (fifo, median, median10, asha,
asha10, topk, topk10, lcm, lcm-safe, lcm-k1, lcm-last: whichever exist when it runs), each
on the same configurations in the same order per table and seed, ``--workers`` virtual
workers (default 4), metric ``val_accuracy``; the work is ``curvetune bench stopping ...
--jobs 2`` (``--jobs``).

With 4 workers, full results go to ``benchmarks/results/stopping/`` (results.json,
results.md, runs.csv, anytime/<table>.png) and the tables with the command, date and
machine to ``benchmarks/results/stopping.md``; with 1 worker to ``stopping-1worker/`` and
``stopping-1worker.md`` (N workers: ``stopping-Nworkers``). When the results of both 4 and
1 worker are there, ``stopping-summary.md`` puts their full bar and false stops side by
side. ``--out DIR`` stands in for ``benchmarks/results`` (the same names under DIR);
``--quick`` without ``--out`` writes to a temporary folder and prints the tables, leaving
the committed results alone.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from curvetune import __version__  # noqa: E402
from curvetune.cli import main as cli_main  # noqa: E402
from curvetune.schedulers import SCHEDULERS  # noqa: E402

CURVES = ROOT.parent / "shared" / "benchmarks" / "curves"
RESULTS = ROOT / "benchmarks" / "results"
PREFERRED = (
    "fifo",
    "median",
    "median10",
    "asha",
    "asha10",
    "topk",
    "topk10",
    "lcm",
    "lcm-interval",
    "lcm-safe",
    "lcm-k1",
    "lcm-last",
)
FULL = {"seeds": 20, "trials": 200, "tables": None}
QUICK = {"seeds": 3, "trials": 50, "tables": 3}
HEADLINE_WORKERS = (4, 1)  # the worker counts the summary puts side by side
SUMMARY = "stopping-summary.md"


NOT_STOPPING_RULES = {"pbt"}  # trains a population; nothing to compare on replayed curves


def scheduler_list() -> list[str]:
    """Every registered stopping rule: the issue's order first, then any others by name."""
    known = [name for name in PREFERRED if name in SCHEDULERS]
    return known + sorted(set(SCHEDULERS) - set(known) - NOT_STOPPING_RULES)


def machine() -> str:
    """CPU count and model, OS, Python and curvetune versions (no host name)."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = " " + line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} CPUs{model}, {platform.platform()}, "
        f"Python {platform.python_version()}, curvetune {__version__}"
    )


def timing_lines(results: dict) -> list[str]:
    """Wall seconds per table (all seeds and schedulers) and per scheduler (summed)."""
    tables = list(results["tables"].values())
    per_table = [t["seconds"] for t in tables]
    lines = [
        f"- Seconds per table (all seeds, all schedulers, one process): median "
        f"{statistics.median(per_table):.1f}, min {min(per_table):.1f}, "
        f"max {max(per_table):.1f}.",
    ]
    for name in results["settings"]["schedulers"]:
        seconds = [t["schedulers"][name]["seconds"] for t in tables]
        lines.append(
            f"- `{name}`: median {statistics.median(seconds):.2f} s per table "
            f"({results['settings']['seeds']} seeds of {results['settings']['trials']} trials)."
        )
    return lines


def result_name(workers: int) -> str:
    """The results' name for a worker count: ``stopping`` (4, the headline),
    ``stopping-1worker``, ``stopping-<N>workers``."""
    if workers == 4:
        return "stopping"
    return f"stopping-{workers}worker{'s' if workers != 1 else ''}"


def worker_label(workers: int) -> str:
    return f"{workers} worker{'s' if workers != 1 else ''}"


def write_summary(base: Path) -> Path | None:
    """``base/stopping-summary.md`` from the results of 4 and 1 worker under ``base``, when
    both exist; None (nothing written) otherwise."""
    from curvetune.bench.output import combined_markdown

    found = {workers: base / result_name(workers) / "results.json" for workers in HEADLINE_WORKERS}
    if not all(path.is_file() for path in found.values()):
        return None
    runs = {worker_label(w): json.loads(path.read_text()) for w, path in found.items()}
    links = ", ".join(f"[{result_name(w)}.md]({result_name(w)}.md)" for w in HEADLINE_WORKERS)
    text = combined_markdown(runs) + f"\nPer-table results: {links}.\n"
    path = base / SUMMARY
    path.write_text(text)
    return path


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (no machine paths in results)."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return path.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 tables, 3 seeds, 50 trials")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    parser.add_argument(
        "--workers",
        type=int,
        default=4,
        help="virtual workers (default 4; 1 for the 1-worker results)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="folder in place of benchmarks/results: gets stopping[-1worker]/, its .md and the "
        "4-and-1-worker summary",
    )
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be a whole number >= 1, got {args.workers}")

    if not CURVES.is_dir():
        print(
            f"stopping.py: error: no curve tables at {CURVES} (expected the shared "
            "benchmarks/curves folder next to the repository)",
            file=sys.stderr,
        )
        return 2
    size = QUICK if args.quick else FULL
    tables = sorted(CURVES.glob("*.npz"))[: size["tables"]]
    if not tables:
        print(f"stopping.py: error: no .npz tables in {CURVES}", file=sys.stderr)
        return 2
    if args.out:
        base = args.out
    elif args.quick:
        base = Path(tempfile.mkdtemp(prefix="curvetune-stopping-quick-"))
    else:
        base = RESULTS
    name = result_name(args.workers)
    out = base / name
    schedulers = scheduler_list()
    command = ["python", "benchmarks/stopping.py", *(argv if argv is not None else sys.argv[1:])]
    began, started = time.perf_counter(), datetime.datetime.now()
    status = cli_main(
        [
            "bench",
            "stopping",
            *(arg for path in tables for arg in ("--table", str(path))),
            "--schedulers",
            ",".join(schedulers),
            "--seeds",
            str(size["seeds"]),
            "--trials",
            str(size["trials"]),
            "--workers",
            str(args.workers),
            "--metric",
            "val_accuracy",
            "--jobs",
            str(args.jobs),
            "--out",
            str(out),
        ]
    )
    if status != 0:
        return status
    wall = time.perf_counter() - began
    results = json.loads((out / "results.json").read_text())
    written = (
        f"Written by `{' '.join(command)}` on {started:%Y-%m-%d %H:%M}, "
        f"{wall / 60:.1f} min wall time with {args.jobs} process(es)."
    )
    run = [
        "",
        "## The run",
        "",
        f"Machine: {machine()}.",
        "",
        *timing_lines(results),
        "",
        f"Per-table anytime plots, per-run numbers (runs.csv) and results.json: `{_shown(out)}/`.",
    ]
    report = (out / "results.md").read_text()
    title, _, body = report.partition("\n")
    text = title + "\n\n" + written + "\n" + body + "\n".join(run) + "\n"
    if args.quick and not args.out:
        print(text)
        print(f"(quick run: results in {out}; benchmarks/results left alone)")
        return 0
    path = base / f"{name}.md"
    path.write_text(text)
    print(f"wrote {path}")
    summary = write_summary(base)
    if summary is not None:
        print(f"wrote {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
