r"""The travelling salesman: the ``tsp`` oracle (exact, OR-Tools CP-SAT's
circuit constraint), and adapters for PyEPO's edge-vector layout.

PyEPO's TSP models (``pyepo.model.omo.tspGGModel`` and friends) take one
cost per *undirected* edge ``(i, j)``, ``i < j``, in
``itertools.combinations(range(n), 2)`` order, and return the 0/1 vector of
the tour's edges in the same order. :func:`edge_costs_to_matrix` and
:func:`tour_to_edges` convert between that layout and this oracle's
``(n, n)`` matrices; ``get_oracle("tsp", layout="edges")`` does it on every
call, so the oracle takes and returns PyEPO's vectors directly.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InfeasibleError, OracleError, OracleTimeoutError
from . import _mip
from ._deps import compiled, require
from .base import InstanceFailure, Oracle

__all__ = ["TSP", "edge_costs_to_matrix", "tour_to_edges", "num_cities"]

_LAYOUTS = ("matrix", "edges")
_BACKENDS = ("auto", "dp", "cpsat")


def num_cities(num_edges: int) -> int | None:
    """The ``n`` with ``n (n - 1) / 2 == num_edges`` (``n >= 2``), else ``None``.

    Example:
        >>> from imle_solvers.oracles.tsp import num_cities
        >>> num_cities(10), num_cities(11)
        (5, None)
    """
    n = int(round((1 + math.sqrt(1 + 8 * num_edges)) / 2))
    return n if n >= 2 and n * (n - 1) // 2 == num_edges else None


def _edge_index(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the undirected edges ``(i, j)``, ``i < j``, in
    ``itertools.combinations(range(n), 2)`` order (PyEPO's ``model.edges``)."""
    rows, cols = np.triu_indices(n, k=1)  # row-major upper triangle: the combinations order
    return rows, cols


def edge_costs_to_matrix(edge_costs, num_nodes: int | None = None) -> np.ndarray:
    r"""PyEPO's edge costs ``(*batch, n (n - 1) / 2)`` as symmetric cost
    matrices ``(*batch, n, n)`` (zero diagonal).

    Edge ``k`` is the ``k``-th pair of ``itertools.combinations(range(n),
    2)`` — PyEPO's ``model.edges`` — and its cost goes to ``[i, j]`` and
    ``[j, i]``. A tour's cost is then the same in both layouts:
    ``<c, tour_to_edges(z)> == <edge_costs_to_matrix(c), z>``.

    Example:
        >>> import numpy as np
        >>> from imle_solvers.oracles.tsp import edge_costs_to_matrix
        >>> edge_costs_to_matrix(np.array([1.0, 2.0, 3.0]))  # edges (0, 1), (0, 2), (1, 2)
        array([[0., 1., 2.],
               [1., 0., 3.],
               [2., 3., 0.]])
    """
    edge_costs = np.asarray(edge_costs)
    n = num_cities(edge_costs.shape[-1]) if edge_costs.ndim else None
    if n is None or (num_nodes is not None and n != num_nodes):
        raise ValueError(f"expected n (n - 1) / 2 edge costs in the last dimension (n >= 2 cities), but found shape "
                         f"{edge_costs.shape}")
    rows, cols = _edge_index(n)
    matrix = np.zeros((*edge_costs.shape[:-1], n, n), dtype=np.result_type(edge_costs.dtype, np.float32))
    matrix[..., rows, cols] = edge_costs
    matrix[..., cols, rows] = edge_costs
    return matrix


def tour_to_edges(successors) -> np.ndarray:
    r"""Successor matrices ``(*batch, n, n)`` as PyEPO's edge indicators
    ``(*batch, n (n - 1) / 2)``: edge ``(i, j)``, ``i < j``, is 1 when the
    tour goes ``i -> j`` or ``j -> i``.

    Example:
        >>> import numpy as np
        >>> from imle_solvers.oracles.tsp import tour_to_edges
        >>> tour = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0]])  # 0 -> 2 -> 1 -> 0
        >>> tour_to_edges(tour)  # edges (0, 1), (0, 2), (1, 2): all three
        array([1, 1, 1])
    """
    successors = np.asarray(successors)
    n = successors.shape[-1]
    rows, cols = _edge_index(n)
    return np.maximum(successors[..., rows, cols], successors[..., cols, rows])


