"""Parameter domains: ``Float``, ``Int`` and ``Choice``, their sampling, grids and JSON form.

A domain is a frozen value validated when it is built. Every random draw goes through the
``numpy.random.Generator`` the caller passes, so a search is a pure function of
(space, history, rng).

Unit encoding: each domain maps a number ``u`` in [0, 1] onto its values (``from_unit``) and a
value back into [0, 1] (``to_unit``), with ``from_unit(to_unit(v)) == v`` for every value ``v``
of the domain (up to float rounding for a continuous ``Float``). Sampling is ``from_unit`` of
one uniform draw (a whole ``Space`` draws them in one call), and searchers work in this unit
cube: evolution perturbs values there, a model-based searcher fits and proposes there. The
scale is the domain's own: log for ``log=True``, one equal bucket per value for an ``Int`` or
a ``Choice``, so every value gets the same share of [0, 1].

This module is the domains' public home: each lives in its own module (``floats``,
``ints``, ``choices``; their checks in ``_checks``) and is re-exported
here with ``Domain``, the union of the three. A domain pickles as its constructor call (its
``from_unit`` is a closure), so unpickling needs nothing of this module; pickles written
before that split name ``domain_from_json``, which stays here.

A domain's JSON form (``to_json``) is parsed back by ``domain_from_json``, here; the form is
described in ``curvetune.space``, which re-exports everything here.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._checks import InvalidDomain
from .choices import Choice
from .choices import JsonScalar as JsonScalar
from .floats import Float
from .ints import Int

Domain = Float | Int | Choice


# ----------------------------------------------------------------------------- JSON

_KEYS: dict[str, tuple[type, frozenset[str]]] = {
    "choice": (Choice, frozenset({"type", "values"})),
    "float": (Float, frozenset({"type", "low", "high", "log", "step", "points"})),
    "int": (Int, frozenset({"type", "low", "high", "log", "step", "points"})),
}


def domain_from_json(spec: object) -> Domain:
    """Build one domain from its JSON form (a bare list means a ``Choice``); the inverse of a
    domain's ``to_json``. Pickles of domains written before they pickled as constructor
    calls are rebuilt by it too."""
    if isinstance(spec, list | tuple):
        return Choice(tuple(spec))
    if not isinstance(spec, Mapping):
        raise InvalidDomain(
            "parameter", f"expected a table with a 'type' key or a list of choices, got {spec!r}"
        )
    allowed_types = ", ".join(sorted(_KEYS))
    if "type" not in spec:
        raise InvalidDomain("parameter", f"missing key 'type' (allowed types: {allowed_types})")
    kind = spec["type"]
    if kind not in _KEYS:
        raise InvalidDomain("parameter", f"unknown type {kind!r}; allowed types: {allowed_types}")
    cls, allowed = _KEYS[kind]
    for key in spec:
        if key not in allowed:
            raise InvalidDomain(
                "parameter",
                f"unknown key {key!r} for type {kind!r}; "
                f"allowed keys: {', '.join(sorted(allowed))}",
            )
    required = ("values",) if cls is Choice else ("low", "high")
    for key in required:
        if key not in spec:
            raise InvalidDomain(
                "parameter", f"missing key {key!r} (type {kind!r} needs {' and '.join(required)})"
            )
    if cls is Choice:
        return Choice(spec["values"])
    options = {k: spec[k] for k in ("log", "step", "points") if k in spec}
    return cls(spec["low"], spec["high"], **options)
