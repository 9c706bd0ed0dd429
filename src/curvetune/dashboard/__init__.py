"""``curvetune dashboard DIR``: a live, read-only web page of a (running) study.

A Starlette app (``app.create_app``) served by uvicorn, reading the study's SQLite store
through a read-only connection (``queries``) into an incrementally updated index
(``index``); the page (``static/``) polls its JSON API about once a second and draws the
learning curves with Plotly's offline bundle. It answers only requests addressed to
loopback or to ``--host`` (``hosts``: a page elsewhere cannot reach it by DNS rebinding).
Starlette, uvicorn and plotly come with the ``dashboard`` extra and are imported only
here, when asked for.
"""

from __future__ import annotations

from pathlib import Path

from ..executors._optional import require
from .hosts import host_name, is_loopback

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def serve(
    directory: Path, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, log=print
) -> None:
    """Check the store, then serve its dashboard until interrupted."""
    for module in ("starlette", "uvicorn", "plotly"):
        require(module, extra="dashboard", what="the dashboard")
    import uvicorn

    from .app import create_app

    app = create_app(directory, host=host)  # a missing or damaged store stops here
    shown = f"[{host}]" if ":" in host else host
    log(f"dashboard of {directory} at http://{shown}:{port}/ (Ctrl+C to stop)")
    if not is_loopback(host_name(shown) or ""):
        log(f"note: listening on {host}, so anyone who can reach this machine can read it")
    uvicorn.run(app, host=host, port=port, log_level="warning")
