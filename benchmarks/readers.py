"""How fast the readers of a study answer: the report, the dashboard, an LCM decision.

The time budgets the test suite used to assert (and now checks only at ten times, as smoke
limits, so a busy machine cannot fail a test) are measured here. Run it from the repository
root (``PYTHONPATH=src`` if curvetune is not installed; the dashboard rows need the
``dashboard`` extra); it takes well under a minute::

    python benchmarks/readers.py              # 5 repeats per row
    python benchmarks/readers.py --repeats 3

Rows (each repeat is one cold run; the table gives the median and the range):

1. ``curvetune report DIR -o FILE.html`` (the CLI's ``main``, in process) of a finished
   200-trial LCM study: random search over three parameters, 10 steps, sequential.
2. The same study's report folder (``-o DIR``: PNG figures, ``stops.md``, ``report.html``).
3. The dashboard of a finished 10,000-trial store (8 steps, segments of 2, a third stopped
   at step 4): open it cold (check the store, index it) and answer its first page (HTML,
   ``/api/study``, the newest 100 rows, their curves, the first poll); Starlette's
   in-process TestClient, so no network is timed.
4. That dashboard, warm: the slowest of three full sorts (by value, by ``lr``, by state).
5. The slowest of 100 appends by the study's writer while the dashboard polls the store
   from another thread (WAL: the writer should never wait on the reader).
6. One ``LCMScheduler.decide`` with 1,000 recorded 52-step curves (reference built once):
   the mean over 200 decisions.

The table goes to the console and to ``benchmarks/results/readers.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from curvetune.cli import main as cli  # noqa: E402
from curvetune.events import Decided, SegmentFinished, TrialCreated, TrialFinished  # noqa: E402
from curvetune.schedulers import make_scheduler  # noqa: E402
from curvetune.schedulers.lcm import LCMScheduler  # noqa: E402
from curvetune.space import Choice, Float, Int, Space  # noqa: E402
from curvetune.storage import SqliteStore  # noqa: E402
from curvetune.study import Study, StudySpec  # noqa: E402
from curvetune.types import History, Report, Trial, TrialState  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "readers.md"
REPORT_TRIALS, DASHBOARD_TRIALS, LCM_CURVES = 200, 10_000, 1_000


def timed(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call of ``fn``."""
    begin = time.perf_counter()
    fn()
    return time.perf_counter() - begin


@contextlib.contextmanager
def quiet(sink):
    """Progress lines and the CLI's console output go to ``sink``, not the table."""
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


# ----------------------------------------------------------------------------- report


def lcm_study(directory: Path) -> Path:
    """A finished 200-trial LCM study over three parameters (as tests/viz/test_report_html)."""
    space = {"x": Float(0.0, 1.0), "w": Int(1, 100, log=True), "k": Choice(["a", "b", "c"])}
    study = Study.create(
        objective="curvetune.testing:synthetic",
        space=space,
        metric="accuracy",
        mode="max",
        max_steps=10,
        directory=directory,
    )
    scheduler = make_scheduler("lcm", min_complete=5)
    with open(os.devnull, "w") as sink, quiet(sink):
        study.optimize(
            progress=False, trials=REPORT_TRIALS, scheduler=scheduler, executor="sequential"
        )
    study.close()
    return directory


def report_seconds(study: Path, out: Path) -> float:
    """Seconds for ``curvetune report STUDY -o OUT`` (its console output discarded)."""
    with open(os.devnull, "w") as sink, quiet(sink):
        return timed(lambda: cli(["report", str(study), "-o", str(out)]))


# ----------------------------------------------------------------------------- dashboard


