"""How to build, and how to check, every registered built-in oracle.

One table, ``CASES``, drives the suites that run over every oracle
(``tests/test_conformance.py``, ``tests/test_properties.py``). Every name in
``registry._BUILTINS`` needs an entry with a checker; a built-in without one
fails ``test_every_builtin_has_a_case`` and ``test_every_builtin_has_a_checker``,
so a new oracle must add its own here.

A :class:`Case` says how to make a small valid batch (``theta``, ``data``),
optionally one with another event size (``sized``), and how to check a
solution (``check``): feasibility, and optimality against an independent
reference (brute force, networkx) up to a stated tolerance. Checkers work on
flattened float64 arrays ``(n, *event)`` and raise ``AssertionError`` naming
the instance.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

EPS = 2.0**-52


@dataclass
class Case:
    """``options`` go to get_oracle; ``theta(rng, batch_shape)`` and
    ``data(rng, batch_shape)`` make a valid batch.

    ``sized(rng, batch_shape, size)`` makes a batch whose event size depends
    on ``size`` (0, 1, 2, ...) for oracles that read their event shape from
    the input; sizes below ``min_size`` (an int, or a function of the
    oracle) must be refused with InvalidInputError. ``check(oracle, theta, data, z)`` asserts that every
    solution ``z[i]`` is feasible and optimal for ``theta[i]``, ``data[i]``.
    ``overflow(theta_i, data_i)`` is True for an instance on which the oracle
    documents an OracleError because its float64 arithmetic overflows.
    ``data_scales`` are the factors the property suite may multiply the
    instance data by (powers of two keep integer data exact).
    """

    theta: Callable[[np.random.Generator, tuple], np.ndarray]
    options: dict[str, Any] = field(default_factory=dict)
    data: Callable[[np.random.Generator, tuple], dict] = lambda rng, batch: {}
    check: Callable[..., None] | None = None
    sized: Callable[[np.random.Generator, tuple, int], tuple[np.ndarray, dict]] | None = None
    min_size: int | Callable[[Any], int] = 1
    overflow: Callable[[np.ndarray, dict], bool] | None = None
    data_scales: tuple[float, ...] = (1.0,)


# ---------------------------------------------------------------------- #
# Helpers for checkers
# ---------------------------------------------------------------------- #
def normalised(values: np.ndarray) -> np.ndarray:
    """``values * 2**-e`` with the largest magnitude in [0.5, 1): exact
    (powers of two), so comparisons and sums cannot overflow."""
    values = np.asarray(values, dtype=np.float64)
    largest = np.abs(values).max(initial=0.0)
    if largest == 0:
        return values.copy()
    return np.ldexp(values, -int(np.frexp(largest)[1]))


def dot(a: np.ndarray, z: np.ndarray) -> float:
    """``<a, z>`` correctly rounded (math.fsum)."""
    return math.fsum((np.asarray(a, np.float64) * np.asarray(z, np.float64)).ravel().tolist())


def assert_binary(z: np.ndarray, i: int) -> None:
    assert np.isin(z, (0.0, 1.0)).all(), f"instance {i}: expected a 0/1 solution, found values {np.unique(z)}"


def _sorted_selection(theta, z, i, count):
    assert_binary(z, i)
    assert z.sum() == count, f"instance {i}: expected {count} selected items, found {z.sum()}"
    if 0 < count < len(theta):
        assert theta[z == 1].min() >= theta[z == 0].max(), f"instance {i}: a better item was left out: {theta}, {z}"


# ---------------------------------------------------------------------- #
# Checkers
# ---------------------------------------------------------------------- #
def check_topk(oracle, theta, data, z):
    for i in range(theta.shape[0]):
        _sorted_selection(theta[i], z[i], i, oracle.k)


def check_onehot(oracle, theta, data, z):
    for i in range(theta.shape[0]):
        _sorted_selection(theta[i], z[i], i, 1)


def check_ranking(oracle, theta, data, z):
    if getattr(oracle, "output", "ranks") == "permutation":  # P[i, j] = 1 iff item j is at position i
        for i in range(theta.shape[0]):
            n = theta.shape[1]
            assert_binary(z[i], i)
            assert (z[i].sum(0) == 1).all() and (z[i].sum(1) == 1).all(), f"instance {i}: not a permutation matrix"
            assert (np.diff(theta[i][np.argmax(z[i], axis=1)]) <= 0).all(), f"instance {i}: not sorted descending"
        return
    for i in range(theta.shape[0]):
        n = theta.shape[1]
        assert sorted(z[i].tolist()) == list(range(1, n + 1)), f"instance {i}: not a ranking: {z[i]}"
        by_rank = theta[i][np.argsort(-z[i])]  # scores from the highest rank down
        assert (np.diff(by_rank) <= 0).all(), f"instance {i}: ranks {z[i]} do not follow scores {theta[i]}"


def check_matching(oracle, theta, data, z, rtol=1e-9):
    for i in range(theta.shape[0]):
        rows, cols = theta.shape[1:]
        assert_binary(z[i], i)
        assert (z[i].sum(0) <= 1).all() and (z[i].sum(1) <= 1).all(), f"instance {i}: not a matching: {z[i]}"
        assert z[i].sum() == min(rows, cols), f"instance {i}: expected {min(rows, cols)} pairs, found {z[i].sum()}"
        scores = normalised(theta[i])
        if rows <= cols:
            best = max(math.fsum(scores[r, c] for r, c in enumerate(p)) for p in itertools.permutations(range(cols), rows))
        else:
            best = max(math.fsum(scores[r, c] for c, r in enumerate(p)) for p in itertools.permutations(range(rows), cols))
        assert dot(scores, z[i]) >= best - rtol * scores.size, f"instance {i}: matching value below the optimum"


def _edge_path_ok(oracle, selected):
    """The selected edges form exactly one simple source-target path."""
    graph = nx.MultiDiGraph() if oracle.directed else nx.MultiGraph()
    graph.add_nodes_from(oracle.nodes)
    for index in selected:
        edge = oracle.edges[index]
        graph.add_edge(edge[0], edge[1])
    if oracle.source == oracle.target:
        return len(selected) == 0
    try:
        hops = nx.shortest_path_length(graph, oracle.source, oracle.target)
    except nx.NetworkXNoPath:
        return False
    return hops == len(selected)  # a simple path of len(selected) hops uses every selected edge


def check_shortest_path(oracle, theta, data, z, rtol=1e-12):
    for i in range(theta.shape[0]):
        assert_binary(z[i], i)
        assert _edge_path_ok(oracle, np.flatnonzero(z[i]).tolist()), f"instance {i}: not a source-target path"
        costs = normalised(theta[i])
        reference = nx.MultiDiGraph() if oracle.directed else nx.MultiGraph()
        for index, edge in enumerate(oracle.edges):
            reference.add_edge(edge[0], edge[1], weight=costs[index])
        if (costs < 0).any():  # acyclic graphs only
            best = nx.bellman_ford_path_length(reference, oracle.source, oracle.target)
        else:
            best = nx.dijkstra_path_length(reference, oracle.source, oracle.target)
        assert dot(costs, z[i]) <= best + rtol * costs.size, f"instance {i}: path longer than the shortest"


def check_spanning_tree(oracle, theta, data, z, rtol=1e-12):
    for i in range(theta.shape[0]):
        assert_binary(z[i], i)
        graph = nx.MultiGraph()
        graph.add_nodes_from(oracle.nodes)
        for index in np.flatnonzero(z[i]):
            graph.add_edge(*oracle.edges[index][:2])
        assert nx.is_tree(graph), f"instance {i}: the selected edges are not a spanning tree"
        weights = normalised(theta[i])
        reference = nx.MultiGraph()
        for index, edge in enumerate(oracle.edges):
            reference.add_edge(edge[0], edge[1], weight=weights[index])
        build = nx.minimum_spanning_tree if oracle.sense == "min" else nx.maximum_spanning_tree
        best = math.fsum(w for *_, w in build(reference).edges(data="weight"))
        value = dot(weights, z[i])
        ok = value <= best + rtol * weights.size if oracle.sense == "min" else value >= best - rtol * weights.size
        assert ok, f"instance {i}: tree weight {value} vs optimum {best}"


# CP-SAT's documented bound for a rounded objective: 2**-29 * max|theta| per unit of sum_j max(|l_j|, |u_j|).
CPSAT_RTOL = 2.0**-29


def check_knapsack(oracle, theta, data, z):
    """One capacity dimension (weights (m, n), capacity (m,)) or d (weights (m, d, n), capacity (m, d))."""
    weights, capacity = data["weights"], data["capacity"]
    if weights.ndim == 2:
        weights, capacity = weights[:, None, :], capacity[:, None]
    for i in range(theta.shape[0]):
        assert_binary(z[i], i)
        chosen = z[i] == 1
        assert (theta[i][chosen] > 0).all(), f"instance {i}: an item with a non-positive value was selected"
        for row, limit in zip(weights[i], capacity[i]):
            # the oracle's feasibility rule: sum <= C * (1 + 1e-9)
            assert math.fsum(row[chosen].tolist()) <= limit * (1 + 1e-9), f"instance {i}: over capacity"
        values = normalised(theta[i])
        best = 0.0
        for subset in itertools.product((0.0, 1.0), repeat=theta.shape[1]):
            subset = np.array(subset)
            if all(math.fsum((row * subset).tolist()) <= limit * (1 + 1e-9)
                   for row, limit in zip(weights[i], capacity[i])):
                best = max(best, dot(values, subset))
        assert dot(values, z[i]) >= best - CPSAT_RTOL * theta.shape[1], f"instance {i}: knapsack value below the optimum"


def check_ilp(oracle, theta, data, z):
    merged = {**{k: np.broadcast_to(v, (theta.shape[0], *v.shape)) for k, v in oracle.fixed.items()}, **data}
    n = theta.shape[1]
    lower = np.broadcast_to(oracle.lower, (n,))
    upper = np.broadcast_to(oracle.upper, (n,))
    grid = np.array(list(itertools.product(*[range(int(lo), int(hi) + 1) for lo, hi in zip(lower, upper)])), float)
    sign = 1.0 if oracle.sense == "max" else -1.0
    for i in range(theta.shape[0]):
        assert np.array_equal(z[i], np.round(z[i])) and (z[i] >= lower).all() and (z[i] <= upper).all(), \
            f"instance {i}: not an integer point within the bounds: {z[i]}"
        feasible = np.ones(len(grid), bool)
        for a_key, b_key, equality in (("A_ub", "b_ub", False), ("A_eq", "b_eq", True)):
            if a_key not in merged:
                continue
            a, b = merged[a_key][i], merged[b_key][i]
            activity = np.array([[math.fsum((row * point).tolist()) for row in a] for point in grid]).reshape(len(grid), -1)
            feasible &= ((activity == b) if equality else (activity <= b)).all(axis=1)
            mine = np.array([math.fsum((row * z[i]).tolist()) for row in a])
            assert ((mine == b) if equality else (mine <= b)).all(), f"instance {i}: violates {a_key}"
        objective = normalised(theta[i]) * sign
        best = max(dot(objective, point) for point in grid[feasible])
        magnitude = np.maximum(np.abs(lower), np.abs(upper)).sum()
        assert dot(objective, z[i]) >= best - CPSAT_RTOL * magnitude, f"instance {i}: objective below the optimum"


def _tours(n):
    """Successor matrices of every tour on n cities (city 0 first: (n - 1)! of them)."""
    for rest in itertools.permutations(range(1, n)):
        order = (0, *rest)
        z = np.zeros((n, n))
        z[list(order), list(order[1:] + order[:1])] = 1.0
        yield z


def _tsp_solutions(theta):
    """Every tour, as a successor matrix (theta (n, n)) or as PyEPO's edge vector (theta (n (n - 1) / 2,))."""
    if theta.ndim == 2:
        yield from _tours(theta.shape[0])
        return
    n = int(round((1 + math.sqrt(1 + 8 * theta.shape[0])) / 2))
    rows, cols = np.triu_indices(n, k=1)  # itertools.combinations(range(n), 2) order
    for tour in _tours(n):
        yield np.maximum(tour[rows, cols], tour[cols, rows])


