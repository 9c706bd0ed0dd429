"""How well an early-stopping rule did on one simulated study, and over many seeds.

Everything is measured against *epochs used* in virtual time: when a trial completes, the
epochs used are all the epochs any trial had finished by that moment (the simulated
executor records when each epoch ended), so the count does not depend on how a scheduler
cut its trials into segments. The *incumbent* is the best final value of the study metric
(``history.metric``, in the study's mode) among the trials that have completed so far; a
stopped trial never counts.

A *training* is the epochs of one full training of the table (``n_epochs``), the unit a
user budgets in: "regret at k trainings" (``regret_at_budget``) is the regret of the
incumbent once the study has used ``k x n_epochs`` epochs over all its trials, completed
and stopped, i.e. the compute FIFO spends on k configurations. It is counted in compute,
not in trials created or finished: a rule that stops early tries more configurations in
the same compute, and that is what it is for.

Where a regret is asked for while there is no incumbent (no trial completed yet, or a run
that completed none), the regret is that of knowing nothing: table best minus table worst
final value. Regrets are absolute differences, so they are >= 0 in either mode.

All functions are pure: they read a ``Run`` (``bench.simulate``) and the ``CurveTable``.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ..events import Event, SegmentFinished
from ..types import Mode, TrialState, better
from ..viz.data import Anytime
from .simulate import Run
from .tables import MODES, CurveTable

TOLERANCE = 0.005  # "as good as FIFO's answer": within this of its final incumbent
BUDGETS = (10, 20, 50)  # budgets in full trainings (times the table's epochs)
TOP_SHARE = 0.05  # the "true top" configurations whose early stop is a false stop
PASS_SPEEDUP = 2.0  # a scheduler passes with at least this median speedup ...
PASS_REGRET_SLACK = 0.005  # ... and a median final regret at most FIFO's plus this
PASS_FALSE_STOPS = 0.15  # full bar: also at most this share of the true top rows stopped
_EPS = 1e-12  # float slack for the tolerance test (0.9 - 0.895 > 0.005 in binary)


# ----------------------------------------------------------------------------- one run


def epochs_used(events: Iterable[Event]) -> int:
    """Total epochs trained: ``until - start`` of every successful segment."""
    return sum(
        max(0, e.until - e.start)
        for e in events
        if isinstance(e, SegmentFinished) and e.status == "ok"
    )


def incumbent_trace(run: Run) -> Anytime:
    """The incumbent against epochs used: ``compute[i]`` is the epochs used when the
    incumbent became ``best[i]`` (a step function; it holds until the next point). The last
    point repeats the final incumbent at the run's total epochs; empty if nothing completed."""
    history = run.history
    completed = sorted(
        (run.finished_at[t.id], t.id) for t in history.completed() if t.id in run.finished_at
    )
    points: list[int] = []
    values: list[float] = []
    for when, trial_id in completed:
        value = history.score(history[trial_id])
        if value is not None and (not values or better(value, values[-1], history.mode)):
            points.append(bisect.bisect_right(run.epoch_ends, when + 1e-9))
            values.append(value)
    if points:
        points.append(len(run.epoch_ends))
        values.append(values[-1])
    return Anytime(points, values)


def incumbent_at(trace: Anytime, epochs: float) -> float | None:
    """The incumbent once ``epochs`` epochs have been used: the last one found with at most
    that many epochs used (the final one if the run used fewer); None if none yet."""
    index = int(np.searchsorted(np.asarray(trace.compute), epochs, side="right")) - 1
    return trace.best[index] if index >= 0 else None


def first_within(trace: Anytime, target: float, mode: Mode, tolerance: float = 0.0) -> int | None:
    """Epochs used when the incumbent first came within ``tolerance`` of ``target`` (or
    better than it); None if it never did."""
    for compute, value in zip(trace.compute, trace.best, strict=True):
        if abs(value - target) <= tolerance + _EPS or better(value, target, mode):
            return compute
    return None


