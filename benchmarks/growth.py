"""Does a decision cost the same in the 100th and the 100,000th trial?

Run from the repository root (``PYTHONPATH=src`` if curvetune is not installed)::

    python benchmarks/growth.py            # the full table, about 10 minutes on 2 cores
    python benchmarks/growth.py --quick    # 2,000 trials a study, for a look

Measured (every study: sequential executor, SQLite store in a temporary directory, a
no-op curve objective that declares itself stateless, 10 one-step segments per trial):

1. **Growth**: controller CPU time (``time.process_time``, which includes the no-op
   objective) per trial in the first and the last tenth of a 20,000-trial study, for FIFO,
   median, ASHA, LCM and matched halving, and of a 100,000-trial FIFO study. Each study runs
   in a fresh process, which also reports its peak memory (``ru_maxrss``).
2. **Re-open**: a fresh process opens each finished store (``Study.load``, which replays
   the log into a ``History``): wall time and peak memory, against the live controller's.
3. **Long trials**: controller CPU per segment of FIFO studies of 40,000 one-step
   segments, as 400 trials of 100 steps and as 8 trials of 5,000 (a segment must not cost
   in proportion to its trial's reports).
4. **One decision** with 10,000 complete 50-step curves in the history: LCM (at step 25),
   ASHA (first rung), median (step 5); median of 50, warm and right after a trial
   completed.

The table goes to the console and to ``benchmarks/results/growth.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from curvetune.events import TrialFinished  # noqa: E402
from curvetune.schedulers import make_scheduler  # noqa: E402
from curvetune.space import Float  # noqa: E402
from curvetune.study import Study  # noqa: E402
from curvetune.types import History, Report, Trial, TrialState  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "growth.md"
SCHEDULERS = ("fifo", "median", "asha", "lcm", "matched-halving")
STEPS = 10


def curve(config, ctx) -> None:
    """A saturating curve set by the config: computed at any step, nothing kept."""
    final, rate = 0.5 + 0.5 * float(config["x"]), 1.0 + 4.0 * float(config["rate"])
    for step in range(ctx.start + 1, ctx.until + 1):
        ctx.report(step, accuracy=final * (1.0 - math.exp(-step / rate)))


curve.stateless = True  # type: ignore[attr-defined]


def curve_study(directory: str, max_steps: int) -> Study:
    """A study of ``curve`` over its two parameters, stored in ``directory``."""
    return Study.create(
        objective=curve,
        space={"x": Float(0.0, 1.0), "rate": Float(0.0, 1.0)},
        metric="accuracy",
        max_steps=max_steps,
        directory=directory,
    )


def run_study(directory: str, scheduler: str, trials: int) -> dict:
    """One study in this process: CPU per trial by tenth, and this process's peak memory."""
    study = curve_study(directory, STEPS)
    marks: list[float] = []

    def listen(history, event) -> None:
        if isinstance(event, TrialFinished):
            marks.append(time.process_time())

    study.optimize(
        trials=trials,
        scheduler=make_scheduler(scheduler, **({"segment": 1} if scheduler == "fifo" else {})),
        executor="sequential",
        listener=listen,
        progress=False,
    )
    study.close()
    tenth = trials // 10  # from the first trial's end: start-up is not a trial's cost
    first = (marks[tenth] - marks[0]) / tenth
    last = (marks[-1] - marks[-tenth - 1]) / tenth
    return {"first_us": 1e6 * first, "last_us": 1e6 * last, "peak_mb": _peak_mb()}


def segment_cost(directory: str, trials: int, steps: int) -> dict:
    """Controller CPU per one-step segment of a FIFO study of ``trials`` x ``steps``. Run
    with the same number of segments as short and as long trials: if handling a segment
    cost O(the trial's reports), the long trials would cost more per segment. (Tenths of
    one study would not do: a group commit every 50 ms lands in them unevenly.)"""
    study = curve_study(directory, steps)
    began = time.process_time()
    study.optimize(
        trials=trials,
        scheduler=make_scheduler("fifo", segment=1),
        executor="sequential",
        progress=False,
    )
    seconds = time.process_time() - began
    study.close()
    return {"us_per_segment": 1e6 * seconds / (trials * steps)}


