"""``curvetune bench search``: searchers x schedulers, and Optuna, on a surrogate or tables."""

from __future__ import annotations

import argparse

from rich.console import Console

from .common import UsageError, task_progress


def cmd_search(args: argparse.Namespace, console: Console) -> int:
    from ..bench import search, search_report
    from ..bench.optuna_peers import PEERS

    peers = search.names(args.peers)
    if peers == ("optuna",):
        peers = tuple(PEERS)
    try:
        settings = search.SearchSettings(
            searchers=search.names(args.searchers),
            schedulers=search.names(args.schedulers),
            peers=peers,
            extra=search.names(args.extra),
            seeds=args.seeds,
            budget=args.budget,
            workers=args.workers,
        )
        if args.surrogate is not None:
            sources = search.surrogate_sources(args.surrogate, args.task or ["all"])
        else:
            if args.task:
                raise UsageError("--task goes with --surrogate, not with --table")
            sources = [f"table:{path}" for path in args.table]
            for source in sources:
                search.oracle_for(source)  # a bad table fails before any work
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if not isinstance(args.jobs, int) or args.jobs < 1:
        raise UsageError(f"--jobs must be a whole number >= 1, got {args.jobs}")
    console.print(
        f"{len(sources)} task(s) x {settings.seeds} seed(s): {len(settings.combos)} "
        f"combination(s) and {len(peers)} peer(s), budget {settings.budget} trainings, "
        f"{settings.workers} virtual workers"
    )
    progress = task_progress(console, args.quiet)
    with progress:
        bar = progress.add_task("tasks", total=len(sources))
        raw = search.compare(
            sources, settings, jobs=args.jobs, done=lambda task: progress.advance(bar)
        )
    summary = search_report.summarise(raw)
    for path in search_report.write(summary, args.out):
        console.print(f"wrote {path}")
    for name, counts in summary["claims"]["combinations"].items():
        console.print(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0
