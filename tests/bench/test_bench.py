"""The stopping benchmark: its metrics on hand-made runs, the comparison over a tiny table,
and `curvetune bench stopping` end to end, bad inputs included."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from curvetune.bench import metrics, output
from curvetune.bench.simulate import Run, simulate
from curvetune.bench.stopping import (
    Settings,
    bench_table,
    scheduler_names,
    seed_order,
    table_paths,
)
from curvetune.bench.tables import CurveTable
from curvetune.cli import main
from curvetune.events import SegmentFinished, TrialCreated, TrialFinished, replay
from curvetune.schedulers import SCHEDULERS, make_scheduler
from curvetune.types import Complete, Continue, History, Report, Stop, TrialState
from curvetune.viz.data import Anytime

SHARED = Path(__file__).parents[3] / "shared/benchmarks/curves"
FINALS = [0.50, 0.60, 0.70, 0.90, 0.946, 0.95]  # row 5 is the best, row 4 within 0.005 of it


def tiny_arrays(finals=FINALS, epochs=4):
    """6 configurations x 4 epochs: accuracy rises linearly to each row's final value."""
    ramp = np.linspace(0.25, 1.0, epochs)
    accuracy = np.outer(np.asarray(finals), ramp)
    return {
        "val_accuracy": accuracy,
        "val_loss": 1.0 - accuracy,
        "epoch_seconds": np.ones_like(accuracy),
    }


def tiny_table(name="tiny"):
    arrays = tiny_arrays()
    seconds = arrays.pop("epoch_seconds")
    return CurveTable(name=name, curves=arrays, epoch_seconds=seconds)


def write_table(path, name="tiny", drop=()):
    arrays = {k: v for k, v in tiny_arrays().items() if k not in drop}
    np.savez_compressed(path, **arrays, meta=json.dumps({"name": name}))
    return path


def hand_run(table, script, metric="val_accuracy"):
    """A Run from a script of ("new", trial, row), ("seg", trial, start, until[, status]),
    ("end", trial, state) steps, reporting the table's values, on one worker whose epochs
    take one virtual second each."""
    rows, events, epoch_ends, finished_at = {}, [], [], {}
    for step in script:
        if step[0] == "new":
            _, trial, row = step
            rows[trial] = row
            events.append(TrialCreated(trial, {"row": row}, 0))
        elif step[0] == "seg":
            _, trial, start, until, *status = step
            curve = table.curves[metric][rows[trial]]
            steps = range(start + 1, until + 1)
            reports = tuple(Report(s, {metric: float(curve[s - 1])}) for s in steps)
            status = status[0] if status else "ok"
            events.append(SegmentFinished(trial, start, until, status, reports))
            if status == "ok":
                clock = len(epoch_ends)
                epoch_ends.extend(float(clock + i) for i in range(1, until - start + 1))
        else:
            events.append(TrialFinished(step[1], step[2]))
            finished_at[step[1]] = float(len(epoch_ends))
    mode = "max" if metric != "val_loss" else "min"
    history = replay(History(metric=metric, mode=mode, max_steps=table.n_epochs), events)
    return Run(history, events, [0.001, 0.003, 0.002], 0.0, epoch_ends, finished_at)


def whole(trial, row, state=TrialState.COMPLETED, epochs=4):
    return [("new", trial, row), ("seg", trial, 0, epochs), ("end", trial, state)]


def fifo_run(table, rows=(0, 2, 3, 5, 1, 4)):
    return hand_run(table, [s for i, r in enumerate(rows) for s in whole(i, r)])


# ----------------------------------------------------------------------------- metrics


def test_epochs_incumbent_regret_and_false_stops_of_a_hand_made_run():
    table = tiny_table()
    run = hand_run(
        table,
        [
            *whole(0, 2),  # 0.70 completed at 4 epochs
            ("new", 1, 5),
            ("seg", 1, 0, 2),
            ("seg", 1, 2, 3, "error"),  # a failed segment trains nothing
            ("end", 1, TrialState.STOPPED),  # the best row, stopped: never an incumbent
            *whole(2, 3),  # 0.90 completed at 6 + 4 = 10 epochs
            *whole(3, 1),  # 0.60: no better
        ],
    )
    trace = metrics.incumbent_trace(run)
    assert metrics.epochs_used(run.events) == 14
    assert (trace.compute, trace.best) == ([4, 10, 14], [0.70, 0.90, 0.90])
    assert metrics.incumbent_at(trace, 3) is None
    assert metrics.incumbent_at(trace, 9) == 0.70
    assert metrics.incumbent_at(trace, 10) == 0.90
    assert metrics.final_regret(trace, table, "val_accuracy") == pytest.approx(0.05)
    top = metrics.top_rows(table, "val_accuracy")
    assert top == {5}
    assert metrics.top_stops(run, top) == (1, 1)
    assert metrics.false_stop_rate(run, top) == 1.0
    assert metrics.false_stop_rate(run, frozenset({4})) is None  # never tried
    assert metrics.decision_ms(run) == pytest.approx(2.0)


