"""Grid search: every point of the full factorial grid, each exactly once (OpenDIEL's engine).

The grid is never built. The i-th point is computed from i and one small sequence of values per
parameter (``Space.grid_axes``), so memory and start-up do not depend on the grid's size: 10
parameters of 10 values (1e10 points) cost what 10 points do.

Order. By default the points come interleaved, so that a trial budget smaller than the grid
still spreads over every parameter's values. The axes are ranked by size, largest first (ties
in space order); i is written in mixed radix over them with the largest as the fastest digit,
``i = e0 + n0 * (e1 + n1 * (e2 + ...))``, and the point takes value ``x0 = e0`` of axis 0 and
``xk = (ck * e0 + e1 + ... + ek) mod nk`` of axis k. The multiplier ``ck`` is coprime with
``nk``, near ``nk * frac(k * 0.618...)`` and not 1 or ``nk - 1`` where ``nk`` allows, so that
the first points are not the grid's diagonal (every parameter low together, then high
together) and axes of one size mostly move differently (sizes 2, 3, 4 and 6 have no such
multiplier, and a size has only so many: of 10 axes of 10 values, several share one). Hence:

* the first m points, for any m up to the largest axis's size, take min(m, n) distinct values
  of every axis of n values: 4 trials of a 5 x 5 grid try 4 learning rates and 4 values of the
  other parameter, and every value of every axis comes within the first n0 points;
* each later run of n0 points (e1, e2, ... fixed) does the same, the axes shifted against each
  other: a 5 x 5 grid is walked as 5 such runs that together hold every pair once;
* every point comes exactly once (e0 = x0, then each ek is recovered from xk in turn, so the
  map is a bijection), and the first one is ``Space.grid``'s first.

``shuffle`` visits the points in a pseudo-random permutation of ``Space.grid``'s order instead:
a Feistel network on the indices, keyed by a fixed seed and cycle-walked into [0, n), so the
order is the same on every run and after a resume, and no list of indices is drawn.

The searcher is resumable and pure: the next point is the first one in that order whose config
has no trial in the history yet. Configs are compared on the space's parameters only, since
trials' configs may carry extra fixed keys. The set of configs already tried (one key per
trial, not per point) and a cursor (every point before it has a trial) are cached on the
instance, so a study of n trials costs O(n) in all; the cache follows the history it is given
(trials are only ever added to a ``History``) and is rebuilt when the space, the history object
or its length change in a way the cache cannot follow.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

from curvetune import _validate
from curvetune.space import Space
from curvetune.types import History

_MISSING = object()


class GridSearcher:
    """Proposes every grid point once, then None.

    ``points`` is the number of values per Float (and per Int with a larger range) when the
    parameter does not set its own; ``shuffle`` trades the interleaved order (see the module's
    docstring) for a fixed pseudo-random one, the same on every run and after a resume.
    """

    SHUFFLE_SEED = 20240917

    __slots__ = (
        "_axes",
        "_cursor",
        "_history",
        "_permutation",
        "_seen",
        "_size",
        "_space",
        "_synced",
        "_walk",
        "points",
        "shuffle",
    )

    def __init__(self, *, points: int = 3, shuffle: bool = False) -> None:
        _validate.whole("grid searcher", "points", points, 2)
        _validate.flag("grid searcher", "shuffle", shuffle)
        self.points = points
        self.shuffle = shuffle
        self._space: Space | None = None
        self._axes: tuple[Sequence[Any], ...] = ()  # each parameter's values, in space order
        self._size = 0  # how many points the grid holds
        # (axis, size, multiplier), largest axis first: the interleaved order's digits
        self._walk: tuple[tuple[int, int, int], ...] = ()
        self._permutation: _Permutation | None = None  # shuffle's order
        self._history: History | None = None
        self._synced = 0  # how many of the history's trials _seen accounts for
        self._seen: set[Hashable] = set()
        self._cursor = 0  # every point before the _cursor-th (in proposal order) has a trial

    def __repr__(self) -> str:
        return f"GridSearcher(points={self.points}, shuffle={self.shuffle})"

    def grid_size(self, space: Space) -> int:
        """How many points this searcher proposes for ``space`` (none is built to count them)."""
        return space.grid_size(self.points)

    def unvisited_note(self, space: Space, trials: int) -> str | None:
        """A one-line warning that a budget of ``trials`` leaves grid points out, and in which
        order the ones that run come; None when the budget covers the grid. For the CLI or the
        study to print, since a cut grid would otherwise be cut silently."""
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 0:
            raise ValueError(f"grid searcher: trials must be an integer >= 0, got {trials!r}")
        size = self.grid_size(space)
        if trials >= size:
            return None
        left = size - trials
        order = (
            "shuffled, fixed seed"
            if self.shuffle
            else "interleaved, so the trials spread over every parameter's values"
        )
        return (
            f"grid: {size} points, budget {trials} trial{'' if trials == 1 else 's'}: "
            f"{left} point{' will' if left == 1 else 's will'} not run (order: {order})"
        )

    def suggest(
        self, space: Space, history: History, rng: np.random.Generator
    ) -> dict[str, Any] | None:
        """The first grid point without a trial, or None when every point has one. ``rng`` is
        not used: the order is fixed, so that a resumed study carries on where it stopped."""
        if space is not self._space and space != self._space:
            self._build(space)
        self._sync(space, history)
        seen = self._seen
        while self._cursor < self._size:
            values = self._values(self._cursor)
            if values not in seen:
                return dict(zip(space.names, values, strict=True))
            self._cursor += 1
        return None

    def _build(self, space: Space) -> None:
        self._space = space
        self._axes = space.grid_axes(self.points)
        self._size = math.prod(len(axis) for axis in self._axes)
        ranked = sorted(range(len(self._axes)), key=lambda k: -len(self._axes[k]))
        self._walk = tuple(
            (k, len(self._axes[k]), _multiplier(rank, len(self._axes[k])))
            for rank, k in enumerate(ranked)
        )
        self._permutation = _Permutation(self._size, self.SHUFFLE_SEED) if self.shuffle else None
        self._history = None  # keys depend on the space's names: recount

    def _values(self, position: int) -> tuple[Any, ...]:
        """The values, in space order, of the point proposed ``position``-th."""
        axes = self._axes
        index = [0] * len(axes)
        if self._permutation is not None:  # a point of Space.grid: the last axis is fastest
            rest = self._permutation(position)
            for k in range(len(axes) - 1, -1, -1):
                rest, index[k] = divmod(rest, len(axes[k]))
        else:  # interleaved: ck * e0 + e1 + ... + ek, modulo axis k's size (module docstring)
            rest, first, total = position, 0, 0
            for rank, (k, size, multiplier) in enumerate(self._walk):
                rest, digit = divmod(rest, size)
                if rank == 0:
                    first = digit
                else:
                    total += digit
                index[k] = (multiplier * first + total) % size
        return tuple(axis[i] for axis, i in zip(axes, index, strict=True))

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


_GOLDEN = (math.sqrt(5) - 1) / 2


def _multiplier(rank: int, size: int) -> int:
    """The interleaved order's ``ck`` for the axis of that rank and size: coprime with size (so
    the first ``size`` points take every value), near ``size * frac(rank * golden)`` so that
    axes of one size differ, and neither 1 nor ``size - 1`` (a diagonal) unless size leaves no
    other choice (sizes 1, 2, 3, 4 and 6, and the largest axis, whose ``c0`` is 1)."""
    if rank == 0 or size in (1, 2, 3, 4, 6):
        return 1
    target = round((rank * _GOLDEN) % 1 * size)
    for delta in itertools.count():  # coprimes are dense: this stops within a few steps
        for candidate in (target + delta, target - delta):
            if 2 <= candidate <= size - 2 and math.gcd(candidate, size) == 1:
                return candidate
    raise AssertionError("unreachable")  # pragma: no cover


class _Permutation:
    """A fixed pseudo-random bijection on [0, n), computed per index: a balanced Feistel network
    on the numbers of 2h bits (4 ** h >= n, at most about 4n) keyed by ``seed``, cycle-walked
    (encrypted again until the result falls below n) so that it maps [0, n) onto itself. The
    round function is SHAKE-256, so the order is the same on every machine and Python."""

    ROUNDS = 6

    __slots__ = ("_bytes", "_half", "_key", "_mask", "_n")

    def __init__(self, n: int, seed: int) -> None:
        self._n = n
        self._half = (max(2, (n - 1).bit_length()) + 1) // 2
        self._mask = (1 << self._half) - 1
        self._bytes = (self._half + 7) // 8
        self._key = seed.to_bytes(8, "little")

    def __call__(self, index: int) -> int:
        if not 0 <= index < self._n:
            raise IndexError(f"index {index} out of range for a permutation of {self._n}")
        x = self._encrypt(index)
        while x >= self._n:  # the cycle through index comes back below n: this ends
            x = self._encrypt(x)
        return x

    def _encrypt(self, x: int) -> int:
        half, mask, size, key = self._half, self._mask, self._bytes, self._key
        left, right = x >> half, x & mask
        for round_ in range(self.ROUNDS):
            digest = hashlib.shake_256(key + bytes((round_,)) + right.to_bytes(size, "little"))
            left, right = right, left ^ (int.from_bytes(digest.digest(size), "little") & mask)
        return (left << half) | right


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
