"""Runs each segment in the calling process, at submit time: deterministic, for tests and
for studies whose objective is cheap enough that a process hop would cost more than it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class SequentialExecutor:
    workers = 1
    same_host = True  # see ``hooks.SameHost``

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # the controller sees it as a lost segment
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass
