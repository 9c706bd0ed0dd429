"""Fault tolerance on every executor that can survive a fault: a worker killed mid-segment,
a segment that hangs past ``segment_timeout``. Nothing finished is lost, no step is run
twice into the record, every trial is accounted for."""

import pytest
from conftest import require_module

from curvetune.events import SegmentLost
from curvetune.space import Float
from curvetune.study import Study
from curvetune.types import TrialState

pytestmark = pytest.mark.slow

EXECUTORS = ["local", pytest.param("dask", marks=pytest.mark.dask)]


def _study(tmp_path, objective: str) -> Study:
    return Study.create(
        objective=f"curvetune.testing:{objective}",
        space={"x": Float(0.0, 1.0)},
        metric="accuracy",
        max_steps=3,
        fixed={"marker_dir": str(tmp_path / "markers")},
        directory=tmp_path / "s",
    )


def _check_every_trial_completed_once(study: Study, trials: int) -> list[SegmentLost]:
    history = study.history
    assert len(history) == trials
    for trial in history.trials.values():
        assert trial.state is TrialState.COMPLETED, (trial.id, trial.state, trial.reason)
        assert [r.step for r in trial.reports] == [1, 2, 3]  # no step lost or repeated
    return [e for e in study.store.events() if isinstance(e, SegmentLost)]


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_killed_worker_costs_a_retry_and_nothing_else(tmp_path, executor):
    if executor == "dask":
        require_module("distributed")
    study = _study(tmp_path, "dies_once")
    study.optimize(trials=4, executor=executor, workers=2)
    lost = _check_every_trial_completed_once(study, 4)
    assert len(lost) >= 1  # one death may take several segments with it (loky)
    assert all("Terminated" in e.error or "KilledWorker" in e.error for e in lost)
    assert len(list((tmp_path / "markers").iterdir())) == 4  # every trial did die once


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_hung_segment_is_stopped_and_retried(tmp_path, executor):
    if executor == "dask":
        require_module("distributed")
    study = _study(tmp_path, "hangs_once")
    # The timeout leaves room for a fresh pool's start-up on a loaded machine.
    study.optimize(trials=3, executor=executor, workers=2, segment_timeout=6)
    lost = _check_every_trial_completed_once(study, 3)
    assert any("segment_timeout" in e.error for e in lost)
    assert len(list((tmp_path / "markers").iterdir())) == 3  # every trial did hang once
