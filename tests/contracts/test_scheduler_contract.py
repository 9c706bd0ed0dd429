"""The scheduler contract: every name in ``SCHEDULERS`` is run through the same checks, so
a newly registered scheduler (or preset) is held to them without a test of its own.

A registered scheduler is pure (it reads the history and changes nothing), returns one of
the five decisions, decides the same on the same study, resumes a killed study exactly,
never trains past the budget and completes a trial at it, refuses an option it does not
take in one line, runs from ask/tell exactly as from ``optimize`` (PBT refuses ask/tell),
and accepts an ask/tell study in ``check_study``.

(That every numeric option refuses ``True`` in one line naming it is checked for every
registered name, option by option, in ``test_bad_input.py``; not repeated here.)

No ``conftest.py`` here: a second ``conftest`` module would shadow ``tests/conftest.py``,
which other test modules import by name (``from conftest import ...``), so each contract
file carries its own small builders.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from conftest import Interrupt, interrupted_after

from curvetune.events import CheckpointSaved, Decided, SegmentFinished, TrialFinished
from curvetune.schedulers import SCHEDULERS, ChecksStudy, Scheduler, make_scheduler
from curvetune.space import Float
from curvetune.study import Study
from curvetune.types import Complete, Continue, Exploit, History, Stop, TrialState, Wait

DECISIONS = (Continue, Stop, Complete, Exploit, Wait)
MAX_STEPS = 8
TRIALS = 12
SEED = 5

# The least a registered scheduler needs to run a study of TRIALS trials: PBT's population
# (16 by default) must fit the budget, and a shorter interval makes it exploit sooner.
OPTIONS: dict[str, dict[str, Any]] = {"pbt": {"population": 8, "interval": 2}}

# ``x`` shapes the curve (``curvetune.testing.synthetic`` peaks at 0.3); PBT explores ``lr``.
SPACE = {"x": Float(0.0, 1.0), "lr": Float(0.01, 1.0, log=True)}

NAMES = list(SCHEDULERS)
ASK_TELL = [name for name in NAMES if name != "pbt"]


def build(name: str) -> Scheduler:
    return make_scheduler(name, **OPTIONS.get(name, {}))


CHECKS_STUDY = [name for name in NAMES if isinstance(build(name), ChecksStudy)]


def make_study(directory=None, *, objective: Any = "curvetune.testing:synthetic", **kw) -> Study:
    return Study.create(
        objective=objective,
        space=SPACE,
        metric="accuracy",
        mode="max",
        max_steps=MAX_STEPS,
        seed=SEED,
        directory=directory,
        **kw,
    )


def optimize(study: Study, scheduler: Any, **options: Any) -> None:
    study.optimize(
        trials=TRIALS, scheduler=scheduler, executor="sequential", progress=False, **options
    )


def facts(study: Study) -> list[tuple]:
    """Everything a trial is: what two equal runs must agree on."""
    return [
        (t.id, dict(t.config), t.seed, t.state, t.step, t.reports, t.checkpoint_step, t.reason)
        for t in study.history.trials.values()
    ]


def decided(study: Study) -> list[tuple]:
    return [
        (e.trial, e.kind, e.until, e.reason, dict(e.details))
        for e in study.store.events()
        if isinstance(e, Decided)
    ]


class Watched:
    """Wraps a scheduler and records, for each decision a real study asks for, the trial,
    the history before and after (its trials and its change stamp), the generator's seed and
    the decision. Other attributes (``check_study``) are the wrapped scheduler's, so
    ``ChecksStudy`` still sees what it has. The generator is its own, seeded by (trial,
    step) as the controller's is, so that a decision can be asked for again."""

    def __init__(self, inner: Scheduler) -> None:
        self.inner = inner
        self.calls: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def decide(self, trial, history, rng):
        before, stamp = dict(history.trials), history.stamp
        seed = [SEED, 1, trial.id, trial.step]
        decision = self.inner.decide(trial, history, np.random.default_rng(seed))
        self.calls.append(
            dict(
                trial=trial,
                seed=seed,
                history=history,
                before=before,
                stamp=stamp,
                after=dict(history.trials),
                stamp_after=history.stamp,
                decision=decision,
                max_steps=history.max_steps,
            )
        )
        return decision


