"""Wrap a plain function that solves one instance as an :class:`Oracle`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .base import Oracle

__all__ = ["FunctionOracle"]


class FunctionOracle(Oracle):
    """An oracle made from ``fn(theta, **instance_data) -> solution`` that
    solves one instance, numpy in and numpy out.

    Args:
        fn: the solver of one instance.
        name: how errors refer to the oracle.
        sense: ``"max"`` (``fn`` maximises ``<theta, z>``) or ``"min"``.
        event_ndim: how many trailing dimensions of ``theta`` make one instance.
        instance_data: names of keyword arrays ``fn`` takes, each mapped to its
            number of per-instance dimensions.
        nonnegative: ``fn`` needs non-negative costs.

    Example:
        >>> import numpy as np
        >>> from imle_solvers.oracles import FunctionOracle
        >>> def argmin(costs):
        ...     z = np.zeros_like(costs)
        ...     z[np.argmin(costs)] = 1
        ...     return z
        >>> FunctionOracle(argmin, name="argmin", sense="min")(np.array([3.0, 1.0, 2.0]))
        array([0., 1., 0.])
    """

    backend = "python function"

    def __init__(
        self,
        fn: Callable[..., np.ndarray],
        *,
        name: str | None = None,
        sense: str = "max",
        event_ndim: int = 1,
        instance_data: dict[str, int] | None = None,
        nonnegative: bool = False,
    ):
        if not callable(fn):
            raise TypeError(f"expected a callable that solves one instance, but found {type(fn).__name__}")
        if sense not in ("max", "min"):
            raise ValueError(f"expected sense 'max' or 'min', but found {sense!r}")
        if isinstance(event_ndim, bool) or not isinstance(event_ndim, int) or event_ndim < 0:
            raise ValueError(f"expected event_ndim to be a non-negative int, but found {event_ndim!r}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "function")
        self.sense = sense
        self.event_ndim = event_ndim
        self.instance_data = dict(instance_data or {})
        self.nonnegative = nonnegative

    def check_values(self, theta, data):
        if self.nonnegative:
            self.first_bad((theta.reshape(theta.shape[0], -1) < 0).any(axis=1), "expected non-negative costs")

    def solve(self, theta, **data):
        return np.asarray(self.fn(theta, **data))

    def __repr__(self):
        fn = getattr(self.fn, "__qualname__", self.fn)
        return f"FunctionOracle({fn!r}, name={self.name!r}, sense={self.sense!r})"
