"""``curvetune``: run a study file, look at a study directory, export it, draw it.

Every mistake a user can make (a bad study file, a missing or corrupt study directory, a
full disk) ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

from rich.console import Console

from ..executors._optional import MissingExtraError
from .common import EXIT_USAGE, UsageError
from .look import cmd_best, cmd_export, cmd_pbt_schedule, cmd_report, cmd_status
from .parser import build_parser
from .run import cmd_run
from .tools import cmd_bench, cmd_dashboard, cmd_experiment

__all__ = ["COMMANDS", "UsageError", "build_parser", "main"]

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
        if _rank() == "0":  # under mpiexec every rank was interrupted; one says so
            console.print("interrupted: run the same command again to continue the study")
        return 143 if isinstance(exc, Terminated) else 130
    except (UsageError, ValueError, OSError, MissingExtraError) as exc:
        _print_error(exc)
        return EXIT_USAGE
    except Exception as exc:
        from ..control import StudyHalted
        from ..storage import StoreError

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

    from ..notes import StudyNote

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, StudyNote):
            print(f"curvetune: note: {message}", file=sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show


def _print_error(exc: BaseException) -> None:
    """One line on stderr; under mpiexec only rank 0 says it (every rank hit the same)."""
    if _rank() == "0":
        print(f"curvetune: error: {exc}", file=sys.stderr)


def _rank() -> str:
    """This process's MPI rank under mpiexec ("0" when not under MPI)."""
    return os.environ.get("PMI_RANK") or os.environ.get("OMPI_COMM_WORLD_RANK") or "0"
