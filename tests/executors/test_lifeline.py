"""A controller killed with ``kill -9`` takes its workers with it, on every executor that
starts its own workers (local, a Dask LocalCluster, spawned MPI ranks); and the next run
removes what the killed one left in /dev/shm."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from conftest import require, require_module

from curvetune.executors import lifeline
from curvetune.executors.local import LocalExecutor, notes_directory

# Each segment is long and sleeps in small pieces, as a training loop does between batches.
OBJECTIVE = """
import os
import time
from pathlib import Path


def train(config, ctx):
    Path(config["marker_dir"], str(os.getpid())).touch()
    for step in range(ctx.start + 1, ctx.until + 1):
        time.sleep(0.1)
        ctx.report(step, accuracy=1.0 - 1.0 / (step + 1))
"""

STUDY = """
[study]
objective = "lifeline_objective:train"
metric = "accuracy"
directory = "{directory}"

[budget]
trials = 4
steps = 1000

[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}

[fixed]
marker_dir = "{markers}"

[executor]
name = "{executor}"
workers = 2
"""

GONE_SECONDS = 10


def _linux() -> None:
    require(Path("/proc/self/stat").exists(), "needs Linux's /proc")


def _stat(pid: int) -> tuple[int, str, str] | None:
    """(parent, state, start time) of a process, None if there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[0], fields[19]


def _descendants(root: int) -> dict[int, str]:
    """Every process below ``root``, with its start time (to tell it from a reused id)."""
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            children.setdefault(stat[0], []).append((int(entry.name), stat[2]))
    found: dict[int, str] = {}
    todo = [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            found[pid] = start
            todo.append(pid)
    return found


def _running(pid: int, start: str) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[2] == start and stat[1] not in "ZX"


def _wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _kill_controller_and_check_workers_end(tmp_path: Path, executor: str) -> None:
    (tmp_path / "lifeline_objective.py").write_text(OBJECTIVE)
    markers = tmp_path / "markers"
    markers.mkdir()
    path = tmp_path / "study.toml"
    directory = tmp_path / "runs" / "s"
    path.write_text(STUDY.format(directory=directory, markers=markers, executor=executor))
    python_bin = str(Path(sys.executable).parent)  # where the mpich wheel puts mpiexec
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
        "PATH": os.pathsep.join([python_bin, os.environ.get("PATH", "")]),
    }
    command = [sys.executable, "-m", "curvetune", "run", str(path), "--quiet"]
    # A session of its own, as a shell's job would have: mpich's mpiexec ends the process
    # group of a singleton that died, which would otherwise be pytest's.
    controller = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, start_new_session=True
    )
    started: dict[int, str] = {}
    try:
        busy = _wait_until(lambda: len(list(markers.iterdir())) >= 2, timeout=60)
        assert busy, f"no two workers started: {sorted(p.name for p in markers.iterdir())}"
        started = _descendants(controller.pid)
        workers = {int(p.name) for p in markers.iterdir()}
        assert workers <= started.keys(), (workers, started)
        semaphores = list(Path("/dev/shm").glob(f"sem.loky-{controller.pid}-*"))
        assert semaphores or executor != "local"
        os.kill(controller.pid, signal.SIGKILL)
        controller.wait(timeout=10)
        killed_at = time.monotonic()
        gone = _wait_until(
            lambda: not any(_running(p, s) for p, s in started.items()), GONE_SECONDS
        )
        left = {p: Path(f"/proc/{p}/cmdline").read_bytes()[:120] for p in _alive(started)}
        assert gone, f"still running {GONE_SECONDS} s after the controller died: {left}"
        print(f"{executor}: every process ended {time.monotonic() - killed_at:.1f} s after")
        # loky's resource tracker unlinks its semaphores once the last worker has ended.
        assert _wait_until(lambda: not any(p.exists() for p in semaphores), 5), semaphores
    finally:
        if controller.poll() is None:
            controller.kill()
            controller.wait()
        for pid in _alive(started):  # only what this test started
            os.kill(pid, signal.SIGKILL)
        # A process that ends without MPI_Finalize leaves its mpich segment behind.
        Path(f"/dev/shm/mpich_shm_{controller.pid:x}_0").unlink(missing_ok=True)


