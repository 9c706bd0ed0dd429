"""The batched executor: segments grouped into one call, one ordinary Future each, and the
controller, schedulers and store none the wiser."""

import json
from concurrent.futures import BrokenExecutor, Future

import pytest
from conftest import error_of, write_study

from curvetune.batching import pick_device, run_batch
from curvetune.executors import Batching, make_executor
from curvetune.executors.batched import BatchedExecutor, BatchLost
from curvetune.executors.sequential import SequentialExecutor
from curvetune.schedulers import PBTScheduler
from curvetune.space import Float
from curvetune.study import Study
from curvetune.testing import batched_synthetic
from curvetune.types import TrialState
from curvetune.worker import SegmentContext, run_segment

BATCHED = "curvetune.testing:batched_synthetic"


def _study(directory, objective=BATCHED, fixed=None, max_steps=4):
    return Study.create(
        objective=objective,
        space={"x": Float(0.0, 1.0)},
        metric="accuracy",
        mode="max",
        max_steps=max_steps,
        seed=3,
        fixed=fixed or {},
        directory=directory,
    )


def _facts(study):
    return [
        (t.id, dict(t.config), t.state, t.step, study.history.score(t))
        for t in study.history.trials.values()
    ]


def _batches(study, trial_id, step):
    state = json.loads((study.checkpoints.dir_for(trial_id, step) / "state.json").read_text())
    return state["batches"]


def _batched(batch=8):
    """Over the sequential executor, with no linger timer to split a group (the controller's
    idle() sends what is held back)."""
    return BatchedExecutor(SequentialExecutor(), batch=batch, device="cpu", linger=3600)


def test_a_pbt_generation_trains_as_one_batch_and_decides_as_one_by_one(tmp_path):
    def run(directory, executor):
        study = _study(directory, max_steps=6)
        study.optimize(
            trials=8,
            scheduler=PBTScheduler(interval=2, population=8),
            executor=executor,
            progress=False,
        )
        return study

    alone = run(tmp_path / "alone", "sequential")
    pool = _batched(batch=8)
    together = run(tmp_path / "together", pool)
    assert _facts(together) == _facts(alone)
    assert pool.batches == 3  # three generations of eight, one call each
    assert all(_batches(together, t, 6) == [8, 8, 8] for t in together.history.trials)
    assert _batches(alone, 0, 6) == [1, 1, 1]


def test_fifo_trials_get_the_values_they_get_alone_in_fewer_calls(tmp_path):
    alone = _study(tmp_path / "alone")
    alone.optimize(trials=10, scheduler="fifo", executor="sequential", progress=False)
    pool = _batched(batch=4)
    together = _study(tmp_path / "together")
    together.optimize(trials=10, scheduler="fifo", executor=pool, progress=False)
    assert _facts(together) == _facts(alone)
    assert pool.batches == 3 * 4  # 4 + 4 + 2 trials, a one-step segment at a time


def test_a_diverging_member_ends_alone_and_spoils_no_other(tmp_path):
    fixed = {"nan_above": 0.5}
    alone = _study(tmp_path / "alone", fixed=fixed)
    alone.optimize(trials=8, scheduler="fifo", executor="sequential", progress=False)
    together = _study(tmp_path / "together", fixed=fixed)
    together.optimize(trials=8, scheduler="fifo", executor=_batched(), progress=False)
    assert _facts(together) == _facts(alone)
    states = {t.state for t in together.history.trials.values()}
    assert states == {TrialState.COMPLETED, TrialState.DIVERGED}


def test_stopped_members_leave_the_batch_at_the_next_segment(tmp_path):
    study = _study(tmp_path / "s", max_steps=9)
    study.optimize(trials=8, scheduler="asha", executor=_batched(), progress=False)
    finished = [t for t in study.history.trials.values() if t.state is TrialState.COMPLETED]
    stopped = [t for t in study.history.trials.values() if t.state is TrialState.STOPPED]
    assert finished and stopped
    last = max(finished, key=lambda t: t.id)
    assert _batches(study, last.id, 9)[-1] < 8  # the stopped ones were no longer in it


def test_an_objective_without_a_batched_entry_passes_straight_through(tmp_path):
    pool = _batched()
    study = _study(tmp_path / "s", objective="curvetune.testing:synthetic")
    study.optimize(trials=3, scheduler="fifo", executor=pool, progress=False)
    assert pool.batches == 0
    assert all(t.state is TrialState.COMPLETED for t in study.history.trials.values())


