"""Ask/tell: a study driven from the user's own loop, on the same decision core as optimize."""

from __future__ import annotations

import math

import numpy as np
import pytest

from curvetune import Choice, Float, Stop, Study, TrialState
from curvetune.events import Decided, SegmentFinished
from curvetune.schedulers import FIFOScheduler, LCMScheduler, PBTScheduler
from curvetune.storage import StoreError, StudyLockedError

STEPS = 12


def curve(config, step: int) -> float:
    """``curvetune.testing.stateless_curve``'s accuracy at ``step``."""
    final = 1.0 - (float(config["x"]) - 0.3) ** 2
    return final * (1 - math.exp(-step / 3))


def make(directory=None, *, scheduler=None, searcher="random", max_steps=STEPS, **kw) -> Study:
    return Study.create(
        space={"x": Float(0.0, 1.0)},
        metric="accuracy",
        mode="max",
        max_steps=max_steps,
        seed=3,
        directory=directory,
        searcher=searcher,
        scheduler=scheduler or LCMScheduler(min_complete=3),
        **kw,
    )


def train(study: Study, trials: int, *, until: int = STEPS) -> None:
    """The user's loop: what a training script around ask/tell looks like."""
    for _ in range(study.remaining(trials)):
        trial = study.ask()
        for step in range(1, until + 1):
            trial.report(step, accuracy=curve(trial.config, step))
            if trial.should_stop():
                break
        study.tell(trial)


def outcome(study: Study) -> list[tuple]:
    return [(t.id, dict(t.config), t.state, t.step, t.reason) for t in study.trials]


def test_ask_tell_decides_exactly_as_optimize_does():
    """One decision core: the same trials, configs, stop steps and reasons either way."""
    asked = make()
    train(asked, 24)
    optimized = make(objective="curvetune.testing:stateless_curve")
    optimized.optimize(trials=24, executor="sequential", progress=False)
    assert outcome(asked) == outcome(optimized)
    states = [t.state for t in asked.trials]
    assert TrialState.STOPPED in states and TrialState.COMPLETED in states


def test_the_store_explains_each_stop_and_reopens_the_same(tmp_path):
    study = make(tmp_path / "s")
    train(study, 16)
    before = outcome(study)
    stops = [e for e in study.store.events() if isinstance(e, Decided) and e.kind == "Stop"]
    assert stops and all(e.reason for e in stops)
    study.close()
    assert outcome(Study.load(tmp_path / "s")) == before


def test_a_killed_loop_gets_its_untold_trials_back_first_and_the_budget_stays_exact(tmp_path):
    fifo = FIFOScheduler(segment=2)
    study = make(tmp_path / "s", scheduler=fifo)
    train(study, 3)
    first, second = study.ask(), study.ask()  # the program dies with these two untold
    first.report(1, accuracy=0.1)
    first.report(4, accuracy=0.2)  # a whole segment stored
    study.store.close()  # as a killed process leaves it (the lock goes with the process)
    study._session.close()

    again = make(tmp_path / "s", scheduler=fifo)
    handed = [again.ask(), again.ask()]
    assert [h.id for h in handed] == [first.id, second.id]
    assert [dict(h.config) for h in handed] == [dict(first.config), dict(second.config)]
    for trial in handed:  # from step 0: the first segment replaces what the dead loop sent
        for step in (1, 2):
            trial.report(step, accuracy=curve(trial.config, step))
        stored = again.history[trial.id]
        assert stored.step == 2 and [r.step for r in stored.reports] == [1, 2]
        again.tell(trial)
    train(again, 10)
    assert len(again.trials) == 10
    assert all(t.state is not TrialState.RUNNING for t in again.trials)


def test_a_second_program_cannot_ask_while_one_holds_the_study(tmp_path):
    study = make(tmp_path / "s")
    study.ask()
    with pytest.raises(StudyLockedError, match="in use"):
        make(tmp_path / "s").ask()
    study.close()
    make(tmp_path / "s").ask()  # released by close()


def test_a_trial_of_a_closed_study_is_refused_in_one_line(tmp_path):
    study = make(tmp_path / "s")
    trial = study.ask()
    study.close()
    with pytest.raises(ValueError, match="its study was closed; reopen"):
        trial.report(1, accuracy=0.5)
    with pytest.raises(StoreError, match="this study was closed; open it again"):
        study.tell(trial)


def test_stop_complete_and_the_loop_ending_a_trial_early():
    study = make(scheduler=_StopAt(3))
    trial = study.ask()
    for step in (1, 2):
        trial.report(step, accuracy=0.5)
        assert not trial.should_stop()
    trial.report(3, accuracy=0.5)
    assert trial.should_stop() and trial.state is TrialState.STOPPED
    assert trial.reason == "stopped at 3"
    study.tell(trial)

    early = study.ask()
    early.report(1, accuracy=0.4)
    study.tell(early)  # the loop broke out before the scheduler said anything
    stored = study.history[early.id]
    assert stored.state is TrialState.STOPPED and stored.step == 1
    assert "ended by the loop at step 1" in stored.reason

    failed = study.ask()
    failed.report(1, accuracy=0.4)
    study.tell(failed, error="Traceback ...\nRuntimeError: CUDA out of memory")
    assert study.history[failed.id].state is TrialState.FAILED
    assert study.history[failed.id].reason == "RuntimeError: CUDA out of memory"


