"""The CMA-ES searcher (``CmaEsSearcher``): proposals inside the space, a pure function of
(space, history, rng) (a fresh instance replays a study's proposals, a resumed study
proposes what one run straight through does), the replay's rules (generations in id order
over the settled prefix, one ``tell`` each, mode, diverged and failed trials), a Choice
refused, bad options one-line errors, and it beats random search on a quadratic."""

from __future__ import annotations

import math
import re
import statistics
from typing import Any

import numpy as np
import pytest
from conftest import best_on_quadratic, curve_study, optimize_asha, require_module, trial_configs

from curvetune.searchers import CmaEsSearcher, RandomSearcher, Searcher, make_searcher
from curvetune.space import Choice, Float, Int, Space
from curvetune.study import Study
from curvetune.types import History, Report, Trial, TrialState

require_module("cmaes")

import cmaes  # noqa: E402

SPACE = Space(
    {
        "x": Float(0.0, 1.0),
        "lr": Float(1e-4, 1e-1, log=True),
        "width": Int(8, 64, log=True),
        "depth": Int(1, 4),
    }
)
POPULATION = 4
TRIALS = 14
MAX_STEPS = 6


def history(mode: str = "max") -> History:
    return History(metric="acc", mode=mode, max_steps=1)  # type: ignore[arg-type]


def put(h: History, config, value=None, state=TrialState.COMPLETED) -> None:
    reports = () if value is None else (Report(1, {"acc": value}),)
    h._put(Trial(id=len(h), config=dict(config), seed=0, state=state, reports=reports))


def filled(n: int, mode: str = "max", seed: int = 0, space: Space = SPACE) -> History:
    """A history of ``n`` completed trials with random configs and values."""
    rng = np.random.default_rng(seed)
    h = history(mode)
    for _ in range(n):
        put(h, space.sample(rng), float(rng.random()))
    return h


def propose(h: History, seed: int = 5, **options: Any) -> dict[str, Any]:
    options.setdefault("population", POPULATION)
    return CmaEsSearcher(**options).suggest(SPACE, h, np.random.default_rng(seed))


def make_study(directory=None, space: Space = SPACE) -> Study:
    return curve_study(space, max_steps=MAX_STEPS, directory=directory)


def optimize(study: Study, searcher: Any, trials: int = TRIALS) -> None:
    optimize_asha(study, searcher, trials)


configs = trial_configs


class Watched:
    """Records each proposal a study asks for: the trials before and the generator's state."""

    def __init__(self, inner: Searcher) -> None:
        self.inner = inner
        self.calls: list[tuple[dict, dict, dict]] = []

    def suggest(self, space, history, rng):
        before, state = dict(history.trials), rng.bit_generator.state
        config = self.inner.suggest(space, history, rng)
        self.calls.append((before, state, config))
        return config


# ----------------------------------------------------------------------------- registry, options


def test_it_is_registered_and_built_by_name():
    searcher = make_searcher("cmaes", population=6, sigma=0.3)
    assert isinstance(searcher, CmaEsSearcher) and isinstance(searcher, Searcher)
    assert (searcher.population, searcher.sigma) == (6, 0.3)
    assert repr(CmaEsSearcher()) == "CmaEsSearcher(population=None, sigma=0.25)"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"population": 3}, "population must be a whole number >= 4 or None, got 3"),
        ({"population": True}, "population must be a whole number >= 4 or None, got True"),
        ({"population": 6.0}, "population must be a whole number >= 4 or None, got 6.0"),
        ({"sigma": 0}, "sigma must be a number in (0, 1], got 0"),
        ({"sigma": 1.5}, "sigma must be a number in (0, 1], got 1.5"),
        ({"sigma": math.nan}, "sigma must be a number in (0, 1], got nan"),
        ({"sigma": "0.2"}, "sigma must be a number in (0, 1], got '0.2'"),
    ],
)
def test_bad_options_are_one_line_errors(options, message):
    with pytest.raises(ValueError) as error:
        CmaEsSearcher(**options)
    assert str(error.value) == f"cmaes searcher: {message}"


