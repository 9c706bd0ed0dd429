"""``InvalidSchedule`` and the value checks shared by the learning-rate schedules
(``curvetune.models.schedules``) and the config keys that build them
(``curvetune.models.schedule_config``), so both word a bad value the same way.
"""

from __future__ import annotations

import math
import numbers


class InvalidSchedule(ValueError):
    """A schedule's arguments are invalid; the message is one line naming the class and field.

    ``field``, ``requirement`` and ``value`` are kept (when the error concerns one field) so
    ``schedule_from_config`` can name the config key instead of the class field.
    """

    def __init__(
        self,
        kind: str,
        detail: str,
        *,
        field: str | None = None,
        requirement: str | None = None,
        value: object = None,
    ) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.field = field
        self.requirement = requirement
        self.value = value


# ----------------------------------------------------------------------------- value checks

_RATE = "a finite number >= 0 (a learning rate)"
_DECAY = "a number in (0, 1] (a decay: 1 keeps the rate, values > 1 would grow it)"


def _field_error(kind: str, name: str, requirement: str, value: object) -> InvalidSchedule:
    return InvalidSchedule(
        kind,
        f"{name} must be {requirement}, got {name}={value!r}",
        field=name,
        requirement=requirement,
        value=value,
    )


def _real(value: object) -> float | None:
    """``value`` as a finite float if it is a real number (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _whole(value: object) -> int | None:
    """``value`` as an int if it is an integer or an integral float (not a bool), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    number = _real(value)
    return int(number) if number is not None and number.is_integer() else None


def _check_rate(kind: str, name: str, value: object) -> float:
    number = _real(value)
    if number is None or number < 0:
        raise _field_error(kind, name, _RATE, value)
    return number


def _check_decay(kind: str, name: str, value: object) -> float:
    number = _real(value)
    if number is None or not 0 < number <= 1:
        raise _field_error(kind, name, _DECAY, value)
    return number


def _check_count(kind: str, name: str, value: object, low: int = 1) -> int:
    number = _whole(value)
    if number is None or number < low:
        raise _field_error(kind, name, f"a whole number >= {low}", value)
    return number