def check_tsp(oracle, theta, data, z):
    """Edge layout: the tour's undirected edges; matrix layout: a successor matrix. Optimal against brute force."""
    for i in range(theta.shape[0]):
        assert_binary(z[i], i)
        if getattr(oracle, "layout", "matrix") == "edges":
            n = int(round((1 + math.sqrt(1 + 8 * theta.shape[1])) / 2))
            rows, cols = np.triu_indices(n, k=1)
            costs = np.zeros((n, n))
            costs[rows, cols] = costs[cols, rows] = normalised(theta[i])
            chosen = z[i] == 1
            degree = np.bincount(np.concatenate([rows[chosen], cols[chosen]]), minlength=n)
            assert chosen.sum() == n and (degree == 2).all(), f"instance {i}: not a tour: degrees {degree}"
            assert nx.is_connected(nx.Graph(list(zip(rows[chosen], cols[chosen])))), f"instance {i}: subtours"
            value = dot(normalised(theta[i]), z[i])
        else:
            n = theta.shape[1]
            assert (z[i].sum(0) == 1).all() and (z[i].sum(1) == 1).all(), f"instance {i}: not a permutation"
            successor, city, steps = np.argmax(z[i], axis=1), 0, 0
            while True:
                city, steps = int(successor[city]), steps + 1
                if city == 0:
                    break
            assert steps == n, f"instance {i}: a cycle through {steps} of {n} cities"
            costs = normalised(np.where(np.eye(n, dtype=bool), 0.0, theta[i]))
            value = dot(costs, z[i])
        best = min(dot(costs, tour) for tour in _tours(n))
        assert value <= best + CPSAT_RTOL * n * 2, f"instance {i}: tour cost {value} above the optimum {best}"


