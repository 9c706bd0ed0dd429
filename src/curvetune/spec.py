"""What a study is: its objective, space, metric and budget (``StudySpec``), and how a
stored description is compared with a new one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _validate
from .space import Space
from .storage import Store
from .types import Mode

# The objective a study names when the user's own loop trains it (``Study.ask``).
ASK_TELL = "(ask/tell)"


class StudyMismatchError(ValueError):
    """The directory holds a different study than the one described."""


@dataclass(frozen=True)
class StudySpec:
    """What a study is; fixed for its lifetime (changing it means a new study directory)."""

    objective: str
    space: Space
    metric: str
    mode: Mode
    max_steps: int
    seed: int = 0
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {self.mode!r}")
        if not _validate.is_whole(self.max_steps) or self.max_steps < 1:
            raise ValueError(f"max_steps must be a whole number >= 1, got {self.max_steps!r}")
        if not _validate.is_whole(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be a whole number >= 0, got {self.seed!r}")
        if not self.metric:
            raise ValueError("metric must name the reported metric to optimise")
        clash = sorted(set(self.fixed) & set(self.space.names))
        if clash:
            raise ValueError(f"{clash[0]!r} is both a fixed setting and a searched parameter")

    def to_json(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "space": self.space.to_json(),
            "metric": self.metric,
            "mode": self.mode,
            "max_steps": self.max_steps,
            "seed": self.seed,
            "fixed": dict(self.fixed),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StudySpec:
        return cls(**{**data, "space": Space.from_json(data["space"])})

    def changes_from(self, stored: Mapping[str, Any]) -> list[str]:
        """The keys whose stored value differs from this spec's (tuples and lists, int and
        float keys compare as JSON stores them)."""
        mine = self.to_json()
        return [key for key in mine if _normal(stored.get(key)) != _normal(mine[key])]


def reconcile(store: Store, spec: StudySpec, where: object) -> bool:
    """Store the spec of a new study, or check it against the stored one. True when the
    stored study differs but has no results yet: the caller describes it anew (under the
    lock), since fixing a typo in the objective or the metric must not need a new
    directory. A study with results that differs is refused."""
    stored = store.spec()
    if stored is None:
        store.set_spec(spec.to_json())
        return False
    changed = spec.changes_from(stored)
    if not changed:
        return False
    if not store.has_results():
        return True
    key = changed[0]
    raise StudyMismatchError(
        f"{where} holds a study with a different {key} "
        f"({stored.get(key)!r}, not {spec.to_json()[key]!r}) and has results; use a new directory"
    )


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True))
