"""How LCM's defaults were chosen: candidate settings on the 34 YAHPO tables only.

The real LCBench table (and any real tables kept aside) are never used here, so the defaults
are not tuned to real curves. Each candidate runs through the same comparison as
``benchmarks/stopping.py`` (200 trials, 4 virtual workers, FIFO as the reference), with 10
seeds to keep a round under ten minutes on 2 cores.

    python benchmarks/tune_lcm.py                      # the candidates below
    python benchmarks/tune_lcm.py --seeds 20 --only lcm matched-halving
    python benchmarks/tune_lcm.py --round 2 --seeds 3 --jobs 1   # the interval rule (alpha)
    python benchmarks/tune_lcm.py --round 3 --seeds 5            # the interval rule + confirm
    python benchmarks/tune_lcm.py --round 4 --seeds 10           # protect the top (--workers 1|4)

Candidates are LCMScheduler options over the pre-tuning base (k=3, 10 complete trainings,
threshold 0.5, "match" prediction) or registry names; round 2's are whole option sets of
the interval rule. Prints, per candidate, the tables it passes on the full bar (median
speedup >= 2, final regret within 0.005 of FIFO's, at most 15% of the true top 5% stopped)
and on speed and regret only, its false-stop rate (mean and worst table) and the median of
its speedups. The results of the rounds that chose the shipped
defaults are in ``docs/lcm.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from pathlib import Path

import numpy as np

from curvetune.bench.stopping import Settings, bench_table
from curvetune.schedulers import SCHEDULERS
from curvetune.schedulers.lcm import LCMScheduler

CURVES = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "curves"
BASE = {"k": 3, "min_complete": 10, "threshold": 0.5, "predict": "match"}

CANDIDATES: dict[str, dict | None] = {
    "fifo": None,
    "asha10": None,
    "topk10": None,
    "median10": None,
    "base": {},
    "k5": {"k": 5},
    "threshold0.6": {"threshold": 0.6},
    "normalize": {"normalize": True},
    "current": {"predict": "current"},
    "current-m5": {"predict": "current", "min_complete": 5},
    "trend-k5": {"predict": "trend", "k": 5},
    "trend-k5-m5": {"predict": "trend", "k": 5, "min_complete": 5},
    "trend-k5-m5-t0.55": {"predict": "trend", "k": 5, "min_complete": 5, "threshold": 0.55},
    "trend-k5-t0.7": {"predict": "trend", "k": 5, "threshold": 0.7},
    "matched-halving": None,
}


# Round 2 (2026-12-01): the interval rule, whole option sets over LCM's dataclass defaults.
ROUND2: dict[str, dict | None] = {
    "fifo": None,
    "asha10": None,
    "lcm": None,
    "a0.3-t0.55": {"alpha": 0.3},
    "a0.3-t0.5": {"alpha": 0.3, "threshold": 0.5},
    "a0.3-t0.45": {"alpha": 0.3, "threshold": 0.45},
    "a0.3-t0.45-e0.05": {"alpha": 0.3, "threshold": 0.45, "every": 0.05},
    "a0.3-t0.42": {"alpha": 0.3, "threshold": 0.42},
    "a0.35-t0.45": {"alpha": 0.35, "threshold": 0.45},
    "a0.3-t0.4-k10": {"alpha": 0.3, "threshold": 0.4, "k": 10},
    "a0.3-t0.45-f0.05": {"alpha": 0.3, "threshold": 0.45, "first_check": 0.05},
    "a0.25-t0.5": {"alpha": 0.25, "threshold": 0.5},
    "a0.2-t0.45-e0.05": {"alpha": 0.2, "threshold": 0.45, "every": 0.05},
}


# Round 3 (2026-12-02): the interval rule with ``confirm`` (a stop also needs the current
# value to rank past the threshold), which protects the late bloomers, so the interval can
# be bolder: larger alpha, lower thresholds.
ROUND3: dict[str, dict | None] = {
    "fifo": None,
    "lcm-interval": None,
    "lcm-interval-confirm": None,
    "c-a0.3-t0.4": {"alpha": 0.3, "threshold": 0.4, "every": 0.05, "confirm": True},
    "c-a0.4-t0.45": {"alpha": 0.4, "threshold": 0.45, "every": 0.05, "confirm": True},
    "c-a0.4-t0.4": {"alpha": 0.4, "threshold": 0.4, "every": 0.05, "confirm": True},
    "c-a0.5-t0.45": {"alpha": 0.5, "threshold": 0.45, "every": 0.05, "confirm": True},
    "c-a0.5-t0.4": {"alpha": 0.5, "threshold": 0.4, "every": 0.05, "confirm": True},
    "c-a0.3-t0.45-e0.1": {"alpha": 0.3, "threshold": 0.45, "confirm": True},
}


# Round 4 (2026-12-02): protect the top instead of the median. A false stop is a stop of a
# top configuration, so the bound to test is "could this trial still end among the best":
# a more optimistic bound (small alpha) against a low threshold (the share of completed
# trainings better than it).
ROUND4: dict[str, dict | None] = {
    "fifo": None,
    "lcm-interval-confirm": None,
    **{
        f"p-a{a}-t{t}": {"alpha": a, "threshold": t, "every": 0.05}
        for a, t in ((0.1, 0.2), (0.1, 0.3), (0.2, 0.2), (0.2, 0.3), (0.05, 0.15), (0.3, 0.3))
    },
    "p-a0.2-t0.3-c": {"alpha": 0.2, "threshold": 0.3, "every": 0.05, "confirm": True},
    "p-a0.1-t0.2-c": {"alpha": 0.1, "threshold": 0.2, "every": 0.05, "confirm": True},
}


def register(candidates: dict[str, dict | None], base: dict) -> None:
    """Candidates with options become temporary registry presets (in this process only)."""
    for name, options in candidates.items():
        if options is not None:
            SCHEDULERS[f"tune:{name}"] = (LCMScheduler, {**base, **options})


def scheduler_name(name: str, options: dict | None) -> str:
    return name if options is None else f"tune:{name}"


def one_table(args: tuple[str, Settings]) -> dict:
    path, settings = args
    result = bench_table(path, settings)
    return result["schedulers"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--only", nargs="*", help="candidate names to run (default: all)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--round", type=int, choices=(1, 2, 3, 4), default=1)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    rounds = {1: (CANDIDATES, BASE), 2: (ROUND2, {}), 3: (ROUND3, {}), 4: (ROUND4, {})}
    pool_of, base = rounds[args.round]
    if not CURVES.is_dir():
        print(f"tune_lcm.py: error: no curve tables at {CURVES}", file=sys.stderr)
        return 2
    candidates = {
        name: options
        for name, options in pool_of.items()
        if not args.only or name in args.only or name == "fifo"
    }
    register(candidates, base)
    names = tuple(scheduler_name(n, o) for n, o in candidates.items())
    settings = Settings(schedulers=names, seeds=args.seeds, trials=200, workers=args.workers)
    tables = sorted(str(p) for p in CURVES.glob("lcbench-yahpo-*.npz"))
    # fork: the workers inherit the temporary presets registered above.
    with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
        results = pool.map(one_table, [(t, settings) for t in tables])
    for name, options in candidates.items():
        key = scheduler_name(name, options)
        rows = [r[key] for r in results]
        half = sum(r["passes"] for r in rows)
        full = sum(r["passes_full"] for r in rows)
        rates = [r["false_stop_rate"] or 0.0 for r in rows]
        speedup = np.median([r["median_speedup"] or 0.0 for r in rows])
        print(
            f"{name:20s} full bar {full:2d}  speed+regret {half:2d}/{len(tables)}  "
            f"false stops {np.mean(rates):6.1%} (worst {np.max(rates):5.1%})  "
            f"median speedup {speedup:.2f}  {options if options is not None else ''}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
