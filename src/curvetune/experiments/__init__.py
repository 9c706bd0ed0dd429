"""Reproducible experiments on the bundled MNIST trainable (``curvetune experiment ...``).

* ``dynamic_lr``: static vs step-decayed learning rates over a sweep of initial rates.
* ``pbt_lr``: Population Based Training of the learning rate vs random search and step
  decay at the same total number of training iterations, with the PBT schedule replayed.

This module holds what both share: the MNIST setup (``Setup``), turning a trial into a plain
run record, and writing JSON. Nothing here imports torch; the trainable runs in the workers.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ..types import Trial

OBJECTIVE = "curvetune.models.mnist:train"
EXECUTORS = ("local", "sequential", "batched")  # what an experiment may run on
METRIC = "val_accuracy"


@dataclass(frozen=True)
class Setup:
    """The reference MNIST setup: a 3-layer MLP trained by SGD with batch 32.

    A step is ``iters_per_step`` iterations and every run trains ``steps`` steps, so every
    run sees ``total_iterations`` iterations.
    """

    steps: int = 30
    iters_per_step: int = 100
    batch_size: int = 32
    max_train: int | None = None
    decay: float = 0.95
    decay_every: int = 100
    executor: str = "local"
    workers: int = 2

    @classmethod
    def quick(cls, steps: int) -> Setup:
        """A tiny setup that checks an experiment's pipeline in seconds: ``steps`` steps of
        10 iterations on 512 examples, in process."""
        return cls(
            steps=steps,
            iters_per_step=10,
            max_train=512,
            decay_every=10,
            executor="sequential",
            workers=1,
        )

    def with_executor(self, executor: str | None) -> Setup:
        """This setup run on ``executor`` ("local", "sequential" or "batched"; None: as it
        is). The batched executor trains the members of a study in batches of
        ``ceil(members / workers)`` on the worker processes (``executor_for``)."""
        if executor is None:
            return self
        if executor not in EXECUTORS:
            allowed = ", ".join(EXECUTORS)
            raise ValueError(f"executor must be one of {allowed}, got {executor!r}")
        return replace(self, executor=executor)

    def with_workers(self, workers: int | None) -> Setup:
        """This setup run by ``workers`` segments at once (None: as it is). More than one
        worker needs processes, so a ``quick`` (sequential) setup then uses the local
        executor too; one worker keeps the executor it has."""
        if workers is None:
            return self
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
        executor = self.executor if workers == 1 else "local"
        return replace(self, executor=executor, workers=workers)

    @property
    def total_iterations(self) -> int:
        """Iterations in one full run."""
        return self.steps * self.iters_per_step

    def fixed(self) -> dict[str, Any]:
        """The trainable's config keys every run shares (study ``fixed`` settings)."""
        fixed: dict[str, Any] = {
            "arch": "mlp",
            "optimizer": "sgd",
            "batch_size": self.batch_size,
            "iters_per_step": self.iters_per_step,
        }
        if self.max_train is not None:
            fixed["max_train"] = self.max_train
        return fixed

    def to_json(self) -> dict[str, Any]:
        """The setup, with the derived total, for results files."""
        return {**asdict(self), "total_iterations": self.total_iterations}


def log_spaced(low: float, high: float, count: int) -> list[float]:
    """``count`` values from ``low`` to ``high`` evenly spaced in log space (rounded)."""
    if count == 1:
        return [float(low)]
    ratio = math.log(high / low) / (count - 1)
    return [float(f"{low * math.exp(i * ratio):.4g}") for i in range(count)]


def run_record(trial: Trial, max_steps: int) -> dict[str, Any]:
    """A trial as plain numbers: config, state, per-step iteration/lr/val_accuracy, final.

    ``final_accuracy`` is the validation accuracy at the last step, or None when the trial
    did not train all ``max_steps`` steps (it diverged or failed).
    """
    steps, accuracy = trial.curve(METRIC)
    _, iteration = trial.curve("iteration")
    _, lr = trial.curve("lr")
    done = bool(steps) and steps[-1] >= max_steps and trial.state.value == "completed"
    return {
        "trial": trial.id,
        "state": trial.state.value,
        "step": steps,
        "iteration": [int(i) for i in iteration],
        "lr": lr,
        "val_accuracy": accuracy,
        "final_accuracy": accuracy[-1] if done else None,
    }


def mean_std(values: Iterable[float | None]) -> dict[str, Any]:
    """Mean and (population) standard deviation of the values that are not None."""
    known = [float(v) for v in values if v is not None]
    if not known:
        return {"mean": None, "std": None, "n": 0}
    mean = sum(known) / len(known)
    var = sum((v - mean) ** 2 for v in known) / len(known)
    return {"mean": mean, "std": math.sqrt(var), "n": len(known)}


def write_json(path: Path, document: Mapping[str, Any]) -> Path:
    """Write ``document`` as indented JSON (creating the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def pin_worker_threads(executor: str) -> None:
    """One torch thread per worker process for the process pool (no oversubscription)."""
    if executor in ("local", "batched"):
        os.environ.setdefault("CURVETUNE_THREADS", "1")


@contextlib.contextmanager
def executor_for(setup: Setup, members: int) -> Iterator[Any]:
    """What ``Study.optimize`` gets as ``executor`` for a study of ``members`` trials: the
    setup's executor name, or for "batched" a batched executor over the local processes
    whose batches split the members evenly over the workers (shut down at the end)."""
    if setup.executor != "batched":
        yield setup.executor
        return
    from ..executors import Batching, open_executor

    batching = Batching(batch=math.ceil(members / setup.workers))
    with open_executor("batched", workers=setup.workers, batching=batching) as executor:
        yield executor
