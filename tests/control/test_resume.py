"""Resuming changes nothing: a study killed and rerun proposes, trains and scores exactly
what one run straight through does; stateless objectives named by import path start where
they stopped; in-memory studies keep checkpoints too."""

import io
import warnings

import pytest
from conftest import Interrupt, interrupted_after
from rich.console import Console

from curvetune.events import SegmentFinished
from curvetune.notes import StudyNote
from curvetune.schedulers import PBTScheduler
from curvetune.space import Float, Int
from curvetune.study import Study


def _study(
    directory,
    *,
    objective="curvetune.testing:synthetic",
    max_steps=4,
    space=None,
    metric="accuracy",
    mode="max",
):
    return Study.create(
        objective=objective,
        space=space or {"x": Float(0.0, 1.0), "width": Int(8, 64, log=True)},
        metric=metric,
        mode=mode,
        max_steps=max_steps,
        seed=7,
        directory=directory,
    )


def _facts(study):
    return [
        (t.id, dict(t.config), t.seed, t.state, t.step, study.history.score(t))
        for t in study.history.trials.values()
    ]


@pytest.mark.parametrize(
    ("searcher", "scheduler"), [("random", "fifo"), ("evolution", "asha"), ("random", "lcm")]
)
@pytest.mark.parametrize("cut", [5, 23, 41])
def test_a_resumed_study_equals_one_run_straight_through(tmp_path, searcher, scheduler, cut):
    options = dict(trials=12, searcher=searcher, executor="sequential", progress=False)
    straight = _study(tmp_path / "straight")
    straight.optimize(scheduler=scheduler, **options)

    resumed = _study(tmp_path / "resumed")
    with pytest.raises(Interrupt):
        resumed.optimize(scheduler=scheduler, listener=interrupted_after(cut), **options)
    resumed.close()
    again = Study.load(tmp_path / "resumed", readonly=False)
    again.optimize(scheduler=scheduler, **options)
    assert _facts(again) == _facts(straight)


def test_a_resumed_pbt_study_equals_one_run_straight_through(tmp_path):
    space = {"lr": Float(0.01, 1.2, log=True)}
    options = dict(trials=6, executor="sequential", progress=False)
    kwargs = dict(
        objective="curvetune.testing:sgd_quadratic",
        max_steps=6,
        space=space,
        metric="loss",
        mode="min",
    )

    def pbt():
        return PBTScheduler(interval=2, population=6)

    straight = _study(tmp_path / "straight", **kwargs)
    straight.optimize(scheduler=pbt(), **options)
    resumed = _study(tmp_path / "resumed", **kwargs)
    with pytest.raises(Interrupt):
        resumed.optimize(scheduler=pbt(), listener=interrupted_after(30), **options)
    again = Study.load(tmp_path / "resumed", readonly=False)
    again.optimize(scheduler=pbt(), **options)
    assert _facts(again) == _facts(straight)


def test_a_stateless_objective_named_by_import_path_starts_where_it_stopped(tmp_path):
    study = _study(tmp_path / "s", objective="curvetune.testing:stateless_curve", max_steps=5)
    study.optimize(trials=2, scheduler="asha", executor="sequential", progress=False)
    starts = [e.start for e in study.store.events() if isinstance(e, SegmentFinished)]
    assert starts and all(s > 0 for s in starts[1:2])
    finished = [e for e in study.store.events() if isinstance(e, SegmentFinished)]
    assert all(len(e.reports) == e.until - e.start for e in finished)  # nothing re-reported
    assert not (tmp_path / "s" / "checkpoints").exists()


def test_an_in_memory_study_keeps_checkpoints_between_segments():
    study = _study(None)
    study.optimize(trials=2, scheduler="asha", executor="sequential", progress=False)
    starts = [e.start for e in study.store.events() if isinstance(e, SegmentFinished)]
    assert max(starts) > 0  # continued from a checkpoint, not retrained from step 0
    scratch = study.checkpoints.root
    assert scratch.is_dir()
    study.close()
    assert not scratch.exists()


def test_an_objective_that_saves_nothing_is_noted_once(tmp_path):
    study = Study.create(
        objective="curvetune.testing:noop",
        space={"x": Float(0.0, 1.0)},
        metric="loss",
        mode="min",
        max_steps=4,
        directory=tmp_path / "noop",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(trials=3, scheduler="asha", executor="sequential", progress=False)
    notes = [w for w in caught if issubclass(w.category, StudyNote)]
    assert len(notes) == 1 and "ctx.checkpoint_out" in str(notes[0].message)


def test_optimize_shows_progress_and_its_result_prints_readably(tmp_path):
    out = io.StringIO()
    study = _study(tmp_path / "s")
    history = study.optimize(trials=3, executor="sequential", progress=Console(file=out, width=80))
    assert "3/3 trials" in out.getvalue() and "best accuracy" in out.getvalue()
    text = repr(history)
    assert text.startswith("History(3 trials: 3 completed; best accuracy ")
    assert "3 trials" in repr(study)
