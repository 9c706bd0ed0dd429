"""Notes for the user that are not errors: a grid the budget cuts, an objective that saves
no checkpoint. They are ``warnings`` of one category, so Python users can filter them and
the command line prints each as one line."""

from __future__ import annotations

import warnings


class StudyNote(UserWarning):
    """Something about a study the user should know; the study goes on."""


def note(message: str) -> None:
    warnings.warn(message, StudyNote, stacklevel=3)