def _grid_distance(costs: np.ndarray, neighbourhood: int) -> float:
    """Cheapest top-left to bottom-right vertex-weighted path cost (Dijkstra)."""
    k = costs.shape[0]
    steps = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (dr, dc) != (0, 0)]
    if neighbourhood == 4:
        steps = [(dr, dc) for dr, dc in steps if abs(dr) + abs(dc) == 1]
    best = {(0, 0): costs[0, 0]}
    heap = [(costs[0, 0], (0, 0))]
    while heap:
        distance, (r, c) = heapq.heappop(heap)
        if distance > best[r, c]:
            continue
        for dr, dc in steps:
            rr, cc = r + dr, c + dc
            if 0 <= rr < k and 0 <= cc < k and distance + costs[rr, cc] < best.get((rr, cc), math.inf):
                best[rr, cc] = distance + costs[rr, cc]
                heapq.heappush(heap, (best[rr, cc], (rr, cc)))
    return best[k - 1, k - 1]


def check_grid_path(oracle, theta, data, z, rtol=1e-12):
    neighbourhood = getattr(oracle, "neighbourhood", 8)
    for i in range(theta.shape[0]):
        cells = z[i]
        k = cells.shape[0]
        assert_binary(cells, i)
        assert cells[0, 0] == 1 and cells[-1, -1] == 1, f"instance {i}: the path misses a corner"
        # the cells must be exactly one path: a BFS over them reaches the target in (count - 1) steps
        graph = nx.grid_2d_graph(k, k)
        if neighbourhood == 8:
            graph.add_edges_from(((r, c), (r + 1, c + dc)) for r in range(k - 1) for c in range(k)
                                 for dc in (-1, 1) if 0 <= c + dc < k)
        on_path = graph.subgraph([tuple(p) for p in np.argwhere(cells == 1)])
        try:
            hops = nx.shortest_path_length(on_path, (0, 0), (k - 1, k - 1))
        except nx.NetworkXNoPath:
            raise AssertionError(f"instance {i}: the cells are not connected") from None
        assert hops == cells.sum() - 1, f"instance {i}: the cells are not a single path"
        costs = normalised(theta[i])
        best = _grid_distance(costs, neighbourhood)
        assert dot(costs, cells) <= best + rtol * costs.size, f"instance {i}: path longer than the shortest"


