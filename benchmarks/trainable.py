"""Seconds per epoch of the MNIST trainable run in one-epoch segments, against a bare loop.

Run it from the repository root (``PYTHONPATH=src`` if curvetune is not installed)::

    python benchmarks/trainable.py                 # 5 epochs, 7 repeats
    python benchmarks/trainable.py --epochs 10 --repeats 7
    python benchmarks/trainable.py --threads 1     # steadier on a busy, small machine

It times, on the same machine and in the same process:

(a) ``bare``: a plain PyTorch loop training the default MLP (784-128-128-10, SGD lr 0.05,
    batch 32) on the bundled 8,000 training digits for E epochs, validating on the 2,000
    validation digits after each epoch and keeping the mean train loss, as any loop would.
    Its data tensors are prepared before the clock starts (the most favourable baseline).
(b) ``segments``: the same training as E one-epoch segments of
    ``curvetune.models.mnist:train`` through ``worker.run_segment``, each loading the
    previous segment's checkpoint and saving its own.
(c) ``study``: the same again through the real controller: a one-trial ``Study`` with the
    FIFO scheduler (one-epoch segments), the sequential executor (in-process) and a study
    directory (SQLite store and checkpoints on disk). Left out if ``curvetune.study`` is
    missing.
(d) the fixed cost of one segment that loads a checkpoint, trains nothing and saves: the
    deterministic part of (b)'s overhead, which run-to-run noise cannot hide.

Bare epochs and segments alternate epoch by epoch (so a busy spell of a shared machine hits
both alike); the study run goes before or after them, alternately. One untimed warm-up run
comes first. Wall-clock and CPU seconds are both recorded; medians (and the median of the
paired per-epoch ratios) go to the console and to ``benchmarks/results/trainable.md``. The
budget is overhead <= 5 % per epoch.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from curvetune.models.data import load_bundled  # noqa: E402
from curvetune.worker import SegmentContext, run_segment  # noqa: E402

OBJECTIVE = "curvetune.models.mnist:train"
RESULTS = ROOT / "benchmarks" / "results" / "trainable.md"
SEED = 0
BUDGET_PERCENT = 5.0

T = TypeVar("T")
Tensors = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def bare_tensors(device: torch.device) -> Tensors:
    """The bundled data as (N, 1, 28, 28) image and int64 label tensors on ``device``."""
    data = load_bundled()
    return (
        torch.from_numpy(np.array(data.train_x)).unsqueeze(1).to(device),
        torch.from_numpy(np.array(data.train_y)).to(device),
        torch.from_numpy(np.array(data.val_x)).unsqueeze(1).to(device),
        torch.from_numpy(np.array(data.val_y)).to(device),
    )


class BareLoop:
    """A plain PyTorch loop for the default MLP, one epoch per ``epoch()`` call.

    The model is built in the first call, so that call's time includes the setup, as a
    whole run's would. Epochs are separate calls so that they can alternate with segments.
    """

    def __init__(self, tensors: Tensors, device: torch.device) -> None:
        self.tensors = tensors
        self.device = device
        self.model: nn.Module | None = None

    def _setup(self) -> nn.Module:
        torch.manual_seed(SEED)
        self.model = nn.Sequential(
            nn.Flatten(),
            nn.Linear(784, 128),
            nn.ReLU(),
            nn.Linear(128, 128),
            nn.ReLU(),
            nn.Linear(128, 10),
        ).to(self.device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.05)
        self.generator = torch.Generator().manual_seed(SEED)
        return self.model

    def epoch(self) -> float:
        """Train one epoch, validate, and return the validation accuracy."""
        model = self.model or self._setup()
        optimizer, device = self.optimizer, self.device
        train_x, train_y, val_x, val_y = self.tensors
        n, batch_size = train_x.shape[0], 32
        model.train()
        perm = torch.randperm(n, generator=self.generator).to(device)
        loss_sum = torch.zeros((), device=device)
        for begin in range(0, n, batch_size):
            index = perm[begin : begin + batch_size]
            loss = F.cross_entropy(model(train_x[index]), train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
        model.eval()
        with torch.no_grad():
            logits = model(val_x)
            self.val_loss = F.cross_entropy(logits, val_y).item()
            accuracy = (logits.argmax(dim=1) == val_y).float().mean().item()
        self.train_loss = loss_sum.item() / -(-n // batch_size)
        return accuracy


class SegmentChain:
    """The same training as one-epoch segments of the trainable, one per ``epoch()`` call,
    each loading the previous segment's checkpoint and saving its own."""

    def __init__(self, device: torch.device, workdir: Path) -> None:
        self.config = {"device": device.type}
        self.workdir = workdir
        self.done = 0
        self.previous: str | None = None

    def epoch(self) -> float:
        """Run the next segment through ``run_segment``; return its validation accuracy."""
        ctx = SegmentContext(
            trial_id=0,
            seed=SEED,
            start=self.done,
            until=self.done + 1,
            checkpoint_in=self.previous,
            checkpoint_out=str(self.workdir / f"segment-{self.done}"),
        )
        result = run_segment(OBJECTIVE, self.config, ctx)
        if result.status != "ok":
            raise RuntimeError(f"segment {ctx.until} failed: {result.error}")
        self.done, self.previous = ctx.until, result.checkpoint
        return result.reports[-1].metrics["val_accuracy"]


