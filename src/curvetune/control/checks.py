"""Checks on what segments bring back that concern the study, not the trial.

A segment that reports metrics, none of them the study's, is a typo in ``metric``: the
study stops (``StudyHalted``) before anything of it is stored, rather than running to the
end without values. A stateful objective that saves no checkpoint retrains every segment
from step 0: that is worth one note.
"""

from __future__ import annotations

import difflib

from ..notes import note
from ..types import History, Report
from ..worker import SegmentResult


class StudyHalted(Exception):
    """The study cannot go on as it is (a full disk, a metric never reported). The message
    is one line saying what to do; the store is intact and the same command continues."""


def reports_metric(reports: tuple[Report, ...], metric: str) -> bool:
    return any(metric in report.metrics for report in reports)


class ResultChecks:
    """The study-wide checks, each made until it has passed once."""

    def __init__(self, history: History, *, saves_checkpoints: bool) -> None:
        self.history = history
        self._metric_seen = any(
            reports_metric(t.reports, history.metric) for t in history.trials.values()
        )
        self._watch_checkpoints = saves_checkpoints  # cleared once warned

    def check(self, result: SegmentResult) -> None:
        self._check_metric(result)
        self._check_checkpoint(result)

    def _check_metric(self, result: SegmentResult) -> None:
        if self._metric_seen or not result.reports:
            return
        metric = self.history.metric
        if reports_metric(result.reports, metric):
            self._metric_seen = True
            return
        raise StudyHalted(missing_metric_message(metric, result.reports))

    def _check_checkpoint(self, result: SegmentResult) -> None:
        if (
            self._watch_checkpoints
            and result.checkpoint is None
            and result.until < self.history.max_steps
        ):
            self._watch_checkpoints = False
            note(
                f"trial {result.trial_id}'s segment to step {result.until} saved nothing in "
                "ctx.checkpoint_out, so every segment retrains from step 0; save the state "
                "there, or mark the objective stateless = True if it keeps none"
            )


def missing_metric_message(
    metric: str,
    reports: tuple[Report, ...],
    who: str = "the objective",
    fix: str = "fix 'metric' and run the same command again",
) -> str:
    """One line: which metrics ``who`` reported, the closest to ``metric`` if any, and
    the ``fix``."""
    names = sorted({name for report in reports for name in report.metrics})
    close = [n for n in names if n.startswith(metric) or metric.startswith(n)]
    close = close or difflib.get_close_matches(metric, names, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"{who} reports {', '.join(map(repr, names))} but not the study's metric "
        f"{metric!r}{hint}; {fix}"
    )
