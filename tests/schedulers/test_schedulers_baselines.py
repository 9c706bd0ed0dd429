"""The baseline stopping rules (median, ASHA, top-k) on hand-made histories, then end to end."""

import math

import numpy as np
import pytest

from curvetune.events import Decided, TrialFinished
from curvetune.schedulers import (
    ASHAScheduler,
    MedianStoppingRule,
    TopKScheduler,
    make_scheduler,
)
from curvetune.types import Complete, Continue, History, Report, Stop, Trial, TrialState

RNG = np.random.default_rng(0)
COMPLETED, RUNNING, STOPPED = TrialState.COMPLETED, TrialState.RUNNING, TrialState.STOPPED


def make_trial(trial_id, values, *, state=COMPLETED, metric="acc", step=None):
    """A trial that reported ``values`` at steps 1, 2, ... and has trained that far."""
    reports = tuple(Report(s, {metric: v}) for s, v in enumerate(values, start=1))
    step = len(values) if step is None else step
    return Trial(id=trial_id, config={}, seed=0, state=state, reports=reports, step=step)


def make_history(*curves, max_steps, mode="max", metric="acc", states=None):
    """A history of trials 0, 1, ... with the given curves (completed unless ``states``)."""
    history = History(metric=metric, mode=mode, max_steps=max_steps)
    for i, values in enumerate(curves):
        state = states[i] if states else COMPLETED
        history._put(make_trial(i, values, state=state, metric=metric))
    return history


def decide(rule, history, values, *, metric="acc", trial_id=100):
    """The rule's decision for a running trial that reported ``values``; the trial is put in
    the history first (replacing the one decided before with the same id)."""
    trial = make_trial(trial_id, values, state=RUNNING, metric=metric)
    history._put(trial)
    return rule.decide(trial, history, RNG)


def walk(rule, max_steps):
    """The segment boundaries a trial that is never stopped goes through (from step 0)."""
    history = History(metric="acc", mode="max", max_steps=max_steps)
    ends, step = [], 0
    while True:
        decision = rule.decide(make_trial(0, [0.5] * step, state=RUNNING), history, RNG)
        if isinstance(decision, Complete):
            return ends
        assert isinstance(decision, Continue)
        assert step < decision.until <= max_steps
        ends.append(decision.until)
        step = decision.until


def one_line(stop):
    assert isinstance(stop, Stop)
    assert stop.reason and "\n" not in stop.reason
    return stop


# ------------------------------------------------------------------------------ median

# Dyadic values, so the running averages are exact. At step 3 the running averages are
# 0.5, 0.25 and 0.75 (median 0.5); the values at step 3 are 0.75, 0.5, 1.0 (median 0.75).
MEDIAN_COMPLETED = (
    [0.25, 0.5, 0.75, 1.0],
    [0.125, 0.125, 0.5, 0.5],
    [0.5, 0.75, 1.0, 1.0],
)


def test_median_running_averages_on_a_hand_example():
    rule = MedianStoppingRule()
    history = make_history(*MEDIAN_COMPLETED, max_steps=4)
    history._put(make_trial(9, [0.0, 0.0, 0.0], state=RUNNING))  # running: not counted
    assert sorted(rule.running_averages(history, 3)) == [0.25, 0.5, 0.75]
    assert sorted(rule.running_averages(history, 1)) == [0.125, 0.25, 0.5]
    assert sorted(rule.running_averages(history, 2)) == [0.125, 0.375, 0.625]
    assert rule.median(history, 3) == (0.5, 3)
    assert rule.median(history, 1) == (0.25, 3)


def test_median_stops_a_bad_trial_by_its_best_value_against_the_running_average_median():
    rule = MedianStoppingRule()
    history = make_history(*MEDIAN_COMPLETED, max_steps=4)
    # Best so far 0.4375 < median 0.5 of the running averages.
    stop = one_line(decide(rule, history, [0.25, 0.4375, 0.375]))
    assert "0.4375" in stop.reason and "median 0.5" in stop.reason and "3 completed" in stop.reason
    assert stop.details == {
        "rule": "median",
        "step": 3,
        "value": 0.4375,
        "median": 0.5,
        "completed": 3,
    }


def test_median_keeps_a_trial_whose_best_so_far_beats_the_median():
    rule = MedianStoppingRule()
    history = make_history(*MEDIAN_COMPLETED, max_steps=4)
    # Its value at step 3 (0.375) is below both medians, but its best (0.625) is not.
    assert decide(rule, history, [0.625, 0.375, 0.375]) == Continue(4)
    # Equal to the median is not strictly worse.
    assert decide(rule, history, [0.5, 0.25, 0.25]) == Continue(4)


