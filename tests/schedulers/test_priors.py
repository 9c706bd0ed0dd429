"""LCM's prior: an earlier study's complete curves, read and checked before the first trial,
and named (study and trial) in the stops they explain."""

import shutil

import numpy as np
import pytest

from curvetune.schedulers.lcm import LCMScheduler
from curvetune.schedulers.priors import PriorCurves, load_prior
from curvetune.space import Float
from curvetune.study import Study
from curvetune.types import History, Report, Stop, Trial, TrialState

RNG = np.random.default_rng(0)


def study(directory, *, metric="accuracy", max_steps=4):
    return Study.create(
        objective="curvetune.testing:synthetic",
        space={"x": Float(0.0, 1.0)},
        metric=metric,
        mode="max" if metric == "accuracy" else "min",
        max_steps=max_steps,
        directory=directory,
    )


@pytest.fixture
def earlier(tmp_path):
    """An earlier study of 8 complete trainings of 4 steps (accuracy), in ``earlier/``."""
    directory = tmp_path / "earlier"
    s = study(directory)
    s.optimize(trials=8, executor="sequential")
    s.close()
    return directory


def running(trial_id, values, metric="accuracy"):
    reports = tuple(Report(s, {metric: v}) for s, v in enumerate(values, start=1))
    return Trial(
        id=trial_id,
        config={},
        seed=0,
        state=TrialState.RUNNING,
        reports=reports,
        step=len(values),
    )


def test_prior_is_read_into_plain_data(earlier):
    prior = load_prior(earlier, metric="accuracy", max_steps=4)
    assert isinstance(prior, PriorCurves)
    assert prior.study == str(earlier) and prior.metric == "accuracy"
    assert prior.trials == tuple(range(8)) and prior.curves.shape == (8, 4)
    assert not np.isnan(prior.curves).any() and not prior.curves.flags.writeable


def test_a_missing_prior_is_refused_when_the_scheduler_is_built(tmp_path):
    message = f"lcm: prior study {tmp_path / 'nowhere'}: no study here \\(no study.db\\)"
    with pytest.raises(ValueError, match=message):
        LCMScheduler(prior=str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()  # a directory, but no study in it
    with pytest.raises(ValueError, match="no study here"):
        LCMScheduler(prior=str(tmp_path / "empty"))


def test_a_study_with_a_missing_prior_is_refused_before_any_trial(tmp_path):
    s = study(tmp_path / "s")
    with pytest.raises(ValueError, match="no study here"):
        s.optimize(
            trials=4, scheduler=LCMScheduler(prior=str(tmp_path / "gone")), executor="sequential"
        )
    assert len(s.history) == 0 and list(s.store.events()) == []
    s.close()


def test_a_prior_of_another_budget_or_metric_is_refused_up_front(earlier, tmp_path):
    lcm = LCMScheduler(prior=str(earlier))
    with pytest.raises(ValueError, match="trained 4 steps, this one 6"):
        lcm.check_study(trials=4, max_steps=6, metric="accuracy", mode="max")
    with pytest.raises(ValueError, match="optimised metric 'accuracy', this one 'loss'"):
        lcm.check_study(trials=4, max_steps=4, metric="loss", mode="min")
    s = study(tmp_path / "s", max_steps=6)
    with pytest.raises(ValueError, match="trained 4 steps, this one 6"):
        s.optimize(trials=4, scheduler=lcm, executor="sequential")
    assert len(s.history) == 0
    s.close()


def test_a_study_with_a_prior_of_another_metric_is_refused_before_any_trial(earlier, tmp_path):
    # Needs Study.optimize to pass metric and mode to check_study.
    s = study(tmp_path / "s", metric="loss")
    with pytest.raises(ValueError, match="optimised metric 'accuracy', this one 'loss'"):
        s.optimize(trials=4, scheduler=LCMScheduler(prior=str(earlier)), executor="sequential")
    assert len(s.history) == 0
    s.close()


def test_a_prior_without_complete_curves_is_refused(tmp_path):
    study(tmp_path / "unrun").close()  # a study that never trained
    with pytest.raises(ValueError, match="no completed curve of 'accuracy' over the full 4 steps"):
        LCMScheduler(prior=str(tmp_path / "unrun"))


def test_a_stop_matched_on_prior_curves_names_the_study_and_trial(earlier):
    lcm = LCMScheduler(min_complete=5, checks=[2], k=3, predict="match", prior=str(earlier))
    lcm.check_study(trials=10, max_steps=4, metric="accuracy", mode="max")
    shutil.rmtree(earlier)  # the prior is plain data now: deciding reads nothing from disk
    history = History(metric="accuracy", mode="max", max_steps=4)
    decision = lcm.decide(running(0, [0.0, 0.01]), history, RNG)
    assert isinstance(decision, Stop)
    neighbours = decision.details["neighbours"]
    assert len(neighbours) == 3
    assert all(set(n) == {"study", "trial"} and n["study"] == str(earlier) for n in neighbours)
    for n, d in zip(neighbours, decision.details["distances"], strict=True):
        curve = lcm._prior.curves[lcm._prior.trials.index(n["trial"])]
        assert d == pytest.approx(np.hypot(curve[0] - 0.0, curve[1] - 0.01))
    named = ", ".join(f"#{n['trial']}" for n in neighbours)
    assert decision.reason.endswith(f"; matched prior {earlier} {named}")


def test_neighbours_from_this_study_stay_trial_ids(earlier):
    lcm = LCMScheduler(min_complete=5, checks=[2], k=9, predict="match", prior=str(earlier))
    lcm.check_study(trials=10, max_steps=4, metric="accuracy", mode="max")
    history = History(metric="accuracy", mode="max", max_steps=4)
    history._put(running(0, [0.0, 0.01, 0.02, 0.03]).evolve(state=TrialState.COMPLETED))
    decision = lcm.decide(running(1, [0.0, 0.01]), history, RNG)
    assert isinstance(decision, Stop) and decision.details["finished"] == 9
    assert decision.details["neighbours"][0] == 0  # the identical curve of this study
    prior = decision.details["neighbours"][1:]
    assert all(isinstance(n, dict) for n in prior) and len(prior) == 8
    named = ", ".join(f"#{n['trial']}" for n in prior)  # this study's #0 is not among them
    assert decision.reason.endswith(f"; matched prior {earlier} {named}")


def test_every_check_study_takes_the_same_keywords():
    """Study.optimize calls each scheduler's check_study the same way."""
    import inspect

    from curvetune.schedulers import SCHEDULERS

    classes = {entry[0] if isinstance(entry, tuple) else entry for entry in SCHEDULERS.values()}
    checks = [c.check_study for c in classes if hasattr(c, "check_study")]
    assert len(checks) >= 2  # LCM and PBT
    for check in checks:
        params = list(inspect.signature(check).parameters.values())[1:]
        assert [p.name for p in params] == ["trials", "max_steps", "metric", "mode"], check
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), check
