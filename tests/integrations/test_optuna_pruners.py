"""curvetune's Optuna pruners (``curvetune.integrations.optuna``), tested as Optuna tests its
own: trials driven by hand with ``study.ask`` / ``trial.report`` / ``study.tell``, and whole
studies of synthetic curves (milliseconds each), compared with curvetune's own controller."""

from __future__ import annotations

import importlib
import json
import pickle
import sys

import numpy as np
import pytest
from conftest import require_module

from curvetune.bench.simulate import simulate
from curvetune.bench.tables import CurveTable
from curvetune.executors._optional import MissingExtraError
from curvetune.schedulers import LCMScheduler, make_scheduler
from curvetune.types import TrialState

require_module("optuna")  # a skip without it; under CI=true a failure
optuna = pytest.importorskip("optuna")

from curvetune.integrations.optuna import (  # noqa: E402  (needs optuna)
    USER_ATTR,
    LCMPruner,
    MatchedHalvingPruner,
    SchedulerPruner,
)

Pruned = optuna.trial.TrialState.PRUNED


@pytest.fixture(autouse=True)
def _quiet_optuna():
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(verbosity)


def saturating(final: float, rate: float, steps: int) -> np.ndarray:
    """An accuracy curve rising to ``final`` (rate: epochs to about 63% of it)."""
    return final * (1.0 - np.exp(-np.arange(1, steps + 1) / rate))


def synthetic_table(n: int = 40, steps: int = 12, seed: int = 0) -> np.ndarray:
    """n curves whose finals and speeds vary (so some cross): rows are trials in order."""
    rng = np.random.default_rng(seed)
    finals, rates = rng.uniform(0.4, 0.95, n), rng.uniform(0.5, 6.0, n)
    return np.vstack([saturating(f, r, steps) for f, r in zip(finals, rates, strict=True)])


def replaying(curves: np.ndarray, *, first_step: int = 0):
    """An objective that reports row ``trial.number`` of ``curves``, epoch by epoch."""

    def objective(trial) -> float:
        curve = curves[trial.number]
        for epoch, value in enumerate(curve):
            trial.report(float(value), epoch + first_step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(curve[-1])

    return objective


def outcome(study) -> dict[int, int | None]:
    """Trial number -> the curvetune step it was pruned at (None: it completed)."""
    return {
        t.number: (t.last_step + 1 if t.state is Pruned else None)
        for t in study.get_trials(deepcopy=False)
    }


def completed(study, curve) -> None:
    """A trial that reports all of ``curve`` and completes (never asks the pruner)."""
    trial = study.ask()
    for epoch, value in enumerate(curve):
        trial.report(float(value), epoch)
    study.tell(trial, float(curve[-1]))


def judged(study, curve) -> tuple[object, list[int]]:
    """A trial reporting ``curve`` step by step; the steps at which it was told to prune
    (it goes on regardless, as in Optuna's own pruner tests)."""
    trial = study.ask()
    pruned = []
    for epoch, value in enumerate(curve):
        trial.report(float(value), epoch)
        if study.pruner.prune(study, study._storage.get_trial(trial._trial_id)):
            pruned.append(epoch)
    return trial, pruned


# ----------------------------------------------------------------------------- the rule


def test_no_prune_before_min_complete_trials_complete() -> None:
    steps = 10
    study = optuna.create_study(direction="maximize", pruner=LCMPruner(steps, min_complete=3))
    for final in (0.9, 0.85):
        completed(study, saturating(final, 2.0, steps))
    trial, pruned = judged(study, saturating(0.2, 2.0, steps))
    assert pruned == []  # only 2 complete curves: accumulation, nothing stops
    study.tell(trial, 0.2)
    _, pruned = judged(study, saturating(0.1, 2.0, steps))
    assert pruned and pruned[0] == 0  # the first check (10% of 10 steps: Optuna step 0)


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_prunes_a_bad_curve_keeps_a_good_one_and_explains(direction: str) -> None:
    steps = 10
    sign = 1.0 if direction == "maximize" else -1.0  # a loss: the accuracy curve negated
    study = optuna.create_study(direction=direction, pruner=LCMPruner(steps))
    for final in (0.6, 0.65, 0.7, 0.75, 0.8):
        completed(study, sign * saturating(final, 2.0, steps))
    good, pruned = judged(study, sign * saturating(0.9, 2.0, steps))
    assert pruned == []
    study.tell(good, sign * 0.9)
    bad, pruned = judged(study, sign * saturating(0.3, 2.0, steps))
    assert pruned[:1] == [0]
    stop = study._storage.get_trial(bad._trial_id).user_attrs[USER_ATTR]
    json.dumps(stop)  # JSON, as every storage needs
    assert stop["rule"] == "lcm" and stop["step"] == 0 and stop["curvetune_step"] == 1
    assert stop["rank"] == 1.0 and stop["threshold"] == 0.55 and stop["finished"] == 6
    assert (stop["prediction"] < 0.6) if direction == "maximize" else (stop["prediction"] > -0.6)
    assert set(stop["neighbours"]) <= {0, 1, 2, 3, 4, 5}  # Optuna trial numbers
    assert "completed trainings" in stop["reason"] and "Optuna step 0" in stop["reason"]
    assert USER_ATTR not in study._storage.get_trial(good._trial_id).user_attrs


def test_asks_the_scheduler_only_at_its_checks_whatever_the_report_rhythm() -> None:
    asked: list[int] = []

    class Spy:
        inner = LCMScheduler(min_complete=100)  # never stops: only the asking is seen

        def decide(self, trial, history, rng):
            asked.append(trial.step)
            return self.inner.decide(trial, history, rng)

    study = optuna.create_study(pruner=SchedulerPruner(Spy(), 20))
    trial = study.ask()
    for step in range(20):
        trial.report(1.0, step)
        assert not trial.should_prune()
    assert asked == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]  # creation, checks, the end
    asked.clear()
    trial = study.ask()
    for step in range(0, 20, 3):  # every third step: checks are caught up, none repeated
        trial.report(1.0, step)
        assert not trial.should_prune()
        assert not trial.should_prune()
    assert asked == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]


