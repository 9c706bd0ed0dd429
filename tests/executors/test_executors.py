"""Choosing an executor: names, clear errors, and whole studies on MPI and Dask."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import error_of, mpiexec, require_module, write_study

from curvetune.executors import make_executor
from curvetune.executors._optional import MissingExtraError, require
from curvetune.study import Study
from curvetune.types import TrialState


def test_bad_executor_settings_are_refused_with_what_is_allowed():
    with pytest.raises(ValueError, match="allowed: local, sequential, mpi, dask"):
        make_executor("ray")
    with pytest.raises(ValueError, match="address is for the dask executor"):
        make_executor("local", address="tcp://somewhere:8786")
    with pytest.raises(ValueError, match="workers must be a whole number"):
        make_executor("local", workers=0)


def test_a_missing_engine_names_the_extra_to_install():
    with pytest.raises(MissingExtraError, match=r"pip install 'curvetune\[mpi\]'"):
        require("no_such_mpi_module", extra="mpi", what="the mpi executor")


def test_cli_refuses_bad_executor_settings_in_one_line(tmp_path, capsys):
    path, _ = write_study(tmp_path)
    assert "allowed: local" in error_of(["run", str(path), "--executor", "ray"], capsys)
    assert "for the dask executor" in error_of(
        ["run", str(path), "--address", "tcp://h:8786"], capsys
    )
    path.write_text(path.read_text() + "segment_timeout = -1\n")
    assert "segment_timeout must be > 0" in error_of(["run", str(path)], capsys)


def _run_cli(command: list[str], directory, env=None) -> Study:
    subprocess.run(command, check=True, timeout=180, capture_output=True, env=env)
    study = Study.load(directory)
    assert len(study.history) == 4
    assert all(t.state is TrialState.COMPLETED for t in study.history.trials.values())
    return study


@pytest.mark.mpi
@pytest.mark.slow
def test_a_study_under_mpiexec_runs_to_the_end(tmp_path):
    require_module("mpi4py")
    path, directory = write_study(tmp_path, executor="mpi")
    run = [sys.executable, "-m", "curvetune", "run", str(path), "--quiet"]
    _run_cli([mpiexec(), "-n", "3", *run], directory).close()


@pytest.mark.mpi
@pytest.mark.slow
def test_without_mpiexec_the_mpi_executor_spawns_its_ranks(tmp_path):
    require_module("mpi4py")
    path, directory = write_study(tmp_path, executor="local")
    run = [sys.executable, "-m", "curvetune", "run", str(path), "--quiet", "--executor", "mpi"]
    # mpich spawns through the mpiexec on PATH: the one beside this Python, as in a venv.
    path_with_mpiexec = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    _run_cli(run, directory, env={**os.environ, "PATH": path_with_mpiexec}).close()


def _path_without_mpiexec() -> str:
    return os.pathsep.join(
        d for d in os.environ.get("PATH", "").split(os.pathsep) if not Path(d, "mpiexec").exists()
    )


def _run_without_ranks(tmp_path, path_dirs: list[str], **env) -> subprocess.CompletedProcess:
    """A spawned-MPI study that cannot get its ranks; returns the finished CLI run."""
    path, _ = write_study(tmp_path, executor="mpi")
    env = {**os.environ, **env, "PATH": os.pathsep.join([*path_dirs, _path_without_mpiexec()])}
    run = [sys.executable, "-m", "curvetune", "run", str(path), "--quiet"]
    started = time.monotonic()
    with subprocess.Popen(run, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as cli:
        try:
            out, err = cli.communicate(timeout=30)
        finally:
            cli.kill()
            # A process that ends without MPI_Finalize leaves its mpich segment behind.
            Path(f"/dev/shm/mpich_shm_{cli.pid:x}_0").unlink(missing_ok=True)
    done = subprocess.CompletedProcess(run, cli.returncode, out.decode(), err.decode())
    assert time.monotonic() - started < 20
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done


@pytest.mark.mpi
def test_spawning_ranks_without_mpiexec_on_path_is_one_line_not_a_hang(tmp_path):
    """mpich spawns through mpiexec from PATH; without one it used to abort and hang."""
    require_module("mpi4py")
    done = _run_without_ranks(tmp_path, [])
    assert "cannot spawn ranks: no mpiexec on PATH" in done.stderr
    assert str(Path(sys.executable).parent) in done.stderr


@pytest.mark.mpi
@pytest.mark.slow
def test_a_spawn_that_never_answers_is_one_line_not_a_hang(tmp_path):
    """An mpiexec that exits at once leaves mpich's singleton waiting for it forever."""
    require_module("mpi4py")
    fake = tmp_path / "bin" / "mpiexec"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    done = _run_without_ranks(tmp_path, [str(fake.parent)], CURVETUNE_MPI_SPAWN_TIMEOUT="2")
    assert "spawning 2 ranks did not finish in 2 s" in done.stderr


