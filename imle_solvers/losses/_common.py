"""What every cost-supervised loss shares: argument checks, the true
solutions and objectives when the caller has none, reductions.

The calling convention of :mod:`imle_solvers.losses`::

    loss(predicted_costs, true_costs, *, true_solutions=None, true_objectives=None, **instance_data)

``predicted_costs`` and ``true_costs`` are ``(*batch, *event)`` in the
oracle's own terms (costs for a min-sense oracle, scores/values for a
max-sense one); ``true_solutions`` ``(*batch, *event)`` and
``true_objectives`` ``(*batch,)`` are computed with one oracle call when not
given.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..errors import InvalidInputError
from ..estimators._common import OracleCall, check_reduction, check_theta

__all__ = ["Supervision", "supervision", "reduce", "check_loss_reduction", "pool_oracle", "pool_scores"]


def check_loss_reduction(owner: str, reduction: Any) -> str:
    return check_reduction(owner, reduction, ("mean", "sum", "none"))


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """``loss`` ``(*batch,)`` reduced: ``"mean"``, ``"sum"`` or ``"none"``."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


class Supervision:
    """One call's checked inputs: the predicted costs, the true costs, solutions
    and objectives (computed when missing), and the oracle call."""

    __slots__ = ("call", "predicted", "true_costs", "event_dims", "_solutions", "_objectives")

    def __init__(self, call, predicted, true_costs, solutions, objectives):
        self.call = call
        self.predicted = predicted
        self.true_costs = true_costs
        self.event_dims = call.event_dims(predicted)
        self._solutions = solutions
        self._objectives = objectives

    @property
    def solutions(self) -> torch.Tensor:
        """The true optimal solutions ``(*batch, *event)`` (one oracle call the first time)."""
        if self._solutions is None:
            self._solutions = self.call.solve_input(self.true_costs.unsqueeze(0), 1)[0].to(self.predicted.dtype)
        return self._solutions

    @property
    def objectives(self) -> torch.Tensor:
        """The optimal true objectives ``(*batch,)``: given, or ``<c, z*(c)>``."""
        if self._objectives is None:
            self._objectives = (self.true_costs * self.solutions).sum(dim=self.event_dims)
        return self._objectives

    def dot(self, costs: torch.Tensor, solutions: torch.Tensor) -> torch.Tensor:
        """``<costs, solutions>`` per instance ``(*batch,)``."""
        return (costs * solutions).sum(dim=self.event_dims)


def supervision(owner: str, oracle: Any, predicted_costs, true_costs, true_solutions, true_objectives,
                instance_data, *, clamp: bool | None = None) -> Supervision:
    """Check a loss call's arguments and bundle them (see the module docstring)."""
    call = OracleCall(owner, oracle, instance_data, clamp=clamp)
    check_theta(owner, predicted_costs, call.event_ndim)
    shape = tuple(predicted_costs.shape)
    like = {"device": predicted_costs.device, "dtype": predicted_costs.dtype}
    true_costs = torch.as_tensor(true_costs, **like).detach()
    if tuple(true_costs.shape) != shape:
        raise InvalidInputError(f"{owner}: expected true_costs of the predicted costs' shape {shape}, but found "
                                f"{tuple(true_costs.shape)}")
    if true_solutions is not None:
        true_solutions = torch.as_tensor(true_solutions, **like).detach()
        if tuple(true_solutions.shape) != shape:
            raise InvalidInputError(f"{owner}: expected true_solutions of the predicted costs' shape {shape}, but "
                                    f"found {tuple(true_solutions.shape)}")
    if true_objectives is not None:
        true_objectives = torch.as_tensor(true_objectives, **like).detach()
        batch = shape[: len(shape) - call.event_ndim]
        if true_objectives.numel() != math.prod(batch):
            raise InvalidInputError(f"{owner}: expected true_objectives of the batch shape {batch}, but found "
                                    f"{tuple(true_objectives.shape)}")
        true_objectives = true_objectives.reshape(batch)
    return Supervision(call, predicted_costs, true_costs, true_solutions, true_objectives)


def pool_oracle(owner: str, oracle: Any, solve_ratio: float, solutions: Any, generator: Any) -> Any:
    """``oracle`` if it is a :class:`~imle_solvers.CachedOracle` (its pool is
    shared with whoever else uses it), else a new one around it."""
    from ..caching import CachedOracle

    if isinstance(oracle, CachedOracle):
        if solutions is not None:
            oracle.add(solutions)
        return oracle
    OracleCall(owner, oracle, {})
    return CachedOracle(oracle, solve_ratio, solutions=solutions, generator=generator)


def pool_scores(s: Supervision, pool: torch.Tensor, costs: torch.Tensor) -> torch.Tensor:
    """``sign * <costs_i, p>`` for every instance and pool entry ``(*batch, m)``:
    higher is better in either sense."""
    flat = costs.reshape(*costs.shape[: costs.dim() - len(s.event_dims)], -1)  # (*batch, d)
    return s.call.sign * (flat @ pool.reshape(pool.shape[0], -1).T)


class _PoolLoss(nn.Module):
    """What the pool losses (:mod:`.contrastive`, :mod:`.ranking`) share: the
    :class:`~imle_solvers.CachedOracle` built or shared at construction, and a
    :meth:`forward` that checks the call, refreshes the pool and reduces the
    per-instance loss of the subclass's ``_loss(s, pool, predicted_costs)``
    (``s`` the :class:`Supervision`, ``pool`` ``(m, *event)``; returns
    ``(*batch,)``)."""

    owner = "pool loss"

    def __init__(self, oracle: Any, solve_ratio: float = 1.0, *, solutions: Any = None, generator: Any = None,
                 reduction: str = "mean"):
        super().__init__()
        self.cache = pool_oracle(self.owner, oracle, solve_ratio, solutions, generator)
        self.oracle = self.cache
        self.reduction = check_loss_reduction(self.owner, reduction)

    def forward(self, predicted_costs: torch.Tensor, true_costs: Any, *, true_solutions: Any = None,
                true_objectives: Any = None, **instance_data: Any) -> torch.Tensor:
        """The loss: a scalar, or ``(*batch,)`` with ``reduction="none"``."""
        if instance_data:
            raise InvalidInputError(
                f"{self.owner}: unexpected per-call instance data {sorted(instance_data)}; the pool holds solutions "
                "of one fixed feasible set, so give the instance data once, to CachedOracle(oracle, ..., **data)"
            )
        s = supervision(self.owner, self.cache.oracle, predicted_costs, true_costs, true_solutions, true_objectives,
                        {**self.cache.fixed_data, **instance_data})
        pool = self.cache.refresh(predicted_costs.detach())  # (m, *event) on the costs' device
        return reduce(self._loss(s, pool, predicted_costs), self.reduction)

    def _loss(self, s: Supervision, pool: torch.Tensor, predicted_costs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"cache={self.cache!r}, reduction={self.reduction!r}"
