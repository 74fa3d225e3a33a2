"""Small exact oracles the estimator tests use, and checks that they are exact.

* :func:`grid_path` — Warcraft-style shortest path on a vertex-weighted k x m
  grid, 8-neighbourhood, top-left to bottom-right, Dijkstra (sense "min",
  non-negative costs); checked against networkx.
* :func:`brute_force_knapsack` — a max-sense oracle with per-instance ``weights``
  and ``capacity`` (brute force over subsets, for a handful of items);
  checked against scipy's MILP solver.
"""

from __future__ import annotations

import heapq
import itertools

import networkx as nx
import numpy as np
import pytest

import imle_solvers as im
from imle_solvers.oracles import FunctionOracle

NEIGHBOURS = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]


def grid_path(costs: np.ndarray) -> np.ndarray:
    """The cells of a cheapest top-left to bottom-right path (vertex costs, 8 neighbours)."""
    rows, cols = costs.shape
    dist = np.full((rows, cols), np.inf)
    previous: dict[tuple[int, int], tuple[int, int]] = {}
    dist[0, 0] = costs[0, 0]
    heap = [(costs[0, 0], 0, 0)]
    while heap:
        d, i, j = heapq.heappop(heap)
        if d > dist[i, j]:
            continue
        if (i, j) == (rows - 1, cols - 1):
            break
        for di, dj in NEIGHBOURS:
            a, b = i + di, j + dj
            if 0 <= a < rows and 0 <= b < cols and d + costs[a, b] < dist[a, b]:
                dist[a, b] = d + costs[a, b]
                previous[a, b] = (i, j)
                heapq.heappush(heap, (dist[a, b], a, b))
    path = np.zeros_like(costs, dtype=np.float64)
    node = (rows - 1, cols - 1)
    while True:
        path[node] = 1.0
        if node == (0, 0):
            return path
        node = previous[node]


def grid_oracle() -> FunctionOracle:
    return FunctionOracle(grid_path, name="test_grid", sense="min", event_ndim=2, nonnegative=True)


def brute_force_knapsack(theta: np.ndarray, weights: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Maximise <theta, z> s.t. <weights, z> <= capacity over z in {0,1}^n by brute force
    (n is small in the tests)."""
    n = theta.shape[0]
    best, best_value = np.zeros(n), 0.0
    for size in range(1, n + 1):
        for subset in itertools.combinations(range(n), size):
            idx = list(subset)
            if weights[idx].sum() <= capacity and theta[idx].sum() > best_value:
                best_value = theta[idx].sum()
                best = np.zeros(n)
                best[idx] = 1.0
    return best


def knapsack_oracle() -> FunctionOracle:
    return FunctionOracle(
        brute_force_knapsack, name="test_knapsack", sense="max", event_ndim=1,
        instance_data={"weights": 1, "capacity": 0},
    )


def shortest_path_grid_oracles() -> list:
    """The test's Dijkstra and the built-in ``shortest_path_grid`` (which must exist)."""
    return ["test_dijkstra", "builtin"]


def make_grid_oracle(which: str):
    return grid_oracle() if which == "test_dijkstra" else im.get_oracle("shortest_path_grid")


def test_grid_path_matches_networkx(rng):
    for rows, cols in [(1, 1), (1, 4), (5, 5), (7, 4)]:
        costs = rng.uniform(0.1, 5.0, size=(rows, cols))
        graph = nx.DiGraph()
        for i, j in itertools.product(range(rows), range(cols)):
            for di, dj in NEIGHBOURS:
                a, b = i + di, j + dj
                if 0 <= a < rows and 0 <= b < cols:
                    graph.add_edge((i, j), (a, b), weight=costs[a, b])
        graph.add_node((0, 0))
        expected = costs[0, 0] + nx.shortest_path_length(graph, (0, 0), (rows - 1, cols - 1), weight="weight")
        path = grid_path(costs)
        assert path[0, 0] == 1 and path[-1, -1] == 1
        assert np.isclose((path * costs).sum(), expected)


def test_grid_oracle_refuses_negative_costs():
    with pytest.raises(im.InvalidInputError, match="non-negative"):
        grid_oracle()(-np.ones((2, 3, 3)))


def test_knapsack_matches_milp(rng):
    from scipy.optimize import Bounds, LinearConstraint, milp

    for _ in range(5):
        theta = rng.normal(size=6)
        weights = rng.uniform(0.5, 2.0, size=6)
        z = brute_force_knapsack(theta, weights, 2.5)
        reference = milp(-theta, constraints=LinearConstraint(weights[None], -np.inf, 2.5),
                         integrality=np.ones(6), bounds=Bounds(0, 1))
        assert (weights * z).sum() <= 2.5
        assert np.isclose((theta * z).sum(), -reference.fun, atol=1e-9)
