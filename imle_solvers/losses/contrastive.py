"""Contrastive losses over a solution pool: :class:`NCELoss`, :class:`ContrastiveMAPLoss`.

Mulamba, Mandi, Diligenti, Lombardi, Bucarey, Guns. Contrastive Losses and
Solution Caching for Predict-and-Optimize. IJCAI 2021 (arXiv 2011.05354).
"""

from __future__ import annotations

from ._common import _PoolLoss, pool_scores

__all__ = ["NCELoss", "ContrastiveMAPLoss"]


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

    def _loss(self, s, pool, predicted_costs):
        scores = pool_scores(s, pool, predicted_costs)  # (*batch, m)
        target = s.call.sign * s.dot(predicted_costs, s.solutions)  # (*batch,)
        return (scores - target.unsqueeze(-1)).mean(-1)


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

    def _loss(self, s, pool, predicted_costs):
        scores = pool_scores(s, pool, predicted_costs)  # (*batch, m)
        target = s.call.sign * s.dot(predicted_costs, s.solutions)
        return scores.max(-1).values - target