def test_held_back_segments_go_within_linger_without_an_idle_call(tmp_path):
    pool = BatchedExecutor(SequentialExecutor(), batch=8, device="cpu", linger=0.05)
    ctx = [SegmentContext(i, i, 0, 2, None, None) for i in range(3)]
    futures = [
        pool.submit(run_segment, batched_synthetic, {"x": 0.1 * i}, c) for i, c in enumerate(ctx)
    ]
    results = [f.result(timeout=5) for f in futures]
    assert [r.trial_id for r in results] == [0, 1, 2]
    assert pool.batches == 1
    pool.shutdown()


class _Recording(SequentialExecutor):
    """Runs what it is given at once, records it, and fails ``run_batch`` calls while
    ``lose_batches`` (each with its own ``OSError``, as a dying worker would)."""

    def __init__(self, lose_batches: bool = False) -> None:
        self.lose_batches = lose_batches
        self.calls: list[str] = []
        self.abandoned: list[Future] = []

    def submit(self, fn, /, *args):
        self.calls.append(fn.__name__)
        if fn is run_batch and self.lose_batches:
            return super().submit(_raise, OSError("worker died"))
        return super().submit(fn, *args)

    def abandon(self, future):
        self.abandoned.append(future)


def _raise(error):
    raise error


def _segment(pool, trial_id, **config):
    ctx = SegmentContext(trial_id, trial_id, 0, 1, None, None)
    return pool.submit(run_segment, batched_synthetic, config, ctx)


def test_a_lost_batch_is_one_shared_loss_and_its_members_retry_alone():
    inner = _Recording(lose_batches=True)
    pool = BatchedExecutor(inner, batch=2, device="cpu", linger=3600)
    lost = [_segment(pool, i) for i in range(2)]  # the second fills the batch: it goes
    errors = [f.exception(timeout=5) for f in lost]
    assert all(isinstance(e, BatchLost) for e in errors) and errors[0] is errors[1]
    assert isinstance(errors[0], BrokenExecutor)  # the controller's ledger shares it
    assert isinstance(errors[0].__cause__, OSError)
    inner.lose_batches = False
    retries = [_segment(pool, i) for i in range(2)]  # each on its own, at once
    assert [f.result(timeout=5).status for f in retries] == ["ok", "ok"]
    again = [_segment(pool, i) for i in range(2)]  # after that, batched again
    assert [f.result(timeout=5).status for f in again] == ["ok", "ok"]
    assert inner.calls == ["run_batch", "run_segment", "run_segment", "run_batch"]


def test_a_hung_batch_is_abandoned_whole_and_its_members_retry_alone():
    inner = _Recording()
    pool = BatchedExecutor(inner, batch=2, device="cpu", linger=3600)
    inner.submit = lambda fn, /, *args: Future()  # the batch never ends
    futures = [_segment(pool, i) for i in range(2)]
    pool.abandon(futures[1])
    assert len(inner.abandoned) == 1  # the one batch both members run in
    del inner.submit
    assert [_segment(pool, i).result(timeout=5).status for i in range(2)] == ["ok", "ok"]
    assert inner.calls == ["run_segment", "run_segment"]


def test_held_back_segments_that_are_cancelled_never_train():
    inner = _Recording()
    pool = BatchedExecutor(inner, batch=4, device="cpu", linger=3600)
    kept, cancelled = _segment(pool, 0), _segment(pool, 1)
    assert cancelled.cancel()
    pool.idle()
    assert kept.result(timeout=5).status == "ok" and cancelled.cancelled()
    assert pool.batches == 1
    waiting = _segment(pool, 2)
    pool.shutdown()  # what is still held back is cancelled, nothing more runs
    assert waiting.cancelled() and inner.calls == ["run_batch"]


def test_an_engine_that_refuses_a_batch_fails_its_members_with_why():
    class Refusing(SequentialExecutor):
        def submit(self, fn, /, *args):
            raise RuntimeError("cannot schedule new futures after shutdown")

    pool = BatchedExecutor(Refusing(), batch=2, device="cpu", linger=3600)
    futures = [_segment(pool, i) for i in range(2)]
    assert all("after shutdown" in str(f.exception(timeout=5)) for f in futures)


