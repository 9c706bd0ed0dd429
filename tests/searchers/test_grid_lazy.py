"""Grid search on grids too large to build: points computed from their index, a lazy shuffle,
an interleaved default order that spreads a cut budget over every axis, and the note that says
how many points a budget leaves out."""

from __future__ import annotations

import itertools
import time
import tracemalloc

import numpy as np
import pytest
from test_searchers import history, put

from curvetune.searchers import GridSearcher
from curvetune.space import Choice, Float, Int, Space
from curvetune.types import TrialState

HUGE = Space({f"p{i}": Float(0, 1) for i in range(10)})  # 10 points each: 1e10 points
MEMORY_LIMIT = 50 * 2**20  # bytes; building the grid would take hundreds of GB


def propose(searcher, space, h, count):
    """Ask ``count`` times, recording each proposal as a running trial, as the controller does."""
    proposed = []
    for _ in range(count):
        config = searcher.suggest(space, h, np.random.default_rng(0))
        assert config is not None
        proposed.append(config)
        put(h, config, state=TrialState.RUNNING)
    return proposed


def traced(fn):
    """``fn()``'s result and the peak of the Python memory it allocated, in bytes."""
    tracemalloc.start()
    try:
        result = fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result, peak


def values(config, space):
    return tuple(config[name] for name in space.names)


# ----------------------------------------------------------------------------- huge grids


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_1e10_point_grid_proposes_distinct_points_without_building_the_grid(shuffle):
    searcher = GridSearcher(points=10, shuffle=shuffle)
    assert searcher.grid_size(HUGE) == 10**10
    start = time.perf_counter()
    proposed, peak = traced(lambda: propose(searcher, HUGE, history(), 4))
    seconds = time.perf_counter() - start
    assert peak < MEMORY_LIMIT, f"{peak / 2**20:.1f} MiB for 4 points of a 1e10 grid"
    print(f"1e10 grid, shuffle={shuffle}: 4 points, peak {peak / 1024:.0f} KiB, {seconds:.4f} s")
    assert len({values(c, HUGE) for c in proposed}) == 4
    axes = HUGE.grid_axes(10)
    for config in proposed:
        assert list(config) == list(HUGE.names)
        assert all(config[name] in axis for name, axis in zip(HUGE.names, axes, strict=True))


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_resumed_huge_grid_carries_on_where_the_uninterrupted_one_is(shuffle):
    uninterrupted = propose(GridSearcher(points=10, shuffle=shuffle), HUGE, history(), 8)
    h = history()
    for config in uninterrupted[:3]:
        put(h, {**config, "epochs": 2}, value=0.5)  # a finished study's trials, extra keys too
    fresh = GridSearcher(points=10, shuffle=shuffle)  # a new process: nothing cached
    resumed, peak = traced(lambda: propose(fresh, HUGE, h, 5))
    assert resumed == uninterrupted[3:]
    assert peak < MEMORY_LIMIT


def test_fine_lattices_are_counted_and_indexed_without_being_built():
    space = Space({"x": Float(0, 1, step=2**-30), "n": Int(0, 10**12, step=1), "k": Int(5, 10**12)})
    (size, axes), peak = traced(lambda: (space.grid_size(3), space.grid_axes(3)))
    assert size == (2**30 + 1) * (10**12 + 1) * 3
    assert peak < 2**20
    assert (len(axes[0]), axes[0][0], axes[0][-1], axes[0][2**29]) == (2**30 + 1, 0, 1, 0.5)
    assert isinstance(axes[1], range) and (len(axes[1]), axes[1][-1]) == (10**12 + 1, 10**12)
    assert axes[2] == (5, 500_000_000_002, 10**12)  # 3 points: an ordinary tuple
    proposed, peak = traced(lambda: propose(GridSearcher(), space, history(), 3))
    assert peak < MEMORY_LIMIT and len({values(c, space) for c in proposed}) == 3
    assert all(space.contains(c) for c in proposed)


@pytest.mark.parametrize(
    "domain",
    [
        Float(0, 1, step=0.1),
        Float(-1, 1.05, step=0.25),
        Float(1e-3, 1, log=True, points=5),
        Int(0, 20, step=5),
        Int(1, 3),
        Int(0, 100),
        Choice(["a", 2, False]),
    ],
)
def test_a_lazy_axis_holds_the_domains_grid(domain):
    axis = domain.grid_axis(4)
    assert tuple(axis) == domain.grid(4) == tuple(axis[i] for i in range(len(axis)))
    assert axis[-1] == domain.grid(4)[-1] and tuple(axis[1:3]) == domain.grid(4)[1:3]
    with pytest.raises(IndexError):
        axis[len(axis)]


