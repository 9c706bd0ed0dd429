"""Tune your own PyTorch training loop with curvetune's ask/tell API and LCM early stopping.

A random search over the learning rate and width of an MLP on the bundled MNIST digits
(SGD, batch 32). The loop is an ordinary PyTorch loop: curvetune only hands out each
trial's config (``study.ask``), hears its validation accuracy once per epoch
(``trial.report``) and says when Learning Curve Matching has seen enough of it
(``trial.should_stop``). Once 3 trainings have completed, a trial whose curve matches
complete curves that ended poorly is stopped; the reason is stored with it.

    python examples/pytorch_loop.py                      # 30 trials of 10 epochs
    python examples/pytorch_loop.py --trials 10 --epochs 5 --directory runs/quick
    curvetune report runs/pytorch-loop                   # the HTML report of the study

Killed and started again with the same options, it goes on where it was: finished trials
are kept and the budget of trials stays exact. Another budget of epochs needs another
directory (a study's ``max_steps`` is part of it).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from curvetune import Float, Int, Study, TrialState
from curvetune.models.data import load_bundled
from curvetune.schedulers import LCMScheduler

BATCH_SIZE = 32  # as in the reference MNIST experiments


def parse_args(
    argv: list[str] | None = None,
    *,
    directory: str = "runs/pytorch-loop",
    description: str = __doc__.splitlines()[0],
) -> argparse.Namespace:
    """The options every example here takes (``lightning_mnist.py`` uses them too)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--trials", type=int, default=30, help="trials in all (default 30)")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per trial (default 10)")
    parser.add_argument("--directory", default=directory, help="the study directory")
    parser.add_argument(
        "--train-size", type=int, default=2000, help="training digits used (default 2000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the study's seed (default 0)")
    return parser.parse_args(argv)


def load_mnist(train_size: int) -> tuple[torch.Tensor, ...]:
    """The bundled digits as tensors: the first ``train_size`` of the 8,000 training
    digits, and all 2,000 validation digits."""
    data = load_bundled()
    return tuple(
        torch.from_numpy(np.array(a))
        for a in (data.train_x[:train_size], data.train_y[:train_size], data.val_x, data.val_y)
    )


def build_model(width: int) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, 10),
    )


def train_one_epoch(model, optimizer, x, y, generator) -> float:
    """One pass over ``(x, y)`` in a shuffled order; the mean training loss."""
    model.train()
    total = 0.0
    order = torch.randperm(len(x), generator=generator)
    for begin in range(0, len(x), BATCH_SIZE):
        index = order[begin : begin + BATCH_SIZE]
        loss = F.cross_entropy(model(x[index]), y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(index)
    return total / len(x)


@torch.no_grad()
def evaluate(model, x, y) -> tuple[float, float]:
    """Validation loss and accuracy."""
    model.eval()
    logits = model(x)
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    train_x, train_y, val_x, val_y = load_mnist(args.train_size)
    study = Study.create(
        space={"lr": Float(1e-4, 1e-1, log=True), "width": Int(32, 512, log=True)},
        metric="val_accuracy",
        mode="max",
        max_steps=args.epochs,  # a step is an epoch
        seed=args.seed,
        searcher="random",
        scheduler=LCMScheduler(min_complete=3),  # check every 10% once 3 trials completed
        directory=args.directory,
    )
    began = time.monotonic()
    try:
        for _ in range(study.remaining(args.trials)):  # exact, even when killed and rerun
            trial = study.ask()
            if trial is None:  # the searcher has nothing left (not with random search)
                break
            torch.manual_seed(trial.seed)  # the trial's own seed: reruns train the same
            model = build_model(trial.config["width"])
            optimizer = torch.optim.SGD(model.parameters(), lr=trial.config["lr"])
            shuffle = torch.Generator().manual_seed(trial.seed)
            error = None
            for epoch in range(1, args.epochs + 1):
                train_loss = train_one_epoch(model, optimizer, train_x, train_y, shuffle)
                val_loss, val_accuracy = evaluate(model, val_x, val_y)
                if not math.isfinite(val_loss):
                    error = f"diverged at epoch {epoch} (validation loss {val_loss})"
                    break
                trial.report(
                    epoch, val_accuracy=val_accuracy, val_loss=val_loss, train_loss=train_loss
                )
                if trial.should_stop():  # LCM stopped it, or it had all its epochs
                    break
            study.tell(trial, error=error, diverged=error is not None)
            print(outcome(trial, epoch, val_accuracy, error), flush=True)
        summarise(study, time.monotonic() - began)
    finally:
        study.close()
    return 0


def outcome(trial, epoch: int, val_accuracy: float, error: str | None) -> str:
    config = ", ".join(f"{k}={v:.3g}" for k, v in trial.config.items())
    head = f"trial {trial.id:3d} ({config}): "
    if error is not None:
        return head + f"diverged: {error}"
    epochs = f"{epoch} epoch" + ("s" if epoch > 1 else "")
    text = head + f"{trial.state.value} after {epochs}, val_accuracy {val_accuracy:.4f}"
    return text + (f"; {trial.reason}" if trial.reason else "")


def summarise(study: Study, seconds: float) -> None:
    trials = study.trials
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state.value] = counts.get(trial.state.value, 0) + 1
    steps = sum(t.step for t in trials)
    budget = len(trials) * study.spec.max_steps
    states = ", ".join(f"{n} {state}" for state, n in counts.items())
    print(f"\n{len(trials)} trials ({states}) in {seconds:.1f} s")
    if budget:
        saved = f"; LCM's stops saved {budget - steps}" if steps < budget else ""
        print(f"epochs trained: {steps} of {budget} ({steps / budget:.0%}{saved})")
    best = study.best_trial
    if best is not None:
        config = ", ".join(f"{k}={v:.4g}" for k, v in best.config.items())
        print(f"best trial #{best.id}: val_accuracy {study.history.score(best):.4f} ({config})")
    stopped = [t for t in trials if t.state is TrialState.STOPPED]
    if stopped:
        print(f"first stop: trial #{stopped[0].id}: {stopped[0].reason}")
    print(f"next: curvetune report {study.directory}")


if __name__ == "__main__":
    raise SystemExit(main())
