"""What the PBT learning-rate experiment runs (``curvetune experiment pbt-lr``): the plan
(setup, population, seeds) and the rate ranges all three methods share.

The experiment itself is described in ``curvetune.experiments.pbt_lr``, which re-exports
everything here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import Setup

LR_RANGE = (0.005, 0.5)  # initial rates, log-uniform (all three methods)
MUTABLE_RANGE = (1e-3, 1.0)  # where PBT's explore may take a rate
METHODS = ("pbt", "random", "step_decay")


@dataclass(frozen=True)
class Plan:
    """What to run: the setup, population size and seeds."""

    setup: Setup
    population: int = 16
    seeds: Sequence[int] = (0, 1, 2)


def make_plan(
    *,
    quick: bool = False,
    seeds: int | None = None,
    steps: int | None = None,
    population: int | None = None,
    workers: int | None = None,
) -> Plan:
    """The full plan (population 16, 30 steps of 100 iterations, 3 seeds, 2 workers), or the
    ``quick`` one (population 4, 2 steps of 10 iterations on 512 examples, 1 seed,
    sequential executor). ``workers`` overrides the number of segments run at once
    (``Setup.with_workers``); the timing's overhead estimate divides by it."""
    if quick:
        setup = Setup.quick(steps or 2).with_workers(workers)
        return Plan(setup, population=population or 4, seeds=tuple(range(seeds or 1)))
    setup = Setup(steps=steps or 30).with_workers(workers)
    return Plan(setup, population=population or 16, seeds=tuple(range(seeds or 3)))
