"""``curvetune run``: run or continue a study file, with the live display."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from ..executors import Batching
from ..types import TrialState
from .common import EXIT_NO_RESULT, UsageError, print_best


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from ..config import load_study_file
    from ..executors import check_executor, open_executor
    from ..worker import load_objective

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
    workers = args.workers if args.workers is not None else plan.workers
    address = args.address or plan.address
    batching = _batching(plan.batching, args)
    try:  # the file's settings passed; these may come from the command line
        check_executor(name, workers=workers, address=address, batching=batching)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    with open_executor(name, workers=workers, address=address, batching=batching) as executor:
        if executor is None:
            return 0  # an MPI rank that served segments until rank 0 was done
        return _run_study(plan, args, executor, console)


def _batching(planned: Batching | None, args: argparse.Namespace) -> Batching | None:
    """The file's batched-executor settings with ``--batch`` and ``--device`` on top; none
    when ``--executor`` names another executor (the file's then do not apply)."""
    if args.batch is None and args.device is None:
        return None if args.executor not in (None, "batched") else planned
    batching = planned or Batching()
    if args.batch is not None:
        batching = replace(batching, batch=args.batch)
    if args.device is not None:
        batching = replace(batching, device=args.device)
    return batching


def _run_study(plan, args: argparse.Namespace, executor, console: Console) -> int:
    from ..progress import StudyProgress
    from ..study import Study

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
            searcher=plan.searcher,  # built once, when the file was read
            scheduler=plan.scheduler,
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
    print_best(study.history, console)
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
