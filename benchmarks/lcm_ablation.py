"""Offline ablation of LCM's *prediction*: which matching rule stops fewest of the best.

Issue #13: on the project's real tables (learning-rate schedules that decay late, curves
that cross) ``lcm`` stops about 60% of the true top-5% configurations. This script asks,
without running any study, whether another way of predicting a running trial's final value
would stop fewer of them for the same stopping power.

Run it from the repository root (``PYTHONPATH=src`` if curvetune is not installed)::

    python benchmarks/lcm_ablation.py                      # 3 project + shared tables, 10 seeds
    python benchmarks/lcm_ablation.py --tables benchmarks/tables/project-mnist-cnn.npz --seeds 3
    python benchmarks/lcm_ablation.py --shared-seeds 5     # fewer seeds on the shared tables

``--tables`` takes .npz files or folders (default: ``benchmarks/tables/project-*.npz`` and,
if present, every table in ``../shared/benchmarks/curves/``); results go to
``benchmarks/results/lcm_ablation.md`` and ``.json`` (``--out`` for another stem).

How. For each table and seed s, ``np.random.default_rng([s, crc32(table name)])`` draws a
reference set R of 30 complete rows, a disjoint query set Q of 150 rows (fewer where the
table is small: ``n - 90``, so that 60 further rows stay for the ``partial`` variant) and
those 60 rows. At each check step c (10%, 20%, 30% and 50% of the epochs, as LCM rounds
them) every query row's final ``val_accuracy`` is predicted from R by each variant; its
*rank* is the share of R's finals strictly better than the prediction, and the row is
*stopped* when the rank exceeds 0.55 at any check (the first that fires). Per table and
variant: the false-stop rate (share of the table's top-5% rows, by final value over the
whole table, among Q that are stopped, pooled over seeds), the stop rate (share of Q
stopped), the compute saved (share of Q's epochs not trained), the Spearman correlation of
the prediction at 30% with the true final (mean over seeds), and the false-stop rate *at
the stop rate of the shipped rule* (each variant's threshold moved until it stops as many
rows as ``curve`` does at 0.55, interpolated between thresholds): the fair comparison.

Variants (all "trend" predictions: the trial's value at c plus the inverse-distance
weighted gain of its k=5 nearest neighbours from c to the end, unless said otherwise):

* ``curve``: LCM as shipped, neighbours by Euclidean distance over steps 1..c.
* ``config-<lambda>``: distance = curve distance divided by its median over R (per query
  and step) + lambda * Euclidean distance of the configurations in the unit cube of the
  table's space (``table_space``, ``filled``, ``Space.to_unit``); lambda 0.5, 1, 2.
* ``config-only``: neighbours by configuration distance alone (an extra, lambda -> inf).
* ``partial``: neighbours among R and the 60 extra rows, each of those known only up to a
  random step h in [c, T] (drawn per seed and check, as stopped or running trials would
  be). A partial neighbour's gain is chained: its own known gain from c to h plus the
  shipped rule's predicted gain from h to the end (its curve up to h matched against R).
* ``current``: no matching: the value at c ranked among R's values at c (LCM's ablation).

This is a proxy, not the stopping benchmark: the reference is a fixed random sample of 30
complete curves (a study's reference grows, and is biased towards the fast, completed
trials), every query is checked against the same reference, and nothing is retrained.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from curvetune.bench.oracles import filled, table_space  # noqa: E402
from curvetune.bench.tables import load_table  # noqa: E402
from curvetune.schedulers._steps import at  # noqa: E402

SHARED = ROOT.parent / "shared" / "benchmarks" / "curves"
PROJECT = ROOT / "benchmarks" / "tables"
OUT = ROOT / "benchmarks" / "results" / "lcm_ablation"

METRIC = "val_accuracy"  # larger is better
N_REF, N_QUERY, N_PARTIAL = 30, 150, 60
CHECKS = (0.1, 0.2, 0.3, 0.5)
SPEARMAN_AT = 0.3
K = 5
THRESHOLD = 0.55
TOP = 0.05
LAMBDAS = (0.5, 1.0, 2.0)
VARIANTS = ("curve", *(f"config-{lam:g}" for lam in LAMBDAS), "config-only", "partial", "current")


# ------------------------------------------------------------------------------ predictions


def curve_distances(queries: np.ndarray, refs: np.ndarray) -> np.ndarray:
    """Euclidean distances [nq, nr] between curve prefixes."""
    squared = (
        np.sum(queries**2, axis=1)[:, None]
        - 2.0 * queries @ refs.T
        + np.sum(refs**2, axis=1)[None, :]
    )
    return np.sqrt(np.maximum(squared, 0.0))


def trend(current: np.ndarray, distances: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Current value plus the inverse-distance weighted gain of the K nearest columns; a
    stable sort breaks ties by column order. ``gains`` is [nr] or [nq, nr]."""
    gains = np.broadcast_to(gains, distances.shape)
    rows = np.arange(distances.shape[0])[:, None]
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :K]
    weights = 1.0 / (distances[rows, nearest] + 1e-12)
    weights /= weights.sum(axis=1, keepdims=True)
    return current + np.sum(weights * gains[rows, nearest], axis=1)


