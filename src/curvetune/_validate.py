"""One vocabulary for refusing a bad setting: every checker raises ``ValueError`` with one line,

    OWNER: NAME must be EXPECTED, got VALUE!r

``OWNER`` is who takes the setting, as the user names it ("asha", "grid searcher",
"executor"); ``NAME`` is the option. Schedulers, searchers and executors check their options
with these in their constructors, once; study files and the command line add where the value
came from around the same line. Numbers are Python's own ``int`` and ``float``: ``True`` and
``False`` are refused wherever a number is wanted (``bool`` is an ``int`` to Python, never to
a user), and a real ``bool`` is wanted wherever a switch is. Parameter domains keep their own
checks (``domains/_checks.py``).

Each checker returns nothing; it raises or lets the value pass.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any, NoReturn


def refuse(owner: str, name: str, expected: str, value: Any) -> NoReturn:
    """Raise the one line: ``OWNER: NAME must be EXPECTED, got VALUE!r``."""
    raise ValueError(f"{owner}: {name} must be {expected}, got {value!r}")


def is_whole(value: Any) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An ``int`` or ``float`` that is not a ``bool`` (NaN passes here; ``number`` refuses it)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def whole(
    owner: str,
    name: str,
    value: Any,
    minimum: int = 1,
    *,
    allow_none: bool = False,
) -> None:
    """A whole number (``int``, not ``bool``) >= ``minimum``; None too with ``allow_none``."""
    if allow_none and value is None:
        return
    if not is_whole(value) or value < minimum:
        expected = f"a whole number >= {minimum}"
        refuse(owner, name, expected + (" or None" if allow_none else ""), value)


def number(
    owner: str,
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = False,
    allow_none: bool = False,
) -> None:
    """A number (``int`` or ``float``, not ``bool``, never NaN) within the bounds given.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``; with both bounds the
    message states an interval, ``(0, 1]``, else a comparison, ``> 0``. ``finite`` also
    refuses infinities (bounds do that on their own side); ``allow_none`` lets None pass.
    """
    if allow_none and value is None:
        return
    ok = is_number(value) and not math.isnan(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if ok and finite:
        ok = math.isfinite(value)
    if not ok:
        expected = f"a {'finite ' if finite else ''}number{_bounds(low, high, low_open, high_open)}"
        refuse(owner, name, expected + (" or None" if allow_none else ""), value)


def one_of(owner: str, name: str, value: Any, allowed: Iterable[Any]) -> None:
    """One of ``allowed``, of the same type too (so ``True`` is not ``1``, nor ``1`` ``1.0``)."""
    allowed = tuple(allowed)
    if not any(type(value) is type(a) and value == a for a in allowed):
        refuse(owner, name, "one of " + ", ".join(repr(a) for a in allowed), value)


def flag(owner: str, name: str, value: Any) -> None:
    """A real ``bool``: 1, "yes" and None are refused."""
    if not isinstance(value, bool):
        refuse(owner, name, "true or false", value)


def text(owner: str, name: str, value: Any, *, allow_none: bool = False) -> None:
    """A non-empty ``str``; None too with ``allow_none``."""
    if allow_none and value is None:
        return
    if not isinstance(value, str) or not value:
        refuse(owner, name, "a non-empty string" + (" or None" if allow_none else ""), value)


def path(owner: str, name: str, value: Any, *, allow_none: bool = False) -> None:
    """A non-empty ``str`` or an ``os.PathLike`` (a directory, a file); None too with
    ``allow_none``."""
    if allow_none and value is None:
        return
    if not (isinstance(value, os.PathLike) or (isinstance(value, str) and value)):
        refuse(owner, name, "a path" + (" or None" if allow_none else ""), value)


def _bounds(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""
