"""``curvetune.integrations.lightning.CurvetuneCallback``: a real ``lightning.Trainer`` (CPU,
a linear model on random tensors, two batches an epoch) driven by an ask/tell trial."""

from __future__ import annotations

import importlib
import sys

import pytest
from conftest import require_module

from curvetune import Complete, Continue, Float, Stop, Study, TrialState
from curvetune.events import Decided
from curvetune.executors._optional import MissingExtraError
from curvetune.schedulers import FIFOScheduler

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*does not have many workers:UserWarning",
    "ignore:.*number of training batches.*:UserWarning",
    "ignore:.*GPU available but not used.*:UserWarning",
    "ignore:.*LeafSpec.*:FutureWarning",  # inside lightning, with torch 2.13
)


class StopAt:
    """A scheduler that asks after every epoch, records the steps it was asked at, and
    stops each trial at ``step`` (``None``: never)."""

    def __init__(self, step: int | None) -> None:
        self.step = step
        self.asked: list[int] = []

    def decide(self, trial, history, rng):
        self.asked.append(trial.step)
        if trial.step >= history.max_steps:
            return Complete()
        if self.step is not None and trial.step >= self.step:
            return Stop(f"stopped at step {trial.step} by the test")
        return Continue(trial.step + 1)


def make_study(directory=None, *, scheduler=None, max_steps: int = 4) -> Study:
    return Study.create(
        space={"lr": Float(0.01, 0.1, log=True)},
        metric="val_accuracy",
        mode="max",
        max_steps=max_steps,
        seed=0,
        directory=directory,
        scheduler=scheduler or FIFOScheduler(),
    )


@pytest.fixture(scope="module")
def lightning_parts():
    """The Lightning module and data of every test (imported once: lightning is slow)."""
    require_module("lightning")
    import lightning as L
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    class Tiny(L.LightningModule):
        def __init__(self, lr: float, log_as: str = "val_accuracy") -> None:
            super().__init__()
            self.layer = torch.nn.Linear(4, 2)
            self.lr, self.log_as = lr, log_as

        def training_step(self, batch, batch_idx):
            x, y = batch
            return torch.nn.functional.cross_entropy(self.layer(x), y)

        def validation_step(self, batch, batch_idx):
            x, y = batch
            logits = self.layer(x)
            self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
            self.log(self.log_as, (logits.argmax(1) == y).float().mean())

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)

    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=generator)
    y = (x[:, 0] > 0).long()
    data = TensorDataset(x, y)

    def loaders():
        return DataLoader(data, batch_size=16), DataLoader(data, batch_size=16)

    def fit(trial, *, module=None, callback=None, **options):
        from curvetune.integrations.lightning import CurvetuneCallback

        options = {"max_epochs": trial._engine.spec.max_steps, **options}
        trainer = L.Trainer(
            accelerator="cpu",
            devices=1,
            enable_progress_bar=False,
            enable_model_summary=False,
            logger=False,
            enable_checkpointing=False,
            callbacks=[callback or CurvetuneCallback(trial)],
            **options,
        )
        trainer.fit(module or Tiny(trial.config["lr"]), *loaders())
        return trainer

    return Tiny, fit


def reports(trial) -> list[int]:
    return [r.step for r in trial.reports]


def test_reports_reach_the_study_one_per_epoch(lightning_parts, tmp_path):
    _, fit = lightning_parts
    study = make_study(tmp_path / "study", max_steps=3)
    trial = study.ask()
    trainer = fit(trial)  # the sanity check's validation reports nothing
    assert trial.state is TrialState.COMPLETED and trial.should_stop()
    assert trainer.current_epoch == 3
    study.tell(trial)
    study.close()
    stored = Study.load(tmp_path / "study").trials[0]
    assert stored.state is TrialState.COMPLETED
    assert reports(stored) == [1, 2, 3]
    assert all(0.0 <= r.metrics["val_accuracy"] <= 1.0 for r in stored.reports)


def test_a_scheduler_stop_stops_the_trainer(lightning_parts, tmp_path):
    _, fit = lightning_parts
    scheduler = StopAt(2)
    study = make_study(tmp_path / "study", scheduler=scheduler, max_steps=6)
    trial = study.ask()
    trainer = fit(trial)
    assert trainer.current_epoch == 2 < trainer.max_epochs
    assert trial.state is TrialState.STOPPED
    assert trial.reason == "stopped at step 2 by the test"
    assert scheduler.asked == [0, 1, 2]
    study.tell(trial)
    study.close()
    stored = Study.load(tmp_path / "study")
    assert stored.trials[0].state is TrialState.STOPPED
    assert reports(stored.trials[0]) == [1, 2]
    stops = [e for e in stored.store.events() if isinstance(e, Decided) and e.kind == "Stop"]
    assert [e.reason for e in stops] == ["stopped at step 2 by the test"]


