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


def full_bar(table: Mapping[str, Any], name: str) -> bool:
    """Whether scheduler ``name`` passes ``table`` (one entry of ``results["tables"]``) on
    the full bar: its stored ``passes_full``, or, in results written before that flag
    existed, ``metrics.passes_full`` against the table's FIFO summary."""
    summary = table["schedulers"][name]
    if "passes_full" in summary:
        return bool(summary["passes_full"])
    return metrics.passes_full(summary, table["schedulers"]["fifo"])


def scheduler_totals(results: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per scheduler over tables: tables passing the full bar (``passes_full``) and the half
    bar (``passes``: speedup and regret only); the median and the worst (largest, with its
    table) of the per-table pooled false-stop rates (tables where a top row was tried);
    medians of the per-table median speedups ("never" as 0), final regrets, regrets at
    each budget of trainings, epochs and decision times."""
    tables = results["tables"]
    out = {}
    for name in results["settings"]["schedulers"]:
        rows = [t["schedulers"][name] for t in tables.values()]
        stops = {
            table: t["schedulers"][name]["false_stop_rate"]
            for table, t in tables.items()
            if t["schedulers"][name]["false_stop_rate"] is not None
        }
        worst = max(stops, key=stops.__getitem__) if stops else None
        out[name] = {
            "passes_full": sum(full_bar(t, name) for t in tables.values()),
            "passes": sum(r["passes"] for r in rows),
            "tables": len(rows),
            "median_false_stop_rate": _median(list(stops.values())) if stops else None,
            "worst_false_stop_rate": stops[worst] if worst is not None else None,
            "worst_false_stop_table": worst,
            "median_speedup": _median([r["median_speedup"] or 0.0 for r in rows]),
            "median_speedup_same_tolerance": _median(
                [r["median_speedup_same_tolerance"] or 0.0 for r in rows]
            ),
            "median_final_regret": _median([r["median_final_regret"] for r in rows]),
            "median_regret_at_budget": {
                b: _median([r["regret_at_budget"][b] for r in rows])
                for b in rows[0]["regret_at_budget"]
            },
            "median_epochs": _median([r["median_epochs"] for r in rows]),
            "median_decision_ms": _median([r["median_decision_ms"] for r in rows]),
        }
    return out


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def full_bar_text(top_share: float = metrics.TOP_SHARE) -> str:
    """The full bar and what a false stop costs, in words (one paragraph)."""
    return (
        "A scheduler passes a table on the **full bar** when its median speedup over FIFO is "
        f"at least {metrics.PASS_SPEEDUP:g}, its median final regret is at most FIFO's + "
        f"{metrics.PASS_REGRET_SLACK}, and it stopped at most {metrics.PASS_FALSE_STOPS:.0%} "
        f"of the table's true top {top_share:.0%} configurations (by final value) that it "
        "tried, pooled over seeds (a table where it tried none meets this condition). "
        "*Speed + regret only* leaves out the last condition. A false stop is a top "
        f"{top_share:.0%} configuration stopped early: if it was the answer, the study "
        "returns a worse one, and nothing tells you."
    )


def markdown(results: Mapping[str, Any]) -> str:
    """results.md: the per-scheduler summary first (tables passing the full bar, then
    speed + regret only, false stops, speedup, regret at budgets of trainings), then one
    row per table (speedup, final regret and false stops per scheduler), then the rest."""
    settings = results["settings"]
    names = settings["schedulers"]
    budgets = [str(b) for b in settings["budgets"]]
    totals = scheduler_totals(results)
    count = len(results["tables"])
    lines = [
        "# Early stopping on learning-curve tables",
        "",
        f"{count} table(s), {settings['seeds']} seed(s), at most "
        f"{settings['trials']} trials per study, {settings['workers']} virtual workers, "
        f"metric `{settings['metric']}` ({settings['mode']}).",
        "",
        "## Summary over tables",
        "",
        full_bar_text(settings.get("top_share", metrics.TOP_SHARE)),
        "",
        f"| scheduler | full bar (of {count}) | speed + regret only | false stops, median "
        "| false stops, worst table | median speedup | "
        + " | ".join(f"regret at {b} trainings" for b in budgets)
        + " |",
        "|---|---:|---:|---:|---:|---:|" + "---:|" * len(budgets),
    ]
    for name, total in totals.items():
        at_budget = " | ".join(f"{total['median_regret_at_budget'][b]:.4f}" for b in budgets)
        lines.append(
            f"| {name} | **{total['passes_full']}** | {total['passes']} "
            f"| {_share(total['median_false_stop_rate'])} "
            f"| {_share(total['worst_false_stop_rate'])} "
            f"| {total['median_speedup']:.2f}× | {at_budget} |"
        )
    lines += [
        "",
        "False stops: per table, the top configurations stopped ÷ those tried, pooled over "
        "seeds; the median and the largest over tables (tables where none was tried are left "
        "out, `—` if all). Speedup: epochs FIFO used to first reach its final incumbent ÷ "
        f"epochs the scheduler used to come within {settings['tolerance']} of it, median over "
        "seeds, then over tables (\u201cnever\u201d counts as 0). Regret at k trainings: "
        "regret (table best − incumbent) once the study had used k × (the table's epochs) "
        "epochs over all its trials, completed and stopped (the compute FIFO spends on k "
        "configurations; before any trial completed, table best − table worst, the regret of "
        "knowing nothing), median over seeds, then over tables.",
        "",
        "## Per table",
        "",
        "Cells: median speedup over seeds (`never` when that median is 0), median final "
        "regret, false-stop rate pooled over seeds (`—`: no top configuration tried). "
        "**✓**: passes the full bar; (✓): passes on speed and regret but stops more than "
        f"{metrics.PASS_FALSE_STOPS:.0%} of the top configurations.",
        "",
        "| table | n | " + " | ".join(names) + " |",
        "|---|---:|" + "---|" * len(names),
    ]
    for name, table in results["tables"].items():
        cells = [_cell(table, s) for s in names]
        lines.append(f"| {name} | {table['n_configs']} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## More over tables",
        "",
        "Medians over tables of the per-table medians (a `never` speedup counts as 0). "
        "The second speedup counts FIFO's epochs to within the same tolerance of its answer, "
        "so FIFO scores exactly 1 there (in the first, the tolerance favours the scheduler).",
        "",
        "| scheduler | speedup | speedup, FIFO also within tolerance | final regret | epochs "
        "| decision ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, total in totals.items():
        lines.append(
            f"| {name} | {total['median_speedup']:.2f}× "
            f"| {total['median_speedup_same_tolerance']:.2f}× "
            f"| {total['median_final_regret']:.4f} "
            f"| {total['median_epochs']:,.0f} | {total['median_decision_ms']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def _cell(table: Mapping[str, Any], name: str) -> str:
    summary = table["schedulers"][name]
    speed = summary["median_speedup"]
    text = "never" if speed is None else f"{speed:.2f}×"
    mark = " **✓**" if full_bar(table, name) else " (✓)" if summary["passes"] else ""
    stops = _share(summary["false_stop_rate"])
    return f"{text} {summary['median_final_regret']:.4f} {stops}{mark}"


def _about(settings: Mapping[str, Any]) -> tuple[Any, ...]:
    return (len(settings["tables"]), settings["seeds"], settings["trials"], settings["metric"])


def combined_markdown(runs: Mapping[str, Mapping[str, Any]]) -> str:
    """The full bar side by side for several comparisons of the same tables, e.g. with 4
    and with 1 virtual worker: ``runs`` maps a label ("4 workers") to its results (as
    ``compare`` returns or results.json holds). Schedulers in the order they first appear;
    `—` where a comparison did not run one."""
    labels = list(runs)
    names = list(dict.fromkeys(n for r in runs.values() for n in r["settings"]["schedulers"]))
    totals = {label: scheduler_totals(r) for label, r in runs.items()}
    first = next(iter(runs.values()))["settings"]
    counts = {len(r["tables"]) for r in runs.values()}
    of = f" (of {counts.pop()})" if len(counts) == 1 else ""
    lines = [
        "# Early stopping: the full bar with " + " and ".join(labels),
        "",
        *(
            f"- {label}: {len(r['tables'])} table(s), {r['settings']['seeds']} seed(s), at most "
            f"{r['settings']['trials']} trials per study, {r['settings']['workers']} virtual "
            f"worker{'s' if r['settings']['workers'] != 1 else ''}, "
            f"metric `{r['settings']['metric']}`."
            for label, r in runs.items()
        ),
        "",
    ]
    if len({_about(r["settings"]) for r in runs.values()}) > 1:
        lines += [
            "**These comparisons differ in tables, seeds, trials or metric: compare with care.**",
            "",
        ]
    lines += [
        full_bar_text(first.get("top_share", metrics.TOP_SHARE)),
        "",
        f"Each cell: {' / '.join(labels)}. Tables passing; false stops per table pooled over "
        "seeds, then the median and the worst table over tables; `—`: not run.",
        "",
    ]
    columns = [
        (f"full bar{of}", lambda t: f"**{t['passes_full']}**"),
        ("speed + regret only", lambda t: f"{t['passes']}"),
        ("false stops, median", lambda t: _share(t["median_false_stop_rate"])),
        ("false stops, worst table", lambda t: _share(t["worst_false_stop_rate"])),
    ]
    lines += [
        "| scheduler | " + " | ".join(title for title, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for name in names:
        cells = [
            " / ".join(
                show(totals[label][name]) if name in totals[label] else "—" for label in labels
            )
            for _, show in columns
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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
