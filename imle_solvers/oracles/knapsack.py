"""The 0/1 knapsack: the ``knapsack`` oracle (a compiled dynamic program over
integer weights, a compiled branch and bound for real weights and several
dimensions, OR-Tools CP-SAT)."""

from __future__ import annotations

import math

import numpy as np

from . import _mip
from ._deps import compiled, require
from .base import InstanceFailure, Oracle

__all__ = ["Knapsack"]

_BACKENDS = ("auto", "dp", "bb", "cpsat")
_DP_HARD_LIMIT = 2e9  # table cells (bytes) a forced DP may allocate
CAPACITY_RTOL = 1e-9  # a selection fits when sum_j w_kj z_j <= C_k * (1 + CAPACITY_RTOL) in every dimension


def widened(capacity: np.ndarray) -> np.ndarray:
    """The capacities every backend solves with: ``C * (1 + 1e-9)`` (the
    feasibility rule of :class:`Knapsack`).

    >>> float(widened(np.array([20.0]))[0])
    20.00000002
    """
    return np.asarray(capacity, dtype=np.float64) * (1.0 + CAPACITY_RTOL)


def _dp_chunk(values, weights, capacities, use, z):  # pragma: no cover - compiled by numba
    """0/1 knapsack by dynamic programming for every instance ``b`` with
    ``use[b]``: values (m, n) float64, weights (m, n) int64, capacities (m,)
    int64 (already reduced to what can be used); writes the indicator into z.

    Items are added from the last to the first; ``keep[i, c]`` records that
    item ``i`` strictly improves the best value of items ``i..n-1`` at
    capacity ``c``. Reading ``keep`` forward from item 0 then leaves item
    ``i`` out whenever an optimal completion without it exists: the
    lexicographically smallest optimal indicator.
    """
    m, n = values.shape
    largest = 0
    for b in range(m):
        if use[b] and capacities[b] > largest:
            largest = capacities[b]
    keep = np.zeros((n, largest + 1), np.uint8)
    best = np.zeros(largest + 1, np.float64)
    for b in range(m):
        if not use[b]:
            continue
        capacity = capacities[b]
        keep[:, : capacity + 1] = 0
        best[: capacity + 1] = 0.0
        for i in range(n - 1, -1, -1):
            value = values[b, i]
            weight = weights[b, i]
            if value <= 0.0 or weight > capacity:
                continue
            for c in range(capacity, weight - 1, -1):
                candidate = best[c - weight] + value
                if candidate > best[c]:
                    best[c] = candidate
                    keep[i, c] = 1
        c = capacity
        for i in range(n):
            if keep[i, c]:
                z[b, i] = 1.0
                c -= weights[b, i]


def _normalised(values: np.ndarray) -> np.ndarray:
    """Each row of ``values`` (m, n) times a power of two that puts its largest
    magnitude in [0.5, 1): exact, so the DP's float sums and comparisons are
    the same up to a common factor — but a sum of values near ``1.8e308`` no
    longer overflows to inf (where ``inf + v > inf`` is false and an optimal
    item would be dropped)."""
    top = np.frexp(np.abs(values).max(axis=1, initial=0.0))[1]  # (m,)
    with np.errstate(under="ignore"):
        return np.ldexp(values, -top[:, None])


_kernel = compiled(_dp_chunk, needed_for="knapsack backend 'dp'")


