"""The sections of ``report.html``: each a function of the report's ``Facts``, returning one
``<section>`` with a stable id. A section that does not apply says so in one line.

Every piece of text from the study (configs, reasons, names) goes through ``html.escape``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..events import Event
from ..lineage import copies
from ..space import Choice
from ..types import History
from .data import (
    StopRecord,
    best_so_far,
    completed_values,
    exploit_rows,
    fate_counts,
    lcm_predictions,
    nearest_curves,
    parameter_axes,
    result_axis,
    state_counts,
    steps_trained,
)
from .plots import best_so_far_figure, space_3d_figure
from .report_figures import (
    curves_by_fate_figure,
    data_uri,
    fate_colour,
    lcm_matches_figure,
    parallel_figure,
    pbt_figures,
)


@dataclass(frozen=True)
class Facts:
    """What every section reads: the study, its log, its stops and each trial's fate."""

    study: Any
    history: History
    events: list[Event]
    stops: list[StopRecord]
    fates: dict[int, str]


# ----------------------------------------------------------------------------- sections


def summary(facts: Facts) -> str:
    """Objective, metric and mode, best trial, budget used and trials by state."""
    history, spec = facts.history, facts.study.spec
    trained, budget = steps_trained(facts.events), len(history) * history.max_steps
    share = f" ({trained / budget:.1%})" if budget else ""
    states = ", ".join(f"{state} {n}" for state, n in state_counts(history).items())
    rules: dict[str, int] = {}
    for record in facts.stops:
        rules[record.rule or "scheduler"] = rules.get(record.rule or "scheduler", 0) + 1
    rows = [
        ("objective", spec.objective),
        ("metric", f"{history.metric} ({history.mode})"),
        ("parameters", ", ".join(spec.space.names)),
        (
            "budget used",
            f"{trained} of {budget} steps{share}: "
            f"{len(history)} trials x {history.max_steps} steps",
        ),
        ("trials by state", states),
        ("early stops by rule", ", ".join(f"{r} {n}" for r, n in rules.items()) or "none"),
        ("fixed settings", _pairs(spec.fixed) or "none"),
        ("seed", spec.seed),
    ]
    best = history.best()
    if best is None:
        rows.insert(2, ("best trial", "no trial has completed yet"))
    else:
        rows.insert(
            2, ("best trial", f"#{best.id}: {history.metric} = {_fmt(history.score(best))}")
        )
        rows.insert(3, ("best config", _pairs(best.config)))
    body = '<table class="kv">' + "".join(_row([k, v], key=True) for k, v in rows) + "</table>"
    return _section("summary", "Summary", body)


def best_curve(facts: Facts) -> str:
    """The best completed value so far against compute spent."""
    anytime = best_so_far(facts.events, facts.history)
    if not anytime.compute:
        return _section("best-so-far", "Best so far vs compute", _note("no trial completed yet"))
    line = _note(
        f"best {facts.history.metric} {_fmt(anytime.best[-1])} after "
        f"{anytime.compute[-2]} steps of compute ({anytime.compute[-1]} spent in all)"
    )
    figure = _img(data_uri(best_so_far_figure(anytime, facts.history)), "best so far vs compute")
    return _section("best-so-far", "Best so far vs compute", line + figure)


def curves(facts: Facts) -> str:
    """Every curve by fate (the legend names each stopping rule), LCM's predictions, and
    up to six LCM stops beside the nearest complete curve their prediction came from."""
    history = facts.history
    title = "Learning curves by fate"
    if not len(history):
        return _section("curves", title, _note("no trial has started yet"))
    predictions = lcm_predictions(facts.stops)
    legend = [
        f'<li><span class="swatch" style="background:{fate_colour(name)}"></span>'
        f"{html.escape(name)} ({count})</li>"
        for name, count in fate_counts(facts.fates).items()
    ]
    best = history.best()
    if best is not None:
        legend.append(
            f'<li><span class="swatch" style="background:#000"></span>best #{best.id}</li>'
        )
    if predictions:
        legend.append(f"<li>x: LCM predicted final value, at step {history.max_steps}</li>")
    body = '<ul class="legend">' + "".join(legend) + "</ul>"
    body += _img(data_uri(curves_by_fate_figure(history, facts.fates, predictions)), title)
    if predictions:
        shown = min(6, len(predictions))
        body += _note(
            f"{shown} of {len(predictions)} LCM stops: the stopped curve, its nearest complete "
            f"curve (dashed) and the predicted final value (x); dotted: the check step"
        )
        body += _img(data_uri(lcm_matches_figure(history, predictions)), "LCM matches")
    else:
        body += _note("no trial was stopped by LCM: no predicted final values to show")
    return _section("curves", title, body)