def _improve_tour(costs, tour):  # pragma: no cover - compiled by numba
    """Nearest neighbour from city 0, then 2-opt (first improvement) until
    no move helps; ``costs`` (n, n) float64 (any sign, asymmetric allowed),
    ``tour`` (n,) int64 is filled with the visiting order."""
    n = costs.shape[0]
    used = np.zeros(n, np.uint8)
    tour[0] = 0
    used[0] = 1
    for k in range(1, n):
        last = tour[k - 1]
        best = -1
        for j in range(n):
            if not used[j] and (best < 0 or costs[last, j] < costs[last, best]):
                best = j
        tour[k] = best
        used[best] = 1
    forward = np.zeros(n + 1)  # forward[k]: cost of tour[0] -> ... -> tour[k]
    backward = np.zeros(n + 1)  # backward[k]: the same arcs walked the other way
    for _ in range(100 * n):  # a bound on the passes; each pass that changes the tour lowers its cost
        for k in range(1, n):
            forward[k] = forward[k - 1] + costs[tour[k - 1], tour[k]]
            backward[k] = backward[k - 1] + costs[tour[k], tour[k - 1]]
        improved = False
        for i in range(0, n - 2):
            a, b = tour[i], tour[i + 1]
            for j in range(i + 2, n):
                c = tour[j]
                d = tour[(j + 1) % n]
                if d == a:
                    continue
                # reverse tour[i+1 .. j]: a -> c ... b -> d
                old = costs[a, b] + costs[c, d] + (forward[j] - forward[i + 1])
                new = costs[a, c] + costs[b, d] + (backward[j] - backward[i + 1])
                if new < old - 1e-12 * (abs(old) + abs(new)):
                    lo, hi = i + 1, j
                    while lo < hi:
                        tour[lo], tour[hi] = tour[hi], tour[lo]
                        lo += 1
                        hi -= 1
                    improved = True
                    break
            if improved:
                break
        if not improved:
            return


_heuristic = compiled(_improve_tour, needed_for="the tsp oracle's warm start")


def _held_karp_chunk(costs, out):  # pragma: no cover - compiled by numba
    """Exact tours by the Held-Karp dynamic program, ``O(n^2 2^n)``, for a
    chunk ``costs`` (m, n, n) float64 (finite, each instance scaled so that
    sums cannot overflow); writes successor matrices into ``out`` (zeros).

    ``best[S, j]``: the cheapest path from city 0 through the cities of
    ``S`` (a subset of 1..n-1, bit ``j`` for city ``j + 1``) ending at city
    ``j + 1``. Every minimum is taken with a strict ``<`` over candidates in
    increasing city order, so the first cheapest candidate wins.
    """
    m = costs.shape[0]
    n = costs.shape[1]
    k = n - 1
    full = 1 << k
    best = np.empty((full, k), np.float64)
    parent = np.empty((full, k), np.int64)
    for b in range(m):
        for j in range(k):
            best[1 << j, j] = costs[b, 0, j + 1]
            parent[1 << j, j] = -1
        for subset in range(1, full):
            for j in range(k):
                if not (subset >> j) & 1:
                    continue
                previous = subset ^ (1 << j)
                if previous == 0:
                    continue
                value = np.inf
                arg = -1
                for i in range(k):
                    if (previous >> i) & 1:
                        candidate = best[previous, i] + costs[b, i + 1, j + 1]
                        if arg < 0 or candidate < value:
                            value = candidate
                            arg = i
                best[subset, j] = value
                parent[subset, j] = arg
        subset = full - 1
        value = np.inf
        last = -1
        for j in range(k):
            candidate = best[subset, j] + costs[b, j + 1, 0]
            if last < 0 or candidate < value:
                value = candidate
                last = j
        out[b, last + 1, 0] = 1.0
        j = last
        while True:
            p = parent[subset, j]
            if p < 0:
                out[b, 0, j + 1] = 1.0
                break
            out[b, p + 1, j + 1] = 1.0
            subset ^= 1 << j
            j = p


