"""The model-based searchers (``TPESearcher``, ``GPSearcher``) and ``SobolSearcher``: every
proposal is a pure function of (space, history, rng), so a fresh searcher replays a study's
proposals and a resumed study proposes what one run straight through does; bad options are
one-line errors; running trials are mirrored as running; Sobol' points are spread evenly;
and TPE beats random search on a simple problem."""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np
import pytest
from conftest import best_on_quadratic, curve_study, optimize_asha, require_module, trial_configs
from scipy.stats import qmc

from curvetune.searchers import (
    GPSearcher,
    RandomSearcher,
    SobolSearcher,
    TPESearcher,
    make_searcher,
)
from curvetune.searchers._optuna_space import to_params
from curvetune.space import Choice, Float, Int, Space
from curvetune.study import Study
from curvetune.types import History, Report, Trial, TrialState

require_module("optuna")

import optuna  # noqa: E402

SPACE = Space(
    {
        "x": Float(0.0, 1.0),
        "lr": Float(1e-4, 1e-1, log=True),
        "width": Int(8, 64, log=True),  # 57 values: modelled continuous
        "depth": Int(1, 4),
        "act": Choice(["relu", "tanh", "gelu"]),
    }
)
MAX_STEPS = 9  # asha's rungs at 1, 3 and 9: stopped trials at two levels
STARTUP = 4

pytestmark = pytest.mark.filterwarnings("ignore::curvetune.notes.StudyNote")


def make_study(directory=None, *, seed: int = 3) -> Study:
    return curve_study(SPACE, max_steps=MAX_STEPS, seed=seed, directory=directory)


optimize = optimize_asha
configs = trial_configs


class Watched:
    """Records, for every proposal a study asks for, the trials it saw, the generator's
    state before the proposal and what was proposed."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[dict[str, Any]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def suggest(self, space, history, rng):
        before, state = dict(history.trials), rng.bit_generator.state
        config = self.inner.suggest(space, history, rng)
        self.calls.append(
            dict(before=before, state=state, bits=type(rng.bit_generator), config=config)
        )
        return config


def rebuilt(trials: dict[int, Trial], max_steps: int = MAX_STEPS) -> History:
    """A new History of ``trials``, with none of the study's caches (nor its token)."""
    history = History(metric="accuracy", mode="max", max_steps=max_steps)
    for trial_id in sorted(trials):
        history._put(trials[trial_id])
    return history


def generator(call: dict[str, Any]) -> np.random.Generator:
    rng = np.random.Generator(call["bits"]())
    rng.bit_generator.state = call["state"]
    return rng


# ----------------------------------------------------------------------------- (a) replay

BUILDS = {
    "tpe-pruned": (lambda: TPESearcher(stopped="pruned", startup=STARTUP), 20),
    "tpe-predicted": (lambda: TPESearcher(stopped="predicted", startup=STARTUP), 20),
    "tpe-rung": (lambda: TPESearcher(stopped="rung", startup=STARTUP), 20),
    "tpe-window": (lambda: TPESearcher(stopped="rung", startup=STARTUP, window=6), 20),
    # The GP takes about half a second a proposal, so two past startup (Optuna's GP counts
    # complete trials only, and at trial 4 has three of them: that one it draws at random).
    "gp": (lambda: GPSearcher(startup=STARTUP), STARTUP + 2),
}


@pytest.mark.parametrize("name", list(BUILDS))
def test_a_fresh_searcher_replays_every_proposal_of_a_study(name):
    build, trials = BUILDS[name]
    searcher = Watched(build())
    study = make_study()
    optimize(study, searcher, trials)
    assert len(searcher.calls) == trials == len(study.history)
    states = {t.state for t in study.history.trials.values()}
    assert {TrialState.COMPLETED, TrialState.STOPPED} <= states  # asha stopped some
    proposed = {tuple(sorted(call["config"].items())) for call in searcher.calls}
    assert len(proposed) == trials  # no proposal twice
    for i, call in enumerate(searcher.calls):
        # Sequential: at proposal time every earlier trial has finished.
        assert sorted(call["before"]) == list(range(i))
        assert all(t.state.finished for t in call["before"].values())
        assert study.history[i].config == call["config"]
        if i < STARTUP:
            continue
        got = build().suggest(SPACE, rebuilt(call["before"]), generator(call))
        assert got == call["config"], f"{name}: trial {i} differs on replay"


def test_model_proposals_differ_from_the_startup_sequence():
    # After startup the model proposes, not Sobol': the same history with a different
    # treatment need not agree, but a searcher past startup must not be Sobol' point n.
    searcher = Watched(TPESearcher(startup=STARTUP))
    optimize(make_study(), searcher, 12)
    sobol = SobolSearcher()
    later = searcher.calls[STARTUP:]
    same = [c["config"] == sobol.suggest(SPACE, rebuilt(c["before"]), generator(c)) for c in later]
    assert not all(same)
    first = searcher.calls[:STARTUP]
    assert all(
        c["config"] == sobol.suggest(SPACE, rebuilt(c["before"]), generator(c)) for c in first
    )