def predict_all(
    curves: np.ndarray,
    units: np.ndarray,
    ref: np.ndarray,
    query: np.ndarray,
    extra: np.ndarray,
    horizons: np.ndarray,
    step: int,
) -> dict[str, np.ndarray]:
    """Every variant's predicted final for the query rows at check ``step`` (1-based)."""
    T = curves.shape[1]
    xq, xr = curves[query, :step], curves[ref, :step]
    current = curves[query, step - 1]
    ref_gains = curves[ref, -1] - curves[ref, step - 1]
    dcurve = curve_distances(xq, xr)
    out = {"curve": trend(current, dcurve, ref_gains)}
    median = np.median(dcurve, axis=1, keepdims=True)
    normalised = dcurve / np.where(median > 0, median, 1.0)
    dconf = curve_distances(units[query], units[ref])
    for lam in LAMBDAS:
        out[f"config-{lam:g}"] = trend(current, normalised + lam * dconf, ref_gains)
    out["config-only"] = trend(current, dconf, ref_gains)
    # partial: an extra row known up to h >= step; its gain from step to the end is its own
    # known gain to h plus the shipped rule's predicted gain from h on (zero when h = T).
    chained = np.empty(len(extra))
    for j, (row, h) in enumerate(zip(extra, horizons, strict=True)):
        known = curves[row, h - 1] - curves[row, step - 1]
        if h >= T:
            chained[j] = known
            continue
        d = curve_distances(curves[row, None, :h], curves[ref, :h])
        ahead = trend(curves[row, None, h - 1], d, curves[ref, -1] - curves[ref, h - 1])[0]
        chained[j] = known + (ahead - curves[row, h - 1])
    dpart = curve_distances(xq, curves[extra, :step])
    out["partial"] = trend(
        current, np.hstack([dcurve, dpart]), np.concatenate([ref_gains, chained])
    )
    out["current"] = current  # ranked among R's values at the step, not their finals
    return out


# ------------------------------------------------------------------------------ one table


