"""The controller loop on the synthetic objective: budgets, decisions, failures, resume."""

import json

import pytest

from curvetune.events import SegmentFinished, SegmentLost, TrialFinished
from curvetune.export import to_json
from curvetune.schedulers import FIFOScheduler
from curvetune.types import Continue, Stop, TrialState


def test_runs_exactly_the_trial_budget_to_full_steps(make_study):
    study = make_study()
    history = study.optimize(trials=5, executor="sequential")
    assert len(history) == 5
    for trial in history.trials.values():
        assert trial.state is TrialState.COMPLETED
        assert trial.step == 4
        assert [r.step for r in trial.reports] == [1, 2, 3, 4]
        assert trial.checkpoint_step == 4
    best = study.best_trial
    assert best is not None
    scores = [history.score(t) for t in history.trials.values()]
    assert history.score(best) == max(scores)


def test_segments_checkpoint_and_continue(make_study):
    study = make_study()
    study.optimize(trials=2, executor="sequential", scheduler=FIFOScheduler(segment=3))
    segments = [e for e in study.store.events() if isinstance(e, SegmentFinished)]
    assert [(e.start, e.until) for e in segments] == [(0, 3), (3, 4), (0, 3), (3, 4)]
    # Only the final checkpoint of a completed trial is kept.
    assert study.checkpoints.steps(0) == [4]
    state = json.loads((study.checkpoints.dir_for(0, 4) / "state.json").read_text())
    assert state["trained"] == [1, 2, 3, 4]


def test_same_seed_gives_identical_export(make_study):
    exports = []
    for name in ("a", "b"):
        study = make_study(directory=name, seed=7)
        exports.append(to_json(study.optimize(trials=6, executor="sequential")))
    assert exports[0] == exports[1]
    other = make_study(directory="c", seed=8)
    assert to_json(other.optimize(trials=6, executor="sequential")) != exports[0]


def test_objective_that_raises_fails_its_trial_and_the_study_goes_on(make_study):
    study = make_study(fixed={"fail_above": 0.5})
    history = study.optimize(trials=8, executor="sequential")
    states = {t.id: t.state for t in history.trials.values()}
    assert len(states) == 8
    failed = [t for t in history.trials.values() if t.state is TrialState.FAILED]
    completed = [t for t in history.trials.values() if t.state is TrialState.COMPLETED]
    assert failed and completed
    for trial in failed:
        assert trial.config["x"] > 0.5
        assert "ValueError" in trial.reason
    tracebacks = [e.error for e in study.store.events() if isinstance(e, SegmentFinished)]
    assert any("Traceback" in tb and "fail_above" in tb for tb in tracebacks)


def test_nan_metric_marks_trial_diverged(make_study):
    study = make_study(fixed={"nan_above": 0.5})
    history = study.optimize(trials=8, executor="sequential")
    diverged = [t for t in history.trials.values() if t.state is TrialState.DIVERGED]
    assert diverged
    assert all(t.config["x"] > 0.5 and "nan" in t.reason for t in diverged)
    assert all(t.checkpoint_step == 0 for t in diverged)


class StopAfterTwo:
    def decide(self, trial, history, rng):
        if trial.step >= 2:
            return Stop("enough", {"at": trial.step})
        return Continue(trial.step + 1)


def test_stop_decision_is_recorded_with_its_reason(make_study):
    study = make_study()
    history = study.optimize(trials=3, executor="sequential", scheduler=StopAfterTwo())
    assert all(
        t.state is TrialState.STOPPED and t.reason == "enough" for t in history.trials.values()
    )
    assert all(t.step == 2 for t in history.trials.values())
    # A stopped trial keeps no checkpoint.
    assert all(study.checkpoints.steps(t) == [] for t in range(3))


class Overreach:
    def decide(self, trial, history, rng):
        return Continue(history.max_steps + 1)


def test_scheduler_asking_beyond_budget_is_an_error(make_study):
    with pytest.raises(RuntimeError, match="budget is 4 steps"):
        make_study().optimize(trials=1, executor="sequential", scheduler=Overreach())


def test_rerun_continues_and_keeps_finished_trials(make_study):
    study = make_study()
    study.optimize(trials=3, executor="sequential")
    before = to_json(study.history)
    study.close()
    again = make_study()
    assert len(again.history) == 3
    assert to_json(again.history) == before
    again.optimize(trials=5, executor="sequential")
    assert len(again.history) == 5
    assert json.loads(to_json(again.history))["trials"][:3] == json.loads(before)["trials"]


def test_interrupted_trial_resumes_from_its_checkpoint(make_study):
    """A crash while deciding after step 3: the store holds steps 1-2 and checkpoint 2, so
    the rerun continues with segment (2, 3), not from scratch."""
    study = make_study()
    with pytest.raises(Crash):
        study.optimize(trials=1, executor="sequential", scheduler=StopAtTwoButRunning())
    assert study.history[0].state is TrialState.RUNNING
    study.close()
    resumed = make_study()
    resumed.optimize(trials=1, executor="sequential")
    trial = resumed.history[0]
    assert trial.state is TrialState.COMPLETED
    segments = [e for e in resumed.store.events() if isinstance(e, SegmentFinished)]
    assert [(e.start, e.until) for e in segments] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    state = json.loads((resumed.checkpoints.dir_for(0, 4) / "state.json").read_text())
    assert state["trained"] == [1, 2, 3, 4]


class Crash(Exception):
    pass


class StopAtTwoButRunning:
    """Leaves the trial running by raising out of the controller after step 3 (a 'crash')."""

    def decide(self, trial, history, rng):
        if trial.step >= 3:
            raise Crash
        return Continue(trial.step + 1)


class Explode:
    """An executor whose worker 'dies' on the first attempt of every segment."""

    workers = 1

    def __init__(self):
        self.calls = 0

    def submit(self, fn, *args):
        from concurrent.futures import Future

        self.calls += 1
        future = Future()
        if self.calls % 2 == 1:
            future.set_exception(OSError("worker died"))
        else:
            future.set_result(fn(*args))
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        pass


def test_lost_segment_is_retried_then_trial_continues(make_study):
    study = make_study()
    history = study.optimize(trials=2, executor=Explode())
    assert all(t.state is TrialState.COMPLETED for t in history.trials.values())
    lost = [e for e in study.store.events() if isinstance(e, SegmentLost)]
    assert len(lost) == 8  # every one of 2 x 4 segments lost once, retried once


class AlwaysExplode(Explode):
    def submit(self, fn, *args):
        from concurrent.futures import Future

        future = Future()
        future.set_exception(OSError("worker died"))
        return future


def test_segment_lost_too_often_fails_the_trial(make_study):
    study = make_study()
    history = study.optimize(trials=2, executor=AlwaysExplode(), max_retries=2)
    assert all(t.state is TrialState.FAILED for t in history.trials.values())
    assert "lost 3 times" in history[0].reason
    finished = [e for e in study.store.events() if isinstance(e, TrialFinished)]
    assert len(finished) == 2


def test_in_memory_study_with_callable_objective(make_study):
    def objective(config, ctx):
        for step in range(ctx.start + 1, ctx.until + 1):
            ctx.report(step, accuracy=config["x"])

    study = make_study(directory=None, objective=objective)
    history = study.optimize(trials=4, executor="sequential")
    assert len(history) == 4
    assert history.score(study.best_trial) == max(t.config["x"] for t in history.trials.values())