def test_a_stop_is_repeated_and_a_nan_prunes() -> None:
    steps = 10
    study = optuna.create_study(direction="maximize", pruner=LCMPruner(steps, min_complete=2))
    for final in (0.8, 0.9):
        completed(study, saturating(final, 2.0, steps))
    trial = study.ask()
    trial.report(0.01, 0)
    assert trial.should_prune() and trial.should_prune()
    trial = study.ask()
    trial.report(float("nan"), 0)
    assert trial.should_prune()
    stop = study._storage.get_trial(trial._trial_id).user_attrs[USER_ATTR]
    assert stop["rule"] == "diverged" and stop["step"] == 0


def test_first_step_1_counts_epochs_from_1() -> None:
    curves = synthetic_table()
    zero = optuna.create_study(direction="maximize", pruner=LCMPruner(12))
    zero.optimize(replaying(curves), n_trials=len(curves))
    one = optuna.create_study(direction="maximize", pruner=LCMPruner(12, first_step=1))
    one.optimize(replaying(curves, first_step=1), n_trials=len(curves))
    assert {n: s - 1 if s else None for n, s in outcome(one).items()} == outcome(zero)


def test_reports_outside_the_budget_are_refused_clearly() -> None:
    study = optuna.create_study(pruner=LCMPruner(5))
    trial = study.ask()
    trial.report(1.0, 5)  # steps are 0..4
    with pytest.raises(ValueError, match=r"step 5, outside .*max_steps=5.*first_step=1"):
        trial.should_prune()
    with pytest.raises(ValueError, match="max_steps"):
        LCMPruner(0)
    with pytest.raises(ValueError, match="first_step"):
        LCMPruner(5, first_step=2)
    with pytest.raises(ValueError, match="threshold"):
        LCMPruner(5, threshold=2.0)  # LCM's own checks
    with pytest.raises(ValueError, match="unknown option 'tresh'; allowed: min_complete"):
        LCMPruner(5, tresh=0.5)
    with pytest.raises(ValueError, match="unknown LCM preset 'asha'"):
        LCMPruner(5, preset="asha")


def test_multi_objective_studies_are_refused() -> None:
    pruner = LCMPruner(5)
    study = optuna.create_study(directions=["minimize", "maximize"], pruner=pruner)
    trial = study.ask()
    with pytest.raises(ValueError, match="single-objective"):
        pruner.prune(study, study._storage.get_trial(trial._trial_id))


def test_a_prior_study_skips_the_accumulation(make_study, tmp_path) -> None:
    earlier = make_study(directory="earlier", max_steps=4)  # 8 complete accuracy curves
    earlier.optimize(trials=8, executor="sequential", progress=False)
    earlier.close()
    pruner = LCMPruner(4, prior=str(tmp_path / "earlier"))
    study = optuna.create_study(direction="maximize", pruner=pruner)
    trial, pruned = judged(study, [0.01, 0.02, 0.03, 0.04])  # no Optuna trial completed yet
    assert pruned[:1] == [0]
    stop = study._storage.get_trial(trial._trial_id).user_attrs[USER_ATTR]
    assert stop["neighbours"][0]["study"] == str(tmp_path / "earlier")
    with pytest.raises(ValueError, match="no study here"):
        LCMPruner(4, prior=str(tmp_path / "nowhere"))  # refused before any training


def test_a_pruner_survives_pickling() -> None:
    pruner = pickle.loads(pickle.dumps(LCMPruner(12, k=3)))
    study = optuna.create_study(direction="maximize", pruner=pruner)
    study.optimize(replaying(synthetic_table()), n_trials=40)
    assert Pruned in {t.state for t in study.trials}


# ----------------------------------------------------------------------------- studies