def study_run(epochs: int, device: torch.device, workdir: Path) -> list[float]:
    """The same training through a one-trial study (controller, FIFO, sequential executor)."""
    from curvetune.space import Choice
    from curvetune.study import Study

    study = Study.create(
        objective=OBJECTIVE,
        space={"lr": Choice([0.05])},
        fixed={"device": device.type},
        metric="val_accuracy",
        mode="max",
        max_steps=epochs,
        seed=SEED,
        directory=workdir / "study",
    )
    try:
        study.optimize(progress=False, trials=1, scheduler="fifo", executor="sequential")
        (trial,) = study.trials
        if trial.state.value != "completed":
            raise RuntimeError(f"study trial ended {trial.state.value}: {trial.reason}")
        return trial.curve("val_accuracy")[1]
    finally:
        study.close()


def study_available() -> bool:
    """Whether ``curvetune.study`` (the controller's facade) exists yet."""
    try:
        import curvetune.study  # noqa: F401
    except ImportError:
        return False
    return True


Clock = tuple[float, float]  # (wall, CPU) seconds


def timed(run: Callable[[], T]) -> tuple[Clock, T]:
    """Wall-clock and CPU seconds (this process, all threads) of ``run()``, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return (time.perf_counter() - wall, time.process_time() - cpu), result


@dataclass
class Timings:
    """Per-run seconds per epoch of each variant, and per-epoch (or per-run) paired ratios."""

    per_epoch: dict[str, list[Clock]] = field(default_factory=dict)
    ratios: dict[str, list[float]] = field(default_factory=dict)  # variant / bare, wall
    fixed: Clock = (0.0, 0.0)  # seconds of a segment that trains nothing (load + save)

    def add(self, name: str, clock: Clock, epochs: int) -> None:
        self.per_epoch.setdefault(name, []).append((clock[0] / epochs, clock[1] / epochs))


def measure(epochs: int, repeats: int, device: torch.device) -> Timings:
    """Time ``repeats`` runs of each variant (after one untimed warm-up run).

    Bare epochs and segments alternate, epoch by epoch and in alternating order, so a busy
    spell of a shared machine hits both alike; their per-epoch ratios are the paired
    overheads. A whole study run goes before or after them, alternately, and pairs with the
    bare run of the same repeat.
    """
    tensors = bare_tensors(device)
    with_study = study_available()
    timings = Timings()
    for attempt in range(repeats + 1):  # attempt 0 warms up caches and is not kept
        with tempfile.TemporaryDirectory(prefix="curvetune-bench-") as work:
            study_clock: Clock | None = None
            if with_study and attempt % 2 == 0:
                study_clock, _ = timed(lambda w=work: study_run(epochs, device, Path(w)))
            loops = {
                "bare": BareLoop(tensors, device),
                "segments": SegmentChain(device, Path(work)),
            }
            totals = {name: [0.0, 0.0] for name in loops}
            ratios = []
            for epoch in range(epochs):
                names = ["bare", "segments"] if (attempt + epoch) % 2 == 0 else ["segments", "bare"]
                clocks: dict[str, Clock] = {}
                for name in names:
                    clocks[name], _ = timed(loops[name].epoch)
                    totals[name][0] += clocks[name][0]
                    totals[name][1] += clocks[name][1]
                ratios.append(clocks["segments"][0] / clocks["bare"][0])
            if with_study and attempt % 2 == 1:
                study_clock, _ = timed(lambda w=work: study_run(epochs, device, Path(w)))
        if not attempt:
            continue
        for name, (wall, cpu) in totals.items():
            timings.add(name, (wall, cpu), epochs)
        timings.ratios.setdefault("segments", []).extend(ratios)
        line = (
            f"  repeat {attempt}: bare {totals['bare'][0] / epochs:.4f}, "
            f"segments {totals['segments'][0] / epochs:.4f}"
        )
        if study_clock is not None:
            timings.add("study", study_clock, epochs)
            timings.ratios.setdefault("study", []).append(study_clock[0] / totals["bare"][0])
            line += f", study {study_clock[0] / epochs:.4f}"
        print(line + " s/epoch (wall)", flush=True)
    timings.fixed = fixed_cost(device)
    return timings


def fixed_cost(device: torch.device, count: int = 50) -> Clock:
    """Median (wall, CPU) seconds of a segment that loads a checkpoint, trains no step and
    saves: the per-segment price of checkpointing, which timing noise cannot hide."""
    with tempfile.TemporaryDirectory(prefix="curvetune-bench-") as work:
        chain = SegmentChain(device, Path(work))
        chain.epoch()
        clocks = []
        for index in range(count):
            ctx = SegmentContext(0, SEED, 1, 1, chain.previous, str(Path(work) / f"empty-{index}"))
            clock, result = timed(lambda c=ctx: run_segment(OBJECTIVE, chain.config, c))
            if result.status != "ok":
                raise RuntimeError(f"empty segment failed: {result.error}")
            clocks.append(clock)
    return statistics.median(w for w, _ in clocks), statistics.median(c for _, c in clocks)


def machine(device: torch.device) -> str:
    """One line describing where the numbers came from."""
    where = "CPU"
    if device.type == "cuda":
        where = torch.cuda.get_device_name(device)
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, "
        f"Python {platform.python_version()}, device {device.type} ({where})"
    )


def report(timings: Timings, epochs: int, repeats: int, device: torch.device) -> str:
    """The markdown table of medians and overheads against the bare loop."""
    walls = {n: statistics.median(w for w, _ in v) for n, v in timings.per_epoch.items()}
    cpus = {n: statistics.median(c for _, c in v) for n, v in timings.per_epoch.items()}
    lines = [
        "# MNIST trainable: one-epoch segments vs a bare PyTorch loop",
        "",
        f"Machine: {machine(device)}.",
        "",
        f"Default MLP (784-128-128-10, SGD lr 0.05, batch 32), bundled 8,000 training digits, "
        f"validation on 2,000 after every epoch; {epochs} epochs per run, {repeats} runs of "
        f"each variant after one warm-up. Written by `python benchmarks/trainable.py` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        "| variant | wall s/epoch | CPU s/epoch | overhead (wall) | overhead (CPU) "
        "| paired overhead (wall) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in timings.per_epoch:
        cells = ["—", "—", "—"]
        if name != "bare":
            cells = [
                f"{100 * (walls[name] / walls['bare'] - 1):+.1f} %",
                f"{100 * (cpus[name] / cpus['bare'] - 1):+.1f} %",
                f"{100 * (statistics.median(timings.ratios[name]) - 1):+.1f} %",
            ]
        lines.append(f"| {name} | {walls[name]:.4f} | {cpus[name]:.4f} | {' | '.join(cells)} |")
    fixed_wall, fixed_cpu = timings.fixed
    lines += [
        "",
        f"Fixed cost of a segment that loads a checkpoint, trains nothing and saves: "
        f"{1000 * fixed_wall:.1f} ms wall, {1000 * fixed_cpu:.1f} ms CPU (median of 50), "
        f"{100 * fixed_wall / walls['bare']:.1f} % of a bare epoch.",
        "",
        "- `bare`: plain loop, data tensors prepared before timing.",
        "- `segments`: `run_segment` per epoch, checkpoint saved and loaded between epochs.",
    ]
    if "study" in timings.per_epoch:
        lines.append(
            "- `study`: one-trial `Study` (FIFO, sequential executor, SQLite store and "
            "checkpoints in a study directory)."
        )
    lines += [
        "- s/epoch: median over runs of (run time / epochs). Overheads compare those medians;",
        "  the paired overhead is the median of per-epoch ratios segment / bare epoch run",
        "  back to back (for `study`: of per-run ratios), the steadiest figure on a busy machine.",
        "- CPU seconds are this process's (all threads); wall-clock seconds also count time",
        "  lost to other processes.",
        f"- Budget: at most {BUDGET_PERCENT:.0f} % overhead per epoch.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run (default 5)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats (default 7)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch intra-op threads (default: torch's)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="markdown file to write")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    name = args.device
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    print(f"{machine(device)}\n{args.epochs} epochs x {args.repeats} repeats", flush=True)
    timings = measure(args.epochs, args.repeats, device)
    table = report(timings, args.epochs, args.repeats, device)
    print()
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(table)
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
