"""The ``shortest_path`` oracle: optimality against enumeration of all simple
paths, agreement with networkx, zero-cost and parallel edges, errors."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import imle_solvers as im
from imle_solvers.oracles import graph as graph_module

BACKENDS = ["scipy", "networkx"]


def random_graph(rng, kind, nodes, edges):
    graph = kind()
    graph.add_nodes_from(range(nodes))
    for _ in range(edges):
        u, v = (int(x) for x in rng.integers(0, nodes, size=2))
        graph.add_edge(u, v)
    return graph


def path_edges_ok(graph, z, source, target):
    """The chosen edges form exactly one simple source -> target path."""
    edges = list(graph.edges(keys=True)) if graph.is_multigraph() else list(graph.edges)
    chosen = [edges[i] for i in np.flatnonzero(z)]
    if source == target:
        return not chosen
    if any(e[0] == e[1] for e in chosen):
        return False
    remaining = list(chosen)
    node, visited = source, {source}
    while node != target:
        step = [e for e in remaining if e[0] == node or (not graph.is_directed() and e[1] == node)]
        if len(step) != 1:
            return False
        edge = step[0]
        remaining.remove(edge)
        node = edge[1] if edge[0] == node else edge[0]
        if node in visited:
            return False
        visited.add(node)
    return not remaining


def brute_force_cost(graph, costs, source, target):
    """The cheapest simple path by enumeration (parallel edges: the cheapest)."""
    edges = list(graph.edges(keys=True)) if graph.is_multigraph() else list(graph.edges)
    pair_cost: dict = {}
    for index, edge in enumerate(edges):
        for pair in [(edge[0], edge[1])] + ([] if graph.is_directed() else [(edge[1], edge[0])]):
            pair_cost[pair] = min(pair_cost.get(pair, np.inf), costs[index])
    if source == target:
        return 0.0
    simple = nx.DiGraph(graph) if graph.is_directed() else nx.Graph(graph)
    best = np.inf
    for path in nx.all_simple_paths(simple, source, target):
        best = min(best, sum(pair_cost[u, v] for u, v in zip(path[:-1], path[1:])))
    return best


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", [nx.Graph, nx.DiGraph, nx.MultiGraph, nx.MultiDiGraph])
def test_optimal_against_all_simple_paths(kind, backend):
    rng = np.random.default_rng(7)
    cases = 0
    for _ in range(40):
        graph = random_graph(rng, kind, nodes=int(rng.integers(2, 7)), edges=int(rng.integers(3, 12)))
        source, target = (int(x) for x in rng.integers(0, graph.number_of_nodes(), size=2))
        if not nx.has_path(graph, source, target):
            continue
        oracle = im.get_oracle("shortest_path", graph=graph, source=source, target=target, backend=backend)
        costs = rng.integers(0, 4, size=(6, graph.number_of_edges())).astype(float)  # zeros and ties
        solutions = oracle(costs)
        for w, z in zip(costs, solutions):
            cases += 1
            assert path_edges_ok(graph, z, source, target), (list(graph.edges), w, z)
            assert w @ z == brute_force_cost(graph, w, source, target)
    assert cases >= 150


@pytest.mark.parametrize("directed", [False, True])
def test_costs_agree_with_networkx_on_larger_graphs(directed):
    rng = np.random.default_rng(11)
    graph = nx.gnm_random_graph(300, 1500, seed=3, directed=directed)
    source, target = 0, 299
    assert nx.has_path(graph, source, target)
    edges = list(graph.edges)
    oracles = {b: im.get_oracle("shortest_path", graph=graph, source=source, target=target, backend=b)
               for b in BACKENDS}
    costs = rng.random((8, len(edges))) * (rng.random((8, len(edges))) > 0.2)  # 20 % zero-cost edges
    for backend, oracle in oracles.items():
        for w, z in zip(costs, oracle(costs)):
            for (u, v), value in zip(edges, w):
                graph[u][v]["w"] = value
            expected = nx.dijkstra_path_length(graph, source, target, weight="w")
            assert w @ z == pytest.approx(expected, rel=1e-12, abs=1e-12), backend
            assert path_edges_ok(graph, z, source, target)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_cost_edges_are_edges(backend):
    # 0 -> 1 -> 2 costs nothing; the direct edge costs 5; 2 -> 3 only via zero.
    graph = nx.DiGraph([(0, 1), (1, 2), (0, 2), (2, 3)])
    oracle = im.get_oracle("shortest_path", graph=graph, source=0, target=3, backend=backend)
    edges = list(graph.edges)
    costs = np.zeros(len(edges))
    costs[edges.index((0, 2))] = 5.0
    z = oracle(costs)
    assert {edges[i] for i in np.flatnonzero(z)} == {(0, 1), (1, 2), (2, 3)}
    all_zero = oracle(np.zeros(len(edges)))
    assert path_edges_ok(graph, all_zero, 0, 3) and all_zero.sum() >= 2


def test_scipy_keeps_explicit_zeros_and_fallback_is_exact(monkeypatch):
    assert graph_module.csgraph_keeps_explicit_zeros()  # documented scipy behaviour, checked here
    rng = np.random.default_rng(5)
    graph = nx.gnm_random_graph(60, 200, seed=1)
    oracle = im.get_oracle("shortest_path", graph=graph, source=0, target=59)
    costs = rng.integers(0, 3, size=(10, graph.number_of_edges())).astype(float)
    direct = oracle(costs)
    # Pretend scipy dropped explicit zeros: instances with a zero cost take the networkx path.
    graph_module.csgraph_keeps_explicit_zeros.cache_clear()
    monkeypatch.setattr(graph_module, "csgraph_keeps_explicit_zeros", lambda: False)
    fallback = oracle(costs)
    np.testing.assert_array_equal((costs * fallback).sum(1), (costs * direct).sum(1))
    for z in fallback:
        assert path_edges_ok(graph, z, 0, 59)


def test_parallel_edges_use_the_cheapest_and_lowest_index_on_ties():
    graph = nx.MultiGraph()
    graph.add_edges_from([(0, 1), (0, 1), (0, 1), (1, 2)])
    edges = list(graph.edges(keys=True))
    for backend in BACKENDS:
        oracle = im.get_oracle("shortest_path", graph=graph, source=2, target=0, backend=backend)
        z = oracle(np.array([[3.0, 1.0, 2.0, 1.0], [2.0, 1.0, 1.0, 0.0]]))
        assert [edges[i] for i in np.flatnonzero(z[0])] == [(0, 1, 1), (1, 2, 0)]
        assert [edges[i] for i in np.flatnonzero(z[1])] == [(0, 1, 1), (1, 2, 0)]


def test_undirected_edges_are_walked_both_ways():
    graph = nx.Graph([(1, 0), (2, 1), (2, 3)])  # stored as (1, 0), (1, 2), (2, 3)
    for backend in BACKENDS:
        forward = im.get_oracle("shortest_path", graph=graph, source=0, target=3, backend=backend)
        backward = im.get_oracle("shortest_path", graph=graph, source=3, target=0, backend=backend)
        np.testing.assert_array_equal(forward(np.ones(3)), [1, 1, 1])
        np.testing.assert_array_equal(backward(np.ones(3)), [1, 1, 1])


def test_ties_are_deterministic_per_backend():
    graph = nx.grid_2d_graph(6, 6)
    costs = np.ones((50, graph.number_of_edges()))  # every monotone path ties
    for backend in BACKENDS:
        oracle = im.get_oracle("shortest_path", graph=graph, source=(0, 0), target=(5, 5), backend=backend)
        first = oracle(costs)
        assert (first == first[0]).all() and first[0].sum() == 10
        np.testing.assert_array_equal(oracle(costs), first)


def test_threads_each_use_their_own_csr():
    graph = nx.gnm_random_graph(200, 800, seed=2)
    rng = np.random.default_rng(3)
    costs = rng.random((64, graph.number_of_edges()))
    expected = im.get_oracle("shortest_path", graph=graph, source=0, target=199)(costs)
    runner = im.ThreadRunner(2, adaptive=False)
    try:
        oracle = im.get_oracle("shortest_path", graph=graph, source=0, target=199, runner=runner)
        for _ in range(5):
            np.testing.assert_array_equal(oracle(costs), expected)
    finally:
        runner.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_path_is_infeasible_with_the_batch_index(backend):
    graph = nx.DiGraph([(0, 1), (2, 1)])
    oracle = im.get_oracle("shortest_path", graph=graph, source=0, target=2, backend=backend)
    with pytest.raises(im.InfeasibleError, match=r"batch index \(0, 0\).*no path from source 0 to target 2") as info:
        oracle(np.ones((2, 3, 2)))
    assert info.value.index == (0, 0) and info.value.oracle == "shortest_path"


def test_source_equals_target_gives_the_empty_path():
    graph = nx.Graph([(0, 1)])
    np.testing.assert_array_equal(im.get_oracle("shortest_path", graph=graph, source=0, target=0)(np.ones(1)), [0])


def test_input_errors():
    graph = nx.path_graph(4)
    oracle = im.get_oracle("shortest_path", graph=graph, source=0, target=3)
    with pytest.raises(im.InvalidInputError, match=r"batch index \(1,\).*non-negative"):
        oracle(np.array([[1.0, 1.0, 1.0], [1.0, -0.5, 1.0]]))
    with pytest.raises(im.InvalidInputError, match=r"expected event shape \(3,\) \(one cost per edge.*found \(4,\)"):
        oracle(np.ones((2, 4)))
    with pytest.raises(im.InvalidInputError, match="expected source to be a node of the graph, but found 7"):
        im.get_oracle("shortest_path", graph=graph, source=7, target=3)
    with pytest.raises(im.InvalidInputError, match="backend"):
        im.get_oracle("shortest_path", graph=graph, source=0, target=3, backend="igraph")
    with pytest.raises(TypeError, match="networkx graph"):
        im.get_oracle("shortest_path", graph=[(0, 1)], source=0, target=1)


def test_graph_changes_after_construction_do_not_leak_in():
    graph = nx.path_graph(3)
    oracle = im.get_oracle("shortest_path", graph=graph, source=0, target=2, backend="networkx")
    graph.add_edge(0, 2)
    np.testing.assert_array_equal(oracle(np.ones(2)), [1, 1])