def test_regret_is_positive_for_a_minimised_metric_and_knowing_nothing_is_best_minus_worst():
    table = tiny_table()
    run = hand_run(table, whole(0, 3), metric="val_loss")  # loss 0.10, best 0.05
    trace = metrics.incumbent_trace(run)
    assert metrics.final_regret(trace, table, "val_loss") == pytest.approx(0.05)
    empty = Anytime([], [])
    assert metrics.final_regret(empty, table, "val_loss") == pytest.approx(0.45)
    assert metrics.final_regret(empty, table, "val_accuracy") == pytest.approx(0.45)
    assert metrics.top_rows(table, "val_loss") == {5}


def test_speedup_against_fifo_and_never():
    table = tiny_table()
    fifo = metrics.incumbent_trace(fifo_run(table))  # reaches 0.95 (row 5) at 16 epochs
    assert metrics.speedup(fifo, fifo, "max") == 1.0
    fast = metrics.incumbent_trace(hand_run(table, [*whole(0, 1), *whole(1, 5)]))
    assert metrics.speedup(fast, fifo, "max") == 2.0  # 16 / 8
    close = metrics.incumbent_trace(hand_run(table, whole(0, 4)))  # 0.946: within 0.005
    assert metrics.speedup(close, fifo, "max") == 4.0
    short = metrics.incumbent_trace(hand_run(table, [*whole(0, 3), *whole(1, 0)]))  # 0.90
    assert metrics.speedup(short, fifo, "max") is None
    assert metrics.speedup(fifo, Anytime([], []), "max") is None
    # this FIFO run reaches 0.946 (within 0.005 of its answer 0.95) at 4 epochs and 0.95 at
    # 8: with the tolerance only on the scheduler's side, FIFO is twice as fast as itself
    early_close = metrics.incumbent_trace(fifo_run(table, rows=(4, 5, 0, 1, 2, 3)))
    assert metrics.speedup(early_close, early_close, "max") == 2.0  # 8 / 4
    assert metrics.speedup(early_close, early_close, "max", fifo_tolerance=0.005) == 1.0


def test_first_within_counts_the_tolerance_boundary_and_better_values():
    assert metrics.first_within(Anytime([10, 20], [0.895, 0.9]), 0.9, "max", 0.005) == 10
    assert metrics.first_within(Anytime([10, 20], [0.894, 0.9]), 0.9, "max", 0.005) == 20
    assert metrics.first_within(Anytime([7], [0.95]), 0.9, "max", 0.005) == 7  # better
    assert metrics.first_within(Anytime([7, 9], [0.5, 0.3]), 0.3, "min", 0.005) == 9
    assert metrics.first_within(Anytime([7], [0.2]), 0.3, "min") == 7


def test_regret_at_budget_takes_the_last_incumbent_within_the_budget():
    table = tiny_table()
    run = hand_run(table, [*whole(0, 2), *whole(1, 3), *whole(2, 0)])  # at 4, 8, 12 epochs
    trace = metrics.incumbent_trace(run)
    at = metrics.regret_at_budget(trace, table, "val_accuracy", budgets=(1, 2, 5))
    assert at == pytest.approx({"1": 0.25, "2": 0.05, "5": 0.05})  # 5 x 4 > 12: final one
    default = metrics.regret_at_budget(trace, table, "val_accuracy")
    assert list(default) == ["10", "20", "50"]
    best_first = metrics.incumbent_trace(hand_run(table, whole(0, 5)))
    nothing_yet = metrics.regret_at_budget(Anytime([], []), table, "val_accuracy", budgets=(1,))
    assert nothing_yet == {"1": pytest.approx(0.45)}
    assert metrics.regret_at_budget(best_first, table, "val_accuracy", budgets=(1,))["1"] == 0.0


