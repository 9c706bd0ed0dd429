"""Population Based Training (Jaderberg et al. 2017, "Population Based Training of Neural
Networks", arXiv:1711.09846), here for learning rates and any other mutable setting.

A population of ``population`` members (the study's first trials) trains in parallel. Every
``interval`` steps each member reports; members in the bottom ``quantile`` *exploit* a
member drawn from the top quantile (its checkpoint, weights and optimizer state, and its
hyperparameters, which the controller copies) and *explore*: every mutable setting is
multiplied by one of ``factors`` or, with probability ``resample_probability``, drawn anew
from its domain.

``synchronous=True`` is the MPI original's generation barrier: a member that reaches a
boundary waits (``Wait``) until every member has reached it, then the whole population is
ranked at that step. ``synchronous=False`` decides as each member reports, ranking it
against every member's newest value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import _validate
from ..domains import Choice, Domain, Float, Int
from ..space import domain_from_json
from ..types import (
    Complete,
    Continue,
    Decision,
    Exploit,
    History,
    Trial,
    TrialState,
    Wait,
    is_finite,
)
from . import _steps
from ._steps import StepSpec

DEFAULT_MUTABLE = {"lr": {"type": "float", "low": 1e-4, "high": 1.0, "log": True}}


@dataclass(frozen=True)
class PBTScheduler:
    population: int = 16
    interval: StepSpec = 1
    quantile: float = 0.25
    synchronous: bool = True
    mutable: Mapping[str, Any] = field(default_factory=lambda: dict(DEFAULT_MUTABLE))
    factors: Sequence[float] = (0.8, 1.2)
    resample_probability: float = 0.1
    _domains: dict[str, Domain] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _validate.whole("pbt", "population", self.population, 4)
        _steps.validate("pbt", "interval", self.interval)
        _validate.number("pbt", "quantile", self.quantile, 0, 0.5, low_open=True)
        _validate.flag("pbt", "synchronous", self.synchronous)
        _validate.number("pbt", "resample_probability", self.resample_probability, 0, 1)
        factors = self.factors
        if not (
            isinstance(factors, list | tuple)
            and factors
            and all(_validate.is_number(f) and is_finite(f) and f > 0 for f in factors)
        ):
            _validate.refuse("pbt", "factors", "a non-empty list of positive numbers", factors)
        if not isinstance(self.mutable, Mapping) or not self.mutable:
            _validate.refuse(
                "pbt", "mutable", "a table naming at least one setting to explore", self.mutable
            )
        domains = {}
        for name, spec in self.mutable.items():
            try:
                given = isinstance(spec, Float | Int | Choice)  # a domain, or its JSON form
                domains[name] = spec if given else domain_from_json(spec)
            except ValueError as exc:
                raise ValueError(f"pbt: mutable {name!r}: {exc}") from None
        object.__setattr__(self, "_domains", domains)

    def check_study(
        self,
        *,
        trials: int | None,
        max_steps: int,
        metric: str | None = None,
        mode: str | None = None,
    ) -> None:
        """Refuse a study that can never fill the population (checked when a study starts;
        the budget, metric and mode are not PBT's concern; ask/tell, ``trials=None``,
        refuses PBT itself)."""
        if trials is not None and trials < self.population:
            raise ValueError(
                f"pbt: a population of {self.population} needs a budget of at least "
                f"{self.population} trials, got {trials}"
            )

    # ----------------------------------------------------------------------------- rule

    def decide(self, trial: Trial, history: History, rng: np.random.Generator) -> Decision:
        max_steps, step = history.max_steps, trial.step
        if step >= max_steps:
            return Complete()
        every = _steps.at(self.interval, max_steps)
        if step == 0 or step % every or trial.id >= self.population:
            return Continue(min(max_steps, (step // every + 1) * every))
        members = [t for t in history.trials.values() if t.id < self.population]
        if self.synchronous:
            behind = [t.id for t in members if t.state is TrialState.RUNNING and t.step < step]
            if len(members) < self.population or behind:
                return Wait(
                    f"generation barrier at step {step}: {len(members)} of {self.population} "
                    f"members exist, {len(behind)} behind (the study's trials must be at least "
                    "the population)"
                )
            values = {t.id: _value(t.value_at(history.metric, step)) for t in members}
        else:
            values = {t.id: _value(t.last_value(history.metric)) for t in members}
        return self._exploit_or_continue(trial, history, values, every, rng)

    def _exploit_or_continue(
        self,
        trial: Trial,
        history: History,
        values: Mapping[int, float | None],
        every: int,
        rng: np.random.Generator,
    ) -> Decision:
        ranked = _rank(values, history.mode)  # best first; members without a value last
        cut = max(1, int(self.quantile * len(ranked)))
        top, bottom = ranked[:cut], ranked[-cut:]
        until = min(history.max_steps, trial.step + every)
        if trial.id not in bottom or trial.id in top:
            return Continue(until)
        sources = [i for i in top if history[i].state is TrialState.RUNNING or i == trial.id]
        sources = [i for i in sources if history[i].checkpoint_step > 0 and i != trial.id]
        if not sources:
            return Continue(until)
        source = history[int(sources[rng.integers(len(sources))])]
        config = self._explore(source.config, rng)
        changes = ", ".join(
            f"{k} {_short(source.config.get(k))} -> {_short(config[k])}" for k in self._domains
        )
        return Exploit(
            source=source.id,
            config=config,
            until=min(history.max_steps, source.checkpoint_step + every),
            reason=(
                f"{history.metric} {_short(values[trial.id])} in the bottom "
                f"{self.quantile:.0%}; copies #{source.id} ({_short(values[source.id])}), {changes}"
            ),
        )

    def _explore(self, config: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """Perturb every mutable setting: a factor, or now and then a fresh draw."""
        new = dict(config)
        for name, domain in self._domains.items():
            if (
                name not in new
                or rng.random() < self.resample_probability
                or isinstance(domain, Choice)
            ):
                new[name] = domain.sample(rng)
            else:
                factor = float(self.factors[int(rng.integers(len(self.factors)))])
                new[name] = _clip(domain, new[name] * factor)
        return new


def _value(value: float | None) -> float | None:
    return value if value is not None and is_finite(value) else None


def _rank(values: Mapping[int, float | None], mode: str) -> list[int]:
    known = [i for i, v in values.items() if v is not None]
    known.sort(key=lambda i: values[i], reverse=(mode == "max"))
    return known + sorted(i for i, v in values.items() if v is None)


def _clip(domain: Domain, value: float) -> float | int:
    low, high = domain.low, domain.high
    clipped = min(max(value, low), high)
    return round(clipped) if isinstance(low, int) and isinstance(high, int) else clipped


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