# ----------------------------------------------------------------------------- (b) resume


@pytest.mark.parametrize("stopped", ["pruned", "predicted", "rung"])
def test_a_study_stopped_halfway_proposes_what_one_run_straight_through_does(stopped, tmp_path):
    def build():
        return TPESearcher(stopped=stopped, startup=STARTUP)

    straight = make_study()
    optimize(straight, build(), 20)
    halfway = make_study(tmp_path)
    optimize(halfway, build(), 10)
    assert configs(halfway) == configs(straight)[:10]
    halfway.close()
    again = make_study(tmp_path)  # reopens the study stored there
    assert len(again.history) == 10
    optimize(again, build(), 20)
    assert configs(again) == configs(straight)
    again.close()


# ----------------------------------------------------------------------------- (c) options


@pytest.mark.parametrize("cls", [TPESearcher, GPSearcher])
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"stopped": "x"}, "stopped must be one of 'pruned', 'predicted', 'rung', got 'x'"),
        ({"startup": 0}, "startup must be a whole number >= 1, got 0"),
        ({"startup": True}, "startup must be a whole number >= 1, got True"),
        ({"window": 1}, "window must be a whole number >= 2 or None, got 1"),
        ({"min_results": 1}, "min_results must be a whole number >= 2 or None, got 1"),
    ],
)
def test_bad_options_are_one_line_errors_naming_the_option(cls, options, message):
    owner = "tpe" if cls is TPESearcher else "gp"
    with pytest.raises(ValueError) as raised:
        cls(**options)
    text = str(raised.value)
    assert text == f"{owner} searcher: {message}"
    assert "\n" not in text
    with pytest.raises(ValueError, match=message.split(" must")[0] + " must"):
        make_searcher(owner, **options)


def test_registered_names_build_the_searchers_with_their_options():
    tpe = make_searcher("tpe", stopped="rung", startup=5, min_results=3)
    assert isinstance(tpe, TPESearcher)
    assert (tpe.stopped, tpe.startup, tpe.min_results, tpe.window) == ("rung", 5, 3, None)
    gp = make_searcher("gp")
    assert isinstance(gp, GPSearcher) and gp.window == 100 and gp.startup == 10
    assert isinstance(make_searcher("sobol"), SobolSearcher)
    assert repr(tpe) == "TPESearcher(stopped='rung', startup=5, min_results=3, window=None)"


# ----------------------------------------------------------------------------- (d) running


def history_with_running(n_done: int = 6, n_running: int = 4) -> tuple[History, list[Trial]]:
    rng = np.random.default_rng(5)
    history = History(metric="accuracy", mode="max", max_steps=MAX_STEPS)
    running = []
    for i in range(n_done + n_running):
        config = SPACE.sample(rng)
        value = 1.0 - (config["x"] - 0.3) ** 2
        if i < n_done:
            trial = Trial(
                i, config, 0, TrialState.COMPLETED, (Report(MAX_STEPS, {"accuracy": value}),)
            )
        else:
            trial = Trial(i, config, 0, TrialState.RUNNING, (Report(1, {"accuracy": value / 3}),))
            running.append(trial)
        history._put(trial)
    return history, running


def mirrored(searcher: TPESearcher) -> list[tuple[str, dict[str, Any]]]:
    """The mirror's copy of each history trial (not its proposals): state and params."""
    mirror = searcher._mirror
    assert mirror is not None
    trials = {t._trial_id: t for t in mirror.study.trials}
    return [(trials[i].state.name, trials[i].params) for i in mirror._trial_ids.values()]


def test_running_trials_are_mirrored_as_running_and_not_proposed_again():
    history, running = history_with_running()
    searcher = TPESearcher(startup=STARTUP)
    config = searcher.suggest(SPACE, history, np.random.default_rng(0))
    assert SPACE.contains(config)
    assert config not in [dict(t.config) for t in running]
    seen = mirrored(searcher)
    assert [state for state, _ in seen] == ["COMPLETE"] * 6 + ["RUNNING"] * 4
    for (_, params), trial in zip(seen, history.trials.values(), strict=True):
        assert params == to_params(SPACE, trial.config)
    # The running trials finish: the same searcher updates its mirror in place, and
    # proposes what a fresh one does.
    mirror = searcher._mirror
    for trial in running:
        history._put(
            trial.evolve(
                state=TrialState.COMPLETED,
                reports=(*trial.reports, Report(MAX_STEPS, {"accuracy": 0.5})),
            )
        )
    config = searcher.suggest(SPACE, history, np.random.default_rng(1))
    assert searcher._mirror is mirror
    assert [state for state, _ in mirrored(searcher)] == ["COMPLETE"] * 10
    fresh = TPESearcher(startup=STARTUP)
    assert fresh.suggest(SPACE, rebuilt(dict(history.trials)), np.random.default_rng(1)) == config


