"""Report data is computed right, and the report draws its figures."""

from curvetune.events import SegmentFinished, TrialCreated, TrialFinished, replay
from curvetune.space import Choice, Float, Int
from curvetune.study import Study
from curvetune.types import History, Report, TrialState
from curvetune.viz.data import best_so_far, numeric_axes
from curvetune.viz.report import write_report


def _events():
    out = []
    for trial, (value, state) in enumerate(
        [
            (0.5, TrialState.COMPLETED),
            (0.9, TrialState.STOPPED),
            (0.7, TrialState.COMPLETED),
            (0.6, TrialState.COMPLETED),
        ]
    ):
        out.append(TrialCreated(trial, {"x": trial, "k": "ab"[trial % 2]}, 0))
        out.append(SegmentFinished(trial, 0, 2, "ok", (Report(2, {"acc": value}),)))
        out.append(TrialFinished(trial, state))
    return out


def test_best_so_far_counts_compute_and_ignores_stopped_trials():
    history = replay(History(metric="acc", mode="max", max_steps=2), _events())
    anytime = best_so_far(_events(), history)
    assert anytime.compute == [2, 6, 8]
    assert anytime.best == [0.5, 0.7, 0.7]


def test_numeric_axes_turn_choices_into_levels():
    history = replay(History(metric="acc", mode="max", max_steps=2), _events())
    axes = numeric_axes(history, ["x", "k"])
    assert axes == {"x": [0, 1, 2, 3], "k": [0, 1, 0, 1]}


def test_report_writes_three_figures_for_a_3d_grid(tmp_path):
    study = Study.create(
        objective="curvetune.testing:synthetic",
        space={"x": Float(0.0, 1.0), "w": Int(1, 100, log=True), "k": Choice(["a", "b"])},
        metric="accuracy",
        max_steps=2,
        directory=tmp_path / "s",
    )
    study.optimize(trials=8, searcher="grid", executor="sequential")
    paths = write_report(study, tmp_path / "out")
    assert [p.name for p in paths] == ["best_so_far.png", "learning_curves.png", "space_3d.png"]
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_report_lists_stops_with_their_reasons(tmp_path, capsys):
    from curvetune.cli import main
    from curvetune.schedulers import make_scheduler

    study = Study.create(
        objective="curvetune.testing:synthetic",
        space={"x": Float(0.0, 1.0)},
        metric="accuracy",
        max_steps=10,
        directory=tmp_path / "s",
    )
    study.optimize(
        trials=30, executor="sequential", scheduler=make_scheduler("lcm", min_complete=5)
    )
    stopped = [t.id for t in study.history.trials.values() if t.state is TrialState.STOPPED]
    study.close()
    assert stopped
    assert main(["report", str(tmp_path / "s")]) == 0
    text = (tmp_path / "s" / "report" / "stops.md").read_text()
    assert f"# {len(stopped)} trial(s) stopped early" in text
    for trial_id in stopped:
        assert f"| {trial_id} | " in text
    assert "predicted final accuracy" in text and "completed trainings" in text
    assert "stopped early" in capsys.readouterr().out
