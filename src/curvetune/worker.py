"""What runs on a worker: one segment of one trial.

``run_segment(objective, config, ctx)`` calls the user's ``objective(config, ctx)``, which
trains from ``ctx.checkpoint_in`` (or from scratch) up to ``ctx.until`` steps, calls
``ctx.report(step, **metrics)`` on the way and saves its state to ``ctx.checkpoint_out``.
The worker never touches the study store: it returns a ``SegmentResult`` and the controller
records it. Everything here pickles, so any ``concurrent.futures`` executor can carry it.
"""

from __future__ import annotations

import errno
import importlib
import math
import os
import shutil
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from .types import Report

Objective = Callable[[Mapping[str, Any], "SegmentContext"], None]
"""``objective(config, ctx)``. An objective with the attribute ``stateless = True`` keeps
nothing between segments (it can compute any step from scratch, as a replay of recorded
curves does): it starts at the trial's current step and is never given checkpoints."""


class DivergedError(Exception):
    """Raised inside ``ctx.report`` when a metric is NaN or infinite: the trial diverged."""


@dataclass(slots=True)
class SegmentContext:
    """What an objective knows about the segment it runs, and where it reports.

    ``start`` is the number of steps already done (the checkpoint's step), ``until`` the
    step to stop at. ``checkpoint_in`` is a directory to load from (None: start afresh) and
    ``checkpoint_out`` the directory to save into once ``until`` is reached; the objective
    creates it (``os.makedirs(ctx.checkpoint_out, exist_ok=True)``) when it saves, so
    objectives that keep no state cost no file-system work.
    """

    trial_id: int
    seed: int
    start: int
    until: int
    checkpoint_in: str | None
    checkpoint_out: str | None
    reports: list[Report] = field(default_factory=list)

    def report(self, step: int, **metrics: float) -> None:
        """Record metrics at ``step``. A NaN or infinite value ends the trial as diverged."""
        values = {name: float(value) for name, value in metrics.items()}
        self.reports.append(Report(int(step), values))
        for name, value in values.items():
            if not math.isfinite(value):
                raise DivergedError(f"{name} became {value} at step {step}")


SegmentStatus = Literal["ok", "error", "diverged", "unwritable"]
"""How a segment ended. "unwritable": its checkpoint could not be written (a full or
read-only disk): the infrastructure's fault, not the trial's, so it is retried."""


@dataclass(frozen=True, slots=True)
class SegmentResult:
    """What came back from a segment: its reports and how it ended."""

    trial_id: int
    start: int
    until: int
    reports: tuple[Report, ...]
    status: SegmentStatus
    checkpoint: str | None  # checkpoint_out, when the objective wrote something there
    error: str = ""  # traceback (error) or one line (diverged)
    seconds: float = 0.0


def run_segment(
    objective: Objective | str, config: Mapping[str, Any], ctx: SegmentContext
) -> SegmentResult:
    """Run one segment and turn whatever happens into a ``SegmentResult``."""
    began = time.perf_counter()
    status: SegmentStatus = "ok"
    error = ""
    try:
        fn = load_objective(objective) if isinstance(objective, str) else objective
        fn(config, ctx)
    except DivergedError as exc:
        status, error = "diverged", str(exc)
    except Exception as exc:
        status, error = "error", traceback.format_exc()
        tree = None if ctx.checkpoint_out is None else str(Path(ctx.checkpoint_out).parents[1])
        if tree is not None and is_unwritable_disk(exc, tree):
            status, error = "unwritable", _one_line(exc, ctx.checkpoint_out)
    return segment_result(ctx, status, error, time.perf_counter() - began)


def segment_result(
    ctx: SegmentContext, status: SegmentStatus, error: str, seconds: float
) -> SegmentResult:
    """The ``SegmentResult`` of a segment that ended with ``status``: the checkpoint it
    names is ``ctx.checkpoint_out`` only when the segment succeeded and saved something
    there (a failed segment's half-written directory is removed, never used)."""
    checkpoint = ctx.checkpoint_out
    if checkpoint is not None and (status != "ok" or not _has_files(checkpoint)):
        if status != "ok":
            shutil.rmtree(checkpoint, ignore_errors=True)  # half-written: never use it
        checkpoint = None
    return SegmentResult(
        trial_id=ctx.trial_id,
        start=ctx.start,
        until=ctx.until,
        reports=tuple(ctx.reports),
        status=status,
        checkpoint=checkpoint,
        error=error,
        seconds=seconds,
    )


_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS}
# What torch's checkpoint writer says when the disk fills under it (no errno survives).
_WRITER_PHRASES = ("unexpected pos", "PytorchStreamWriter failed", "file write failed")