def finished(trial: Trial, state: TrialState) -> Trial:
    if state is TrialState.COMPLETED:
        reports = (*trial.reports, Report(MAX_STEPS, {"accuracy": 0.9}))
    elif state is TrialState.STOPPED:
        reports = (*trial.reports, Report(3, {"accuracy": 0.4}))
    elif state is TrialState.DIVERGED:
        reports = (*trial.reports, Report(2, {"accuracy": math.nan}))
    else:
        reports = trial.reports
    return trial.evolve(state=state, reports=reports)


@pytest.mark.parametrize("stopped", ["pruned", "predicted", "rung"])
def test_a_mirror_kept_up_to_date_as_running_trials_end_proposes_what_a_fresh_one_does(stopped):
    # Trial 7 is stopped, 8 diverges and 9 fails while 6 still runs; then 6 completes. The
    # study's searcher follows in place (or rebuilds); each time a fresh one agrees.
    history, _ = history_with_running()
    stages = [
        {},
        {7: TrialState.STOPPED, 8: TrialState.DIVERGED, 9: TrialState.FAILED},
        {6: TrialState.COMPLETED},
    ]
    searcher = TPESearcher(stopped=stopped, startup=STARTUP, min_results=5)
    kinds = []
    for n, stage in enumerate(stages):
        for trial_id, state in stage.items():
            history._put(finished(history[trial_id], state))
        config = searcher.suggest(SPACE, history, np.random.default_rng(n))
        fresh = TPESearcher(stopped=stopped, startup=STARTUP, min_results=5)
        again = fresh.suggest(SPACE, rebuilt(dict(history.trials)), np.random.default_rng(n))
        assert config == again, (stopped, n)
        assert mirrored(searcher) == mirrored(fresh), (stopped, n)
        kinds.append([state for state, _ in mirrored(searcher)][6:])
    assert kinds[0] == ["RUNNING"] * 4
    assert kinds[-1][0] == "COMPLETE"
    # The diverged trial 8 counts as complete with the worst complete value (there are some).
    if stopped == "pruned":
        assert kinds[1] == ["RUNNING", "PRUNED", "COMPLETE", "FAIL"]
    if stopped == "predicted":  # 7 waits for 6, then is predicted
        assert kinds[1] == ["RUNNING", "RUNNING", "COMPLETE", "FAIL"]
        assert kinds[2] == ["COMPLETE", "COMPLETE", "COMPLETE", "FAIL"]


@pytest.mark.parametrize("stopped", ["pruned", "predicted", "rung"])
def test_a_stopped_trial_whose_last_report_lacks_the_metric_is_modelled(stopped):
    history, _ = history_with_running(6, 0)
    reports = (Report(1, {"accuracy": 0.2}), Report(2, {"loss": 0.5}))  # no accuracy at 2
    history._put(Trial(6, SPACE.sample(np.random.default_rng(9)), 0, TrialState.STOPPED, reports))
    searcher = TPESearcher(stopped=stopped, startup=STARTUP)
    assert SPACE.contains(searcher.suggest(SPACE, history, np.random.default_rng(0)))


def test_a_proposal_of_many_workers_spreads_over_running_trials():
    # Constant liar: four proposals in a row, each added as running, are four configs.
    history, _ = history_with_running(8, 0)
    rng = np.random.default_rng(7)
    searcher = TPESearcher(startup=STARTUP)
    for i in range(8, 12):
        config = searcher.suggest(SPACE, history, rng)
        history._put(Trial(i, config, 0))
    pending = [tuple(sorted(t.config.items())) for t in history.running()]
    assert len(pending) == len(set(pending)) == 4
    assert [s for s, _ in mirrored(searcher)].count("RUNNING") == 3  # the last one not yet


def test_a_config_outside_the_space_is_left_out_of_the_mirror():
    history, _ = history_with_running(6, 0)
    history._put(Trial(6, {**history[0].config, "act": "selu"}, 0, TrialState.COMPLETED,
                       (Report(MAX_STEPS, {"accuracy": 2.0}),)))  # fmt: skip
    searcher = TPESearcher(startup=STARTUP)
    assert SPACE.contains(searcher.suggest(SPACE, history, np.random.default_rng(0)))
    assert len(mirrored(searcher)) == 6


# ----------------------------------------------------------------------------- (e) sobol

UNIT2 = Space({"a": Float(0.0, 1.0), "b": Float(0.0, 1.0)})


