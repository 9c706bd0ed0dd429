"""A curvetune ``Space`` in Optuna's terms, and Optuna's parameters back as a config.

The mapping is exact where Optuna has the same kind of parameter: a ``Float`` is a
``FloatDistribution`` with its bounds, ``log`` and ``step`` (the step's last lattice point
as the upper bound, which is the highest value the domain can take); an ``Int`` of at most
``EXACT_INT_VALUES`` values is an ``IntDistribution`` with its bounds, ``log`` and ``step``; a
``Choice`` is a ``CategoricalDistribution`` over the indices of its values (so any JSON
scalar maps, and ``True`` never merges with ``1``).

One approximation, for speed: an ``Int`` with more values (a layer width 64..1024, a batch
size 16..512) is modelled as a continuous value on its own scale (log if ``log``) and
rounded to the domain's nearest value. Optuna's TPE evaluates its discrete kernel for every
(candidate, observation) pair in Python, which makes a proposal with 1,000 observations 8x
slower; over hundreds of values the continuous kernel is the same model to within the
rounding. The proposal is always a value of the domain.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..domains import Choice, Domain, Float, Int
from ..space import Space

EXACT_INT_VALUES = 32  # an Int with more values is modelled continuous, then rounded


def distributions(space: Space) -> dict[str, Any]:
    """Optuna distributions for every parameter of ``space``, in its order."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name in space.names:
        domain = space[name]
        if isinstance(domain, Choice):
            out[name] = CategoricalDistribution(tuple(range(len(domain.values))))
        elif isinstance(domain, Int) and domain.size() <= EXACT_INT_VALUES:
            high = domain.from_unit(1.0)  # the last value on the step lattice
            out[name] = IntDistribution(domain.low, high, log=domain.log, step=domain.step or 1)
        elif isinstance(domain, Int):  # modelled continuous, rounded back by ``to_config``
            out[name] = FloatDistribution(domain.low, domain.from_unit(1.0), log=domain.log)
        elif isinstance(domain, Float) and domain.step is not None:
            high = domain.from_unit(1.0)
            out[name] = FloatDistribution(domain.low, high, step=domain.step)
        elif isinstance(domain, Float):
            out[name] = FloatDistribution(domain.low, domain.high, log=domain.log)
        else:  # pragma: no cover - every Domain is one of the three
            raise TypeError(f"parameter {name!r}: no Optuna distribution for {domain!r}")
    return out


def to_params(space: Space, config: Mapping[str, Any]) -> dict[str, Any] | None:
    """A config as Optuna parameters (a choice by its index); None if some value is not in
    its domain (a config from before the space changed: the model cannot place it)."""
    params: dict[str, Any] = {}
    for name in space.names:
        domain = space[name]
        value = config.get(name)
        if not domain.contains(value):
            return None
        if isinstance(domain, Choice):
            params[name] = domain.index(value)
        elif isinstance(domain, Int) and domain.size() > EXACT_INT_VALUES:
            params[name] = float(value)
        else:
            params[name] = value
    return params


def to_config(space: Space, params: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna's proposal as a config of ``space`` (every value inside its domain)."""
    return {name: _value(space[name], params[name]) for name in space.names}


def _value(domain: Domain, raw: Any) -> Any:
    if isinstance(domain, Choice):
        return domain.values[int(raw)]
    if isinstance(domain, Int):
        return _nearest_int(domain, float(raw))
    value = min(max(float(raw), domain.low), domain.high)
    return value if domain.step is None else domain.from_unit(domain.to_unit(value))  # snapped


def _nearest_int(domain: Int, x: float) -> int:
    """The value of ``domain`` nearest to ``x`` (on its scale: in log space if ``log``)."""
    if domain.log:  # low > 0, and Optuna proposes within [low, high]
        lower = min(max(domain.low, math.floor(x)), domain.high)
        upper = min(domain.high, lower + 1)
        if x <= lower or lower == upper:
            return int(lower)
        return int(
            lower if math.log(x) - math.log(lower) <= math.log(upper) - math.log(x) else upper
        )
    return domain.from_unit(domain.to_unit(x))  # the nearest lattice value, clamped