def test_top_rows_are_five_percent_rounded_up():
    values = np.arange(40, dtype=float)[:, None] * np.ones((1, 3))
    table = CurveTable("t", {"val_accuracy": values, "val_loss": -values}, np.ones_like(values))
    assert metrics.top_rows(table, "val_accuracy") == {39, 38}
    assert metrics.top_rows(table, "val_loss") == {39, 38}


def _row(speedup, regret=0.01, tried=2, stopped=1, epochs=10):
    return {
        "speedup": speedup,
        "final_regret": regret,
        "regret_at_budget": {"10": regret, "20": regret, "50": regret},
        "epochs": epochs,
        "top_tried": tried,
        "top_stopped": stopped,
        "decision_ms": 0.5,
        "virtual_seconds": 1.0,
    }


def test_summaries_count_never_as_zero_and_pool_false_stops():
    summary = metrics.summarise([_row(None), _row(2.0), _row(3.0, tried=0, stopped=0)])
    assert summary["median_speedup"] == 2.0
    assert summary["never"] == 1
    assert summary["false_stop_rate"] == 0.5  # 2 of 4
    assert metrics.summarise([_row(None), _row(None), _row(3.0)])["median_speedup"] is None
    none_tried = metrics.summarise([_row(1.0, tried=0, stopped=0)])
    assert none_tried["false_stop_rate"] is None
    fifo = metrics.summarise([_row(1.0, regret=0.02)])
    assert metrics.passes(metrics.summarise([_row(2.0, regret=0.025)]), fifo)
    assert not metrics.passes(metrics.summarise([_row(2.0, regret=0.03)]), fifo)
    assert not metrics.passes(metrics.summarise([_row(1.9)]), fifo)
    assert not metrics.passes(metrics.summarise([_row(None)]), fifo)


def test_passes_full_needs_each_condition_and_takes_none_tried_as_no_false_stop():
    fifo = metrics.summarise([_row(1.0, regret=0.02, stopped=0)])
    good = metrics.summarise([_row(2.0, regret=0.025, tried=20, stopped=3)])  # 15%: at the bar
    assert metrics.passes(good, fifo) and metrics.passes_full(good, fifo)
    slow = metrics.summarise([_row(1.9, regret=0.025, tried=20, stopped=3)])
    worse = metrics.summarise([_row(2.0, regret=0.03, tried=20, stopped=3)])
    for failing in (slow, worse):  # speedup or regret alone fails both bars
        assert not metrics.passes(failing, fifo) and not metrics.passes_full(failing, fifo)
    stops = metrics.summarise([_row(2.0, regret=0.025, tried=20, stopped=4)])  # 20%
    assert metrics.passes(stops, fifo) and not metrics.passes_full(stops, fifo)
    untried = metrics.summarise([_row(2.0, regret=0.025, tried=0, stopped=0)])
    assert untried["false_stop_rate"] is None
    assert metrics.passes_full(untried, fifo)
    assert metrics.PASS_FALSE_STOPS == 0.15


def test_regret_at_k_trainings_counts_the_epochs_of_stopped_trials():
    """Four trials stopped after one epoch each use one training (4 epochs) of compute
    with no incumbent; the fifth, the best row, completes at two trainings."""
    table = tiny_table()
    script = [
        step
        for trial, row in enumerate((0, 1, 2, 3))
        for step in (("new", trial, row), ("seg", trial, 0, 1), ("end", trial, TrialState.STOPPED))
    ]
    run = hand_run(table, [*script, *whole(4, 5)])
    trace = metrics.incumbent_trace(run)
    assert metrics.epochs_used(run.events) == 8
    at = metrics.regret_at_budget(trace, table, "val_accuracy", budgets=(1, 2, 3))
    assert at == pytest.approx({"1": 0.45, "2": 0.0, "3": 0.0})  # 0.45: knowing nothing
    fifo = fifo_run(table, rows=(0, 5))  # the same two trainings, each one row in full
    fifo_at = metrics.regret_at_budget(metrics.incumbent_trace(fifo), table, "val_accuracy", (1, 2))
    assert fifo_at == pytest.approx({"1": 0.45, "2": 0.0})
    summary = metrics.summarise(
        [metrics.run_metrics(run, metrics.incumbent_trace(fifo), table, "val_accuracy", {5})]
    )
    assert set(summary["regret_at_budget"]) == {"10", "20", "50"}
    assert summary["regret_at_budget"]["10"] == 0.0  # the run ended before: its final one
    assert summary["false_stop_rate"] == 0.0  # row 5 was tried and completed


