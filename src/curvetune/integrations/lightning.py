"""A Lightning callback that lets a curvetune study stop a ``Trainer``: ``CurvetuneCallback``.

One trial of an ask/tell study is one ``trainer.fit``; the callback reports the monitored
validation metric once per epoch and stops the trainer when the study's scheduler says so::

    import lightning as L
    from curvetune import Study, Float
    from curvetune.integrations.lightning import CurvetuneCallback

    study = Study.create(space={"lr": Float(1e-4, 1e-1, log=True)}, metric="val_accuracy",
                         mode="max", max_steps=20, scheduler="lcm", directory="runs/pl")
    for _ in range(study.remaining(50)):
        trial = study.ask()
        trainer = L.Trainer(max_epochs=20, callbacks=[CurvetuneCallback(trial)])
        trainer.fit(MyModule(**trial.config), train_loader, val_loader)
        study.tell(trial)          # completed, or stopped (with the scheduler's reason)
    study.close()

**Steps.** A curvetune step is an epoch: the validation that ends epoch ``e`` (Lightning's
``current_epoch``, from 0) is reported as step ``e + 1``, so the study's ``max_steps`` is the
trainer's ``max_epochs`` (a larger ``max_epochs`` is refused when ``fit`` starts). With
``check_val_every_n_epoch=n`` only every n-th epoch is reported, still under its own epoch
number (steps n, 2n, ...); a scheduler check step between two reports is judged when the
later one arrives, on what was reported by the check (give LCM ``checks=`` that are multiples
of n to judge on values of the check step itself). Validations inside
an epoch (``val_check_interval`` < 1) are not decisions: the epoch's last value is reported
when the epoch ends.

**Stops.** When the trial's scheduler stops it (or it reaches ``max_steps``), the callback
sets ``trainer.should_stop``; Lightning then ends ``fit`` after the epoch (it does not when
``min_epochs`` is not yet reached; the extra epochs are then not reported). ``study.tell``
stores the outcome, with the scheduler's explanation of a stop. A NaN or infinite value
makes ``fit`` raise ``TrialDiverged``: end that trial with ``study.tell(trial,
diverged=True, error=str(exc))``.

The sanity-check validation, and validations run by ``trainer.validate`` rather than
``fit``, report nothing. Training must run in the process that asked the trial (one device,
or several threads): under a multi-process strategy (DDP) the callback refuses to start.
Needs ``pip install 'curvetune[lightning]'``.
"""

from __future__ import annotations

import math
from typing import Any

from ..asktell import TrialHandle
from ..executors._optional import require

require("lightning", extra="lightning", what="curvetune.integrations.lightning")

from lightning.pytorch import Callback, LightningModule, Trainer  # noqa: E402
from lightning.pytorch.trainer.states import TrainerFn  # noqa: E402

__all__ = ["CurvetuneCallback", "TrialDiverged"]


class TrialDiverged(ValueError):
    """The monitored metric came back NaN or infinite: ``trainer.fit`` raises this, and the
    loop ends the trial with ``study.tell(trial, diverged=True, error=str(exc))``."""


class CurvetuneCallback(Callback):
    """Report ``monitor`` after each epoch's validation to an ask/tell ``trial``, and stop
    the trainer when ``trial.should_stop()``. ``monitor`` is the key the module logs with
    ``self.log`` in ``validation_step``; it must be the study's metric (the default)."""

    def __init__(self, trial: TrialHandle, monitor: str | None = None) -> None:
        super().__init__()
        monitor = trial.metric if monitor is None else monitor
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"CurvetuneCallback: monitor must be a metric name, got {monitor!r}")
        if monitor != trial.metric:  # the study would get no values
            raise ValueError(
                f"CurvetuneCallback: monitor {monitor!r} is not the study's metric "
                f"{trial.metric!r}; log and monitor {trial.metric!r}"
            )
        self.trial = trial
        self.monitor = monitor
        self._pending: tuple[int, float] | None = None  # (step, value) not yet reported

    # ------------------------------------------------------------------ Lightning hooks

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.world_size > 1:
            raise RuntimeError(
                f"CurvetuneCallback: trial {self.trial.id} is trained by {trainer.world_size} "
                "processes; a curvetune trial reports from the one process that asked it "
                "(train it on one device)"
            )
        max_epochs, max_steps = trainer.max_epochs, self.trial.max_steps
        if max_epochs is not None and max_epochs > max_steps:
            raise ValueError(
                f"CurvetuneCallback: the trainer's max_epochs = {max_epochs} exceeds the "
                f"study's max_steps = {max_steps} (a step is an epoch); pass "
                f"Trainer(max_epochs={max_steps})"
            )
        self._pending = None
        if self.trial.should_stop():  # decided before any training (a scheduler may)
            trainer.should_stop = True

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        metrics = trainer.callback_metrics
        if self.monitor not in metrics:
            logged = ", ".join(sorted(metrics)) or "none"
            raise ValueError(
                f"CurvetuneCallback: metric {self.monitor!r} was not logged in validation "
                f"(logged: {logged}); self.log({self.monitor!r}, ...) in validation_step, "
                "or pass monitor= one of those"
            )
        step, value = trainer.current_epoch + 1, _number(self.monitor, metrics[self.monitor])
        if not math.isfinite(value):
            raise TrialDiverged(
                f"trial {self.trial.id} diverged: {self.monitor} = {value} in epoch {step}"
            )
        self._pending = (step, value)
        if trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            self._flush(trainer)  # the usual case: the epoch's own validation ends it

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._flush(trainer)  # an epoch whose last validation ran before its last batch

    # ------------------------------------------------------------------ helpers

    def _flush(self, trainer: Trainer) -> None:
        """Report the pending value; stop the trainer once the trial has its decision."""
        if self._pending is not None and not self.trial.should_stop():
            step, value = self._pending
            self.trial.report(step, **{self.monitor: value})
        self._pending = None
        if self.trial.should_stop():
            trainer.should_stop = True

    def __repr__(self) -> str:
        return f"CurvetuneCallback(trial={self.trial.id}, monitor={self.monitor!r})"


def _number(name: str, value: Any) -> float:
    """A logged metric (a one-element tensor or a number) as a float."""
    try:
        number = float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"CurvetuneCallback: metric {name!r} = {value!r} is not a single number"
        ) from None
    return number
