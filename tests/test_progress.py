"""The live display of a study: counts, steps of running trials and the best, within 80 columns.

Events are applied to a ``History`` and then handed to the display, as the controller's
``_record`` does, and the display is rendered to a recording console.
"""

from __future__ import annotations

import io
import math
import random
import statistics
import time

from rich.console import Console

from curvetune.events import (
    Decided,
    Event,
    Exploited,
    SegmentFinished,
    TrialCreated,
    TrialFinished,
    apply,
)
from curvetune.progress import StudyProgress
from curvetune.types import History, Report, TrialState

METRIC = "val_accuracy"
MAX_STEPS = 8


def _history(mode: str = "max") -> History:
    return History(metric=METRIC, mode=mode, max_steps=MAX_STEPS)


def _feed(history: History, listener, *events: Event) -> None:
    for event in events:
        apply(history, event)
        if listener is not None:
            listener(history, event)


def _start(trial: int) -> list[Event]:
    return [TrialCreated(trial, {"lr": 0.1}, seed=trial), Decided(trial, "Continue", until=2)]


def _segment(trial: int, start: int, until: int, value: float, status: str = "ok") -> Event:
    return SegmentFinished(trial, start, until, status, (Report(until, {METRIC: value}),))


def _finish(trial: int, state: TrialState, value: float = 0.5) -> list[Event]:
    """The events of a trial from creation to ``state``."""
    events = _start(trial)
    if state is TrialState.COMPLETED:
        events.append(_segment(trial, 0, MAX_STEPS, value))
    elif state is TrialState.STOPPED:
        events.append(_segment(trial, 0, 2, value))
    elif state is TrialState.DIVERGED:
        events.append(_segment(trial, 0, 2, math.nan, status="diverged"))
    elif state is TrialState.FAILED:
        events.append(SegmentFinished(trial, 0, 2, "error", error="Traceback ..."))
    events.append(TrialFinished(trial, state, "why"))
    return events


def _render(display: StudyProgress, width: int = 80) -> str:
    console = Console(width=width, record=True, force_terminal=True, file=io.StringIO())
    console.print(display)
    return console.export_text()


def _lines_fit(text: str, width: int = 80) -> None:
    for line in text.splitlines():
        assert len(line) <= width, line
    assert "…" not in text


def test_shows_motion_before_any_trial_finishes():
    history = _history()
    display = StudyProgress(history, 12)
    _feed(history, display, *_start(0), *_start(1))
    before = _render(display)
    _feed(history, display, _segment(0, 0, 2, 0.6))
    after = _render(display)
    assert "0/12 trials done" in after  # nothing finished ...
    assert before != after  # ... and still the display moved
    assert "#0 2/8" in after and "#1 0/8" in after
    assert "  2%" in after  # 2 of 12 x 8 steps
    assert "  0%" in before


def test_counts_running_steps_and_best_fit_in_80_columns():
    history = _history()
    display = StudyProgress(history, 12)
    _feed(history, display, *_finish(0, TrialState.COMPLETED, 0.9))
    _feed(history, display, *_finish(1, TrialState.COMPLETED, 0.9575))
    _feed(history, display, *_finish(2, TrialState.STOPPED))
    _feed(history, display, *_finish(3, TrialState.FAILED))
    _feed(history, display, *_finish(4, TrialState.DIVERGED))
    _feed(history, display, *_start(5), _segment(5, 0, 3, 0.7), *_start(6), _segment(6, 0, 1, 0.2))
    text = _render(display)
    _lines_fit(text)
    assert "5/12 trials done" in text
    assert "2 running, 2 completed, 1 stopped, 1 failed, 1 diverged" in text
    assert "best val_accuracy 0.9575 (#1)" in text
    assert "running  #5 3/8  #6 1/8" in text
    assert "━" in text  # the bar fits at 80 columns


def test_large_study_still_fits_in_80_columns():
    history = History(metric="validation_top1_accuracy", mode="max", max_steps=1000)
    display = StudyProgress(history, 100_000)
    for trial in range(99_990, 100_010):
        _feed(history, display, TrialCreated(trial, {}, seed=0))
        _feed(history, display, _segment(trial, 0, 999, 0.5))
    text = _render(display)
    _lines_fit(text)
    assert "0/100000 trials done" in text
    assert "20 running, 0 completed, 0 stopped, 0 failed, 0 diverged" in text
    assert "#99990 999/1000" in text
    assert "more" in text


def test_many_running_trials_are_listed_up_to_a_few_then_more():
    history = _history()
    display = StudyProgress(history, 30)
    for trial in range(20):
        _feed(history, display, *_start(trial))
    text = _render(display)
    _lines_fit(text)
    assert "running  #0 0/8  #1 0/8  #2 0/8  #3 0/8  #4 0/8  #5 0/8  +14 more" in text


def test_narrow_console_drops_the_bar_not_the_counts():
    history = _history()
    display = StudyProgress(history, 12)
    _feed(history, display, *_finish(0, TrialState.COMPLETED, 0.8), *_start(1))
    text = _render(display, width=40)
    assert "━" not in text
    assert "1/12 trials done" in text
    assert "best val_accuracy 0.8 (#0)" in text
    assert "#1 0/8" in text