def run_table(path: str, seeds: int, boot: int = 0) -> dict:
    started = time.perf_counter()
    table = load_table(path)
    curves = table.curves[METRIC]
    n, T = curves.shape
    space = table_space(table)
    units = np.asarray([space.to_unit(filled(space, c)) for c in table.configs], dtype=float)
    finals = curves[:, -1]
    n_top = max(1, math.ceil(TOP * n))
    top = np.zeros(n, dtype=bool)
    top[np.argsort(-finals, kind="stable")[:n_top]] = True
    n_query = min(N_QUERY, n - N_REF - N_PARTIAL)
    if n_query < 20:
        raise ValueError(f"{table.name}: {n} rows are too few")
    steps = sorted({at(f, T) for f in CHECKS})
    spearman_step = at(SPEARMAN_AT, T)
    max_rank = {v: [] for v in VARIANTS}  # per seed: [nq] the highest rank over the checks
    stop_step = {v: [] for v in VARIANTS}  # per seed: [nq] first firing check, T if none
    spearman = {v: [] for v in VARIANTS}
    is_top = []
    crc = zlib.crc32(table.name.encode())
    for seed in range(seeds):
        rng = np.random.default_rng([seed, crc])
        perm = rng.permutation(n)
        ref = perm[:N_REF]
        query = perm[N_REF : N_REF + n_query]
        extra = perm[N_REF + n_query : N_REF + n_query + N_PARTIAL]
        is_top.append(top[query])
        ranks = {v: np.zeros((len(steps), n_query)) for v in VARIANTS}
        for i, step in enumerate(steps):
            horizons = rng.integers(step, T + 1, size=len(extra))
            predictions = predict_all(curves, units, ref, query, extra, horizons, step)
            for v, pred in predictions.items():
                population = curves[ref, step - 1] if v == "current" else finals[ref]
                ranks[v][i] = np.mean(population[None, :] > pred[:, None], axis=1)
                if step == spearman_step:
                    rho = spearmanr(pred, finals[query]).statistic
                    spearman[v].append(float(rho))
        for v in VARIANTS:
            fired = ranks[v] > THRESHOLD
            first = np.where(fired.any(axis=0), np.argmax(fired, axis=0), -1)
            stop_step[v].append(np.where(first >= 0, np.asarray(steps)[first], T))
            max_rank[v].append(ranks[v].max(axis=0))
    is_top_all = np.concatenate(is_top)
    result = {
        "table": table.name,
        "rows": n,
        "epochs": T,
        "queries": n_query,
        "seeds": seeds,
        "checks": steps,
        "top_rows": n_top,
        "top_queries": int(is_top_all.sum()),
        "variants": {},
    }
    curve_stops = float(np.mean(np.concatenate(max_rank["curve"]) > THRESHOLD))
    for v in VARIANTS:
        m = np.concatenate(max_rank[v])
        stopped = m > THRESHOLD
        where = np.concatenate(stop_step[v])
        result["variants"][v] = {
            "false_stop": float(stopped[is_top_all].mean()),
            "stop_rate": float(stopped.mean()),
            "saved": float(np.mean((T - where) / T)),
            "spearman": float(np.nanmean(spearman[v])) if spearman[v] else float("nan"),
            "false_stop_at_curve_rate": matched(m, is_top_all, curve_stops),
        }
    if boot:
        result["bootstrap"] = bootstrap(max_rank, is_top, boot, crc)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def bootstrap(max_rank: dict, is_top: list, draws: int, crc: int) -> dict:
    """A 90% interval of each variant's false stops at the shipped rule's stop rate minus the
    shipped rule's own, resampling seeds (paired: the same seeds for both)."""
    rng = np.random.default_rng([crc, 99])
    seeds = len(is_top)
    diffs: dict[str, list[float]] = {v: [] for v in VARIANTS if v != "curve"}
    for _ in range(draws):
        pick = rng.integers(0, seeds, size=seeds)
        top = np.concatenate([is_top[i] for i in pick])
        base = np.concatenate([max_rank["curve"][i] for i in pick])
        target = float(np.mean(base > THRESHOLD))
        own = float(np.mean(base[top] > THRESHOLD))
        for v in diffs:
            m = np.concatenate([max_rank[v][i] for i in pick])
            diffs[v].append(matched(m, top, target) - own)
    return {v: [float(np.quantile(d, 0.05)), float(np.quantile(d, 0.95))] for v, d in diffs.items()}


def matched(max_rank: np.ndarray, is_top: np.ndarray, target: float) -> float:
    """The false-stop rate with the threshold moved until the stop rate is ``target``,
    linearly interpolated between the thresholds the ranks allow (a random tie-break)."""
    cuts = np.concatenate([np.unique(max_rank), [-np.inf]])[::-1]  # stop when rank > cut
    stops = max_rank[None, :] > cuts[:, None]
    rates, false = stops.mean(axis=1), stops[:, is_top].mean(axis=1)
    order = np.argsort(rates, kind="stable")
    return float(np.interp(target, rates[order], false[order]))


# ------------------------------------------------------------------------------ report


def median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.1f}%"


def split(results: list[dict]) -> tuple[list[dict], list[dict]]:
    project = [r for r in results if r["table"].startswith("project-")]
    return project, [r for r in results if not r["table"].startswith("project-")]


