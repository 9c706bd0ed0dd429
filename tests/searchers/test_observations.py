"""How stopped trials inform a model (``_observations``): the ``pruned``, ``predicted`` and
``rung`` treatments on hand-built histories, and ``predict_final``'s trend rule computed by
hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from curvetune.searchers._observations import (
    DIVERGED,
    LEFT_OUT,
    PREDICT_K,
    RUNNING,
    STOPPED,
    Observation,
    Observer,
    predict_final,
)
from curvetune.types import History, Report, Trial, TrialState

C, S, R, F, D = (
    TrialState.COMPLETED,
    TrialState.STOPPED,
    TrialState.RUNNING,
    TrialState.FAILED,
    TrialState.DIVERGED,
)


def trial(trial_id: int, state: TrialState, values=(), *, steps=None) -> Trial:
    """A trial that reported ``values`` at ``steps`` (default 1, 2, ...); None: no report."""
    steps = list(range(1, len(values) + 1)) if steps is None else steps
    reports = tuple(
        Report(s, {"acc": v}) for s, v in zip(steps, values, strict=True) if v is not None
    )
    return Trial(id=trial_id, config={"x": 0.1 * trial_id}, seed=0, state=state, reports=reports)


def history(*trials: Trial, max_steps: int = 4) -> History:
    h = History(metric="acc", mode="max", max_steps=max_steps)
    for t in trials:
        h._put(t)
    return h


def same(a: Observation, b: Observation) -> bool:
    return (
        a.kind == b.kind
        and a.step == b.step
        and (a.value == b.value or (math.isnan(a.value) and math.isnan(b.value)))
    )


def assert_observed(got: dict[int, Observation], expected: dict[int, Observation]) -> None:
    assert list(got) == list(expected)
    for trial_id in expected:
        assert same(got[trial_id], expected[trial_id]), (trial_id, got[trial_id])


def test_the_treatments():
    assert STOPPED == ("pruned", "predicted", "rung")
    assert same(DIVERGED, Observation("pruned", math.nan, 1))


# ----------------------------------------------------------------------------- pruned


def test_pruned_sees_every_kind_of_trial():
    h = history(
        trial(0, C, [0.1, 0.2, 0.3, 0.4]),
        trial(1, S, [0.1, 0.15]),
        trial(2, R, [0.2]),
        trial(3, F, [0.3]),
        trial(4, D, [0.1, math.nan]),
        trial(5, C),  # completed, never reported: nothing to place
        trial(6, S, [0.5, 0.6, 0.7], steps=[1, 1, 2]),  # two reports at step 1
        trial(7, R),  # running, no report yet
        trial(8, S, [0.2, math.inf]),  # a stopped trial whose last value is not finite
    )
    assert_observed(
        Observer("pruned", 3).observe(h),
        {
            0: Observation("complete", 0.4),
            1: Observation("pruned", 0.15, 2),
            2: RUNNING,
            3: LEFT_OUT,
            4: Observation("complete", 0.4),  # diverged: the worst complete value
            5: LEFT_OUT,
            6: Observation("pruned", 0.7, 2),
            7: RUNNING,
            8: LEFT_OUT,
        },
    )


def test_a_diverged_trial_is_pruned_at_step_1_whatever_it_reached():
    h = history(trial(0, D, [0.1, 0.2, 0.3, math.nan]))
    for treatment in STOPPED:
        assert same(Observer(treatment, 1).observe(h)[0], DIVERGED), treatment


@pytest.mark.parametrize("mode, worst", [("max", 0.2), ("min", 0.5)])
def test_a_diverged_trial_is_the_worst_complete_value_once_there_is_one(mode, worst):
    # So a model that reads complete trials only (the GP) learns where training diverges.
    h = history(trial(0, C, [0.5]), trial(1, D, [math.nan]), trial(2, C, [0.2]), max_steps=1)
    h.mode = mode
    for treatment in STOPPED:
        assert Observer(treatment, 1).observe(h)[1] == Observation("complete", worst), treatment


# ----------------------------------------------------------------------------- predicted

A = [1.0, 2.0, 3.0, 4.0]
B = [0.0, 0.0, 0.0, 10.0]


def by_hand(own: float, pairs: list[tuple[float, float]]) -> float:
    """The trend rule written out: own value + sum(gain / distance) / sum(1 / distance)."""
    return own + sum(g / d for d, g in pairs) / sum(1 / d for d, _ in pairs)


def test_predict_final_is_the_inverse_distance_weighted_gain():
    stopped = trial(9, S, [1.0, 1.0])
    # Distances up to step 2: A: sqrt(0 + 1) = 1, B: sqrt(1 + 1) = sqrt(2); gains from step 2
    # to the end: A: 4 - 2 = 2, B: 10 - 0 = 10.
    expected = 1.0 + (2 / 1 + 10 / math.sqrt(2)) / (1 / 1 + 1 / math.sqrt(2))
    assert expected == pytest.approx(by_hand(1.0, [(1.0, 2.0), (math.sqrt(2), 10.0)]))
    got = predict_final(stopped, "acc", 4, np.array([A, B]))
    assert got == pytest.approx(expected, rel=1e-12)


def test_predict_final_uses_only_the_nearest_curves():
    stopped = trial(9, S, [1.0, 1.0])
    near = [[1.0, 1.0 + d, 0.0, 1.0 + d + g] for d, g in [(0.5, 1), (1, 2), (2, 3), (3, 4), (4, 5)]]
    far = [[50.0, 50.0, 50.0, 1000.0]]  # the sixth curve, far away: its huge gain is ignored
    assert PREDICT_K == 5
    expected = by_hand(1.0, [(0.5, 1), (1, 2), (2, 3), (3, 4), (4, 5)])
    got = predict_final(stopped, "acc", 4, np.array(far + near))
    assert got == pytest.approx(expected, rel=1e-12)
    # An exact match dominates: its gain is (nearly) the whole prediction.
    exact = [[1.0, 1.0, 7.0, 8.0]]
    got = predict_final(stopped, "acc", 4, np.array(near + exact))
    assert got == pytest.approx(1.0 + 7.0, rel=1e-9)


def test_predict_final_skips_what_was_not_reported():
    # The stopped trial skipped step 1: only step 2 is compared. The first curve has no final
    # value: its gain counts as none.
    stopped = trial(9, S, [None, 2.0])
    curves = np.array([[9.0, 3.0, 4.0, np.nan], [-9.0, 0.0, 0.0, 1.0]])
    # distances: |3 - 2| = 1 and |0 - 2| = 2; gains: 0 (unknown) and 1 - 0 = 1
    expected = by_hand(2.0, [(1.0, 0.0), (2.0, 1.0)])
    assert predict_final(stopped, "acc", 4, curves) == pytest.approx(expected, rel=1e-12)


def test_predict_final_starts_from_the_last_step_the_metric_was_reported():
    # Stopped after a step that reported another metric only: the prediction starts from
    # step 1, where "acc" was last reported (it used to be NaN, which Optuna refuses).
    stopped = Trial(9, {}, 0, S, (Report(1, {"acc": 1.0, "loss": 1.0}), Report(2, {"loss": 0.5})))
    # distances at step 1: A: 0 -> weight 1e12; B: 1. Gains from step 1: A 3, B 10.
    got = predict_final(stopped, "acc", 4, np.array([A, B]))
    assert math.isfinite(got) and got == pytest.approx(1.0 + 3.0, rel=1e-9)
    h = history(trial(0, C, A), trial(1, C, B), stopped)
    assert Observer("predicted", 3).observe(h)[9] == Observation("complete", got)


def predicted_stages() -> list[list[Trial]]:
    """The same study at four moments: trial 2 is stopped at step 2 while trial 1 runs; then
    trial 1 completes; then trial 3, which matches trial 2's curve exactly, completes."""
    t0 = trial(0, C, A)
    t1_running, t1 = trial(1, R, B[:1]), trial(1, C, B)
    t2 = trial(2, S, [1.0, 1.0])
    t3_running, t3 = trial(3, R, [1.0]), trial(3, C, [1.0, 1.0, 50.0, 100.0])
    return [
        [t0, t1_running, t2],
        [t0, t1, t2, t3_running],
        [t0, t1, t2, t3],
        [t0, t1, t2, t3, trial(4, S, [1.0, 1.0])],
    ]