def test_diverged_is_shown_as_diverged_not_failed():
    history = _history()
    display = StudyProgress(history, 2)
    _feed(history, display, *_finish(0, TrialState.DIVERGED))
    text = _render(display)
    assert "0 failed, 1 diverged" in text
    assert display.summary() == f"1 trial: 1 diverged; no trial completed yet ({METRIC})"


def test_exploited_trial_shows_the_step_it_took_over():
    history = _history()
    display = StudyProgress(history, 2)
    _feed(history, display, *_start(0), _segment(0, 0, 4, 0.5), *_start(1))
    _feed(history, display, Exploited(1, source=0, step=4, config={"lr": 0.2}))
    assert "#1 4/8" in _render(display)


def test_resumed_history_is_counted():
    history = _history()
    _feed(history, None, *_finish(0, TrialState.COMPLETED, 0.7))
    _feed(history, None, *_finish(1, TrialState.STOPPED))
    _feed(history, None, *_start(2), _segment(2, 0, 4, 0.6))  # interrupted mid-trial
    display = StudyProgress(history, 4)
    counts = display.counts()
    assert counts[TrialState.RUNNING] == 1
    assert counts[TrialState.COMPLETED] == 1 and counts[TrialState.STOPPED] == 1
    text = _render(display)
    assert "2/4 trials done" in text and "#2 4/8" in text
    assert "best val_accuracy 0.7 (#0)" in text
    assert display.fraction() == (2 * MAX_STEPS + 4) / (4 * MAX_STEPS)
    _feed(history, display, _segment(2, 4, MAX_STEPS, 0.8), TrialFinished(2, TrialState.COMPLETED))
    assert display.summary() == "3 trials: 2 completed, 1 stopped; best val_accuracy 0.8 (#2)"


def test_summary_line():
    history = _history()
    display = StudyProgress(history, 12)
    values = [0.9, 0.91, 0.92, 0.93, 0.94, 0.95, 0.9, 0.9575, 0.9]
    for trial in range(12):
        if trial < 9:
            events = _finish(trial, TrialState.COMPLETED, values[trial])
        elif trial < 11:
            events = _finish(trial, TrialState.STOPPED)
        else:
            events = _finish(trial, TrialState.FAILED)
        _feed(history, display, *events)
    assert (
        display.summary()
        == "12 trials: 9 completed, 2 stopped, 1 failed; best val_accuracy 0.9575 (#7)"
    )
    assert display.fraction() == 1.0


def test_best_agrees_with_history_best():
    rng = random.Random(0)
    for mode in ("min", "max"):
        history = _history(mode)
        display = StudyProgress(history, 60)
        running: list[int] = []
        for trial in range(60):
            _feed(history, display, *_start(trial))
            running.append(trial)
            if rng.random() < 0.5:  # finish a random running trial, ties likely
                done = running.pop(rng.randrange(len(running)))
                value = rng.choice([0.1, 0.2, 0.3, math.inf])
                state = rng.choice([TrialState.COMPLETED, TrialState.STOPPED])
                _feed(history, display, _segment(done, 0, MAX_STEPS, value))
                _feed(history, display, TrialFinished(done, state))
            best = history.best()
            assert display.best == (None if best is None else (best.id, history.score(best)))


def test_a_burst_of_10000_events_is_cheap():
    history = _history()
    events: list[Event] = []
    for trial in range(2500):
        events += [TrialCreated(trial, {}, seed=0), _segment(trial, 0, 4, trial / 2500)]
        events += [_segment(trial, 4, MAX_STEPS, trial / 2500)]
        events += [TrialFinished(trial, TrialState.COMPLETED)]
    console = Console(width=80, force_terminal=True, file=io.StringIO())
    spent = [0.0] * len(events)
    with StudyProgress(history, 2500, console=console) as display:
        for index, event in enumerate(events):
            apply(history, event)
            began = time.perf_counter()
            display(history, event)
            spent[index] = time.perf_counter() - began
    # O(1) per event: the last fifth costs what the first did (medians of each fifth, so a
    # busy moment of a shared machine does not decide), and the whole is a smoke-sized sum
    # (benchmarks time it; 25 us an event here).
    fifth = len(events) // 5
    first, last = statistics.median(spent[:fifth]), statistics.median(spent[-fifth:])
    assert last < 3 * first + 5e-6, (
        f"an event cost {first * 1e6:.1f} us first, {last * 1e6:.1f} us last"
    )
    assert sum(spent) < 2.5, f"{len(events)} events took {sum(spent):.3f} s"
    assert display.summary() == "2500 trials: 2500 completed; best val_accuracy 0.9996 (#2499)"


def test_context_manager_prints_the_final_state():
    history = _history()
    output = io.StringIO()
    console = Console(width=80, file=output)  # not a terminal: only the final state is drawn
    with StudyProgress(history, 2, console=console) as display:
        _feed(history, display, *_finish(0, TrialState.COMPLETED, 0.5))
        _feed(history, display, *_finish(1, TrialState.DIVERGED))
    text = output.getvalue()
    assert "2/2 trials done" in text
    assert "0 running, 1 completed, 0 stopped, 0 failed, 1 diverged" in text
    assert "best val_accuracy 0.5 (#0)" in text
