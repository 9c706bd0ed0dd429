"""The worker side: segment results, the class adapter, and surviving a killed worker."""

import pytest

from curvetune.events import SegmentLost
from curvetune.space import Float
from curvetune.study import Study
from curvetune.types import TrialState
from curvetune.worker import SegmentContext, load_objective, run_segment


def test_run_segment_turns_an_exception_into_an_error_result(tmp_path):
    ctx = SegmentContext(0, 1, 0, 2, None, str(tmp_path / "out"))
    result = run_segment("curvetune.testing:synthetic", {"x": 0.9, "fail_above": 0.5}, ctx)
    assert result.status == "error" and "ValueError" in result.error
    assert result.checkpoint is None and not (tmp_path / "out").exists()


def test_objective_paths_are_checked():
    for path, message in [
        ("no_colon", "must look like"),
        ("nowhere_at_all:f", "cannot import"),
        ("curvetune.testing:missing", "has no 'missing'"),
    ]:
        with pytest.raises(ValueError, match=message):
            load_objective(path)


def test_class_objective_trains_saves_and_resumes(tmp_path):
    objective = load_objective("curvetune.testing:Counter")
    first = SegmentContext(0, 1, 0, 2, None, str(tmp_path / "2"))
    assert run_segment(objective, {"x": 0.5}, first).status == "ok"
    second = SegmentContext(0, 1, 2, 3, str(tmp_path / "2"), str(tmp_path / "3"))
    result = run_segment(objective, {"x": 0.5}, second)
    assert [(r.step, r.metrics["total"]) for r in first.reports] == [(1, 0.5), (2, 1.0)]
    assert [(r.step, r.metrics["total"]) for r in result.reports] == [(3, 1.5)]
    assert result.checkpoint == str(tmp_path / "3")


def test_class_objective_in_a_study(tmp_path):
    study = Study.create(
        objective="curvetune.testing:Counter",
        space={"x": Float(0.0, 1.0)},
        metric="total",
        max_steps=3,
        directory=tmp_path / "s",
    )
    history = study.optimize(trials=3, executor="sequential")
    for trial in history.trials.values():
        assert trial.last_value("total") == pytest.approx(3 * trial.config["x"])


@pytest.mark.slow
def test_killed_local_worker_is_replaced_and_its_segment_retried(tmp_path):
    study = Study.create(
        objective="curvetune.testing:dies_once",
        space={"x": Float(0.0, 1.0)},
        metric="accuracy",
        max_steps=3,
        fixed={"marker_dir": str(tmp_path / "markers")},
        directory=tmp_path / "s",
    )
    history = study.optimize(trials=3, executor="local", workers=2)
    assert len(history) == 3
    assert all(t.state is TrialState.COMPLETED and t.step == 3 for t in history.trials.values())
    lost = [e for e in study.store.events() if isinstance(e, SegmentLost)]
    assert len(lost) >= 1  # several trials may share the death of one worker
    assert len(list((tmp_path / "markers").iterdir())) == 3