@pytest.fixture(scope="module")
def watched_runs() -> dict[str, tuple[Study, Watched]]:
    """One watched study per scheduler, run once for the checks that only read it."""
    return {}


def watched(name: str, runs: dict[str, tuple[Study, Watched]]) -> tuple[Study, Watched]:
    if name not in runs:
        scheduler = Watched(build(name))
        study = make_study()
        optimize(study, scheduler)
        runs[name] = (study, scheduler)
    return runs[name]


def rebuilt(history: History, trials: dict) -> History:
    """A new History holding ``trials``: the same facts, none of the original's caches."""
    copy = History(metric=history.metric, mode=history.mode, max_steps=history.max_steps)
    for trial_id in sorted(trials):
        copy._put(trials[trial_id])
    return copy


def test_the_registry_is_what_the_contract_runs_over():
    assert len(NAMES) >= 13 and "pbt" in NAMES and "pbt" not in ASK_TELL
    assert CHECKS_STUDY, "no registered scheduler checks its study: the check_study test is idle"
    for name in NAMES:
        assert isinstance(build(name), Scheduler), name


# ----------------------------------------------------------------------- 1. pure


@pytest.mark.parametrize("name", NAMES)
def test_a_decision_changes_nothing_and_is_a_decision(name, watched_runs):
    study, scheduler = watched(name, watched_runs)
    assert len(scheduler.calls) > TRIALS
    for call in scheduler.calls:
        assert isinstance(call["decision"], DECISIONS), call["decision"]
        assert call["after"] == call["before"], f"{name} changed the history"
        assert call["stamp_after"] == call["stamp"], f"{name} put a trial into the history"
        assert call["before"][call["trial"].id] == call["trial"]
    assert len(study.history) == TRIALS
    assert all(t.state.finished for t in study.history.trials.values())


@pytest.mark.parametrize("name", NAMES)
def test_a_fresh_instance_on_the_same_history_decides_the_same(name, watched_runs):
    """Decisions are a function of (trial, history, rng): an instance that has followed the
    study and one that sees it for the first time agree (``test_incremental`` checks the
    stopping rules on a larger study; this runs every registered name, PBT too)."""
    _, scheduler = watched(name, watched_runs)
    for call in scheduler.calls:
        history = rebuilt(call["history"], call["before"])
        fresh = build(name).decide(call["trial"], history, np.random.default_rng(call["seed"]))
        assert fresh == call["decision"], f"{name} on trial {call['trial'].id}"


# ----------------------------------------------------------------------- 2. deterministic


@pytest.mark.parametrize("name", NAMES)
def test_two_fresh_instances_decide_the_same_study_the_same(name):
    first = make_study()
    optimize(first, build(name))
    second = make_study()
    optimize(second, build(name))
    assert facts(second) == facts(first)
    assert decided(second) == decided(first)


# ----------------------------------------------------------------------- 3. resumable


