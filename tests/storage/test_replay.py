"""Replaying a log (drafts frozen once at the end) builds exactly the history that folding
its events one by one with ``apply`` builds, whatever the log holds."""

import pytest

from curvetune.events import (
    CheckpointSaved,
    Decided,
    Exploited,
    SegmentFinished,
    SegmentLost,
    TrialCreated,
    TrialFinished,
    apply,
    replay,
)
from curvetune.schedulers import PBTScheduler
from curvetune.space import Float
from curvetune.study import Study
from curvetune.types import History, Report, TrialState


def _folded(events, history=None):
    history = history or History(metric="accuracy", mode="max", max_steps=6)
    for event in events:
        apply(history, event)
    return history


def _same(a: History, b: History) -> None:
    """Equal trials (by repr, so that a reported NaN equals a NaN read back)."""
    assert list(a.trials) == list(b.trials)
    for trial_id in a.trials:
        assert repr(a[trial_id]) == repr(b[trial_id])


def test_an_awkward_log_replays_as_it_folds():
    r = lambda s, v: Report(s, {"accuracy": v})  # noqa: E731
    events = [
        TrialCreated(0, {"x": 0.1}, 5),
        TrialCreated(1, {"x": 0.9}, 6),
        Decided(0, "Continue", until=2),
        SegmentFinished(0, 0, 2, "ok", (r(1, 0.1), r(2, 0.2))),
        CheckpointSaved(0, 2),
        SegmentFinished(1, 0, 3, "ok", (r(1, 0.5), r(2, 0.6), r(3, 0.7))),
        SegmentLost(1, 1, "TerminatedWorkerError"),
        # an interrupted attempt reported up to 3; the retry from 2 replaces step 3
        SegmentFinished(0, 2, 4, "error", (r(3, 0.3),), error="boom"),
        SegmentFinished(0, 2, 4, "ok", (r(3, 0.35), r(4, 0.4))),
        Exploited(1, 0, 2, {"x": 0.2}),
        SegmentFinished(1, 2, 4, "ok", (r(3, 0.45), r(4, 0.5))),
        TrialFinished(0, TrialState.STOPPED, "worse than 60%"),
        TrialFinished(1, TrialState.DIVERGED, "nan"),
        TrialCreated(2, {"x": 0.5}, 7),
    ]
    _same(replay(History(metric="accuracy", mode="max", max_steps=6), events), _folded(events))


def test_replaying_onto_a_history_that_has_trials_continues_them():
    first = [TrialCreated(0, {"x": 0.1}, 5), SegmentFinished(0, 0, 1, "ok", (Report(1, {}),))]
    rest = [SegmentFinished(0, 1, 2, "ok", (Report(2, {}),)), CheckpointSaved(0, 2)]
    _same(replay(_folded(first), rest), _folded(first + rest))


@pytest.mark.parametrize(
    ("scheduler", "fixed", "objective", "metric", "mode"),
    [
        (
            "asha",
            {"nan_above": 0.8, "fail_above": 0.9},
            "curvetune.testing:synthetic",
            "accuracy",
            "max",
        ),
        ("lcm", {}, "curvetune.testing:synthetic", "accuracy", "max"),
        (
            PBTScheduler(interval=2, population=6),
            {},
            "curvetune.testing:sgd_quadratic",
            "loss",
            "min",
        ),
    ],
)
def test_a_stored_study_replays_as_it_folds(tmp_path, scheduler, fixed, objective, metric, mode):
    space = {"lr": Float(0.01, 1.2, log=True)} if "sgd" in objective else {"x": Float(0.0, 1.0)}
    study = Study.create(
        objective=objective,
        space=space,
        metric=metric,
        mode=mode,
        max_steps=6,
        fixed=fixed,
        directory=tmp_path / "s",
    )
    study.optimize(trials=12, scheduler=scheduler, executor="sequential", progress=False)
    events = list(study.store.events())
    history = History(metric=metric, mode=mode, max_steps=6)
    _same(replay(history, events), _folded(events, History(metric=metric, mode=mode, max_steps=6)))
    _same(Study.load(tmp_path / "s").history, study.history)
