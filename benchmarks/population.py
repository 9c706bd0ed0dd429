"""A population in one pass: member-epochs per second of the reference MLP, batched against
one member per process.

The reference experiment's network (the bundled MNIST, a 3-layer MLP of 128 units, SGD,
batch 32) trained as P members that differ in learning rate and momentum, each for
``--epochs`` epochs, as a whole curvetune study (FIFO, the real controller, SQLite store and
checkpoints) on two executors, interleaved and repeated:

* ``per-process``: the local executor with ``--workers`` processes (default 2), one member
  per segment, each process on its share of the cores;
* ``batched``: the batched executor over the same processes, each call training up to
  ``ceil(P / workers)`` members stacked with ``torch.func`` on ``--device``.

``speedup`` = batched member-epochs per second / per-process member-epochs per second, the
median over repeats. Controller CPU (``time.process_time`` of this process) is reported
beside the wall time. The members' final accuracies are compared too (the two paths train
the same members and must agree).

    python benchmarks/population.py                 # P = 4, 16, 64; 5 repeats
    python benchmarks/population.py --quick         # 1 repeat
    python benchmarks/population.py --device cuda   # the same table on a GPU

Writes ``population.md`` and ``population.json`` into ``--out`` (default
``benchmarks/results/``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from curvetune.executors import Batching, make_executor
from curvetune.space import Float
from curvetune.study import Study

RESULTS = Path(__file__).resolve().parent / "results"
MODES = ("per-process", "batched")


def run_population(population: int, mode: str, executor, settings: argparse.Namespace) -> dict:
    """One study of ``population`` members; its wall and controller CPU seconds."""
    fixed = {"arch": settings.arch, "optimizer": "sgd", "batch_size": 32}
    if settings.arch == "mlp":
        fixed["hidden"] = settings.hidden
    fixed["device"] = settings.device
    if settings.max_train is not None:
        fixed["max_train"] = settings.max_train
    with tempfile.TemporaryDirectory(prefix="population-") as directory:
        study = Study.create(
            objective="curvetune.models.mnist:train",
            space={"lr": Float(0.005, 0.2, log=True), "momentum": Float(0.0, 0.5)},
            fixed=fixed,
            metric="val_accuracy",
            mode="max",
            max_steps=settings.epochs,
            seed=0,
            directory=Path(directory) / "study",
        )
        wall, cpu = time.perf_counter(), time.process_time()
        study.optimize(
            trials=population,
            scheduler="fifo",
            executor=executor,
            progress=False,
        )
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finals = [study.history.score(t) for t in study.history.trials.values()]
        study.close()
    epochs = population * settings.epochs
    return {
        "population": population,
        "mode": mode,
        "wall_s": wall,
        "controller_cpu_s": cpu,
        "member_epochs_per_s": epochs / wall,
        "finals": finals,
    }


def executor_for(mode: str, population: int, settings: argparse.Namespace):
    if mode == "per-process":
        return make_executor("local", workers=settings.workers)
    batch = math.ceil(population / settings.workers)
    device = settings.device
    return make_executor(
        "batched", workers=settings.workers, batching=Batching(batch=batch, device=device)
    )


def summarise(runs: list[dict], populations: list[int]) -> list[dict]:
    rows = []
    for population in populations:

        def median(key: str, mode: str, population: int = population) -> float:
            return statistics.median(
                r[key] for r in runs if r["population"] == population and r["mode"] == mode
            )

        rates = {mode: median("member_epochs_per_s", mode) for mode in MODES}
        cpu = {mode: median("controller_cpu_s", mode) for mode in MODES}
        pairs = [
            (a["finals"], b["finals"])
            for a in runs
            for b in runs
            if a["population"] == b["population"] == population
            and (a["mode"], b["mode"]) == MODES
            and a["repeat"] == b["repeat"]
        ]
        gaps = [abs(x - y) for left, right in pairs for x, y in zip(left, right, strict=True)]
        rows.append(
            {
                "population": population,
                "per_process_member_epochs_per_s": rates["per-process"],
                "batched_member_epochs_per_s": rates["batched"],
                "speedup": rates["batched"] / rates["per-process"],
                "per_process_controller_cpu_s": cpu["per-process"],
                "batched_controller_cpu_s": cpu["batched"],
                "median_final_accuracy_gap": statistics.median(gaps) if gaps else None,
                "largest_final_accuracy_gap": max(gaps) if gaps else None,
            }
        )
    return rows


def markdown(rows: list[dict], settings: argparse.Namespace, seconds: float, device: str) -> str:
    command = "python benchmarks/population.py" + (" --quick" if settings.quick else "")
    for flag, value, default in (
        ("--device", settings.device, "cpu"),
        ("--arch", settings.arch, "mlp"),
        ("--hidden", settings.hidden, 128),
    ):
        if value != default:
            command += f" {flag} {value}"
    if settings.population != [4, 16, 64]:
        command += " --population " + " ".join(map(str, settings.population))
    lines = [
        "# A population in one pass: batched against one member per process",
        "",
        f"`{command}` on {datetime.now():%Y-%m-%d}, {platform.machine()}, "
        f"{os.cpu_count()} cores, device {device}, Python {platform.python_version()}; "
        f"{settings.repeats} repeat(s), interleaved, {seconds:.0f} s in all.",
        "",
        f"Each study: P members of {network_words(settings)} (bundled MNIST, SGD, batch 32; "
        f"lr in [0.005, 0.2] log-uniform and momentum in [0, 0.5], the same members for both "
        "executors), "
        f"{settings.epochs} epoch(s) each"
        + (f" on {settings.max_train} training digits" if settings.max_train else "")
        + f", FIFO, {settings.workers} local worker processes. Member-epochs per second are "
        "medians over repeats of P x epochs / the study's wall time (the whole study: "
        "controller, store and checkpoints included); speedup = batched / per-process.",
        "",
        "| P | per-process member-epochs/s | batched member-epochs/s | speedup "
        "| controller CPU s (per-process / batched) | final accuracy gap, median / largest |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['population']} | {row['per_process_member_epochs_per_s']:.2f} "
            f"| {row['batched_member_epochs_per_s']:.2f} | **{row['speedup']:.2f}x** "
            f"| {row['per_process_controller_cpu_s']:.2f} / {row['batched_controller_cpu_s']:.2f} "
            f"| {row['median_final_accuracy_gap']:.4f} / {row['largest_final_accuracy_gap']:.4f} |"
        )
    if device == "cpu":
        lines += [
            "",
            "No GPU was at hand for this run: the GPU table (`--device cuda`) is not measured "
            "here, and nothing is estimated in its place.",
        ]
    return "\n".join(lines) + "\n"


def network_words(settings: argparse.Namespace) -> str:
    if settings.arch == "cnn":
        return "the CNN"
    if settings.hidden == 128:
        return "the reference MLP (128 units a layer)"
    return f"the MLP with {settings.hidden} units a layer"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--population", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--quick", action="store_true", help="1 repeat (default 5)")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--arch", choices=("mlp", "cnn"), default="mlp")
    parser.add_argument("--hidden", type=int, default=128, help="MLP widths (default 128)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    settings = parser.parse_args()
    settings.repeats = settings.repeats or (1 if settings.quick else 5)
    settings.max_train = None
    if settings.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda: torch sees no CUDA device here")
        device = torch.cuda.get_device_name(0)
    else:
        device = "cpu"
    settings.out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    runs = []
    for population in settings.population:
        executors = {mode: executor_for(mode, population, settings) for mode in MODES}
        try:
            for mode in MODES:  # warm-up: worker processes started, data loaded
                run_population(min(population, settings.workers), mode, executors[mode], settings)
            for repeat in range(settings.repeats):
                order = MODES if repeat % 2 == 0 else MODES[::-1]
                for mode in order:
                    run = run_population(population, mode, executors[mode], settings)
                    run["repeat"] = repeat
                    runs.append(run)
                    print(
                        f"P={population} {mode}: {run['member_epochs_per_s']:.2f} "
                        f"member-epochs/s ({run['wall_s']:.1f} s)",
                        flush=True,
                    )
        finally:
            for executor in executors.values():
                executor.shutdown()
    rows = summarise(runs, settings.population)
    seconds = time.perf_counter() - began
    (settings.out / "population.json").write_text(
        json.dumps({"device": device, "rows": rows, "runs": runs}, indent=1)
    )
    (settings.out / "population.md").write_text(markdown(rows, settings, seconds, device))
    print((settings.out / "population.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
