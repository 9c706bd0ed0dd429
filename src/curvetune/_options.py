"""Build a named algorithm from keyword options, with errors that say what is allowed."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from typing import Any

Preset = tuple[type, Mapping[str, Any]]  # a class and the defaults a named preset gives it


def construct(
    role: str, registry: Mapping[str, type | Preset], name: str, options: Mapping[str, Any]
):
    """``registry[name](**options)``, refusing unknown names and options with one clear line.

    A registry entry is a class, or a preset ``(class, defaults)``: options override the
    preset's defaults (``"asha10"`` is ASHA with its first rung at 10% of the budget).
    """
    entry = registry.get(name)
    if entry is None:
        allowed = ", ".join(sorted(registry))
        raise ValueError(f"unknown {role} {name!r}; allowed: {allowed}")
    cls, defaults = entry if isinstance(entry, tuple) else (entry, {})
    options = {**defaults, **options}
    accepted = _parameters(cls)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        allowed = ", ".join(accepted) or "none"
        raise ValueError(f"{role} {name!r}: unknown option {unknown[0]!r}; allowed: {allowed}")
    try:
        return cls(**options)
    except TypeError as exc:
        raise ValueError(f"{role} {name!r}: {exc}") from None


def _parameters(cls: type) -> list[str]:
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls) if f.init]
    params = inspect.signature(cls.__init__).parameters.values()
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds and p.name != "self"]
