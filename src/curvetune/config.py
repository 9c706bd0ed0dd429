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
name = "local"               # local | sequential | mpi | dask
workers = 2
# address = "tcp://HOST:8786"   # dask: join this scheduler instead of starting a cluster
# segment_timeout = 600         # seconds; a segment still running then counts as lost
```
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .executors import EXECUTORS
from .space import Space
from .study import StudySpec


class ConfigError(ValueError):
    """A study file that cannot be used; the message is one line saying where and why."""


SECTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "study": {"objective": str, "metric": str, "mode": str, "seed": int, "directory": str},
    "budget": {"trials": int, "steps": int},
    "space": {},
    "fixed": {},
    "searcher": {},
    "scheduler": {},
    "executor": {
        "name": str,
        "workers": int,
        "max_retries": int,
        "address": str,
        "segment_timeout": (int, float),
    },
}
REQUIRED = {"study": ("objective", "metric"), "budget": ("trials", "steps")}


@dataclass(frozen=True)
class StudyFile:
    """A parsed, validated study file."""

    path: Path
    spec: StudySpec
    directory: Path
    trials: int
    searcher: str
    searcher_options: Mapping[str, Any] = field(default_factory=dict)
    scheduler: str = "fifo"
    scheduler_options: Mapping[str, Any] = field(default_factory=dict)
    executor: str = "local"
    workers: int | None = None
    max_retries: int = 2
    address: str | None = None
    segment_timeout: float | None = None

    def make_searcher(self):
        from .searchers import make_searcher

        return make_searcher(self.searcher, **self.searcher_options)

    def make_scheduler(self):
        from .schedulers import make_scheduler

        return make_scheduler(self.scheduler, **self.scheduler_options)


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
            if not isinstance(value, keys[key]) or isinstance(value, bool):
                kind = keys[key].__name__
                raise ConfigError(f"{path}: [{section}] '{key}' must be a {kind}, got {value!r}")

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
    searcher = dict(data.get("searcher", {}))
    scheduler = dict(data.get("scheduler", {}))
    executor = data.get("executor", {})
    plan = StudyFile(
        path=path,
        spec=spec,
        directory=Path(study.get("directory", f"runs/{path.stem}")),
        trials=budget["trials"],
        searcher=_name(path, "searcher", searcher, "random"),
        searcher_options=searcher,
        scheduler=_name(path, "scheduler", scheduler, "fifo"),
        scheduler_options=scheduler,
        executor=executor.get("name", "local"),
        workers=executor.get("workers"),
        max_retries=executor.get("max_retries", 2),
        address=executor.get("address"),
        segment_timeout=executor.get("segment_timeout"),
    )
    for section, build in (("searcher", plan.make_searcher), ("scheduler", plan.make_scheduler)):
        try:
            build()
        except ValueError as exc:
            raise ConfigError(f"{path}: [{section}] {exc}") from None
    if plan.executor not in EXECUTORS:
        raise ConfigError(
            f"{path}: [executor] unknown name {plan.executor!r}; allowed: {', '.join(EXECUTORS)}"
        )
    if plan.workers is not None and plan.workers < 1:
        raise ConfigError(f"{path}: [executor] workers must be >= 1, got {plan.workers}")
    if plan.segment_timeout is not None and not plan.segment_timeout > 0:
        raise ConfigError(
            f"{path}: [executor] segment_timeout must be > 0 seconds, got {plan.segment_timeout}"
        )
    if plan.address is not None and plan.executor != "dask":
        raise ConfigError(f'{path}: [executor] address is for name = "dask" only')
    return plan


def _name(path: Path, section: str, table: dict[str, Any], default: str) -> str:
    name = table.pop("name", default)
    if not isinstance(name, str):
        raise ConfigError(f"{path}: [{section}] 'name' must be a string, got {name!r}")
    return name
