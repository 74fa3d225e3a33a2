"""The exception hierarchy of imle_solvers.

Every error raised on purpose by the library derives from
:class:`ImleSolversError`, so ``except ImleSolversError`` catches them all::

    ImleSolversError
    ├── OracleNotFoundError      (also a KeyError)
    ├── InvalidInputError        (also a ValueError)
    ├── OracleError              a solver failed on one instance
    │   ├── InfeasibleError      the instance has no feasible solution
    │   ├── UnboundedError       the objective is unbounded
    │   └── OracleTimeoutError   the call ran past its ``timeout``
    ├── WorkerCrashedError       a worker process died mid-batch
    └── MissingDependencyError   an optional dependency is not installed
                                 (also an ImportError)

Errors about one instance carry ``oracle`` (the oracle's name) and ``index``
(the position in the batch, a tuple over the leading batch dimensions) as
attributes, and name both in the message.
"""

from __future__ import annotations

__all__ = [
    "ImleSolversError",
    "OracleNotFoundError",
    "InvalidInputError",
    "OracleError",
    "InfeasibleError",
    "UnboundedError",
    "OracleTimeoutError",
    "WorkerCrashedError",
    "MissingDependencyError",
    "ImleSolversWarning",
]


class ImleSolversError(Exception):
    """Base class of every error raised on purpose by imle_solvers.

    Example:
        >>> from imle_solvers import ImleSolversError, get_oracle
        >>> try:
        ...     get_oracle("no_such_oracle")
        ... except ImleSolversError as error:
        ...     print(type(error).__name__)
        OracleNotFoundError
    """


class OracleNotFoundError(ImleSolversError, KeyError):
    """No oracle is registered under the requested name.

    Also a :class:`KeyError`, so code written against a dict-like registry
    keeps working. The message lists the registered names and suggests the
    closest.

    Example:
        >>> from imle_solvers import get_oracle
        >>> get_oracle("topk_")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        imle_solvers.errors.OracleNotFoundError: no oracle named 'topk_'. Did you mean 'topk'? Available: ...
    """

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class _InstanceErrorMixin:
    """Carries ``oracle`` and ``index`` and keeps them across pickling."""

    def __init__(self, message: str, *, oracle: str | None = None, index=None):
        super().__init__(message)
        self.oracle = oracle
        self.index = index

    def __reduce__(self):
        return (_rebuild_error, (type(self), self.args, self.oracle, self.index))


def _rebuild_error(cls, args, oracle, index):
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.oracle = oracle
    error.index = index
    return error


class InvalidInputError(_InstanceErrorMixin, ImleSolversError, ValueError):
    """The input to an oracle or estimator is malformed.

    Raised before any solving starts. The message names the oracle, the batch
    index (where one instance is at fault), what was expected and what came.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import InvalidInputError, get_oracle
        >>> scores = np.zeros((2, 3, 4))
        >>> scores[1, 2, 0] = np.nan
        >>> try:
        ...     get_oracle("topk", k=2)(scores)
        ... except InvalidInputError as error:
        ...     print(error.index)
        ...     print(error)
        (1, 2)
        oracle 'topk' at batch index (1, 2): expected finite values, but found nan or inf in 1 entry (first: nan)
    """


class OracleError(_InstanceErrorMixin, ImleSolversError):
    """A solver failed on one instance of a batch.

    ``oracle`` is the oracle's name and ``index`` the instance's position in
    the batch (a tuple over the batch dimensions, ``None`` when the failure is
    not tied to one instance). The original exception is chained as
    ``__cause__``.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import FunctionOracle, OracleError
        >>> def fragile(theta):
        ...     return theta / theta.sum()  # fails when the sum is 0
        >>> oracle = FunctionOracle(fragile, name="fragile")
        >>> try:
        ...     with np.errstate(divide="raise", invalid="raise"):
        ...         oracle(np.array([[1.0, 1.0], [1.0, -1.0]]))
        ... except OracleError as error:
        ...     print(error.index, type(error.__cause__).__name__)
        (1,) FloatingPointError
    """


class InfeasibleError(OracleError):
    """The instance has no feasible solution (no path, no spanning tree,
    an infeasible integer program).

    Example:
        >>> import networkx as nx, numpy as np
        >>> from imle_solvers import InfeasibleError, get_oracle
        >>> two_pieces = nx.Graph([(0, 1), (2, 3)])
        >>> try:
        ...     get_oracle("shortest_path", graph=two_pieces, source=0, target=3)(np.ones(2))
        ... except InfeasibleError as error:
        ...     print(error)
        oracle 'shortest_path' failed on batch index (): no path from source 0 to target 3 in the graph
    """


class UnboundedError(OracleError):
    """The objective of the instance is unbounded.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import UnboundedError, get_oracle
        >>> no_upper_bound = get_oracle("ilp", upper=np.inf, backend="mip")
        >>> try:
        ...     no_upper_bound(np.array([1.0, -1.0]))
        ... except UnboundedError as error:
        ...     print(type(error).__name__, error.index)
        UnboundedError ()
    """


class OracleTimeoutError(OracleError):
    """An oracle call ran past its ``timeout``.

    Example:
        >>> import time, numpy as np
        >>> from imle_solvers import FunctionOracle, OracleTimeoutError
        >>> def slow(theta):
        ...     time.sleep(0.5)
        ...     return theta
        >>> oracle = FunctionOracle(slow, name="slow").configure(timeout=0.05)
        >>> try:
        ...     oracle(np.zeros(3))
        ... except OracleTimeoutError as error:
        ...     print(error)
        oracle 'slow': the call did not finish within timeout=0.05 s
    """


class WorkerCrashedError(ImleSolversError):
    """A worker process died while solving (killed, out of memory, segfault).

    The pool is discarded; the next call starts a fresh one, so a retry is
    a reasonable response.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import WorkerCrashedError, get_oracle
        >>> def solve_with_retry(oracle, theta, attempts=2):
        ...     for attempt in range(attempts):
        ...         try:
        ...             return oracle(theta)
        ...         except WorkerCrashedError:
        ...             if attempt == attempts - 1:
        ...                 raise
        >>> solve_with_retry(get_oracle("onehot"), np.array([0.0, 2.0]))
        array([0., 1.])
    """


class MissingDependencyError(ImleSolversError, ImportError):
    """An optional dependency is missing; the message names the extra to
    install (``pip install 'imle-solvers[extra]'``) or the package.

    Example:
        >>> from imle_solvers import MissingDependencyError
        >>> from imle_solvers.oracles._deps import require
        >>> try:
        ...     require("no_such_solver", needed_for="the doctest")
        ... except MissingDependencyError as error:
        ...     print(str(error).split(",")[0])
        the doctest needs the package 'no_such_solver'
    """


class ImleSolversWarning(UserWarning):
    """Warnings issued by imle_solvers (e.g. an unreadable data cache that is
    regenerated). Filter them as a group.

    Example:
        >>> import warnings
        >>> from imle_solvers import ImleSolversWarning
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always", ImleSolversWarning)
        ...     warnings.warn("cache regenerated", ImleSolversWarning)
        >>> caught[0].category.__name__
        'ImleSolversWarning'
    """