def test_a_choice_parameter_is_refused_at_the_first_proposal():
    space = Space({"x": Float(0.0, 1.0), "act": Choice(["relu", "tanh"]), "n": Int(1, 3)})
    expected = (
        "cmaes searcher: the space has choice parameter(s) 'act'; CMA-ES needs numeric "
        "parameters only (Float, Int): use tpe"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        CmaEsSearcher().suggest(space, history(), np.random.default_rng(0))
    study = make_study(space=space)
    with pytest.raises(ValueError, match=re.escape(expected)):
        optimize(study, CmaEsSearcher())
    assert len(study.history) == 0


def test_single_valued_parameters_are_not_searched():
    space = Space({"x": Float(0.0, 1.0), "act": Choice(["relu"]), "n": Int(2, 2)})
    h = filled(9, space=space)
    config = CmaEsSearcher(population=4).suggest(space, h, np.random.default_rng(1))
    assert config["act"] == "relu" and config["n"] == 2 and 0.0 <= config["x"] <= 1.0
    fixed = Space({"act": Choice(["relu"]), "n": Int(2, 2)})
    assert CmaEsSearcher().suggest(fixed, h, np.random.default_rng(1)) == {"act": "relu", "n": 2}


# ----------------------------------------------------------------------------- in a study


def test_every_proposal_is_inside_the_space_and_a_fresh_instance_proposes_the_same():
    searcher = Watched(CmaEsSearcher(population=POPULATION))
    study = make_study()
    optimize(study, searcher)
    assert len(searcher.calls) == TRIALS
    assert any(t.state is TrialState.STOPPED for t in study.history.trials.values())
    for before, state, config in searcher.calls:
        assert set(config) == set(SPACE.names) and SPACE.contains(config), config
        assert type(config["width"]) is int and type(config["x"]) is float
        copy = History(metric="accuracy", mode="max", max_steps=MAX_STEPS)
        for trial_id in sorted(before):
            copy._put(before[trial_id])
        for _ in range(2):
            rng = np.random.default_rng()
            rng.bit_generator.state = state
            assert CmaEsSearcher(population=POPULATION).suggest(SPACE, copy, rng) == config
    assert len({tuple(sorted(c.items())) for _, _, c in searcher.calls}) == TRIALS


def test_a_study_stopped_halfway_and_continued_proposes_the_same(tmp_path):
    straight = make_study()
    optimize(straight, CmaEsSearcher(population=POPULATION))
    halfway = make_study(tmp_path / "halfway")
    optimize(halfway, CmaEsSearcher(population=POPULATION), TRIALS // 2 + 1)  # mid-generation
    assert configs(halfway) == configs(straight)[: TRIALS // 2 + 1]
    halfway.close()
    again = Study.load(tmp_path / "halfway", readonly=False)
    optimize(again, CmaEsSearcher(population=POPULATION))
    assert configs(again) == configs(straight)
    again.close()


def test_each_generation_is_told_once(monkeypatch):
    told: list[int] = []
    tell = cmaes.CMA.tell

    def counting(self, solutions):
        told.append(len(solutions))
        return tell(self, solutions)

    monkeypatch.setattr(cmaes.CMA, "tell", counting)
    best_on_quadratic(CmaEsSearcher(population=5), seed=0, trials=30)
    assert told == [5] * (29 // 5)  # the last proposal saw 29 finished trials


# ----------------------------------------------------------------------------- the replay


def test_generations_form_over_the_settled_prefix_only():
    h = filled(10)
    rng = np.random.default_rng(2)
    put(h, SPACE.sample(rng), None, TrialState.RUNNING)  # trial 10 still running
    for _ in range(6):  # finished after it: they wait for it
        put(h, SPACE.sample(rng), float(rng.random()))
    assert propose(h) == propose(filled(10))
    assert propose(filled(12)) != propose(filled(10))  # a third generation does move it


def test_a_partial_generation_changes_nothing():
    assert propose(filled(9)) == propose(filled(8)) == propose(filled(11))
    assert propose(filled(3)) == propose(history())  # the initial distribution


def test_mode_max_is_mode_min_of_the_negated_values():
    up, down = filled(12, "max"), history("min")
    for trial in up.trials.values():
        put(down, trial.config, -trial.last_value("acc"))
    assert propose(up) == propose(down)
    assert propose(filled(12, "min")) != propose(up)


def test_failed_trials_are_left_out_and_diverged_ones_rank_last():
    base = filled(12)
    trials = list(base.trials.values())
    with_failed = history()
    for i, trial in enumerate(trials):
        if i == 5:
            put(with_failed, SPACE.sample(np.random.default_rng(9)), None, TrialState.FAILED)
        put(with_failed, trial.config, trial.last_value("acc"))
    assert propose(with_failed) == propose(base)

    diverged, worst = history(), history()
    for i, trial in enumerate(trials):
        state = TrialState.DIVERGED if i == 2 else TrialState.COMPLETED
        value = math.nan if i == 2 else trial.last_value("acc")
        put(diverged, trial.config, value, state)
        put(worst, trial.config, -1.0 if i == 2 else value)
    assert propose(diverged) == propose(worst)


def test_the_cached_state_matches_a_fresh_replay_as_the_study_grows():
    cached = CmaEsSearcher(population=POPULATION)
    h = history()
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    for _ in range(20):
        config = cached.suggest(SPACE, h, rng_a)
        assert config == CmaEsSearcher(population=POPULATION).suggest(SPACE, h, rng_b)
        put(h, config, -((config["x"] - 0.2) ** 2))


# ----------------------------------------------------------------------------- quality


def best_of(searcher: Any, seed: int) -> float:
    return best_on_quadratic(searcher, seed, trials=60)


def test_cmaes_beats_random_search_on_a_quadratic():
    cma = [best_of(CmaEsSearcher(), seed) for seed in range(5)]
    rnd = [best_of(RandomSearcher(), seed) for seed in range(5)]
    assert statistics.median(cma) < statistics.median(rnd) / 10, (cma, rnd)
