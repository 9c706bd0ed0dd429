"""SGD and Adam steps on stacked parameters: one tensor per layer holding every member's copy.

The batched MNIST trainable (``curvetune.models.population``) keeps a population's weights
as tensors of shape ``[P, *shape]``; these classes update them with each member's own
hyperparameters, reproducing ``torch.optim.SGD`` and ``torch.optim.Adam`` (defaults betas
(0.9, 0.999), eps 1e-8, L2 weight decay added to the gradient) formula for formula, so a
member's curve agrees with its one-member run within float tolerance. Where all members
share a value (the momentum, the weight decay, the rate) the step uses torch's own scalar
form of the operation, which makes it agree bit for bit on the CPU.

Each optimiser reads a member's state out of a loaded ``torch.optim`` optimiser
(``torch_state``) and writes it back into a fresh one (``write_member``), so checkpoints
keep the one-member format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults

Flip = Callable[[int, Tensor], Tensor]
"""Parameter ``k``'s per-member tensor between the module's layout and the stacked one
(``stacked_net.StackedNet.flip``; its own inverse)."""


def _same(k: int, tensor: Tensor) -> Tensor:
    return tensor


def member_views(values: Sequence[float], like: Sequence[Tensor]) -> tuple[float | None, list]:
    """``values`` (one per member) as ``(common, views)``: the common value when all are
    equal, else None, and one ``[P, 1, ...]`` float32 view per tensor of ``like``."""
    common = float(values[0]) if all(v == values[0] for v in values) else None
    if common is not None or not like:
        return common, []
    column = torch.tensor(values, dtype=like[0].dtype, device=like[0].device)
    return None, [column.view(-1, *([1] * (t.dim() - 1))) for t in like]


def _with_decay(grad: Tensor, param: Tensor, decay: float | None, view: Tensor | None) -> Tensor:
    """``grad + weight_decay * param`` (torch's ``grad.add(param, alpha=wd)``)."""
    if decay is not None:
        return grad.add(param, alpha=decay) if decay != 0 else grad
    return torch.addcmul(grad, param, view)  # type: ignore[arg-type]


class StackedSGD:
    """``torch.optim.SGD`` (momentum, weight decay, no dampening or Nesterov) per member."""

    def __init__(
        self,
        params: Sequence[Tensor],
        momentum: Sequence[float],
        weight_decay: Sequence[float],
        buffers: Sequence[Sequence[Tensor | None]],  # [member][param]: its momentum buffer
    ) -> None:
        self.momentum = list(momentum)
        self.weight_decay = list(weight_decay)
        # A member without a buffer (a first step) gets zeros: momentum * 0 + d_p == d_p.
        self.has_buffer = [all(b is not None for b in member) for member in buffers]
        self.buffers: list[Tensor] | None = None
        if any(m != 0 for m in self.momentum):
            self.buffers = [
                torch.stack([torch.zeros_like(p[0]) if b[k] is None else b[k] for b in buffers])
                for k, p in enumerate(params)
            ]
        # torch leaves the buffer of a member whose momentum is now 0 as it was loaded.
        self.stale = [
            list(b) if m == 0 else None for b, m in zip(buffers, self.momentum, strict=True)
        ]
        self._views(params)
        self._neg_lr: tuple[float | None, list] = (None, [])
        self._stepped = False  # a step gives every member with momentum a buffer

    def _views(self, params: Sequence[Tensor]) -> None:
        self._m = member_views(self.momentum, params)
        self._wd = member_views(self.weight_decay, params)

    def set_lr(self, lrs: Sequence[float], params: Sequence[Tensor]) -> None:
        self._neg_lr = member_views([-lr for lr in lrs], params)

    @torch.no_grad()
    def step(self, params: Sequence[Tensor], grads: Sequence[Tensor]) -> None:
        (m, m_views), (wd, wd_views) = self._m, self._wd
        steps = []  # what the rate multiplies, per parameter
        for k, (param, grad) in enumerate(zip(params, grads, strict=True)):
            d_p = _with_decay(grad, param, wd, None if wd is not None else wd_views[k])
            if self.buffers is not None:
                buf = self.buffers[k]
                if m is not None:
                    buf.mul_(m).add_(d_p)
                else:
                    torch.addcmul(d_p, buf, m_views[k], out=buf)
                d_p = buf
            steps.append(d_p)
        self.finish(params, steps)

    @torch.no_grad()
    def begin(self, params: Sequence[Tensor]) -> list[Tensor]:
        """The first half of a step whose gradients are added in place by the backward
        itself (``StackedMLP.accumulate_gradients``): per parameter, ``momentum * buffer +
        weight_decay * param``, into which the gradient is then accumulated; ``finish``
        applies the rate. The same step as ``step``, summed in another order."""
        (m, m_views), (wd, wd_views) = self._m, self._wd
        into = []
        for k, param in enumerate(params):
            if self.buffers is None:
                buf = torch.zeros_like(param)
            else:
                buf = self.buffers[k]
                if m is not None:
                    buf.mul_(m)
                else:
                    buf.mul_(m_views[k])
            if wd is None:
                buf.addcmul_(param, wd_views[k])
            elif wd != 0:
                buf.add_(param, alpha=wd)
            into.append(buf)
        return into

    @torch.no_grad()
    def finish(self, params: Sequence[Tensor], into: Sequence[Tensor]) -> None:
        """The second half (also ``step``'s): ``param -= lr * buffer`` (see ``begin``)."""
        neg_lr, lr_views = self._neg_lr
        for k, (param, buf) in enumerate(zip(params, into, strict=True)):
            if neg_lr is not None:
                param.add_(buf, alpha=neg_lr)
            else:
                param.addcmul_(buf, lr_views[k])
        self._stepped = True

    def select(self, index: Tensor, members: list[int], params: Sequence[Tensor]) -> None:
        """Keep only ``members`` (``index``: the same, as a tensor on the device)."""
        self.momentum = [self.momentum[i] for i in members]
        self.weight_decay = [self.weight_decay[i] for i in members]
        self.has_buffer = [self.has_buffer[i] for i in members]
        self.stale = [self.stale[i] for i in members]
        if self.buffers is not None:
            self.buffers = [b.index_select(0, index) for b in self.buffers]
        self._views(params)

    @staticmethod
    def torch_state(
        optimizer: torch.optim.Optimizer | None, params: Sequence[Tensor], flip: Flip = _same
    ) -> list:
        """A loaded member's momentum buffers, one per parameter (None: none yet), in the
        stacked layout (``flip``)."""
        state = {} if optimizer is None else optimizer.state
        buffers = [state.get(p, {}).get("momentum_buffer") for p in params]
        return [None if b is None else flip(k, b) for k, b in enumerate(buffers)]

    def write_member(
        self,
        i: int,
        optimizer: torch.optim.Optimizer,
        params: Sequence[Tensor],
        flip: Flip = _same,
    ) -> None:
        """Put member ``i``'s state into ``optimizer`` (built over its own ``params``), back
        in the module's layout (``flip``)."""
        if self.momentum[i] == 0:
            buffers = self.stale[i] or [None] * len(params)
        elif (self.has_buffer[i] or self._stepped) and self.buffers is not None:
            buffers = [b[i] for b in self.buffers]
        else:
            buffers = [None] * len(params)
        for k, (p, buf) in enumerate(zip(params, buffers, strict=True)):
            if buf is not None:
                optimizer.state[p]["momentum_buffer"] = flip(k, buf).clone()


class StackedAdam:
    """``torch.optim.Adam`` (default betas and eps, L2 weight decay) per member; each member
    counts its own steps for the bias corrections."""

    def __init__(
        self,
        params: Sequence[Tensor],
        weight_decay: Sequence[float],
        states: Sequence[tuple[float, Sequence[Tensor | None], Sequence[Tensor | None]]],
    ) -> None:
        self.weight_decay = list(weight_decay)
        device = params[0].device
        self.steps = torch.tensor([s[0] for s in states], dtype=torch.float64, device=device)

        def stacked(which: int) -> list[Tensor]:
            return [
                torch.stack(
                    [torch.zeros_like(p[0]) if s[which][k] is None else s[which][k] for s in states]
                )
                for k, p in enumerate(params)
            ]

        self.exp_avg, self.exp_avg_sq = stacked(1), stacked(2)
        self._wd = member_views(self.weight_decay, params)
        self._lr = torch.zeros(len(states), dtype=torch.float64, device=device)

    def set_lr(self, lrs: Sequence[float], params: Sequence[Tensor]) -> None:
        self._lr = torch.tensor(lrs, dtype=torch.float64, device=self.steps.device)

    @torch.no_grad()
    def step(self, params: Sequence[Tensor], grads: Sequence[Tensor]) -> None:
        self.steps += 1
        # torch computes these per member in double precision, then uses them as floats.
        bias1 = 1 - torch.pow(BETA1, self.steps)
        bias2_sqrt = (1 - torch.pow(BETA2, self.steps)).sqrt()
        neg_step = (-(self._lr / bias1)).to(params[0].dtype)
        bias2 = bias2_sqrt.to(params[0].dtype)
        wd, wd_views = self._wd
        for k, (param, grad) in enumerate(zip(params, grads, strict=True)):
            shape = (-1, *([1] * (param.dim() - 1)))
            grad = _with_decay(grad, param, wd, None if wd is not None else wd_views[k])
            self.exp_avg[k].lerp_(grad, 1 - BETA1)
            self.exp_avg_sq[k].mul_(BETA2).addcmul_(grad, grad, value=1 - BETA2)
            denom = (self.exp_avg_sq[k].sqrt() / bias2.view(shape)).add_(EPS)
            # addcdiv_(exp_avg, denom, value=-step_size) computes (value * exp_avg) / denom.
            param.add_((self.exp_avg[k] * neg_step.view(shape)).div_(denom))

    def select(self, index: Tensor, members: list[int], params: Sequence[Tensor]) -> None:
        """Keep only ``members`` (``index``: the same, as a tensor on the device)."""
        self.weight_decay = [self.weight_decay[i] for i in members]
        self.steps = self.steps.index_select(0, index)
        self._lr = self._lr.index_select(0, index)
        self.exp_avg = [t.index_select(0, index) for t in self.exp_avg]
        self.exp_avg_sq = [t.index_select(0, index) for t in self.exp_avg_sq]
        self._wd = member_views(self.weight_decay, params)

    @staticmethod
    def torch_state(
        optimizer: torch.optim.Optimizer | None, params: Sequence[Tensor], flip: Flip = _same
    ) -> tuple:
        """A loaded member's ``(step, exp_avgs, exp_avg_sqs)`` (0 and Nones: fresh), in the
        stacked layout (``flip``)."""
        states = [{} if optimizer is None else optimizer.state.get(p, {}) for p in params]
        step = float(states[0]["step"]) if states and "step" in states[0] else 0.0

        def moments(key: str) -> list[Tensor | None]:
            return [None if key not in s else flip(k, s[key]) for k, s in enumerate(states)]

        return step, moments("exp_avg"), moments("exp_avg_sq")

    def write_member(
        self,
        i: int,
        optimizer: torch.optim.Optimizer,
        params: Sequence[Tensor],
        flip: Flip = _same,
    ) -> None:
        """Put member ``i``'s state into ``optimizer`` (built over its own ``params``), back
        in the module's layout (``flip``)."""
        step = float(self.steps[i])
        if step == 0:
            return
        for k, p in enumerate(params):
            optimizer.state[p] = {
                "step": torch.tensor(step, dtype=torch.float32),
                "exp_avg": flip(k, self.exp_avg[k][i]).clone(),
                "exp_avg_sq": flip(k, self.exp_avg_sq[k][i]).clone(),
            }
