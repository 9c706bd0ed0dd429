"""Turn a study's history into rows and documents (CSV, JSON) for other tools."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from .types import History, Trial


def trial_summary(trial: Trial, history: History) -> dict[str, Any]:
    """One flat record per trial: id, state, steps, final metrics, reason."""
    finals: dict[str, float] = {}
    for report in trial.reports:
        finals.update(report.metrics)
    return {
        "trial": trial.id,
        "state": trial.state.value,
        "steps": trial.step,
        history.metric: history.score(trial),
        "reason": trial.reason,
        "seed": trial.seed,
        "config": dict(trial.config),
        "final_metrics": finals,
    }


def to_json(history: History) -> str:
    """Every trial with its config, state and full report history."""
    trials = []
    for trial in history.trials.values():
        record = trial_summary(trial, history)
        record["reports"] = [{"step": r.step, **r.metrics} for r in trial.reports]
        trials.append(record)
    best = history.best()
    document = {
        "metric": history.metric,
        "mode": history.mode,
        "max_steps": history.max_steps,
        "best_trial": best.id if best else None,
        "trials": trials,
    }
    return json.dumps(document, indent=2, sort_keys=False)


def to_csv(history: History) -> str:
    """One row per trial: id, state, steps, the metric, each parameter, final metrics."""
    summaries = [trial_summary(t, history) for t in history.trials.values()]
    params = sorted({k for s in summaries for k in s["config"]})
    metrics = sorted({k for s in summaries for k in s["final_metrics"]} - {history.metric})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["trial", "state", "steps", history.metric]
        + [f"config.{p}" for p in params]
        + [f"final.{m}" for m in metrics]
        + ["reason"]
    )
    for s in summaries:
        writer.writerow(
            [s["trial"], s["state"], s["steps"], _cell(s[history.metric])]
            + [_cell(s["config"].get(p)) for p in params]
            + [_cell(s["final_metrics"].get(m)) for m in metrics]
            + [s["reason"]]
        )
    return out.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value
