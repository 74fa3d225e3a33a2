"""Solution-pool caching for any oracle: :class:`CachedOracle`.

Mulamba, Mandi, Diligenti, Lombardi, Bucarey, Guns. Contrastive Losses and
Solution Caching for Predict-and-Optimize. IJCAI 2021 (arXiv 2011.05354);
PyEPO's ``solve_ratio``.

Training through a solver calls it on every step. When the feasible set is
the same for every instance (a fixed graph, fixed knapsack weights), every
solution ever returned is a feasible answer for every later instance, and the
best of a pool of them, ``argmin_{z in pool} <w, z>``, is a matrix product
away. :class:`CachedOracle` solves a fraction ``solve_ratio`` of the calls
(adding what it gets to the pool) and answers the others from the pool.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _tensors
from ._checks import sense_sign
from .errors import InvalidInputError

__all__ = ["CachedOracle"]


def _is_tensor(value: Any) -> bool:
    return _tensors.is_tensor(value)


class CachedOracle:
    """Answer a fraction of an oracle's calls from a pool of earlier solutions.

    On each call, with probability ``solve_ratio`` (one draw per call, from
    the wrapper's own generator), the batch is solved by ``oracle`` and the
    new distinct solutions join the pool; otherwise every instance gets the
    best solution of the pool for its own costs,

    .. math::

        z = \\arg\\min_{p \\in \\text{pool}} \\langle w, p \\rangle \\quad
        (\\arg\\max \\text{ for a max-sense oracle}),

    the first pool entry on ties. A call with an empty pool solves.

    **Feasibility.** The pool holds only solutions the oracle returned, plus
    the ``solutions`` it was seeded with (the training set's optimal
    solutions, in PyEPO's protocol). They are feasible for every instance
    only when the feasible set does not change between instances, so the
    instance data (knapsack weights and capacity, say) is fixed at
    construction and a call refuses per-call instance data. A cached answer
    is therefore always feasible; it is optimal only when the pool holds an
    optimum.

    **Pool.** Rows of the flattened event shape, de-duplicated (two solutions
    are the same when their squared distance is at most ``atol``; 0/1 and
    integer solutions are compared exactly), in order of arrival (a batch's
    new rows in sorted order). It lives where the calls' inputs live: a torch
    tensor on the input's device (moved once when the device changes), or a
    numpy array; no host round trip for cached calls on a device-native
    path.

    **Reproducibility.** The solve/cache draws come from ``generator`` (a
    seed or a ``numpy.random.Generator``); with the same seed, inputs and
    oracle, the same calls are solved and the same answers returned.

    Attributes ``sense``, ``event_ndim`` and ``nonnegative`` are the
    oracle's, so every estimator and loss takes a ``CachedOracle`` where it
    takes an oracle. Counters ``solved_calls`` and ``cached_calls`` say what
    happened.

    Args:
        oracle: any :class:`~imle_solvers.Oracle` whose solution has the
            shape of its input (a linear objective).
        solve_ratio: probability that a call is solved (``[0, 1]``).
        solutions: initial pool ``(m, *event)`` (numpy or torch), or ``None``.
        generator: an int seed, a ``numpy.random.Generator`` or ``None``.
        atol: squared distance under which two solutions are the same.
        **instance_data: the oracle's fixed instance data (shared by every
            instance), passed on every solved call.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import CachedOracle, get_oracle
        >>> seen = np.array([[1.0, 0, 0], [0, 1.0, 0]])  # solutions from the training set
        >>> cached = CachedOracle(get_oracle("onehot"), solve_ratio=0.0, solutions=seen, generator=0)
        >>> cached(np.array([[0.1, 0.9, 5.0]]))  # item 2 is best, but the pool only knows items 0 and 1
        array([[0., 1., 0.]])
        >>> exact = CachedOracle(get_oracle("onehot"), solve_ratio=1.0, solutions=seen, generator=0)
        >>> exact(np.array([[0.1, 0.9, 5.0]])), len(exact.pool)  # solved, and the answer joins the pool
        (array([[0., 0., 1.]]), 3)
    """

    def __init__(
        self,
        oracle: Any,
        solve_ratio: float = 1.0,
        *,
        solutions: Any = None,
        generator: Any = None,
        atol: float = 1e-6,
        **instance_data: Any,
    ):
        self.sign = sense_sign("CachedOracle", oracle)
        if isinstance(oracle, CachedOracle):
            raise InvalidInputError("CachedOracle: the oracle is already a CachedOracle; wrap the plain oracle once")
        if isinstance(solve_ratio, bool) or not isinstance(solve_ratio, (int, float)) or not 0.0 <= solve_ratio <= 1.0:
            raise InvalidInputError(f"CachedOracle: expected solve_ratio in [0, 1], but found {solve_ratio!r}")
        if isinstance(generator, np.random.Generator):
            self._rng = generator
        elif generator is None or (isinstance(generator, (int, np.integer)) and not isinstance(generator, bool)):
            self._rng = np.random.default_rng(generator)
        else:
            raise InvalidInputError(
                f"CachedOracle: expected generator to be an int seed, a numpy.random.Generator or None, but found "
                f"{type(generator).__name__}"
            )
        self.oracle = oracle
        self.solve_ratio = float(solve_ratio)
        self.atol = float(atol)
        self.sense = oracle.sense
        self.event_ndim = int(getattr(oracle, "event_ndim", 1))
        self.nonnegative = bool(getattr(oracle, "nonnegative", False))
        self.device_native = True  # cached answers are computed where the input lives
        self.instance_data: dict[str, int] = {}
        self.name = f"cached({getattr(oracle, 'name', type(oracle).__name__)})"
        self.fixed_data = dict(instance_data)
        self.solved_calls = 0
        self.cached_calls = 0
        self._pool: Any = None  # (m, d): numpy array or torch tensor
        self._event_shape: tuple[int, ...] | None = None
        if solutions is not None:
            self.add(solutions)

    # ------------------------------------------------------------------ #
    # The pool
    # ------------------------------------------------------------------ #
    @property
    def pool(self) -> Any:
        """The pool ``(m, *event)`` (numpy or torch, where the last call's input lived), or ``None``."""
        if self._pool is None:
            return None
        return self._pool.reshape(self._pool.shape[0], *self._event_shape)

    def _check_event(self, shape: tuple[int, ...], what: str) -> tuple[int, ...]:
        if len(shape) < self.event_ndim:
            raise InvalidInputError(
                f"CachedOracle({self.oracle!r}): expected {what} of shape (*batch, *event) with {self.event_ndim} "
                f"event dimension(s), but found {shape}"
            )
        event = tuple(shape[len(shape) - self.event_ndim:])
        if self._event_shape is not None and event != self._event_shape:
            raise InvalidInputError(
                f"CachedOracle({self.oracle!r}): expected {what} with event shape {self._event_shape} (the pool's), "
                f"but found {event}"
            )
        return event

    def _pool_like(self, reference: Any) -> Any:
        """The pool (float64) moved to ``reference``'s library and device (moved once, then kept there)."""
        pool = self._pool
        if _is_tensor(reference):
            torch = _tensors.torch_module()
            if not _is_tensor(pool):
                pool = torch.from_numpy(np.ascontiguousarray(pool))
            if pool.device != reference.device:
                pool = pool.to(device=reference.device)
        elif _is_tensor(pool):
            pool = np.asarray(_tensors.to_host(pool), dtype=np.float64)
        self._pool = pool
        return pool

    def add(self, solutions: Any) -> int:
        """Add the distinct rows of ``solutions`` ``(*batch, *event)`` that the
        pool does not hold yet; returns how many were added.

        Example:
            >>> import numpy as np
            >>> from imle_solvers import CachedOracle, get_oracle
            >>> cached = CachedOracle(get_oracle("onehot"))
            >>> cached.add(np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 0, 1.0]])), cached.add(np.array([[0, 0, 1.0]]))
            (2, 0)
        """
        shape = tuple(solutions.shape) if hasattr(solutions, "shape") else np.shape(solutions)
        event = self._check_event(shape, "solutions")
        d = int(np.prod(event, dtype=np.int64))
        if _is_tensor(solutions):
            torch = _tensors.torch_module()
            rows = torch.unique(solutions.detach().reshape(-1, d).to(torch.float64), dim=0)
        else:
            rows = np.unique(np.asarray(solutions, dtype=np.float64).reshape(-1, d), axis=0)
        if rows.shape[0] == 0:
            return 0
        if self._pool is None:
            self._event_shape = event
            self._pool = rows
            return int(rows.shape[0])
        pool = self._pool_like(rows)
        if _is_tensor(rows):
            torch = _tensors.torch_module()
            distance = (rows * rows).sum(1)[:, None] + (pool * pool).sum(1)[None, :] - 2.0 * rows @ pool.T
            new = rows[distance.min(dim=1).values > self.atol]
            self._pool = torch.cat([pool, new]) if new.shape[0] else pool
        else:
            distance = (rows * rows).sum(1)[:, None] + (pool * pool).sum(1)[None, :] - 2.0 * rows @ pool.T
            new = rows[distance.min(axis=1) > self.atol]
            self._pool = np.concatenate([pool, new]) if new.shape[0] else pool
        return int(new.shape[0])

    def best_in_pool(self, theta: Any) -> Any:
        """The best pool solution for each instance of ``theta`` ``(*batch, *event)``
        (costs for a min-sense oracle, scores for a max-sense one); the first on ties."""
        if self._pool is None:
            raise InvalidInputError(f"CachedOracle({self.oracle!r}): the pool is empty; nothing to answer from")
        event = self._check_event(tuple(theta.shape), "theta")
        batch = tuple(theta.shape[: len(theta.shape) - len(event)])
        pool = self._pool_like(theta)  # float64
        if _is_tensor(theta):
            values = theta.reshape(-1, pool.shape[1]).to(pool.dtype) @ pool.T  # (n, m)
            index = values.argmax(dim=1) if self.sign > 0 else values.argmin(dim=1)
            return pool[index].reshape(*batch, *event).to(theta.dtype)
        theta = np.asarray(theta)
        values = theta.reshape(-1, pool.shape[1]).astype(np.float64) @ pool.T  # (n, m)
        index = values.argmax(axis=1) if self.sign > 0 else values.argmin(axis=1)
        return pool[index].reshape(*batch, *event).astype(np.result_type(theta.dtype, np.float32), copy=False)

    # ------------------------------------------------------------------ #
    # Calling
    # ------------------------------------------------------------------ #
    def _solve(self, theta: Any) -> Any:
        solutions = self.oracle(theta, **self.fixed_data)
        if tuple(solutions.shape) != tuple(theta.shape):
            raise InvalidInputError(
                f"CachedOracle({self.oracle!r}): the oracle returned shape {tuple(solutions.shape)} for input "
                f"{tuple(theta.shape)}; caching needs solutions in the space of the costs (a linear objective)"
            )
        self.solved_calls += 1
        return solutions

    def refresh(self, theta: Any) -> Any:
        """With probability ``solve_ratio`` solve ``theta`` and add the solutions
        to the pool (what the contrastive and ranking losses do on each step);
        returns the pool ``(m, *event)`` in ``theta``'s library and device."""
        self._check_event(tuple(theta.shape), "theta")
        if self._pool is None or self._rng.random() < self.solve_ratio:
            self.add(self._solve(theta.detach() if _is_tensor(theta) else theta))
        pool = self._pool_like(theta)
        if _is_tensor(theta):
            pool = pool.to(theta.dtype)
        return pool.reshape(pool.shape[0], *self._event_shape)

    def __call__(self, theta: Any, **instance_data: Any) -> Any:
        """Solutions ``(*batch, *event)`` for ``theta``, solved or from the pool."""
        if instance_data:
            raise InvalidInputError(
                f"CachedOracle({self.oracle!r}): unexpected per-call instance data {sorted(instance_data)}; a pool "
                "answer is feasible only for a fixed feasible set, so give the instance data once, to "
                "CachedOracle(oracle, ..., **instance_data)"
            )
        self._check_event(tuple(theta.shape), "theta")
        if _is_tensor(theta):
            theta = theta.detach()
        if self._pool is None or self._rng.random() < self.solve_ratio:
            solutions = self._solve(theta)
            if self.solve_ratio < 1.0 or self._pool is not None:  # a pool someone will use
                self.add(solutions)
            return solutions
        self.cached_calls += 1
        return self.best_in_pool(theta)

    def __repr__(self) -> str:
        size = 0 if self._pool is None else int(self._pool.shape[0])
        return f"CachedOracle({self.oracle!r}, solve_ratio={self.solve_ratio}, pool={size})"
