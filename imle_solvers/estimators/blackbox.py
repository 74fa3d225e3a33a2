"""Differentiation of black-box combinatorial solvers: :class:`Blackbox`.

Vlastelica, Paulus, Musil, Martius, Rolínek. Differentiation of Blackbox
Combinatorial Solvers. ICLR 2020 (arXiv 1912.02175).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from ._common import NegativeCosts, OracleCall, check_number, check_theta

__all__ = ["Blackbox"]


class _BlackboxFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, theta, call: OracleCall, lambda_: float, *data_values):
        z = call.solve_input(theta.unsqueeze(0), 1)  # (1, *batch, *event)
        ctx.save_for_backward(theta, z)
        ctx.call, ctx.lambda_, ctx.num_data = call, lambda_, len(data_values)
        return z[0]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        nones = (None,) * (2 + ctx.num_data)
        if not ctx.needs_input_grad[0]:
            return (None, *nones)
        theta, z = ctx.saved_tensors
        call = ctx.call
        if call.sign > 0:  # scores: theta' = theta - lambda g
            target = torch.add(theta, grad_output, alpha=-ctx.lambda_)
        else:  # costs: w' = w + lambda g
            target = torch.add(theta, grad_output, alpha=ctx.lambda_)
        target_z = call.solve_input(target.unsqueeze(0), 1, fresh=True)  # (1, *batch, *event)
        if call.sign > 0:
            grad_theta = (z[0] - target_z[0]) / ctx.lambda_  # (MAP(theta) - MAP(theta')) / lambda
        else:
            grad_theta = (target_z[0] - z[0]) / ctx.lambda_  # (MAP(w') - MAP(w)) / lambda
        return (grad_theta.to(theta.dtype), *nones)


class Blackbox(nn.Module):
    """The gradient of Vlastelica et al. (2020) for a MAP oracle.

    For a min-sense oracle on costs ``w`` (the paper's setting):

    * forward: ``y = MAP(w)``;
    * backward, with ``g = dL/dy``: ``w' = w + lambda_ g`` and
      ``dL/dw = (MAP(w') - MAP(w)) / lambda_`` — the gradient of a piecewise
      linear interpolation of ``L(MAP(w))``.

    For a max-sense oracle on scores ``theta`` the same rule on ``w = -theta``
    gives ``theta' = theta - lambda_ g`` and
    ``dL/dtheta = (MAP(theta) - MAP(theta')) / lambda_``. It equals
    :class:`~imle_solvers.IMLE` without noise and with
    ``PerturbedTarget(lambda_, alpha=1)``.

    Negative costs for ``nonnegative`` oracles (Dijkstra): the forward call
    solves the model's own costs ``w``; where they are negative, ``negative=``
    says what happens — ``"warn"`` (default: warn once per layer with the share
    of negative entries and the remedy, then clamp at zero), ``"raise"`` or
    ``"clamp"`` (silently). The shifted costs ``w + lambda_ g`` of the backward
    call are clamped at zero in every mode (the shift may push a few below
    zero).

    Args:
        oracle: any :class:`~imle_solvers.Oracle`.
        lambda_: the interpolation step (``> 0``).
        negative: ``"warn"`` (default), ``"raise"`` or ``"clamp"``: what to
            do when ``theta`` itself has negative entries for a
            ``nonnegative`` oracle (see :class:`~imle_solvers.IMLE`).

    Example:
        >>> import torch
        >>> from imle_solvers import Blackbox, get_oracle
        >>> theta = torch.tensor([3.0, 1.0, 2.0], requires_grad=True)
        >>> z = Blackbox(get_oracle("onehot"), lambda_=5.0)(theta)
        >>> z.detach()
        tensor([1., 0., 0.])
        >>> (z * torch.tensor([1.0, 0.0, 0.0])).sum().backward()  # penalise the chosen item
        >>> theta.grad
        tensor([ 0.2000,  0.0000, -0.2000])
    """

    def __init__(self, oracle: Any, lambda_: float = 10.0, *, negative: str = "warn"):
        super().__init__()
        OracleCall("Blackbox", oracle, {})
        self.oracle = oracle
        self.lambda_ = check_number("Blackbox", "lambda_", lambda_, positive=True)
        self._negative = NegativeCosts("Blackbox", negative)  # once-per-layer warning state

    def forward(self, theta: torch.Tensor, **instance_data: Any) -> torch.Tensor:
        """``MAP(theta)`` of shape ``(*batch, *event)``."""
        call = OracleCall("Blackbox", self.oracle, instance_data)
        check_theta("Blackbox", theta, call.event_ndim)
        self._negative.check(theta, call)
        return _BlackboxFunction.apply(theta, call, self.lambda_, *instance_data.values())

    def extra_repr(self) -> str:
        return f"oracle={self.oracle!r}, lambda_={self.lambda_}{self._negative.repr_suffix()}"
