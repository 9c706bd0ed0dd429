"""Matched halving: ASHA's stops, vetoed when matching predicts a good final value."""

import numpy as np
import pytest

from curvetune.schedulers.matched_halving import MatchedHalving
from curvetune.types import Continue, History, Report, Stop, Trial, TrialState

RNG = np.random.default_rng(0)
T = 27  # rungs 3, 9 with min_resource 3 and eta 3


def trial(trial_id, values, state=TrialState.COMPLETED):
    reports = tuple(Report(s, {"acc": float(v)}) for s, v in enumerate(values, start=1))
    return Trial(id=trial_id, config={}, seed=0, state=state, reports=reports, step=len(values))


def fast(final):  # quick start, plateaus early
    return [final * (1 - np.exp(-s / 1.5)) for s in range(1, T + 1)]


def slow(final):  # late bloomer
    return [final * (s / T) ** 2 for s in range(1, T + 1)]


def history():
    h = History(metric="acc", mode="max", max_steps=T)
    for i in range(6):  # completed: late bloomers end best, fast starters end middling
        h._put(trial(i, slow(0.95 + 0.005 * i)))
    for i in range(6, 12):
        h._put(trial(i, fast(0.6 + 0.01 * i)))
    return h


def test_asha_stop_is_vetoed_for_a_curve_that_matches_late_bloomers():
    h = history()
    for i in range(12, 20):  # fast starters at the first rung
        h._put(trial(i, fast(0.7)[:3], TrialState.RUNNING))
    bloomer = trial(30, slow(0.97)[:3], TrialState.RUNNING)
    h._put(bloomer)
    plain = MatchedHalving(min_resource=3, veto=0.01, min_complete=5)  # veto ~never applies
    assert isinstance(plain.decide(bloomer, h, RNG), Stop)
    matched = MatchedHalving(min_resource=3, veto=0.5, min_complete=5)
    assert matched.decide(bloomer, h, RNG) == Continue(9)


def test_a_stop_that_matching_agrees_with_stands():
    h = history()
    for i in range(12, 20):
        h._put(trial(i, fast(0.9)[:3], TrialState.RUNNING))
    loser = trial(30, fast(0.4)[:3], TrialState.RUNNING)
    h._put(loser)
    decision = MatchedHalving(min_resource=3, veto=0.5, min_complete=5).decide(loser, h, RNG)
    assert isinstance(decision, Stop) and decision.details["rule"] == "asha"


def test_bad_veto_is_refused():
    with pytest.raises(ValueError, match=r"matched-halving: veto must be a number in \(0, 1\)"):
        MatchedHalving(veto=1.0)