def test_median_waits_for_min_completed_trials():
    history = make_history(*MEDIAN_COMPLETED[:2], max_steps=4)
    bad = [0.0, 0.0, 0.0]
    assert decide(MedianStoppingRule(), history, bad) == Continue(4)
    assert isinstance(decide(MedianStoppingRule(min_completed=2), history, bad), Stop)
    # Stopped and running trials do not count as completed.
    history = make_history(*MEDIAN_COMPLETED, max_steps=4, states=[COMPLETED, COMPLETED, STOPPED])
    assert decide(MedianStoppingRule(), history, bad) == Continue(4)


def test_median_respects_mode_min():
    losses = [[1 - v for v in curve] for curve in MEDIAN_COMPLETED]  # running averages 0.5 ...
    history = make_history(*losses, max_steps=4, mode="min", metric="loss")
    stop = one_line(decide(MedianStoppingRule(), history, [0.75, 0.5625, 0.625], metric="loss"))
    assert stop.details["value"] == 0.5625 and stop.details["median"] == 0.5
    good = decide(MedianStoppingRule(), history, [0.375, 0.625, 0.625], metric="loss")
    assert good == Continue(4)


def test_median_checks_and_completes():
    assert walk(MedianStoppingRule(), 4) == [1, 2, 3, 4]
    assert walk(MedianStoppingRule(first_check=3, every=2), 10) == [3, 5, 7, 9, 10]
    assert walk(MedianStoppingRule(first_check=3, every=2), 9) == [3, 5, 7, 9]
    history = make_history(*MEDIAN_COMPLETED, max_steps=4)
    assert decide(MedianStoppingRule(), history, [0.0] * 4) == Complete()
    # Off a check step (say a trial resumed elsewhere) it only moves to the next check.
    assert decide(MedianStoppingRule(first_check=1, every=2), history, [0.0] * 2) == Continue(3)


def test_median_cache_follows_the_history():
    rule = MedianStoppingRule()
    good = make_history(*MEDIAN_COMPLETED, max_steps=4)
    assert isinstance(decide(rule, good, [0.25, 0.4375, 0.375]), Stop)
    assert decide(rule, good, [0.25, 0.4375, 0.375]) == decide(rule, good, [0.25, 0.4375, 0.375])
    # The same instance on another history with the same trial ids but worse curves.
    poor = make_history(*([v / 8 for v in c] for c in MEDIAN_COMPLETED), max_steps=4)
    assert decide(rule, poor, [0.25, 0.4375, 0.375]) == Continue(4)


def test_median_presets_and_options():
    rule = make_scheduler("median10")
    assert rule == MedianStoppingRule(first_check=0.1)
    assert walk(rule, 52)[:3] == [6, 7, 8]
    assert walk(make_scheduler("median10", every=0.1), 52) == [6, 12, 18, 24, 30, 36, 42, 48, 52]
    assert make_scheduler("median10", first_check=2).first_check == 2
    assert make_scheduler("median") == MedianStoppingRule(first_check=1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"first_check": 0}, "median: first_check must be a step >= 1"),
        (
            {"first_check": 1.5},
            r"median: first_check as a fraction of the budget must be in \(0, 1\]",
        ),
        ({"every": "2"}, "median: every must be a step"),
        ({"min_completed": 0}, "median: min_completed must be a whole number >= 1"),
        ({"min_completed": True}, "median: min_completed must be a whole number >= 1"),
    ],
)
def test_median_refuses_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        MedianStoppingRule(**options)
    with pytest.raises(ValueError, match=message):
        make_scheduler("median", **options)


# ------------------------------------------------------------------------------ ASHA


def test_asha_rungs():
    assert ASHAScheduler().rungs(27) == (1, 3, 9)
    assert walk(ASHAScheduler(), 27) == [1, 3, 9, 27]
    assert walk(ASHAScheduler(), 28) == [1, 3, 9, 27, 28]
    assert ASHAScheduler(min_resource=2, reduction_factor=2).rungs(20) == (2, 4, 8, 16)
    assert ASHAScheduler(min_resource=0.1).rungs(52) == (6, 18)
    assert ASHAScheduler(min_resource=1.0).rungs(52) == ()
    assert walk(ASHAScheduler(min_resource=1.0), 52) == [52]