PREDICTED = 1.0 + (2 / 1 + 10 / math.sqrt(2)) / (1 / 1 + 1 / math.sqrt(2))


def test_a_stopped_trial_runs_until_every_earlier_trial_has_finished():
    stages = predicted_stages()
    seen = Observer("predicted", 3).observe(history(*stages[0]))
    assert_observed(seen, {0: Observation("complete", 4.0), 1: RUNNING, 2: RUNNING})
    seen = Observer("predicted", 3).observe(history(*stages[1]))
    assert seen[1] == Observation("complete", 10.0)
    assert seen[2].kind == "complete" and seen[2].value == pytest.approx(PREDICTED, rel=1e-12)
    assert seen[3] == RUNNING


def test_a_prediction_never_changes_and_the_cache_agrees_with_a_fresh_observer():
    stages = predicted_stages()
    live = History(metric="acc", mode="max", max_steps=4)
    cached = Observer("predicted", 3)
    values = []
    for stage in stages:
        for t in stage:
            if t.id not in live.trials or live[t.id] != t:
                live._put(t)
        seen = cached.observe(live)
        fresh = Observer("predicted", 3).observe(history(*stage))
        assert_observed(seen, fresh)
        if seen[2].kind == "complete":
            values.append(seen[2].value)
    # Trial 3's curve is trial 2's own up to step 2 (distance 0): matched, it would move the
    # prediction to about 1 + 98; it has a larger id, so it is never matched.
    assert values == [pytest.approx(PREDICTED, rel=1e-12)] * 3
    # Trial 4 is matched with every complete trial before it, trial 3 included.
    seen = cached.observe(live)
    expected = predict_final(stages[3][4], "acc", 4, np.array([A, B, [1.0, 1.0, 50.0, 100.0]]))
    assert seen[4].value == expected and expected == pytest.approx(100.0, rel=1e-6)


