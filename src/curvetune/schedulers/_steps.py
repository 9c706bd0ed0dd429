"""Where in a trial's budget a rule looks: steps given as absolute numbers or as fractions.

``at(value, max_steps)``: an int >= 1 is a step; a float in (0, 1] is that fraction of the
budget, rounded up (10% of 52 epochs is step 6). Every stopping rule states its check points
this way, so "first check at 10% of the budget" means the same for all of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

StepSpec = int | float


def validate(name: str, value: StepSpec) -> None:
    """Refuse a step spec that is neither a step >= 1 nor a fraction in (0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a step (int >= 1) or a fraction in (0, 1], got {value!r}")
    if isinstance(value, int) and value < 1:
        raise ValueError(f"{name} must be a step >= 1 or a fraction in (0, 1], got {value}")
    if isinstance(value, float) and not 0 < value <= 1:
        raise ValueError(f"{name} as a fraction of the budget must be in (0, 1], got {value}")


def at(value: StepSpec, max_steps: int) -> int:
    """The step ``value`` means in a budget of ``max_steps`` (clamped to [1, max_steps])."""
    step = value if isinstance(value, int) else math.ceil(value * max_steps - 1e-9)
    return min(max(1, step), max_steps)


def next_after(step: int, checks: Sequence[int], max_steps: int) -> int:
    """The first check after ``step``, or the end of the budget when none is left."""
    for check in checks:
        if check > step:
            return check
    return max_steps
