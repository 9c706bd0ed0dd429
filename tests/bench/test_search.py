"""The search benchmark: settings, searcher names, budgeted studies over a table oracle,
and the report (regrets, claims, files)."""

import json
import math

import numpy as np
import pytest

from curvetune.bench import search, search_report
from curvetune.bench.oracles import TableOracle
from curvetune.bench.search import Budgeted, SearchSettings, run_combo, searcher_of
from curvetune.bench.tables import CurveTable
from curvetune.types import History, Trial
from curvetune.viz.data import Anytime

ROWS, EPOCHS = 40, 6
COMBOS = ("random+fifo", "tpe+lcm", "random+asha10")


def synthetic_table(rows=ROWS, epochs=EPOCHS, seed=0) -> CurveTable:
    """Curves rising to a final value that depends smoothly on ``lr`` (log) and ``width``."""
    rng = np.random.default_rng(seed)
    configs = [
        {"lr": float(10 ** rng.uniform(-4, -1)), "width": int(rng.integers(8, 64))}
        for _ in range(rows)
    ]
    values = np.empty((rows, epochs))
    for i, c in enumerate(configs):
        quality = 0.9 - 0.1 * (math.log10(c["lr"]) + 2.5) ** 2 - 1e-4 * (c["width"] - 40) ** 2
        values[i] = quality * (1 - np.exp(-np.arange(1, epochs + 1) / 2))
    seconds = np.full((rows, epochs), 1.0) + rng.uniform(0, 0.5, size=(rows, 1))
    return CurveTable("synthetic", {"val_accuracy": values, "val_loss": 1 - values}, seconds,
                      configs)  # fmt: skip


@pytest.fixture
def studies(monkeypatch):
    """Every Study ``run_combo`` builds, to read its History afterwards."""
    made = []

    class Recorded(search.Study):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(search, "Study", Recorded)
    return made


def check_study(trace, history, oracle, limit):
    trained = sum(t.step for t in history.trials.values())
    assert trained >= limit
    assert trace.compute and trace.compute[-1] >= limit
    assert trace.compute[-1] == trained
    rows = [oracle.row_of(t.config) for t in history.trials.values()]
    assert len(rows) == len(set(rows)), "a row was tried twice"
    assert all(a <= b for a, b in zip(trace.compute, trace.compute[1:], strict=False))
    assert all(a <= b for a, b in zip(trace.best, trace.best[1:], strict=False))


@pytest.mark.parametrize("combo", COMBOS)
def test_run_combo_trains_the_budget_without_repeating_a_row(combo, studies):
    oracle = TableOracle(synthetic_table())
    budget = 4
    trace = run_combo(oracle, combo, seed=0, budget=budget, workers=2)
    check_study(trace, studies[-1].history, oracle, min(budget * EPOCHS, ROWS * EPOCHS))
    # the study stopped proposing soon after the budget: at most one new trial per worker
    assert len(studies[-1].history.trials) <= budget + 2 + (0 if combo.endswith("fifo") else 8)
    finals = oracle.table.final("val_accuracy")
    assert trace.best[-1] in finals and trace.best[-1] <= finals.max()


@pytest.mark.parametrize("combo", ["random+fifo", "random+asha10"])
def test_a_budget_past_the_table_uses_every_row_once(combo, studies):
    oracle = TableOracle(synthetic_table(rows=8, epochs=3))
    trace = run_combo(oracle, combo, seed=1, budget=50, workers=3)
    history = studies[-1].history
    check_study(trace, history, oracle, 0)
    rows = {oracle.row_of(t.config) for t in history.trials.values()}
    assert rows == set(range(8))
    if combo == "random+fifo":
        assert trace.compute[-1] == 8 * 3
        assert trace.best[-1] == pytest.approx(oracle.table.final("val_accuracy").max())


@pytest.mark.parametrize("combo", ["random+fifo", "tpe+lcm"])
def test_run_combo_is_deterministic_for_a_seed(combo):
    oracle = TableOracle(synthetic_table())
    first = run_combo(oracle, combo, seed=3, budget=3, workers=2)
    again = run_combo(TableOracle(synthetic_table()), combo, seed=3, budget=3, workers=2)
    assert first == again


