"""Where in a trial's budget a rule looks: steps given as absolute numbers or as fractions.

``at(value, max_steps)``: an int >= 1 is a step; a float in (0, 1] is that fraction of the
budget, rounded up (10% of 52 epochs is step 6). Every stopping rule states its check points
this way, so "first check at 10% of the budget" means the same for all of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .. import _validate

StepSpec = int | float


def validate(owner: str, name: str, value: StepSpec) -> None:
    """Refuse a step spec that is neither a step >= 1 nor a fraction in (0, 1] (``True`` is
    neither), with ``_validate``'s one line."""
    if _validate.is_whole(value):
        if value < 1:
            _validate.refuse(owner, name, "a step >= 1 or a fraction in (0, 1]", value)
    elif isinstance(value, float):
        if not 0 < value <= 1:
            _validate.refuse(owner, f"{name} as a fraction of the budget", "in (0, 1]", value)
    else:
        _validate.refuse(owner, name, "a step (int >= 1) or a fraction in (0, 1]", value)


def validate_all(owner: str, name: str, values: object) -> None:
    """A list of step specs, or None (explicit check steps, cumulative points)."""
    if values is None:
        return
    if not isinstance(values, list | tuple):
        _validate.refuse(owner, name, "a list of steps or fractions, or None", values)
    for value in values:
        validate(owner, name, value)


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
