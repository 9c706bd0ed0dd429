"""Real training on the bundled MNIST: the model-based searchers against random search, all
with LCM stopping (the quickstart's setting).

For each seed, three studies of the 3-layer MLP (SGD, the space of ``mnist_lcm.py``) with
the same budget (40 trials x 8 epochs, 2 local workers): ``random+lcm``, ``tpe+lcm`` and
``gp+lcm``, interleaved. Reported: mean and median over seeds of the best validation
accuracy, and the seeds where each model-based searcher's best is higher than random's.
The quickstart switches searcher only if one wins here.

    python benchmarks/mnist_search.py             # 5 seeds, about 25 minutes on 2 cores
    python benchmarks/mnist_search.py --seeds 1 --trials 6 --epochs 2   # a smoke run

Writes ``benchmarks/results/mnist_search.md`` and ``mnist_search.json``; a run already
recorded in the json is not repeated (a crash loses only the study in progress).
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

from mnist_lcm import BUDGETS, RESULTS, run_study

SEARCHERS = ("random", "tpe", "gp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=BUDGETS["mlp"][0])
    parser.add_argument("--epochs", type=int, default=BUDGETS["mlp"][1])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "mnist_search.json"
    runs = json.loads(log.read_text()) if log.exists() else []
    done = {(r["searcher"], r["seed"], r["trials"], r["epochs_per_trial"]) for r in runs}
    began = time.perf_counter()
    for seed in range(args.seeds):
        for searcher in SEARCHERS:  # interleaved, so machine load hits both arms alike
            if (searcher, seed, args.trials, args.epochs) in done:
                continue
            run = run_study("mlp", "lcm", seed, args.trials, args.epochs, args.workers, {},
                            searcher=searcher)  # fmt: skip
            run.update(trials=args.trials, epochs_per_trial=args.epochs)
            runs.append(run)
            log.write_text(json.dumps(runs, indent=1))
            print(f"seed {seed} {searcher}+lcm: best {run['best_val_accuracy']:.4f} "
                  f"({run['seconds']:.0f} s)", flush=True)  # fmt: skip
    mine = [r for r in runs if r["trials"] == args.trials and r["epochs_per_trial"] == args.epochs]
    (args.out / "mnist_search.md").write_text(markdown(mine, args, time.perf_counter() - began))
    print((args.out / "mnist_search.md").read_text())


def markdown(runs: list[dict], args: argparse.Namespace, seconds: float) -> str:
    best = {s: {r["seed"]: r["best_val_accuracy"] for r in runs if r["searcher"] == s}
            for s in SEARCHERS}  # fmt: skip
    seeds = sorted(set.intersection(*(set(b) for b in best.values())))
    lines = [
        "# TPE and GP vs random search, all with LCM: real training on the bundled MNIST",
        "",
        f"3-layer MLP, SGD; {args.trials} trials x {args.epochs} epochs per study, "
        f"{args.workers} local workers; written by `python benchmarks/mnist_search.py` on "
        f"{datetime.now():%Y-%m-%d %H:%M} ({os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}, no GPU).",
        "",
        "| searcher | best val accuracy, mean | median | per seed |",
        "|---|---:|---:|---|",
    ]
    for s in SEARCHERS:
        values = [best[s][k] for k in seeds]
        if values:
            lines.append(f"| {s}+lcm | {statistics.mean(values):.4f} | "
                         f"{statistics.median(values):.4f} | "
                         + ", ".join(f"{v:.4f}" for v in values) + " |")  # fmt: skip
    lines.append("")
    for s in SEARCHERS[1:]:
        wins = sum(best[s][k] > best["random"][k] for k in seeds)
        lines.append(f"- {s}'s best is higher than random's on {wins} of {len(seeds)} seeds.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
