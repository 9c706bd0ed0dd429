"""Grid search: every point of the full factorial grid, each exactly once (OpenDIEL's engine).

The searcher is resumable and pure: the next point is the first grid point (in grid order, or
in a fixed shuffled order) whose config has no trial in the history yet. Configs are compared
on the space's parameters only, since trials' configs may carry extra fixed keys. The grid,
the set of configs already tried and a cursor are cached on the instance, so a study of n
points costs O(n) in all rather than O(n^2); the cache follows the history it is given
(trials are only ever added to a ``History``) and is rebuilt when the space, the history
object or its length change in a way the cache cannot follow.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np

from curvetune.space import Space
from curvetune.types import History

_MISSING = object()


class GridSearcher:
    """Proposes every grid point once, then None.

    ``points`` is the number of values per Float (and per Int with a larger range) when the
    parameter does not set its own; ``shuffle`` visits the points in a permutation drawn from a
    generator with a fixed seed, so the order is the same on every run and after a resume.
    """

    SHUFFLE_SEED = 20240917

    __slots__ = (
        "_cursor",
        "_history",
        "_keys",
        "_order",
        "_points",
        "_seen",
        "_space",
        "_synced",
        "points",
        "shuffle",
    )

    def __init__(self, *, points: int = 3, shuffle: bool = False) -> None:
        if isinstance(points, bool) or not isinstance(points, int) or points < 2:
            raise ValueError(f"grid searcher: points must be an integer >= 2, got {points!r}")
        if not isinstance(shuffle, bool):
            raise ValueError(f"grid searcher: shuffle must be true or false, got {shuffle!r}")
        self.points = points
        self.shuffle = shuffle
        self._space: Space | None = None
        self._points: list[dict[str, Any]] = []  # the grid, in grid order
        self._keys: list[tuple[Any, ...]] = []  # each point's values, for set membership
        self._order: list[int] = []  # indices into _points, in proposal order
        self._history: History | None = None
        self._synced = 0  # how many of the history's trials _seen accounts for
        self._seen: set[Hashable] = set()
        self._cursor = 0  # every point before _order[_cursor] has a trial

    def __repr__(self) -> str:
        return f"GridSearcher(points={self.points}, shuffle={self.shuffle})"

    def grid_size(self, space: Space) -> int:
        """How many points this searcher proposes for ``space``."""
        return space.grid_size(self.points)

    def suggest(
        self, space: Space, history: History, rng: np.random.Generator
    ) -> dict[str, Any] | None:
        """The first grid point without a trial, or None when every point has one. ``rng`` is
        not used: the order is fixed, so that a resumed study carries on where it stopped."""
        if space is not self._space and space != self._space:
            self._build(space)
        self._sync(space, history)
        order, keys, seen = self._order, self._keys, self._seen
        while self._cursor < len(order):
            index = order[self._cursor]
            if keys[index] not in seen:
                return dict(self._points[index])
            self._cursor += 1
        return None

    def _build(self, space: Space) -> None:
        self._space = space
        self._points = space.grid(self.points)
        self._keys = [tuple(point.values()) for point in self._points]
        if self.shuffle:
            permutation = np.random.default_rng(self.SHUFFLE_SEED).permutation(len(self._points))
            self._order = permutation.tolist()
        else:
            self._order = list(range(len(self._points)))
        self._history = None  # keys depend on the space's names: recount

    def _sync(self, space: Space, history: History) -> None:
        """Fold the trials added since the last call into ``_seen`` (all of them if the cache
        cannot follow: another history, or one that shrank)."""
        count = len(history)
        if history is not self._history or count < self._synced:
            self._history, self._synced, self._seen, self._cursor = history, 0, set(), 0
        new = count - self._synced
        if new <= 0:
            return
        # A dict keeps insertion order and trials are only added, so the new ones are last.
        trials = itertools.islice(reversed(history.trials.values()), new)
        names = space.names
        for trial in trials:
            key = _key(trial.config, names)
            if key is not None:
                self._seen.add(key)
        self._synced = count


def _key(config: Mapping[str, Any], names: tuple[str, ...]) -> Hashable | None:
    """The config's values of ``names`` as a hashable key; None if it cannot be a grid point."""
    values = tuple(config.get(name, _MISSING) for name in names)
    if any(value is _MISSING for value in values):
        return None
    try:
        hash(values)
    except TypeError:  # e.g. a list value: never equal to a grid point's scalar
        return None
    return values
