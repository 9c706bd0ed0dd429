"""Commands that look at a study directory: status, best, export, report, pbt-schedule.
They only read the store and never take the study's lock."""

from __future__ import annotations

import argparse
import json
import sys

from rich.console import Console
from rich.table import Table

from ..types import TrialState
from .common import UsageError, open_study, print_best


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    study = open_study(args.directory)
    history = study.history
    counts = {state: 0 for state in TrialState}
    for trial in history.trials.values():
        counts[trial.state] += 1
    steps = sum(t.step for t in history.trials.values())
    table = Table(title=f"{args.directory}", show_header=False)
    table.add_row("objective", study.spec.objective)
    table.add_row("metric", f"{history.metric} ({history.mode})")
    table.add_row("trials", str(len(history)))
    for state, count in counts.items():
        if count:
            table.add_row(f"  {state.value}", str(count))
    table.add_row("steps trained", f"{steps} (budget {history.max_steps} per trial)")
    console.print(table)
    print_best(history, console)
    return 0


def cmd_best(args: argparse.Namespace, console: Console) -> int:
    from ..export import trial_summary

    study = open_study(args.directory)
    history = study.history
    best = history.best()
    if best is None:
        raise UsageError(f"{args.directory}: no trial has completed yet")
    summary = trial_summary(best, history)
    checkpoint = study.checkpoints.dir_for(best.id, best.checkpoint_step)
    summary["checkpoint"] = (
        str(checkpoint) if best.checkpoint_step and checkpoint.is_dir() else None
    )
    print(json.dumps(summary, indent=2))
    return 0


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    from ..export import to_csv, to_json

    history = open_study(args.directory).history
    text = to_csv(history) if args.format == "csv" else to_json(history)
    if args.output:
        args.output.write_text(text)
        console.print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    """Write the report: one self-contained page (``-o FILE.html``), or PNG figures,
    ``stops.md`` and ``report.html`` in a folder; then list the early stops."""
    from ..viz.data import stops
    from ..viz.html import write_html
    from ..viz.report import write_report

    study = open_study(args.directory)
    events = list(study.store.events())
    out = args.output or args.directory / "report"
    if out.suffix.lower() == ".html":
        written, listed = [write_html(study, out, events)], out.name
    else:
        written = [
            *write_report(study, out, events),
            write_html(study, out / "report.html", events),
        ]
        listed = "stops.md"
    for path in written:
        console.print(f"wrote {path}")
    _print_stops(stops(events), console, listed=listed)
    return 0


def _print_stops(records, console: Console, limit: int = 20, listed: str = "stops.md") -> None:
    """The early stops with the scheduler's reasons (all of them are in ``listed``)."""
    if not records:
        return
    table = Table(title=f"{len(records)} trial(s) stopped early")
    for column in ("trial", "step", "rule", "reason"):
        table.add_column(column, overflow="fold")
    for record in records[:limit]:
        step = "" if record.step is None else str(record.step)
        table.add_row(str(record.trial), step, record.rule, record.reason)
    console.print(table)
    if len(records) > limit:
        console.print(f"... and {len(records) - limit} more in {listed}")


def cmd_pbt_schedule(args: argparse.Namespace, console: Console) -> int:
    from ..lineage import followed, piecewise

    study = open_study(args.directory)
    history = study.history
    trial = history.best() if args.trial is None else history.trials.get(args.trial)
    if trial is None:
        raise UsageError(
            f"{args.directory}: no completed trial yet"
            if args.trial is None
            else f"{args.directory}: no trial {args.trial}"
        )
    path = followed(history, list(study.store.events()), trial.id)
    points = piecewise(path)
    document = {
        "trial": trial.id,
        history.metric: history.score(trial),
        "lr_schedule": {"type": "piecewise", "points": [list(p) for p in points]},
        "steps": [
            {"step": r.step, "member": r.trial, "lr": r.lr, "iteration": r.iteration} for r in path
        ],
    }
    table = Table(title=f"learning rate followed by trial #{trial.id}'s weights")
    for column in ("from iteration", "lr"):
        table.add_column(column, justify="right")
    for begin, lr in points:
        table.add_row(str(begin), f"{lr:.6g}")
    console.print(table)
    output = args.output or args.directory / "pbt-schedule.json"
    output.write_text(json.dumps(document, indent=2) + "\n")
    console.print(f'wrote {output} (replay it with lr_schedule = its "lr_schedule")')
    return 0
