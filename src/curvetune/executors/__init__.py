"""Executors run segments. The seam is the ``concurrent.futures`` subset every engine has:
``submit(fn, *args) -> Future`` and ``shutdown()``, plus ``workers`` (how many segments may
run at once). Engines that need optional packages are imported only when asked for.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol


class Executor(Protocol):
    workers: int

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future: ...

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None: ...


EXECUTORS = ("local", "sequential")


def make_executor(name: str = "local", *, workers: int | None = None) -> Executor:
    """Build an executor by name: "local" (process pool, default) or "sequential"."""
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"executor: workers must be a whole number >= 1, got {workers!r}")
    if name == "local":
        from .local import LocalExecutor

        return LocalExecutor(workers=workers or os.cpu_count() or 1)
    if name == "sequential":
        from .sequential import SequentialExecutor

        return SequentialExecutor()
    raise ValueError(f"unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}")


__all__ = ["EXECUTORS", "Executor", "make_executor"]