def test_budgeted_stops_once_the_history_has_trained_the_limit():
    class Always:
        def suggest(self, space, history, rng):
            return {"x": 1}

    history = History(metric="acc", mode="max", max_steps=5)
    budgeted = Budgeted(Always(), epochs=7)
    rng = np.random.default_rng(0)
    assert budgeted.suggest(None, history, rng) == {"x": 1}
    history._put(Trial(id=0, config={"x": 0}, seed=0, step=5))
    assert budgeted.suggest(None, history, rng) == {"x": 1}
    history._put(Trial(id=1, config={"x": 1}, seed=1, step=2))
    assert budgeted.suggest(None, history, rng) is None  # 7 >= 7
    history._put(Trial(id=2, config={"x": 2}, seed=2, step=3))
    assert budgeted.suggest(None, history, rng) is None


def test_oracle_objective_reports_each_step_with_its_seconds():
    oracle = TableOracle(synthetic_table())
    reports = []

    class Ctx:
        start, until = 2, 5

        def report(self, step, **values):
            reports.append((step, values))

    search.OracleObjective(oracle)(oracle._configs[4], Ctx())
    assert [s for s, _ in reports] == [3, 4, 5]
    values, seconds = oracle.curve(oracle._configs[4])
    assert reports[0][1] == {"val_accuracy": values[2], "epoch_seconds": seconds[2]}


# ----------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"searchers": ("nope",)}, r"unknown searcher 'nope'; allowed: .*tpe"),
        ({"searchers": ("tpe[bogus]",)}, r"stopped must be one of"),
        ({"schedulers": ("nope",)}, r"unknown scheduler 'nope'; allowed: .*lcm"),
        ({"peers": ("optuna-nope",)}, r"unknown peer 'optuna-nope'; allowed: optuna-"),
        ({"extra": ("tpe",)}, r"combination 'tpe': expected SEARCHER\+SCHEDULER"),
        ({"extra": ("tpe+nope",)}, r"unknown scheduler 'nope'"),
        ({"extra": ("nope+lcm",)}, r"unknown searcher 'nope'"),
        ({"seeds": 0}, r"--seeds must be a whole number >= 1, got 0"),
        ({"budget": -1}, r"--budget must be a whole number >= 1"),
        ({"workers": True}, r"--workers must be a whole number >= 1"),
        ({"seeds": 1.5}, r"--seeds must be a whole number >= 1"),
        ({"first_seed": -1}, r"first_seed must be a whole number >= 0"),
    ],
)
def test_settings_refuse_bad_values_clearly(changes, message):
    with pytest.raises(ValueError, match=message):
        SearchSettings(**{"searchers": ("random",), "schedulers": ("fifo",), **changes})


def test_settings_combos_are_the_grid_then_the_extras_without_repeats():
    settings = SearchSettings(
        searchers=("random", "tpe"), schedulers=("fifo", "lcm"),
        extra=("tpe+lcm", "tpe[predicted]+lcm"),
    )  # fmt: skip
    assert settings.combos == ["random+fifo", "random+lcm", "tpe+fifo", "tpe+lcm",
                               "tpe[predicted]+lcm"]  # fmt: skip
    assert search.names(" random, tpe,,random ") == ("random", "tpe")
    assert search.names("") == ()


def test_searcher_names_carry_a_stopped_treatment():
    assert searcher_of("tpe[rung]").stopped == "rung"
    assert searcher_of("tpe[predicted]").stopped == "predicted"
    with pytest.raises(ValueError, match="stopped must be one of"):
        searcher_of("tpe[bogus]")
    with pytest.raises(ValueError, match=r"expected NAME or NAME\[TREATMENT\]"):
        searcher_of("tpe[rung")


