"""Searchers: grid (exhaustive, resumable), random (reproducible) and aging evolution."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from curvetune.searchers import (
    EvolutionSearcher,
    GridSearcher,
    RandomSearcher,
    Searcher,
    make_searcher,
)
from curvetune.searchers.evolution import mutate, mutate_value
from curvetune.space import Choice, Float, Int, Space
from curvetune.types import History, Report, Trial, TrialState

SPACE3 = Space({"opt": Choice(["a", "b", "c", "d"]), "width": Int(1, 100), "lr": Float(0, 1)})


def history(mode="max") -> History:
    return History(metric="acc", mode=mode, max_steps=1)


def put(h: History, config, value=None, state=TrialState.COMPLETED, trial_id=None) -> Trial:
    trial_id = len(h) if trial_id is None else trial_id
    reports = () if value is None else (Report(1, {"acc": value}),)
    trial = Trial(id=trial_id, config=dict(config), seed=0, state=state, reports=reports)
    h._put(trial)
    return trial


def key(config, space=SPACE3):
    return tuple(config[name] for name in space.names)


# ----------------------------------------------------------------------------- factory


def test_make_searcher_and_protocol():
    assert isinstance(make_searcher("grid", points=4, shuffle=True), GridSearcher)
    assert isinstance(make_searcher("random"), RandomSearcher)
    evolution = make_searcher("evolution", population=10, tournament=3)
    assert (evolution.population, evolution.tournament) == (10, 3)
    for searcher in (GridSearcher(), RandomSearcher(), EvolutionSearcher()):
        assert isinstance(searcher, Searcher)


def test_make_searcher_errors_list_what_is_allowed():
    with pytest.raises(
        ValueError,
        match="unknown searcher 'bayes'; allowed: cmaes, evolution, gp, grid, random, sobol, tpe",
    ):
        make_searcher("bayes")
    with pytest.raises(
        ValueError,
        match="searcher 'evolution': unknown option 'pop'; "
        "allowed: population, tournament, mutation_rate",
    ):
        make_searcher("evolution", pop=3)
    with pytest.raises(
        ValueError, match="searcher 'random': unknown option 'points'; allowed: none"
    ):
        make_searcher("random", points=3)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: GridSearcher(points=1), "points must be a whole number >= 2, got 1"),
        (lambda: GridSearcher(points=2.0), "points must be a whole number >= 2"),
        (lambda: GridSearcher(shuffle="yes"), "shuffle must be true or false"),
        (lambda: EvolutionSearcher(population=1), "population must be a whole number >= 2, got 1"),
        (
            lambda: EvolutionSearcher(population=5, tournament=6),
            "tournament must be a whole number from 1 to population (5), got 6",
        ),
        (lambda: EvolutionSearcher(tournament=0), "tournament must be a whole number from 1"),
        (lambda: EvolutionSearcher(mutation_rate=0), "mutation_rate must be a number in (0, 1]"),
        (lambda: EvolutionSearcher(mutation_rate=1.5), "mutation_rate must be a number in (0, 1]"),
    ],
)
def test_searcher_option_errors(build, message):
    with pytest.raises(ValueError) as info:
        build()
    assert message in str(info.value)


# ----------------------------------------------------------------------------- grid


def run_grid(searcher, space, h, rng, extra=None):
    """Play the controller: ask, then record the trial, until the searcher is exhausted."""
    proposed = []
    while (config := searcher.suggest(space, h, rng)) is not None:
        proposed.append(config)
        put(h, {**config, **(extra or {})}, state=TrialState.RUNNING)
        assert len(proposed) <= 10_000
    return proposed


def grid_order(space, points=3, shuffle=False):
    """The searcher's full proposal order, from an uninterrupted run on an empty history."""
    return run_grid(GridSearcher(points=points, shuffle=shuffle), space, history(), None)


def test_grid_yields_every_point_once_then_none():
    h, rng = history(), np.random.default_rng(0)
    searcher = GridSearcher(points=4)
    proposed = run_grid(searcher, SPACE3, h, rng, extra={"epochs": 3})  # extra fixed keys
    assert sorted(map(key, proposed)) == sorted(map(key, SPACE3.grid(4)))
    assert len({key(c) for c in proposed}) == 64
    assert proposed[0] == SPACE3.grid(4)[0]
    # Interleaved, not Space.grid's order: the first 4 points take all 4 values of each axis.
    assert proposed != SPACE3.grid(4)
    assert all(len({c[name] for c in proposed[:4]}) == 4 for name in SPACE3.names)
    assert searcher.suggest(SPACE3, h, rng) is None
    assert searcher.suggest(SPACE3, h, rng) is None


