"""Linear assignment: the ``matching`` oracle."""

from __future__ import annotations

import numpy as np

from ._deps import require
from .base import Oracle

__all__ = ["Matching"]


class Matching(Oracle):
    r"""Maximum-weight assignment of rows to columns (linear assignment).

    For scores ``theta`` of shape ``(n, m)``:

    .. math::

        z = \arg\max_{z \in \{0,1\}^{n \times m}} \langle \theta, z \rangle
        \quad\text{s.t.}\quad \textstyle\sum_j z_{ij} \le 1,\;
        \sum_i z_{ij} \le 1,\; \sum_{ij} z_{ij} = \min(n, m).

    Rectangular scores are allowed: every row is assigned when ``n <= m``,
    every column when ``n >= m``. Solved by
    :func:`scipy.optimize.linear_sum_assignment` (``maximize=True``; it
    releases the GIL, so ``runner="threads"`` helps). Ties: deterministic —
    among equally good assignments the one scipy's shortest augmenting path
    solver returns, the same on every call, runner and worker count.

    The event is the last two dimensions: any ``(n, m)`` with ``n, m >= 1``.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import get_oracle
        >>> get_oracle("matching")(np.array([[1.0, 5.0, 0.0], [4.0, 6.0, 0.0]]))
        array([[0., 1., 0.],
               [1., 0., 0.]])
    """

    name = "matching"
    complexity_doc = "O(n^2 m) for n <= m (shortest augmenting paths)"
    sense = "max"
    event_ndim = 2
    backend = "scipy"
    dependencies = ("scipy",)
    event_doc = "(n, m)"

    def check_event_shape(self, event_shape):
        if min(event_shape) < 1:
            return "(n, m) with n, m >= 1"
        return None

    def solve_chunk(self, theta):
        optimize = require("scipy.optimize", needed_for="the matching oracle")
        scores = np.asarray(theta, dtype=np.float64)
        z = np.zeros(scores.shape, dtype=np.float64)
        for i in range(scores.shape[0]):
            rows, cols = optimize.linear_sum_assignment(scores[i], maximize=True)
            z[i, rows, cols] = 1.0
        return z

    def __repr__(self):
        return "Matching()"
