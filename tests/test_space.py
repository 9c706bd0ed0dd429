"""The search space: sampling, grids, JSON form and validation."""

from __future__ import annotations

import json
import math
import pickle
import statistics

import numpy as np
import pytest

from curvetune.space import Choice, Float, Int, InvalidDomain, Space, domain_from_json


def draws(domain, n=4000, seed=0):
    rng = np.random.default_rng(seed)
    return [domain.sample(rng) for _ in range(n)]


# ----------------------------------------------------------------------------- sampling


def test_float_uniform_within_bounds():
    values = draws(Float(-2.0, 3.0))
    assert all(-2.0 <= v <= 3.0 for v in values)
    assert all(isinstance(v, float) for v in values)
    assert statistics.mean(values) == pytest.approx(0.5, abs=0.1)


def test_float_log_is_uniform_in_log_space():
    values = draws(Float(1e-4, 1.0, log=True))
    assert all(1e-4 <= v <= 1.0 for v in values)
    # The median of a log-uniform variable is the geometric mean of its bounds (1e-2 here).
    assert math.log10(statistics.median(values)) == pytest.approx(-2.0, abs=0.1)
    assert sum(v < 1e-3 for v in values) / len(values) == pytest.approx(0.25, abs=0.03)


def test_float_step_quantises_to_the_lattice():
    assert set(draws(Float(0.0, 1.0, step=0.25))) == {0.0, 0.25, 0.5, 0.75, 1.0}
    # A step that does not divide the range: high is not reachable, nothing beyond it.
    assert set(draws(Float(0.1, 1.0, step=0.3))) == {0.1, 0.4, 0.7, 1.0}
    assert set(draws(Float(0.0, 1.0, step=0.3))) == {0.0, 0.3, 0.6, 0.9}


def test_int_includes_both_bounds():
    values = draws(Int(1, 3), n=3000)
    assert set(values) == {1, 2, 3}
    assert all(type(v) is int for v in values)
    for k in (1, 2, 3):
        assert values.count(k) / len(values) == pytest.approx(1 / 3, abs=0.04)


def test_int_log_is_log_uniform_and_inclusive():
    values = draws(Int(16, 256, log=True))
    assert min(values) == 16 and max(values) == 256
    assert statistics.median(values) == pytest.approx(64, rel=0.1)
    assert set(draws(Int(1, 4, log=True))) == {1, 2, 3, 4}


def test_int_step_and_single_value():
    assert set(draws(Int(0, 10, step=5))) == {0, 5, 10}
    assert set(draws(Int(0, 11, step=5))) == {0, 5, 10}
    assert set(draws(Int(7, 7), n=50)) == {7}


def test_choice_is_uniform_over_values():
    values = draws(Choice(["adam", "sgd", True, 0.5]))
    for value in ("adam", "sgd", True, 0.5):
        assert values.count(value) / len(values) == pytest.approx(0.25, abs=0.03)


def test_same_seed_same_samples_and_space_sample_in_bounds():
    space = Space(
        {"lr": Float(1e-4, 1, log=True), "width": Int(8, 512, log=True), "opt": Choice(["a", "b"])}
    )
    a = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng1, rng2 = np.random.default_rng(3), np.random.default_rng(3)
    assert [space.sample(rng1) for _ in range(20)] == [space.sample(rng2) for _ in range(20)]
    other = [space.sample(np.random.default_rng(4)) for _ in range(1)]
    assert other[0] != a[0]
    rng = np.random.default_rng(0)
    for _ in range(500):
        config = space.sample(rng)
        assert list(config) == ["lr", "width", "opt"]
        assert space.contains(config)
    assert Space({"x": Int(0, 3)}).sample(np.random.default_rng(0))["x"] in range(4)


# ----------------------------------------------------------------------------- contains


def test_contains():
    assert Float(0, 1).contains(0.0) and Float(0, 1).contains(1) and not Float(0, 1).contains(1.5)
    assert not Float(0, 1).contains("0.5") and not Float(0, 1).contains(True)
    assert Float(0, 1, step=0.1).contains(0.3) and not Float(0, 1, step=0.1).contains(0.35)
    assert Int(1, 5).contains(5) and not Int(1, 5).contains(6) and not Int(1, 5).contains(2.5)
    assert Int(1, 5).contains(3.0) and not Int(1, 5).contains(False)
    assert Int(0, 10, step=5).contains(5) and not Int(0, 10, step=5).contains(4)
    assert Choice(["a", 1]).contains("a") and Choice(["a", 1]).contains(1)
    assert not Choice(["a", 1]).contains(True) and not Choice(["a"]).contains("b")