def _grid_overflows(theta, data) -> bool:
    # The grid oracle documents an OracleError when its float64 path sums overflow.
    return not np.isfinite(np.asarray(theta, np.float64).sum())


# ---------------------------------------------------------------------- #
# Builders
# ---------------------------------------------------------------------- #
def _scores(*event):
    return lambda rng, batch: rng.normal(size=(*batch, *event))


def _costs(*event):
    return lambda rng, batch: rng.integers(0, 4, size=(*batch, *event)).astype(float)  # ties and zeros


GRID_GRAPH = nx.grid_2d_graph(3, 3)
# PyEPO's 3 x 3 shortest-path grid: arcs east and south in PyEPO's order; acyclic, 12 arcs like GRID_GRAPH's edges.
PYEPO_ARCS_3X3 = [(0, 1), (1, 2), (0, 3), (1, 4), (2, 5), (3, 4), (4, 5), (3, 6), (4, 7), (5, 8), (6, 7), (7, 8)]
SPANNING_GRAPH = nx.petersen_graph()


def _knapsack_data(rng, batch, n=7):
    return {"weights": rng.integers(0, 6, size=(*batch, n)).astype(float),
            "capacity": rng.integers(0, 15, size=batch).astype(float)}


def _knapsack_data_2d(rng, batch, n=7):
    """Two capacity dimensions, per instance: weights (*batch, 2, n), capacity (*batch, 2)."""
    return {"weights": rng.integers(0, 6, size=(*batch, 2, n)).astype(float),
            "capacity": rng.integers(0, 15, size=(*batch, 2)).astype(float)}