def test_grid_is_pure_until_the_trial_is_recorded():
    h, rng = history(), np.random.default_rng(0)
    searcher = GridSearcher()
    assert searcher.suggest(SPACE3, h, rng) == searcher.suggest(SPACE3, h, rng) == SPACE3.grid()[0]


def test_grid_resumes_from_a_history():
    order = grid_order(SPACE3)
    h = history()
    done = order[:5] + order[9:12] + order[-1:]
    for config in done:
        put(h, {**config, "seed_offset": 1}, value=0.5)
    put(h, {"opt": "z", "width": 1, "lr": 0.0})  # foreign trials, not on the grid
    put(h, {"lr": 0.5})
    put(h, {"opt": ["a"], "width": 1, "lr": 0.0})  # unhashable value
    searcher = GridSearcher()  # a fresh instance: nothing cached
    proposed = run_grid(searcher, SPACE3, h, np.random.default_rng(0))
    assert proposed == [c for c in order if c not in done]


def test_grid_notices_trials_it_did_not_create_and_new_histories():
    order = grid_order(SPACE3)
    h, rng = history(), np.random.default_rng(0)
    searcher = GridSearcher()
    assert searcher.suggest(SPACE3, h, rng) == order[0]
    put(h, order[1])  # someone else ran the second point
    put(h, order[0])
    assert searcher.suggest(SPACE3, h, rng) == order[2]
    # A different history (a resumed study) is recounted from scratch.
    h2 = history()
    put(h2, order[0])
    assert searcher.suggest(SPACE3, h2, rng) == order[1]
    # A different space rebuilds the grid.
    small = Space({"x": Choice([1, 2])})
    assert run_grid(searcher, small, history(), rng) == [{"x": 1}, {"x": 2}]


def test_grid_shuffle_is_a_fixed_permutation():
    h1, h2 = history(), history()
    first = run_grid(GridSearcher(shuffle=True), SPACE3, h1, np.random.default_rng(1))
    second = run_grid(GridSearcher(shuffle=True), SPACE3, h2, np.random.default_rng(2))
    grid = SPACE3.grid(3)
    assert first == second  # independent of the rng: resumable
    assert first != grid
    assert sorted(map(key, first)) == sorted(map(key, grid))
    assert len(first) == len(grid)


def test_grid_points_per_parameter_override_the_default():
    space = Space({"a": Float(0, 1, points=2), "b": Float(0, 1), "c": Int(0, 9, step=3)})
    proposed = run_grid(GridSearcher(points=5), space, history(), np.random.default_rng(0))
    assert len(proposed) == 2 * 5 * 4
    assert GridSearcher(points=5).grid_size(space) == 40


# ----------------------------------------------------------------------------- random


def test_random_is_reproducible_per_seed_and_never_exhausted():
    searcher, h = RandomSearcher(), history()

    def run(seed):
        rng = np.random.default_rng(seed)
        return [searcher.suggest(SPACE3, h, rng) for _ in range(50)]

    assert run(1) == run(1)
    assert run(1) != run(2)
    assert all(SPACE3.contains(c) for c in run(3))


# ----------------------------------------------------------------------------- evolution


TOY = Space({"x": Float(0, 1), "y": Float(0, 1), "z": Float(0, 1), "k": Choice(["a", "b", "c"])})


def test_evolution_samples_randomly_until_the_population_is_full():
    h = history()
    searcher = EvolutionSearcher(population=4, tournament=2)
    for i in range(3):
        put(h, TOY.sample(np.random.default_rng(i)), value=float(i))
    put(h, TOY.sample(np.random.default_rng(9)), state=TrialState.RUNNING)
    put(h, TOY.sample(np.random.default_rng(9)), value=1.0, state=TrialState.FAILED)
    put(h, TOY.sample(np.random.default_rng(9)), value=float("nan"), state=TrialState.DIVERGED)
    put(h, TOY.sample(np.random.default_rng(9)), value=float("inf"))  # completed, no finite score
    # Three trials with a finite score: still the random phase.
    assert searcher.suggest(TOY, h, np.random.default_rng(5)) == TOY.sample(
        np.random.default_rng(5)
    )
    put(h, TOY.sample(np.random.default_rng(3)), value=0.5, state=TrialState.STOPPED)
    assert searcher.suggest(TOY, h, np.random.default_rng(5)) != TOY.sample(
        np.random.default_rng(5)
    )


def differences(child, parent, space=TOY):
    return [name for name in space.names if child[name] != parent[name]]