def worst_final(table: CurveTable, metric: str) -> float:
    """The worst final value of the table (the answer of knowing nothing)."""
    values = table.final(metric)
    return float(values.min() if MODES.get(metric, "max") == "max" else values.max())


def regret(value: float | None, table: CurveTable, metric: str) -> float:
    """``|table best - value|``; with no value, ``|table best - table worst|``."""
    if value is None:
        value = worst_final(table, metric)
    return abs(table.best_final(metric) - value)


def final_regret(trace: Anytime, table: CurveTable, metric: str) -> float:
    """Regret of the run's final incumbent against the best configuration of the table."""
    return regret(trace.best[-1] if trace.best else None, table, metric)


def speedup(
    trace: Anytime,
    fifo: Anytime,
    mode: Mode,
    tolerance: float = TOLERANCE,
    fifo_tolerance: float = 0.0,
) -> float | None:
    """``E_fifo / E_s``: E_fifo = epochs FIFO had used when its incumbent first reached its
    final value v; E_s = epochs this run had used when its incumbent first came within
    ``tolerance`` of v (or better). None ("never") if it never did or FIFO found nothing.

    With the default ``fifo_tolerance=0`` the tolerance favours the scheduler, so FIFO's
    own run can score above 1; ``fifo_tolerance=tolerance`` counts FIFO's epochs to within
    the same tolerance (FIFO scores exactly 1).
    """
    if not fifo.best:
        return None
    target = fifo.best[-1]
    reference = first_within(fifo, target, mode, fifo_tolerance)
    reached = first_within(trace, target, mode, tolerance)
    if reference is None or reached is None:
        return None
    return reference / max(reached, 1)


def regret_at_budget(
    trace: Anytime, table: CurveTable, metric: str, budgets: Sequence[int] = BUDGETS
) -> dict[str, float]:
    """Regret at B trainings: of the incumbent once ``B x n_epochs`` epochs are used (over
    all trials, completed and stopped), for each B (keys are ``str(B)``): the last incumbent
    found within the budget, the final one if the run ended before, the regret of knowing
    nothing if no trial had completed by then."""
    return {str(b): regret(incumbent_at(trace, b * table.n_epochs), table, metric) for b in budgets}


def top_rows(table: CurveTable, metric: str, share: float = TOP_SHARE) -> frozenset[int]:
    """The table's true top ``share`` of configurations by final value (at least one;
    ``ceil(share * n)`` rows; ties broken by row order)."""
    values = table.final(metric)
    count = max(1, math.ceil(share * len(values) - 1e-9))
    ranked = np.argsort(-values if MODES.get(metric, "max") == "max" else values, kind="stable")
    return frozenset(int(i) for i in ranked[:count])


def top_stops(run: Run, top: frozenset[int]) -> tuple[int, int]:
    """``(tried, stopped)``: how many of the ``top`` rows the run tried, and how many of those
    it stopped early (state ``STOPPED``)."""
    tried = stopped = 0
    for trial in run.history.trials.values():
        if int(trial.config["row"]) in top:
            tried += 1
            stopped += trial.state is TrialState.STOPPED
    return tried, stopped


def false_stop_rate(run: Run, top: frozenset[int]) -> float | None:
    """Share of the top rows the run tried that it stopped; None if it tried none."""
    tried, stopped = top_stops(run, top)
    return stopped / tried if tried else None


def decision_ms(run: Run) -> float:
    """Median wall time of one scheduler decision, in milliseconds (0 if none)."""
    return statistics.median(run.decision_seconds) * 1000 if run.decision_seconds else 0.0


def run_metrics(
    run: Run, fifo: Anytime, table: CurveTable, metric: str, top: frozenset[int]
) -> dict[str, Any]:
    """Every per-run number as a plain dict (``fifo``: the trace of FIFO's run, same seed)."""
    trace = incumbent_trace(run)
    tried, stopped = top_stops(run, top)
    return {
        "speedup": speedup(trace, fifo, run.history.mode),
        "speedup_same_tolerance": speedup(trace, fifo, run.history.mode, fifo_tolerance=TOLERANCE),
        "final_regret": final_regret(trace, table, metric),
        "regret_at_budget": regret_at_budget(trace, table, metric),
        "epochs": epochs_used(run.events),
        "top_tried": tried,
        "top_stopped": stopped,
        "false_stop_rate": stopped / tried if tried else None,
        "decision_ms": decision_ms(run),
        "virtual_seconds": run.virtual_seconds,
    }


