"""The SPO+ loss of Elmachtoub and Grigas: :class:`SPOPlusLoss`.

Elmachtoub, Grigas. Smart "Predict, then Optimize". Management Science 68(1),
2022 (arXiv 1710.08005).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from ..estimators._common import OracleCall
from ._common import check_loss_reduction, reduce, supervision

__all__ = ["SPOPlusLoss"]


class _SPOPlusFunction(torch.autograd.Function):
    """The loss values computed without a graph; backward ``grad_output * subgradient``."""

    @staticmethod
    def forward(ctx, predicted, loss, subgradient):
        ctx.save_for_backward(subgradient)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (subgradient,) = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None
        shape = grad_output.shape + (1,) * (subgradient.dim() - grad_output.dim())
        return grad_output.reshape(shape) * subgradient, None, None


class SPOPlusLoss(nn.Module):
    """The SPO+ loss: a convex upper bound of the regret, trained on true costs.

    For a min-sense oracle (costs; ``z*(c)`` the optimal solution, ``z*`` its
    objective) and predicted costs ``ĉ``:

    .. math::

        \\ell_{SPO+}(\\hat c, c) = \\max_{z}\\,\\langle c - 2\\hat c, z\\rangle
        + 2\\langle \\hat c, z^*(c)\\rangle - z^*
        = -\\langle 2\\hat c - c, \\tilde z\\rangle + 2\\langle \\hat c, z^*(c)\\rangle - z^*,

    with ``z~ = argmin_z <2ĉ - c, z>`` (one oracle call), and its
    subgradient ``2 (z*(c) - z~)``. For a max-sense oracle (values) the signs
    flip: ``ℓ = <2ĉ - c, z~> - 2<ĉ, z*(c)> + z*`` with ``z~ = argmax``,
    subgradient ``2 (z~ - z*(c))``. ``ℓ >= 0``, and ``ℓ(c, c) = 0``.

    ``2ĉ - c`` is passed to the oracle as it is — never clamped, since a
    clamped cost vector has other minimisers: an oracle that refuses negative
    costs (Dijkstra) raises when ``2ĉ - c`` has a negative entry; use one
    that accepts them (a DAG shortest path, an LP/ILP).

    Call as ``loss(predicted_costs, true_costs, *, true_solutions=None,
    true_objectives=None, **instance_data)`` (see :mod:`imle_solvers.losses`);
    one oracle call per step, two when the true solutions must be computed.

    Args:
        oracle: any :class:`~imle_solvers.Oracle` (or a
            :class:`~imle_solvers.CachedOracle`, PyEPO's ``solve_ratio``).
        reduction: ``"mean"`` (over the batch, default), ``"sum"`` or ``"none"``.

    Example:
        >>> import torch
        >>> from imle_solvers import SPOPlusLoss, get_oracle
        >>> loss_fn = SPOPlusLoss(get_oracle("onehot"))  # max sense: pick the most valuable item
        >>> true = torch.tensor([[3.0, 1.0, 2.0]])
        >>> predicted = torch.tensor([[1.0, 2.0, 0.0]], requires_grad=True)
        >>> loss = loss_fn(predicted, true)  # z~ = argmax(2ĉ - c) = item 1; <1, 1> - 2<ĉ, e0> + 3
        >>> loss.item()
        4.0
        >>> loss.backward()
        >>> predicted.grad  # 2 (z~ - z*)
        tensor([[-2.,  2.,  0.]])
    """

    def __init__(self, oracle: Any, *, reduction: str = "mean"):
        super().__init__()
        OracleCall("SPOPlusLoss", oracle, {})  # the oracle's sense, early
        self.oracle = oracle
        self.reduction = check_loss_reduction("SPOPlusLoss", reduction)

    def forward(self, predicted_costs: torch.Tensor, true_costs: Any, *, true_solutions: Any = None,
                true_objectives: Any = None, **instance_data: Any) -> torch.Tensor:
        """The loss: a scalar, or ``(*batch,)`` with ``reduction="none"``."""
        s = supervision("SPOPlusLoss", self.oracle, predicted_costs, true_costs, true_solutions, true_objectives,
                        instance_data, clamp=False)
        predicted = predicted_costs.detach()
        shifted = 2.0 * predicted - s.true_costs  # 2ĉ - c
        z_tilde = s.call.solve_input(shifted.unsqueeze(0), 1)[0].to(predicted.dtype)  # (*batch, *event)
        sign = s.call.sign  # +1 max, -1 min
        z_star = s.solutions
        value = s.dot(shifted, z_tilde) - 2.0 * s.dot(predicted, z_star)
        # loss sign * (<2ĉ - c, z~> - 2<ĉ, z*> + z*), subgradient sign * 2 (z~ - z*)
        loss = _SPOPlusFunction.apply(predicted_costs, sign * (value + s.objectives), (2.0 * sign) * (z_tilde - z_star))
        return reduce(loss, self.reduction)

    def extra_repr(self) -> str:
        return f"oracle={self.oracle!r}, reduction={self.reduction!r}"