def med(group: list[dict], v: str, key: str) -> float:
    return median([r["variants"][v][key] for r in group])


def mean(group: list[dict], v: str, key: str) -> float:
    values = [r["variants"][v][key] for r in group]
    return statistics.fmean(values) if values else float("nan")


def wins(group: list[dict], v: str) -> str:
    """Tables where v's false stops at the shipped rule's stop rate are lower / higher."""
    key = "false_stop_at_curve_rate"
    diffs = [r["variants"][v][key] - r["variants"]["curve"][key] for r in group]
    return f"{sum(d < -1e-9 for d in diffs)} / {sum(d > 1e-9 for d in diffs)}"


def summary(results: list[dict]) -> list[str]:
    project, shared = split(results)
    lines = [
        f"| variant | false stops, project (median of {len(project)}) | false stops, shared "
        f"(median of {len(shared)}) | FS @ curve's rate, project | FS @ curve's rate, shared | "
        "FS @ curve's rate, shared (mean) | stop rate, project | stop rate, shared | "
        "Spearman, project | Spearman, shared | "
        "tables better / worse than curve at equal rate (project; shared) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for v in VARIANTS:
        lines.append(
            f"| `{v}` | {pct(med(project, v, 'false_stop'))} | {pct(med(shared, v, 'false_stop'))}"
            f" | {pct(med(project, v, 'false_stop_at_curve_rate'))}"
            f" | {pct(med(shared, v, 'false_stop_at_curve_rate'))}"
            f" | {pct(mean(shared, v, 'false_stop_at_curve_rate'))}"
            f" | {pct(med(project, v, 'stop_rate'))} | {pct(med(shared, v, 'stop_rate'))}"
            f" | {med(project, v, 'spearman'):.3f} | {med(shared, v, 'spearman'):.3f}"
            f" | {'–' if v == 'curve' else wins(project, v)}; "
            f"{'–' if v == 'curve' else wins(shared, v)} |"
        )
    return lines


def per_table(r: dict) -> list[str]:
    lines = [
        f"### {r['table']}",
        "",
        f"{r['rows']} rows, {r['epochs']} epochs, checks at {r['checks']}, "
        f"{r['queries']} queries x {r['seeds']} seeds, {r['top_queries']} top-5% queries "
        "in all.",
        "",
        "| variant | false stops | stop rate | FS @ curve's rate | compute saved | Spearman @30% |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for v in VARIANTS:
        x = r["variants"][v]
        lines.append(
            f"| `{v}` | {pct(x['false_stop'])} | {pct(x['stop_rate'])} | "
            f"{pct(x['false_stop_at_curve_rate'])} | {pct(x['saved'])} | "
            f"{x['spearman']:.3f} |"
        )
    return [*lines, ""]


def write(results: list[dict], robust: list[dict], seconds: float, out: Path) -> None:
    project, shared = split(results)
    seeds = sorted({r["seeds"] for r in results})
    lines = [
        "# LCM prediction ablation (offline)",
        "",
        f"Written by `python benchmarks/lcm_ablation.py {' '.join(sys.argv[1:])}`".rstrip()
        + f" on {datetime.date.today()}, {os.cpu_count()} cores, no GPU, Python "
        f"{platform.python_version()}, in {seconds:.0f} s. {len(project)} project tables, "
        f"{len(shared)} shared tables, seeds per table: {', '.join(map(str, seeds))}.",
        "",
        "An offline proxy (see the script's docstring): per table and seed, 30 random complete",
        "reference rows R and 150 query rows Q (60 on `project-mnist-cnn`, which has 150 rows;",
        "60 more rows are kept for `partial`); each query is checked at 10/20/30/50% of the",
        "epochs and stopped when more than 55% of R's finals beat its predicted final.",
        "**False stops**: share of the table's true top-5% rows among Q that are stopped;",
        "**stop rate**: share of Q stopped; **FS @ curve's rate**: false stops with the",
        "variant's threshold moved so that it stops as many rows as `curve` does at 0.55 (the",
        "fair comparison at equal stopping power); **Spearman**: prediction at 30% against",
        "the true final over Q. Medians over tables (and a mean over the shared tables: most",
        "of them have no false stop under any variant here, so their median is 0).",
        "",
        "## Summary",
        "",
        *summary(results),
        "",
        "## Project tables",
        "",
    ]
    for r in project:
        lines += per_table(r)
    if robust:
        rseeds = sorted({r["seeds"] for r in robust})
        lines += [
            f"## Robustness: the same with {', '.join(map(str, rseeds))} seeds per table",
            "",
            "Ten seeds hold few top-5% queries (about 75 on MNIST MLP, 30 on MNIST CNN), so",
            "the first table moves by several points from seed to seed. The same measures",
            "with more seeds (the first ten are the ones above):",
            "",
            *summary(robust),
            "",
            "Per project table, FS @ curve's rate minus curve's own false stops, with a 90%",
            "paired bootstrap interval over seeds (negative: fewer false stops than shipped):",
            "",
            "| table | curve false stops | " + " | ".join(f"`{v}`" for v in VARIANTS[1:]) + " |",
            "|---|---:|" + "---:|" * (len(VARIANTS) - 1),
        ]
        for r in split(robust)[0]:
            curve = r["variants"]["curve"]["false_stop"]
            cells = []
            for v in VARIANTS[1:]:
                low, high = r["bootstrap"][v]
                d = r["variants"][v]["false_stop_at_curve_rate"] - curve
                cells.append(f"{100 * d:+.1f} [{100 * low:+.1f}, {100 * high:+.1f}]")
            lines.append(f"| {r['table']} | {pct(curve)} | " + " | ".join(cells) + " |")
        lines.append("")
        for r in split(robust)[0]:
            lines += per_table(r)
    if shared:
        lines += [
            f"## Shared tables, FS @ curve's rate per table ({', '.join(map(str, seeds))} seeds)",
            "",
            "| table | curve stop rate | " + " | ".join(f"`{v}`" for v in VARIANTS) + " |",
            "|---|---:|" + "---:|" * len(VARIANTS),
        ]
        for r in shared:
            cells = " | ".join(pct(r["variants"][v]["false_stop_at_curve_rate"]) for v in VARIANTS)
            lines.append(f"| {r['table']} | {pct(r['variants']['curve']['stop_rate'])} | {cells} |")
        lines.append("")
    out.with_suffix(".md").write_text("\n".join(lines))
    meta = {"command": sys.argv, "date": str(datetime.date.today()), "seconds": seconds}
    payload = {**meta, "results": results, "robust": robust}
    out.with_suffix(".json").write_text(json.dumps(payload, indent=1))


def table_paths(given: list[str] | None) -> list[Path]:
    if not given:
        given = [str(p) for p in sorted(PROJECT.glob("project-*.npz"))]
        if SHARED.is_dir():
            given.append(str(SHARED))
    paths: list[Path] = []
    for item in given:
        p = Path(item)
        paths += sorted(p.glob("*.npz")) if p.is_dir() else [p]
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="*", help=".npz tables or folders of them")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per table (default 10)")
    parser.add_argument("--shared-seeds", type=int, help="seeds for non-project tables")
    parser.add_argument(
        "--robust-seeds",
        type=int,
        default=0,
        help="also rerun every table with this many seeds (with bootstrap intervals)",
    )
    parser.add_argument("--boot", type=int, default=500, help="bootstrap draws (robust pass)")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--out", type=Path, default=OUT, help="output stem (.md, .json)")
    args = parser.parse_args(argv)
    paths = table_paths(args.tables)
    seeds = [
        args.seeds
        if p.name.startswith("project-") or args.shared_seeds is None
        else args.shared_seeds
        for p in paths
    ]
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(run_table, map(str, paths), seeds))
        robust = []
        if args.robust_seeds:
            n = len(paths)
            boots = [args.boot if p.name.startswith("project-") else 0 for p in paths]
            robust = list(pool.map(run_table, map(str, paths), [args.robust_seeds] * n, boots))
    for r in results + robust:
        print(f"{r['table']} ({r['seeds']} seeds): {r['seconds']} s", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write(results, robust, time.perf_counter() - started, args.out)
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