def test_oracle_for_a_table_and_public_sources(tmp_path):
    table = synthetic_table(rows=5, epochs=3)
    path = tmp_path / "syn.npz"
    np.savez_compressed(
        path, **table.curves, epoch_seconds=table.epoch_seconds,
        configs=json.dumps(table.configs), meta=json.dumps({"name": "syn"}),
    )  # fmt: skip
    oracle = search.oracle_for(f"table:{path}")
    assert isinstance(oracle, TableOracle) and oracle.name == "syn" and oracle.n_epochs == 3
    assert search._public(f"table:{path}") == "table:syn.npz"
    assert search._public("surrogate:/a/b:c:3945") == "surrogate:3945"
    with pytest.raises(ValueError, match="no such curve table"):
        search.oracle_for(f"table:{tmp_path / 'missing.npz'}")


def test_compare_runs_every_seed_and_combination(tmp_path):
    table = synthetic_table(rows=12, epochs=4)
    path = tmp_path / "syn.npz"
    np.savez_compressed(
        path, **table.curves, epoch_seconds=table.epoch_seconds,
        configs=json.dumps(table.configs), meta=json.dumps({"name": "syn"}),
    )  # fmt: skip
    settings = SearchSettings(searchers=("random",), schedulers=("fifo", "asha10"), seeds=2,
                              budget=2, workers=2)  # fmt: skip
    done = []
    raw = search.compare([f"table:{path}"], settings, done=done.append)
    assert done == ["syn"]
    task = raw["tasks"]["syn"]
    assert set(task["traces"]) == {"random+fifo", "random+asha10"}
    assert all(len(runs) == 2 for runs in task["traces"].values())
    assert task["reference"]["best"] == pytest.approx(table.final("val_accuracy").max())
    assert raw["settings"]["sources"] == ["table:syn.npz"] and raw["settings"]["budget"] == 2
    summary = search_report.summarise(raw)
    assert set(summary["tasks"]["syn"]["combos"]) == {"random+fifo", "random+asha10"}
    # Seeds added later (first_seed) are the seeds a longer run would have had.
    later = SearchSettings(searchers=("random",), schedulers=("fifo", "asha10"), seeds=1,
                           budget=2, workers=2, first_seed=1)  # fmt: skip
    more = search.compare([f"table:{path}"], later)["tasks"]["syn"]["traces"]
    assert more["random+asha10"] == [task["traces"]["random+asha10"][1]]


# ----------------------------------------------------------------------------- report


def test_normalized_regret_is_zero_at_best_one_at_median_and_one_before_any_incumbent():
    trace = Anytime([10, 30, 60], [0.6, 0.8, 0.9])
    kwargs = {"n_epochs": 10, "best": 0.9, "median": 0.6}
    assert search_report.normalized_regret(trace, 0.5, **kwargs) == 1.0  # nothing yet
    assert search_report.normalized_regret(trace, 1, **kwargs) == pytest.approx(1.0)  # median
    assert search_report.normalized_regret(trace, 3, **kwargs) == pytest.approx(1 / 3)
    assert search_report.normalized_regret(trace, 6, **kwargs) == 0.0
    assert search_report.normalized_regret(trace, 100, **kwargs) == 0.0  # holds the final one
    assert search_report.normalized_regret(Anytime([], []), 5, **kwargs) == 1.0
    better = Anytime([10], [0.95])  # above the best known: no negative regret
    assert search_report.normalized_regret(better, 2, **kwargs) == 0.0


def test_budgets_read_at_10_20_50_up_to_the_budget():
    assert search_report.budgets(50) == [10, 20, 50]
    assert search_report.budgets(30) == [10, 20, 30]
    assert search_report.budgets(3) == [3]
    assert search_report.budgets(100) == [10, 20, 50, 100]


def run(final, at=5):
    """A trace that found ``final`` after ``at`` trainings of 10 epochs, then held it."""
    return {"compute": [at * 10, 500], "best": [final, final]}