# ----------------------------------------------------------------------------- grids


def test_float_grid_includes_both_ends():
    assert Float(0, 1).grid(3) == (0.0, 0.5, 1.0)
    assert Float(0, 1).grid(5) == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert Float(1e-3, 1, log=True).grid(4) == pytest.approx((1e-3, 1e-2, 1e-1, 1.0))
    assert Float(1e-3, 1, log=True).grid(4)[0] == 1e-3
    assert Float(0, 1, step=0.1).grid(3) == tuple(k / 10 for k in range(11))
    assert Float(0, 1, points=2).grid(7) == (0.0, 1.0)  # the parameter's points win


def test_int_grid():
    assert Int(1, 3).grid(5) == (1, 2, 3)  # fewer values than points: all of them
    assert Int(0, 100).grid(3) == (0, 50, 100)
    assert Int(16, 256, log=True, points=4).grid(3) == (16, 40, 102, 256)
    assert Int(1, 4, log=True).grid(4) == (1, 2, 3, 4)
    assert Int(1, 5, log=True, points=4).grid(3) == (1, 2, 3, 5)
    assert Int(1, 3, log=True, points=3).grid(3) == (1, 2, 3)
    assert Int(0, 20, step=5).grid(2) == (0, 5, 10, 15, 20)
    # Rounding collisions are removed, so a log grid may be shorter than points.
    assert Int(1, 6, log=True, points=5).grid(3) == tuple(
        sorted(set(Int(1, 6, log=True, points=5).grid(3)))
    )


def test_choice_grid_keeps_order():
    assert Choice([128, 32, 64]).grid(2) == (128, 32, 64)


def test_space_grid_is_a_full_factorial_in_order():
    space = Space({"opt": Choice(["a", "b", "c", "d"]), "width": Int(1, 100), "lr": Float(0, 1)})
    grid = space.grid(4)
    assert len(grid) == 64 == space.grid_size(4)
    assert len({tuple(point.items()) for point in grid}) == 64
    assert grid[0] == {"opt": "a", "width": 1, "lr": 0.0}
    assert grid[1] == {"opt": "a", "width": 1, "lr": pytest.approx(1 / 3)}
    assert [p["opt"] for p in grid[:16]] == ["a"] * 16  # first parameter varies slowest
    assert grid[-1] == {"opt": "d", "width": 100, "lr": 1.0}
    assert all(space.contains(point) for point in grid)
    assert space.grid_size(3) == len(space.grid(3)) == 4 * 3 * 3


def test_grid_needs_two_points():
    with pytest.raises(ValueError, match="grid points must be an integer >= 2"):
        Float(0, 1).grid(1)


# ----------------------------------------------------------------------------- JSON


def test_json_round_trip():
    space = Space(
        {
            "lr": Float(0.001, 0.5, log=True),
            "momentum": Float(0, 0.99, points=4),
            "dropout": Float(0.0, 0.5, step=0.1),
            "width": Int(16, 256, log=True, points=4),
            "layers": Int(1, 8, step=1),
            "batch": Choice([32, 64, 128]),
            "opt": Choice(["sgd", "adam", True, 0.5]),
        }
    )
    data = space.to_json()
    assert data["lr"] == {"type": "float", "low": 0.001, "high": 0.5, "log": True}
    assert data["width"] == {"type": "int", "low": 16, "high": 256, "log": True, "points": 4}
    assert data["batch"] == {"type": "choice", "values": [32, 64, 128]}
    assert Space.from_json(data) == space
    assert Space.from_json(json.loads(json.dumps(data))) == space
    assert list(Space.from_json(data)) == list(space)


def test_json_shorthand_and_integer_float_bounds():
    space = Space.from_json({"batch": [32, 64], "lr": {"type": "float", "low": 0, "high": 1}})
    assert space["batch"] == Choice([32, 64])
    assert space["lr"] == Float(0.0, 1.0)
    assert domain_from_json(["a", "b"]) == Choice(("a", "b"))