_held_karp = compiled(_held_karp_chunk, needed_for="the tsp oracle's backend 'dp'")
_DP_MAX_CITIES = 16  # 2**15 * 15 table entries (float64 and int64): 7.9 MB
_AUTO_DP_CITIES = 12  # auto: the DP up to here (about 0.3 ms an instance), CP-SAT above


class TSP(Oracle):
    r"""The travelling salesman: the cheapest tour through all ``n`` cities
    of a complete directed graph, exactly.

    .. math::

        z = \arg\min_{z \in T} \langle C, z \rangle, \qquad
        T = \{\text{successor matrices of the Hamiltonian cycles on } n \text{ cities}\}

    ``theta`` (shape ``(n, n)``) holds the cost ``C[i, j]`` of going from
    city ``i`` to city ``j``, symmetric or not, of any sign; the diagonal
    is never used. The solution ``z`` is the ``(n, n)`` successor
    indicator: ``z[i, j] = 1`` when the tour goes ``i -> j`` — one 1 per
    row and per column, one cycle through every city. ``n >= 2``.

    Backends, both exact:

    * ``"cpsat"``: OR-Tools CP-SAT's circuit constraint (``AddCircuit``),
      one search worker per instance by default (so that a pool of
      workers, one instance each, scales), with a proof of optimality.
      CP-SAT costs a few milliseconds per instance even for a handful of
      cities.
    * ``"dp"``: the Held-Karp dynamic program, ``O(n^2 2^n)`` time and
      ``O(n 2^n)`` memory, a whole chunk in one compiled call (numba);
      up to 16 cities.
    * ``"auto"`` (default): ``"dp"`` up to 12 cities (well under a
      millisecond), ``"cpsat"`` above.

    For CP-SAT, costs are scaled to
    integers as for :class:`~imle_solvers.oracles.ILP`: exactly for integer
    (or short binary-fraction) costs, otherwise to about ``2**30`` for the
    largest, which keeps the tour within ``1.9e-9 * n * max|C|`` of the
    optimum; the DP sums the costs in float64 (each instance scaled by a
    power of two first, so sums cannot overflow), exact up to the rounding
    of those sums. ``time_limit`` bounds each CP-SAT search; when it ends
    without a proof of optimality the oracle raises
    :class:`~imle_solvers.errors.OracleTimeoutError` naming the batch index
    and the gap — never a silently non-optimal tour. With ``warm_start``
    (default) the search starts from a heuristic tour (nearest neighbour
    from city 0, then 2-opt, compiled with numba), which CP-SAT takes as a
    hint.

    ``layout="edges"`` takes PyEPO's layout instead: ``theta`` of shape
    ``(n (n - 1) / 2,)``, one cost per undirected edge ``(i, j)``, ``i <
    j``, in ``itertools.combinations(range(n), 2)`` order (PyEPO's
    ``model.edges``), used in both directions; the solution is the 0/1
    vector of the tour's edges in the same order, as PyEPO's TSP models
    return it (see :func:`edge_costs_to_matrix`, :func:`tour_to_edges`);
    ``n >= 3`` there, as in PyEPO (two cities would use their one edge
    twice).

    Ties: deterministic — the same optimal tour on every call, runner and
    worker count. The DP keeps, at every step, the first cheapest
    predecessor in increasing city order; CP-SAT with one worker and a
    fixed seed returns the optimum it proves first (with symmetric costs a
    tour and its reverse tie; which one comes back is CP-SAT's choice).
    The two backends may return different tours of equal cost.

    Args:
        backend: ``"auto"``, ``"dp"`` or ``"cpsat"``.
        layout: ``"matrix"`` (``(n, n)`` costs, successor matrices) or
            ``"edges"`` (PyEPO's edge vectors).
        time_limit: seconds per CP-SAT instance, or ``None`` for no limit.
        warm_start: hint CP-SAT with a nearest-neighbour + 2-opt tour.
        num_workers: CP-SAT search workers per instance.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import get_oracle
        >>> costs = np.array([[0, 1, 9, 1],
        ...                   [9, 0, 1, 9],
        ...                   [9, 9, 0, 1],
        ...                   [1, 9, 9, 0]], dtype=float)
        >>> get_oracle("tsp")(costs)  # 0 -> 1 -> 2 -> 3 -> 0 costs 4
        array([[0., 1., 0., 0.],
               [0., 0., 1., 0.],
               [0., 0., 0., 1.],
               [1., 0., 0., 0.]])
        >>> pyepo = get_oracle("tsp", layout="edges")  # 4 cities: edges 01 02 03 12 13 23
        >>> pyepo(np.array([1.0, 5.0, 1.0, 1.0, 5.0, 1.0]))
        array([1., 0., 1., 1., 0., 1.])
    """

    name = "tsp"
    complexity_doc = ("O(n^2 2^n) (Held-Karp DP, n <= 16); NP-hard in general (CP-SAT circuit search, exponential "
                      "in the worst case). Measured on PyEPO's instances (2 shared cores at load 8): 0.1 ms per "
                      "instance at 10 cities (DP), 30-48 ms at 15 cities (CP-SAT)")
    sense = "min"
    event_ndim = 2
    backend = "dp|cpsat (auto)"
    dependencies = ("numba", "ortools")
    event_doc = "(n, n)"
    output_doc = "(n, n) successor matrix; (n (n - 1) / 2,) edge indicator with layout='edges'"

    def __init__(self, *, backend: str = "auto", layout: str = "matrix", time_limit: float | None = None,
                 warm_start: bool = True, num_workers: int = 1):
        if backend not in _BACKENDS:
            raise self.invalid(f"expected backend in {_BACKENDS}, but found {backend!r}")
        if layout not in _LAYOUTS:
            raise self.invalid(f"expected layout in {_LAYOUTS}, but found {layout!r}")
        problem = _mip.check_limits(time_limit, num_workers)
        if problem is not None:
            raise self.invalid(problem)
        if not isinstance(warm_start, bool):
            raise self.invalid(f"expected warm_start to be True or False, but found {warm_start!r}")
        self.backend = backend
        self.layout = layout
        self.event_ndim = 2 if layout == "matrix" else 1
        self.time_limit = None if time_limit is None else float(time_limit)
        self.warm_start = warm_start
        self.num_workers = int(num_workers)

    def check_event_shape(self, event_shape):
        if self.layout == "edges":
            if len(event_shape) != 1 or (num_cities(event_shape[0]) or 0) < 3:
                return "(n (n - 1) / 2,) for n >= 3 cities (one cost per undirected edge, PyEPO's order)"
            return None
        if len(event_shape) != 2 or event_shape[0] != event_shape[1] or event_shape[0] < 2:
            return "(n, n) with n >= 2 cities"
        return None

    def check_data(self, event_shape, data):
        n = event_shape[0] if self.layout == "matrix" else num_cities(event_shape[0])
        if self.backend == "dp" and n > _DP_MAX_CITIES:
            raise self.invalid(f"backend 'dp' solves up to {_DP_MAX_CITIES} cities (O(n^2 2^n)), but found {n}; "
                               "use backend 'auto' or 'cpsat'")

    def solve_chunk(self, theta):
        theta = np.asarray(theta, dtype=np.float64)
        costs = edge_costs_to_matrix(theta) if self.layout == "edges" else theta  # (m, n, n)
        out = np.zeros(costs.shape, dtype=np.float64)
        n = costs.shape[1]
        if self.backend == "dp" or (self.backend == "auto" and n <= _AUTO_DP_CITIES):
            off_diagonal = np.where(np.eye(n, dtype=bool), 0.0, costs)
            top = np.frexp(np.abs(off_diagonal).max(axis=(1, 2), initial=0.0))[1]  # (m,)
            with np.errstate(under="ignore"):
                scaled = np.ldexp(off_diagonal, -top[:, None, None])  # |costs| < 1: a tour's sum cannot overflow
            _held_karp(np.ascontiguousarray(scaled), out)
            return tour_to_edges(out) if self.layout == "edges" else out
        for i in range(costs.shape[0]):
            try:
                out[i] = self._solve_one(costs[i])
            except OracleError as error:
                error.index = i
                raise
            except Exception as error:  # noqa: BLE001 - reported with the instance's index
                raise InstanceFailure(i) from error
        if self.layout == "edges":
            return tour_to_edges(out)
        return out

    def _solve_one(self, costs: np.ndarray) -> np.ndarray:
        cp_model = require("ortools.sat.python.cp_model", needed_for="the tsp oracle")
        n = costs.shape[0]
        tails, heads = np.nonzero(~np.eye(n, dtype=bool))  # the n (n - 1) arcs, row by row
        c_int, _, _ = _mip.scale_objective(costs[tails, heads], np.ones(len(tails)))
        model = cp_model.CpModel()
        proto = model.proto
        for _ in range(len(tails)):
            proto.variables.add().domain.extend([0, 1])
        circuit = proto.constraints.add().circuit
        circuit.tails.extend(tails.tolist())
        circuit.heads.extend(heads.tolist())
        circuit.literals.extend(range(len(tails)))
        support = np.flatnonzero(c_int)
        proto.objective.vars.extend(support.tolist())
        proto.objective.coeffs.extend(c_int[support].tolist())
        if self.warm_start and n >= 3:
            order = np.zeros(n, dtype=np.int64)
            scale = np.abs(costs).max()
            normalised = costs if scale == 0 else np.ldexp(costs, -int(np.frexp(scale)[1]))
            _heuristic(np.ascontiguousarray(normalised), order)
            hint = np.zeros((n, n), dtype=np.int64)
            hint[order, np.roll(order, -1)] = 1
            proto.solution_hint.vars.extend(range(len(tails)))
            proto.solution_hint.values.extend(hint[tails, heads].tolist())
        solver = cp_model.CpSolver()
        parameters = solver.parameters
        parameters.num_workers = self.num_workers
        parameters.random_seed = 0
        parameters.presolve_inclusion_work_limit = 0  # see _mip: google/or-tools#5293
        if self.time_limit is not None:
            parameters.max_time_in_seconds = self.time_limit
        status = solver.solve(model)
        if status == cp_model.OPTIMAL:
            chosen = np.fromiter(solver.response_proto.solution, dtype=np.int64, count=len(tails)).astype(bool)
            z = np.zeros((n, n), dtype=np.float64)
            z[tails[chosen], heads[chosen]] = 1.0
            _check_tour(z)
            return z
        if status == cp_model.FEASIBLE:
            raise OracleTimeoutError(
                f"CP-SAT stopped at time_limit={self.time_limit} s without proving a tour optimal (best tour found "
                f"{solver.objective_value:.6g}, lower bound {solver.best_objective_bound:.6g}, in scaled units); "
                "no tour is returned rather than a possibly non-optimal one: raise time_limit", oracle=self.name,
            )
        if status == cp_model.INFEASIBLE:  # impossible for n >= 2 on a complete graph
            raise InfeasibleError("CP-SAT found no tour", oracle=self.name)
        raise OracleTimeoutError(
            f"CP-SAT stopped (status {solver.status_name(status)}, time_limit={self.time_limit} s) without any "
            "tour proved optimal; raise time_limit", oracle=self.name,
        )

    def __repr__(self):
        return (f"TSP(backend={self.backend!r}, layout={self.layout!r}, time_limit={self.time_limit!r}, "
                f"warm_start={self.warm_start!r})")


def _check_tour(z: np.ndarray) -> None:
    """One successor per city and one cycle through all of them."""
    n = z.shape[0]
    if not ((z.sum(axis=0) == 1).all() and (z.sum(axis=1) == 1).all()):
        raise OracleError("CP-SAT returned a solution that is not a permutation")
    successor = np.argmax(z, axis=1)
    city, steps = 0, 0
    while True:
        city, steps = int(successor[city]), steps + 1
        if city == 0:
            break
    if steps != n:
        raise OracleError(f"CP-SAT returned a cycle through {steps} of {n} cities")
