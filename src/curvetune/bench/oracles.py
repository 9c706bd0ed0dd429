"""Where a search benchmark's learning curves come from: a live surrogate or a table.

An ``Oracle`` answers "what learning curve would this configuration give?" for one task:
``curve(config)`` is the metric at epochs 1..n_epochs and the seconds of each epoch.

* ``SurrogateOracle``: the YAHPO Gym LCBench surrogate (an ONNX model; ``onnxruntime``,
  in the ``bench`` extra) answers any configuration of the seven LCBench hyperparameters
  on one of its 34 tasks.
* ``TableOracle``: a curve table answers only its own configurations, so a search over it
  maps each proposal to the nearest configuration not yet tried, in the unit cube of the
  space inferred from the table (as Syne Tune's simulator does): ``resolve``.

Both give ``reference()``: the best known final value and the median final value of the
task (the table's; for the surrogate, over ``REFERENCE_CONFIGS`` random configurations),
by which regrets are normalised.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..domains import Choice, Float, Int
from ..space import Space
from ..types import History
from .tables import CurveTable

REFERENCE_CONFIGS = 2000
_COLUMNS = ("batch_size", "learning_rate", "momentum", "weight_decay", "num_layers",
            "max_units", "max_dropout")  # fmt: skip
LCBENCH_SPACE = Space(
    {
        "batch_size": Int(16, 512, log=True),
        "learning_rate": Float(1e-4, 1e-1, log=True),
        "momentum": Float(0.1, 0.99),
        "weight_decay": Float(1e-5, 1e-1),
        "num_layers": Int(1, 5),
        "max_units": Int(64, 1024, log=True),
        "max_dropout": Float(0.0, 1.0),
    }
)


class Oracle(Protocol):
    """The learning curves of one task."""

    name: str
    space: Space
    n_epochs: int

    def curve(self, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]: ...

    def reference(self) -> tuple[float, float]: ...


def config_key(config: Mapping[str, Any]) -> tuple:
    return tuple(sorted(config.items()))


# ----------------------------------------------------------------------------- surrogate


class SurrogateError(ValueError):
    """A surrogate folder or task that cannot be used; the message says why."""


class Surrogate:
    """The ONNX surrogate in ``directory`` (``model.onnx`` and ``encoding.json``)."""

    def __init__(self, directory: str | Path) -> None:
        directory = Path(directory)
        model, encoding = directory / "model.onnx", directory / "encoding.json"
        for path in (model, encoding, directory / "config_space.json"):
            if not path.is_file():
                raise SurrogateError(
                    f"{path}: missing; --surrogate must be the YAHPO LCBench folder "
                    "(model.onnx, encoding.json, config_space.json)"
                )
        from ..executors._optional import require

        ort = require("onnxruntime", extra="bench", what="the surrogate search benchmark")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )
        codes = json.loads(encoding.read_text())["OpenML_task_id"]
        space = json.loads((directory / "config_space.json").read_text())
        listed = next(
            h["choices"] for h in space["hyperparameters"] if h["name"] == "OpenML_task_id"
        )
        self.codes = {task: int(codes[task]) for task in listed if task in codes}
        self.directory = directory

    @property
    def tasks(self) -> list[str]:
        return list(self.codes)

    def curves(self, task: str, configs: Sequence[Mapping[str, Any]], epochs: int = 52):
        """Validation accuracy (a fraction) and seconds of each epoch, ``[n, epochs]`` each."""
        if task not in self.codes:
            raise SurrogateError(
                f"unknown task {task!r}; the surrogate has {', '.join(self.tasks)}"
            )
        n = len(configs)
        x = np.empty((n * epochs, 8), dtype=np.float32)
        x[:, 0] = np.tile(np.arange(1, epochs + 1), n)
        for j, name in enumerate(_COLUMNS, start=1):
            x[:, j] = np.repeat([float(c[name]) for c in configs], epochs)
        cat = np.full((n * epochs, 1), self.codes[task], dtype=np.int32)
        out = self._session.run(None, {"x_cat": cat, "x_cont": x})[0].reshape(n, epochs, 6)
        accuracy = np.clip(out[:, :, 1].astype(np.float64) / 100.0, 0.0, 1.0)
        elapsed = out[:, :, 0].astype(np.float64)
        seconds = np.diff(elapsed, axis=1, prepend=0.0)
        seconds[:, 0] = elapsed[:, 0]
        return accuracy, np.clip(seconds, 1e-3, None)


@dataclass
class SurrogateOracle:
    """One task of the surrogate, over the LCBench space."""

    surrogate: Surrogate
    task: str
    n_epochs: int = 52
    space: Space = LCBENCH_SPACE
    _cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return f"yahpo-{self.task}"

    def curve(self, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        key = config_key(config)
        if key not in self._cache:
            accuracy, seconds = self.surrogate.curves(self.task, [config], self.n_epochs)
            self._cache[key] = (accuracy[0], seconds[0])
        return self._cache[key]

    def reference(self) -> tuple[float, float]:
        rng = np.random.default_rng([7, int(self.task)])
        configs = [self.space.sample(rng) for _ in range(REFERENCE_CONFIGS)]
        finals = self.surrogate.curves(self.task, configs, self.n_epochs)[0][:, -1]
        return float(finals.max()), float(np.median(finals))


# ----------------------------------------------------------------------------- table


def table_space(table: CurveTable) -> Space:
    """The space a table's configurations span. The LCBench names give the LCBench space;
    otherwise a number becomes an Int or a Float over its range (on a log scale when it is
    positive, spans 10x or more and its median lies nearer the geometric than the
    arithmetic midpoint, as log-uniform draws do), anything else a Choice. A parameter
    some rows lack (a schedule's setting, for another schedule) takes its first value there
    (``filled``)."""
    if not table.configs:
        raise ValueError(f"table {table.name} lists no configs; --table mode needs them")
    names = sorted({k for c in table.configs for k in c})
    if set(names) == set(LCBENCH_SPACE.names):
        return LCBENCH_SPACE
    params: dict[str, Any] = {}
    for name in names:
        values = [_scalar(c[name]) for c in table.configs if _known(c.get(name))]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric and len(set(values)) > 1:
            low, high = min(values), max(values)
            median = float(np.median(values))
            geometric, arithmetic = math.sqrt(low * high) if low > 0 else 0.0, (low + high) / 2
            log = (
                low > 0 and high / low >= 10 and abs(median - geometric) < abs(median - arithmetic)
            )
            kind = Int if all(isinstance(v, int) for v in values) else Float
            params[name] = kind(low, high, log=log)
        else:
            params[name] = Choice(tuple(dict.fromkeys(values)))
    return Space(params)


def filled(space: Space, config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with every parameter of ``space``: one it lacks (or holds as null or a
    non-finite number) takes its domain's lowest value (the first, for a Choice); a list
    value becomes its JSON text."""
    return {
        name: _scalar(config[name]) if _known(config.get(name)) else space[name].from_unit(0.0)
        for name in space.names
    }


def _known(value: Any) -> bool:
    """A value a domain can hold: not missing, not null, not NaN or infinite."""
    return value is not None and not (isinstance(value, float) and not math.isfinite(value))


def _scalar(value: Any) -> Any:
    """A list or table value (layer widths) as its JSON text, so a Choice can hold it."""
    return value if isinstance(value, str | int | float) else json.dumps(value, sort_keys=True)


@dataclass
class TableOracle:
    """A curve table as an oracle; proposals go to the nearest unused row (``resolve``)."""

    table: CurveTable
    metric: str = "val_accuracy"
    space: Space = field(init=False)
    _units: np.ndarray = field(init=False, repr=False)
    _rows: dict[tuple, int] = field(init=False, repr=False)
    _configs: list[dict[str, Any]] = field(init=False, repr=False)
    _copies: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.space = table_space(self.table)
        self._configs = [filled(self.space, c) for c in self.table.configs]
        self._units = np.asarray([self.space.to_unit(c) for c in self._configs])
        self._rows: dict[tuple, int] = {}
        for i, config in enumerate(self._configs):
            self._rows.setdefault(config_key(config), i)
        # A repeated configuration is one row: its copies are never offered.
        self._copies = [i for i, c in enumerate(self._configs) if self._rows[config_key(c)] != i]

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def n_epochs(self) -> int:
        return self.table.n_epochs

    def row_of(self, config: Mapping[str, Any]) -> int:
        return self._rows[config_key(config)]

    def curve(self, config: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        row = self.row_of(config)
        return self.table.curves[self.metric][row], self.table.epoch_seconds[row]

    def resolve(self, config: Mapping[str, Any], used: set[int]) -> dict[str, Any] | None:
        """The table's configuration nearest to ``config`` among rows not in ``used``."""
        distances = np.sum((self._units - self.space.to_unit(config)) ** 2, axis=1)
        if used or self._copies:
            distances[[*used, *self._copies]] = np.inf
        row = int(np.argmin(distances))
        return None if not np.isfinite(distances[row]) else dict(self._configs[row])

    def reference(self) -> tuple[float, float]:
        finals = self.table.final(self.metric)
        return float(finals.max()), float(np.median(finals))


class NearestUnused:
    """A searcher over a table: ``inner``'s proposal moved to the nearest row no trial of the
    History has used (a pure function of the History, like ``inner``)."""

    def __init__(self, inner: Any, oracle: TableOracle) -> None:
        self.inner = inner
        self.oracle = oracle

    def suggest(self, space: Space, history: History, rng: np.random.Generator):
        config = self.inner.suggest(space, history, rng)
        if config is None:
            return None
        used = {self.oracle.row_of(t.config) for t in history.trials.values()}
        return self.oracle.resolve(config, used)