def test_regret_curve_is_the_median_over_runs_at_each_point():
    table = tiny_table()
    traces = [Anytime([4, 8], [0.7, 0.95]), Anytime([4], [0.9]), Anytime([], [])]
    curve = metrics.regret_curve(traces, [2, 4, 8], table, "val_accuracy")
    assert curve == pytest.approx([0.45, 0.25, 0.05])


# ----------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class StopLosers:
    """Test stub: one epoch for everyone, then only rows whose first epoch reaches 0.2
    (rows 3, 4, 5 of the tiny table) go on."""

    threshold: float = 0.2

    def decide(self, trial, history, rng):
        if trial.step >= history.max_steps:
            return Complete()
        if trial.step == 1 and trial.value_at(history.metric, 1) < self.threshold:
            return Stop("below threshold")
        return Continue(trial.step + 1)


@pytest.fixture
def stub(monkeypatch):
    monkeypatch.setitem(SCHEDULERS, "stub", StopLosers)
    return "stub"


def test_seed_order_is_fixed_per_seed_and_uses_every_row_of_a_small_table():
    table = tiny_table()
    assert list(seed_order(table, 3, 4)) == list(seed_order(table, 3, 4))
    assert sorted(seed_order(table, 0, 200)) == list(range(6))
    orders = {tuple(seed_order(table, s, 200)) for s in range(5)}
    assert len(orders) > 1
    assert list(seed_order(table, 1, 3)) == list(seed_order(table, 1, 6)[:3])


def test_scheduler_names_put_fifo_first_once():
    assert scheduler_names("asha, fifo,median,asha") == ("fifo", "asha", "median")
    assert scheduler_names("") == ("fifo",)
    assert Settings(schedulers=("stub",)).schedulers == ("fifo", "stub")


def test_stub_and_fifo_see_the_same_configurations(tmp_path, stub):
    path = write_table(tmp_path / "tiny.npz")
    result = bench_table(path, Settings(schedulers=("fifo", stub), seeds=3, trials=4))
    fifo_runs, stub_runs = result["runs"]["fifo"], result["runs"][stub]
    assert [r["top_tried"] for r in fifo_runs] == [r["top_tried"] for r in stub_runs]
    assert all(r["top_stopped"] == 0 for r in stub_runs)  # the best row is never stopped
    assert all(s["epochs"] < f["epochs"] for s, f in zip(stub_runs, fifo_runs, strict=True))
    # the simulated runs agree with the hand-made metrics
    table = tiny_table()
    order = seed_order(table, 0, 4)
    run = simulate(table, make_scheduler("fifo"), order=order, seed=0)
    assert metrics.epochs_used(run.events) == 16 == fifo_runs[0]["epochs"]


def test_cli_writes_results_markdown_and_figures(tmp_path, stub, capsys):
    table = write_table(tmp_path / "tiny.npz")
    out = tmp_path / "out"
    argv = ["bench", "stopping", "--table", str(table), "--schedulers", stub]
    argv += ["--seeds", "3", "--trials", "10", "--out", str(out), "--quiet"]  # 10 > 6 rows
    assert main(argv) == 0
    data = json.loads((out / "results.json").read_text())
    assert data["settings"]["schedulers"] == ["fifo", "stub"]
    assert data["settings"]["trials"] == 10
    assert data["settings"]["pass"]["full_bar_false_stop_rate_at_most"] == 0.15
    schedulers = data["tables"]["tiny"]["schedulers"]
    assert set(schedulers) == {"fifo", "stub"}
    for summary in schedulers.values():
        assert isinstance(summary["median_speedup"], float | None)
        assert isinstance(summary["median_final_regret"], float)
        assert isinstance(summary["false_stop_rate"], float)
        assert set(summary["regret_at_budget"]) == {"10", "20", "50"}
        assert all(isinstance(v, float) for v in summary["regret_at_budget"].values())
        assert isinstance(summary["median_epochs"], float)
        assert isinstance(summary["median_decision_ms"], float)
        assert isinstance(summary["passes"], bool)
        assert isinstance(summary["passes_full"], bool)
        assert summary["passes_full"] <= summary["passes"]
    assert schedulers["fifo"]["median_speedup"] >= 1.0  # the tolerance helps FIFO too
    assert schedulers["fifo"]["median_speedup_same_tolerance"] == 1.0
    assert schedulers["fifo"]["median_epochs"] == 24.0  # all 6 rows x 4 epochs
    assert schedulers["stub"]["median_final_regret"] == 0.0
    assert schedulers["stub"]["median_speedup"] > 1.0
    markdown = (out / "results.md").read_text()
    assert "| tiny | 6 |" in markdown and "| stub |" in markdown
    first = next(line for line in markdown.splitlines() if line.startswith("| "))
    assert first.startswith("| scheduler | full bar (of 1) | speed + regret only |")
    assert (out / "anytime" / "tiny.png").read_bytes()[:4] == b"\x89PNG"
    assert len((out / "runs.csv").read_text().splitlines()) == 1 + 2 * 3
    printed = capsys.readouterr().out
    assert "wrote" in printed and "stub: passes the full bar on" in printed