class Knapsack(Oracle):
    r"""The 0/1 knapsack with per-instance values, weights and capacities,
    in one or several capacity dimensions (PyEPO's multi-dimensional
    knapsack):

    .. math::

        z = \arg\max_{z \in \{0,1\}^n} \langle \theta, z \rangle
        \quad\text{s.t.}\quad W z \le C, \qquad W \in \mathbb{R}^{d \times n}_{\ge 0},
        \ C \in \mathbb{R}^d_{\ge 0} .

    ``theta`` (shape ``(n,)``) holds the values. ``weights`` and
    ``capacity`` are instance data, per instance (with the batch shape in
    front) or shared by the whole batch:

    * one capacity dimension: ``weights`` ``(n,)``, ``capacity`` a scalar;
    * ``d`` dimensions: ``weights`` ``(d, n)``, ``capacity`` ``(d,)`` — as
      PyEPO's ``knapsackModel(weights, capacity)``.

    The form is read from the shapes. One reading is ambiguous: with a
    batch of exactly ``d`` instances, weights ``(d, n)`` and capacity
    ``(d,)`` also fit the one-dimensional form with per-instance data, and
    that is how they are read (as before d-dimensional knapsacks existed).
    Pass ``dims=d`` to fix the number of dimensions, and the shared
    ``(d, n)`` weights then always mean ``d`` constraints on every
    instance — do so when the batch size varies, as in training.

    Weights and capacities must be non-negative
    (:class:`~imle_solvers.errors.InvalidInputError` otherwise). An item
    with a non-positive value is never needed for an optimum and is never
    selected; nor is an item heavier than a capacity.

    Feasibility rule: a selection fits when, in every dimension,
    ``sum_j W_kj z_j <= C_k * (1 + 1e-9)``. Real weights such as PyEPO's
    two-decimal ones do not sum exactly in floating point (``0.1 + 0.2 >
    0.3``), so a selection that fills a capacity exactly in decimal could
    otherwise be refused, and the answer be worse than the optimum a
    tolerant solver (SCIP, HiGHS, about 1e-6) reports. Every backend solves
    with the widened capacity; sums of weights are float64 (error about
    ``n * 1e-16`` of the capacity, far inside the tolerance), so backends can
    only disagree on a selection whose weight lies within that rounding of
    ``C * (1 + 1e-9)``.

    Backends:

    * ``"dp"``: a dynamic program over integer capacities, compiled with
      numba (releases the GIL), ``O(n * C)`` time and ``n * C`` bytes. Needs
      integer weights (floats with integer values are fine); the capacity
      is used as ``floor(C * (1 + 1e-9))``, which is exact for integer weights, and
      reduced to the total weight of the useful items. Exact. Values are
      scaled by a power of two per instance (exactly), so that sums of
      values near the float64 maximum do not overflow.
    * ``"bb"``: depth-first branch and bound compiled with numba (one call
      for the whole chunk, releases the GIL), any number of dimensions and
      real weights: branching on the items in index order, the bound the
      smallest over the dimensions of the fractional (LP) bound of that
      dimension alone, a greedy start; see
      :mod:`imle_solvers.oracles._knapsack_numba`. Exact up to float64 sums
      of values; worst case exponential, so an instance that needs more than
      ``bb_node_limit`` nodes is solved by CP-SAT instead (never a
      non-optimal answer).
    * ``"cpsat"``: OR-Tools CP-SAT (one worker by default) with the value
      objective scaled to integers — exactly for integer values, otherwise
      to about 1e9 for the largest value, within ``1.9e-9 * n * max(theta)``
      of the optimum — and weights scaled exactly when they are integers or
      short binary fractions, else rounded at ``4.5e-13`` relative to the
      largest weight; see :class:`~imle_solvers.oracles.ILP`.
    * ``"auto"`` (default): ``"dp"`` for one capacity dimension with
      integer weights when ``n * (C + 1) <= dp_max_cells`` (5e7),
      ``"bb"`` otherwise (always for ``d > 1``), decided per instance.

    Ties: deterministic, one rule on every backend: the lexicographically
    smallest optimal indicator (item 0 is left out whenever an optimal
    solution without it exists, then item 1, ...). The DP and the branch
    and bound apply it with "optimal" up to the rounding of the float sums
    of values (exact for integer values); CP-SAT applies it exactly, by the
    objective ``v_int 2**n - sum_j z_j 2**(n-1-j)``, when the values scale
    to integers exactly (integer or dyadic values) and
    ``log2(sum |v_int|) + n <= 61``; otherwise CP-SAT (one worker) returns
    the optimum it finds first, the same on every call, which may be
    another optimum of equal value.

    Args:
        backend: ``"auto"``, ``"dp"`` (one capacity dimension only),
            ``"bb"`` or ``"cpsat"``.
        dp_max_cells: the largest ``n * (C + 1)`` solved by the DP under
            ``"auto"``.
        time_limit: seconds per CP-SAT solve (:class:`OracleError` when it
            stops without proving optimality).
        num_workers: CP-SAT search workers per instance.
        dims: the number of capacity dimensions, or ``None`` to read it
            from the shapes of each call.
        bb_node_limit: the most search nodes the branch and bound spends on
            one instance before handing it to CP-SAT.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import get_oracle
        >>> knapsack = get_oracle("knapsack")
        >>> knapsack(np.array([6.0, 10.0, 12.0]), weights=np.array([1, 2, 3]), capacity=5)
        array([0., 1., 1.])
        >>> knapsack(np.array([[6.0, 10.0, 12.0], [6.0, -1.0, 12.0]]), weights=np.array([1, 2, 3]),
        ...          capacity=np.array([3, 3]))
        array([[1., 1., 0.],
               [0., 0., 1.]])
        >>> two_dims = get_oracle("knapsack", dims=2)  # weights (2, n), capacities (2,), shared by the batch
        >>> two_dims(np.array([[6.0, 10.0, 12.0], [6.0, 10.0, 1.0]]), weights=np.array([[1, 2, 3], [3, 2, 1]]),
        ...          capacity=np.array([5, 2]))
        array([[0., 0., 1.],
               [0., 1., 0.]])
    """

    name = "knapsack"
    complexity_doc = ("O(n C) time and memory (DP, one dimension, integer weights; measured 70 µs per instance at "
                      "n = 50, C ~ 1,250); NP-hard in general: compiled branch and bound, worst case exponential "
                      "(measured 14 µs per instance on PyEPO's 32-item knapsacks with real weights in one dimension, "
                      "30 µs in two, 2 shared cores at load 0.5), CP-SAT past bb_node_limit nodes (2.3-3.3 ms per "
                      "instance there)")
    sense = "max"
    event_ndim = 1
    # The one-dimensional form; with dims=d the instance declares {"weights": 2, "capacity": 1}.
    instance_data = {"weights": 1, "capacity": 0}
    required_data = frozenset({"weights", "capacity"})
    backend = "dp|bb|cpsat (auto)"
    dependencies = ("numba", "ortools")
    event_doc = "(n,)"

    def __init__(self, *, backend: str = "auto", dp_max_cells: float = 5e7, time_limit: float | None = None,
                 num_workers: int = 1, dims: int | None = None, bb_node_limit: int = 200_000):
        if backend not in _BACKENDS:
            raise self.invalid(f"expected backend in {_BACKENDS}, but found {backend!r}")
        if not (isinstance(dp_max_cells, (int, float)) and dp_max_cells >= 0):
            raise self.invalid(f"expected dp_max_cells to be a non-negative number, but found {dp_max_cells!r}")
        problem = _mip.check_limits(time_limit, num_workers)
        if problem is not None:
            raise self.invalid(problem)
        if dims is not None and not (isinstance(dims, (int, np.integer)) and not isinstance(dims, bool) and dims >= 1):
            raise self.invalid(f"expected dims to be a positive int or None, but found {dims!r}")
        if isinstance(bb_node_limit, bool) or not isinstance(bb_node_limit, (int, np.integer)) or bb_node_limit < 1:
            raise self.invalid(f"expected bb_node_limit to be a positive int, but found {bb_node_limit!r}")
        if backend == "dp" and dims is not None and dims > 1:
            raise self.invalid(f"backend 'dp' solves one capacity dimension, but dims={dims}; use 'auto' or 'cpsat'")
        self.backend = backend
        self.dp_max_cells = float(dp_max_cells)
        self.time_limit = None if time_limit is None else float(time_limit)
        self.num_workers = int(num_workers)
        self.dims = None if dims is None else int(dims)
        self.bb_node_limit = int(bb_node_limit)
        if self.dims is not None and self.dims > 1:
            self.instance_data = {"weights": 2, "capacity": 1}

    # ------------------------------------------------------------------ #
    # The two forms of the data: one capacity dimension or d
    # ------------------------------------------------------------------ #
    def _flatten_data(self, data, batch_shape, event_shape, *, reshape, expand):
        if "weights" in data and "capacity" in data:
            weights, capacity = np.asarray(data["weights"]), np.asarray(data["capacity"])
            form = self._form(weights.shape, capacity.shape, batch_shape, event_shape)
            if form is None:
                expected = "d" if self.dims is None else str(self.dims)
                one = "" if self.dims not in (None, 1) else (
                    f"weights {event_shape} or {batch_shape + event_shape} with capacity () or {batch_shape} "
                    "(one capacity dimension), or ")
                raise self.invalid(
                    f"expected {one}weights ({expected}, n) or {batch_shape} + ({expected}, n) with capacity "
                    f"({expected},) or {batch_shape} + ({expected},) ({expected} capacity dimensions), n = "
                    f"{event_shape[0]}; but found weights of shape {weights.shape} and capacity of shape "
                    f"{capacity.shape} (theta batch shape {batch_shape})"
                )
            if form == "one":
                data = {**data, "weights": weights[..., None, :], "capacity": capacity[..., None]}
        unknown = sorted(set(data) - set(self.instance_data))
        if unknown:
            raise self.invalid(f"unexpected instance data {unknown}; accepted: capacity, weights")
        missing = sorted(set(self.required_data) - set(data))
        if missing:
            raise self.invalid(f"missing required instance data {missing}")
        n = math.prod(batch_shape)
        flat = {}
        for key, ndim in (("weights", 2), ("capacity", 1)):  # (n, d, items) and (n, d) from here on
            value = data[key]
            shape = tuple(value.shape)
            if len(shape) == ndim:  # shared by every instance
                flat[key] = expand(reshape(value, (1, *shape)), (n, *shape))
            else:
                flat[key] = reshape(value, (n, *shape[len(batch_shape):]))
        self.check_data(event_shape, flat)
        return flat

    def _form(self, weights_shape, capacity_shape, batch_shape, event_shape) -> str | None:
        """``"one"`` (1-D form), ``"d"`` (d-dimensional form) or ``None`` (neither fits)."""
        if self.dims in (None, 1) and weights_shape in (event_shape, batch_shape + event_shape) \
                and capacity_shape in ((), batch_shape):
            return "one"
        for prefix in ((), batch_shape):
            if len(weights_shape) == len(prefix) + 2 and weights_shape[: len(prefix)] == prefix \
                    and weights_shape[-1:] == event_shape:
                d = weights_shape[-2]
                if self.dims is not None and d != self.dims:
                    continue
                if capacity_shape in ((d,), batch_shape + (d,)):
                    return "d"
        return None

    def check_data(self, event_shape, data):
        for key in ("weights", "capacity"):
            kind = np.asarray(data[key]).dtype.kind
            if kind not in "iuf":
                raise self.invalid(f"expected real-valued {key}, but found dtype {data[key].dtype}")
        if self.backend == "dp" and data["weights"].shape[1] != 1:
            raise self.invalid(f"backend 'dp' solves one capacity dimension, but the weights have "
                               f"{data['weights'].shape[1]}; use backend 'auto' or 'cpsat'")

    def _plan(self, theta, weights, capacity):
        """Per instance (one capacity dimension): integral weights?, the DP
        capacity, the DP table size."""
        weights = np.asarray(weights, dtype=np.float64)
        capacity = widened(capacity)
        integral = np.all((weights == np.floor(weights)) & (weights <= 2.0**53), axis=1)
        useful = (np.asarray(theta) > 0) & (weights <= capacity[:, None])
        reachable = np.where(useful, weights, 0.0).sum(axis=1)
        dp_capacity = np.minimum(np.floor(capacity), reachable)  # exact for integer weights
        cells = theta.shape[1] * (dp_capacity + 1)
        return integral, dp_capacity, cells

    def _uses_dp(self, theta, weights, capacity):
        """Per instance of a chunk with data ``(m, d, n)``, ``(m, d)``: solved by the DP?"""
        m = theta.shape[0]
        if weights.shape[1] != 1 or self.backend in ("cpsat", "bb"):
            return np.zeros(m, bool), None
        integral, dp_capacity, cells = self._plan(theta, weights[:, 0], capacity[:, 0])
        if self.backend == "dp":
            return np.ones(m, bool), (integral, dp_capacity, cells)
        return integral & (cells <= self.dp_max_cells), (integral, dp_capacity, cells)

    def check_values(self, theta, data):
        weights, capacity = data["weights"], data["capacity"]  # (m, d, n), (m, d)
        m = theta.shape[0]
        self.first_bad((weights < 0).reshape(m, -1).any(axis=1), "expected non-negative weights, but found a "
                                                                  "negative one")
        self.first_bad((capacity < 0).reshape(m, -1).any(axis=1), "expected a non-negative capacity, but found "
                                                                   "a negative one")
        use_dp, plan = self._uses_dp(theta, weights, capacity)
        if self.backend == "dp":
            integral, _, cells = plan
            self.first_bad(~integral, "backend 'dp' needs integer weights, but found a non-integer one; "
                                      "use backend 'auto' or 'cpsat'")
            self.first_bad(cells > _DP_HARD_LIMIT, f"backend 'dp' would need a table of more than "
                                                   f"{_DP_HARD_LIMIT:.0e} cells; use backend 'auto' or 'cpsat'")
        if self.backend != "cpsat":  # "bb" and "auto" hand CP-SAT only what the search gives up on
            return
        integral = (weights == np.floor(weights)).reshape(m, -1).all(axis=1)
        for instance in np.flatnonzero(~use_dp & ~integral):
            w = np.asarray(weights[instance], dtype=np.float64)
            _, _, problem = _mip.scale_rows(w, widened(capacity[instance]),
                                            np.ones(w.shape[1]), equality=False)
            if problem is not None:
                bad = np.zeros(m, bool)
                bad[instance] = True
                self.first_bad(bad, f"CP-SAT cannot represent the weights exactly enough: {problem[1]}")

    def solve_chunk(self, theta, weights, capacity):
        values = np.asarray(theta, dtype=np.float64)
        weights = np.asarray(weights, dtype=np.float64)  # (m, d, n)
        capacity = np.asarray(capacity, dtype=np.float64)  # (m, d)
        m, n = values.shape
        use_dp, plan = self._uses_dp(values, weights, capacity)
        capacity = widened(capacity)  # the feasibility rule, on every backend (the plan widens its own)
        z = np.zeros((m, n), dtype=np.float64)
        if use_dp.any():
            _, dp_capacity, _ = plan
            int_weights = np.where(use_dp[:, None], weights[:, 0], 0.0).astype(np.int64)
            _kernel(_normalised(values), int_weights, np.where(use_dp, dp_capacity, 0).astype(np.int64), use_dp, z)
        solved = use_dp.copy()
        if self.backend != "cpsat" and not solved.all():
            require("numba", needed_for="knapsack backend 'bb'")
            from ._knapsack_numba import solve_knapsack_chunk

            done = np.zeros(m, bool)
            solve_knapsack_chunk(_normalised(values), np.ascontiguousarray(weights), capacity, ~solved,
                                 self.bb_node_limit, z, done)
            solved |= done
        for i in np.flatnonzero(~solved):
            useful = (values[i] > 0) & (weights[i] <= capacity[i][:, None]).all(axis=0)
            try:
                z[i] = _mip.solve(
                    "cpsat", values[i], maximize=True,
                    a_ub=weights[i], b_ub=capacity[i], a_eq=None, b_eq=None,
                    lower=np.zeros(n), upper=useful.astype(np.float64),
                    time_limit=self.time_limit, num_workers=self.num_workers, lexicographic=True,
                )
            except Exception as error:  # noqa: BLE001 - reported with the instance's index
                raise InstanceFailure(int(i)) from error
        return z

    def __repr__(self):
        dims = "" if self.dims is None else f", dims={self.dims}"
        dims += "" if self.bb_node_limit == 200_000 else f", bb_node_limit={self.bb_node_limit}"
        return f"Knapsack(backend={self.backend!r}{dims})"
