"""Everything that can be checked before a study's first trial exists.

Each part may declare a check (objectives ``check_study``/``check_config``, schedulers
``check_study``, searchers ``unvisited_note``); the Protocols that say so live beside
their families (``worker``, ``schedulers``, ``searchers``). A bad setting is then one line
while nothing has trained, not a failure an hour in.
"""

from __future__ import annotations

import numpy as np

from .notes import note
from .schedulers import ChecksStudy, Scheduler
from .searchers import NotesUnvisited, Searcher
from .spec import StudySpec
from .worker import ChecksConfig, ChecksSettings, Objective


def check_objective(spec: StudySpec, objective: Objective) -> None:
    """Let an objective refuse bad settings: the whole study (keys no trial may use), then
    the fixed settings with one sampled point."""
    if isinstance(objective, ChecksSettings):
        objective.check_study(spec.fixed, spec.space)
    if isinstance(objective, ChecksConfig):
        sample = spec.space.sample(np.random.default_rng(spec.seed))
        objective.check_config({**spec.fixed, **sample})


def check_algorithms(
    spec: StudySpec, searcher: Searcher, scheduler: Scheduler, trials: int | None
) -> None:
    """A scheduler's own rules for the study (``trials`` is None for ask/tell, where the
    user's loop sets the budget); a note when the searcher cannot visit what it would."""
    if isinstance(scheduler, ChecksStudy):
        scheduler.check_study(
            trials=trials, max_steps=spec.max_steps, metric=spec.metric, mode=spec.mode
        )
    if trials is not None and isinstance(searcher, NotesUnvisited):
        message = searcher.unvisited_note(spec.space, trials)
        if message:
            note(message)