def test_cli_takes_a_folder_of_tables_and_runs_them_in_processes(tmp_path):
    folder = tmp_path / "tables"
    folder.mkdir()
    write_table(folder / "a.npz", name="alpha")
    write_table(folder / "b.npz", name="beta")
    assert table_paths([folder]) == [folder / "a.npz", folder / "b.npz"]
    out = tmp_path / "out"
    argv = ["bench", "stopping", "--table", str(folder), "--seeds", "2", "--trials", "6"]
    assert main([*argv, "--jobs", "2", "--out", str(out), "--quiet"]) == 0
    data = json.loads((out / "results.json").read_text())
    assert list(data["tables"]) == ["alpha", "beta"]
    assert data["settings"]["tables"] == ["a.npz", "b.npz"]  # names, never machine paths


def _summary(speedup, regret=0.01, false_stops=0.0, passes=None, full=None):
    """A hand-made per-table summary as results.json holds it (no ``passes_full`` when
    ``full`` is None: results written before the full bar existed)."""
    out = {
        "median_speedup": speedup,
        "median_speedup_same_tolerance": speedup,
        "median_final_regret": regret,
        "false_stop_rate": false_stops,
        "regret_at_budget": {"10": 0.3, "20": 0.2, "50": 0.1},
        "median_epochs": 100.0,
        "median_decision_ms": 0.1,
        "passes": bool(speedup and speedup >= 2) if passes is None else passes,
    }
    if full is not None:
        out["passes_full"] = full
    return out


def _results(tables, schedulers=("fifo", "x"), workers=4):
    return {
        "tables": {
            name: {"n_configs": 100, "schedulers": summaries} for name, summaries in tables.items()
        },
        "settings": {
            "schedulers": list(schedulers),
            "seeds": 2,
            "trials": 10,
            "workers": workers,
            "metric": "val_accuracy",
            "mode": "max",
            "tolerance": 0.005,
            "budgets": [10, 20, 50],
            "top_share": 0.05,
            "tables": [f"{name}.npz" for name in tables],
        },
    }


def test_markdown_leads_with_the_full_bar_and_marks_full_and_half_passes():
    fifo = _summary(1.0, full=False)
    results = _results(
        {
            "a": {"fifo": fifo, "x": _summary(3.0, false_stops=0.1, full=True)},
            "b": {"fifo": fifo, "x": _summary(3.0, false_stops=0.5, full=False)},
            "c": {"fifo": fifo, "x": _summary(1.0, false_stops=None, full=False)},
        }
    )
    totals = output.scheduler_totals(results)
    assert (totals["x"]["passes_full"], totals["x"]["passes"]) == (1, 2)
    assert totals["x"]["median_false_stop_rate"] == pytest.approx(0.3)  # c tried none
    assert (totals["x"]["worst_false_stop_rate"], totals["x"]["worst_false_stop_table"]) == (
        0.5,
        "b",
    )
    text = output.markdown(results)
    tables = [line for line in text.splitlines() if line.startswith("| ")]
    assert tables[0].startswith("| scheduler | full bar (of 3) | speed + regret only |")
    assert "regret at 10 trainings | regret at 20 trainings | regret at 50 trainings |" in tables[0]
    assert tables[2] == ("| x | **1** | 2 | 30.0% | 50.0% | 3.00× | 0.3000 | 0.2000 | 0.1000 |")
    assert text.index("| scheduler | full bar") < text.index("| table | n |")
    assert "nothing tells you" in text
    per_table = {line.split(" | ")[0]: line for line in tables if line[2:3] in "abc"}
    assert per_table["| a"].endswith("3.00× 0.0100 10.0% **✓** |")
    assert per_table["| b"].endswith("3.00× 0.0100 50.0% (✓) |")
    assert per_table["| c"].endswith("1.00× 0.0100 — |")