# ----------------------------------------------------------------------------- over seeds


def summarise(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Medians over seeds of ``run_metrics`` rows of one scheduler on one table.

    ``median_speedup`` (and ``median_speedup_same_tolerance``) counts "never" as 0 and is
    None when that median is 0; ``false_stop_rate`` is pooled (top rows stopped / top rows
    tried, all seeds; None if none was tried); ``never`` counts the seeds that never came
    within the tolerance of FIFO's answer.
    """
    if not rows:
        raise ValueError("summarise needs at least one run")
    tried = sum(r["top_tried"] for r in rows)
    stopped = sum(r["top_stopped"] for r in rows)
    budgets = list(rows[0]["regret_at_budget"])
    return {
        "median_speedup": _median_speedup(rows, "speedup"),
        "median_speedup_same_tolerance": _median_speedup(rows, "speedup_same_tolerance"),
        "median_final_regret": float(statistics.median(r["final_regret"] for r in rows)),
        "false_stop_rate": stopped / tried if tried else None,
        "regret_at_budget": {
            b: float(statistics.median(r["regret_at_budget"][b] for r in rows)) for b in budgets
        },
        "median_epochs": float(statistics.median(r["epochs"] for r in rows)),
        "median_decision_ms": float(statistics.median(r["decision_ms"] for r in rows)),
        "median_virtual_seconds": float(statistics.median(r["virtual_seconds"] for r in rows)),
        "never": sum(r["speedup"] is None for r in rows),
        "seeds": len(rows),
    }


def _median_speedup(rows: Sequence[Mapping[str, Any]], key: str) -> float | None:
    """Median over runs with "never" (None) as 0; None when that median is 0."""
    speed = statistics.median(r.get(key) or 0.0 for r in rows)
    return float(speed) if speed > 0 else None


def passes(summary: Mapping[str, Any], fifo: Mapping[str, Any]) -> bool:
    """The half bar: median speedup >= 2 and median final regret at most FIFO's plus
    0.005 (``fifo``: FIFO's summary on the same table). ``passes_full`` adds false stops."""
    speed = summary["median_speedup"]
    return bool(
        speed is not None
        and speed >= PASS_SPEEDUP
        and summary["median_final_regret"] <= fifo["median_final_regret"] + PASS_REGRET_SLACK + _EPS
    )


def passes_full(summary: Mapping[str, Any], fifo: Mapping[str, Any]) -> bool:
    """The full bar: ``passes`` and a pooled false-stop rate of at most 15% (at most
    ``PASS_FALSE_STOPS`` of the table's true top rows tried, over all seeds, stopped early).

    A false-stop rate of None (no seed tried any top row, so none could be stopped) meets
    the false-stop condition: the run is then judged on speedup and regret alone."""
    rate = summary["false_stop_rate"]
    return passes(summary, fifo) and (rate is None or rate <= PASS_FALSE_STOPS + _EPS)


def regret_curve(
    traces: Sequence[Anytime], grid: Sequence[float], table: CurveTable, metric: str
) -> list[float]:
    """Median over runs of the incumbent's regret at each number of epochs in ``grid``
    (``incumbent_at`` at every point; before the first completion, the regret of knowing
    nothing)."""
    if not traces:
        return []
    best, worst = table.best_final(metric), worst_final(table, metric)
    points = np.asarray(grid, dtype=float)
    rows = []
    for trace in traces:
        index = np.searchsorted(np.asarray(trace.compute), points, side="right") - 1
        found = np.asarray([*trace.best, worst], dtype=float)  # index -1 -> worst
        rows.append(np.abs(best - found[index]))
    return [float(v) for v in np.median(np.vstack(rows), axis=0)]