def test_validation_every_n_epochs_reports_the_epoch_number(lightning_parts):
    _, fit = lightning_parts
    study = make_study(max_steps=6)
    trial = study.ask()
    fit(trial, check_val_every_n_epoch=2)
    assert trial.state is TrialState.COMPLETED
    study.tell(trial)
    assert reports(study.trials[0]) == [2, 4, 6]

    scheduler = StopAt(2)
    study = make_study(scheduler=scheduler, max_steps=6)
    trial = study.ask()
    trainer = fit(trial, check_val_every_n_epoch=2)
    assert trainer.current_epoch == 2 and trial.state is TrialState.STOPPED
    assert scheduler.asked == [0, 1, 2]  # asked for step 1: judged there on what it had


def test_validations_inside_an_epoch_report_once_per_epoch(lightning_parts):
    _, fit = lightning_parts
    scheduler = StopAt(None)
    study = make_study(scheduler=scheduler, max_steps=3)
    trial = study.ask()
    fit(trial, val_check_interval=0.5)  # two validations an epoch: decisions at epoch ends
    assert trial.state is TrialState.COMPLETED
    assert scheduler.asked == [0, 1, 2, 3]
    study.tell(trial)
    assert reports(study.trials[0]) == [1, 2, 3]


def test_the_monitor_is_the_study_metric(lightning_parts):
    from curvetune.integrations.lightning import CurvetuneCallback

    study = make_study()
    trial = study.ask()
    assert CurvetuneCallback(trial).monitor == "val_accuracy"
    assert CurvetuneCallback(trial, monitor="val_accuracy").monitor == "val_accuracy"
    with pytest.raises(ValueError, match="monitor 'val_loss' is not the study's metric"):
        CurvetuneCallback(trial, monitor="val_loss")


def test_a_missing_monitor_names_the_logged_metrics(lightning_parts):
    Tiny, fit = lightning_parts
    study = make_study()
    trial = study.ask()
    with pytest.raises(ValueError) as caught:
        fit(trial, module=Tiny(0.05, log_as="val_acc"))
    message = str(caught.value)
    assert "\n" not in message
    assert "'val_accuracy' was not logged" in message
    assert "(logged: val_acc, val_loss)" in message
    assert trial.state is TrialState.RUNNING
    study.tell(trial, error=message)  # what the user's loop does with it
    assert study.trials[0].state is TrialState.FAILED and not study.trials[0].reports


def test_more_epochs_than_the_study_budget_are_refused_up_front(lightning_parts):
    _, fit = lightning_parts
    study = make_study(max_steps=3)
    trial = study.ask()
    with pytest.raises(ValueError, match=r"max_epochs = 5 exceeds the study's max_steps = 3"):
        fit(trial, max_epochs=5)


def test_trainer_validate_reports_nothing(lightning_parts):
    import lightning as L

    from curvetune.integrations.lightning import CurvetuneCallback

    Tiny, fit = lightning_parts
    study = make_study(max_steps=2)
    trial = study.ask()
    callback = CurvetuneCallback(trial)
    trainer = fit(trial, callback=callback)
    val = trainer.val_dataloaders
    again = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False,
                      enable_model_summary=False, callbacks=[callback])  # fmt: skip
    again.validate(Tiny(0.05), val)  # after the trial completed: no report, no error
    study.tell(trial)
    assert reports(study.trials[0]) == [1, 2]


def test_min_epochs_outlasting_a_stop_reports_no_more(lightning_parts):
    _, fit = lightning_parts
    study = make_study(scheduler=StopAt(1), max_steps=4)
    trial = study.ask()
    trainer = fit(trial, min_epochs=3)  # Lightning trains on to min_epochs
    assert trainer.current_epoch == 3
    assert fit(trial).current_epoch == 0  # a trial already decided trains no more
    study.tell(trial)
    assert study.trials[0].state is TrialState.STOPPED
    assert reports(study.trials[0]) == [1]


def test_a_nan_metric_raises_trial_diverged(lightning_parts):
    import torch

    from curvetune.integrations.lightning import TrialDiverged

    Tiny, fit = lightning_parts

    class Diverging(Tiny):
        def validation_step(self, batch, batch_idx):
            bad = float("nan") if self.current_epoch == 1 else 0.5
            self.log("val_accuracy", torch.tensor(bad))

    study = make_study(max_steps=4)
    trial = study.ask()
    with pytest.raises(TrialDiverged, match=r"trial 0 diverged: val_accuracy = nan in epoch 2"):
        fit(trial, module=Diverging(0.05))
    study.tell(trial, diverged=True)
    assert study.trials[0].state is TrialState.DIVERGED
    assert reports(study.trials[0]) == [1]


def test_without_lightning_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightning", None)
    monkeypatch.delitem(sys.modules, "curvetune.integrations.lightning", raising=False)
    with pytest.raises(MissingExtraError) as caught:
        importlib.import_module("curvetune.integrations.lightning")
    message = str(caught.value)
    assert "pip install 'curvetune[lightning]'" in message
    assert "curvetune.integrations.lightning needs lightning" in message
    assert "\n" not in message


def test_the_integrations_package_imports_no_lightning(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightning", None)
    monkeypatch.delitem(sys.modules, "curvetune.integrations", raising=False)
    importlib.import_module("curvetune.integrations")  # no error: nothing imported there
