"""The dashboard's Starlette application: one page, its static files and a JSON API.

``create_app(directory, host=...)`` checks the store before anything is served (a missing,
foreign or damaged store raises ``StoreError``), then answers requests whose ``Host`` is
loopback or ``host`` (``hosts``: no DNS rebinding; any host when ``host`` is 0.0.0.0/::):

- ``/``: the page (``static/index.html``), ``/static/...``: its JS and CSS, and
  ``/static/plotly.min.js``: Plotly's offline bundle from the ``plotly`` package (no CDN);
- ``/api/study``: what the study is, counts by state, the best trial, the newest ``seq``;
- ``/api/trials``: one sorted page of the trials table;
- ``/api/curves?trials=1,2``: whole learning curves of those trials;
- ``/api/poll?after=SEQ&trials=1,2``: what happened after ``SEQ`` (decisions, new points).

Every answer refreshes the in-memory index from the store first (only what is new).
"""

from __future__ import annotations

import contextlib
import importlib.resources
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..storage import StoreError
from . import DEFAULT_HOST, queries
from .hosts import HostCheck
from .index import StudyIndex

PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
MAX_CURVES = 500
ASSET_CACHE = {"Cache-Control": "public, max-age=86400"}


def plotly_bundle() -> Path:
    """``plotly.min.js`` as shipped in the ``plotly`` package's data."""
    path = importlib.resources.files("plotly") / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise OSError(f"the installed plotly package has no {path}")
    return Path(str(path))


def create_app(directory: str | Path, *, host: str = DEFAULT_HOST) -> Starlette:
    """The dashboard of the study in ``directory``; reads ``directory/study.db`` only.
    ``host`` is the address it is served on: requests must name loopback or it in
    ``Host`` (any name when it is all interfaces, 0.0.0.0 or ::)."""
    path = Path(directory) / "study.db"
    spec = queries.check_store(path)
    db = queries.connect(path)
    index = StudyIndex(db, spec)
    try:
        index.refresh()  # reads every table once: a damaged store fails here, not later
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StoreError(f"{path} cannot be read ({exc})") from None
    static = importlib.resources.files("curvetune.dashboard") / "static"
    page = (static / "index.html").read_text(encoding="utf-8")
    bundle = plotly_bundle()
    about = {
        "directory": str(directory),
        "objective": spec["objective"],
        "metric": spec["metric"],
        "mode": spec["mode"],
        "max_steps": spec["max_steps"],
        "params": list(spec["space"]),
    }

    def home(request: Request) -> Response:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    def plotly(request: Request) -> Response:
        return FileResponse(bundle, media_type="text/javascript", headers=ASSET_CACHE)

    def study(request: Request) -> Response:
        index.refresh()
        return JSONResponse({**about, **index.summary()})

    def trials(request: Request) -> Response:
        index.refresh()
        q = request.query_params
        try:
            body = index.page(
                sort=q.get("sort", "id"),
                order=q.get("order", "asc"),
                state=q.get("state", ""),
                offset=_number(q, "offset", 0, 0, 10**9),
                limit=_number(q, "limit", PAGE_SIZE, 1, MAX_PAGE_SIZE),
            )
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(body)

    def curves(request: Request) -> Response:
        seq = index.refresh()
        try:
            ids = _ids(request.query_params.get("trials", ""))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"seq": seq, "metric": index.metric, "curves": index.curves(ids)})

    def poll(request: Request) -> Response:
        seq = index.refresh()
        q = request.query_params
        try:
            after = _number(q, "after", 0, 0, 2**62)
            ids = _ids(q.get("trials", ""))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        news = seq > after
        return JSONResponse(
            {
                "seq": seq,
                "decisions": index.decisions(after=after) if news else [],
                "points": index.curves(ids, after=after) if news and ids else {},
            }
        )

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/static/plotly.min.js", plotly),
            Mount("/static", StaticFiles(packages=[("curvetune.dashboard", "static")])),
            Route("/api/study", study),
            Route("/api/trials", trials),
            Route("/api/curves", curves),
            Route("/api/poll", poll),
        ],
        middleware=[Middleware(HostCheck, bind=host)],
        lifespan=lambda app: _closing(db),
    )
    app.state.index = index  # for tests and embedding
    app.state.db = db
    return app


@contextlib.asynccontextmanager
async def _closing(db) -> AsyncIterator[None]:
    """Close the read-only connection when the server stops."""
    try:
        yield
    finally:
        db.close()


def _number(params, name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from None
    return min(max(value, low), high)


def _ids(text: str) -> list[int]:
    """Trial ids from ``1,2,3`` (at most ``MAX_CURVES``)."""
    try:
        ids = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"trials must be comma-separated ids, not {text[:50]!r}") from None
    if len(ids) > MAX_CURVES:
        raise ValueError(f"at most {MAX_CURVES} curves at a time")
    return ids
