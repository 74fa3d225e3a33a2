"""Import optional solver libraries where they are used.

Oracle modules import only numpy at module level, so that listing the
registry or importing :mod:`imle_solvers.oracles` never loads OR-Tools, cvxpy,
numba or scipy. :func:`require` imports one on first use and turns a missing
one into :class:`~imle_solvers.errors.MissingDependencyError` that says what
to install.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from types import ModuleType

from ..errors import MissingDependencyError

__all__ = ["require", "compiled"]

# module -> the distribution that provides it
_DISTRIBUTIONS = {
    "ortools": "ortools",
    "cvxpy": "cvxpy",
    "highspy": "highspy",
    "numba": "numba",
    "scipy": "scipy",
    "networkx": "networkx",
}


def require(module: str, *, needed_for: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError`.

    Args:
        module: a dotted module name, e.g. ``"ortools.sat.python.cp_model"``.
        needed_for: what needs it, for the message (e.g. ``"ilp backend 'cpsat'"``).

    Example:
        >>> from imle_solvers.oracles._deps import require
        >>> require("math", needed_for="the doctest").sqrt(4.0)
        2.0
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.partition(".")[0]
        distribution = _DISTRIBUTIONS.get(top, top)
        raise MissingDependencyError(
            f"{needed_for} needs the package {distribution!r}, which could not be imported "
            f"({error}). It is a dependency of imle-solvers: reinstall with `pip install imle-solvers` "
            f"or install it alone with `pip install {distribution}`."
        ) from error


class compiled:  # noqa: N801 (used like a function)
    """``fn`` compiled with numba (``njit(nogil=True, cache=True)``) on the first
    call, numba imported then; later calls reuse the kernel. Thread-safe.
    ``fn`` must live in a module file (numba's on-disk cache needs one):
    ``_kernel = compiled(_dp_chunk, needed_for="knapsack backend 'dp'")`` at
    module level, then ``_kernel(values, weights, ...)``.
    """

    def __init__(self, fn: Callable, *, needed_for: str):
        self._fn, self._needed_for = fn, needed_for
        self._kernel: Callable | None = None
        self._lock = threading.Lock()

    def __call__(self, *args):
        kernel = self._kernel
        if kernel is None:
            with self._lock:
                if self._kernel is None:
                    numba = require("numba", needed_for=self._needed_for)
                    self._kernel = numba.njit(nogil=True, cache=True)(self._fn)
                kernel = self._kernel
        return kernel(*args)
