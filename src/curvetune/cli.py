"""``curvetune``: run a study file, look at a study directory, export it, draw it.

Every mistake a user can make (a bad study file, a missing or corrupt study directory)
ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .executors._optional import MissingExtraError
from .types import TrialState

EXIT_USAGE = 2
EXIT_NO_RESULT = 1  # the study ran, but no trial completed
STUDY_DIR = "the study's directory (holds study.db)"


class UsageError(Exception):
    """A problem with what the user asked for; printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="curvetune", description="Tune the hyperparameters of neural networks."
    )
    parser.add_argument("--version", action="version", version=f"curvetune {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a study file (continues it if already started)")
    run.add_argument("study", type=Path, help="the study's TOML file")
    run.add_argument("--executor", help="override [executor] name: local | sequential | mpi | dask")
    run.add_argument("--workers", type=int, help="override [executor] workers")
    run.add_argument("--address", help="dask: join the scheduler at tcp://HOST:8786")
    run.add_argument(
        "--segment-timeout",
        type=float,
        help="override [executor] segment_timeout (seconds)",
    )
    run.add_argument("--trials", type=int, help="override [budget] trials")
    run.add_argument("--directory", type=Path, help="override [study] directory")
    run.add_argument("--quiet", action="store_true", help="no progress display")

    status = sub.add_parser("status", help="trials by state, budget used, best so far")
    status.add_argument("directory", type=Path, help=STUDY_DIR)

    best = sub.add_parser("best", help="the best trial and its checkpoint (JSON)")
    best.add_argument("directory", type=Path, help=STUDY_DIR)

    export = sub.add_parser("export", help="every trial as CSV or JSON")
    export.add_argument("directory", type=Path, help=STUDY_DIR)
    export.add_argument(
        "--format", choices=("csv", "json"), default="csv", help="csv (default) or json"
    )
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")

    report = sub.add_parser("report", help="the study's report: report.html and PNG figures")
    report.add_argument("directory", type=Path, help=STUDY_DIR)
    report.add_argument(
        "-o",
        "--output",
        type=Path,
        help="FILE.html: only that page; else a folder for the PNG figures, stops.md and "
        "report.html (default: DIR/report)",
    )

    schedule = sub.add_parser(
        "pbt-schedule", help="the learning-rate schedule a PBT member followed (replayable)"
    )
    schedule.add_argument("directory", type=Path, help=STUDY_DIR + " (a PBT study)")
    schedule.add_argument("--trial", type=int, help="member (default: the best)")
    schedule.add_argument(
        "-o", "--output", type=Path, help="JSON file (default: DIR/pbt-schedule.json)"
    )

    bench = sub.add_parser("bench", help="benchmarks on recorded learning-curve tables")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    stopping = bench_sub.add_parser(
        "stopping", help="compare early-stopping schedulers with FIFO on curve tables"
    )
    stopping.add_argument(
        "--table",
        type=Path,
        action="append",
        required=True,
        help="a curve table (.npz), or a folder of them; repeat for more",
    )
    stopping.add_argument(
        "--schedulers", default="fifo", help="comma-separated names (fifo is always added)"
    )
    stopping.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (default 20)")
    stopping.add_argument("--trials", type=int, default=200, help="trials per study (default 200)")
    stopping.add_argument("--workers", type=int, default=4, help="virtual workers (default 4)")
    stopping.add_argument("--metric", default="val_accuracy", help="metric (default val_accuracy)")
    stopping.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    stopping.add_argument("--out", type=Path, default=Path("bench-stopping"), help="results folder")
    stopping.add_argument("--quiet", action="store_true", help="no progress display")

    experiment = sub.add_parser("experiment", help="reproducible MNIST learning-rate experiments")
    experiment.add_argument("name", choices=("dynamic-lr", "pbt-lr"), help="which experiment")
    experiment.add_argument(
        "--out", type=Path, help="results folder (default: runs/experiments/NAME)"
    )
    experiment.add_argument("--quick", action="store_true", help="tiny run to check the pipeline")
    experiment.add_argument("--seeds", type=int, help="seeds 0..N-1 (default 3; quick: 1)")
    experiment.add_argument("--steps", type=int, help="steps per run (default 30; quick: 3/2)")
    experiment.add_argument(
        "--population", type=int, help="pbt-lr: PBT population (default 16; quick: 4)"
    )
    experiment.add_argument(
        "--workers", type=int, help="segments run at once (default 2; quick: 1, in process)"
    )

    dashboard = sub.add_parser("dashboard", help="a live, read-only web page of a study")
    dashboard.add_argument("directory", type=Path, help=STUDY_DIR)
    dashboard.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    dashboard.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)"
    )
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("curvetune")
    except PackageNotFoundError:
        return "unknown"


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the controller stores what it has and stops."""


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    _print_notes_as_lines()
    try:
        with _terminate_as_interrupt():
            return COMMANDS[args.command](args, console)
    except KeyboardInterrupt as exc:
        console.print("interrupted: run the same command again to continue the study")
        return 143 if isinstance(exc, Terminated) else 130
    except (UsageError, ValueError, OSError, MissingExtraError) as exc:
        _print_error(exc)
        return EXIT_USAGE
    except Exception as exc:
        from .controller import StudyHalted
        from .storage import StoreError

        if isinstance(exc, StoreError | StudyHalted):
            _print_error(exc)
            return EXIT_USAGE
        raise


@contextlib.contextmanager
def _terminate_as_interrupt():
    """While a command runs, SIGTERM (a scheduler's ``scancel``, ``kill``) stops it the way
    Ctrl-C does. Only the main thread may set handlers; elsewhere nothing changes."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_notes_as_lines() -> None:
    """Show ``StudyNote`` warnings as one line each, like errors, not as Python warnings."""
    import warnings

    from .notes import StudyNote

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, StudyNote):
            print(f"curvetune: note: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def _print_error(exc: BaseException) -> None:
    """One line on stderr; under mpiexec only rank 0 says it (every rank hit the same)."""
    rank = os.environ.get("PMI_RANK") or os.environ.get("OMPI_COMM_WORLD_RANK") or "0"
    if rank == "0":
        print(f"curvetune: error: {exc}", file=sys.stderr)


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from .config import load_study_file
    from .executors import EXECUTORS, open_executor
    from .worker import load_objective

    for flag, value, allowed in (
        ("--trials", args.trials, "a whole number >= 1"),
        ("--workers", args.workers, "a whole number >= 1"),
        ("--segment-timeout", args.segment_timeout, "a number of seconds > 0"),
    ):
        if value is not None and not value > 0:
            raise UsageError(f"{flag} must be {allowed}, got {value:g}")
    plan = load_study_file(args.study)
    _import_like_python_m(args.study)
    load_objective(plan.spec.objective)  # a typo is refused before anything is stored
    name = args.executor or plan.executor
    if name not in EXECUTORS:
        raise UsageError(f"unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}")
    workers = args.workers if args.workers is not None else plan.workers
    address = args.address or plan.address
    if address and name != "dask":
        raise UsageError(f"--address is for the dask executor, not {name!r}")
    with open_executor(name, workers=workers, address=address) as executor:
        if executor is None:
            return 0  # an MPI rank that served segments until rank 0 was done
        return _run_study(plan, args, executor, console)


def _run_study(plan, args: argparse.Namespace, executor, console: Console) -> int:
    from .progress import StudyProgress
    from .study import Study

    directory = args.directory or plan.directory
    trials = args.trials if args.trials is not None else plan.trials
    timeout = args.segment_timeout if args.segment_timeout is not None else plan.segment_timeout
    study = Study(plan.spec, directory=directory)
    console.print(
        f"study [bold]{directory}[/]: {len(study.history)} trial(s) stored, "
        f"budget {trials} trials of {plan.spec.max_steps} steps"
    )
    try:
        study.optimize(
            trials=trials,
            searcher=plan.make_searcher(),
            scheduler=plan.make_scheduler(),
            executor=executor,
            max_retries=plan.max_retries,
            segment_timeout=timeout,
            progress=False if args.quiet else console,
        )
    finally:
        study.close()
    if args.quiet:  # else the display's last state says as much
        summary = StudyProgress(study.history, trials).summary()
        console.print(summary, markup=False, highlight=False)
    if study.history.best() is None:
        _print_first_failure(study.history)
        return EXIT_NO_RESULT
    _print_best(study.history, console)
    console.print(f"next: curvetune report {directory}")
    return 0


def _import_like_python_m(study_file: Path) -> None:
    """Objectives import as under ``python -m``: from the current directory, and from the
    study file's folder (``objective = "myproj:train"`` beside the file). Worker processes
    get the same through PYTHONPATH."""
    folders = [str(Path.cwd()), str(study_file.resolve().parent)]
    for folder in reversed(folders):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    known = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    extra = [folder for folder in folders if folder not in known]
    if extra:
        os.environ["PYTHONPATH"] = os.pathsep.join([*extra, *filter(None, known)])


def _print_first_failure(history) -> None:
    """Why no trial completed: the first failure's reason (its traceback is in the store)."""
    for trial in history.trials.values():
        if trial.state in (TrialState.FAILED, TrialState.DIVERGED):
            print(
                f"curvetune: no trial completed; first {trial.state.value}: trial "
                f"#{trial.id}: {trial.reason}",
                file=sys.stderr,
            )
            return
    print("curvetune: no trial completed", file=sys.stderr)


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    study = _open(args.directory)
    history = study.history
    counts = {state: 0 for state in TrialState}
    for trial in history.trials.values():
        counts[trial.state] += 1
    steps = sum(t.step for t in history.trials.values())
    table = Table(title=f"{args.directory}", show_header=False)
    table.add_row("objective", study.spec.objective)
    table.add_row("metric", f"{history.metric} ({history.mode})")
    table.add_row("trials", str(len(history)))
    for state, count in counts.items():
        if count:
            table.add_row(f"  {state.value}", str(count))
    table.add_row("steps trained", f"{steps} (budget {history.max_steps} per trial)")
    console.print(table)
    _print_best(history, console)
    return 0


def cmd_best(args: argparse.Namespace, console: Console) -> int:
    from .export import trial_summary

    study = _open(args.directory)
    history = study.history
    best = history.best()
    if best is None:
        raise UsageError(f"{args.directory}: no trial has completed yet")
    summary = trial_summary(best, history)
    checkpoint = study.checkpoints.dir_for(best.id, best.checkpoint_step)
    summary["checkpoint"] = (
        str(checkpoint) if best.checkpoint_step and checkpoint.is_dir() else None
    )
    print(json.dumps(summary, indent=2))
    return 0


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    from .export import to_csv, to_json

    history = _open(args.directory).history
    text = to_csv(history) if args.format == "csv" else to_json(history)
    if args.output:
        args.output.write_text(text)
        console.print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    """Write the report: one self-contained page (``-o FILE.html``), or PNG figures,
    ``stops.md`` and ``report.html`` in a folder; then list the early stops."""
    from .viz.data import stops
    from .viz.html import write_html
    from .viz.report import write_report

    study = _open(args.directory)
    events = list(study.store.events())
    out = args.output or args.directory / "report"
    if out.suffix.lower() == ".html":
        written, listed = [write_html(study, out, events)], out.name
    else:
        written = [
            *write_report(study, out, events),
            write_html(study, out / "report.html", events),
        ]
        listed = "stops.md"
    for path in written:
        console.print(f"wrote {path}")
    _print_stops(stops(events), console, listed=listed)
    return 0


def _print_stops(records, console: Console, limit: int = 20, listed: str = "stops.md") -> None:
    """The early stops with the scheduler's reasons (all of them are in ``listed``)."""
    if not records:
        return
    table = Table(title=f"{len(records)} trial(s) stopped early")
    for column in ("trial", "step", "rule", "reason"):
        table.add_column(column, overflow="fold")
    for record in records[:limit]:
        step = "" if record.step is None else str(record.step)
        table.add_row(str(record.trial), step, record.rule, record.reason)
    console.print(table)
    if len(records) > limit:
        console.print(f"... and {len(records) - limit} more in {listed}")


def cmd_bench(args: argparse.Namespace, console: Console) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from .bench import output
    from .bench import stopping as bench

    settings = bench.Settings(
        schedulers=bench.scheduler_names(args.schedulers),
        seeds=args.seeds,
        trials=args.trials,
        workers=args.workers,
        metric=args.metric,
    )
    paths = bench.table_paths(args.table)
    bench.check_inputs(paths, settings)
    console.print(
        f"{len(paths)} table(s) × {settings.seeds} seed(s), schedulers "
        f"{', '.join(settings.schedulers)}, at most {settings.trials} trials each"
    )
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=args.quiet,
    )
    with progress:
        task = progress.add_task("table × seed", total=len(paths) * settings.seeds)
        results = bench.compare(
            paths,
            settings,
            jobs=args.jobs,
            advance=lambda k: progress.advance(task, k),
        )
        progress.update(task, completed=len(paths) * settings.seeds)
    for path in output.write_outputs(results, args.out):
        if path.suffix != ".png":
            console.print(f"wrote {path}")
    console.print(f"wrote {len(results['tables'])} figure(s) in {args.out / 'anytime'}")
    for name, total in output.scheduler_totals(results).items():
        console.print(f"  {name}: passes on {total['passes']}/{total['tables']} table(s)")
    return 0


