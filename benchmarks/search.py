"""The search comparison of the README, in parts that fit a 2-core machine.

``curvetune bench search`` runs any comparison in one go; this script runs the one the
README reports in parts, keeps each part's raw traces, and writes the merged report::

    python benchmarks/search.py --part main      # ~20 min: random, evolution, tpe (+ its
                                                 # stopped-trial variants) x fifo, asha10,
                                                 # lcm, and the three Optuna peers; 10 seeds
    python benchmarks/search.py --part cmaes     # ~5 min, 10 seeds
    python benchmarks/search.py --part gp        # ~35 min: the GP on 3 seeds only (each
                                                 # proposal costs ~0.2 s: see searcher_cost.md)
    python benchmarks/search.py --part tables    # ~5 min: --table mode on the real table
                                                 # and the project's three tables
    python benchmarks/search.py --part report    # merge and write

All on the 34 tasks of the YAHPO LCBench surrogate (``benchmarks/yahpo-lcbench``), budget
50 full trainings, 4 virtual workers. Writes ``benchmarks/results/search/`` (surrogate)
and ``benchmarks/results/search-tables/`` (tables); raw traces in ``raw-PART.json`` there.
The real LCBench table is read from ``../shared/benchmarks/curves`` when present.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from curvetune.bench import search, search_report
from curvetune.bench.optuna_peers import PEERS

HERE = Path(__file__).parent
SURROGATE = HERE / "yahpo-lcbench"
RESULTS = HERE / "results"
REAL_TABLE = HERE.parent.parent / "shared/benchmarks/curves/lcbench-real-blood-transfusion.npz"
PROJECT_TABLES = sorted((HERE / "tables").glob("*.npz"))
SCHEDULERS = ("fifo", "asha10", "lcm")
# tpe alone is tpe[rung], the default treatment of stopped trials; the other two beside it
VARIANTS = tuple(f"tpe[{t}]+{s}" for t in ("predicted", "pruned") for s in ("lcm", "asha10"))

PARTS = {
    "main": dict(searchers=("random", "evolution", "tpe"), peers=tuple(PEERS), extra=VARIANTS),
    # tpe[predicted]+asha10 again: the main part ran before a trial ASHA stops ahead of any
    # completion became a pruned observation (it had stayed "running"); the merge keeps this.
    "cmaes": dict(searchers=("cmaes",), extra=("tpe[predicted]+asha10",)),
    "gp": dict(searchers=("gp",), seeds=3),
    "tables": dict(searchers=("random", "evolution", "tpe"), peers=tuple(PEERS), extra=VARIANTS),
}


def run(part: str, jobs: int) -> None:
    options = {"schedulers": SCHEDULERS, "seeds": 10, "budget": 50, "workers": 4}
    options.update(PARTS[part])
    settings = search.SearchSettings(**options)
    if part == "tables":
        tables = ([REAL_TABLE] if REAL_TABLE.exists() else []) + PROJECT_TABLES
        if not REAL_TABLE.exists():
            print(f"note: {REAL_TABLE} is missing; only the project's tables", file=sys.stderr)
        sources = [f"table:{path}" for path in tables]
        out = RESULTS / "search-tables"
    else:
        sources = search.surrogate_sources(SURROGATE, ["all"])
        out = RESULTS / "search"
    out.mkdir(parents=True, exist_ok=True)
    began, cpu = time.perf_counter(), time.process_time()
    raw = search.compare(sources, settings, jobs=jobs, done=lambda task: print(task, flush=True))
    raw["wall_seconds"] = round(time.perf_counter() - began, 1)
    raw["controller_cpu_seconds"] = round(time.process_time() - cpu, 1)
    (out / f"raw-{part}.json").write_text(json.dumps(raw))
    print(f"{part}: {raw['wall_seconds']} s wall, {os.cpu_count()} cores, {jobs} job(s)")


def merged(out: Path, parts: list[str]) -> dict:
    """One raw comparison from the parts' traces (the settings of the first, with the
    others' searchers, seeds and wall times noted). A part run with ``first_seed`` > 0
    adds seeds to the combinations it shares with earlier parts; any other part replaces
    them."""
    raws = [json.loads((out / f"raw-{p}.json").read_text()) for p in parts
            if (out / f"raw-{p}.json").exists()]  # fmt: skip
    base = raws[0]
    base["settings"]["parts"] = [
        {"searchers": r["settings"]["searchers"], "schedulers": r["settings"]["schedulers"],
         "seeds": r["settings"]["seeds"], "first_seed": r["settings"].get("first_seed", 0),
         "wall_seconds": r.get("wall_seconds")}
        for r in raws
    ]  # fmt: skip
    for other in raws[1:]:
        extends = other["settings"].get("first_seed", 0) > 0  # more seeds of what ran before
        for task, result in other["tasks"].items():
            traces = base["tasks"][task]["traces"]
            for combo, runs in result["traces"].items():
                traces[combo] = [*traces[combo], *runs] if extends else runs
    return base


def report() -> None:
    for name, parts in (
        ("search", ["main", "cmaes", "gp"]),
        ("search-tables", ["tables"]),
    ):
        out = RESULTS / name
        if not (out / f"raw-{parts[0]}.json").exists():
            continue
        summary = search_report.summarise(merged(out, parts))
        for path in search_report.write(summary, out):
            print("wrote", path)
        print(json.dumps(summary["claims"], indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=[*PARTS, "report"], required=True)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if args.part == "report":
        report()
    else:
        run(args.part, args.jobs)


if __name__ == "__main__":
    main()
