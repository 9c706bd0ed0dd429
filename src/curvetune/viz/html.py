"""``report.html``: a whole study on one self-contained page.

The page carries everything it shows: figures are base64 PNG ``data:`` URIs, the style is
inline, nothing is fetched, so it opens offline and can be mailed or archived as one file.
Sections (``html_sections``), each with a stable id: ``summary``, ``best-so-far``,
``curves``, ``stops``, ``parameters``, ``grid3d``, ``pbt``.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from ..events import Event
from .data import fates, stops
from .html_sections import SECTIONS, Facts

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; max-width: 1100px; margin: 1.5em auto;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: .6em 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: .25em .5em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; }
table.kv th { width: 12em; }
img { max-width: 100%; display: block; margin: .6em 0; }
.note { color: #555; font-style: italic; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4em 1.4em; }
.swatch { display: inline-block; width: 1.6em; height: .6em; margin-right: .4em; }
"""

TITLES = {
    "summary": "summary",
    "best-so-far": "best so far",
    "curves": "curves",
    "stops": "stops",
    "parameters": "parameters",
    "grid3d": "3-D",
    "pbt": "PBT",
}


def write_html(study, path: Path, events: Sequence[Event] | None = None) -> Path:
    """Write the study's report as one HTML file at ``path`` (creating its folder);
    ``events`` saves reading the log again when the caller has it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(study, events), encoding="utf-8")
    return path


def render_html(study, events: Sequence[Event] | None = None) -> str:
    """The report page as text: every section of ``html_sections.SECTIONS`` in order."""
    events = list(study.store.events()) if events is None else list(events)
    history = study.history
    records = stops(events)
    facts = Facts(study, history, events, records, fates(history, records))
    name = study.directory.name if study.directory is not None else "in-memory study"
    nav = "".join(f'<a href="#{anchor}">{html.escape(t)}</a>' for anchor, t in TITLES.items())
    body = "".join(section(facts) for section in SECTIONS)
    title = html.escape(f"curvetune report: {name}")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n<nav>{nav}</nav>\n{body}</body>\n</html>\n"
    )