def test_space_mapping_interface_and_equality():
    space = Space({"a": Int(0, 3), "b": Choice(["x"])})
    assert len(space) == 2 and space.names == ("a", "b") and list(space) == ["a", "b"]
    assert space["a"] == Int(0, 3) and "b" in space and "c" not in space
    assert space == Space({"a": Int(0, 3), "b": Choice(["x"])})
    assert hash(space) == hash(Space({"a": Int(0, 3), "b": Choice(["x"])}))
    assert space != Space({"b": Choice(["x"]), "a": Int(0, 3)})  # order matters
    assert pickle.loads(pickle.dumps(space)) == space


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"type": "float", "low": 0.0, "high": 1.0, "log": True},
            "log=True needs low > 0, got low=0.0",
        ),
        ({"type": "float", "low": 1.0, "high": 1.0}, "needs low < high"),
        ({"type": "float", "low": 2.0, "high": 1.0}, "needs low < high"),
        ({"type": "float", "low": float("nan"), "high": 1.0}, "low must be a finite number"),
        ({"type": "float", "low": 0, "high": float("inf")}, "high must be a finite number"),
        ({"type": "float", "low": "0", "high": 1}, "low must be a finite number"),
        ({"type": "float", "low": 0, "high": 1, "step": 0}, "step must be a number > 0"),
        ({"type": "float", "low": 0, "high": 1, "step": 2}, "step must not exceed high - low"),
        (
            {"type": "float", "low": 1, "high": 9, "log": True, "step": 1},
            "log=True and step cannot",
        ),
        ({"type": "float", "low": 0, "high": 1, "points": 1}, "points must be an integer >= 2"),
        ({"type": "float", "low": 0, "high": 1, "points": 2.5}, "points must be an integer >= 2"),
        (
            {"type": "float", "low": 0, "high": 1, "step": 0.5, "points": 3},
            "step and points cannot",
        ),
        ({"type": "float", "low": 0, "high": 1, "log": "yes"}, "log must be true or false"),
        ({"type": "int", "low": 1.5, "high": 4}, "low must be an integer"),
        ({"type": "int", "low": 1, "high": True}, "high must be an integer"),
        ({"type": "int", "low": 5, "high": 4}, "needs low <= high"),
        ({"type": "int", "low": 0, "high": 4, "log": True}, "log=True needs low > 0, got low=0"),
        ({"type": "int", "low": 0, "high": 4, "step": 0}, "step must be an integer > 0"),
        ({"type": "int", "low": 0, "high": 4, "step": 1.5}, "step must be an integer > 0"),
        ({"type": "int", "low": 0, "high": 4, "step": 5}, "step must not exceed high - low = 4"),
        ({"type": "int", "low": 0, "high": 4, "points": 0}, "points must be an integer >= 2"),
        ({"type": "choice", "values": []}, "values must not be empty"),
        ({"type": "choice", "values": [1, 1]}, "values must be distinct"),
        ({"type": "choice", "values": [1, True]}, "values must be distinct"),
        ({"type": "choice", "values": [[1]]}, "values must be str, int, float or bool"),
        ({"type": "choice", "values": [None]}, "values must be str, int, float or bool"),
        ({"type": "choice", "values": [float("nan")]}, "values must be finite"),
        ({"type": "choice", "values": "abc"}, "values must be a list"),
        ([], "values must not be empty"),
        (
            {"type": "normal", "low": 0, "high": 1},
            "unknown type 'normal'; allowed types: choice, float, int",
        ),
        ({"low": 0, "high": 1}, "missing key 'type'"),
        (
            {"type": "float", "low": 0, "hi": 1},
            "unknown key 'hi' for type 'float'; allowed keys: high, log, low",
        ),
        (
            {"type": "choice", "values": [1], "log": True},
            "unknown key 'log' for type 'choice'; allowed keys: type, values",
        ),
        ({"type": "float", "low": 0}, "missing key 'high'"),
        ({"type": "choice"}, "missing key 'values'"),
        (0.5, "expected a table with a 'type' key or a list of choices"),
    ],
)
def test_validation_errors_name_the_parameter(spec, message):
    with pytest.raises(ValueError) as info:
        Space.from_json({"ok": [1, 2], "lr": spec})
    text = str(info.value)
    assert text.startswith("space parameter 'lr': ")
    assert message in text
    assert "\n" not in text