def cmd_pbt_schedule(args: argparse.Namespace, console: Console) -> int:
    from .lineage import followed, piecewise

    study = _open(args.directory)
    history = study.history
    trial = history.best() if args.trial is None else history.trials.get(args.trial)
    if trial is None:
        raise UsageError(
            f"{args.directory}: no completed trial yet"
            if args.trial is None
            else f"{args.directory}: no trial {args.trial}"
        )
    path = followed(history, list(study.store.events()), trial.id)
    points = piecewise(path)
    document = {
        "trial": trial.id,
        history.metric: history.score(trial),
        "lr_schedule": {"type": "piecewise", "points": [list(p) for p in points]},
        "steps": [
            {"step": r.step, "member": r.trial, "lr": r.lr, "iteration": r.iteration} for r in path
        ],
    }
    table = Table(title=f"learning rate followed by trial #{trial.id}'s weights")
    for column in ("from iteration", "lr"):
        table.add_column(column, justify="right")
    for begin, lr in points:
        table.add_row(str(begin), f"{lr:.6g}")
    console.print(table)
    output = args.output or args.directory / "pbt-schedule.json"
    output.write_text(json.dumps(document, indent=2) + "\n")
    console.print(f'wrote {output} (replay it with lr_schedule = its "lr_schedule")')
    return 0