def _ilp_data(rng, batch, n=6):
    return {"A_ub": rng.integers(-2, 4, size=(*batch, 3, n)).astype(float),
            "b_ub": rng.integers(1, 6, size=(*batch, 3)).astype(float)}


def _knapsack_values(rng, batch, n=7):
    return rng.integers(-1, 6, size=(*batch, n)).astype(float)


CASES: dict[str, Case] = {
    "topk": Case(_scores(6), {"k": 2}, check=check_topk,
                 sized=lambda rng, batch, size: (rng.normal(size=(*batch, size)), {}),
                 min_size=lambda oracle: oracle.k),
    "onehot": Case(_scores(6), check=check_onehot,
                   sized=lambda rng, batch, size: (rng.normal(size=(*batch, size)), {})),
    "ranking": Case(_scores(6), check=check_ranking,
                    sized=lambda rng, batch, size: (rng.normal(size=(*batch, size)), {})),
    "matching": Case(_scores(3, 4), check=check_matching,
                     sized=lambda rng, batch, size: (rng.normal(size=(*batch, size, 3)), {})),
    "shortest_path": Case(_costs(GRID_GRAPH.number_of_edges()),
                          {"graph": GRID_GRAPH, "source": (0, 0), "target": (2, 2)}, check=check_shortest_path),
    "spanning_tree": Case(_costs(SPANNING_GRAPH.number_of_edges()), {"graph": SPANNING_GRAPH},
                          check=check_spanning_tree),
    "knapsack": Case(_knapsack_values, data=_knapsack_data, check=check_knapsack,
                     sized=lambda rng, batch, size: (_knapsack_values(rng, batch, size), _knapsack_data(rng, batch, size)),
                     min_size=0, data_scales=(1.0, 2.0**100, 2.0**-100)),
    "ilp": Case(_scores(6), data=_ilp_data, check=check_ilp,
                sized=lambda rng, batch, size: (rng.normal(size=(*batch, size)), _ilp_data(rng, batch, size)),
                data_scales=(1.0, 2.0**100, 2.0**-100)),
    "tsp": Case(lambda rng, batch: rng.integers(-2, 9, size=(*batch, 6, 6)).astype(float), check=check_tsp,
                sized=lambda rng, batch, size: (rng.integers(-2, 9, size=(*batch, size, size)).astype(float), {}),
                min_size=2),
    "shortest_path_grid": Case(lambda rng, batch: rng.random((*batch, 5, 5)), check=check_grid_path,
                               sized=lambda rng, batch, size: (rng.random((*batch, size, size)), {}),
                               overflow=_grid_overflows),
}


