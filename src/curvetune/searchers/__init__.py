"""Searchers propose the next configuration to try.

A searcher is a pure function of (space, history, rng): it reads the read-only ``History``,
draws every random number from the ``numpy.random.Generator`` it is given and returns a config
(or None once it has nothing left to propose). Instances may cache derived work (a grid), never
decisions, so a study resumed from storage proposes what it would have proposed uninterrupted.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from curvetune.searchers.cmaes import CmaEsSearcher
from curvetune.searchers.evolution import EvolutionSearcher
from curvetune.searchers.grid import GridSearcher
from curvetune.searchers.model_based import GPSearcher, TPESearcher
from curvetune.searchers.random import RandomSearcher
from curvetune.searchers.sobol import SobolSearcher
from curvetune.space import Space
from curvetune.types import History

__all__ = [
    "SEARCHERS",
    "CmaEsSearcher",
    "EvolutionSearcher",
    "GPSearcher",
    "GridSearcher",
    "NotesUnvisited",
    "RandomSearcher",
    "Searcher",
    "SobolSearcher",
    "TPESearcher",
    "make_searcher",
]


@runtime_checkable
class Searcher(Protocol):
    """Proposes configurations; ``suggest`` returns None when the searcher is exhausted."""

    def suggest(
        self, space: Space, history: History, rng: np.random.Generator
    ) -> dict[str, Any] | None: ...


@runtime_checkable
class NotesUnvisited(Protocol):
    """A searcher that can tell, before a study starts, what a budget of ``trials`` leaves
    unvisited (a grid larger than the budget): a note, or None when all is visited."""

    def unvisited_note(self, space: Space, trials: int) -> str | None: ...


SEARCHERS: dict[str, type] = {
    "grid": GridSearcher,
    "random": RandomSearcher,
    "evolution": EvolutionSearcher,
    "sobol": SobolSearcher,
    "tpe": TPESearcher,
    "gp": GPSearcher,
    "cmaes": CmaEsSearcher,
}


def make_searcher(name: str, **options: Any) -> Searcher:
    """Build the searcher called ``name`` (a key of ``SEARCHERS``) with ``options``."""
    from curvetune._options import construct

    return construct("searcher", SEARCHERS, name, options)