# Values at rung 1 of five trials in every state; the deciding trial makes six values, of
# which the best ceil(6 / 3) = 2 continue: it must be >= 0.4.
RUNG_ONE = ([0.1, 0.9, 0.9], [0.2], [0.3, 0.3], [0.4], [0.5, 0.1])
RUNG_STATES = [COMPLETED, STOPPED, RUNNING, STOPPED, TrialState.FAILED]


def test_asha_keeps_the_top_third_at_a_rung():
    history = make_history(*RUNG_ONE, max_steps=3, states=RUNG_STATES)
    # Trial 0's later values (0.9) do not count at rung 1: its value there is 0.1.
    assert decide(ASHAScheduler(), history, [0.45]) == Continue(3)
    assert decide(ASHAScheduler(), history, [0.4]) == Continue(3)  # a tie with the cutoff
    stop = one_line(decide(ASHAScheduler(), history, [0.35]))
    assert "rung 1" in stop.reason and "ranks 3 of 6" in stop.reason
    assert stop.details == {
        "rule": "asha",
        "step": 1,
        "rung": 1,
        "value": 0.35,
        "cutoff": 0.4,
        "rank": 3,
        "kept": 2,
        "recorded": 6,
        "reduction_factor": 3,
    }


def test_asha_only_counts_trials_that_reached_the_rung():
    history = make_history(*RUNG_ONE, max_steps=9, states=RUNG_STATES)
    history._put(make_trial(5, [], state=RUNNING))  # created, not trained yet
    # Reports of segments that did not finish (the step stays behind): not recorded.
    history._put(make_trial(6, [0.9], state=TrialState.FAILED, step=0))
    history._put(make_trial(7, [0.9], state=RUNNING, step=0))
    # Rung 3: trial 0 (0.9) and itself: fewer than eta values, so it continues.
    assert decide(ASHAScheduler(), history, [0.1, 0.1, 0.1]) == Continue(9)
    # Rung 1: 0.4 is second of six (best 2 kept); it would be fourth of eight (best 3).
    assert decide(ASHAScheduler(), history, [0.4]) == Continue(3)
    history._put(make_trial(7, [0.9], state=RUNNING, step=1))
    history._put(make_trial(6, [0.9], state=TrialState.FAILED, step=1))
    assert isinstance(decide(ASHAScheduler(), history, [0.4]), Stop)


def test_asha_keeps_ceil_n_over_eta():
    for eta in (2, 3, 4):
        for n in range(1, 20):
            values = [float(v) for v in RNG.permutation(n)]
            history = make_history(*([v] for v in values), max_steps=100, states=[STOPPED] * n)
            kept = 0
            for trial in list(history.trials.values()):
                decision = ASHAScheduler(reduction_factor=eta).decide(trial, history, RNG)
                kept += isinstance(decision, Continue)
            assert kept == (math.ceil(n / eta) if n >= eta else n), (eta, n)


def test_asha_fewer_than_eta_values_continue():
    history = make_history([0.9], max_steps=9)
    assert decide(ASHAScheduler(), history, [0.0]) == Continue(3)
    history = make_history([0.9], [0.8], max_steps=9)
    assert isinstance(decide(ASHAScheduler(), history, [0.0]), Stop)


def test_asha_respects_mode_min():
    history = make_history(*([v] for v in (0.1, 0.2, 0.3, 0.4, 0.5)), max_steps=3, mode="min")
    assert decide(ASHAScheduler(), history, [0.15]) == Continue(3)
    stop = one_line(decide(ASHAScheduler(), history, [0.25]))
    assert stop.details["rank"] == 3 and stop.details["cutoff"] == 0.2


def test_asha_completes_and_rereads_retrained_trials():
    history = make_history(*([v] for v in (0.1, 0.2, 0.3, 0.4, 0.5)), max_steps=3)
    assert decide(ASHAScheduler(), history, [0.0, 0.0, 0.0]) == Complete()
    history = make_history(*([v] for v in (0.1, 0.2, 0.3, 0.4, 0.5)), max_steps=3)
    rule = ASHAScheduler()
    assert isinstance(decide(rule, history, [0.35], trial_id=9), Stop)
    # Trial 4 was re-trained from scratch and now reports 0.0 at rung 1 (a new reports
    # tuple): the cached value is not reused, and trial 9 (0.35) is now second of six.
    history._put(make_trial(4, [0.0], state=STOPPED))
    assert decide(rule, history, [0.35], trial_id=9) == Continue(3)