def _tsp_edges(rng, batch, n=5):
    """PyEPO's layout: one cost per undirected edge, n (n - 1) / 2 of them."""
    return rng.integers(-2, 9, size=(*batch, n * (n - 1) // 2)).astype(float)


# Other data layouts of a built-in, checked by the same suites: (name, options, case).
CASE_VARIANTS: list[tuple[str, dict, Case]] = [
    ("tsp", {"layout": "edges"}, Case(_tsp_edges, {"layout": "edges"}, check=check_tsp,
                                      sized=lambda rng, batch, size: (_tsp_edges(rng, batch, size), {}), min_size=3)),
    ("knapsack", {"dims": 2}, Case(_knapsack_values, {"dims": 2}, data=_knapsack_data_2d, check=check_knapsack,
                                   sized=lambda rng, batch, size: (_knapsack_values(rng, batch, size),
                                                                   _knapsack_data_2d(rng, batch, size)),
                                   min_size=0, data_scales=(1.0, 2.0**100, 2.0**-100))),
]


# ---------------------------------------------------------------------- #
# Brute-force enumerators of the feasible solutions, per built-in
# ---------------------------------------------------------------------- #
def _indicators(n, sets):
    for chosen in sets:
        z = np.zeros(n)
        z[list(chosen)] = 1.0
        yield z


def _topk(k):
    return lambda theta: _indicators(theta.shape[0], itertools.combinations(range(theta.shape[0]), k))


def _onehot(theta):
    return _indicators(theta.shape[0], ([i] for i in range(theta.shape[0])))


def _ranking(theta):
    n = theta.shape[0]
    for ranks in itertools.permutations(range(1, n + 1)):
        yield np.array(ranks, dtype=float)


def _matching(theta):
    rows, cols = theta.shape
    if rows <= cols:
        for columns in itertools.permutations(range(cols), rows):
            z = np.zeros((rows, cols))
            z[np.arange(rows), columns] = 1.0
            yield z
    else:
        for rows_ in itertools.permutations(range(rows), cols):
            z = np.zeros((rows, cols))
            z[rows_, np.arange(cols)] = 1.0
            yield z


def _edge_paths(graph, source, target):
    """Edge indicators (in list(graph.edges) order) of the simple s-t paths."""
    index = {}
    for i, (u, v) in enumerate(graph.edges):
        index.setdefault((u, v), i)
        if not graph.is_directed():
            index.setdefault((v, u), i)

    def enumerate_paths(theta):
        for nodes in nx.all_simple_paths(graph, source, target):
            z = np.zeros(graph.number_of_edges())
            z[[index[(u, v)] for u, v in zip(nodes, nodes[1:])]] = 1.0
            yield z

    return enumerate_paths


def _spanning_trees(graph):
    edges = list(graph.edges)
    nodes = {node: i for i, node in enumerate(graph.nodes)}

    def is_tree(chosen):
        parent = list(range(len(nodes)))

        def find(a):
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        for e in chosen:
            a, b = find(nodes[edges[e][0]]), find(nodes[edges[e][1]])
            if a == b:
                return False
            parent[a] = b
        return True

    trees = [c for c in itertools.combinations(range(len(edges)), len(nodes) - 1) if is_tree(c)]
    return lambda theta: _indicators(len(edges), trees)


def _knapsack(theta, weights, capacity):
    n = theta.shape[0]
    for bits in itertools.product((0.0, 1.0), repeat=n):
        z = np.array(bits)
        if np.all(weights @ z <= capacity):  # one dimension (n,) and () or d: (d, n) and (d,)
            yield z


def _ilp(theta, A_ub, b_ub):
    for bits in itertools.product((0.0, 1.0), repeat=theta.shape[0]):
        z = np.array(bits)
        if np.all(A_ub @ z <= b_ub):
            yield z


def _grid_paths(k):
    """Cell indicators of the simple top-left -> bottom-right king-move paths."""
    graph = nx.Graph()
    for r, c in itertools.product(range(k), repeat=2):
        for dr, dc in itertools.product((-1, 0, 1), repeat=2):
            if (dr, dc) != (0, 0) and 0 <= r + dr < k and 0 <= c + dc < k:
                graph.add_edge((r, c), (r + dr, c + dc))
    paths = []
    for nodes in nx.all_simple_paths(graph, (0, 0), (k - 1, k - 1)):
        z = np.zeros((k, k))
        for r, c in nodes:
            z[r, c] = 1.0
        paths.append(z)
    return lambda theta: iter(paths)


def _options(name):
    return CASES[name].options


ENUMERATORS = {
    "topk": lambda: _topk(_options("topk")["k"]),
    "onehot": lambda: _onehot,
    "ranking": lambda: _ranking,
    "matching": lambda: _matching,
    "shortest_path": lambda: _edge_paths(_options("shortest_path")["graph"], _options("shortest_path")["source"],
                                         _options("shortest_path")["target"]),
    "spanning_tree": lambda: _spanning_trees(_options("spanning_tree")["graph"]),
    "knapsack": lambda: _knapsack,
    "ilp": lambda: _ilp,
    "tsp": lambda: _tsp_solutions,
}
# Grids: the conformance case is 5 x 5, too many paths to list; optimality runs on 3 x 3 maps.
GRID_OPTIMALITY_K = 3
