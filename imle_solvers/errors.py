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
    """Base class of every error raised on purpose by imle_solvers."""


class OracleNotFoundError(ImleSolversError, KeyError):
    """No oracle is registered under the requested name.

    Also a :class:`KeyError`, so code written against a dict-like registry
    keeps working.
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
    """


class OracleError(_InstanceErrorMixin, ImleSolversError):
    """A solver failed on one instance of a batch.

    ``oracle`` is the oracle's name and ``index`` the instance's position in
    the batch (a tuple over the batch dimensions, ``None`` when the failure is
    not tied to one instance). The original exception is chained as
    ``__cause__``.
    """


class InfeasibleError(OracleError):
    """The instance has no feasible solution (no path, no spanning tree,
    an infeasible integer program)."""


class UnboundedError(OracleError):
    """The objective of the instance is unbounded."""


class OracleTimeoutError(OracleError):
    """An oracle call ran past its ``timeout``."""


class WorkerCrashedError(ImleSolversError):
    """A worker process died while solving (killed, out of memory, segfault).

    The pool is discarded; the next call starts a fresh one.
    """


class MissingDependencyError(ImleSolversError, ImportError):
    """An optional dependency is missing; the message names the extra to
    install (``pip install 'imle-solvers[extra]'``)."""


class ImleSolversWarning(UserWarning):
    """Warnings issued by imle_solvers."""