@pytest.mark.dask
@pytest.mark.slow
def test_a_study_on_a_local_dask_cluster_runs_to_the_end(tmp_path):
    require_module("distributed")
    path, directory = write_study(tmp_path, executor="dask")
    _run_cli([sys.executable, "-m", "curvetune", "run", str(path), "--quiet"], directory).close()


@pytest.mark.dask
@pytest.mark.slow
def test_a_study_joins_a_running_dask_scheduler(tmp_path):
    require_module("distributed")
    from distributed import LocalCluster

    path, directory = write_study(tmp_path, executor="dask")
    loopback = {"dashboard_address": "127.0.0.1:0"}
    with LocalCluster(n_workers=2, threads_per_worker=1, **loopback) as cluster:
        run = [sys.executable, "-m", "curvetune", "run", str(path), "--quiet"]
        _run_cli([*run, "--address", cluster.scheduler_address], directory).close()


def test_every_example_study_file_is_valid():
    from pathlib import Path

    from curvetune.config import load_study_file

    examples = sorted((Path(__file__).parents[2] / "examples").glob("*.toml"))
    assert len(examples) >= 5
    for path in examples:
        load_study_file(path)


@pytest.mark.mpi
@pytest.mark.slow
def test_a_hung_segment_on_mpi_is_retried_on_another_rank(tmp_path):
    """MPI cannot stop a rank's task: the segment is retried elsewhere, the study completes,
    and the job then ends with MPI_Abort (saying why) instead of waiting on the stuck rank."""
    require_module("mpi4py")
    path, directory = write_study(tmp_path, trials=2, executor="mpi")
    text = path.read_text().replace("synthetic", "hangs_once")
    text = text.replace("[fixed]\n", f'[fixed]\nmarker_dir = "{tmp_path / "m"}"\n')
    path.write_text(text + "segment_timeout = 3\n")
    run = [mpiexec(), "-n", "4", sys.executable, "-m", "curvetune", "run", str(path), "--quiet"]
    done = subprocess.run(run, timeout=120, capture_output=True, text=True)
    # 3 is curvetune's MPI_Abort code; mpiexec sometimes loses the aborted job's stderr,
    # so the line saying why is checked whenever it arrived.
    assert done.returncode == 3, (done.returncode, done.stderr)
    assert not done.stderr or "MPI_Abort" in done.stderr
    study = Study.load(directory)
    assert all(t.state is TrialState.COMPLETED for t in study.history.trials.values())
    assert len(study.history) == 2 and len(list((tmp_path / "m").iterdir())) == 2
    study.close()


def _batched_study(tmp_path, over: str):
    """The CLI's small study on the batched executor over ``over``, batches of two."""
    path, directory = write_study(tmp_path, executor="batched")
    text = path.read_text().replace("testing:synthetic", "testing:batched_synthetic")
    path.write_text(text + f'over = "{over}"\nbatch = 2\n')
    return path, directory


@pytest.mark.dask
@pytest.mark.slow
def test_batches_run_on_dask_workers(tmp_path):
    require_module("distributed")
    path, directory = _batched_study(tmp_path, "dask")
    study = _run_cli([sys.executable, "-m", "curvetune", "run", str(path), "--quiet"], directory)
    assert _batch_sizes(study) == {2}
    study.close()


@pytest.mark.mpi
@pytest.mark.slow
def test_batches_run_on_mpi_ranks(tmp_path):
    require_module("mpi4py")
    path, directory = _batched_study(tmp_path, "mpi")
    run = [sys.executable, "-m", "curvetune", "run", str(path), "--quiet"]
    study = _run_cli([mpiexec(), "-n", "3", *run], directory)
    assert _batch_sizes(study) == {2}
    study.close()


def _batch_sizes(study) -> set[int]:
    """The sizes of the batches every trial's last checkpoint says it was trained in."""
    import json

    steps = study.spec.max_steps
    states = [
        json.loads((study.checkpoints.dir_for(t, steps) / "state.json").read_text())
        for t in study.history.trials
    ]
    return {size for state in states for size in state["batches"]}
