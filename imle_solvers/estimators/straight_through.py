"""The straight-through estimator: :class:`StraightThrough`."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from ._common import NegativeCosts, OracleCall, check_theta

__all__ = ["StraightThrough", "NegativeIdentity"]


class _StraightThroughFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, theta, call: OracleCall, *data_values):
        ctx.sign, ctx.num_data = call.sign, len(data_values)
        return call.solve_input(theta.unsqueeze(0), 1)[0]

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        grad = None
        if ctx.needs_input_grad[0]:
            grad = grad_output if ctx.sign > 0 else -grad_output
        return (grad, None, *([None] * ctx.num_data))


class StraightThrough(nn.Module):
    """Forward ``MAP(theta)``, backward the identity.

    For a max-sense oracle ``dL/dtheta = dL/dz``; for a min-sense oracle on
    costs ``w``, ``dL/dw = -dL/dz`` (raising a cost lowers its entry in the
    solution). A biased baseline.

    For a ``nonnegative`` oracle (Dijkstra), negative entries of ``theta``
    are handled as ``negative=`` says: ``"warn"`` (default: warn once per
    layer, then clamp at zero), ``"raise"`` or ``"clamp"`` (silently).

    Args:
        oracle: any :class:`~imle_solvers.Oracle`.
        negative: ``"warn"`` (default), ``"raise"`` or ``"clamp"``: what to
            do when ``theta`` itself has negative entries for a
            ``nonnegative`` oracle (see :class:`~imle_solvers.IMLE`).

    Example:
        >>> import torch
        >>> from imle_solvers import StraightThrough, get_oracle
        >>> theta = torch.tensor([0.5, 1.5], requires_grad=True)
        >>> z = StraightThrough(get_oracle("onehot"))(theta)
        >>> (z * torch.tensor([2.0, 3.0])).sum().backward()
        >>> theta.grad
        tensor([2., 3.])
    """

    def __init__(self, oracle: Any, *, negative: str = "warn"):
        super().__init__()
        OracleCall("StraightThrough", oracle, {})
        self.oracle = oracle
        self._negative = NegativeCosts("StraightThrough", negative)  # once-per-layer warning state

    def forward(self, theta: torch.Tensor, **instance_data: Any) -> torch.Tensor:
        """``MAP(theta)`` of shape ``(*batch, *event)``."""
        call = OracleCall("StraightThrough", self.oracle, instance_data)
        check_theta("StraightThrough", theta, call.event_ndim)
        self._negative.check(theta, call)
        return _StraightThroughFunction.apply(theta, call, *instance_data.values())

    def extra_repr(self) -> str:
        return f"oracle={self.oracle!r}{self._negative.repr_suffix()}"



class NegativeIdentity(StraightThrough):
    """Negative identity backpropagation (Sahoo et al. 2023): forward
    ``MAP(w)``, backward ``dL/dw = -dL/dz`` for costs ``w`` of a min-sense
    oracle (``+dL/dz`` for scores of a max-sense one) — no solver call on the
    backward pass, no hyperparameter.

    The same rule as :class:`StraightThrough` under the name PyEPO gives it
    (``pyepo.func.negativeIdentity``): for costs the Jacobian of the solver is
    taken to be ``-I``. Train it the PyEPO way with
    ``SolutionLoss(NegativeIdentity(oracle), distance="regret")``.

    Sahoo, Paulus, Vlastelica, Musil, Kuleshov, Martius. Backpropagation through
    Combinatorial Algorithms: Identity with Projection Works. ICLR 2023
    (arXiv 2205.15213).

    Example:
        >>> import torch
        >>> from imle_solvers import NegativeIdentity, get_oracle
        >>> import networkx as nx
        >>> graph = nx.DiGraph([(0, 1), (1, 2), (0, 2)])  # edge order (0, 1), (0, 2), (1, 2)
        >>> layer = NegativeIdentity(get_oracle("shortest_path", graph=graph, source=0, target=2))
        >>> costs = torch.tensor([1.0, 3.0, 1.0], requires_grad=True)
        >>> z = layer(costs)  # 0 -> 1 -> 2 costs 2, the direct edge 3
        >>> z.detach()
        tensor([1., 0., 1.])
        >>> (z * torch.tensor([0.0, 0.0, 5.0])).sum().backward()  # the loss dislikes edge (1, 2)
        >>> costs.grad  # descending it raises that edge's cost
        tensor([-0., -0., -5.])
    """
