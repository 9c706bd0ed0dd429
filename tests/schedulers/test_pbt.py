"""Population Based Training: barriers, exploit and explore, lineage, through the controller."""

import itertools

import numpy as np
import pytest

from curvetune.events import Decided, Exploited
from curvetune.schedulers import make_scheduler
from curvetune.schedulers.pbt import PBTScheduler
from curvetune.space import Float
from curvetune.study import Study
from curvetune.types import Continue, Exploit, History, Report, Trial, TrialState, Wait

RNG = np.random.default_rng(0)


def quadratic_study(directory=None, *, max_steps=8, seed=0, fixed=None):
    """A study of ``sgd_quadratic`` over the learning rate (on disk when given a directory)."""
    return Study.create(
        objective="curvetune.testing:sgd_quadratic",
        space={"lr": Float(1e-4, 0.3, log=True)},
        metric="loss",
        mode="min",
        max_steps=max_steps,
        seed=seed,
        fixed=fixed or {},
        directory=directory,
    )


def member(trial_id, losses, lr=0.1, checkpoint=None):
    reports = tuple(Report(s, {"loss": v}) for s, v in enumerate(losses, start=1))
    step = len(losses)
    return Trial(
        id=trial_id,
        config={"lr": lr},
        seed=0,
        reports=reports,
        step=step,
        checkpoint_step=step if checkpoint is None else checkpoint,
    )


def history(members, max_steps=6):
    h = History(metric="loss", mode="min", max_steps=max_steps)
    for m in members:
        h._put(m)
    return h


def test_invalid_settings_are_refused_with_one_line():
    for options, message in [
        ({"population": 3}, "population must be a whole number >= 4"),
        ({"quantile": 0.0}, r"quantile must be a number in \(0, 0.5\]"),
        ({"quantile": 0.6}, r"quantile must be a number in \(0, 0.5\]"),
        ({"interval": 0}, "interval"),
        ({"factors": (0.8, -1.0)}, "factors"),
        ({"mutable": {"lr": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}}, "'lr'"),
    ]:
        with pytest.raises(ValueError, match=message):
            PBTScheduler(**options)


def test_synchronous_barrier_waits_for_every_member():
    pbt = PBTScheduler(population=4, interval=2)
    members = [member(i, [1.0, 0.5]) for i in range(3)] + [member(3, [1.0])]
    h = history(members)
    assert isinstance(pbt.decide(h[0], h, RNG), Wait)
    h._put(member(3, [1.0, 0.9]))
    assert pbt.decide(h[0], h, RNG) == Continue(4)


def test_bottom_quantile_exploits_a_top_member_and_perturbs_its_rate():
    pbt = PBTScheduler(population=4, interval=2, resample_probability=0.0)
    h = history(
        [
            member(i, [1.0, loss], lr=lr)
            for i, (loss, lr) in enumerate([(0.1, 0.5), (0.4, 0.2), (0.6, 0.05), (0.9, 0.01)])
        ]
    )
    decision = pbt.decide(h[3], h, RNG)
    assert isinstance(decision, Exploit)
    assert decision.source == 0 and decision.until == 4
    assert decision.config["lr"] in (pytest.approx(0.4), pytest.approx(0.6))
    assert "bottom 25%" in decision.reason and "copies #0" in decision.reason
    assert pbt.decide(h[1], h, RNG) == Continue(4)  # the middle carries on


def test_asynchronous_mode_ranks_newest_values_without_waiting():
    pbt = PBTScheduler(population=4, interval=2, synchronous=False)
    h = history(
        [
            member(0, [0.1, 0.05, 0.01, 0.01]),
            member(1, [1.0, 0.9]),
            member(2, [0.5]),
            member(3, [0.4]),
        ]
    )
    decision = pbt.decide(h[1], h, RNG)
    assert isinstance(decision, Exploit) and decision.source == 0
    assert decision.until == 6  # the source's checkpoint is at step 4


def test_pbt_study_exploits_copies_weights_and_improves_rates(tmp_path):
    study = quadratic_study(tmp_path / "pbt", max_steps=8, seed=3)
    scheduler = make_scheduler("pbt", population=8, interval=2)
    history = study.optimize(trials=8, scheduler=scheduler, executor="sequential")
    assert all(t.state is TrialState.COMPLETED for t in history.trials.values())
    events = list(study.store.events())
    exploits = [e for e in events if isinstance(e, Exploited)]
    waits = [e for e in events if isinstance(e, Decided) and e.kind == "Wait"]
    assert exploits and waits
    for e in exploits:
        assert e.step in (2, 4, 6)
        assert e.source != e.trial
    # Every member reports 8 steps, and after an exploit trains at the explored rate.
    for t in history.trials.values():
        steps, rates = t.curve("lr")
        assert steps == list(range(1, 9))
        own = [e for e in exploits if e.trial == t.id]
        for e in own:
            assert rates[e.step] == pytest.approx(e.config["lr"])  # the step after it
        if own:
            assert rates[-1] == pytest.approx(own[-1].config["lr"])
    best = study.best_trial
    worst_start = max(history[i].value_at("loss", 2) for i in range(8))
    assert history.score(best) < worst_start


