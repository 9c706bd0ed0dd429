"""Why a batched population gains what it gains: one SGD iteration of P members of the
reference MLP, one torch thread, stacked (curvetune's ``StackedMLP`` with its written-out
backward adding gradients into ``StackedSGD``'s buffers, as the batched MNIST trainable
trains) against P ``nn.Module`` + ``torch.optim.SGD`` one after another, beside this core's
matrix-product peak.

    python benchmarks/population_step.py            # P = 1, 4, 8, 16, 32, 64

Prints a table (milliseconds per iteration of all P members: 7 alternating rounds of 10
iterations each way, medians) and writes ``benchmarks/results/population_step.md``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from curvetune.models.stacked import StackedSGD
from curvetune.models.stacked_net import StackedMLP

RESULTS = Path(__file__).resolve().parent / "results"
BATCH, WIDTH, MOMENTUM = 32, 128, 0.5
ROUNDS = 7  # alternating rounds of 10 iterations each way (the machine's load drifts)


def median_ms(step, repeats: int = 40) -> float:
    for _ in range(5):
        step()
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return 1e3 * statistics.median(times)


def mlp() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, WIDTH), nn.ReLU(), nn.Linear(WIDTH, WIDTH), nn.ReLU(),
        nn.Linear(WIDTH, 10),
    )  # fmt: skip


def one_after_another(members: int):
    models = [mlp() for _ in range(members)]
    optimizers = [
        torch.optim.SGD(m.parameters(), lr=0.01 * (i + 1), momentum=MOMENTUM)
        for i, m in enumerate(models)
    ]
    x, y = torch.randn(members, BATCH, 784), torch.randint(0, 10, (members, BATCH))

    def step() -> None:
        for i, (model, optimizer) in enumerate(zip(models, optimizers, strict=True)):
            loss = F.cross_entropy(model(x[i]), y[i])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    return step


def stacked(members: int):
    net = StackedMLP([mlp() for _ in range(members)])
    buffers = [[None] * len(net.leaves) for _ in range(members)]
    optimizer = StackedSGD(net.leaves, [MOMENTUM] * members, [0.0] * members, buffers)
    optimizer.set_lr([0.01 * (i + 1) for i in range(members)], net.leaves)
    x, y = torch.randn(members, BATCH, 784), torch.randint(0, 10, (members, BATCH))

    def step() -> None:  # as models/population.py trains an MLP with SGD
        into = optimizer.begin(net.leaves)
        net.accumulate_gradients(x, y, into)
        optimizer.finish(net.leaves, into)

    return step


def peak_gflops() -> float:
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    return 2 * 1024**3 / median_ms(lambda: a @ b, 10) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--population", type=int, nargs="+", default=[1, 4, 8, 16, 32, 64])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    flops = 2 * BATCH * (784 * WIDTH + WIDTH * WIDTH + WIDTH * 10) * 3  # fwd + 2 x bwd
    peak = peak_gflops()
    lines = [
        "# One SGD iteration of a population: stacked against one member after another",
        "",
        f"`python benchmarks/population_step.py` on {platform.machine()}, one torch thread, "
        f"torch {torch.__version__}; this core's matrix-product peak {peak:.0f} GFLOP/s "
        f"(1024 x 1024 products). The reference MLP (784-{WIDTH}-{WIDTH}-10), batch "
        f"{BATCH}, SGD with momentum {MOMENTUM}, about {flops / 1e6:.0f} MFLOP a member "
        f"an iteration. Milliseconds per iteration of all P members: the median over {ROUNDS} "
        "alternating rounds of the median of 10 iterations each way.",
        "",
        "| P | one after another (ms) | stacked (ms) | ratio | stacked GFLOP/s |",
        "|---:|---:|---:|---:|---:|",
    ]
    for members in args.population:
        steps = one_after_another(members), stacked(members)
        rounds = [[median_ms(step, 10) for step in steps] for _ in range(ROUNDS)]  # interleaved
        alone, together = (statistics.median(r[i] for r in rounds) for i in (0, 1))
        rate = members * flops / together / 1e6
        lines.append(
            f"| {members} | {alone:.2f} | {together:.2f} | **{alone / together:.2f}x** "
            f"| {rate:.0f} |"
        )
        print(lines[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "population_step.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
