"""Learning-to-rank losses over a solution pool: :class:`PointwiseLTRLoss`,
:class:`PairwiseLTRLoss`, :class:`ListwiseLTRLoss`.

Mandi, Bucarey, Mulamba, Guns. Decision-Focused Learning: Through the Lens of
Learning to Rank. ICML 2022 (arXiv 2112.03609).

The pool ``P`` (a :class:`~imle_solvers.CachedOracle`'s, refreshed each step
with probability ``solve_ratio``) is ranked by the true costs; the losses
teach the predicted costs to rank it the same way. ``score(c, p) = -<c, p>``
for a min-sense oracle, ``+<c, p>`` for max sense: higher is better.
"""

from __future__ import annotations

import torch.nn.functional as F

from ._common import _PoolLoss, pool_scores

__all__ = ["PointwiseLTRLoss", "PairwiseLTRLoss", "ListwiseLTRLoss"]


class PointwiseLTRLoss(_PoolLoss):
    """Pointwise ranking: regress every pool member's predicted objective on its true one,

    .. math:: \\ell(\\hat c, c) = \\frac{1}{|P|}\\sum_{p\\in P} \\langle c - \\hat c, p\\rangle^2

    (PyEPO's ``pointwiseLTR``; the sense does not matter).

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
        >>> from imle_solvers import PointwiseLTRLoss, get_oracle
        >>> loss_fn = PointwiseLTRLoss(get_oracle("onehot"), solve_ratio=0.0, solutions=np.eye(2))
        >>> loss_fn(torch.tensor([[1.0, 1.0]]), torch.tensor([[3.0, 1.0]]))  # ((3 - 1)^2 + 0^2) / 2
        tensor(2.)
    """

    owner = "PointwiseLTRLoss"

    def _loss(self, s, pool, predicted_costs):
        gap = pool_scores(s, pool, s.true_costs - predicted_costs)  # ± <c - ĉ, p>, squared below
        return gap.square().mean(-1)


class PairwiseLTRLoss(_PoolLoss):
    """Pairwise ranking: the pool's best member under the true costs, ``b``,
    should score at least as well as every other under the predicted costs,

    .. math::

        \\ell(\\hat c, c) = \\frac{1}{|P| - 1}\\sum_{p \\in P}
        \\max\\big(0,\\ \\mathrm{score}(\\hat c, p) - \\mathrm{score}(\\hat c, b)\\big),
        \\qquad b = \\arg\\max_{p\\in P} \\mathrm{score}(c, p)

    (PyEPO's ``pairwiseLTR``; ``b``'s own term is 0, the first best on ties).

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
        >>> from imle_solvers import PairwiseLTRLoss, get_oracle
        >>> loss_fn = PairwiseLTRLoss(get_oracle("onehot"), solve_ratio=0.0, solutions=np.eye(3))
        >>> loss_fn(torch.tensor([[1.0, 3.0, 0.0]]), torch.tensor([[5.0, 1.0, 0.0]]))  # b = e0: (0 + 2 + 0) / 2
        tensor(1.)
    """

    owner = "PairwiseLTRLoss"

    def _loss(self, s, pool, predicted_costs):
        predicted = pool_scores(s, pool, predicted_costs)  # (*batch, m)
        best = pool_scores(s, pool, s.true_costs).argmax(-1, keepdim=True)  # (*batch, 1)
        margin = F.relu(predicted - predicted.gather(-1, best))
        return margin.sum(-1) / max(pool.shape[0] - 1, 1)


class ListwiseLTRLoss(_PoolLoss):
    """Listwise ranking: cross-entropy between the pool's softmax distributions
    under the true and the predicted costs,

    .. math::

        \\ell(\\hat c, c) = -\\sum_{p \\in P} \\max\\big(\\mathrm{softmax}_P(\\mathrm{score}(c, \\cdot))_p,\\,
        10^{-8}\\big)\\, \\log \\mathrm{softmax}_P(\\mathrm{score}(\\hat c, \\cdot))_p

    (PyEPO's ``listwiseLTR``, its ``1e-8`` floor included).

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
        >>> from imle_solvers import ListwiseLTRLoss, get_oracle
        >>> loss_fn = ListwiseLTRLoss(get_oracle("onehot"), solve_ratio=0.0, solutions=np.eye(2))
        >>> round(loss_fn(torch.zeros(1, 2), torch.tensor([[9.0, 9.0]])).item(), 4)  # two equals: log 2
        0.6931
    """

    owner = "ListwiseLTRLoss"

    def _loss(self, s, pool, predicted_costs):
        target = F.softmax(pool_scores(s, pool, s.true_costs), dim=-1).clamp(min=1e-8)
        log_predicted = F.log_softmax(pool_scores(s, pool, predicted_costs), dim=-1)
        return -(target * log_predicted).sum(-1)