def test_constructor_errors_name_the_domain_and_argument():
    with pytest.raises(InvalidDomain, match=r"^Float: log=True needs low > 0, got low=0.0$"):
        Float(0.0, 1.0, log=True)
    with pytest.raises(ValueError, match=r"^Int: step must not exceed high - low = 3, got step=4$"):
        Int(1, 4, step=4)
    with pytest.raises(ValueError, match=r"^Choice: values must be distinct, 'a' appears twice$"):
        Choice(["a", "b", "a"])
    with pytest.raises(TypeError):
        Float(0.0, 1.0, True)  # log, step and points are keyword-only


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "a search space needs at least one parameter"),
        ({"": Float(0, 1)}, "space parameter names must start with a letter"),
        ({"1x": Float(0, 1)}, "got '1x'"),
        ({"a b": Float(0, 1)}, "got 'a b'"),
        ({"lr": 0.1}, "space parameter 'lr': expected Float, Int or Choice, got 0.1"),
    ],
)
def test_space_errors(params, message):
    with pytest.raises(ValueError) as info:
        Space(params)
    assert message in str(info.value)


def test_space_from_json_needs_a_table():
    with pytest.raises(ValueError, match="a space is a table"):
        Space.from_json([1, 2])
    assert Space.from_json({"model.width": [1, 2], "_x-y": [3]}).names == ("model.width", "_x-y")


# ----------------------------------------------------------------------------- unit encoding

NUMERIC_DOMAINS = [
    Float(-2.0, 3.0),
    Float(1e-5, 0.5, log=True),
    Float(0.0, 1.0, step=0.1),
    Float(0.1, 1.0, step=0.25),  # high is off the lattice
    Int(-3, 12),
    Int(1, 1000, log=True),
    Int(0, 100, step=7),
    Int(5, 5),
]
CHOICES = [
    Choice(("sgd", "adam", "rmsprop")),
    Choice((32, 64.5, 128)),
    Choice((True, False)),
    Choice(("a", 3, 2.5, True)),
    Choice(("only",)),
]


def _values(domain, rng, n=500):
    """Samples and grid points of ``domain``: what a searcher hands to ``to_unit``."""
    return [domain.sample(rng) for _ in range(n)] + list(domain.grid(9))


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12, abs=1e-12)
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("domain", NUMERIC_DOMAINS + CHOICES, ids=repr)
def test_from_unit_inverts_to_unit(domain):
    rng = np.random.default_rng(7)
    for value in _values(domain, rng):
        u = domain.to_unit(value)
        assert isinstance(u, float) and 0.0 <= u <= 1.0
        back = domain.from_unit(u)
        assert _same(back, value), (value, u, back)
        if not isinstance(domain, Float) or domain.step is not None:
            assert back == value and type(back) is type(value)  # exact off the continuum


@pytest.mark.parametrize("domain", [d for d in NUMERIC_DOMAINS if d.size() < 200] + CHOICES)
def test_every_value_of_a_finite_domain_round_trips_from_its_bucket_centre(domain):
    values = list(domain.grid(int(domain.size()) + 1))
    assert len(values) == domain.size()
    units = [domain.to_unit(v) for v in values]
    assert len(set(units)) == len(values)  # one bucket each
    assert [domain.from_unit(u) for u in units] == values
    if not (isinstance(domain, Int) and domain.log):
        n = len(values)
        assert units == pytest.approx([(i + 0.5) / n for i in range(n)])


@pytest.mark.parametrize("domain", [Float(-2.0, 3.0), Float(1e-5, 0.5, log=True)], ids=repr)
def test_a_continuous_float_is_linear_in_its_scale(domain):
    rng = np.random.default_rng(3)
    for u in rng.random(500).tolist():
        assert domain.to_unit(domain.from_unit(u)) == pytest.approx(u, abs=1e-12)
    mid = domain.from_unit(0.5)
    expected = math.sqrt(domain.low * domain.high) if domain.log else 0.5
    assert mid == pytest.approx(expected)


@pytest.mark.parametrize("domain", NUMERIC_DOMAINS, ids=repr)
def test_to_unit_keeps_the_order_of_numbers(domain):
    values = sorted(set(_values(domain, np.random.default_rng(11))))
    units = [domain.to_unit(v) for v in values]
    assert units == sorted(units)