@pytest.mark.parametrize("mode", ["max", "min"])
def test_evolution_child_mutates_one_parameter_of_the_tournament_winner(mode):
    h = history(mode)
    rng = np.random.default_rng(0)
    trials = [put(h, {**TOY.sample(rng), "epochs": 3}, value=float(v)) for v in rng.permutation(10)]
    best = max(trials, key=lambda t: t.reports[-1].metrics["acc"] * (1 if mode == "max" else -1))
    searcher = EvolutionSearcher(population=10, tournament=10)  # the tournament is everyone
    for seed in range(200):
        child = searcher.suggest(TOY, h, np.random.default_rng(seed))
        assert list(child) == list(TOY.names)  # fixed keys are the controller's business
        assert TOY.contains(child)
        assert len(differences(child, best.config)) == 1


def test_evolution_tournament_winner_is_the_best_of_its_draw():
    h = history("max")
    rng = np.random.default_rng(0)
    for v in range(10):
        put(h, TOY.sample(rng), value=float(v))
    searcher = EvolutionSearcher(population=10, tournament=3)
    members = searcher.members(h)
    assert [t.id for t, _ in members] == list(range(10))
    wins = [searcher.select(members, h, np.random.default_rng(s)).id for s in range(3000)]
    # The winner beats the other two it was drawn with, so it is never among the worst two;
    # trial i wins with probability C(i, 2) / C(10, 3).
    assert min(wins) >= 2
    assert wins.count(9) / len(wins) == pytest.approx(36 / 120, abs=0.03)
    assert wins.count(2) / len(wins) == pytest.approx(1 / 120, abs=0.01)


def test_evolution_population_ages_out_old_trials():
    h = history("max")
    rng = np.random.default_rng(0)
    champion = put(h, TOY.sample(rng), value=100.0)  # excellent, but oldest
    newer = [put(h, TOY.sample(rng), value=float(v)) for v in range(5)]
    put(h, TOY.sample(rng), state=TrialState.RUNNING)
    searcher = EvolutionSearcher(population=5, tournament=5)
    assert [t.id for t, _ in searcher.members(h)] == [t.id for t in newer]
    child = searcher.suggest(TOY, h, np.random.default_rng(1))
    assert len(differences(child, newer[-1].config)) == 1
    assert champion.id not in [t.id for t, _ in searcher.members(h)]


def test_evolution_mutation_rate_mutates_each_parameter_with_that_probability():
    rng = np.random.default_rng(0)
    parent = TOY.sample(rng)
    assert len(differences(mutate(TOY, parent, rng, 1.0), parent)) == 4
    counts = [len(differences(mutate(TOY, parent, rng, 0.5), parent)) for _ in range(2000)]
    assert min(counts) >= 1
    assert statistics.mean(counts) == pytest.approx(2.0 + 1 / 16, abs=0.15)


def test_mutated_values_always_differ_when_the_domain_allows():
    rng = np.random.default_rng(0)
    for domain, value in [
        (Choice(["a", "b"]), "a"),
        (Choice([True, False]), False),
        (Int(0, 1), 1),
        (Int(1, 2, log=True), 1),
        (Int(0, 10, step=10), 0),
        (Float(0, 1, step=1.0), 1.0),
        (Float(0, 1), 0.5),
        (Float(1e-5, 1, log=True), 1e-5),
        (Int(1, 1000, log=True), 1000),
    ]:
        for _ in range(300):
            mutated = mutate_value(domain, value, rng)
            assert mutated != value and domain.contains(mutated), (domain, value, mutated)


def test_mutate_leaves_single_valued_parameters_and_repairs_out_of_domain_values():
    space = Space({"fixed": Choice(["only"]), "one": Int(3, 3), "x": Int(0, 5)})
    rng = np.random.default_rng(0)
    for _ in range(50):
        child = mutate(space, {"fixed": "only", "one": 3, "x": 2}, rng)
        assert child["fixed"] == "only" and child["one"] == 3 and child["x"] != 2
    child = mutate(space, {"fixed": "gone", "x": 99}, rng)  # the space changed under a study
    assert space.contains(child)


def _best_found(searcher, seed, trials=150):
    """Run a sequential study maximising -(distance to (0.3, 0.3, 0.3), plus a choice)."""
    h, rng = history("max"), np.random.default_rng(seed)
    best = -np.inf
    for i in range(trials):
        c = searcher.suggest(TOY, h, rng)
        value = -((c["x"] - 0.3) ** 2 + (c["y"] - 0.3) ** 2 + (c["z"] - 0.3) ** 2)
        value -= 0.05 * (c["k"] != "b")
        put(h, c, value=value, trial_id=i)
        best = max(best, value)
    return best


def test_evolution_beats_random_search_on_a_toy_problem():
    seeds = range(12)
    evolution = [_best_found(EvolutionSearcher(population=20, tournament=5), s) for s in seeds]
    random = [_best_found(RandomSearcher(), s) for s in seeds]
    assert statistics.mean(evolution) > statistics.mean(random)
    assert sum(e > r for e, r in zip(evolution, random, strict=True)) >= 9