def _alive(processes: dict[int, str]) -> list[int]:
    found = []
    for pid, start in processes.items():
        if _running(pid, start):
            found.append(pid)
    return found


@pytest.mark.slow
def test_local_workers_end_with_their_killed_controller(tmp_path):
    _linux()
    _kill_controller_and_check_workers_end(tmp_path, "local")


@pytest.mark.slow
@pytest.mark.dask
def test_dask_workers_end_with_their_killed_controller(tmp_path):
    """The LocalCluster's nannies run in the controller; distributed ends each worker
    process when its pipe to the nanny closes."""
    _linux()
    require_module("distributed")
    _kill_controller_and_check_workers_end(tmp_path, "dask")


@pytest.mark.slow
@pytest.mark.mpi
def test_spawned_mpi_ranks_end_with_their_killed_controller(tmp_path):
    _linux()
    require_module("mpi4py")
    _kill_controller_and_check_workers_end(tmp_path, "mpi")


def test_lifeline_tells_a_live_controller_from_a_dead_or_reused_one():
    _linux()
    me = lifeline.controller_token()
    pid, start, host = me.split(":", 2)
    assert pid == str(os.getpid()) and start and host
    assert lifeline.alive(me)
    assert not lifeline.alive(f"{pid}:{int(start) + 1}:{host}")  # the same id, reused
    zombie = subprocess.Popen(["true"])
    token = lifeline.controller_token(zombie.pid)
    assert _wait_until(lambda: not lifeline.alive(token), 5)  # exited, not yet reaped
    zombie.wait()
    assert not lifeline.alive(token)
    assert not lifeline.alive(f"{zombie.pid}::{host}")  # no start time: the id alone


def test_a_worker_ends_soon_after_its_controller(tmp_path):
    _linux()
    controller = subprocess.Popen(["sleep", "60"])
    token = lifeline.controller_token(controller.pid)
    watch = f"from curvetune.executors import lifeline; lifeline.watch({token!r}, interval=0.1)"
    worker = subprocess.Popen(
        [sys.executable, "-c", f"{watch}; import time; time.sleep(60)"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        assert worker.poll() is None  # the controller lives: the worker goes on
        controller.kill()
        controller.wait()
        assert worker.wait(timeout=5) == lifeline.EXIT_STATUS
        assert f"controller {controller.pid} is gone" in worker.stderr.read()
    finally:
        for process in (controller, worker):
            if process.poll() is None:
                process.kill()
                process.wait()


def test_a_watch_for_a_controller_on_another_host_does_nothing():
    assert lifeline.watch("1:1:not-this-host.invalid") is None


def test_a_new_local_executor_removes_what_a_killed_controller_left():
    _linux()
    directory = notes_directory()
    dead = subprocess.Popen(["true"])
    dead.wait()  # a process id that no longer runs
    me, start = os.getpid(), _stat(os.getpid())[2]
    tag = uuid.uuid4().hex[:8]
    stale = [
        directory / f"curvetune-pids-{dead.pid}.123-{tag}",
        directory / f"curvetune-pids-{me}.{int(start) + 1}-{tag}",  # our id, reused
    ]
    kept = [
        directory / f"curvetune-pids-{me}.{start}-{tag}",  # a live controller's
        directory / f"sem.loky-{dead.pid}-{tag}",  # loky's tracker's to remove
        directory / f"sem.loky-{me}-{tag}",
        directory / f"curvetune-pidsfoo-{dead.pid}.1-{tag}",  # not a name of ours
    ]
    for path in stale + kept:
        if path.name.startswith("sem."):
            path.write_bytes(b"")
        else:
            path.mkdir()
            (path / "4242").write_text("7")
    try:
        executor = LocalExecutor(workers=1)
        try:
            assert executor._pid_dir.name.startswith(f"curvetune-pids-{me}.{start}-")
        finally:
            executor.shutdown()
        assert [p for p in stale if p.exists()] == []
        assert [p for p in kept if not p.exists()] == []
    finally:
        for path in stale + kept:
            if path.is_dir():
                for note in path.iterdir():
                    note.unlink()
                path.rmdir()
            elif path.exists():
                path.unlink()