def is_unwritable_disk(exc: BaseException, checkpoints: str | None = None) -> bool:
    """Whether ``exc`` (or what caused it) says the disk refused a write of a checkpoint:
    ENOSPC, EDQUOT or EROFS on a file under ``checkpoints`` (or on no named file, as a
    failed ``write`` reports it), or torch's checkpoint writer failing. A full disk under
    the objective's own files (a data cache, a log) stays the trial's error."""
    return _disk_refusal(exc, checkpoints) is not None


def _disk_refusal(exc: BaseException, checkpoints: str | None) -> BaseException | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _DISK_ERRNOS:
            if _under(current.filename, checkpoints):
                return current
        elif isinstance(current, RuntimeError) and any(
            phrase in str(current) for phrase in _WRITER_PHRASES
        ):
            return current
        current = current.__cause__ or current.__context__
    return None


def _under(filename: object, root: str | None) -> bool:
    if filename is None or root is None:
        return True
    try:
        return Path(os.fsdecode(filename)).resolve().is_relative_to(Path(root).resolve())
    except (TypeError, ValueError, OSError):
        return False


def _one_line(exc: BaseException, checkpoint_out: str) -> str:
    """What could not be written, how much room is left, and what the disk said."""
    refusal = _disk_refusal(exc, None) or exc
    first = (str(refusal).strip().splitlines() or [type(refusal).__name__])[0]
    where = Path(checkpoint_out)
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        room = f"{shutil.disk_usage(where).free / 2**20:.1f} MiB free"
    except OSError:
        room = "free space unknown"
    return f"cannot write checkpoint {checkpoint_out} ({room}): {type(refusal).__name__}: {first}"


def _has_files(directory: str) -> bool:
    if not os.path.isdir(directory):  # the common case of an objective that saved nothing:
        return False  # a stat, not a raised FileNotFoundError (several times dearer)
    try:
        with os.scandir(directory) as entries:
            return any(True for _ in entries)
    except FileNotFoundError:
        return False


@runtime_checkable
class Stateless(Protocol):
    """An objective that says ``stateless = True`` keeps nothing between segments (it can
    compute any step from scratch, as a replay of recorded curves does)."""

    stateless: bool


@runtime_checkable
class ChecksSettings(Protocol):
    """An objective that can refuse a study's settings before any trial starts (keys no
    trial may use): ``check_study(fixed, space)`` raises ValueError with one line."""

    def check_study(self, fixed: Mapping[str, Any], space: Any) -> None: ...


@runtime_checkable
class ChecksConfig(Protocol):
    """An objective that can refuse one config (the fixed settings with a sampled point)
    before any trial starts: ``check_config(config)`` raises ValueError with one line."""

    def check_config(self, config: Mapping[str, Any]) -> None: ...


def is_stateless(objective: Objective | str) -> bool:
    """Whether the objective (a callable, or the import path of one) is ``Stateless``."""
    target = load_objective(objective) if isinstance(objective, str) else objective
    return isinstance(target, Stateless) and target.stateless is True


_OBJECTIVES: dict[str, Objective] = {}


def load_objective(path: str) -> Objective:
    """Import ``"package.module:name"``. A class is wrapped by ``ClassObjective``."""
    cached = _OBJECTIVES.get(path)
    if cached is not None:
        return cached
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"objective {path!r} must look like 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"objective {path!r}: cannot import {module_name!r} ({exc})") from exc
    try:
        target = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"objective {path!r}: module {module_name!r} has no {attr!r}") from None
    if isinstance(target, type):
        target = ClassObjective(target)
    if not callable(target):
        raise ValueError(f"objective {path!r} is not callable")
    _OBJECTIVES[path] = target
    return target


class Trainable(Protocol):
    """The class form of an objective (like Ray Tune's class API).

    ``setup`` builds the model for a config, ``step`` trains one step and returns its
    metrics, ``save``/``load`` write and read the state in a directory.
    """

    def setup(self, config: Mapping[str, Any], seed: int) -> None: ...
    def step(self) -> Mapping[str, float]: ...
    def save(self, directory: Path) -> None: ...
    def load(self, directory: Path) -> None: ...


class ClassObjective:
    """Adapts a ``Trainable`` class to the ``objective(config, ctx)`` call."""

    def __init__(self, cls: type[Trainable]) -> None:
        self.cls = cls

    def __call__(self, config: Mapping[str, Any], ctx: SegmentContext) -> None:
        trainable = self.cls()
        trainable.setup(config, ctx.seed)
        if ctx.checkpoint_in is not None:
            trainable.load(Path(ctx.checkpoint_in))
        for step in range(ctx.start + 1, ctx.until + 1):
            ctx.report(step, **trainable.step())
        if ctx.checkpoint_out is not None:
            os.makedirs(ctx.checkpoint_out, exist_ok=True)
            trainable.save(Path(ctx.checkpoint_out))
