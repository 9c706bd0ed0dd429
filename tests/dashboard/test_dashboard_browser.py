"""The live dashboard in real headless Chromium (Debian's, driven by Playwright), against a
study that is running: it lists the trials, draws a curve, and updates in place."""

from __future__ import annotations

import importlib.util
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import require, require_module

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


if importlib.util.find_spec("pytest_playwright") is None:

    @pytest.fixture
    def page():
        """Stands in for pytest-playwright's ``page`` when it is not installed."""
        require_module("pytest_playwright")


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """pytest-playwright launches Debian's Chromium: browser downloads are not possible."""
    require(Path(CHROMIUM).exists(), f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return {"executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


STUDY_FILE = """
[study]
objective = "curvetune.testing:synthetic"
metric = "accuracy"
mode = "max"
directory = "{directory}"

[budget]
trials = 500
steps = 40

[space]
x = {{ type = "float", low = 0.0, high = 1.0 }}

[fixed]
sleep = 0.1

[scheduler]
name = "median"

[executor]
name = "sequential"
"""


def _count_reports(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.fixture
def running_study(tmp_path):
    """A study that keeps running (a report every 0.1 s) in a subprocess."""
    directory = tmp_path / "live"
    study_file = tmp_path / "live.toml"
    study_file.write_text(STUDY_FILE.format(directory=directory.as_posix()))
    proc = subprocess.Popen(
        [sys.executable, "-m", "curvetune", "run", str(study_file), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while _count_reports(directory / "study.db") < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the study wrote no report in 120 s"
            time.sleep(0.2)
        yield directory
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def dashboard_url(running_study):
    """The dashboard of the running study, served by uvicorn on a free port of 127.0.0.1."""
    import uvicorn

    from curvetune.dashboard.app import create_app

    app = create_app(running_study)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


def _points(page) -> int:
    return page.evaluate(
        "(() => { const g = document.getElementById('curves');"
        " return (g.data || []).reduce((n, t) => n + t.x.length, 0); })()"
    )


@pytest.mark.browser
@pytest.mark.slow
def test_live_page_follows_a_running_study(dashboard_url, page):
    from playwright.sync_api import expect

    page.goto(dashboard_url)
    rows = page.locator("#trials tbody tr")
    expect(rows.first).to_be_visible(timeout=20_000)
    assert rows.count() > 0
    expect(rows.first.locator("td").nth(1)).to_have_text("running")  # newest first
    # The curve: a Plotly trace drawn as an SVG path with points.
    page.wait_for_selector("#curves .scatterlayer .trace path.js-line", timeout=20_000)
    assert page.evaluate("document.getElementById('curves').data.length") >= 1
    expect(page.locator("#status")).to_contain_text("live")  # the first poll is done
    points = _points(page)
    assert points >= 1
    page.evaluate("window.notReloaded = true")
    page.wait_for_function(
        f"document.getElementById('curves').data.reduce((n, t) => n + t.x.length, 0) > {points}",
        timeout=20_000,
    )
    assert page.evaluate("window.notReloaded === true")  # updated in place
    expect(page.locator("#decisions li").first).to_be_visible(timeout=10_000)
    assert "Continue" in page.locator("#decisions").inner_text()
    # Sorting by a column redraws the table from the API.
    page.click("th[data-sort='x']")
    expect(page.locator("th[data-sort='x']")).to_contain_text("▲")
    values = [float(t) for t in page.locator("#trials tbody tr td:nth-child(5)").all_inner_texts()]
    assert values == sorted(values)
