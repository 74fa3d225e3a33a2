"""Solver layers trained the PyEPO way, against the true optimal solution: :class:`SolutionLoss`."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import InvalidInputError
from ._common import check_loss_reduction, reduce, supervision

__all__ = ["SolutionLoss"]

_DISTANCES = ("l1", "squared", "regret")


class SolutionLoss(nn.Module):
    """A solver layer plus a loss against the true solution, in the
    cost-supervised calling convention.

    PyEPO trains its solver layers with a task loss against the true optimal
    solution ``z*(c)``: DPO with a squared or L1 error, I-MLE and AIMLE with
    L1, DBB and NID with the regret of the predicted decision. With ``ŷ =
    layer(ĉ)`` (``layer`` is :class:`~imle_solvers.PerturbedOptimizer`,
    :class:`~imle_solvers.IMLE`, :class:`~imle_solvers.Blackbox`,
    :class:`~imle_solvers.NegativeIdentity`, ... with ``reduction="mean"``),
    the per-instance loss is

    * ``"l1"``: ``mean_j |ŷ_j - z*_j|`` (``torch.nn.L1Loss`` once averaged
      over the batch);
    * ``"squared"``: ``mean_j (ŷ_j - z*_j)^2`` (``torch.nn.MSELoss``);
    * ``"regret"``: ``<c, ŷ> - z*`` for a min-sense oracle, ``z* - <c, ŷ>``
      for a max-sense one (PyEPO's DBB/NID loss; no true solutions needed,
      only objectives).

    ``layer`` can also be a loss that takes the target itself —
    :class:`~imle_solvers.FenchelYoungLoss` (PyEPO's PFYL) — which is
    called as ``layer(ĉ, z*(c))`` and reduces as it was built to (pass
    ``reduction`` to it; ``distance`` does not apply).

    Call as ``loss(predicted_costs, true_costs, *, true_solutions=None,
    true_objectives=None, **instance_data)``; what is missing is computed with
    one oracle call.

    Args:
        layer: a solver layer with an ``oracle`` attribute (or a
            :class:`~imle_solvers.FenchelYoungLoss`).
        distance: ``"l1"`` (default), ``"squared"`` or ``"regret"``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Example:
        >>> import torch
        >>> from imle_solvers import IMLE, SolutionLoss, get_oracle
        >>> layer = IMLE(get_oracle("topk", k=1), noise=None)  # no noise: the plain solution
        >>> loss_fn = SolutionLoss(layer, distance="regret")
        >>> values = torch.tensor([[3.0, 1.0, 2.0]])  # max sense: the true values
        >>> loss_fn(torch.tensor([[0.0, 1.0, 0.5]]), values)  # picks item 1: 3 - 1
        tensor(2.)
    """

    def __init__(self, layer: Any, *, distance: str = "l1", reduction: str = "mean"):
        super().__init__()
        oracle = getattr(layer, "oracle", None)
        if oracle is None or not callable(layer):
            raise InvalidInputError(
                f"SolutionLoss: expected a solver layer with an oracle attribute (IMLE, PerturbedOptimizer, "
                f"Blackbox, NegativeIdentity, FenchelYoungLoss), but found {type(layer).__name__}"
            )
        if distance not in _DISTANCES:
            raise InvalidInputError(f"SolutionLoss: expected distance in {_DISTANCES}, but found {distance!r}")
        self.layer = layer
        self.distance = distance
        self.reduction = check_loss_reduction("SolutionLoss", reduction)
        self.takes_target = bool(getattr(layer, "takes_target", False))

    def forward(self, predicted_costs: torch.Tensor, true_costs: Any, *, true_solutions: Any = None,
                true_objectives: Any = None, **instance_data: Any) -> torch.Tensor:
        """The loss: a scalar, or ``(*batch,)`` with ``reduction="none"``."""
        s = supervision("SolutionLoss", self.layer.oracle, predicted_costs, true_costs, true_solutions,
                        true_objectives, instance_data)
        if self.takes_target:
            return self.layer(predicted_costs, s.solutions, **instance_data)
        y = self.layer(predicted_costs, **instance_data)
        if y.shape != predicted_costs.shape:
            raise InvalidInputError(
                f"SolutionLoss: the layer returned shape {tuple(y.shape)} for costs of shape "
                f"{tuple(predicted_costs.shape)}; build it with reduction='mean'"
            )
        if self.distance == "regret":
            loss = s.call.sign * (s.objectives - s.dot(s.true_costs, y))
        elif self.distance == "l1":
            loss = (y - s.solutions).abs().mean(dim=s.event_dims)
        else:
            loss = (y - s.solutions).square().mean(dim=s.event_dims)
        return reduce(loss, self.reduction)

    def extra_repr(self) -> str:
        return f"distance={self.distance!r}, reduction={self.reduction!r}"
