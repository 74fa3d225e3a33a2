"""Cost-supervised losses: train a model on true costs through a solver (PyEPO's setting).

Every loss here is called the same way::

    loss(predicted_costs, true_costs, *, true_solutions=None, true_objectives=None, **instance_data)

with ``predicted_costs`` and ``true_costs`` of shape ``(*batch, *event)`` in
the oracle's own terms (costs for a min-sense oracle, values for a max-sense
one). True solutions ``z*(c)`` and objectives ``<c, z*(c)>`` are computed
with one oracle call when not given. ``reduction="mean"`` (default),
``"sum"`` or ``"none"`` (per instance).

* :class:`SPOPlusLoss` — SPO+ (Elmachtoub & Grigas).
* :class:`SolutionLoss` — a solver layer (:class:`~imle_solvers.IMLE`,
  :class:`~imle_solvers.PerturbedOptimizer`, :class:`~imle_solvers.Blackbox`,
  :class:`~imle_solvers.NegativeIdentity`) or the
  :class:`~imle_solvers.FenchelYoungLoss`, against the true solution.
* :class:`NCELoss`, :class:`ContrastiveMAPLoss` — contrastive, over a pool.
* :class:`PointwiseLTRLoss`, :class:`PairwiseLTRLoss`,
  :class:`ListwiseLTRLoss` — learning to rank, over a pool.

The pool losses keep a :class:`~imle_solvers.CachedOracle`.

>>> import torch
>>> from imle_solvers import SPOPlusLoss, get_oracle
>>> SPOPlusLoss(get_oracle("onehot"))(torch.zeros(2, 3), torch.ones(2, 3)).shape
torch.Size([])
"""

from .contrastive import ContrastiveMAPLoss, NCELoss
from .ranking import ListwiseLTRLoss, PairwiseLTRLoss, PointwiseLTRLoss
from .solution import SolutionLoss
from .spo import SPOPlusLoss

__all__ = ["SPOPlusLoss", "SolutionLoss", "NCELoss", "ContrastiveMAPLoss", "PointwiseLTRLoss", "PairwiseLTRLoss",
           "ListwiseLTRLoss"]