# ----------------------------------------------------------------------------- order


def test_the_shuffled_order_is_fixed_and_visits_every_point_once():
    for shape in [(1,), (2,), (3,), (7,), (3, 3, 3), (4, 5, 6), (13, 11)]:
        space = Space({f"a{i}": Choice(list(range(n))) for i, n in enumerate(shape)})
        grid = [values(c, space) for c in space.grid()]
        first = propose(GridSearcher(shuffle=True), space, history(), len(grid))
        second = propose(GridSearcher(shuffle=True), space, history(), len(grid))
        assert first == second  # a new instance, the same order: resumable
        assert sorted(values(c, space) for c in first) == sorted(grid), shape
        assert GridSearcher(shuffle=True).suggest(space, _full(space, first), None) is None
        if len(grid) > 6:
            assert [values(c, space) for c in first] != grid

    # On a grid too large to list, too: two instances agree, and that without building it.
    def twice():
        return [propose(GridSearcher(points=10, shuffle=True), HUGE, history(), 5) for _ in "ab"]

    (a, b), peak = traced(twice)
    assert a == b and len({values(c, HUGE) for c in a}) == 5 and peak < MEMORY_LIMIT


def _full(space, configs):
    h = history()
    for config in configs:
        put(h, config)
    return h


LR = Float(1e-4, 1e-1, log=True)
WD = Float(0, 0.1)


def test_a_cut_5x5_grid_spreads_its_trials_over_both_axes():
    space = Space({"lr": LR, "wd": WD})
    order = propose(GridSearcher(points=5), space, history(), 25)
    index = [tuple(space[n].grid(5).index(c[n]) for n in space.names) for c in order]
    for m in range(1, 6):  # any budget up to 5 trials: m learning rates and m weight decays
        assert len({lr for lr, _ in index[:m]}) == m
        assert len({wd for _, wd in index[:m]}) == m
    assert index[:5] != [(i, i) for i in range(5)]  # not the diagonal: low lr with low wd...
    assert sorted(index) == list(itertools.product(range(5), repeat=2))  # each point once
    for block in range(5):  # each run of 5 takes every value of each axis again
        assert {lr for lr, _ in index[5 * block : 5 * block + 5]} == set(range(5))
        assert {wd for _, wd in index[5 * block : 5 * block + 5]} == set(range(5))


def test_a_cut_grid_of_unequal_axes_covers_each_axis_as_well_as_it_can():
    space = Space({"opt": Choice(["sgd", "adam"]), "lr": LR, "width": Int(16, 64, points=3)})
    order = propose(GridSearcher(points=6), space, history(), 36)
    sizes = {"opt": 2, "lr": 6, "width": 3}
    for m in range(1, 7):  # the first 6 take every value of every axis, lr's 6 included
        for name, size in sizes.items():
            assert len({c[name] for c in order[:m]}) == min(m, size), (m, name)
    assert len({values(c, space) for c in order}) == 36
    assert GridSearcher(points=6).suggest(space, _full(space, order), None) is None


# ----------------------------------------------------------------------------- the note


def test_unvisited_note_says_how_many_points_a_budget_leaves_out():
    note = GridSearcher(points=10).unvisited_note(HUGE, 4)
    assert note == (
        "grid: 10000000000 points, budget 4 trials: 9999999996 points will not run "
        "(order: interleaved, so the trials spread over every parameter's values)"
    )
    small = Space({"lr": LR, "wd": WD})
    searcher = GridSearcher(points=5)
    assert searcher.unvisited_note(small, 25) is None
    assert searcher.unvisited_note(small, 100) is None
    assert searcher.unvisited_note(small, 24) == (
        "grid: 25 points, budget 24 trials: 1 point will not run "
        "(order: interleaved, so the trials spread over every parameter's values)"
    )
    shuffled = GridSearcher(points=5, shuffle=True).unvisited_note(small, 1)
    assert shuffled == (
        "grid: 25 points, budget 1 trial: 24 points will not run (order: shuffled, fixed seed)"
    )
    for bad in (-1, 2.5, True, None):
        with pytest.raises(ValueError, match="trials must be an integer >= 0"):
            searcher.unvisited_note(small, bad)