def test_a_config_whose_key_cannot_be_made_runs_alone_and_fails_there():
    class Picky(type(batched_synthetic)):
        def batch_key(self, config):
            raise ValueError("no such shape")

    inner = _Recording()
    pool = BatchedExecutor(inner, batch=2, device="cpu", linger=3600)
    ctx = SegmentContext(0, 0, 0, 1, None, None)
    assert pool.submit(run_segment, Picky(), {}, ctx).result(timeout=5).status == "ok"
    assert inner.calls == ["run_segment"]


def test_a_batch_that_raises_trains_its_members_again_alone():
    contexts = [SegmentContext(i, i, 0, 2, None, None) for i in range(3)]
    configs = [{"x": 0.1}, {"x": 0.9, "fail_above": 0.5}, {"x": 0.2}]
    results = run_batch(batched_synthetic, configs, contexts, "cpu")
    assert [r.status for r in results] == ["ok", "error", "ok"]  # only the one at fault
    assert "fail_above" in results[1].error
    assert [len(r.reports) for r in results] == [2, 0, 2]  # nothing counted twice


def test_a_local_pool_of_batches_runs_a_study_to_the_end(tmp_path):
    pool = make_executor("batched", workers=2, batching=Batching(batch=4, device="cpu"))
    try:
        study = _study(tmp_path / "s")
        study.optimize(trials=8, scheduler="fifo", executor=pool, progress=False)
    finally:
        pool.shutdown()
    assert all(t.state is TrialState.COMPLETED for t in study.history.trials.values())
    assert pool.batches <= 16  # 32 segments, at least two a call


def test_devices_resolve_in_the_worker_and_bad_settings_are_one_line():
    assert pick_device("auto", 3) in ("cpu", "cuda:0", "cuda:1", "cuda:2", "cuda:3")
    assert pick_device("cuda:1", 0) == "cuda:1"
    with pytest.raises(ValueError, match="device must be auto, cpu, cuda or cuda:N"):
        make_executor("batched", batching=Batching(device="gpu"))
    with pytest.raises(ValueError, match="batch must be a whole number"):
        make_executor("batched", batching=Batching(batch=0))
    with pytest.raises(ValueError, match="over must be one of"):
        make_executor("batched", batching=Batching(over="ray"))
    with pytest.raises(ValueError, match="for the batched executor, not 'local'"):
        make_executor("local", batching=Batching(batch=4))


def test_study_files_and_the_cli_take_the_batched_settings(tmp_path, capsys):
    path, directory = write_study(tmp_path, executor="batched", extra="batch = 0\n")
    assert "[executor] executor: batch must be" in error_of(["run", str(path)], capsys)
    path, directory = write_study(tmp_path, executor="sequential")
    assert "for the batched executor" in error_of(["run", str(path), "--batch", "4"], capsys)
    text = path.read_text().replace("curvetune.testing:synthetic", BATCHED)
    path.write_text(text.replace('name = "sequential"', 'name = "batched"\nover = "sequential"'))
    from curvetune.cli import main

    assert main(["run", str(path), "--quiet", "--batch", "2", "--device", "cpu"]) == 0
    study = Study.load(directory)
    assert all(t.state is TrialState.COMPLETED for t in study.history.trials.values())
    assert _batches(study, 0, study.spec.max_steps)[-1] == 2
    study.close()


def test_each_worker_keeps_the_gpu_its_first_batch_was_given(monkeypatch):
    import torch

    from curvetune.batching import DeviceChoice

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    first, second = DeviceChoice(), DeviceChoice()  # two worker processes
    assert [first.pick("auto", 0), second.pick("auto", 1)] == ["cuda:0", "cuda:1"]
    assert [first.pick("auto", 1), second.pick("cuda", 0)] == ["cuda:0", "cuda:1"]
    assert first.pick("cuda:1", 0) == "cuda:1" and first.pick("cpu", 1) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert DeviceChoice().pick("auto", 3) == "cpu"
    with pytest.raises(ValueError, match="sees no CUDA device"):
        DeviceChoice().pick("cuda", 0)


def test_the_command_line_can_run_a_batched_study_file_unbatched(tmp_path):
    from curvetune.cli import main

    path, directory = write_study(tmp_path, executor="batched", extra="batch = 2\n")
    assert main(["run", str(path), "--quiet", "--executor", "sequential"]) == 0
    study = Study.load(directory)
    assert all(t.state is TrialState.COMPLETED for t in study.history.trials.values())
    study.close()