@pytest.mark.parametrize("domain", NUMERIC_DOMAINS + CHOICES, ids=repr)
def test_unit_bounds_map_inside_the_domain(domain):
    first, last = domain.from_unit(0.0), domain.from_unit(1.0)
    assert all(domain.contains(v) for v in (first, last, domain.from_unit(math.nextafter(1, 0))))
    assert domain.from_unit(-0.5) == first and domain.from_unit(1.5) == last  # clamped
    if isinstance(domain, Choice):
        assert (first, last) == (domain.values[0], domain.values[-1])
    else:  # exactly the ends (the top of a step lattice may sit below high)
        assert (first, last) == (domain.low, max(domain.grid(2)))


def test_numbers_outside_a_numeric_domain_clamp_to_its_ends():
    assert Float(1e-3, 1.0, log=True).to_unit(0.0) == 0.0
    assert Float(1e-3, 1.0, log=True).to_unit(5.0) == 1.0
    assert Int(1, 64, log=True).to_unit(-4) == 0.0
    assert Int(0, 9).to_unit(100) == pytest.approx(0.95)


def test_choice_to_unit_refuses_a_value_it_does_not_hold():
    with pytest.raises(ValueError, match="not one of the choices"):
        Choice(("a", "b")).to_unit("c")
    with pytest.raises(ValueError, match="not one of the choices"):
        Choice((1, 2)).to_unit(True)  # True == 1 in Python, but not as a choice
    assert Choice((True, 2)).to_unit(True) == 0.25


SPACE = Space(
    {
        "lr": Float(1e-4, 1.0, log=True),
        "momentum": Float(0.0, 0.99),
        "width": Int(16, 512, log=True),
        "depth": Int(1, 8),
        "optimizer": Choice(("sgd", "adam")),
        "nesterov": Choice((True, False)),
    }
)


def test_space_vector_round_trip():
    rng = np.random.default_rng(5)
    for _ in range(300):
        config = SPACE.sample(rng)
        vector = SPACE.to_unit(config)
        assert isinstance(vector, np.ndarray) and vector.dtype == float
        assert vector.shape == (len(SPACE),)
        assert ((vector >= 0.0) & (vector <= 1.0)).all()
        assert vector.tolist() == [SPACE[name].to_unit(config[name]) for name in SPACE.names]
        back = SPACE.from_unit(vector)
        assert list(back) == list(SPACE.names)
        assert all(_same(back[name], config[name]) for name in SPACE.names), (config, back)
        assert SPACE.from_unit(vector.tolist()) == back  # a plain list works too
    for u in rng.random((300, len(SPACE))):
        assert SPACE.contains(SPACE.from_unit(u))
    assert SPACE.contains(SPACE.from_unit(np.zeros(len(SPACE))))
    assert SPACE.contains(SPACE.from_unit(np.ones(len(SPACE))))


def test_space_to_unit_ignores_extra_keys_and_needs_every_parameter():
    config = SPACE.sample(np.random.default_rng(0))
    assert SPACE.to_unit({**config, "seed": 3}).tolist() == SPACE.to_unit(config).tolist()
    partial = {k: v for k, v in config.items() if k not in ("depth", "nesterov")}
    with pytest.raises(ValueError, match=r"lacks space parameter.*'depth', 'nesterov'"):
        SPACE.to_unit(partial)


@pytest.mark.parametrize(
    "vector",
    [[0.5] * 5, [0.5] * 7, [], [[0.5] * 6], 0.5],
    ids=["short", "long", "empty", "2d", "scalar"],
)
def test_space_from_unit_refuses_a_wrong_length_vector(vector):
    with pytest.raises(ValueError, match="holds 6 numbers, one per parameter"):
        SPACE.from_unit(vector)


def test_space_from_unit_refuses_nan():
    with pytest.raises(ValueError, match="finite"):
        SPACE.from_unit([0.5, float("nan"), 0.5, 0.5, 0.5, 0.5])


def test_domains_module_does_not_import_space():
    """``domains`` decodes its own JSON (unpickling needs it), so it needs nothing of
    ``space``, which builds on it: no import circle."""
    import ast
    import inspect

    import curvetune.domains

    tree = ast.parse(inspect.getsource(curvetune.domains))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    imported |= {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not {name for name in imported if name.split(".")[-1] == "space"}


@pytest.mark.parametrize("value", ["a", True, math.nan, None])
@pytest.mark.parametrize("domain", [Float(0.0, 1.0), Float(0.1, 1.0, log=True), Int(1, 9)])
def test_to_unit_refuses_what_is_no_number_in_one_line(domain, value):
    with pytest.raises(ValueError, match="is not a number, so not a point of"):
        domain.to_unit(value)
