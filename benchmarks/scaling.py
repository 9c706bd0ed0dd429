"""Parallel efficiency of the executors, with Ray Tune and Optuna as reference rows.

Run it from the repository root (``PYTHONPATH=src`` if curvetune is not installed)::

    python benchmarks/scaling.py                 # everything (~15-25 min on 2 cores)
    python benchmarks/scaling.py --quick         # 1, 4 workers, 0.1 s only; prints only
    python benchmarks/scaling.py --engines local,mpi --workers 1,32

Every row is the same sleeping study: ``W`` trials of ``K`` one-step segments, each
segment sleeping ``D`` seconds (``curvetune.testing:sleeper``), ``W`` workers, so the ideal
wall time is ``K * D``. Sleeping workers need no cores, so oversubscribing 2 cores with
32 workers measures the machinery, not the arithmetic. Per row:

- **efficiency** = ideal time / measured wall time of the study (``optimize``,
  ``Tuner.fit``, or first Optuna trial start to last trial end);
- **added per segment** = (wall - ideal) / K: what each step of a worker's sequence costs;
- **controller CPU per segment** = CPU seconds of the process that runs the controller,
  per segment (curvetune only; Dask's scheduler runs in that process too).

Engine start-up is not timed: each row starts its engine, runs a warm-up study of the
same shape with ``D = 0``, then times the real one. curvetune rows use an on-disk SQLite
store, as a real study does. Each row runs in a fresh process (under ``mpiexec -n W+1``
for MPI: rank 0 leads, W ranks work).

- ``local``: loky process pool. ``dask``: a ``LocalCluster`` of W single-thread worker
  processes. ``mpi``: ``mpi4py.futures`` with the mpich wheel; the MPI rows also report
  the CPU that the idle-polling worker ranks burn (``--backoff`` sets mpi4py's back-off
  ceiling; curvetune's default is 10 ms, mpi4py's own 1 ms).
- ``ray``: Ray Tune's function API, ``num_samples=W``, ``max_concurrent_trials=W``,
  ``ray.init(num_cpus=W)``, ``tune.report`` every step (``pip install "ray[tune]"``).
- ``optuna``: W processes sharing one SQLite storage, one trial each, ``trial.report``
  and ``should_prune`` every step (Optuna's documented way to parallelise).

Writes ``benchmarks/results/scaling.md`` (and ``scaling.json``) unless ``--quick``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import wait
from pathlib import Path

HERE = Path(__file__).resolve().parent
ENGINES = ("local", "mpi", "dask", "ray", "optuna")


def main() -> None:
    args = _parse()
    if args.one:
        engine, workers, seconds, steps = args.one
        row = ONE[engine](int(workers), float(seconds), int(steps), args.backoff)
        if row is not None:  # MPI: only rank 0 answers
            print("ROW " + json.dumps(row), flush=True)
        return
    rows = []
    for seconds in args.seconds:
        for engine in args.engines:
            for workers in args.workers:
                row = _measure(engine, workers, seconds, args.steps_for(seconds), args.backoff)
                rows.append(row)
                print(_line(row), flush=True)
    if "mpi" in args.engines:
        for backoff in args.backoff_compare:
            for engine, seconds in (("mpi", min(args.seconds)), ("mpi-idle", 3.0)):
                row = _measure(engine, max(args.workers), seconds, args.steps_for(seconds), backoff)
                rows.append(row)
                print(_line(row), flush=True)
    if not args.quick:
        out = HERE / "results" / "scaling.md"
        if args.merge and out.with_suffix(".json").exists():
            rows = _merged(json.loads(out.with_suffix(".json").read_text()), rows)
        out.write_text(_markdown(rows, args))
        out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
        print(f"wrote {out}")


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--workers", default="1,2,4,8,16,32")
    parser.add_argument("--seconds", default="1.0,0.1", help="segment lengths")
    parser.add_argument("--steps", type=int, default=0, help="segments per trial (default: 5 s)")
    parser.add_argument("--backoff", type=float, default=None, help="mpi4py back-off ceiling")
    parser.add_argument(
        "--backoff-compare", default="0.001,0.002,0.01", help="MPI back-offs to compare at max W"
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--merge", action="store_true", help="replace only these rows in the last results"
    )
    parser.add_argument("--one", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.workers, args.seconds, args.backoff_compare = "1,4", "0.1", ""
    args.engines = [e for e in args.engines.split(",") if e]
    unknown = set(args.engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}; allowed: {', '.join(ENGINES)}")
    args.workers = [int(w) for w in str(args.workers).split(",")]
    args.seconds = [float(s) for s in str(args.seconds).split(",")]
    args.backoff_compare = [float(b) for b in str(args.backoff_compare).split(",") if b]
    fixed_steps = args.steps
    args.steps_for = lambda seconds: fixed_steps or max(3, round(5.0 / seconds))
    return args


def _measure(engine: str, workers: int, seconds: float, steps: int, backoff) -> dict:
    """Run one row in a fresh process and read back its JSON line."""
    command = [sys.executable, __file__, "--one", engine, str(workers), str(seconds), str(steps)]
    if backoff is not None:
        command += ["--backoff", str(backoff)]
    if engine.startswith("mpi"):
        command = ["mpiexec", "-n", str(workers + 1), *command]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONWARNINGS": "ignore"}
    base = {"engine": engine, "workers": workers, "seconds": seconds, "steps": steps}
    if engine.startswith("mpi"):
        base["backoff"] = backoff if backoff is not None else 0.002
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    except subprocess.TimeoutExpired:
        return {**base, "error": "timed out after 900 s"}
    for line in done.stdout.splitlines():
        if line.startswith("ROW "):
            return {**base, **json.loads(line[4:])}
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    return {**base, "error": " | ".join(tail) or f"exit {done.returncode}"}


def _merged(old: list[dict], new: list[dict]) -> list[dict]:
    """The old rows with each row measured again replaced in place (new ones appended)."""

    def key(row: dict) -> tuple:
        return row["engine"], row["workers"], row["seconds"], row.get("backoff")

    fresh = {key(row): row for row in new}
    merged, seen = [], set()
    for row in old:
        if key(row) not in seen:  # an older duplicate of a key goes
            seen.add(key(row))
            merged.append(fresh.pop(key(row), row))
    return merged + list(fresh.values())


def _summary(wall: float, seconds: float, steps: int, workers: int, cpu: float | None) -> dict:
    ideal = seconds * steps
    row = {
        "wall": wall,
        "ideal": ideal,
        "efficiency": ideal / wall,
        "added_per_segment_ms": 1000 * (wall - ideal) / steps,
    }
    if cpu is not None:
        row["controller_cpu_per_segment_ms"] = 1000 * cpu / (workers * steps)
    return row


# ----------------------------------------------------------------------------- curvetune


def _curvetune(executor, workers: int, seconds: float, steps: int) -> dict:
    from curvetune.schedulers.fifo import FIFOScheduler
    from curvetune.space import Float
    from curvetune.study import Study

    def study(directory: Path, d: float) -> tuple[float, float]:
        created = Study.create(
            objective="curvetune.testing:sleeper",
            space={"x": Float(0.0, 1.0)},
            metric="loss",
            mode="min",
            max_steps=steps,
            fixed={"seconds": d},
            directory=directory,
        )
        cpu, start = time.process_time(), time.perf_counter()
        created.optimize(
            progress=False,
            trials=workers,
            searcher="random",
            scheduler=FIFOScheduler(segment=1),
            executor=executor,
        )
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert all(t.step == steps for t in created.history.trials.values())
        created.close()
        return wall, cpu

    with tempfile.TemporaryDirectory(dir=HERE) as tmp:
        study(Path(tmp) / "warm-up", 0.0)
        wall, cpu = study(Path(tmp) / "timed", seconds)
    return _summary(wall, seconds, steps, workers, cpu)


def _warm_pool(executor, workers: int) -> None:
    wait([executor.submit(time.sleep, 0.3) for _ in range(workers)])


def one_local(workers: int, seconds: float, steps: int, backoff) -> dict:
    from curvetune.executors import open_executor

    with open_executor("local", workers=workers) as executor:
        _warm_pool(executor, workers)
        return _curvetune(executor, workers, seconds, steps)


def one_dask(workers: int, seconds: float, steps: int, backoff) -> dict:
    from curvetune.executors import open_executor

    with open_executor("dask", workers=workers) as executor:
        return _curvetune(executor, workers, seconds, steps)


def one_mpi(workers: int, seconds: float, steps: int, backoff, idle: bool = False) -> dict | None:
    """A study on W ranks; or (``idle``) ranks left with nothing to do for ``seconds``, to
    see what their polling costs: the CPU share of the worker ranks is reported either way."""
    if backoff is not None:
        os.environ["MPI4PY_FUTURES_BACKOFF"] = str(backoff)
    from mpi4py import MPI

    from curvetune.executors import open_executor

    comm = MPI.COMM_WORLD
    row = None
    cpu, start = _cpu_seconds(), time.perf_counter()
    with open_executor("mpi") as executor:
        if executor is not None and idle:
            _warm_pool(executor, workers)
            time.sleep(seconds)
            row = {}
        elif executor is not None:
            row = _curvetune(executor, workers, seconds, steps)
    share = (_cpu_seconds() - cpu) / (time.perf_counter() - start)
    cpu_share = comm.gather(share, root=0)
    if row is not None:
        row["worker_rank_cpu_share"] = sum(cpu_share[1:]) / workers  # of a core, per rank
    return row


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ----------------------------------------------------------------------------- references


def one_ray(workers: int, seconds: float, steps: int, backoff) -> dict:
    import ray
    from ray import tune

    ray.init(num_cpus=workers, include_dashboard=False, logging_level="ERROR")

    def trainable(config):
        for step in range(config["steps"]):
            time.sleep(config["seconds"])
            tune.report({"loss": config["x"], "step": step})

    def fit(directory: str, d: float) -> float:
        tuner = tune.Tuner(
            trainable,
            param_space={"x": tune.uniform(0.0, 1.0), "seconds": d, "steps": steps},
            tune_config=tune.TuneConfig(num_samples=workers, max_concurrent_trials=workers),
            run_config=tune.RunConfig(storage_path=directory, verbose=0),
        )
        start = time.perf_counter()
        results = tuner.fit()
        wall = time.perf_counter() - start
        assert len(results) == workers and not results.errors
        return wall

    with tempfile.TemporaryDirectory(dir=HERE) as tmp:
        fit(tmp, 0.0)
        wall = fit(tmp, seconds)
    ray.shutdown()
    return _summary(wall, seconds, steps, workers, None)


def _optuna_worker(storage: str, name: str, seconds: float, steps: int, barrier, times) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name=name, storage=storage)

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        for step in range(steps):
            time.sleep(seconds)
            trial.report(x, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return x

    barrier.wait()
    start = time.time()
    study.optimize(objective, n_trials=1)
    times.put((start, time.time()))


def one_optuna(workers: int, seconds: float, steps: int, backoff) -> dict:
    import multiprocessing as mp

    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    context = mp.get_context("spawn")

    def run(directory: str, name: str, d: float) -> float:
        storage = f"sqlite:///{directory}/optuna.db"
        optuna.create_study(study_name=name, storage=storage, pruner=optuna.pruners.NopPruner())
        barrier, times = context.Barrier(workers), context.Queue()
        args = (storage, name, d, steps, barrier, times)
        procs = [context.Process(target=_optuna_worker, args=args) for _ in range(workers)]
        for proc in procs:
            proc.start()
        spans = [times.get(timeout=600) for _ in procs]
        for proc in procs:
            proc.join()
        return max(end for _, end in spans) - min(start for start, _ in spans)

    with tempfile.TemporaryDirectory(dir=HERE) as tmp:
        run(tmp, "warm-up", 0.0)
        wall = run(tmp, "timed", seconds)
    return _summary(wall, seconds, steps, workers, None)


ONE = {
    "local": one_local,
    "mpi": one_mpi,
    "mpi-idle": lambda w, d, k, backoff: one_mpi(w, d, k, backoff, idle=True),
    "dask": one_dask,
    "ray": one_ray,
    "optuna": one_optuna,
}


# ----------------------------------------------------------------------------- output


def _line(row: dict) -> str:
    head = f"{row['engine']:>7} W={row['workers']:>2} D={row['seconds']:<4}"
    if "error" in row:
        return f"{head} error: {row['error']}"
    if row["engine"] == "mpi-idle":
        share = row["worker_rank_cpu_share"]
        return f"{head} idle ranks: {share:.1%} of a core each (backoff {row['backoff']})"
    extra = f" backoff={row['backoff']}" if "backoff" in row else ""
    return (
        f"{head} wall {row['wall']:7.2f} s (ideal {row['ideal']:.1f}) "
        f"efficiency {row['efficiency']:6.1%}  +{row['added_per_segment_ms']:.1f} ms/segment"
        + extra
    )


def _markdown(rows: list[dict], args: argparse.Namespace) -> str:
    versions = _versions()
    lines = [
        "# Scaling: parallel efficiency of the executors",
        "",
        f"`python benchmarks/scaling.py` on {os.cpu_count()} cores, no GPU "
        f"({platform.platform()}, Python {platform.python_version()}; {versions}).",
        "Each row: W trials x K one-step segments sleeping D s on W workers; ideal time K x D.",
        "Engine start-up and a warm-up study are not timed. See the script's docstring.",
        "Controller CPU: the whole controller process over the timed study, per segment: for",
        "MPI and Dask it includes the engine's own polling and heartbeats, a cost per second",
        "rather than per segment (hence large at W = 1). Idle rank CPU: MPI worker ranks.",
        "",
        "| engine | W | D (s) | K | wall (s) | efficiency | added / segment (ms) "
        "| controller CPU / segment (ms) | idle rank CPU (% of a core) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        name = row["engine"] + (f" (backoff {row['backoff']} s)" if "backoff" in row else "")
        if "error" in row:
            lines.append(
                f"| {name} | {row['workers']} | {row['seconds']} | {row['steps']} "
                f"| error: {row['error'][:120]} | | | | |"
            )
            continue
        if row["engine"] == "mpi-idle":
            share = 100 * row["worker_rank_cpu_share"]
            lines.append(
                f"| {name}: ranks idle for {row['seconds']} s | {row['workers']} "
                f"| | | | | | | {share:.1f} |"
            )
            continue
        cpu = row.get("controller_cpu_per_segment_ms")
        share = row.get("worker_rank_cpu_share")
        lines.append(
            f"| {name} | {row['workers']} | {row['seconds']} | {row['steps']} "
            f"| {row['wall']:.2f} | {row['efficiency']:.1%} | {row['added_per_segment_ms']:.1f} "
            f"| {'' if cpu is None else f'{cpu:.2f}'} "
            f"| {'' if share is None else f'{100 * share:.1f}'} |"
        )
    return "\n".join(lines) + "\n"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in ("loky", "mpi4py", "mpich", "distributed", "ray", "optuna"):
        with contextlib.suppress(PackageNotFoundError):
            found.append(f"{package} {version(package)}")
    return ", ".join(found)


if __name__ == "__main__":
    main()
