"""The live progress display of ``curvetune run``, and the one-line summary of a study.

``StudyProgress`` listens to the controller's events (the controller knows nothing about
terminals) and keeps its counts up to date from them, so hearing an event costs O(1) however
many trials the study holds; rendering happens on rich's refresh thread, a few times a second,
and looks only at those counts and at the few running trials it shows. It draws, within 80
columns::

    ━━━━━━━━━━━━━━━━━━━━  42%  5/12 trials done  0:00:17
    2 running, 3 completed, 1 stopped, 0 failed, 1 diverged
    best val_accuracy 0.9575 (#3)
    running #5 2/8  #6 1/8

The bar is the share of the budget (trials × max_steps) done: a finished trial counts in
full, a running one by the steps it has trained, so the bar moves with every segment rather
than only when a trial finishes. States are named as ``TrialState`` names them.
"""

from __future__ import annotations

import datetime
import itertools
import threading
import time

from rich.console import Console, ConsoleOptions, RenderResult
from rich.live import Live
from rich.text import Text

from .events import Event, Exploited, SegmentFinished, TrialCreated, TrialFinished
from .types import History, Trial, TrialState, better

BAR_WIDTH = 20
MAX_SHOWN = 6  # running trials listed by name; the rest are "+N more"
FINISHED_STATES = (TrialState.COMPLETED, TrialState.STOPPED, TrialState.FAILED, TrialState.DIVERGED)
_ALARMING = (TrialState.FAILED, TrialState.DIVERGED)