def reopen(directory: str) -> dict:
    """Open a finished store in this (fresh) process: wall time and peak memory."""
    began = time.perf_counter()
    study = Study.load(directory)
    seconds = time.perf_counter() - began
    assert len(study.history) > 0
    return {"seconds": seconds, "peak_mb": _peak_mb()}


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def _child(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------- one decision


def decision_times(n: int = 10_000, steps: int = 50, repeats: int = 50) -> dict:
    rng = np.random.default_rng(0)
    history = History(metric="accuracy", mode="max", max_steps=steps)

    def trial(trial_id: int, final: float, rate: float, upto: int, state=TrialState.RUNNING):
        reports = tuple(
            Report(s, {"accuracy": final * (1 - math.exp(-s / rate))}) for s in range(1, upto + 1)
        )
        return Trial(trial_id, {}, trial_id, state, reports, upto, upto)

    for i in range(n):
        history._put(trial(i, rng.uniform(0.5, 1), rng.uniform(2, 10), steps, TrialState.COMPLETED))
    out = {}
    schedulers = (
        ("lcm", 25),
        ("lcm-confirm", 25),
        ("lcm-interval-confirm", 26),
        ("asha", 1),
        ("median", 5),
    )
    for name, step in schedulers:
        scheduler = make_scheduler(name)
        running = trial(n, 0.7, 5.0, step)
        history._put(running)
        scheduler.decide(running, history, None)  # builds its cached state once
        for label, complete in (("warm", False), ("after a completion", True)):
            times = []
            for r in range(repeats):
                if complete:
                    done = trial(n + 1 + r + (repeats if name else 0), 0.8, 4.0, steps)
                    history._put(done.evolve(state=TrialState.COMPLETED))
                history._put(running)
                began = time.perf_counter()
                scheduler.decide(running, history, None)
                times.append(time.perf_counter() - began)
            out[f"{name} {label}"] = 1e3 * statistics.median(times)
    return out


# ----------------------------------------------------------------------- the table


def measure(trials: int, big: int) -> str:
    rows, reopened = [], []
    with tempfile.TemporaryDirectory() as scratch:
        plan = [(name, trials) for name in SCHEDULERS] + [("fifo", big)]
        for name, count in plan:
            directory = str(Path(scratch) / f"{name}-{count}")
            live = _child("run", directory, name, str(count))
            again = _child("reopen", directory)
            rows.append((name, count, live))
            reopened.append((name, count, live, again))
            print(f"{name:16} {count:>7}: {live['first_us']:7.0f} -> {live['last_us']:7.0f} us")
    lengths = {}
    with tempfile.TemporaryDirectory() as scratch:
        for count, steps in ((400, 100), (8, 5_000)):
            where = str(Path(scratch) / f"long-{steps}")
            lengths[steps] = _child("long", where, str(count), str(steps))["us_per_segment"]
    decisions = decision_times()
    lines = [
        "# Growth: the cost of a decision as a study grows",
        "",
        f"`python benchmarks/growth.py{'' if trials == 20_000 else ' --quick'}` on "
        f"{platform.machine()}, {_cores()} cores, Python {platform.python_version()}. "
        f"Sequential executor, SQLite store, stateless no-op curve objective, {STEPS} "
        "one-step segments per trial; controller CPU (`time.process_time`, objective "
        "included) per trial.",
        "",
        "| scheduler | trials | first tenth (us/trial) | last tenth (us/trial) | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, count, live in rows:
        ratio = live["last_us"] / live["first_us"]
        lines.append(
            f"| {name} | {count:,} | {live['first_us']:,.0f} | {live['last_us']:,.0f} | "
            f"{ratio:.2f}x |"
        )
    lines += [
        "",
        "Re-opening the finished store in a fresh process (`Study.load`: replay into a "
        "`History`), against the live controller's peak memory:",
        "",
        "| study | trials | re-open (s) | re-open peak (MB) | live peak (MB) | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, count, live, again in reopened:
        lines.append(
            f"| {name} | {count:,} | {again['seconds']:.2f} | {again['peak_mb']:.0f} | "
            f"{live['peak_mb']:.0f} | {again['peak_mb'] / live['peak_mb']:.2f}x |"
        )
    lines += [
        "",
        "Long trials (FIFO, 40,000 one-step segments either way): controller CPU per "
        f"segment {lengths[100]:.0f} us with 400 trials of 100 steps, {lengths[5_000]:.0f} us "
        f"with 8 trials of 5,000 steps ({lengths[5_000] / lengths[100]:.2f}x).",
        "",
        "One decision with 10,000 complete 50-step curves in the history (median of 50, ms):",
        "",
        "| decision | ms |",
        "|---|---:|",
        *(f"| {name} | {ms:.3f} |" for name, ms in decisions.items()),
        "",
    ]
    return "\n".join(lines)


def _cores() -> int:
    import os

    return os.cpu_count() or 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000-trial studies")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, *rest = args.child
        if kind == "run":
            result = run_study(rest[0], rest[1], int(rest[2]))
        elif kind == "long":
            result = segment_cost(rest[0], int(rest[1]), int(rest[2]))
        else:
            result = reopen(rest[0])
        print(json.dumps(result))
        return 0
    trials, big = (2_000, 10_000) if args.quick else (20_000, 100_000)
    text = measure(trials, big)
    print(text)
    if not args.quick:
        RESULTS.write_text(text)
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
