"""Contrastive losses over a solution pool: :class:`NCELoss`, :class:`ContrastiveMAPLoss`.

Mulamba, Mandi, Diligenti, Lombardi, Bucarey, Guns. Contrastive Losses and
Solution Caching for Predict-and-Optimize. IJCAI 2021 (arXiv 2011.05354).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import InvalidInputError
from ._common import check_loss_reduction, pool_oracle, pool_scores, reduce, supervision

__all__ = ["NCELoss", "ContrastiveMAPLoss"]



class _PoolLoss(nn.Module):
    owner = "pool loss"

    def __init__(self, oracle: Any, solve_ratio: float = 1.0, *, solutions: Any = None, generator: Any = None,
                 reduction: str = "mean"):
        super().__init__()
        self.cache = pool_oracle(self.owner, oracle, solve_ratio, solutions, generator)
        self.oracle = self.cache
        self.reduction = check_loss_reduction(self.owner, reduction)

    def _inputs(self, predicted_costs, true_costs, true_solutions, true_objectives, instance_data):
        if instance_data:
            raise InvalidInputError(
                f"{self.owner}: unexpected per-call instance data {sorted(instance_data)}; the pool holds solutions "
                "of one fixed feasible set, so give the instance data once, to CachedOracle(oracle, ..., **data)"
            )
        s = supervision(self.owner, self.cache.oracle, predicted_costs, true_costs, true_solutions, true_objectives,
                        {**self.cache.fixed_data, **instance_data})
        pool = self.cache.refresh(predicted_costs.detach())  # (m, *event) on the costs' device
        return s, pool

    def extra_repr(self) -> str:
        return f"cache={self.cache!r}, reduction={self.reduction!r}"


class NCELoss(_PoolLoss):
    """Noise-contrastive estimation against a pool of solutions.

    With ``score(ĉ, z) = -<ĉ, z>`` for a min-sense oracle (``+<ĉ, z>`` for
    max sense), the true solution ``z*`` and the pool ``P`` (refreshed each
    step with probability ``solve_ratio``):

    .. math::

        \\ell(\\hat c) = \\frac{1}{|P|}\\sum_{p \\in P}
        \\big(\\mathrm{score}(\\hat c, p) - \\mathrm{score}(\\hat c, z^*)\\big),

    which for costs is ``mean_p <ĉ, z*> - <ĉ, p>`` (PyEPO's ``NCE``). The
    gradient ``±(z* - mean(P))`` needs no solver call.

    Args:
        oracle: any :class:`~imle_solvers.Oracle`, or a
            :class:`~imle_solvers.CachedOracle` whose pool is used (and shared).
        solve_ratio: probability that a step solves the predicted costs and
            adds the solutions to the pool (PyEPO's ``solve_ratio``; ignored
            when ``oracle`` is a ``CachedOracle``, which has its own).
        solutions: the pool's seed ``(m, *event)``, the training set's optimal
            solutions in PyEPO's protocol.
        generator: seed or ``numpy.random.Generator`` for the solve draws.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Example:
        >>> import numpy as np, torch
        >>> from imle_solvers import NCELoss, get_oracle
        >>> pool = np.eye(3)  # every one-hot solution
        >>> loss_fn = NCELoss(get_oracle("onehot"), solve_ratio=0.0, solutions=pool)
        >>> theta = torch.tensor([[0.0, 3.0, 0.0]], requires_grad=True)
        >>> loss_fn(theta, torch.tensor([[5.0, 1.0, 0.0]]))  # max sense: mean_p <θ, p> - <θ, e0> = 1 - 0
        tensor(1., grad_fn=<MeanBackward0>)
    """

    owner = "NCELoss"

    def forward(self, predicted_costs: torch.Tensor, true_costs: Any, *, true_solutions: Any = None,
                true_objectives: Any = None, **instance_data: Any) -> torch.Tensor:
        """The loss: a scalar, or ``(*batch,)`` with ``reduction="none"``."""
        s, pool = self._inputs(predicted_costs, true_costs, true_solutions, true_objectives, instance_data)
        scores = pool_scores(s, pool, predicted_costs)  # (*batch, m)
        target = s.call.sign * s.dot(predicted_costs, s.solutions)  # (*batch,)
        return reduce((scores - target.unsqueeze(-1)).mean(-1), self.reduction)


class ContrastiveMAPLoss(_PoolLoss):
    """The contrastive MAP loss: NCE against the most violating pool member,

    .. math::

        \\ell(\\hat c) = \\max_{p \\in P}\\,\\mathrm{score}(\\hat c, p) - \\mathrm{score}(\\hat c, z^*)

    (PyEPO's ``contrastiveMAP``; ``>= 0`` when ``z*`` is in the pool).

    Args:
        oracle: any :class:`~imle_solvers.Oracle`, or a
            :class:`~imle_solvers.CachedOracle` whose pool is used (and shared).
        solve_ratio: probability that a step solves the predicted costs and
            adds the solutions to the pool (PyEPO's ``solve_ratio``; ignored
            when ``oracle`` is a ``CachedOracle``, which has its own).
        solutions: the pool's seed ``(m, *event)``, the training set's optimal
            solutions in PyEPO's protocol.
        generator: seed or ``numpy.random.Generator`` for the solve draws.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Example:
        >>> import numpy as np, torch
        >>> from imle_solvers import ContrastiveMAPLoss, get_oracle
        >>> loss_fn = ContrastiveMAPLoss(get_oracle("onehot"), solve_ratio=0.0, solutions=np.eye(3))
        >>> loss_fn(torch.tensor([[0.0, 3.0, 0.0]]), torch.tensor([[5.0, 1.0, 0.0]]))  # 3 - 0
        tensor(3.)
    """

    owner = "ContrastiveMAPLoss"

    def forward(self, predicted_costs: torch.Tensor, true_costs: Any, *, true_solutions: Any = None,
                true_objectives: Any = None, **instance_data: Any) -> torch.Tensor:
        """The loss: a scalar, or ``(*batch,)`` with ``reduction="none"``."""
        s, pool = self._inputs(predicted_costs, true_costs, true_solutions, true_objectives, instance_data)
        scores = pool_scores(s, pool, predicted_costs)  # (*batch, m)
        target = s.call.sign * s.dot(predicted_costs, s.solutions)
        return reduce(scores.max(-1).values - target, self.reduction)