class StudyProgress:
    """A live display of a study, used as a context manager and as the controller's listener.

    ``total`` is the trial budget of the run. Counts start from ``history`` as it is at
    construction (a resumed study shows what it already holds) and then follow the events
    the instance hears as ``listener(history, event)``.
    """

    def __init__(self, history: History, total: int, console: Console | None = None) -> None:
        self.history = history
        self.total = total
        self._lock = threading.Lock()  # events arrive on the controller's thread, renders on rich's
        self._counts = dict.fromkeys(FINISHED_STATES, 0)
        self._running: dict[int, int] = {}  # running trial id -> steps trained, creation order
        self._running_steps = 0  # sum of self._running's values
        self._best: tuple[int, float] | None = None  # (trial id, score) of the best completed
        for trial in history.trials.values():
            if trial.state is TrialState.RUNNING:
                self._running[trial.id] = trial.step
                self._running_steps += trial.step
            else:
                self._finish(trial)
        self._started = time.monotonic()
        self._live = Live(self, console=console, refresh_per_second=4, transient=False)

    # ------------------------------------------------------------------ display lifecycle

    def __enter__(self) -> StudyProgress:
        self._started = time.monotonic()
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()  # draws the final state once more
        if not self._live.console.is_terminal:
            self._live.console.line()  # rich ends a terminal's last line, not a file's

    def __call__(self, history: History, event: Event) -> None:
        """Hear one event, after it has been applied to ``history``: O(1), no rendering."""
        if isinstance(event, SegmentFinished | Exploited):
            with self._lock:
                old = self._running.get(event.trial)
                if old is not None:
                    new = history[event.trial].step
                    self._running[event.trial] = new
                    self._running_steps += new - old
        elif isinstance(event, TrialCreated):
            with self._lock:
                if event.trial not in self._running:
                    self._running[event.trial] = 0
        elif isinstance(event, TrialFinished):
            with self._lock:
                old = self._running.pop(event.trial, None)
                if old is not None:  # a trial finishes once; ignore a repeat
                    self._running_steps -= old
                    self._finish(history[event.trial])

    def _finish(self, trial: Trial) -> None:
        """Count a finished trial, and keep it as the best if it completed with the best score
        (ties go to the lower id, as ``History.best`` gives the earliest)."""
        self._counts[trial.state] += 1
        if trial.state is not TrialState.COMPLETED:
            return
        value = self.history.score(trial)
        if value is None:
            return
        if (
            self._best is None
            or better(value, self._best[1], self.history.mode)
            or (value == self._best[1] and trial.id < self._best[0])
        ):
            self._best = (trial.id, value)

    # ------------------------------------------------------------------ what is shown

    @property
    def best(self) -> tuple[int, float] | None:
        """The best completed trial so far, as (trial id, score), or None."""
        return self._best

    def counts(self) -> dict[TrialState, int]:
        """How many trials are in each state, running first."""
        with self._lock:
            return {TrialState.RUNNING: len(self._running), **self._counts}

    def fraction(self) -> float:
        """The share of the budget done: finished trials in full, running ones by their steps."""
        with self._lock:
            trials = len(self._running) + sum(self._counts.values())
            finished = sum(self._counts.values())
            steps = finished * self.history.max_steps + self._running_steps
        budget = max(self.total, trials) * self.history.max_steps
        return min(1.0, steps / budget) if budget else 1.0

    def summary(self) -> str:
        """One line for the end of a run, e.g.
        ``12 trials: 9 completed, 2 stopped, 1 failed; best val_accuracy 0.9575 (#7)``."""
        counts = self.counts()
        total = sum(counts.values())
        parts = [f"{n} {state.value}" for state, n in counts.items() if n]
        line = f"{total} trial{'' if total == 1 else 's'}"
        if parts:
            line += ": " + ", ".join(parts)
        return f"{line}; {self._best_text()}"

    def _best_text(self) -> str:
        best = self.best
        if best is None:
            return f"no trial completed yet ({self.history.metric})"
        trial_id, value = best
        return f"best {self.history.metric} {value:.4g} (#{trial_id})"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        counts = self.counts()
        finished = sum(counts.values()) - counts[TrialState.RUNNING]
        elapsed = datetime.timedelta(seconds=int(time.monotonic() - self._started))
        fraction = self.fraction()
        head = f"{fraction:4.0%}  {finished}/{max(self.total, sum(counts.values()))} trials done"
        head += f"  {elapsed}"
        line = Text()
        if len(head) + BAR_WIDTH + 2 <= width:  # drop the bar before anything else
            line.append_text(_bar(fraction, ascii_only=options.ascii_only))
            line.append("  ")
        line.append(head)
        yield line

        states = Text()
        for i, (state, n) in enumerate(counts.items()):
            if i:
                states.append(", ")
            style = "bold red" if state in _ALARMING and n else ""
            states.append(f"{n} {state.value}", style=style)
        yield states
        yield Text(self._best_text())
        if counts[TrialState.RUNNING]:
            yield Text(self._running_text(width))

    def _running_text(self, width: int) -> str:
        """``running #3 2/8  #4 1/8  +5 more``: as many running trials as fit, at most a few."""
        with self._lock:
            n_running = len(self._running)
            shown = list(itertools.islice(self._running.items(), MAX_SHOWN))
        text, listed = "running", 0
        for trial_id, step in shown:
            item = f"  #{trial_id} {step}/{self.history.max_steps}"
            more = f"  +{n_running - listed - 1} more" if listed + 1 < n_running else ""
            if listed and len(text) + len(item) + len(more) > width:
                break
            text += item
            listed += 1
        if listed < n_running:
            text += f"  +{n_running - listed} more"
        return text


def _bar(fraction: float, *, ascii_only: bool = False) -> Text:
    done = round(fraction * BAR_WIDTH)
    char = "-" if ascii_only else "━"
    bar = Text(char * done, style="bar.complete" if fraction < 1 else "bar.finished")
    bar.append(char * (BAR_WIDTH - done), style="bar.back")
    return bar


def display_for(history: History, trials: int, progress: bool | Console) -> StudyProgress | None:
    """The display ``Study.optimize(progress=...)`` asks for: none for False, else on the
    ``Console`` given or on stderr."""
    if progress is False:
        return None
    console = progress if isinstance(progress, Console) else Console(stderr=True)
    return StudyProgress(history, trials, console=console)
