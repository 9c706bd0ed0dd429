"""Ask/tell: a study driven from the user's own loop, on the same decision core as optimize."""

from __future__ import annotations

import math
import threading

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
    fifo = make(scheduler=FIFOScheduler(segment=2))
    within = fifo.ask()
    within.report(1, accuracy=0.1)
    within.report(1, accuracy=0.15)  # several reports within a step: the last one counts
    within.report(2, accuracy=0.2)
    assert fifo.history[within.id].value_at("accuracy", 1) == 0.15

    study = make(scheduler=_StopAt(3))
    trial = study.ask()
    trial.report(1, accuracy=0.1)
    with pytest.raises(ValueError, match=r"step 1 was judged already .* step 2 or later"):
        trial.report(1, accuracy=0.15)  # the scheduler decided on step 1's value
    trial.report(2, accuracy=0.2)
    with pytest.raises(ValueError, match="step 1 after step 2; steps must not go back"):
        trial.report(1, accuracy=0.1)
    trial.report(3, accuracy=0.3)
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
    # fifo decides after every step: a report of the last step closes each one in turn
    assert [(e.start, e.until) for e in finished] == [(i, i + 1) for i in range(STEPS)]
    assert [len(e.reports) for e in finished] == [0] * (STEPS - 1) + [1]
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


def test_optimize_waits_for_the_trials_in_the_loops_hands(tmp_path):
    study = make(tmp_path / "s", scheduler="fifo", objective="curvetune.testing:stateless_curve")
    trial = study.ask()
    with pytest.raises(ValueError, match=r"trial\(s\) 0 were asked and not told"):
        study.optimize(trials=2, executor="sequential", progress=False)
    trial.report(STEPS, accuracy=0.5)
    study.tell(trial)
    study.optimize(trials=3, executor="sequential", progress=False)
    assert [t.state for t in study.trials] == [TrialState.COMPLETED] * 3


def test_an_orphan_finished_by_optimize_is_not_handed_back(tmp_path):
    objective = "curvetune.testing:stateless_curve"
    study = make(tmp_path / "s", scheduler="fifo", objective=objective)
    study.ask(), study.ask()  # the program dies with trials 0 and 1 untold
    study.close()
    again = make(tmp_path / "s", scheduler="fifo", objective=objective)
    again.optimize(trials=2, executor="sequential", progress=False)  # finishes both
    fresh = again.ask()
    assert fresh.id == 2 and again.history[0].state is TrialState.COMPLETED


def test_a_loop_in_other_threads_asks_reports_and_tells(tmp_path):
    study = make(tmp_path / "s", scheduler="fifo")

    def loop():
        trial = study.ask()
        for step in range(1, STEPS + 1):
            trial.report(step, accuracy=curve(trial.config, step))
        study.tell(trial)

    threads = [threading.Thread(target=loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    study.close()
    stored = Study.load(tmp_path / "s")
    assert sorted(t.id for t in stored.trials) == [0, 1, 2, 3]
    assert all(t.state is TrialState.COMPLETED and t.step == STEPS for t in stored.trials)


def test_the_loops_config_is_its_own_copy():
    study = make()
    trial = study.ask()
    trial.config["x"] = 99.0
    assert study.history[trial.id].config["x"] != 99.0


def test_a_store_that_fails_ends_the_session_and_the_study_reopens(tmp_path, monkeypatch):
    study = make(tmp_path / "s", scheduler=_StopAt(STEPS))
    trial = study.ask()
    trial.report(1, accuracy=0.1)

    def full(events):
        raise StoreError("database or disk is full")

    monkeypatch.setattr(study.store, "append", full)
    with pytest.raises(StoreError, match="disk is full"):
        trial.report(2, accuracy=0.2)
    with pytest.raises(ValueError, match="disk is full; reopen the study and ask"):
        trial.report(3, accuracy=0.3)
    with pytest.raises(StoreError, match="session ended: open the study again"):
        study.ask()
    monkeypatch.undo()
    study.close()
    again = make(tmp_path / "s", scheduler=_StopAt(STEPS))
    assert again.history[0].step == 1  # what was stored before the fault
    assert again.ask().id == 0  # handed back


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: s.remaining("5"), ValueError, "trials must be a whole number >= 0, got '5'"),
        (lambda s: s.remaining(True), ValueError, "got True"),
        (lambda s: s.remaining(-3), ValueError, "got -3"),
        (lambda s: s.tell(None), TypeError, "tell takes the TrialHandle ask"),
    ],
)
def test_bad_calls_are_one_clear_error(call, error, message):
    study = make()
    study.ask()
    with pytest.raises(error, match=message):
        call(study)


def test_bad_algorithms_and_a_closed_study_are_one_clear_error(tmp_path):
    with pytest.raises(TypeError, match=r"scheduler must be a name or an object with decide"):
        make(scheduler=object())
    with pytest.raises(TypeError, match=r"searcher must be a name or an object with suggest"):
        make(searcher=42)
    with pytest.raises(ValueError, match="max_steps must be a whole number >= 1, got True"):
        make(max_steps=True)
    study = make(tmp_path / "s")
    study.close()
    with pytest.raises(StoreError, match="this study was closed"):
        study.ask()
