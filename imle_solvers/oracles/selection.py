"""Selection oracles that run on the tensor's device: ``topk`` and ``onehot``.

Both are sense ``"max"`` over the last dimension of ``theta``. Torch input is
solved with torch on its own device (no host copy); numpy input with numpy.
"""

from __future__ import annotations

import numpy as np

from .. import _tensors
from .base import Oracle

__all__ = ["TopK", "OneHot"]


class TopK(Oracle):
    """The k largest entries: ``z = argmax <theta, z>`` s.t. ``sum(z) = k``,
    ``z`` in {0, 1}^n.

    Exactly ``k`` ones per instance. Ties are broken towards the lower index
    (a stable descending sort), on every device and runner.

    Args:
        k: how many items to select (``1 <= k <= n``).

    Example:
        >>> import numpy as np
        >>> from imle_solvers import get_oracle
        >>> get_oracle("topk", k=2)(np.array([0.3, 0.9, 0.1, 0.9]))
        array([0., 1., 0., 1.])
    """

    name = "topk"
    complexity_doc = "O(n log n): a stable sort"
    sense = "max"
    event_ndim = 1
    device_native = True
    backend = "torch/numpy"

    def __init__(self, k: int):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise self.invalid(f"expected k to be a positive int (how many items to select, 1 <= k <= n), "
                               f"but found k={k!r}")
        self.k = int(k)

    def check_event_shape(self, event_shape):
        if event_shape[0] < self.k:
            return f"(n,) with n >= k={self.k}"
        return None

    def solve_chunk(self, theta):
        # A stable ascending sort of an order-reversing map: ties keep the lower
        # index. Floats negate exactly; integers use bitwise not (~x = -x - 1
        # for signed types, max - x for unsigned), which cannot wrap as -x does
        # for unsigned types and for a signed type's minimum.
        reversed_order = np.invert(theta) if theta.dtype.kind in "iu" else -theta
        order = np.argsort(reversed_order, axis=-1, kind="stable")[:, : self.k]
        z = np.zeros(theta.shape, dtype=np.float64)
        np.put_along_axis(z, order, 1.0, axis=-1)
        return z

    def solve_torch(self, theta):
        torch = _tensors.torch_module()
        order = torch.sort(theta, dim=-1, descending=True, stable=True).indices[:, : self.k]
        return torch.zeros_like(theta).scatter_(-1, order, 1.0)

    def __repr__(self):
        return f"TopK(k={self.k})"


class OneHot(Oracle):
    """The argmax as a one-hot vector: ``z = argmax <theta, z>`` over the
    unit vectors. Ties go to the lowest index.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import get_oracle
        >>> get_oracle("onehot")(np.array([[0.2, 0.5, 0.5], [2.0, -1.0, 0.0]]))
        array([[0., 1., 0.],
               [1., 0., 0.]])
    """

    name = "onehot"
    complexity_doc = "O(n)"
    sense = "max"
    event_ndim = 1
    device_native = True
    backend = "torch/numpy"

    def check_event_shape(self, event_shape):
        if event_shape[0] < 1:
            return "(n,) with n >= 1"
        return None

    def solve_chunk(self, theta):
        z = np.zeros(theta.shape, dtype=np.float64)
        z[np.arange(theta.shape[0]), np.argmax(theta, axis=-1)] = 1.0
        return z

    def solve_torch(self, theta):
        index = theta.argmax(dim=-1, keepdim=True)  # first maximum on ties
        return _tensors.torch_module().zeros_like(theta).scatter_(-1, index, 1.0)

    def __repr__(self):
        return "OneHot()"