def big_store(directory: Path, trials: int = DASHBOARD_TRIALS, steps: int = 8) -> SqliteStore:
    """A finished study written straight to the store (as tests/dashboard/test_dashboard); open."""
    space = Space({"x": Float(0.0, 1.0), "lr": Float(1e-4, 1.0, log=True)})
    store = SqliteStore(directory / "study.db")
    store.set_spec(
        StudySpec("curvetune.testing:synthetic", space, "accuracy", "max", steps).to_json()
    )
    events: list = []
    for i in range(trials):
        x, lr = (i * 0.6180339887) % 1.0, 10 ** (-4 + 4 * ((i * 0.41) % 1.0))
        final = 1.0 - (x - 0.3) ** 2
        events.append(TrialCreated(i, {"x": x, "lr": lr}, i))
        stop = 4 if i % 3 == 0 else steps
        for start in range(0, stop, 2):
            reports = tuple(
                Report(s, {"accuracy": final * (1 - math.exp(-s / 3)), "loss": 1.0})
                for s in (start + 1, start + 2)
            )
            events += [
                Decided(i, "Continue", until=start + 2),
                SegmentFinished(i, start, start + 2, "ok", reports, "", 0.01),
            ]
        kind, state = (
            ("Stop", TrialState.STOPPED) if stop < steps else ("Complete", TrialState.COMPLETED)
        )
        events += [Decided(i, kind), TrialFinished(i, state)]
        if len(events) > 20_000:
            store.append(events)
            events = []
    store.append(events)
    return store


def client(directory: Path):
    from starlette.testclient import TestClient

    from curvetune.dashboard.app import create_app

    return TestClient(create_app(directory), base_url="http://127.0.0.1:8765")


def first_page(directory: Path) -> tuple[float, object]:
    """Seconds to open the dashboard cold and answer its first page; the client."""
    begin = time.perf_counter()
    c = client(directory)
    c.get("/").raise_for_status()
    c.get("/api/study").raise_for_status()
    rows = c.get("/api/trials?sort=id&order=desc&limit=100").json()["rows"]
    ids = ",".join(str(r["id"]) for r in rows)
    c.get(f"/api/curves?trials={ids}").raise_for_status()
    c.get(f"/api/poll?after=0&trials={ids}").raise_for_status()
    return time.perf_counter() - begin, c


def slowest_sort(c) -> float:
    queries = ("sort=value&order=desc", "sort=lr", "sort=state&offset=9900")
    return max(timed(lambda q=q: c.get(f"/api/trials?{q}").raise_for_status()) for q in queries)


def slowest_append(directory: Path) -> float:
    """The slowest of 100 one-event appends while the dashboard polls from a thread."""
    writer = big_store(directory, trials=1)
    c, done = client(directory), threading.Event()

    def read() -> None:
        while not done.is_set():
            c.get("/api/trials?sort=value")
            c.get("/api/poll?after=0&trials=0")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        report = (Report(9, {"accuracy": 0.5, "loss": 1.0}),)
        worst = max(
            timed(lambda: writer.append([SegmentFinished(0, 8, 9, "ok", report)]))
            for _ in range(100)
        )
    finally:
        done.set()
        reader.join()
        writer.close()
        c.app.state.db.close()
    return worst


# ----------------------------------------------------------------------------- LCM


def lcm_decision_seconds(decisions: int = 200) -> float:
    """Mean seconds of one LCM decision with 1,000 recorded curves of 52 steps."""
    rng = np.random.default_rng(0)
    history = History(metric="acc", mode="max", max_steps=52)

    def trial(i: int, values, state=TrialState.COMPLETED) -> Trial:
        reports = tuple(Report(s, {"acc": float(v)}) for s, v in enumerate(values, 1))
        return Trial(id=i, config={}, seed=i, state=state, reports=reports, step=len(values))

    for i, final in enumerate(rng.uniform(0.1, 0.95, size=LCM_CURVES)):
        history._put(trial(i, [final * (1 - np.exp(-s / 5)) for s in range(1, 53)]))
    lcm = LCMScheduler()
    running = trial(5000, [0.5 * (1 - np.exp(-s / 5)) for s in range(1, 7)], TrialState.RUNNING)
    lcm.decide(running, history, rng)  # builds the reference once
    return timed(lambda: [lcm.decide(running, history, rng) for _ in range(decisions)]) / decisions


