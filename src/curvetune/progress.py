"""The live progress display of ``curvetune run``: trials done / running / failed, best so far.

It listens to the controller's events; the controller knows nothing about terminals.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .events import Event, TrialCreated, TrialFinished
from .types import History, TrialState


class StudyProgress:
    """A rich progress bar over the trial budget, used as a context manager and listener."""

    def __init__(self, history: History, total: int, console: Console | None = None) -> None:
        self.history = history
        self.total = total
        self._progress = Progress(
            TextColumn("[bold]trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task = self._progress.add_task("trials", total=total, info=self._info())

    def __enter__(self) -> StudyProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.update(self._task, completed=self._finished(), info=self._info())
        self._progress.stop()

    def __call__(self, history: History, event: Event) -> None:
        if isinstance(event, TrialCreated | TrialFinished):
            self._progress.update(self._task, completed=self._finished(), info=self._info())

    def _finished(self) -> int:
        return sum(1 for t in self.history.trials.values() if t.state.finished)

    def _info(self) -> str:
        counts = {state: 0 for state in TrialState}
        for trial in self.history.trials.values():
            counts[trial.state] += 1
        parts = [f"running {counts[TrialState.RUNNING]}"]
        if counts[TrialState.STOPPED]:
            parts.append(f"stopped {counts[TrialState.STOPPED]}")
        failed = counts[TrialState.FAILED] + counts[TrialState.DIVERGED]
        parts.append(f"[red]failed {failed}[/]" if failed else "failed 0")
        best = self.history.best()
        if best is not None:
            parts.append(f"best {self.history.metric} {self.history.score(best):.4g} (#{best.id})")
        return "  ".join(parts)