def test_full_bar_of_results_written_before_it_existed_and_the_side_by_side_summary():
    fifo = _summary(1.0, regret=0.02)  # no passes_full: computed from the summaries
    four = _results(
        {
            "a": {"fifo": fifo, "x": _summary(3.0, false_stops=0.1)},
            "b": {"fifo": fifo, "x": _summary(3.0, false_stops=0.2)},
        },
        schedulers=("fifo", "x", "y"),
    )
    four["tables"]["a"]["schedulers"]["y"] = _summary(2.5, false_stops=None)
    four["tables"]["b"]["schedulers"]["y"] = _summary(2.5, regret=0.03, false_stops=None)
    assert output.full_bar(four["tables"]["a"], "x")
    assert not output.full_bar(four["tables"]["b"], "x")  # 20% of the top stopped
    assert output.full_bar(four["tables"]["a"], "y")  # tried none: judged on the rest
    one = _results(
        {
            "a": {"fifo": fifo, "x": _summary(3.0, false_stops=0.0, full=True)},
            "b": {"fifo": fifo, "x": _summary(3.0, false_stops=0.05, full=True)},
        },
        workers=1,
    )
    text = output.combined_markdown({"4 workers": four, "1 worker": one})
    rows = {line.split(" | ")[0][2:]: line for line in text.splitlines() if line.startswith("| ")}
    assert rows["scheduler"] == (
        "| scheduler | full bar (of 2) | speed + regret only | false stops, median "
        "| false stops, worst table |"
    )
    assert rows["x"] == "| x | **1** / **2** | 2 / 2 | 15.0% / 2.5% | 20.0% / 5.0% |"
    assert rows["y"] == "| y | **1** / — | 2 / — | — / — | — / — |"
    assert "Each cell: 4 workers / 1 worker." in text
    assert "compare with care" not in text
    one["settings"]["seeds"] = 3
    assert "compare with care" in output.combined_markdown({"4": four, "1": one})


def _error_line(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("curvetune: error:") and "\n" not in err
    return err


@pytest.mark.parametrize("kind", ["text", "no_val_loss", "missing", "empty_folder"])
def test_bad_tables_end_in_one_line_and_exit_2(tmp_path, capsys, kind):
    path = tmp_path / "x.npz"
    if kind == "text":
        path.write_text("not an archive")
    elif kind == "no_val_loss":
        write_table(path, drop=("val_loss",))
    elif kind == "empty_folder":
        path = tmp_path / "none"
        path.mkdir()
    argv = ["bench", "stopping", "--table", str(path), "--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 2
    _error_line(capsys)
    assert not (tmp_path / "o").exists()


def test_unknown_scheduler_and_missing_metric_end_in_one_line(tmp_path, capsys):
    table = str(write_table(tmp_path / "tiny.npz"))
    base = ["bench", "stopping", "--table", table, "--out", str(tmp_path / "o"), "--quiet"]
    assert main([*base, "--schedulers", "nonesuch"]) == 2
    assert "unknown scheduler 'nonesuch'" in _error_line(capsys)
    assert main([*base, "--metric", "test_accuracy"]) == 2
    assert "no metric 'test_accuracy'" in _error_line(capsys)
    assert main([*base, "--seeds", "0"]) == 2
    assert "--seeds" in _error_line(capsys)


@pytest.mark.slow
@pytest.mark.skipif(not SHARED.is_dir(), reason="shared curve tables not present")
def test_a_real_shared_table(tmp_path):
    table = sorted(SHARED.glob("*.npz"))[0]
    out = tmp_path / "out"
    argv = ["bench", "stopping", "--table", str(table), "--seeds", "2", "--trials", "50"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    data = json.loads((out / "results.json").read_text())
    (summary,) = [t["schedulers"]["fifo"] for t in data["tables"].values()]
    assert summary["median_speedup"] == 1.0
    assert summary["median_epochs"] == 50 * 52
    assert 0 <= summary["median_final_regret"] < 0.5
