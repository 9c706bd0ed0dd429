"""A curvetune ``Space`` in Optuna's terms (``_optuna_space``): every kind of domain maps to
the distribution it says, and parameters come back as configs of the space."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import require_module

from curvetune.searchers import _optuna_space
from curvetune.searchers._optuna_space import (
    EXACT_INT_VALUES,
    distributions,
    to_config,
    to_params,
)
from curvetune.space import Choice, Float, Int, Space

require_module("optuna")

from optuna.distributions import (  # noqa: E402
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

SPACE = Space(
    {
        "x": Float(0.0, 1.0),
        "lr": Float(1e-4, 1e-1, log=True),
        "drop": Float(0.1, 1.0, step=0.1),
        "ratio": Float(0.0, 1.0, step=0.3),  # last lattice point 0.9, not 1.0
        "depth": Int(1, 32),  # exactly EXACT_INT_VALUES values: still exact
        "heads": Int(1, 32, log=True),
        "every": Int(0, 100, step=7),  # 15 values, last 98
        "width": Int(0, 1000),  # 1001 values: continuous, rounded
        "batch": Int(16, 512, log=True),
        "skip": Int(0, 999, step=3),  # 334 values on a lattice
        "act": Choice(("relu", "tanh", "gelu")),
        "flag": Choice((True, 0, "a", 2.5)),  # True is not 1, 0 is not False
    }
)


def test_every_domain_maps_to_its_distribution_exactly():
    got = distributions(SPACE)
    assert list(got) == list(SPACE.names)
    assert got["x"] == FloatDistribution(0.0, 1.0)
    assert got["lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert got["drop"] == FloatDistribution(0.1, 1.0, step=0.1)
    assert got["ratio"] == FloatDistribution(0.0, 0.9, step=0.3)
    assert got["depth"] == IntDistribution(1, 32)
    assert got["heads"] == IntDistribution(1, 32, log=True)
    assert got["every"] == IntDistribution(0, 98, step=7)
    assert got["width"] == FloatDistribution(0.0, 1000.0)
    assert got["batch"] == FloatDistribution(16.0, 512.0, log=True)
    assert got["skip"] == FloatDistribution(0.0, 999.0)
    assert got["act"] == CategoricalDistribution((0, 1, 2))
    assert got["flag"] == CategoricalDistribution((0, 1, 2, 3))


def test_the_exact_int_limit_is_inclusive():
    assert EXACT_INT_VALUES == 32
    exact = Space({"n": Int(0, EXACT_INT_VALUES - 1), "m": Int(0, 2 * EXACT_INT_VALUES, step=2)})
    assert isinstance(distributions(exact)["n"], IntDistribution)  # 32 values
    assert isinstance(distributions(exact)["m"], FloatDistribution)  # 33 values
    assert isinstance(distributions(Space({"n": Int(0, 32)}))["n"], FloatDistribution)


@pytest.mark.parametrize(
    ("domain", "raw", "expected"),
    [
        (Int(0, 1000), 10.4, 10),
        (Int(0, 1000), 10.6, 11),
        (Int(0, 1000), 999.9, 1000),
        (Int(0, 1000), -0.3, 0),
        (Int(0, 999, step=3), 4.4, 3),
        (Int(0, 999, step=3), 4.6, 6),
        (Int(0, 999, step=3), 999.0, 999),
        # log: nearest on the log scale; between 22 and 23 the midpoint is sqrt(22 * 23)
        (Int(16, 512, log=True), math.sqrt(22 * 23) - 1e-6, 22),
        (Int(16, 512, log=True), math.sqrt(22 * 23) + 1e-6, 23),
        (Int(16, 512, log=True), 22.49, 22),  # a linear rounding would give 22 too
        (Int(16, 512, log=True), 22.497, 23),  # ...but 22 here: log-nearest is 23
        (Int(16, 512, log=True), 16.0, 16),
        (Int(16, 512, log=True), 512.0, 512),
        (Int(1, 32), 7, 7),
        (Int(0, 100, step=7), 98, 98),
    ],
)
def test_an_int_proposal_is_the_nearest_domain_value(domain, raw, expected):
    space = Space({"n": domain})
    got = to_config(space, {"n": raw})["n"]
    assert got == expected and type(got) is int
    assert domain.contains(got)


def test_continuous_int_proposals_are_always_domain_values():
    rng = np.random.default_rng(0)
    for domain in (SPACE["width"], SPACE["batch"], SPACE["skip"]):
        space = Space({"n": domain})
        dist = distributions(space)["n"]
        for raw in rng.uniform(dist.low, dist.high, 200):
            value = to_config(space, {"n": float(raw)})["n"]
            assert type(value) is int and domain.contains(value)
            if not domain.log:  # linear: within half a step
                assert abs(value - raw) <= (domain.step or 1) / 2 + 1e-9


def test_choices_are_indices_and_back_with_bool_apart_from_ints():
    space = Space({"flag": SPACE["flag"]})
    for index, value in enumerate(SPACE["flag"].values):
        params = to_params(space, {"flag": value})
        assert params == {"flag": index}
        back = to_config(space, params)["flag"]
        assert back == value and type(back) is type(value)
    assert to_params(space, {"flag": 1}) is None  # 1 == True, but is not the choice True
    assert to_params(space, {"flag": False}) is None  # False == 0, but is not the choice 0
    assert to_params(space, {"flag": 2.5}) == {"flag": 3}


def test_a_choice_of_1_and_true_cannot_be_built():
    # The domain refuses the pair outright (they are equal in Python), so the mapping never
    # has to tell them apart within one Choice.
    with pytest.raises(ValueError, match="distinct"):
        Choice((1, True, "a"))


@pytest.mark.parametrize(
    "config",
    [
        {"x": 1.5},  # outside a Float
        {"drop": 0.15},  # off the step lattice
        {"ratio": 1.0},  # beyond the last lattice point
        {"every": 99},  # off an Int's lattice
        {"width": 1001},
        {"batch": 8},
        {"act": "selu"},
        {"flag": 1},
        {"depth": True},  # a bool is not an Int's value
        {"x": None},  # missing
    ],
)
def test_a_config_outside_the_space_has_no_params(config):
    inside = SPACE.sample(np.random.default_rng(1))
    assert to_params(SPACE, inside) is not None
    assert to_params(SPACE, {**inside, **config}) is None


def test_a_missing_parameter_has_no_params():
    inside = SPACE.sample(np.random.default_rng(2))
    del inside["lr"]
    assert to_params(SPACE, inside) is None


def test_params_are_what_each_distribution_holds():
    rng = np.random.default_rng(3)
    dists = distributions(SPACE)
    for _ in range(50):
        params = to_params(SPACE, SPACE.sample(rng))
        assert params is not None
        for name, value in params.items():
            dist = dists[name]
            assert dist._contains(dist.to_internal_repr(value)), (name, value)
            if isinstance(dist, FloatDistribution) and isinstance(SPACE[name], Int):
                assert type(value) is float


def test_config_params_config_is_the_identity_on_the_domain():
    rng = np.random.default_rng(4)
    configs = [SPACE.sample(rng) for _ in range(200)]
    # Every lattice / end point as well, where rounding matters most.
    for name in ("drop", "ratio", "every", "depth", "heads", "act", "flag"):
        for value in SPACE[name].grid(5):
            configs.append({**configs[0], name: value})
    for name in ("width", "batch", "skip", "lr", "x"):
        for value in (SPACE[name].low, SPACE[name].from_unit(1.0)):
            configs.append({**configs[0], name: value})
    for config in configs:
        params = to_params(SPACE, config)
        assert params is not None, config
        back = to_config(SPACE, params)
        assert back == config
        assert [type(back[n]) for n in SPACE.names] == [type(config[n]) for n in SPACE.names]


def test_a_float_proposal_is_clamped_and_on_the_domain_lattice():
    space = Space({"drop": Float(0.1, 1.0, step=0.1), "x": Float(0.0, 1.0)})
    # Optuna's step rounding is low + k * step: 0.1 + 2 * 0.1 == 0.30000000000000004, which
    # the domain's own lattice (and a grid or random search) writes as 0.3.
    got = to_config(space, {"drop": 0.1 + 2 * 0.1, "x": 1.0 + 1e-12})
    assert got["drop"] == 0.3 == space["drop"].grid()[2]
    assert got["x"] == 1.0
    assert to_config(space, {"drop": 1.0, "x": -1e-12}) == {"drop": 1.0, "x": 0.0}
    for k, value in enumerate(space["drop"].grid()):
        assert to_config(space, {"drop": 0.1 + k * 0.1, "x": 0.5})["drop"] == value


def test_to_config_reads_the_space_in_its_order():
    params = to_params(SPACE, SPACE.sample(np.random.default_rng(5)))
    assert params is not None
    assert list(to_config(SPACE, dict(reversed(list(params.items()))))) == list(SPACE.names)
    assert _optuna_space.to_config(Space({"n": Int(3, 3)}), {"n": 3}) == {"n": 3}