def raw_comparison():
    """Two tasks: tpe+lcm best on both; optuna-tpe+median beats random+lcm on "a" only."""
    reference = {"best": 1.0, "median": 0.5}
    a = {"tpe+lcm": [run(0.95), run(0.97)], "random+lcm": [run(0.7), run(0.8)],
         "optuna-tpe+median": [run(0.9), run(0.9)]}  # fmt: skip
    b = {"tpe+lcm": [run(0.9, 2), run(0.9, 2)], "random+lcm": [run(0.85), run(0.85)],
         "optuna-tpe+median": [run(0.6), run(0.7)]}  # fmt: skip
    return {
        "tasks": {
            "a": {"task": "a", "n_epochs": 10, "reference": reference, "traces": a},
            "b": {"task": "b", "n_epochs": 10, "reference": reference, "traces": b},
        },
        "settings": {"searchers": ["tpe", "random"], "schedulers": ["lcm"], "seeds": 2,
                     "budget": 50, "workers": 2, "sources": ["table:a.npz", "table:b.npz"]},
    }  # fmt: skip


def test_summarise_counts_the_claims():
    summary = search_report.summarise(raw_comparison())
    assert summary["claims"]["tasks"] == 2
    assert list(summary["claims"]["combinations"]) == ["tpe+lcm"]  # tpe+asha10 did not run
    claims = summary["claims"]["combinations"]["tpe+lcm"]
    assert claims["beats_random+lcm_at_20"] == 2
    assert claims["beats_random+lcm_at_50"] == 2
    assert claims["beats_best_optuna_at_50"] == 2
    assert claims["mean_curve_below_optuna_from_10"] is True
    combos = summary["tasks"]["a"]["combos"]
    assert combos["tpe+lcm"]["regret_at_budget"]["50"] == pytest.approx(0.04 / 0.5)
    assert combos["random+lcm"]["regret_at_budget"]["50"] == pytest.approx(0.25 / 0.5)
    assert summary["tasks"]["a"]["best_known"] == 1.0
    assert search_report.wins(summary["tasks"], "optuna-tpe+median", "random+lcm", "50") == 1
    assert search_report.wins(summary["tasks"], "random+lcm", "tpe+lcm", "50") == 0
    assert search_report.wins(summary["tasks"], "tpe+lcm", "absent", "50") is None
    assert search_report.wins(summary["tasks"], "tpe+lcm", "random+lcm", "7") is None
    overall = summary["overall"]["tpe+lcm"]
    assert overall["mean_regret_at_budget"]["50"] == pytest.approx((0.08 + 0.2) / 2)
    assert overall["mean_auc"] < summary["overall"]["random+lcm"]["mean_auc"]


def test_the_best_known_includes_the_runs_and_no_peers_means_no_optuna_claims():
    raw = raw_comparison()
    for task in raw["tasks"].values():
        del task["traces"]["optuna-tpe+median"]
    raw["tasks"]["a"]["traces"]["random+lcm"].append(run(1.2))  # better than the reference
    summary = search_report.summarise(raw)
    assert summary["tasks"]["a"]["best_known"] == 1.2
    claims = summary["claims"]["combinations"]["tpe+lcm"]
    assert "beats_best_optuna_at_50" not in claims
    assert "mean_curve_below_optuna_from_10" not in claims


def test_write_gives_json_markdown_and_two_plots(tmp_path):
    summary = search_report.summarise(raw_comparison())
    written = search_report.write(summary, tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == ["anytime-mean.png", "anytime-tasks.png", "results.json", "results.md"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)
    for png in ("anytime-mean.png", "anytime-tasks.png"):
        assert (tmp_path / "out" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    combo = results["tasks"]["a"]["combos"]["tpe+lcm"]
    assert set(combo["regret_at_budget"]) == {"10", "20", "50"}
    assert {"normalized_regret_auc", "epochs", "best"} <= set(combo)
    assert combo["epochs"] == 500 and combo["best"] == pytest.approx(0.96)
    text = (tmp_path / "out" / "results.md").read_text()
    assert "| combination | @10 | @20 | @50 | AUC |" in text
    assert "| task | tpe+lcm | random+lcm | optuna-tpe+median |" in text
