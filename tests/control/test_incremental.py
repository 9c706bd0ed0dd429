"""Cached scheduler state changes the cost of a decision, never the decision: every
decision of a study, made by a scheduler that has followed the whole study, equals the one
a fresh scheduler makes on the same history from scratch."""

import math

import numpy as np
import pytest

from curvetune.schedulers import SCHEDULERS, make_scheduler
from curvetune.space import Float
from curvetune.study import Study
from curvetune.types import History, Report, Trial, TrialState


def noisy_curve(config, ctx):
    """Saturating curves of many shapes (fast and slow starters, crossing curves), so the
    stopping rules have real work to do; the same config gives the same curve."""
    x, rate = float(config["x"]), 1.0 + 9.0 * float(config["rate"])
    wiggle = np.random.default_rng(ctx.seed)
    for step in range(ctx.start + 1, ctx.until + 1):
        value = (0.5 + 0.5 * x) * (1 - math.exp(-step / rate)) + 0.01 * wiggle.standard_normal()
        ctx.report(step, accuracy=value)


noisy_curve.stateless = True  # type: ignore[attr-defined]

STOPPING = [name for name in SCHEDULERS if name != "pbt"]


class FromScratchToo:
    """Asks the scheduler under test, then a fresh one on the same history, and records
    both answers (the controller goes on with the first)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.followed = make_scheduler(name)
        self.answers: list[tuple[object, object]] = []

    def check_study(self, **settings) -> None:
        check = getattr(self.followed, "check_study", None)
        if check is not None:
            check(**settings)

    def decide(self, trial, history, rng):
        decision = self.followed.decide(trial, history, rng)
        fresh = make_scheduler(self.name).decide(trial, history, rng)
        self.answers.append((decision, fresh))
        return decision


@pytest.mark.parametrize("name", STOPPING)
def test_every_decision_equals_the_one_made_from_scratch(name):
    study = Study.create(
        objective=noisy_curve,
        space={"x": Float(0.0, 1.0), "rate": Float(0.0, 1.0)},
        metric="accuracy",
        max_steps=10,
        seed=4,
    )
    checked = FromScratchToo(name)
    study.optimize(trials=60, scheduler=checked, executor="sequential", progress=False)
    assert len(checked.answers) > 60
    for decision, fresh in checked.answers:
        assert decision == fresh
    stopped = [t for t in study.history.trials.values() if t.state is TrialState.STOPPED]
    if name != "fifo":
        assert stopped, f"{name} stopped nothing: the test would not see a stop differ"


def test_a_column_follows_a_compacted_feed():
    """When the history's feed of changes was compacted past a cache's cursor, the cache
    reads every trial again and still agrees with a fresh one."""
    history = History(metric="accuracy", mode="max", max_steps=3)
    asha = make_scheduler("asha", reduction_factor=2)
    compacted = False
    for i in range(40):
        reports = tuple(Report(s, {"accuracy": (i % 7) / 10 + s / 100}) for s in (1, 2, 3))
        trial = Trial(id=i, config={}, seed=i, reports=reports[:1], step=1)
        history._put(trial)
        for _ in range(1500 if i == 20 else 0):  # a burst of changes elsewhere
            history._put(history[0].evolve(state=TrialState.RUNNING))
        compacted = compacted or history.changed_since(0)[0] is None
        fresh = make_scheduler("asha", reduction_factor=2)
        assert asha.decide(trial, history, None) == fresh.decide(trial, history, None)
    assert compacted  # the feed was compacted past the followed scheduler's cursor
