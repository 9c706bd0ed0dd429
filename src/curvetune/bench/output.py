"""Write a stopping comparison's results: ``results.json``, ``results.md``, ``runs.csv`` and
the anytime figures (``anytime/<table>.png``)."""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import metrics


def summary_json(results: Mapping[str, Any]) -> dict[str, Any]:
    """results.json: per table its summaries and anytime curves (runs go to runs.csv)."""
    tables = {
        name: {key: value for key, value in table.items() if key != "runs"}
        for name, table in results["tables"].items()
    }
    return {"tables": tables, "settings": results["settings"]}


def scheduler_totals(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per scheduler over tables: tables passing, median of the median speedups ("never"
    as 0), of the final regrets, of the false-stop rates (tables with one), of epochs."""
    tables = list(results["tables"].values())
    out = {}
    for name in results["settings"]["schedulers"]:
        rows = [t["schedulers"][name] for t in tables]
        stops = [r["false_stop_rate"] for r in rows if r["false_stop_rate"] is not None]
        out[name] = {
            "passes": sum(r["passes"] for r in rows),
            "tables": len(rows),
            "median_speedup": _median([r["median_speedup"] or 0.0 for r in rows]),
            "median_speedup_same_tolerance": _median(
                [r["median_speedup_same_tolerance"] or 0.0 for r in rows]
            ),
            "median_final_regret": _median([r["median_final_regret"] for r in rows]),
            "median_regret_at_budget": {
                b: _median([r["regret_at_budget"][b] for r in rows])
                for b in rows[0]["regret_at_budget"]
            },
            "median_false_stop_rate": _median(stops) if stops else None,
            "median_epochs": _median([r["median_epochs"] for r in rows]),
            "median_decision_ms": _median([r["median_decision_ms"] for r in rows]),
        }
    return out


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def markdown(results: Mapping[str, Any]) -> str:
    """results.md: one row per table (speedup and final regret per scheduler), a summary."""
    settings = results["settings"]
    names = settings["schedulers"]
    budgets = "/".join(str(b) for b in settings["budgets"])
    lines = [
        "# Early stopping on learning-curve tables",
        "",
        f"{len(results['tables'])} table(s), {settings['seeds']} seed(s), at most "
        f"{settings['trials']} trials per study, {settings['workers']} virtual workers, "
        f"metric `{settings['metric']}` ({settings['mode']}).",
        "",
        "Cells: median speedup over seeds (epochs FIFO used to first reach its final "
        f"incumbent ÷ epochs the scheduler used to come within {settings['tolerance']} of it; "
        "\u201cnever\u201d counts as 0, `never` when that median is 0) and median final regret "
        f"(table best − incumbent). ✓: passes (speedup ≥ {metrics.PASS_SPEEDUP:g} and regret ≤ "
        f"FIFO's + {metrics.PASS_REGRET_SLACK}).",
        "",
        "| table | n | " + " | ".join(names) + " |",
        "|---|---:|" + "---|" * len(names),
    ]
    for name, table in results["tables"].items():
        cells = [_cell(table["schedulers"][s]) for s in names]
        lines.append(f"| {name} | {table['n_configs']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Summary over tables",
        "",
        "Medians over tables of the per-table medians (a `never` speedup counts as 0). "
        "The second speedup counts FIFO's epochs to within the same tolerance of its answer, "
        "so FIFO scores exactly 1 there (in the first, the tolerance favours the scheduler). "
        "Regret at B trainings: regret of the incumbent once B × (the table's epochs) epochs "
        "were used (before any trial completed: table best − table worst, the regret of "
        "knowing nothing). False-stop rate: share of the table's true top "
        f"{metrics.TOP_SHARE:.0%} configurations (by final value) tried that were stopped "
        "early, pooled over seeds.",
        "",
        "| scheduler | tables passing | speedup | speedup, FIFO also within tolerance "
        f"| final regret | regret at {budgets} trainings | false-stop rate | epochs "
        "| decision ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, total in scheduler_totals(results).items():
        stop = total["median_false_stop_rate"]
        at_budget = " / ".join(f"{v:.4f}" for v in total["median_regret_at_budget"].values())
        lines.append(
            f"| {name} | {total['passes']}/{total['tables']} | {total['median_speedup']:.2f}× "
            f"| {total['median_speedup_same_tolerance']:.2f}× "
            f"| {total['median_final_regret']:.4f} | {at_budget} "
            f"| {'—' if stop is None else f'{stop:.1%}'} "
            f"| {total['median_epochs']:,.0f} | {total['median_decision_ms']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def _cell(summary: Mapping[str, Any]) -> str:
    speed = summary["median_speedup"]
    text = "never" if speed is None else f"{speed:.2f}×"
    mark = " ✓" if summary["passes"] else ""
    return f"{text} {summary['median_final_regret']:.4f}{mark}"


RUN_COLUMNS = (
    "table",
    "scheduler",
    "seed",
    "speedup",
    "speedup_same_tolerance",
    "final_regret",
    "regret_at_10",
    "regret_at_20",
    "regret_at_50",
    "epochs",
    "top_tried",
    "top_stopped",
    "decision_ms",
    "virtual_seconds",
)


def write_runs_csv(results: Mapping[str, Any], path: Path) -> Path:
    """runs.csv: every (table, scheduler, seed) run's numbers, for analyses of your own."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(RUN_COLUMNS)
        for table_name, table in results["tables"].items():
            for name, rows in table.get("runs", {}).items():
                for r in rows:
                    budget = r["regret_at_budget"]
                    writer.writerow(
                        [
                            table_name,
                            name,
                            r["seed"],
                            *(_g(r[k]) for k in ("speedup", "speedup_same_tolerance")),
                            f"{r['final_regret']:.6g}",
                            *(f"{budget[str(b)]:.6g}" for b in metrics.BUDGETS),
                            r["epochs"],
                            r["top_tried"],
                            r["top_stopped"],
                            f"{r['decision_ms']:.6g}",
                            f"{r['virtual_seconds']:.6g}",
                        ]
                    )
    return path


def _g(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def to_json(data: Any) -> str:
    """Indented JSON with lists of numbers kept on one line (the anytime curves)."""
    text = json.dumps(data, indent=1, allow_nan=False)
    flat = re.compile(r"\[\s*([-+0-9.eE,\s]*?)\s*\]")
    return flat.sub(lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)


def file_stem(name: str) -> str:
    """A table name made safe as a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "table"


def write_outputs(results: Mapping[str, Any], out: Path) -> list[Path]:
    """Write results.json, results.md, runs.csv and anytime/<table>.png under ``out``."""
    from .plots import plot_anytime

    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / "results.json"
    path.write_text(to_json(summary_json(results)) + "\n")
    written.append(path)
    path = out / "results.md"
    path.write_text(markdown(results))
    written.append(path)
    written.append(write_runs_csv(results, out / "runs.csv"))
    for name, table in results["tables"].items():
        written.append(
            plot_anytime(
                table["anytime"],
                out / "anytime" / f"{file_stem(name)}.png",
                title=f"{name}: median over {results['settings']['seeds']} seed(s)",
                metric=results["settings"]["metric"],
            )
        )
    return written
