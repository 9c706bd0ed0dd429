"""What one proposal costs a searcher, with 100, 1,000 and 10,000 finished trials.

Run from the repository root (``PYTHONPATH=src`` if curvetune is not installed)::

    python benchmarks/searcher_cost.py           # about 3 minutes on 2 cores
    python benchmarks/searcher_cost.py --quick   # 100 and 1,000 trials only

Each history holds n finished trials of the seven-parameter LCBench space with 50-step
curves, 70% of them stopped at a random step (a study under early stopping). The searcher
makes its first proposal (which builds its Optuna mirror: the cost of a resumed study's
first proposal), then 20 proposals, each after one more finished trial joined the history
(the steady state of a running study). Reported: the first proposal, and the median and
90th percentile of the others, in wall milliseconds and controller CPU milliseconds
(``time.process_time``). TPE refits its Parzen estimators on all trials each time (Optuna
has no incremental fit); the GP fits on the newest ``window`` (100) finished trials.

Writes ``benchmarks/results/searcher_cost.md`` and ``searcher_cost.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from curvetune.bench.oracles import LCBENCH_SPACE
from curvetune.searchers import make_searcher
from curvetune.types import History, Report, Trial, TrialState

RESULTS = Path(__file__).parent / "results"
STEPS = 50
CASES = [
    ("random", {}),
    ("evolution", {}),
    ("sobol", {}),
    ("tpe", {"stopped": "pruned"}),
    ("tpe", {"stopped": "predicted"}),
    ("tpe", {"stopped": "rung"}),
    ("gp", {}),
]


def finished_trial(trial_id: int, rng: np.random.Generator) -> Trial:
    stopped = rng.random() < 0.7
    last = int(rng.integers(5, 26)) if stopped else STEPS
    curve = np.cumsum(rng.random(last)) / STEPS
    reports = tuple(Report(s + 1, {"acc": float(v)}) for s, v in enumerate(curve))
    state = TrialState.STOPPED if stopped else TrialState.COMPLETED
    return Trial(trial_id, LCBENCH_SPACE.sample(rng), 0, state, reports, last)


def measure(name: str, options: dict, n: int, proposals: int) -> dict:
    rng = np.random.default_rng(n)
    history = History(metric="acc", mode="max", max_steps=STEPS)
    for i in range(n):
        history._put(finished_trial(i, rng))
    searcher = make_searcher(name, **options)
    draw = np.random.default_rng(1)
    began = time.perf_counter()
    searcher.suggest(LCBENCH_SPACE, history, draw)
    first = time.perf_counter() - began
    wall, cpu = [], []
    for j in range(proposals):
        history._put(finished_trial(n + j, rng))
        w, c = time.perf_counter(), time.process_time()
        searcher.suggest(LCBENCH_SPACE, history, draw)
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    label = name + (f"[{options['stopped']}]" if "stopped" in options else "")
    return {
        "searcher": label,
        "finished": n,
        "first_ms": round(first * 1e3, 2),
        "median_ms": round(statistics.median(wall) * 1e3, 2),
        "p90_ms": round(float(np.percentile(wall, 90)) * 1e3, 2),
        "median_cpu_ms": round(statistics.median(cpu) * 1e3, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    sizes = (100, 1000) if args.quick else (100, 1000, 10000)
    rows = []
    for n in sizes:
        for name, options in CASES:
            if name == "gp" and n > 1000:
                continue  # the window makes it the 1,000 figure; building 10k is the only extra
            row = measure(name, options, n, proposals=20 if n <= 1000 else 8)
            rows.append(row)
            print(row, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "searcher_cost.json").write_text(json.dumps(rows, indent=1))
    lines = [
        "# What one proposal costs",
        "",
        f"Written by `python benchmarks/searcher_cost.py` on {datetime.now():%Y-%m-%d %H:%M} "
        f"({os.cpu_count()} cores, {platform.processor() or platform.machine()}, no GPU). "
        "Seven LCBench parameters, 50-step curves, 70% of trials stopped early. *First*: the "
        "first proposal on that history (builds the Optuna mirror, as after a resume); "
        "*median*/*p90*: the next proposals, each after one more finished trial.",
        "",
        "| searcher | finished trials | first ms | median ms | p90 ms | median CPU ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['searcher']} | {r['finished']:,} | {r['first_ms']:.1f} | {r['median_ms']:.1f} "
            f"| {r['p90_ms']:.1f} | {r['median_cpu_ms']:.1f} |"
        )
    (args.out / "searcher_cost.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
