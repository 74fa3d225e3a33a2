"""Gradient estimators that make MAP oracles trainable.

* :class:`IMLE` / :func:`imle` — Implicit MLE (Niepert et al. 2021); with
  :class:`~imle_solvers.AdaptiveTarget` it is adaptive I-MLE (AIMLE,
  Minervini et al. 2023).
* :class:`Blackbox` — Vlastelica et al. 2020.
* :class:`PerturbedOptimizer`, :class:`FenchelYoungLoss` — Berthet et al. 2020.
* :class:`StraightThrough` — forward MAP, backward identity;
  :class:`NegativeIdentity` — the same for costs, under PyEPO's name.

Every estimator takes any :class:`~imle_solvers.Oracle`, reads its ``sense``
(scores for ``"max"``, costs for ``"min"``) and ``nonnegative`` flag, and is
called as ``estimator(theta, **instance_data)``. Each wraps one module-level
``torch.autograd.Function``; tensors stay on theta's device, and every
forward or backward pass makes one batched oracle call.

>>> import torch
>>> from imle_solvers.estimators import IMLE, StraightThrough
>>> from imle_solvers import get_oracle
>>> z = IMLE(get_oracle("topk", k=1))(torch.randn(2, 4, requires_grad=True))
>>> z.shape
torch.Size([2, 4])
"""

from .blackbox import Blackbox
from .imle import IMLE, imle
from .perturbed import FenchelYoungLoss, PerturbedOptimizer
from .straight_through import NegativeIdentity, StraightThrough

__all__ = ["IMLE", "imle", "Blackbox", "PerturbedOptimizer", "FenchelYoungLoss", "StraightThrough", "NegativeIdentity"]
