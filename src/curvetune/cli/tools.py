"""Commands beside studies: curve-table benchmarks, the reference experiments, the
dashboard."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from .common import UsageError, task_progress


def cmd_bench(args: argparse.Namespace, console: Console) -> int:
    if args.bench_command == "search":
        from .search import cmd_search

        return cmd_search(args, console)
    from ..bench import output
    from ..bench import stopping as bench

    settings = bench.Settings(
        schedulers=bench.scheduler_names(args.schedulers),
        seeds=args.seeds,
        trials=args.trials,
        workers=args.workers,
        metric=args.metric,
    )
    paths = bench.table_paths(args.table)
    bench.check_inputs(paths, settings)
    console.print(
        f"{len(paths)} table(s) × {settings.seeds} seed(s), schedulers "
        f"{', '.join(settings.schedulers)}, at most {settings.trials} trials each"
    )
    progress = task_progress(console, args.quiet)
    with progress:
        task = progress.add_task("table × seed", total=len(paths) * settings.seeds)
        results = bench.compare(
            paths,
            settings,
            jobs=args.jobs,
            advance=lambda k: progress.advance(task, k),
        )
        progress.update(task, completed=len(paths) * settings.seeds)
    for path in output.write_outputs(results, args.out):
        if path.suffix != ".png":
            console.print(f"wrote {path}")
    console.print(f"wrote {len(results['tables'])} figure(s) in {args.out / 'anytime'}")
    for name, total in output.scheduler_totals(results).items():
        console.print(
            f"  {name}: passes the full bar on {total['passes_full']}/{total['tables']} "
            f"table(s) (speed + regret only: {total['passes']})"
        )
    return 0


def cmd_experiment(args: argparse.Namespace, console: Console) -> int:
    """Run one experiment of ``curvetune.experiments`` and print its summary."""
    for name in ("seeds", "steps", "population", "workers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name} must be a whole number >= 1, got {value}")
    out = args.out or Path("runs/experiments") / args.name
    if args.name == "dynamic-lr":
        from ..experiments import dynamic_lr as experiment

        plan = experiment.make_plan(
            quick=args.quick, seeds=args.seeds, steps=args.steps, workers=args.workers
        )
        plan = replace(plan, setup=plan.setup.with_executor(args.executor))
    else:
        from ..experiments import pbt_lr as experiment

        plan = experiment.make_plan(
            quick=args.quick,
            seeds=args.seeds,
            steps=args.steps,
            population=args.population,
            workers=args.workers,
        )
        plan = replace(plan, setup=plan.setup.with_executor(args.executor))
    document = experiment.run_experiment(out, plan, log=console.print)
    console.print_json(json.dumps(document["summary"]))
    console.print(f"wrote {out / 'results.json'} and {len(document['figures'])} figure(s)")
    return 0


def cmd_dashboard(args: argparse.Namespace, console: Console) -> int:
    """Serve the study's dashboard (read-only) until interrupted."""
    from ..dashboard import serve

    if not (args.directory / "study.db").exists():
        raise UsageError(f"{args.directory}: no study here (no study.db)")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    say = lambda text: console.print(text, markup=False, highlight=False)  # noqa: E731
    serve(args.directory, host=args.host, port=args.port, log=say)
    return 0