def cmd_experiment(args: argparse.Namespace, console: Console) -> int:
    """Run one experiment of ``curvetune.experiments`` and print its summary."""
    for name in ("seeds", "steps", "population", "workers"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name} must be a whole number >= 1, got {value}")
    out = args.out or Path("runs/experiments") / args.name
    if args.name == "dynamic-lr":
        from .experiments import dynamic_lr as experiment

        plan = experiment.make_plan(
            quick=args.quick, seeds=args.seeds, steps=args.steps, workers=args.workers
        )
    else:
        from .experiments import pbt_lr as experiment

        plan = experiment.make_plan(
            quick=args.quick,
            seeds=args.seeds,
            steps=args.steps,
            population=args.population,
            workers=args.workers,
        )
    document = experiment.run_experiment(out, plan, log=console.print)
    console.print_json(json.dumps(document["summary"]))
    console.print(f"wrote {out / 'results.json'} and {len(document['figures'])} figure(s)")
    return 0


def cmd_dashboard(args: argparse.Namespace, console: Console) -> int:
    """Serve the study's dashboard (read-only) until interrupted."""
    from .dashboard import serve

    if not (args.directory / "study.db").exists():
        raise UsageError(f"{args.directory}: no study here (no study.db)")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    say = lambda text: console.print(text, markup=False, highlight=False)  # noqa: E731
    serve(args.directory, host=args.host, port=args.port, log=say)
    return 0


COMMANDS = {
    "run": cmd_run,
    "status": cmd_status,
    "best": cmd_best,
    "export": cmd_export,
    "report": cmd_report,
    "bench": cmd_bench,
    "pbt-schedule": cmd_pbt_schedule,
    "experiment": cmd_experiment,
    "dashboard": cmd_dashboard,
}


def _open(directory: Path):
    from .study import Study

    if not (directory / "study.db").exists():
        raise UsageError(f"{directory}: no study here (no study.db)")
    return Study.load(directory)


def _print_best(history, console: Console) -> None:
    best = history.best()
    if best is None:
        console.print("no completed trial yet")
        return
    value = history.score(best)
    params = ", ".join(f"{k}={_short(v)}" for k, v in best.config.items())
    console.print(f"best trial [bold]#{best.id}[/]: {history.metric} = [bold]{value:.4f}[/]")
    console.print(f"  {params}")


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main())
