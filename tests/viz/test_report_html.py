"""``report.html``: every section on LCM and PBT studies, self-contained, escaped; the
PBT figures also as PNG files (its build time: benchmarks/readers.py)."""

import base64
import re
import time

import pytest

from curvetune.cli import main
from curvetune.events import Decided, Exploited, SegmentFinished, TrialCreated, TrialFinished
from curvetune.events import replay as replay_events
from curvetune.schedulers import make_scheduler
from curvetune.space import Choice, Float, Int, Space
from curvetune.study import Study
from curvetune.types import History, Report, TrialState
from curvetune.viz.data import (
    StopRecord,
    fate_counts,
    fates,
    lcm_predictions,
    member_rates,
    nearest_curves,
    parameter_axes,
    stops,
    stops_markdown,
)
from curvetune.viz.html import render_html

SECTION_IDS = ["summary", "best-so-far", "curves", "stops", "parameters", "grid3d", "pbt"]
SPACE_3 = {"x": Float(0.0, 1.0), "w": Int(1, 100, log=True), "k": Choice(["a", "b", "c"])}


def sections(page: str) -> dict[str, str]:
    """Each ``<section id=...>``'s inner HTML, by id."""
    return dict(re.findall(r'<section id="([\w-]+)">(.*?)</section>', page, re.S))


