"""How a failure inside a batch names its instance.

Shared by the oracles (which raise :class:`InstanceFailure` from a chunk)
and the runners (which turn it into an error naming the batch index with
:func:`format_index`). It sits below both, so that neither imports the
other for these: ``errors`` <- ``_batch`` <- ``runners`` <- ``oracles.base``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["InstanceFailure", "format_index"]


class InstanceFailure(Exception):
    """Raised from :meth:`Oracle.solve_chunk` as ``raise InstanceFailure(i)
    from error`` when instance ``i`` of the chunk fails; the runner reports
    ``error`` with the instance's batch index.

    Example:
        >>> from imle_solvers.oracles.base import InstanceFailure
        >>> try:
        ...     raise InstanceFailure(2) from ValueError("no solution")
        ... except InstanceFailure as failure:
        ...     failure.index, repr(failure.__cause__)
        (2, "ValueError('no solution')")
    """

    def __init__(self, index: int):
        super().__init__(index)
        self.index = int(index)


def format_index(flat_index: int, batch_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The position of instance ``flat_index`` in a batch of ``batch_shape``.

    Example:
        >>> from imle_solvers.oracles import format_index
        >>> format_index(5, (2, 3)), format_index(0, ())
        ((1, 2), ())
    """
    if not batch_shape:
        return ()
    return tuple(int(i) for i in np.unravel_index(flat_index, batch_shape))
