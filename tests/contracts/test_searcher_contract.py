"""The searcher contract: every name in ``SEARCHERS`` is run through the same checks, over
a space of a log Float, a Float, a log Int, an Int and a Choice, so a newly registered
searcher is held to them without a test of its own.

A registered searcher proposes configs inside the space (or None once exhausted, and a
searcher that says a budget visits everything is exhausted within it), is a pure function
of (space, history, rng): a fresh instance given the same history and a generator in the
same state proposes what the study's own instance did, and the history is unchanged; and a
study stopped halfway and continued proposes what one run straight through does.

(No ``conftest.py``: see ``test_scheduler_contract.py``.)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from curvetune.searchers import SEARCHERS, NotesUnvisited, Searcher, make_searcher
from curvetune.space import Choice, Float, Int, Space
from curvetune.study import Study
from curvetune.types import History

MAX_STEPS = 6
TRIALS = 12
SEED = 11

# A population that fills within the budget, so evolution evolves here rather than only
# sampling at random (its default population is 20).
# Model-based searchers model from their fourth trial on (their default startup is 10).
OPTIONS: dict[str, dict[str, Any]] = {
    "evolution": {"population": 4, "tournament": 2},
    "tpe": {"startup": 3},
    "gp": {"startup": 3},
    "cmaes": {"population": 4},  # three generations in the budget (its default here is 8)
}

SPACE = Space(
    {
        "x": Float(0.0, 1.0),
        "lr": Float(1e-4, 1e-1, log=True),
        "width": Int(8, 64, log=True),
        "depth": Int(1, 4),
        "act": Choice(["relu", "tanh", "gelu"]),
    }
)
# Four grid points: small enough for a finite searcher to run out within the budget.
SMALL = Space({"act": Choice(["relu", "tanh"]), "depth": Int(1, 2)})

# Searchers that take numeric parameters only (they refuse a Choice, with one line) are held
# to the same checks over numeric twins of the two spaces.
NUMERIC_ONLY = {"cmaes"}
NUMERIC = Space({name: d for name, d in SPACE.items() if not isinstance(d, Choice)})
SMALL_NUMERIC = Space({"depth": Int(1, 2), "width": Int(8, 9)})

NAMES = list(SEARCHERS)

# A grid smaller than the budget is noted, as it should be; not what these tests look at.
pytestmark = pytest.mark.filterwarnings("ignore::curvetune.notes.StudyNote")


def spaces(name: str) -> tuple[Space, Space]:
    """The contract's space and its small space, as searcher ``name`` can take them."""
    return (NUMERIC, SMALL_NUMERIC) if name in NUMERIC_ONLY else (SPACE, SMALL)


def build(name: str) -> Searcher:
    return make_searcher(name, **OPTIONS.get(name, {}))


def make_study(directory=None, *, space: Space = SPACE) -> Study:
    return Study.create(
        objective="curvetune.testing:stateless_curve",
        space=space,
        metric="accuracy",
        mode="max",
        max_steps=MAX_STEPS,
        seed=SEED,
        directory=directory,
    )


def optimize(study: Study, searcher: Any, trials: int = TRIALS) -> None:
    study.optimize(
        trials=trials,
        searcher=searcher,
        scheduler="asha",  # some trials stopped early: histories of every kind of trial
        executor="sequential",
        progress=False,
    )


def configs(study: Study) -> list[tuple]:
    return [(t.id, dict(t.config), t.seed) for t in study.history.trials.values()]


class Watched:
    """Wraps a searcher and records each proposal a real study asks for: the history before
    and after, the generator's state before, and what was proposed."""

    def __init__(self, inner: Searcher) -> None:
        self.inner = inner
        self.calls: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def suggest(self, space, history, rng):
        before, stamp = dict(history.trials), history.stamp
        state = rng.bit_generator.state
        config = self.inner.suggest(space, history, rng)
        self.calls.append(
            dict(
                history=history,
                before=before,
                stamp=stamp,
                after=dict(history.trials),
                stamp_after=history.stamp,
                state=state,
                bits=type(rng.bit_generator),
                config=config,
            )
        )
        return config


def watched(name: str, space: Space = SPACE, trials: int = TRIALS) -> tuple[Study, Watched]:
    searcher = Watched(build(name))
    study = make_study(space=space)
    optimize(study, searcher, trials)
    return study, searcher