def stop_table(facts: Facts) -> str:
    """Every early stop with its explanation: rule, reason, prediction, nearest curves."""
    title = "Early stops"
    if not facts.stops:
        return _section("stops", title, _note("no early stops"))
    head = ["trial", "step", "rule", "reason", "prediction", "nearest complete curves (distance)"]
    rows = []
    for r in facts.stops:
        near = nearest_curves(r.details)
        prediction = r.details.get("prediction") if r.details.get("predict") != "current" else None
        rows.append([f"#{r.trial}", r.step, r.rule, r.reason, _fmt(prediction), near])
    body = _note(f"{len(facts.stops)} trial(s) stopped early") + _table(head, rows)
    return _section("stops", title, body)


def parameters(facts: Facts) -> str:
    """Parallel coordinates of every parameter and the result, one line per trial."""
    title = "Parameters vs result"
    history = facts.history
    if not len(history):
        return _section("parameters", title, _note("no trial has started yet"))
    axes = parameter_axes(history, facts.study.spec.space)
    figure = parallel_figure(axes, result_axis(history), completed_values(history))
    line = _note(
        "one line per trial, coloured by its final value if it completed (grey: stopped, "
        "failed or running); numbers scaled to their domain, choices by index"
    )
    return _section("parameters", title, line + _img(data_uri(figure), "parallel coordinates"))


def grid3d(facts: Facts) -> str:
    """The first three parameters in 3-D coloured by result (a cube for a grid study)."""
    title = "First three parameters in 3-D"
    space, history = facts.study.spec.space, facts.history
    if len(space) < 3:
        return _section(
            "grid3d", title, _note(f"the space has {len(space)} parameter(s): no 3-D view")
        )
    if not len(history):
        return _section("grid3d", title, _note("no trial has started yet"))
    names = list(space.names)[:3]
    log_axes = {n for n in names if not isinstance(space[n], Choice) and space[n].log}
    figure = space_3d_figure(history, names, log_axes)
    return _section("grid3d", title, _img(data_uri(figure), "parameters in 3-D"))


def pbt(facts: Facts) -> str:
    """PBT lineage (figure and table of copies) and every member's learning rate."""
    title = "Population Based Training"
    log = copies(facts.events)
    if not log:
        return _section("pbt", title, _note("not a PBT study: no member copied another"))
    figures = pbt_figures(facts.history, facts.events, log)
    body = _img(data_uri(figures["pbt_lineage"]), "PBT lineage")
    rows = [
        [e.step, f"#{e.trial}", f"#{e.source}", _fmt(e.before), _fmt(e.after)]
        for e in exploit_rows(facts.events)
    ]
    body += _table(["step", "member", "copied from", "lr before", "lr after"], rows)
    if "pbt_lr" in figures:
        body += _img(data_uri(figures["pbt_lr"]), "learning rate per member")
    else:
        body += _note("no member reports or is configured with an lr: no schedules to show")
    return _section("pbt", title, body)


SECTIONS = (summary, best_curve, curves, stop_table, parameters, grid3d, pbt)
"""The page's sections, in order."""


# ----------------------------------------------------------------------------- helpers


def _section(anchor: str, title: str, body: str) -> str:
    """A ``<section>`` with a stable id (tests and the page's links find it by that)."""
    return f'<section id="{anchor}">\n<h2>{html.escape(title)}</h2>\n{body}\n</section>\n'


def _note(text: str) -> str:
    """One escaped line: what a section shows, or why it has nothing to show."""
    return f'<p class="note">{html.escape(text)}</p>'


def _img(uri: str, alt: str) -> str:
    """An embedded image (``uri`` is a data URI this module made, not user text)."""
    return f'<img src="{uri}" alt="{html.escape(alt)}">'


def _table(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table: a header row, then one row per item (every cell escaped)."""
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(_row(r) for r in rows)
    return f"<table><tr>{header}</tr>{body}</table>"


def _row(cells: Sequence[Any], key: bool = False) -> str:
    """One table row, escaped; with ``key`` its first cell is a header (key/value tables)."""
    out = []
    for i, cell in enumerate(cells):
        tag = "th" if key and i == 0 else "td"
        out.append(f"<{tag}>{html.escape(str('' if cell is None else cell))}</{tag}>")
    return "<tr>" + "".join(out) + "</tr>"


def _pairs(mapping) -> str:
    """``key=value, ...`` of a config (escaped later, with the cell it goes in)."""
    return ", ".join(f"{k}={_fmt(v)}" for k, v in mapping.items())


def _fmt(value: Any) -> str:
    """Floats to four significant digits, None to nothing, anything else as text."""
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