def images(fragment: str) -> list[bytes]:
    """The decoded PNGs embedded in ``fragment``."""
    return [
        base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([^"]+)"', fragment)
    ]


def lcm_study(directory, trials=40):
    """A finished random search over three parameters with LCM stopping (on disk)."""
    study = Study.create(
        objective="curvetune.testing:synthetic",
        space=SPACE_3,
        metric="accuracy",
        mode="max",
        max_steps=10,
        directory=directory,
    )
    study.optimize(
        trials=trials, scheduler=make_scheduler("lcm", min_complete=5), executor="sequential"
    )
    study.close()
    return Study.load(directory)


@pytest.fixture(scope="module")
def lcm(tmp_path_factory):
    study = lcm_study(tmp_path_factory.mktemp("lcm") / "study")
    yield study, render_html(study)
    study.close()


@pytest.fixture(scope="module")
def pbt(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pbt") / "study"
    study = Study.create(
        objective="curvetune.testing:sgd_quadratic",
        space={"lr": Float(1e-4, 0.3, log=True)},
        metric="loss",
        mode="min",
        max_steps=8,
        directory=directory,
    )
    scheduler = make_scheduler("pbt", population=8, interval=2)
    study.optimize(trials=8, scheduler=scheduler, executor="sequential")
    study.close()
    study = Study.load(directory)
    yield study, render_html(study)
    study.close()


# ----------------------------------------------------------------------------- LCM study


def test_lcm_report_has_every_section_in_order(lcm):
    _, page = lcm
    found = re.findall(r'<section id="([\w-]+)">', page)
    assert found == SECTION_IDS
    assert all(body.strip() for body in sections(page).values())


def test_summary_names_objective_best_trial_budget_and_states(lcm):
    study, page = lcm
    history = study.history
    summary = sections(page)["summary"]
    best = history.best()
    assert "curvetune.testing:synthetic" in summary and "accuracy (max)" in summary
    assert f"#{best.id}: accuracy = {history.score(best):.4g}" in summary
    assert f"k={best.config['k']}" in summary
    trained = sum(t.step for t in history.trials.values())
    assert f"{trained} of {40 * 10} steps" in summary and "40 trials x 10 steps" in summary
    stopped = len(history.in_state(TrialState.STOPPED))
    completed = len(history.completed())
    assert f"completed {completed}" in summary and f"stopped {stopped}" in summary
    assert f"lcm {stopped}" in summary


def test_curves_legend_names_the_rule_and_shows_lcm_predictions(lcm):
    study, page = lcm
    history = study.history
    curves = sections(page)["curves"]
    stopped = len(history.in_state(TrialState.STOPPED))
    assert stopped > 0
    assert f"stopped by lcm ({stopped})</li>" in curves
    assert f"completed ({len(history.completed())})</li>" in curves
    assert "LCM predicted final value" in curves
    assert f"{min(6, stopped)} of {stopped} LCM stops" in curves
    assert len(images(curves)) == 2
    assert "no trial was stopped by LCM" not in curves


def test_stop_table_explains_every_stop_with_prediction_and_nearest_curves(lcm):
    study, page = lcm
    table = sections(page)["stops"]
    records = stops(study.store.events())
    assert records and f"{len(records)} trial(s) stopped early" in table
    assert table.count("<tr>") == len(records) + 1
    for record in records:
        near = record.details["neighbours"][0]
        row = re.search(rf"<tr><td>#{record.trial}</td>.*?</tr>", table).group(0)
        assert "<td>lcm</td>" in row and "predicted final accuracy" in row
        assert f"<td>{record.details['prediction']:.4g}</td>" in row
        assert f"#{near} (" in row


def test_parameters_and_3d_sections_have_figures(lcm):
    _, page = lcm
    parts = sections(page)
    assert len(images(parts["parameters"])) == 1
    assert len(images(parts["grid3d"])) == 1
    assert "not a PBT study" in parts["pbt"] and not images(parts["pbt"])


def test_page_is_self_contained(lcm, pbt):
    for _, page in (lcm, pbt):
        assert "http://" not in page and "https://" not in page
        assert "<script" not in page and "<link" not in page and "url(" not in page
        for value in re.findall(r'\bsrc="([^"]*)"', page):
            assert value.startswith("data:image/png;base64,")
        for value in re.findall(r'\bhref="([^"]*)"', page):
            assert value.startswith("#") and value[1:] in SECTION_IDS
        pngs = images(page)
        assert len(pngs) >= 5 and all(p.startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)


# ----------------------------------------------------------------------------- PBT study


def test_pbt_report_shows_lineage_table_and_schedules(pbt):
    study, page = pbt
    part = sections(page)["pbt"]
    events = list(study.store.events())
    exploits = [e for e in events if isinstance(e, Exploited)]
    assert exploits
    assert len(images(part)) == 2  # the lineage and the learning rates
    assert "copied from" in part
    for e in exploits:
        row = f"<tr><td>{e.step}</td><td>#{e.trial}</td><td>#{e.source}</td>"
        assert row in part
        assert f"<td>{e.config['lr']:.4g}</td></tr>" in part
    parts = sections(page)
    assert "no early stops" in parts["stops"]
    assert "1 parameter(s): no 3-D view" in parts["grid3d"]


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_report_folder_of_a_pbt_study_has_the_pbt_figures_as_png(pbt, tmp_path, capsys):
    study, page = pbt
    folder = tmp_path / "folder"
    assert main(["report", str(study.directory), "-o", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == [
        "best_so_far.png",
        "learning_curves.png",
        "pbt_lineage.png",
        "pbt_lr.png",
        "report.html",
    ]
    printed = "".join(capsys.readouterr().out.split())
    assert "pbt_lineage.png" in printed and "pbt_lr.png" in printed
    embedded = images(sections(page)["pbt"])  # the lineage, then the learning rates
    for name, shown in zip(("pbt_lineage.png", "pbt_lr.png"), embedded, strict=True):
        data = (folder / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000, name
        (w, h), (shown_w, shown_h) = _png_size(data), _png_size(shown)
        assert w / h == pytest.approx(shown_w / shown_h, rel=0.02), name  # the same figure


def test_member_rates_follow_reports_or_configs():
    with_lr = [Report(s, {"loss": 1.0, "lr": 0.1 * s}) for s in (1, 2)]
    without = [Report(s, {"loss": 1.0}) for s in (1, 2, 3, 4)]
    events = [
        TrialCreated(0, {"lr": 0.5}, 0),
        SegmentFinished(0, 0, 2, "ok", tuple(with_lr)),
        TrialCreated(1, {"lr": 0.1}, 0),
        SegmentFinished(1, 0, 2, "ok", tuple(without[:2])),
        Exploited(1, 0, 2, {"lr": 0.2}),
        SegmentFinished(1, 2, 4, "ok", tuple(without[2:])),
    ]
    history = replay_events(History(metric="loss", mode="min", max_steps=4), events)
    rates = member_rates(history, events)
    assert rates[0] == ([1, 2], [0.1, 0.2])  # reported rates win over the config
    assert rates[1] == ([1, 2, 3, 4], [0.1, 0.1, 0.2, 0.2])


# ----------------------------------------------------------------------------- pure parts


def test_fates_tell_the_stopping_rules_apart():
    events = []
    for trial, rule in enumerate(["asha", "median", None, "asha"]):
        events += [TrialCreated(trial, {"x": 0.1}, 0)]
        events += [SegmentFinished(trial, 0, 1, "ok", (Report(1, {"acc": 0.5}),))]
        if rule:
            events += [Decided(trial, "Stop", reason="bad", details={"rule": rule, "step": 1})]
        state = TrialState.STOPPED if rule else TrialState.COMPLETED
        events += [TrialFinished(trial, state)]
    history = replay_events(History(metric="acc", mode="max", max_steps=2), events)
    result = fates(history, stops(events))
    assert result == {
        0: "stopped by asha",
        1: "stopped by median",
        2: "completed",
        3: "stopped by asha",
    }
    assert list(fate_counts(result).items()) == [
        ("completed", 1),
        ("stopped by asha", 2),
        ("stopped by median", 1),
    ]


def test_lcm_predictions_take_the_nearest_curve_of_this_study():
    def record(trial, **details):
        return StopRecord(trial, 3, details.get("rule", "lcm"), "", details)

    records = [
        record(
            1, prediction=0.7, predict="trend", neighbours=[-1, 7, 2], distances=[0.1, 0.2, 0.3]
        ),
        record(2, prediction=0.5, predict="current", neighbours=[], distances=[]),
        record(3, rule="asha", value=0.4),
        record(4, prediction=0.6, predict="match", neighbours=[-1], distances=[0.5]),
    ]
    found = lcm_predictions(records)
    assert [(p.trial, p.value, p.neighbour, p.distance) for p in found] == [
        (1, 0.7, 7, 0.2),
        (4, 0.6, None, None),
    ]


def test_prior_neighbours_are_named_in_the_stop_tables():
    prior = {"study": "/runs/earlier", "trial": 3}
    details = {"prediction": 0.6, "neighbours": [prior, 7, -1], "distances": [0.01, 0.02, 0.5]}
    record = StopRecord(5, 3, "lcm", "predicted final 0.6", details)
    near = "prior #3 (0.01), #7 (0.02), prior (0.5)"  # -1: a prior, in older stores
    assert nearest_curves(details) == near
    assert near in stops_markdown([record])
    assert [(p.neighbour, p.distance) for p in lcm_predictions([record])] == [(7, 0.02)]


def test_parameter_axes_scale_to_the_domain_and_index_choices():
    space = Space({"lr": Float(0.001, 0.1, log=True), "k": Choice(["a", "b", "c"])})
    history = History(metric="acc", mode="max", max_steps=1)
    events = [
        TrialCreated(i, {"lr": lr, "k": k}, 0)
        for i, (lr, k) in enumerate([(0.001, "c"), (0.01, "a"), (0.1, "b")])
    ]
    replay_events(history, events)
    lr, k = parameter_axes(history, space)
    assert lr.positions == pytest.approx([0.0, 0.5, 1.0])
    assert [label for _, label in lr.ticks] == ["0.001", "0.01", "0.1"]
    assert k.positions == [1.0, 0.0, 0.5]
    assert k.ticks == [(0.0, "a"), (0.5, "b"), (1.0, "c")]


def test_text_from_the_study_is_escaped():
    study = Study.create(
        objective="curvetune.testing:synthetic",
        space={"x": Float(0.0, 1.0), "tag": Choice(["<i>a&b</i>"])},
        metric="accuracy",
        max_steps=2,
    )
    study.optimize(trials=2, executor="sequential")
    page = render_html(study)
    assert "<i>a&b</i>" not in page
    assert "tag=&lt;i&gt;a&amp;b&lt;/i&gt;" in page


# ----------------------------------------------------------------------------- CLI, speed


def test_cli_writes_one_html_file_or_a_folder_with_report_html(lcm, tmp_path, capsys):
    study, _ = lcm
    out = tmp_path / "page" / "x.html"
    assert main(["report", str(study.directory), "-o", str(out)]) == 0
    assert f"wrote{out}" in "".join(capsys.readouterr().out.split())  # rich wraps long paths
    assert sorted(p.name for p in out.parent.iterdir()) == ["x.html"]
    assert re.findall(r'<section id="([\w-]+)">', out.read_text()) == SECTION_IDS
    folder = tmp_path / "folder"
    assert main(["report", str(study.directory), "-o", str(folder)]) == 0
    printed = "".join(capsys.readouterr().out.split())
    assert sorted(p.name for p in folder.iterdir()) == [
        "best_so_far.png",
        "learning_curves.png",
        "report.html",
        "space_3d.png",
        "stops.md",
    ]
    assert (folder / "report.html").stat().st_size > 10_000
    assert f"wrote{folder / 'report.html'}" in printed and "best_so_far.png" in printed


def test_cli_report_of_a_missing_study_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nowhere"), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no study here" in err[0]
    assert not (tmp_path / "r.html").exists()


@pytest.mark.slow
def test_report_of_200_trials_lists_every_stop(tmp_path, capsys):
    # The 10 s budget is measured by benchmarks/readers.py; here only a smoke limit of ten
    # times that, so a busy machine cannot fail the test.
    study = lcm_study(tmp_path / "big", trials=200)
    records = stops(study.store.events())
    study.close()
    out = tmp_path / "big.html"
    begin = time.perf_counter()
    assert main(["report", str(tmp_path / "big"), "-o", str(out)]) == 0
    assert time.perf_counter() - begin < 100
    page = out.read_text()
    assert "200 trials x 10 steps" in page
    assert sections(page)["stops"].count("<tr>") == len(records) + 1