# ----------------------------------------------------------------------------- table

ROWS = [  # key, what, target in seconds (the test suite checks ten times it)
    ("1", f"report.html of {REPORT_TRIALS} LCM trials (`curvetune report -o FILE.html`)", 10.0),
    ("2", f"report folder of the same {REPORT_TRIALS} trials (PNGs, stops.md, report.html)", None),
    ("3", f"dashboard of {DASHBOARD_TRIALS:,} trials: open cold + first page", 1.0),
    ("4", f"dashboard of {DASHBOARD_TRIALS:,} trials: slowest full sort (warm)", 0.5),
    ("5", "writer: slowest of 100 appends while the dashboard polls", 2.0),
    ("6", f"one LCM decision with {LCM_CURVES:,} recorded curves (mean of 200)", 1e-3),
]


def measure(repeats: int) -> dict[str, list[float]]:
    """Every row's seconds, ``repeats`` cold runs each (studies built once, untimed)."""
    warnings.simplefilter("ignore")  # starlette's TestClient prefers httpx2
    out: dict[str, list[float]] = {key: [] for key, _, _ in ROWS}
    with tempfile.TemporaryDirectory(dir=ROOT / "benchmarks") as tmp:
        tmp = Path(tmp)
        study = lcm_study(tmp / "lcm")
        (tmp / "big").mkdir()
        big_store(tmp / "big").close()
        for i in range(repeats):
            out["1"].append(report_seconds(study, tmp / f"page{i}.html"))
            out["2"].append(report_seconds(study, tmp / f"folder{i}"))
            seconds, c = first_page(tmp / "big")
            out["3"].append(seconds)
            out["4"].append(slowest_sort(c))
            c.app.state.db.close()
            (tmp / f"w{i}").mkdir()
            out["5"].append(slowest_append(tmp / f"w{i}"))
            out["6"].append(lcm_decision_seconds())
    return out


def shown(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds < 0.01 else f"{seconds:.3f} s"


def table(seconds: dict[str, list[float]], repeats: int, load: tuple[float, float]) -> str:
    """The markdown report: where, the rows with median, range, target and whether met."""
    lines = [
        "# Readers: report, dashboard and LCM decision times",
        "",
        f"Machine: {os.cpu_count()} CPUs (os.cpu_count()), {platform.platform()}, "
        f"Python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        f"Median of {repeats} cold run(s) per row; written by `python benchmarks/readers.py`. "
        f"Load average (1 min) {load[0]:.2f} at the start, {load[1]:.2f} at the end.",
        "",
        "| row | what | median | min–max | target | met |",
        "|---|---|---:|---:|---|---|",
    ]
    for key, what, target in ROWS:
        values = seconds[key]
        median = statistics.median(values)
        goal = (
            "—"
            if target is None
            else f"< {target * 1e3:g} ms"
            if target < 0.01
            else f"< {target:g} s"
        )
        met = "—" if target is None else ("yes" if median < target else "**no**")
        lines.append(
            f"| {key} | {what} | {shown(median)} | {shown(min(values))}–{shown(max(values))} "
            f"| {goal} | {met} |"
        )
    lines += [
        "",
        "- The tests check the same things at ten times these targets (smoke limits): "
        "tests/viz/test_report_html.py (row 1), tests/dashboard/test_dashboard.py (rows 3, 4; "
        "row 5 as a writer with `busy_timeout=0`, which fails at once if it would wait), "
        "tests/schedulers/test_lcm.py (row 6).",
        "- Rows 1–2 run the CLI in process; rows 3–5 use Starlette's TestClient (no sockets).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="cold runs per row (default 5)")
    args = parser.parse_args(argv)
    start_load = os.getloadavg()[0]
    seconds = measure(max(1, args.repeats))
    text = table(seconds, max(1, args.repeats), (start_load, os.getloadavg()[0]))
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
