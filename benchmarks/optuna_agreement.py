"""Do curvetune's Optuna pruners stop the trials curvetune itself stops?

Run from the repository root (``PYTHONPATH=src`` if curvetune is not installed; needs
optuna)::

    python benchmarks/optuna_agreement.py          # 35 tables x 200 trials, 5 rules
    python benchmarks/optuna_agreement.py --quick  # 3 tables x 50 trials; prints only

For every LCBench table in ``../shared/benchmarks/curves/`` the configurations are taken in
the order ``curvetune bench stopping`` tries for seed 0 (``seed_order``: its first 200
rows), and each rule (``lcm``, the default LCM, and the presets ``lcm-k1``, ``lcm-safe``,
``lcm-last``, then ``matched-halving``; ``--rules`` to choose) runs twice on that sequence:

(a) curvetune: ``curvetune.bench.simulate`` with ``make_scheduler(name)`` on 1 virtual
    worker, metric ``val_accuracy`` (the machinery of ``curvetune bench stopping``);
(b) Optuna: a sequential in-memory study (``RandomSampler``, nothing suggested) with
    ``LCMPruner(preset=name)`` or ``MatchedHalvingPruner``; the objective replays row
    ``order[number]``, reporting epoch e at Optuna step e (e = 0..51) and checking
    ``should_prune`` after each report.

Per trial the two runs agree when both stopped it at the same step (curvetune step
= Optuna step + 1) or neither did. Per-table and overall agreement, every difference with
both explanations, and the run time go to ``benchmarks/results/optuna_agreement.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from curvetune import __version__  # noqa: E402
from curvetune.bench.simulate import simulate  # noqa: E402
from curvetune.bench.stopping import seed_order  # noqa: E402
from curvetune.bench.tables import load_table  # noqa: E402
from curvetune.events import Decided  # noqa: E402
from curvetune.schedulers import make_scheduler  # noqa: E402
from curvetune.types import TrialState  # noqa: E402

CURVES = ROOT.parent / "shared" / "benchmarks" / "curves"
RESULTS = ROOT / "benchmarks" / "results" / "optuna_agreement.md"
METRIC = "val_accuracy"
RULES = ("lcm", "lcm-k1", "lcm-safe", "lcm-last", "matched-halving")
FULL = {"tables": None, "trials": 200}
QUICK = {"tables": 3, "trials": 50}


def curvetune_run(table, name: str, order, seed: int) -> dict[int, tuple[int | None, str]]:
    """Trial number -> (stop step or None, the stop's reason), from curvetune's own run."""
    run = simulate(table, make_scheduler(name), order=order, workers=1, metric=METRIC, seed=seed)
    reasons = {e.trial: e.reason for e in run.events if isinstance(e, Decided) and e.kind == "Stop"}
    return {
        t.id: (t.step, reasons.get(t.id, "")) if t.state is TrialState.STOPPED else (None, "")
        for t in run.history.trials.values()
    }


def optuna_run(table, name: str, order) -> dict[int, tuple[int | None, str]]:
    """The same, from a sequential Optuna study with curvetune's pruner (curvetune steps)."""
    import optuna

    from curvetune.integrations.optuna import LCMPruner, MatchedHalvingPruner

    epochs = table.n_epochs
    if name == "matched-halving":
        pruner = MatchedHalvingPruner(max_steps=epochs)
    else:
        pruner = LCMPruner(max_steps=epochs, preset=name)
    curves = table.curves[METRIC]

    def objective(trial) -> float:
        curve = curves[int(order[trial.number])]
        for epoch in range(epochs):
            trial.report(float(curve[epoch]), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(curve[-1])

    study = optuna.create_study(
        direction="maximize", pruner=pruner, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.optimize(objective, n_trials=len(order))
    out = {}
    for t in study.trials:
        stop = t.user_attrs.get("curvetune_stop")
        pruned = t.state is optuna.trial.TrialState.PRUNED
        out[t.number] = (t.last_step + 1, stop["reason"] if stop else "") if pruned else (None, "")
    return out


def compare(a: dict, b: dict) -> list[dict]:
    """Per trial: agree or not, both decisions (stop step or None) and reasons."""
    rows = []
    for number in sorted(set(a) | set(b)):
        (step_a, why_a), (step_b, why_b) = a.get(number, (None, "")), b.get(number, (None, ""))
        rows.append(
            {"trial": number, "same": step_a == step_b, "curvetune": step_a, "optuna": step_b}
            | {"why_curvetune": why_a, "why_optuna": why_b}
        )
    return rows


def shown(step: int | None) -> str:
    return "kept (completed)" if step is None else f"stopped at step {step}"


def machine() -> str:
    import optuna

    return (
        f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}, "
        f"curvetune {__version__}, optuna {optuna.__version__}"
    )


def report(results: dict, size: dict, rules, wall: float, command: str, started) -> str:
    head = rules[0]
    lines = [
        "# Optuna pruners against curvetune's own schedulers",
        "",
        f"Written by `{command}` on {started:%Y-%m-%d %H:%M}, {wall:.0f} s wall time "
        "(one process).",
        "",
        f"Machine: {machine()}.",
        "",
        f"{len(results)} table(s), the first {size['trials']} configurations of "
        "`seed_order(table, 0, ...)` (the order `curvetune bench stopping` tries for seed 0), "
        f"metric `{METRIC}` (max). (a) `curvetune.bench.simulate` with `make_scheduler(name)` "
        "on 1 virtual worker; (b) a sequential in-memory Optuna study with the matching "
        "pruner (`LCMPruner(max_steps=52, preset=name)`, `MatchedHalvingPruner(max_steps=52)`"
        ", defaults otherwise), epoch e reported at Optuna step e and `should_prune` checked "
        "after each report. A trial agrees when both stopped it at the same step or neither "
        "did. Cells: share of trials that agree; for "
        f"`{head}` also how many trials each run stopped.",
        "",
        f"| table | trials | {head} stopped (a / b) | " + " | ".join(rules) + " |",
        "|---|---:|---:|" + "---:|" * len(rules),
    ]
    totals = {r: [0, 0] for r in rules}
    seconds = {r: [0.0, 0.0] for r in rules}
    for name, per_rule in results.items():
        cells = []
        for r in rules:
            rows, (sa, sb) = per_rule[r]["rows"], per_rule[r]["seconds"]
            same = sum(row["same"] for row in rows)
            totals[r][0] += same
            totals[r][1] += len(rows)
            seconds[r][0] += sa
            seconds[r][1] += sb
            cells.append(f"{100 * same / len(rows):.1f}%")
        rows = per_rule[head]["rows"]
        stopped_a = sum(row["curvetune"] is not None for row in rows)
        stopped_b = sum(row["optuna"] is not None for row in rows)
        lines.append(
            f"| {name} | {len(rows)} | {stopped_a} / {stopped_b} | " + " | ".join(cells) + " |"
        )
    lines.append("")
    for r in rules:
        same, n = totals[r]
        lines.append(
            f"- **{r}: {same} of {n} trials agree, {100 * same / n:.2f}%** overall; "
            f"curvetune {seconds[r][0]:.1f} s, Optuna with the pruner {seconds[r][1]:.1f} s "
            "over all tables."
        )
    lines += ["", "## Differences", ""]
    differing = [
        (name, r, row)
        for name, per_rule in results.items()
        for r in rules
        for row in per_rule[r]["rows"]
        if not row["same"]
    ]
    if not differing:
        lines += [
            "None: every trial got the same decision at the same step from both runs.",
            "",
            "Why: on a sequential study the pruner asks the scheduler at the steps "
            "curvetune's controller asks it at (when the trial starts, then at each "
            "`Continue(until=...)`), with the trial cut at that step, and on a history with "
            "the same trials in the same states and the same curves: trial number n is "
            "curvetune's trial id n, so even ties between equal distances (broken by trial "
            "id) go the same way, and the reference set is the same completed trials, "
            "whatever order the pruner's cache folded them in.",
        ]
    for name, r, row in differing:
        lines.append(
            f"- {name}, {r}, trial {row['trial']}: curvetune {shown(row['curvetune'])} "
            f"({row['why_curvetune'] or '-'}); Optuna {shown(row['optuna'])} "
            f"({row['why_optuna'] or '-'})"
        )
    lines += [
        "",
        "## When the two would differ",
        "",
        "- **Parallel trials.** With several workers curvetune orders segments by (virtual) "
        "time and Optuna's `n_jobs` by wall-clock time, so a decision can see a different "
        "set of completed trials; neither is wrong, and no comparison is made here.",
        "- **What is judged.** The pruner reads the intermediate values, never the "
        "objective's return value (curvetune has only the reports), and asks at "
        "curvetune's check steps: an objective that reports other steps than the epochs, or "
        "skips a check step (that check is then judged on what the trial had reported by "
        "it, as curvetune judges a trial without a value there) changes what is judged, "
        "not the rule.",
        "- **Distributed studies** (several processes on one storage): each process judges "
        "its own trials on what the storage holds when it asks; like parallel trials, the "
        "completed set at a check then depends on timing.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 tables x 50 trials, print only")
    parser.add_argument("--rules", default=",".join(RULES), help="comma-separated rule names")
    args = parser.parse_args(argv)
    try:
        import optuna
    except ImportError:
        print("optuna_agreement.py: error: needs optuna (pip install optuna)", file=sys.stderr)
        return 2
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tables = sorted(CURVES.glob("*.npz")) if CURVES.is_dir() else []
    if not tables:
        print(
            f"optuna_agreement.py: error: no curve tables at {CURVES} (expected the shared "
            "benchmarks/curves folder next to the repository, with its 35 .npz files)",
            file=sys.stderr,
        )
        return 2
    size = QUICK if args.quick else FULL
    tables = tables[: size["tables"]]
    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    command = " ".join(["python benchmarks/optuna_agreement.py", *(argv or sys.argv[1:])])
    began, started = time.perf_counter(), datetime.datetime.now()
    results: dict[str, dict] = {}
    for i, path in enumerate(tables, 1):
        table = load_table(path)
        order = seed_order(table, 0, size["trials"])
        results[table.name] = {}
        notes = []
        for r in rules:
            t0 = time.perf_counter()
            a = curvetune_run(table, r, order, seed=0)
            t1 = time.perf_counter()
            b = optuna_run(table, r, order)
            t2 = time.perf_counter()
            rows = compare(a, b)
            results[table.name][r] = {"rows": rows, "seconds": (t1 - t0, t2 - t1)}
            same = sum(row["same"] for row in rows)
            notes.append(f"{r} {100 * same / len(rows):.1f}% ({t1 - t0:.1f} s / {t2 - t1:.1f} s)")
        print(f"[{i}/{len(tables)}] {table.name}: " + ", ".join(notes), flush=True)
    wall = time.perf_counter() - began
    text = report(results, size, rules, wall, command, started)
    if args.quick:
        print(text)
        print("(quick run: benchmarks/results left alone)")
    else:
        RESULTS.write_text(text)
        print(f"wrote {RESULTS.relative_to(ROOT)} ({wall:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