def assert_in_space(config: dict[str, Any], space: Space) -> None:
    assert set(config) == set(space.names), config
    for name in space.names:
        domain, value = space[name], config[name]
        assert domain.contains(value), f"{name}={value!r} is not in {domain!r}"
        assert 0.0 <= domain.to_unit(value) <= 1.0, f"{name}={value!r}"
        if isinstance(domain, Float | Int):
            assert type(value) is (float if isinstance(domain, Float) else int), (name, value)
            back = domain.from_unit(domain.to_unit(value))
            assert math.isclose(back, value, rel_tol=1e-9), (name, value, back)
        else:
            assert domain.from_unit(domain.to_unit(value)) == value, (name, value)


def rebuilt(history: History, trials: dict) -> History:
    """A new History holding ``trials``: the same facts, none of the original's caches."""
    copy = History(metric=history.metric, mode=history.mode, max_steps=history.max_steps)
    for trial_id in sorted(trials):
        copy._put(trials[trial_id])
    return copy


def test_the_registry_is_what_the_contract_runs_over():
    assert NAMES
    for name in NAMES:
        assert isinstance(build(name), Searcher), name


# ----------------------------------------------------------------------- 1 + 4. in the space


@pytest.mark.parametrize("name", NAMES)
def test_every_proposal_is_inside_the_space(name):
    space = spaces(name)[0]
    study, searcher = watched(name, space=space)
    assert len(searcher.calls) == TRIALS and len(study.history) == TRIALS
    for call in searcher.calls:
        assert call["config"] is not None, f"{name} ran out of a space of 243 grid points"
        assert_in_space(call["config"], space)
    seen = {tuple(sorted(c["config"].items())) for c in searcher.calls}
    assert len(seen) > 1, f"{name} proposed one config only"


@pytest.mark.parametrize("name", NAMES)
def test_an_exhausted_searcher_says_none_and_the_study_ends(name):
    small = spaces(name)[1]
    trials = 2 * small.grid_size()
    study, searcher = watched(name, space=small, trials=trials)
    proposed = [c["config"] for c in searcher.calls]
    for config in proposed:
        if config is not None:
            assert_in_space(config, small)
    if None in proposed:  # exhausted: the study ends with what it has, all of it finished
        assert proposed.index(None) == len(study.history)
        assert all(t.state.finished for t in study.history.trials.values())
        again = build(name).suggest(small, study.history, np.random.default_rng(0))
        assert again is None, f"{name} proposed {again!r} after saying it had nothing left"
    else:
        assert len(study.history) == trials
    noting = build(name)
    if isinstance(noting, NotesUnvisited) and noting.unvisited_note(small, trials) is None:
        # It says this budget visits everything, so it must run out within it.
        assert None in proposed, f"{name} said {trials} trials visit all of a small space"
        assert len(study.history) == len({tuple(sorted(p.items())) for p in proposed if p})


# ----------------------------------------------------------------------- 2. pure, deterministic


@pytest.mark.parametrize("name", NAMES)
def test_the_same_history_and_generator_give_the_same_config(name):
    space = spaces(name)[0]
    study, searcher = watched(name, space=space)
    for call in searcher.calls:
        assert call["after"] == call["before"], f"{name} changed the history"
        assert call["stamp_after"] == call["stamp"], f"{name} put a trial into the history"
        history = rebuilt(call["history"], call["before"])
        for _ in range(2):  # a fresh instance, twice: neither caches nor the draw differ
            rng = np.random.Generator(call["bits"]())
            rng.bit_generator.state = call["state"]
            assert build(name).suggest(space, history, rng) == call["config"]
        assert dict(history.trials) == call["before"]
    second = make_study(space=space)
    optimize(second, build(name))
    assert configs(second) == configs(study)


# ----------------------------------------------------------------------- 3. resumable


@pytest.mark.parametrize("name", NAMES)
def test_a_study_stopped_halfway_and_continued_proposes_the_same(name, tmp_path):
    space = spaces(name)[0]
    straight = make_study(space=space)
    optimize(straight, build(name))
    halfway = make_study(tmp_path / "halfway", space=space)
    optimize(halfway, build(name), TRIALS // 2)
    assert configs(halfway) == configs(straight)[: TRIALS // 2]
    halfway.close()
    again = Study.load(tmp_path / "halfway", readonly=False)
    optimize(again, build(name))
    assert configs(again) == configs(straight)
    again.close()


@pytest.mark.parametrize("name", sorted(NUMERIC_ONLY & set(NAMES)))
def test_a_numeric_only_searcher_refuses_a_choice_in_one_line(name):
    with pytest.raises(ValueError, match=r"^[^\n]*'act'[^\n]*$"):
        build(name).suggest(
            SPACE, History(metric="m", mode="max", max_steps=1), np.random.default_rng()
        )
