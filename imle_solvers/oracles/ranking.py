"""Ranking of items by score: the ``ranking`` oracle, on the tensor's device."""

from __future__ import annotations

import numpy as np

from .. import _tensors
from .base import Oracle

__all__ = ["Ranking"]

_OUTPUTS = ("ranks", "permutation")


class Ranking(Oracle):
    r"""The ranks of the items, as the maximiser of a linear objective.

    For scores ``theta`` of shape ``(n,)`` the default output is the rank
    vector ``r`` (shape ``(n,)``, like the scores) with ``r_i`` in
    ``{1, ..., n}`` and the highest score getting ``n``:

    .. math::

        r = \arg\max_{r \in \Pi(1, \dots, n)} \langle \theta, r \rangle,

    the maximum over all permutations of ``(1, ..., n)`` — by the
    rearrangement inequality the largest rank goes with the largest score.
    ``<theta, r>`` is thus the linear objective the estimators need, with the
    solution shaped like ``theta``. Ties are stable: of equal scores the lower
    index ranks higher (gets the larger rank), on every device and runner.

    ``output="permutation"`` returns instead the ``n x n`` permutation matrix
    ``P`` with ``P[i, j] = 1`` iff item ``j`` is at position ``i`` in
    descending order (so ``P @ theta`` is ``theta`` sorted descending). That
    view is for inspection: its shape differs from ``theta``'s, so it is not
    the ``<theta, z>`` maximiser the I-MLE estimators expect — use the
    default rank view with them.

    Torch input is solved with torch on its own device (no host copy), numpy
    input with numpy. Ranks are returned in the input's dtype: exact up to
    ``n = 2048`` in float16 and ``n = 256`` in bfloat16.

    Args:
        output: ``"ranks"`` (default) or ``"permutation"``.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import get_oracle
        >>> get_oracle("ranking")(np.array([0.3, 0.9, 0.1, 0.9]))
        array([2., 4., 1., 3.])
        >>> get_oracle("ranking", output="permutation")(np.array([0.3, 0.9, 0.1]))
        array([[0., 1., 0.],
               [1., 0., 0.],
               [0., 0., 1.]])
    """

    name = "ranking"
    output_doc = "(n,) ranks; (n, n) with output='permutation'"
    complexity_doc = "O(n log n): a stable sort"
    sense = "max"
    event_ndim = 1
    device_native = True
    backend = "torch/numpy"
    event_doc = "(n,)"

    def __init__(self, *, output: str = "ranks"):
        if output not in _OUTPUTS:
            raise self.invalid(f"expected output in {_OUTPUTS}, but found {output!r}")
        self.output = output

    def check_event_shape(self, event_shape):
        if event_shape[0] < 1:
            return "(n,) with n >= 1"
        return None

    def output_event_shape(self, event_shape):
        if self.output == "permutation":
            return (event_shape[0], event_shape[0])
        return event_shape

    def solve_chunk(self, theta):
        m, n = theta.shape
        order = np.argsort(-np.asarray(theta, dtype=np.float64), axis=-1, kind="stable")  # (m, n) descending
        if self.output == "permutation":
            z = np.zeros((m, n, n), dtype=np.float64)
            z[np.arange(m)[:, None], np.arange(n)[None, :], order] = 1.0
            return z
        ranks = np.empty((m, n), dtype=np.float64)
        np.put_along_axis(ranks, order, np.arange(n, 0, -1, dtype=np.float64)[None, :].repeat(m, 0), axis=-1)
        return ranks

    def solve_torch(self, theta):
        torch = _tensors.torch_module()
        m, n = theta.shape
        order = torch.sort(theta, dim=-1, descending=True, stable=True).indices  # (m, n)
        if self.output == "permutation":
            z = torch.zeros((m, n, n), dtype=theta.dtype, device=theta.device)
            return z.scatter_(-1, order.unsqueeze(-1), 1.0)  # row i of instance b: item order[b, i]
        if not theta.dtype.is_floating_point:
            dtype = torch.int64
        else:  # float32 is exact up to 2**24 and exists on every device; float64 input keeps float64
            dtype = torch.float64 if theta.dtype == torch.float64 else torch.float32
        values = torch.arange(n, 0, -1, device=theta.device, dtype=dtype).expand(m, n)
        return torch.empty((m, n), dtype=values.dtype, device=theta.device).scatter_(-1, order, values)

    def __repr__(self):
        return f"Ranking(output={self.output!r})"