def test_a_loop_reporting_every_few_steps_is_judged_at_the_schedulers_steps():
    """Reports past a check step close the segment at the check, as optimize would."""
    study = make(scheduler=_StopAt(4))  # asks to be consulted at every step
    trial = study.ask()
    trial.report(np.int64(3), accuracy=0.3)  # numpy integers are steps too
    assert not trial.should_stop() and trial.step == 3
    trial.report(6, accuracy=0.6)  # past 4: stopped there, on what it had by then
    assert trial.should_stop()
    stored = study.history[trial.id]
    assert stored.step == 4 and [r.step for r in stored.reports] == [3]
    decided = [e.until for e in study.store.events() if isinstance(e, Decided)]
    assert decided == [1, 2, 3, 4, None]
    assert (trial.metric, trial.max_steps) == ("accuracy", STEPS)


def test_a_diverged_trial_is_told_so():
    study = make()
    trial = study.ask()
    trial.report(1, accuracy=0.2)
    study.tell(trial, diverged=True, error="loss is nan at step 2")
    stored = study.history[trial.id]
    assert stored.state is TrialState.DIVERGED and stored.reason == "loss is nan at step 2"


def test_a_trial_reaching_the_budget_completes():
    study = make(scheduler="fifo", max_steps=3)
    trial = study.ask()
    for step in (1, 2, 3):
        assert not trial.should_stop()
        trial.report(step, accuracy=0.1 * step)
    assert trial.should_stop() and trial.state is TrialState.COMPLETED
    study.tell(trial)
    assert study.best_trial.id == trial.id


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.report(0, accuracy=0.1), "step must be a whole number from 1 to"),
        (lambda t: t.report(STEPS + 1, accuracy=0.1), "max_steps = 12"),
        (lambda t: t.report(1.5, accuracy=0.1), "step must be a whole number"),
        (lambda t: t.report(True, accuracy=0.1), "step must be a whole number"),
        (lambda t: t.report("1", accuracy=0.1), "step must be a whole number"),
        (lambda t: t.report(1, accuracy=math.nan), r"accuracy = nan at step 1.*diverged=True"),
        (lambda t: t.report(1, accuracy="high"), "'high' at step 1 is not a number"),
        (lambda t: t.report(1), "names no metric"),
    ],
)
def test_bad_reports_are_one_clear_error(call, message):
    trial = make().ask()
    with pytest.raises(ValueError, match=message):
        call(trial)


def test_steps_must_not_go_back_and_a_stopped_or_told_trial_takes_no_reports():
    study = make(scheduler=_StopAt(3))
    trial = study.ask()
    trial.report(1, accuracy=0.1)
    trial.report(2, accuracy=0.2)
    trial.report(2, accuracy=0.25)  # several reports within a step: the last one counts
    with pytest.raises(ValueError, match="step 1 after step 2; steps must not go back"):
        trial.report(1, accuracy=0.1)
    trial.report(3, accuracy=0.3)
    assert study.history[trial.id].value_at("accuracy", 2) == 0.25
    with pytest.raises(ValueError, match=r"stopped by the scheduler at step 3 .*study.tell"):
        trial.report(4, accuracy=0.4)
    study.tell(trial)
    with pytest.raises(ValueError, match="told already"):
        study.tell(trial)
    with pytest.raises(ValueError, match="told already"):
        trial.report(4, accuracy=0.4)


def test_a_trial_of_another_study_and_a_failed_stopped_trial_are_refused():
    one, other = make(), make()
    trial = one.ask()
    other.ask()
    with pytest.raises(ValueError, match="not asked from this study"):
        other.tell(trial)
    stopped = make(scheduler=_StopAt(1))
    handle = stopped.ask()
    handle.report(1, accuracy=0.2)
    with pytest.raises(ValueError, match=r"already finished .* without error"):
        stopped.tell(handle, error="boom")


def test_a_metric_the_study_does_not_know_is_named_with_a_hint():
    trial = make(scheduler="fifo").ask()  # fifo decides after every step
    with pytest.raises(ValueError, match=r"trial 0 reports 'acuracy' but not .*'accuracy' \(did"):
        trial.report(1, acuracy=0.5)


def test_pbt_says_it_needs_optimize():
    study = make(scheduler=PBTScheduler(population=4))
    with pytest.raises(ValueError, match=r"pbt .*needs .*study.optimize\(\)"):
        study.ask()


def test_optimize_on_an_ask_tell_study_says_what_is_missing():
    with pytest.raises(ValueError, match=r"no objective .*ask/tell"):
        make().optimize(trials=2, progress=False)


def test_ask_gives_none_once_the_searcher_is_exhausted():
    study = Study.create(
        space={"x": Choice([0.1, 0.3])},
        metric="accuracy",
        max_steps=2,
        searcher="grid",
        scheduler="fifo",
    )
    for _ in range(2):
        trial = study.ask()
        trial.report(2, accuracy=curve(trial.config, 2))
        study.tell(trial)
    assert study.ask() is None
    assert sorted(t.config["x"] for t in study.trials) == [0.1, 0.3]


def test_each_segment_is_stored_at_once(tmp_path):
    """A loop killed mid-trial loses only the segment under way."""
    study = make(tmp_path / "s", scheduler="fifo")
    trial = study.ask()
    trial.report(STEPS, accuracy=0.9)
    kinds = [type(e).__name__ for e in Study.load(tmp_path / "s").store.events()]
    assert "SegmentFinished" in kinds and "TrialFinished" in kinds
    finished = [e for e in study.store.events() if isinstance(e, SegmentFinished)]
    assert finished[0].seconds >= 0
    study.close()


class _StopAt:
    """Continues step by step and stops every trial at ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def decide(self, trial, history, rng):
        from curvetune import Continue

        if trial.step >= self.step:
            return Stop(f"stopped at {trial.step}")
        return Continue(trial.step + 1)
