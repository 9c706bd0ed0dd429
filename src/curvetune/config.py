"""Study files: one TOML file says what to tune, how, and where the study lives.

```toml
[study]
objective = "curvetune.models.mnist:train"   # import path of objective(config, ctx)
metric = "val_accuracy"
mode = "max"                 # or "min"
seed = 0
directory = "runs/mnist"     # relative to the current directory; default runs/<file stem>

[budget]
trials = 12                  # how many trials the study runs in all
steps = 3                    # steps (e.g. epochs) per trial at most

[space]                      # what to search
lr = { type = "float", low = 0.005, high = 0.5, log = true }
batch_size = [32, 64, 128]   # a bare list is a choice

[fixed]                      # passed to every trial unchanged
arch = "mlp"

[searcher]
name = "random"              # grid | random | evolution, plus its options

[scheduler]
name = "fifo"                # plus its options, e.g. segment = 1

[executor]
name = "local"               # local | sequential | mpi | dask | batched
workers = 2
# batch = 16                    # batched: segments of up to 16 trials trained in one call
# device = "auto"               # batched: auto | cpu | cuda | cuda:N
# over = "local"                # batched: the engine the batches run on
# address = "tcp://HOST:8786"   # dask: join this scheduler instead of starting a cluster
# segment_timeout = 600         # seconds; a segment still running then counts as lost
```
"""

from __future__ import annotations

import contextlib
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .executors import Batching, check_executor
from .schedulers import Scheduler, make_scheduler
from .searchers import Searcher, make_searcher
from .space import Space
from .study import StudySpec


class ConfigError(ValueError):
    """A study file that cannot be used; the message is one line saying where and why."""


# Each section's keys and the TOML type each must have; ``object``: whoever takes the value
# checks it (the executor registry, for name, workers and address).
SECTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "study": {"objective": str, "metric": str, "mode": str, "seed": int, "directory": str},
    "budget": {"trials": int, "steps": int},
    "space": {},
    "fixed": {},
    "searcher": {},
    "scheduler": {},
    "executor": {
        "name": object,
        "workers": object,
        "max_retries": int,
        "address": object,
        "segment_timeout": (int, float),
        "batch": object,
        "device": object,
        "over": object,
    },
}
REQUIRED = {"study": ("objective", "metric"), "budget": ("trials", "steps")}


@dataclass(frozen=True)
class StudyFile:
    """A parsed, validated study file.

    ``searcher`` and ``scheduler`` are built while the file is parsed (that is how their
    options are checked), once, for the study the file runs; ``searcher_name`` and
    ``scheduler_name`` with their options say what they were built from.
    """

    path: Path
    spec: StudySpec
    directory: Path
    trials: int
    searcher: Searcher
    scheduler: Scheduler
    searcher_name: str = "random"
    searcher_options: Mapping[str, Any] = field(default_factory=dict)
    scheduler_name: str = "fifo"
    scheduler_options: Mapping[str, Any] = field(default_factory=dict)
    executor: str = "local"
    workers: int | None = None
    max_retries: int = 2
    address: str | None = None
    segment_timeout: float | None = None
    batching: Batching | None = None  # the batched executor's settings (None: not batched)


def load_study_file(path: str | Path) -> StudyFile:
    """Read and validate a study file; every problem is a ``ConfigError`` naming the spot."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such study file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    try:
        return _parse(path, data)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _parse(path: Path, data: Mapping[str, Any]) -> StudyFile:
    for section, value in data.items():
        if section not in SECTIONS:
            raise ConfigError(
                f"{path}: unknown section [{section}]; allowed: {', '.join(SECTIONS)}"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
    for section, keys in SECTIONS.items():
        table = data.get(section, {})
        for key in REQUIRED.get(section, ()):
            if key not in table:
                raise ConfigError(f"{path}: [{section}] needs '{key}'")
        if not keys:
            continue
        for key, value in table.items():
            if key not in keys:
                raise ConfigError(
                    f"{path}: [{section}] unknown key '{key}'; allowed: {', '.join(keys)}"
                )
            expected = keys[key]
            if expected is not object and (
                not isinstance(value, expected) or isinstance(value, bool)
            ):
                kind = {str: "a string", int: "a whole number"}.get(expected, "a number")
                raise ConfigError(f"{path}: [{section}] '{key}' must be {kind}, got {value!r}")

    study, budget = data["study"], data["budget"]
    if not data.get("space"):
        raise ConfigError(f"{path}: [space] must declare at least one parameter")
    try:
        space = Space.from_json(data["space"])
    except ValueError as exc:
        raise ConfigError(f"{path}: [space] {exc}") from None
    spec = StudySpec(
        objective=study["objective"],
        space=space,
        metric=study["metric"],
        mode=study.get("mode", "max"),
        max_steps=budget["steps"],
        seed=study.get("seed", 0),
        fixed=dict(data.get("fixed", {})),
    )
    if budget["trials"] < 1:
        raise ConfigError(f"{path}: [budget] trials must be >= 1, got {budget['trials']}")
    searcher_options = dict(data.get("searcher", {}))
    searcher_name = _name(path, "searcher", searcher_options, "random")
    scheduler_options = dict(data.get("scheduler", {}))
    scheduler_name = _name(path, "scheduler", scheduler_options, "fifo")
    executor = data.get("executor", {})
    name = executor.get("name", "local")
    workers, address = executor.get("workers"), executor.get("address")
    batching = _batching(executor)
    with _section(path, "executor"):
        check_executor(name, workers=workers, address=address, batching=batching)
    segment_timeout = executor.get("segment_timeout")
    if segment_timeout is not None and not segment_timeout > 0:
        raise ConfigError(
            f"{path}: [executor] segment_timeout must be > 0 seconds, got {segment_timeout}"
        )
    # Built once, here: building is how their options are checked, and the study uses these.
    with _section(path, "searcher"):
        searcher = make_searcher(searcher_name, **searcher_options)
    with _section(path, "scheduler"):
        scheduler = make_scheduler(scheduler_name, **scheduler_options)
    return StudyFile(
        path=path,
        spec=spec,
        directory=Path(study.get("directory", f"runs/{path.stem}")),
        trials=budget["trials"],
        searcher=searcher,
        scheduler=scheduler,
        searcher_name=searcher_name,
        searcher_options=searcher_options,
        scheduler_name=scheduler_name,
        scheduler_options=scheduler_options,
        executor=name,
        workers=workers,
        max_retries=executor.get("max_retries", 2),
        address=address,
        segment_timeout=segment_timeout,
        batching=batching,
    )


def _batching(executor: Mapping[str, Any]) -> Batching | None:
    """The batched executor's settings the [executor] table names (None if it names none)."""
    given = {key: executor[key] for key in ("batch", "device", "over") if key in executor}
    return Batching(**given) if given else None


@contextlib.contextmanager
def _section(path: Path, section: str) -> Iterator[None]:
    """Turn a ``ValueError`` raised inside into ``ConfigError("PATH: [section] message")``."""
    try:
        yield
    except ValueError as exc:
        raise ConfigError(f"{path}: [{section}] {exc}") from None


def _name(path: Path, section: str, table: dict[str, Any], default: str) -> str:
    name = table.pop("name", default)
    if not isinstance(name, str):
        raise ConfigError(f"{path}: [{section}] 'name' must be a string, got {name!r}")
    return name