def test_n_jobs_2_runs_and_prunes() -> None:
    curves = synthetic_table(n=60)
    study = optuna.create_study(direction="maximize", pruner=LCMPruner(12))
    study.optimize(replaying(curves), n_trials=60, n_jobs=2)
    states = [t.state for t in study.trials]
    assert len(states) == 60 and optuna.trial.TrialState.FAIL not in states
    assert states.count(Pruned) > 10


def _storage(kind: str, tmp_path):
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'optuna.db'}"
    backend = optuna.storages.journal.JournalFileBackend(str(tmp_path / "journal.log"))
    return optuna.storages.JournalStorage(backend)


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_resumed_study_decides_as_one_run_straight_through(kind: str, tmp_path) -> None:
    curves = synthetic_table(n=30, seed=1)
    straight = optuna.create_study(direction="maximize", pruner=LCMPruner(12))
    straight.optimize(replaying(curves), n_trials=30)
    storage = _storage(kind, tmp_path)
    first = optuna.create_study(
        study_name="s", storage=storage, direction="maximize", pruner=LCMPruner(12)
    )
    first.optimize(replaying(curves), n_trials=12)
    del first  # a new process would start here: a new study object, a new pruner
    resumed = optuna.load_study(study_name="s", storage=storage, pruner=LCMPruner(12))
    resumed.optimize(replaying(curves), n_trials=18)
    assert outcome(resumed) == outcome(straight)
    assert [t.user_attrs for t in resumed.trials] == [t.user_attrs for t in straight.trials]
    assert any(outcome(straight).values())


@pytest.mark.parametrize(
    ("name", "metric"),
    [
        ("lcm", "val_accuracy"),
        ("lcm", "val_loss"),
        ("lcm-k1", "val_accuracy"),
        ("matched-halving", "val_accuracy"),
    ],
)
def test_same_stops_as_curvetune_on_a_synthetic_table(name: str, metric: str) -> None:
    accuracy = synthetic_table(n=40, steps=12, seed=2)
    loss = 1.0 - accuracy + 0.05 * np.sin(np.arange(12))  # crossing, not a mirror image
    table = CurveTable("synthetic", {"val_accuracy": accuracy, "val_loss": loss}, np.ones((40, 12)))
    run = simulate(table, make_scheduler(name), order=range(40), workers=1, metric=metric)
    expected = {
        t.id: t.step if t.state is TrialState.STOPPED else None for t in run.history.trials.values()
    }
    pruner = MatchedHalvingPruner(12) if name == "matched-halving" else LCMPruner(12, preset=name)
    direction = "maximize" if metric == "val_accuracy" else "minimize"
    study = optuna.create_study(direction=direction, pruner=pruner)
    study.optimize(replaying(table.curves[metric]), n_trials=40)
    assert outcome(study) == expected
    assert 5 < sum(s is not None for s in expected.values()) < 35  # some stopped, some kept


# ----------------------------------------------------------------------------- the extra


def test_without_optuna_the_error_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)  # "import optuna" now fails
    for name in ("curvetune.integrations", "curvetune.integrations.optuna"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.delitem(sys.modules, "curvetune.integrations._optuna_history", raising=False)
    importlib.import_module("curvetune.integrations")  # the package itself needs nothing
    with pytest.raises(MissingExtraError, match=r"pip install 'curvetune\[optuna\]'"):
        importlib.import_module("curvetune.integrations.optuna")


def test_a_loop_reporting_every_other_epoch_stops_as_under_ask_tell() -> None:
    """Both drivers close a segment at a check step between two reports (3, 9: nothing to
    judge there) and judge at a reported one (6); the Optuna mirror holds a pruned trial at
    its stop step, as curvetune's history does. So the stops agree, report rhythm and all."""
    from curvetune import Float, Study

    curves = synthetic_table(n=40, steps=12, seed=3)
    every = 2
    lcm = {"min_complete": 4, "checks": [3, 6, 9], "points": [2, 4, 6, 8]}
    study = optuna.create_study(direction="maximize", pruner=LCMPruner(12, first_step=1, **lcm))

    def objective(trial) -> float:
        curve = curves[trial.number]
        for epoch in range(every, 13, every):
            trial.report(float(curve[epoch - 1]), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(curve[-1])

    study.optimize(objective, n_trials=len(curves))
    optuna_stops = {
        t.number: t.user_attrs[USER_ATTR]["curvetune_step"]
        for t in study.trials
        if t.state is Pruned
    }

    asked = Study.create(space={"x": Float(0, 1)}, metric="value", max_steps=12,
                         scheduler=LCMScheduler(**lcm))  # fmt: skip
    for _ in range(len(curves)):
        trial = asked.ask()
        for epoch in range(every, 13, every):
            trial.report(epoch, value=float(curves[trial.id][epoch - 1]))
            if trial.should_stop():
                break
        asked.tell(trial)
    curvetune_stops = {t.id: t.step for t in asked.trials if t.state is TrialState.STOPPED}
    assert optuna_stops and optuna_stops == curvetune_stops
    assert len(optuna_stops) >= 5 and set(optuna_stops.values()) == {6}