def mid_trial_cuts(events: list) -> list[int]:
    """Two kills mid-trial: near a third of ``events``, right after a segment came back but
    before its checkpoint was recorded (the trial retrains that segment), and near two
    thirds, right after a checkpoint (the trial goes on from there). Event counts."""
    finished = {e.trial: i for i, e in enumerate(events) if isinstance(e, TrialFinished)}

    def first_after(start: int, kind: type) -> int:
        return next(
            i + 1
            for i, e in enumerate(events)
            if i >= start and isinstance(e, kind) and finished.get(e.trial, len(events)) > i + 1
        )

    return [
        first_after(len(events) // 3, SegmentFinished),
        first_after(2 * len(events) // 3, CheckpointSaved),
    ]


@pytest.mark.parametrize("name", NAMES)
def test_a_study_killed_and_rerun_equals_one_run_straight_through(name, tmp_path):
    """The way ``test_resume.py`` does it, for every registered scheduler: the run is cut
    mid-trial, after about a third and two thirds of the events the straight run stores."""
    straight = make_study()
    optimize(straight, build(name))
    events = list(straight.store.events())
    for cut in mid_trial_cuts(events):
        directory = tmp_path / f"cut{cut}"
        killed = make_study(directory)
        with pytest.raises(Interrupt):
            optimize(killed, build(name), listener=interrupted_after(cut))
        killed.close()
        again = Study.load(directory, readonly=False)
        optimize(again, build(name))
        assert facts(again) == facts(straight), f"cut after {cut} of {len(events)} events"
        again.close()


# ----------------------------------------------------------------------- 4. budget


@pytest.mark.parametrize("name", NAMES)
def test_nothing_continues_past_the_budget_and_the_budget_completes(name, watched_runs):
    study, scheduler = watched(name, watched_runs)
    for call in scheduler.calls:
        trial, decision, budget = call["trial"], call["decision"], call["max_steps"]
        assert trial.step <= budget
        if trial.step >= budget:
            assert isinstance(decision, Complete), f"{name}: {decision!r} at the budget"
        if isinstance(decision, Continue):
            assert trial.step < decision.until <= budget, f"{name}: {decision!r} at {trial.step}"
        if isinstance(decision, Exploit):
            assert 0 < decision.until <= budget, f"{name}: {decision!r}"
    for trial in study.history.trials.values():
        assert trial.step <= MAX_STEPS and trial.last_step <= MAX_STEPS
        if trial.state is TrialState.COMPLETED:
            assert trial.step == MAX_STEPS, trial
        if trial.state is TrialState.STOPPED:
            assert trial.step < MAX_STEPS and trial.reason, trial


# ----------------------------------------------------------------------- 5. bad settings


@pytest.mark.parametrize("name", NAMES)
def test_an_unknown_option_is_one_line_naming_it(name):
    with pytest.raises(ValueError) as error:
        make_scheduler(name, no_such_option=1)
    message = str(error.value)
    assert "\n" not in message
    assert "'no_such_option'" in message and name in message


# ----------------------------------------------------------------------- 6. ask/tell


def curve(config, step: int) -> float:
    """``curvetune.testing.stateless_curve``'s accuracy at ``step``."""
    final = 1.0 - (float(config["x"]) - 0.3) ** 2
    return final * (1 - math.exp(-step / 3))


@pytest.mark.parametrize("name", ASK_TELL)
def test_ask_tell_decides_exactly_as_optimize_does(name):
    asked = make_study(objective=None, scheduler=build(name))
    for _ in range(asked.remaining(TRIALS)):
        trial = asked.ask()
        for step in range(1, MAX_STEPS + 1):
            trial.report(step, accuracy=curve(trial.config, step))
            if trial.should_stop():
                break
        asked.tell(trial)
    optimized = make_study(objective="curvetune.testing:stateless_curve")
    optimize(optimized, build(name))
    assert facts(asked) == facts(optimized)
    assert decided(asked) == decided(optimized)
    assert all(t.state.finished for t in asked.trials) and len(asked.trials) == TRIALS


def test_pbt_refuses_ask_tell_in_one_line_naming_optimize():
    study = make_study(objective=None, scheduler=build("pbt"))
    with pytest.raises(ValueError) as error:
        study.ask()
    assert "\n" not in str(error.value) and "optimize" in str(error.value)


# ----------------------------------------------------------------------- 7. check_study


@pytest.mark.parametrize("name", CHECKS_STUDY)
def test_check_study_takes_a_valid_setup_and_an_ask_tell_study(name):
    scheduler = build(name)
    for trials in (None, TRIALS):
        scheduler.check_study(trials=trials, max_steps=MAX_STEPS, metric="accuracy", mode="max")