def test_asha_presets_and_options():
    rule = make_scheduler("asha10")
    assert rule == ASHAScheduler(min_resource=0.1)
    assert walk(rule, 52) == [6, 18, 52]
    assert make_scheduler("asha10", reduction_factor=2).rungs(52) == (6, 12, 24, 48)
    assert make_scheduler("asha10", min_resource=2).rungs(27) == (2, 6, 18)
    assert make_scheduler("asha") == ASHAScheduler(min_resource=1, reduction_factor=3)
    with pytest.raises(ValueError, match="unknown option 'eta'; allowed: min_resource"):
        make_scheduler("asha", eta=3)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_resource": 0}, "asha: min_resource must be a step >= 1"),
        ({"min_resource": 0.0}, "asha: min_resource as a fraction of the budget"),
        ({"reduction_factor": 1}, "asha: reduction_factor must be a whole number >= 2"),
        ({"reduction_factor": 2.5}, "asha: reduction_factor must be a whole number >= 2"),
        ({"reduction_factor": True}, "asha: reduction_factor must be a whole number >= 2"),
    ],
)
def test_asha_refuses_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        make_scheduler("asha", **options)


# ------------------------------------------------------------------------------ top-k


def test_topk_checks_once():
    assert walk(TopKScheduler(first_check=3), 10) == [3, 10]
    assert walk(TopKScheduler(), 10) == [1, 10]
    assert walk(TopKScheduler(first_check=1.0), 10) == [10]
    history = make_history(max_steps=10)
    # Before the check it goes to the check; past it (say resumed) to the end.
    assert decide(TopKScheduler(first_check=3), history, [0.0]) == Continue(3)
    assert decide(TopKScheduler(first_check=3), history, [0.0] * 4) == Continue(10)
    assert decide(TopKScheduler(first_check=3), history, [0.0] * 10) == Complete()


def test_topk_with_a_fixed_k():
    history = make_history(
        [0.1], [0.5, 0.6], [0.9], max_steps=5, states=[STOPPED, RUNNING, STOPPED]
    )
    assert decide(TopKScheduler(k=2), history, [0.6]) == Continue(5)
    assert decide(TopKScheduler(k=2), history, [0.5]) == Continue(5)  # ties with the second
    stop = one_line(decide(TopKScheduler(k=2), history, [0.3]))
    assert "ranks 3 of the 4 trials" in stop.reason and "best 2 continue" in stop.reason
    assert stop.details == {
        "rule": "topk",
        "step": 1,
        "value": 0.3,
        "cutoff": 0.5,
        "rank": 3,
        "k": 2,
        "reached": 4,
        "fraction": None,
    }
    # With no more than k trials at the check, all continue.
    assert decide(TopKScheduler(k=5), history, [0.0]) == Continue(5)


def test_topk_with_a_fraction():
    rule = TopKScheduler()
    assert [rule.keep(n) for n in (1, 9, 10, 11, 30, 31)] == [1, 1, 1, 2, 3, 4]
    assert TopKScheduler(fraction=0.25).keep(8) == 2
    assert TopKScheduler(k=1, fraction=1.0).keep(10) == 1  # k wins over fraction
    history = make_history(*([v / 10] for v in range(1, 8)), max_steps=5)  # 0.1 .. 0.7
    rule = TopKScheduler(fraction=0.25)
    assert decide(rule, history, [0.65]) == Continue(5)  # 8 reached: best 2 kept
    stop = one_line(decide(rule, history, [0.55]))  # third of 8
    assert stop.details["k"] == 2 and stop.details["reached"] == 8
    assert stop.details["rank"] == 3 and stop.details["fraction"] == 0.25
    assert stop.details["cutoff"] == 0.6
    assert "(0.25 of 8, rounded up)" in stop.reason
    history._put(make_trial(7, [0.05], state=STOPPED))  # 9 reached: best 3 kept
    assert decide(rule, history, [0.55]) == Continue(5)


def test_topk_respects_mode_min():
    history = make_history([0.1], [0.2], [0.3], max_steps=5, mode="min", metric="loss")
    assert decide(TopKScheduler(k=2), history, [0.15], metric="loss") == Continue(5)
    stop = one_line(decide(TopKScheduler(k=2), history, [0.25], metric="loss"))
    assert stop.details["cutoff"] == 0.2 and stop.details["rank"] == 3


