"""Tune a Lightning model with curvetune: ask/tell, ``CurvetuneCallback`` and LCM stopping.

The study of ``examples/pytorch_loop.py`` (random search over the learning rate and width of
an MLP on the bundled MNIST digits, SGD, batch 32), with the model as a ``LightningModule``
trained by a ``Trainer``. ``CurvetuneCallback`` reports the validation accuracy after each
epoch and stops the trainer when Learning Curve Matching stops the trial.

    pip install 'curvetune[lightning]'
    python examples/lightning_mnist.py                   # 30 trials of 10 epochs
    python examples/lightning_mnist.py --trials 10 --epochs 5 --directory runs/quick-pl
    curvetune report runs/lightning-mnist                # the HTML report of the study

Killed and started again with the same options, it goes on where it was.
"""

from __future__ import annotations

import logging
import time
import warnings

import lightning as L
import torch
from pytorch_loop import load_mnist, parse_args, summarise
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from curvetune import Float, Int, Study
from curvetune.integrations.lightning import CurvetuneCallback, TrialDiverged
from curvetune.schedulers import LCMScheduler

BATCH_SIZE = 32  # as in the reference MNIST experiments


class MLP(L.LightningModule):
    def __init__(self, width: int, lr: float) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(28 * 28, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
            nn.Linear(width, 10),
        )

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", F.cross_entropy(logits, y))
        self.log("val_accuracy", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def mnist_datasets(train_size: int) -> tuple[TensorDataset, TensorDataset]:
    """``pytorch_loop.load_mnist``'s tensors as datasets for DataLoaders."""
    train_x, train_y, val_x, val_y = load_mnist(train_size)
    return TensorDataset(train_x, train_y), TensorDataset(val_x, val_y)


def quiet_lightning() -> None:
    """No banner per Trainer, and no advice about DataLoader workers (in-memory tensors need
    none)."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*", FutureWarning)  # lightning's own


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, directory="runs/lightning-mnist", description=__doc__.splitlines()[0])
    quiet_lightning()
    train_data, val_data = mnist_datasets(args.train_size)
    study = Study.create(
        space={"lr": Float(1e-4, 1e-1, log=True), "width": Int(32, 512, log=True)},
        metric="val_accuracy",
        mode="max",
        max_steps=args.epochs,  # a step is an epoch: the trainer's max_epochs
        seed=args.seed,
        searcher="random",
        scheduler=LCMScheduler(min_complete=3),  # check every 10% once 3 trials completed
        directory=args.directory,
    )
    began = time.monotonic()
    try:
        for _ in range(study.remaining(args.trials)):  # exact, even when killed and rerun
            trial = study.ask()
            if trial is None:
                break
            L.seed_everything(trial.seed, verbose=False)  # the trial's own seed
            shuffle = torch.Generator().manual_seed(trial.seed)
            trainer = L.Trainer(
                max_epochs=args.epochs,
                callbacks=[CurvetuneCallback(trial, monitor="val_accuracy")],
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
            )
            error = None
            try:
                trainer.fit(
                    MLP(**trial.config),
                    DataLoader(train_data, BATCH_SIZE, shuffle=True, generator=shuffle),
                    DataLoader(val_data, batch_size=len(val_data)),
                )
            except TrialDiverged as exc:
                error = str(exc)
            study.tell(trial, error=error, diverged=error is not None)  # or stopped by LCM
            print(outcome(trial, trainer, error), flush=True)
        summarise(study, time.monotonic() - began)
    finally:
        study.close()
    return 0


def outcome(trial, trainer: L.Trainer, error: str | None) -> str:
    config = ", ".join(f"{k}={v:.3g}" for k, v in trial.config.items())
    head = f"trial {trial.id:3d} ({config}): "
    if error is not None:
        return head + f"diverged: {error}"
    epochs = trainer.current_epoch
    accuracy = float(trainer.callback_metrics["val_accuracy"])
    text = f"{trial.state.value} after {epochs} epoch{'s' if epochs > 1 else ''}"
    text += f", val_accuracy {accuracy:.4f}"
    return head + text + (f"; {trial.reason}" if trial.reason else "")


if __name__ == "__main__":
    raise SystemExit(main())