def sobol_points(n: int, seed: int, space: Space = UNIT2) -> list[dict[str, Any]]:
    history = History(metric="accuracy", mode="max", max_steps=1)
    rng = np.random.default_rng(seed)
    searcher = SobolSearcher()
    out = []
    for i in range(n):
        config = searcher.suggest(space, history, rng)
        out.append(config)
        history._put(Trial(i, config, 0, TrialState.COMPLETED, (Report(1, {"accuracy": 0.0}),)))
    return out


def test_sobol_trial_0_is_random_and_the_rest_a_shifted_sobol_sequence():
    points = sobol_points(16, seed=0)
    assert points[0] == UNIT2.sample(np.random.default_rng(0))
    assert points[0] != sobol_points(1, seed=1)[0]
    shift = np.array([points[0]["a"], points[0]["b"]])
    sobol = qmc.Sobol(2, scramble=False).random(16)
    for n, config in enumerate(points):
        expected = (sobol[n] + shift) % 1.0
        assert [config["a"], config["b"]] == pytest.approx(expected.tolist(), abs=1e-12)


def test_sobol_is_a_pure_function_of_the_history():
    points = sobol_points(8, seed=2)
    history = History(metric="accuracy", mode="max", max_steps=1)
    for i, config in enumerate(points):
        history._put(Trial(i, config, 0, TrialState.STOPPED if i % 2 else TrialState.FAILED))
    for seed in (0, 1, 99):
        rng = np.random.default_rng(seed)
        state = rng.bit_generator.state
        got = SobolSearcher().suggest(UNIT2, history, rng)
        assert rng.bit_generator.state == state  # after trial 0 it draws nothing
        assert got == sobol_points(9, seed=2)[8]


def test_sobol_starts_afresh_when_trial_0_is_outside_the_space():
    history = History(metric="accuracy", mode="max", max_steps=1)
    history._put(Trial(0, {"a": 5.0, "b": 0.5}, 0, TrialState.COMPLETED))
    assert SobolSearcher().suggest(UNIT2, history, np.random.default_rng(4)) == UNIT2.sample(
        np.random.default_rng(4)
    )


def min_distance(points: np.ndarray) -> float:
    d = np.sqrt(((points[:, None, :] - points[None, :, :]) ** 2).sum(-1))
    d[np.eye(len(points), dtype=bool)] = np.inf
    return float(d.min())


def test_the_first_16_sobol_points_are_well_spread():
    # A shift breaks the 4x4 cells of the unshifted (0, 4, 2)-net (a cell of the shifted
    # points straddles two of the original ones), but keeps two properties: each coordinate
    # holds one point in every sixteenth of [0, 1], and no two points come closer than the
    # net's smallest distance on the torus, sqrt(2) / 16, twice random points' median.
    random_median = statistics.median(
        min_distance(np.random.default_rng(s).random((16, 2))) for s in range(50)
    )
    cells_hold_one = 0
    for seed in range(10):
        points = np.array([[p["a"], p["b"]] for p in sobol_points(16, seed)])
        for axis in range(2):
            bins = np.floor(points[:, axis] * 16 + 1e-9).astype(int) % 16
            assert sorted(bins) == list(range(16)), (seed, axis)
        assert min_distance(points) >= math.sqrt(2) / 16 - 1e-9
        assert min_distance(points) > 1.5 * random_median
        cells_hold_one += len({tuple(c) for c in np.floor(points * 4).astype(int)}) == 16
    assert cells_hold_one < 10  # the 4x4 property is not one of a shifted net


def test_model_searchers_start_with_sobol():
    history = History(metric="accuracy", mode="max", max_steps=1)
    rng_a, rng_b = np.random.default_rng(8), np.random.default_rng(8)
    for i in range(STARTUP):
        config = TPESearcher(startup=STARTUP).suggest(SPACE, history, rng_a)
        assert config == SobolSearcher().suggest(SPACE, history, rng_b)
        history._put(Trial(i, config, 0, TrialState.COMPLETED, (Report(1, {"accuracy": 0.0}),)))


# ----------------------------------------------------------------------------- (f) quality


def best_of(searcher: Any, seed: int) -> float:
    return best_on_quadratic(searcher, seed, trials=40)


def test_tpe_beats_random_search_on_a_quadratic():
    tpe = [best_of(TPESearcher(), seed) for seed in range(5)]
    rnd = [best_of(RandomSearcher(), seed) for seed in range(5)]
    assert sum(t < r for t, r in zip(tpe, rnd, strict=True)) >= 4, (tpe, rnd)
    assert statistics.median(tpe) < statistics.median(rnd) / 3, (tpe, rnd)


def test_optuna_is_quiet():
    TPESearcher(startup=STARTUP).suggest(SPACE, history_with_running()[0], np.random.default_rng())
    assert optuna.logging.get_verbosity() == optuna.logging.WARNING
