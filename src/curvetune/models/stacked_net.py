"""A population's networks as stacked tensors: one forward and one backward for all members.

Two forms with one interface (``StackedNet``):

* ``StackedMLP``: the MLP written as batched matrix products (``torch.baddbmm``) over
  weights kept in the ``[P, in, out]`` layout. In that layout the gradient of every weight
  comes out of the backward contiguous, so the optimiser's elementwise steps stream through
  memory; through ``vmap`` over ``nn.Linear`` the weight gradients came out transposed and
  the steps on them took a quarter of each iteration (the reference MLP, 16 members, one
  CPU thread, an epoch of 4,000 digits: 1.38 s through vmap, 0.95 s written out).
* ``VmappedNet``: any network (the CNN) through ``torch.func.functional_call`` under
  ``torch.func.vmap``, in the module's own layout.

Members enter and leave in the module's own layout (``nn.Module.state_dict`` tensors):
``flip(k, tensor)`` turns leaf ``k``'s per-member tensor (a weight, or the optimiser's
state for it) between the two, and is its own inverse.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap


class StackedNet(Protocol):
    """Stacked parameters (``leaves``, each ``[P, ...]``, requiring grad) and the batched
    computations on them."""

    names: list[str]  # the state_dict name of each leaf
    leaves: list[Tensor]

    def losses(self, x: Tensor, y: Tensor) -> Tensor:
        """Each member's mean cross-entropy on its own batch: ``x [P, B, ...]``, ``y [P, B]``
        -> ``[P]``."""
        ...

    def logits(self, x: Tensor) -> Tensor:
        """Every member on the same inputs ``x [N, ...]`` -> ``[P, N, classes]``."""
        ...

    def flip(self, k: int, tensor: Tensor) -> Tensor:
        """Leaf ``k``'s per-member tensor between the module's layout and the stacked one."""
        ...

    def select(self, index: Tensor) -> None:
        """Keep only the members at ``index`` (new leaves)."""
        ...


def stacked_net(models: Sequence[nn.Module], base: nn.Module) -> StackedNet:
    """The fastest stacked form for these members (all built alike; ``base``: the same
    network on the meta device)."""
    if StackedMLP.fits(base):
        return StackedMLP(models)
    return VmappedNet(models, base)


def _leaves(tensors: Sequence[Tensor]) -> list[Tensor]:
    return [t.detach().requires_grad_() for t in tensors]


class StackedMLP:
    """``Flatten`` then ``Linear``/``ReLU`` pairs and a last ``Linear``: the MLP of
    ``networks.network``, as ``baddbmm`` over ``[P, in, out]`` weights."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        states = [dict(model.named_parameters()) for model in models]
        self.names = list(states[0])
        self._weights = {k for k, name in enumerate(self.names) if name.endswith("weight")}
        self.leaves = _leaves(
            [
                torch.stack([self.flip(k, state[name].detach()) for state in states])
                for k, name in enumerate(self.names)
            ]
        )

    @staticmethod
    def fits(base: nn.Module) -> bool:
        layers = list(base.children()) if isinstance(base, nn.Sequential) else []
        if not layers or not isinstance(layers[0], nn.Flatten):
            return False
        kinds = [type(layer) for layer in layers[1:]]
        expected = [nn.Linear, nn.ReLU] * (len(kinds) // 2) + [nn.Linear]
        linears = [layer for layer in layers[1:] if isinstance(layer, nn.Linear)]
        return kinds == expected and all(layer.bias is not None for layer in linears)

    def flip(self, k: int, tensor: Tensor) -> Tensor:
        return tensor.t().contiguous() if k in self._weights else tensor

    def _forward(self, h: Tensor) -> Tensor:
        last = len(self.leaves) // 2 - 1
        for layer in range(last + 1):
            weight, bias = self.leaves[2 * layer], self.leaves[2 * layer + 1]
            h = torch.baddbmm(bias.unsqueeze(1), h, weight)
            if layer < last:
                h = F.relu(h)
        return h

    def losses(self, x: Tensor, y: Tensor) -> Tensor:
        members, batch = y.shape
        logits = self._forward(x.reshape(members, batch, -1))
        flat = F.cross_entropy(logits.reshape(members * batch, -1), y.reshape(-1), reduction="none")
        return flat.view(members, batch).mean(dim=1)

    def logits(self, x: Tensor) -> Tensor:
        members = self.leaves[0].shape[0]
        return self._forward(x.reshape(1, x.shape[0], -1).expand(members, -1, -1))

    @torch.no_grad()
    def accumulate_gradients(self, x: Tensor, y: Tensor, into: Sequence[Tensor]) -> Tensor:
        """Each member's mean cross-entropy on its batch (``[P]``), with the gradient of
        every leaf *added* to ``into`` (one tensor per leaf, in the stacked layout): the
        backward written out, each weight's gradient accumulated by the matrix product that
        computes it (``baddbmm_``), so an SGD step never writes or reads a separate gradient
        (``StackedSGD.begin``/``finish``). The gradients are autograd's, summed in another
        order."""
        members, batch = y.shape
        layers = len(self.leaves) // 2
        inputs = [x.reshape(members, batch, -1)]
        for layer in range(layers):  # the forward, keeping every layer's input
            weight, bias = self.leaves[2 * layer], self.leaves[2 * layer + 1]
            h = torch.baddbmm(bias.unsqueeze(1), inputs[-1], weight)
            inputs.append(h.relu_() if layer < layers - 1 else h)
        log_p = inputs.pop().log_softmax(dim=2)
        target = y.unsqueeze(2)
        losses = -log_p.gather(2, target).mean(dim=(1, 2))
        grad = log_p.exp_().scatter_add_(2, target, torch.full_like(target, -1, dtype=log_p.dtype))
        grad.mul_(1.0 / batch)  # d(mean loss) / d(logits)
        for layer in reversed(range(layers)):
            h = inputs[layer]
            into[2 * layer].baddbmm_(h.transpose(1, 2), grad)
            into[2 * layer + 1].add_(grad.sum(dim=1))
            if layer:
                grad = torch.bmm(grad, self.leaves[2 * layer].transpose(1, 2)).mul_(h > 0)
        return losses

    def select(self, index: Tensor) -> None:
        self.leaves = _leaves([t.index_select(0, index) for t in self.leaves])


class VmappedNet:
    """Any network, through ``functional_call`` under ``vmap`` (the module's own layout)."""

    def __init__(self, models: Sequence[nn.Module], base: nn.Module) -> None:
        stacked, _ = stack_module_state(list(models))  # type: ignore[arg-type]
        self.names = list(stacked)
        self.leaves = _leaves([stacked[name] for name in self.names])

        def logits(params: dict[str, Tensor], x: Tensor) -> Tensor:
            return functional_call(base, params, (x,))

        def loss(params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
            return F.cross_entropy(logits(params, x), y)

        self._losses = vmap(loss)
        self._logits = vmap(logits, in_dims=(0, None))

    def _params(self) -> dict[str, Tensor]:
        return dict(zip(self.names, self.leaves, strict=True))

    def flip(self, k: int, tensor: Tensor) -> Tensor:
        return tensor

    def losses(self, x: Tensor, y: Tensor) -> Tensor:
        return self._losses(self._params(), x, y)

    def logits(self, x: Tensor) -> Tensor:
        return self._logits(self._params(), x)

    def select(self, index: Tensor) -> None:
        self.leaves = _leaves([t.index_select(0, index) for t in self.leaves])