def test_topk_presets_and_options():
    rule = make_scheduler("topk10")
    assert rule == TopKScheduler(first_check=0.1)
    assert walk(rule, 52) == [6, 52]
    assert make_scheduler("topk10", k=5) == TopKScheduler(first_check=0.1, k=5)
    assert make_scheduler("topk10", first_check=2).first_check == 2
    assert make_scheduler("topk") == TopKScheduler(first_check=1, k=None, fraction=0.1)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"first_check": 0}, "topk: first_check must be a step >= 1"),
        ({"k": 0}, "topk: k must be a whole number >= 1 or None"),
        ({"k": 1.5}, "topk: k must be a whole number >= 1 or None"),
        ({"k": True}, "topk: k must be a whole number >= 1 or None"),
        ({"fraction": 0}, r"topk: fraction must be a number in \(0, 1\]"),
        ({"fraction": 1.5}, r"topk: fraction must be a number in \(0, 1\]"),
        ({"fraction": "0.1"}, r"topk: fraction must be a number in \(0, 1\]"),
    ],
)
def test_topk_refuses_bad_options(options, message):
    with pytest.raises(ValueError, match=message):
        make_scheduler("topk", **options)


# ------------------------------------------------------------------------------ end to end


@pytest.mark.parametrize(
    ("name", "checks"),
    [("median", {1, 2, 3, 4, 5, 6, 7, 8}), ("asha", {1, 3}), ("topk", {1})],
)
def test_end_to_end_stops_trials_and_records_why(make_study, name, checks):
    study = make_study(directory=None, max_steps=9)
    history = study.optimize(trials=16, scheduler=name, executor="sequential")
    stopped = [t for t in history.trials.values() if t.state is STOPPED]
    completed = [t for t in history.trials.values() if t.state is COMPLETED]
    assert stopped and completed
    assert len(stopped) + len(completed) == 16
    events = list(study.store.events())
    stops = {e.trial: e for e in events if isinstance(e, Decided) and e.kind == "Stop"}
    finished = {e.trial: e for e in events if isinstance(e, TrialFinished)}
    assert set(stops) == {t.id for t in stopped}
    for trial in stopped:
        decided = stops[trial.id]
        assert decided.details["rule"] == name
        assert decided.details["step"] == trial.step and trial.step in checks
        assert decided.reason == trial.reason == finished[trial.id].reason
        assert "accuracy" in decided.reason
    # Segments end on the check steps (and the budget).
    ends = {e.until for e in events if isinstance(e, Decided) and e.kind == "Continue"}
    assert ends <= checks | {9}
    # The synthetic curves never cross, so the best configuration is never stopped.
    best_x = min((t.config["x"] for t in history.trials.values()), key=lambda x: abs(x - 0.3))
    assert all(t.config["x"] != best_x for t in stopped)


@pytest.mark.parametrize(
    "rule",
    [
        MedianStoppingRule(first_check=2, every=3),
        ASHAScheduler(min_resource=1, reduction_factor=2),
        TopKScheduler(first_check=2, fraction=0.3),
    ],
    ids=["median", "asha", "topk"],
)
def test_cached_instance_decides_like_a_fresh_one(rule):
    """One instance follows a changing history (trials added, trained, re-trained, finished,
    and a second history) and always decides as a fresh instance would."""
    rng = np.random.default_rng(1)
    for mode in ("max", "min"):
        history = History(metric="acc", mode=mode, max_steps=12)
        for _ in range(300):
            trial_id = int(rng.integers(0, len(history) + 1))
            if trial_id == len(history) or history[trial_id].state is not RUNNING:
                trial_id = len(history)
                trial = make_trial(trial_id, [], state=RUNNING)
            else:
                old = history[trial_id]
                start = old.step if rng.random() < 0.8 else int(rng.integers(0, old.step + 1))
                until = min(12, start + int(rng.integers(1, 4)))
                kept = tuple(r for r in old.reports if r.step <= start)
                new = tuple(
                    Report(s, {"acc": round(float(rng.random()), 2)})
                    for s in range(start + 1, until + 1)
                )
                trial = old.evolve(reports=kept + new, step=until)
            history._put(trial)
            decision = rule.decide(trial, history, RNG)
            assert decision == type(rule)(**_options(rule)).decide(trial, history, RNG)
            if isinstance(decision, Stop):
                history._put(trial.evolve(state=STOPPED))
            elif isinstance(decision, Complete):
                history._put(trial.evolve(state=COMPLETED))
        assert any(t.state is STOPPED for t in history.trials.values())


def _options(rule):
    return {k: v for k, v in vars(rule).items() if not k.startswith("_")}
