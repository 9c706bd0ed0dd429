"""LCM's conformal interval (``alpha``): the optimistic bound covers the true final value
with probability at least 1 - alpha on exchangeable curves, and only a trial whose
optimistic prediction still ranks badly is stopped."""

import numpy as np
import pytest

from curvetune.schedulers.lcm import LCMScheduler
from curvetune.types import History, Report, Stop, Trial, TrialState

T = 20


def crossing_curve(rng: np.random.Generator) -> np.ndarray:
    """A curve that may bloom late: a fast start to ``early``, then a late rise of random
    size after a random step (a schedule that decays late), plus noise."""
    early, late, at = rng.uniform(0.3, 0.7), rng.uniform(0.0, 0.3), rng.integers(5, 15)
    steps = np.arange(1, T + 1)
    rise = late * (1 - np.exp(-np.maximum(steps - at, 0) / 2.0))
    return early * (1 - np.exp(-steps / 2.0)) + rise + rng.normal(0, 0.01, T)


def trial(trial_id: int, values, state=TrialState.COMPLETED) -> Trial:
    reports = tuple(Report(s, {"acc": float(v)}) for s, v in enumerate(values, start=1))
    return Trial(trial_id, {}, 0, state, reports, len(values))


def study_of(curves) -> History:
    history = History(metric="acc", mode="max", max_steps=T)
    for i, values in enumerate(curves):
        history._put(trial(i, values))
    return history


@pytest.mark.parametrize("alpha", [0.1, 0.3])
def test_the_optimistic_bound_covers_the_final_value_as_promised(alpha):
    rng = np.random.default_rng(7)
    history = study_of([crossing_curve(rng) for _ in range(300)])
    lcm = LCMScheduler(alpha=alpha, checks=[4, 10])
    covered = []
    for n in range(400):  # fresh trials from the same distribution: exchangeable
        values = crossing_curve(rng)
        for step in (4, 10):
            running = trial(1000 + n, values[:step], TrialState.RUNNING)
            assessment = lcm.assess(running, step, history)
            covered.append(values[-1] <= assessment.optimistic)
    # 800 Bernoulli draws: 3 standard errors below 1 - alpha is still a pass.
    floor = 1 - alpha - 3 * np.sqrt(alpha * (1 - alpha) / len(covered))
    assert np.mean(covered) >= floor


def test_a_late_bloomer_keeps_running_where_the_point_rule_stops_it():
    rng = np.random.default_rng(3)
    history = study_of([crossing_curve(rng) for _ in range(200)])
    # An eager threshold: the point rule then stops late bloomers it cannot tell apart.
    point = LCMScheduler(checks=[6], threshold=0.3)
    interval = LCMScheduler(checks=[6], threshold=0.3, alpha=0.2)
    stopped = {"point": 0, "interval": 0}
    top = 0
    for n in range(300):
        values = crossing_curve(rng)
        finals = np.sort([t.reports[-1].metrics["acc"] for t in history.trials.values()])
        if values[-1] < finals[int(0.9 * len(finals))]:
            continue  # only the trials that end in the reference's top 10%
        top += 1
        running = trial(1000 + n, values[:6], TrialState.RUNNING)
        stopped["point"] += isinstance(point.decide(running, history, rng), Stop)
        stopped["interval"] += isinstance(interval.decide(running, history, rng), Stop)
    assert top >= 10
    assert stopped["interval"] < stopped["point"]
    assert stopped["interval"] <= 0.2 * top + 2  # at most alpha of them (one check), plus luck


def test_without_enough_residuals_nothing_is_stopped_and_stops_explain_the_bound():
    rng = np.random.default_rng(1)
    few = study_of([crossing_curve(rng) for _ in range(8)])  # 3 residuals: no 90% bound
    lcm = LCMScheduler(alpha=0.1, min_complete=5, checks=[4])
    hopeless = trial(99, [0.01] * 4, TrialState.RUNNING)
    assert not isinstance(lcm.decide(hopeless, few, rng), Stop)
    many = study_of([crossing_curve(rng) for _ in range(200)])
    decision = LCMScheduler(alpha=0.1, checks=[4]).decide(hopeless, many, rng)
    assert isinstance(decision, Stop)
    details = decision.details
    assert "(at best " in decision.reason and details["prediction"] < details["optimistic"] < 0.4


def test_alpha_is_refused_outside_0_1():
    for bad in (0, 1, 1.5, True, "0.1"):
        with pytest.raises(ValueError, match="lcm: alpha must be"):
            LCMScheduler(alpha=bad)


def test_the_calibration_does_not_depend_on_the_order_trials_completed_in():
    """A resumed study replays completions in id order; a live one saw them as they came.
    Both must decide alike, so residuals are taken in id order once all before are done."""
    rng = np.random.default_rng(5)
    curves = [crossing_curve(rng) for _ in range(60)]
    probe = trial(99, curves[0][:6], TrialState.RUNNING)
    decisions = []
    for order in (range(60), reversed(range(60))):
        history = History(metric="acc", mode="max", max_steps=T)
        for i in range(60):  # created in id order, all running
            history._put(trial(i, curves[i][:1], TrialState.RUNNING))
        lcm = LCMScheduler(alpha=0.3, checks=[6], min_complete=5)
        for i in order:  # completed in this order, deciding as they come
            history._put(trial(i, curves[i]))
            lcm.assess(probe, 6, history)
        decisions.append(lcm.assess(probe, 6, history).optimistic)
    assert decisions[0] == decisions[1]
