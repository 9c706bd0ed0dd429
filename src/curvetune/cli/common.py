"""What every command shares: the usage error, exit statuses, opening a study to look at."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

EXIT_USAGE = 2
EXIT_NO_RESULT = 1  # the study ran, but no trial completed


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit status 2."""


def open_study(directory: Path):
    from ..study import Study

    if not (directory / "study.db").exists():
        raise UsageError(f"{directory}: no study here (no study.db)")
    return Study.load(directory)


def print_best(history, console: Console) -> None:
    best = history.best()
    if best is None:
        console.print("no completed trial yet")
        return
    value = history.score(best)
    params = ", ".join(f"{k}={short_value(v)}" for k, v in best.config.items())
    console.print(f"best trial [bold]#{best.id}[/]: {history.metric} = [bold]{value:.4f}[/]")
    console.print(f"  {params}")


def short_value(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def task_progress(console: Console, quiet: bool):
    """The progress bar of a long command (description, bar, done of total, time)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
    )