def test_lineage_schedule_replayed_from_scratch_reproduces_the_member(tmp_path):
    from curvetune.lineage import copies, followed, piecewise

    study = quadratic_study(tmp_path / "pbt", max_steps=8, seed=5, fixed={"iters": 3})
    study.optimize(
        trials=8, scheduler=make_scheduler("pbt", population=8, interval=2), executor="sequential"
    )
    events = list(study.store.events())
    assert copies(events)
    for member in study.history.trials.values():
        path = followed(study.history, events, member.id)
        assert [r.step for r in path] == list(range(1, 9))
        w = 0.0  # replay gradient descent from scratch with the lineage's rates
        for rate in path:
            for _ in range(3):
                w -= rate.lr * 2 * (w - 3)
        assert (w - 3) ** 2 == pytest.approx(member.last_value("loss"), rel=1e-9, abs=1e-300)
    best = study.best_trial
    points = piecewise(followed(study.history, events, best.id))
    assert points[0][0] == 0 and all(a[0] < b[0] for a, b in itertools.pairwise(points))


def test_pbt_schedule_command_writes_the_replayable_schedule(tmp_path, capsys):
    import json

    from curvetune.cli import main

    study = quadratic_study(tmp_path / "pbt", max_steps=6)
    study.optimize(
        trials=4, scheduler=make_scheduler("pbt", population=4, interval=2), executor="sequential"
    )
    study.close()
    assert main(["pbt-schedule", str(tmp_path / "pbt")]) == 0
    document = json.loads((tmp_path / "pbt" / "pbt-schedule.json").read_text())
    assert document["lr_schedule"]["type"] == "piecewise"
    assert [s["step"] for s in document["steps"]] == list(range(1, 7))
    assert "learning rate followed" in capsys.readouterr().out
    assert main(["pbt-schedule", str(tmp_path / "pbt"), "--trial", "99"]) == 2


class Crash(Exception):
    pass


class CrashAfter:
    """Delegates to PBT, then raises on its n-th decision: a controller killed mid-study."""

    def __init__(self, inner, n):
        self.inner, self.n = inner, n

    def decide(self, trial, history, rng):
        self.n -= 1
        if self.n < 0:
            raise Crash
        return self.inner.decide(trial, history, rng)


def test_pbt_study_killed_mid_run_resumes_without_losing_progress(tmp_path):
    def create():
        return quadratic_study(tmp_path / "pbt", max_steps=8, seed=2)

    study = create()
    pbt = make_scheduler("pbt", population=6, interval=2)
    with pytest.raises(Crash):
        study.optimize(trials=6, scheduler=CrashAfter(pbt, 20), executor="sequential")
    saved = {t.id: t.checkpoint_step for t in study.history.trials.values()}
    study.close()
    resumed = create()
    before = {t.id: t.checkpoint_step for t in resumed.history.trials.values()}
    assert before == saved and any(step > 0 for step in before.values())
    logged = len(list(resumed.store.events()))
    history = resumed.optimize(
        trials=6, scheduler=make_scheduler("pbt", population=6, interval=2), executor="sequential"
    )
    assert all(t.state is TrialState.COMPLETED and t.step == 8 for t in history.trials.values())
    # Members continued from their stored checkpoints, not from scratch ...
    from curvetune.events import SegmentFinished
    from curvetune.lineage import followed

    events = list(resumed.store.events())
    for trial_id, step in before.items():
        later = [
            e for e in events[logged:] if isinstance(e, SegmentFinished) and e.trial == trial_id
        ]
        if later and step > 0:
            assert later[0].start == step
    # ... and each lineage still replays to its member's final loss: nothing lost or redone.
    for member in history.trials.values():
        w = 0.0
        for rate in followed(history, events, member.id):
            for _ in range(5):
                w -= rate.lr * 2 * (w - 3)
        assert (w - 3) ** 2 == pytest.approx(member.last_value("loss"), rel=1e-9, abs=1e-300)


def test_too_few_trials_for_the_population_is_a_clear_error(tmp_path):
    study = quadratic_study(max_steps=4)
    with pytest.raises(ValueError, match="population of 4 needs a budget of at least 4 trials"):
        study.optimize(
            trials=3,
            scheduler=make_scheduler("pbt", population=4, interval=2),
            executor="sequential",
        )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("population = 8", "population = 3"), "population must be"),
        (lambda t: t.replace("quantile = 0.25", "quantile = 0.7"), "quantile must be a number in"),
        (
            lambda t: t.replace(
                "batch_size = 32",
                'batch_size = 32\nlr_schedule = { type = "piecewise", points = [[0, -0.1]] }',
            ),
            "rate",
        ),
    ],
)
def test_invalid_pbt_or_schedule_settings_get_one_line_and_exit_2(
    tmp_path, capsys, change, expected
):
    from pathlib import Path

    from curvetune.cli import main

    text = (Path(__file__).parents[2] / "examples" / "mnist-pbt.toml").read_text()
    text = text.replace('directory = "runs/mnist-pbt"', f'directory = "{tmp_path / "s"}"')
    study_file = tmp_path / "pbt.toml"
    study_file.write_text(change(text))
    assert main(["run", str(study_file), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0] and "Traceback" not in err[0]