def test_the_cache_follows_one_history_only():
    stages = predicted_stages()
    observer = Observer("predicted", 3)
    first = observer.observe(history(*stages[1]))
    assert first[2].value == pytest.approx(PREDICTED)
    # Another history (another token) with a different curve for trial 0: predicted afresh.
    other = [trial(0, C, [1.0, 1.0, 1.0, 3.0]), *stages[1][1:]]
    again = observer.observe(history(*other))
    assert again[2].value == pytest.approx(1.0 + 2.0, rel=1e-9)  # the exact match's gain


def test_predicted_leaves_out_and_keeps_what_pruned_does():
    h = history(
        trial(0, C, A),
        trial(1, F, [0.3]),
        trial(2, D, [math.nan]),
        trial(3, S, [1.0, 1.0]),  # failed and diverged trials count as finished
        trial(4, R, [0.5]),
    )
    seen = Observer("predicted", 3).observe(h)
    assert seen[1] == LEFT_OUT and seen[4] == RUNNING
    assert seen[2] == Observation("complete", 3.0)  # diverged: the worst, 3's prediction
    assert seen[3].value == pytest.approx(1.0 + 2.0, rel=1e-9)  # A's gain from step 2: 4 - 2


def test_a_stopped_trial_with_no_complete_trial_before_it_is_a_pruned_one():
    # Nothing to match it with, ever (later complete trials have larger ids): Optuna's
    # convention, and it stays so when later trials complete.
    h = history(trial(0, S, [1.0]), trial(1, C, A))
    for _ in range(2):
        assert Observer("predicted", 3).observe(h) == {
            0: Observation("pruned", 1.0, 1),
            1: Observation("complete", 4),
        }


# ----------------------------------------------------------------------------- rung

RUNG_TRIALS = [
    trial(0, C, [1, 2, 3, 4, 5, 6, 7, 8, 9]),
    trial(1, S, [0.1, 0.2, 0.3]),
    trial(2, S, [0.4, 0.5, 0.6]),
    trial(3, S, [0.7]),
    trial(4, R, [0.8, 0.9]),  # running, below rung 3
    trial(5, R, [1.1, 1.2, 1.3, 1.4]),  # running, past rung 3
    trial(6, F, [2.0]),
    trial(7, S, [0.05]),
    trial(8, D, [math.nan]),
    trial(9, C, [10, 20, None, 40, 50, 60, 70, 80, 90]),  # no report at step 3
]


def rung(min_results: int) -> dict[int, Observation]:
    return Observer("rung", min_results).observe(history(*RUNG_TRIALS, max_steps=9))


def test_rung_fits_on_the_highest_step_enough_trials_reached():
    # Rungs: 1 and 3 (where trials were stopped) and 9. Reached step 9: 2 trials; step 3:
    # 5 (0, 1, 2, 5, 9); step 1: 8 (failed and diverged ones do not count).
    assert_observed(
        rung(3),
        {
            0: Observation("complete", 3),
            1: Observation("complete", 0.3),
            2: Observation("complete", 0.6),
            3: LEFT_OUT,  # stopped below the rung
            4: RUNNING,  # running below the rung
            5: Observation("complete", 1.3),  # running, but it reached the rung
            6: LEFT_OUT,
            7: LEFT_OUT,
            8: Observation("complete", 0.3),  # diverged: the worst value at the rung
            9: Observation("complete", 20),  # its latest value up to step 3
        },
    )
    assert rung(5) == rung(3)


def test_rung_falls_to_a_lower_rung_and_rises_to_the_full_budget():
    low = rung(6)  # only step 1 has 6 trials
    assert [low[i] for i in (0, 1, 3, 4, 5, 7, 9)] == [
        Observation("complete", v) for v in (1, 0.1, 0.7, 0.8, 1.1, 0.05, 10)
    ]
    assert low[6] == LEFT_OUT and low[8] == Observation("complete", 0.05)
    full = rung(2)  # two trials completed: the full budget
    assert full[0] == Observation("complete", 9) and full[9] == Observation("complete", 90)
    assert [full[i] for i in (1, 2, 3, 7)] == [LEFT_OUT] * 4
    assert full[4] == RUNNING and full[5] == RUNNING
    assert rung(100) == low  # too few anywhere: the lowest rung


def test_rung_with_nothing_stopped_is_the_full_budget():
    h = history(trial(0, C, A), trial(1, R, [1.0]), trial(2, C, B))
    assert Observer("rung", 5).observe(h) == {
        0: Observation("complete", 4.0),
        1: RUNNING,
        2: Observation("complete", 10.0),
    }
