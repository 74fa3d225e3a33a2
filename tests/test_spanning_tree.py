"""The ``spanning_tree`` oracle: optimality against enumeration of every
spanning tree, the tie rule, networkx agreement, errors."""

from __future__ import annotations

from itertools import combinations

import networkx as nx
import numpy as np
import pytest

import imle_solvers as im


def is_spanning_tree(num_nodes, ends, chosen):
    parent = list(range(num_nodes))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for e in chosen:
        a, b = find(ends[e][0]), find(ends[e][1])
        if a == b:
            return False
        parent[a] = b
    return len(chosen) == num_nodes - 1


def brute_force(graph, weights, sense):
    nodes = {node: i for i, node in enumerate(graph.nodes)}
    edges = list(graph.edges(keys=True)) if graph.is_multigraph() else list(graph.edges)
    ends = [(nodes[e[0]], nodes[e[1]]) for e in edges]
    values = [weights[list(subset)].sum() for subset in combinations(range(len(edges)), len(nodes) - 1)
              if is_spanning_tree(len(nodes), ends, subset)]
    return (min if sense == "min" else max)(values), ends


@pytest.mark.parametrize("sense", ["min", "max"])
@pytest.mark.parametrize("kind", [nx.Graph, nx.MultiGraph])
def test_optimal_against_every_spanning_tree(sense, kind):
    rng = np.random.default_rng(17)
    cases = 0
    while cases < 150:
        nodes = int(rng.integers(2, 6))
        graph = kind()
        graph.add_nodes_from(range(nodes))
        nx.add_path(graph, rng.permutation(nodes).tolist())  # connected
        for _ in range(int(rng.integers(0, 5))):
            graph.add_edge(*(int(x) for x in rng.integers(0, nodes, size=2)))  # self-loops, parallels
        oracle = im.get_oracle("spanning_tree", graph=graph, sense=sense)
        weights = rng.integers(-2, 3, size=(5, graph.number_of_edges())).astype(float)  # ties, zeros, negatives
        for w, z in zip(weights, oracle(weights)):
            best, ends = brute_force(graph, w, sense)
            assert is_spanning_tree(nodes, ends, np.flatnonzero(z).tolist())
            assert w @ z == best
            cases += 1


def test_ties_prefer_lower_edge_indices():
    graph = nx.complete_graph(4)  # edges (0,1) (0,2) (0,3) (1,2) (1,3) (2,3)
    for sense in ("min", "max"):
        oracle = im.get_oracle("spanning_tree", graph=graph, sense=sense)
        np.testing.assert_array_equal(oracle(np.zeros(6)), [1, 1, 1, 0, 0, 0])
        np.testing.assert_array_equal(oracle(np.array([1.0, 0, 0, 1, 1, 0])) if sense == "max" else
                                      oracle(np.array([0.0, 1, 1, 0, 0, 1])), [1, 0, 0, 1, 1, 0])


@pytest.mark.parametrize("sense", ["min", "max"])
def test_weight_agrees_with_networkx_on_larger_graphs(sense):
    rng = np.random.default_rng(2)
    graph = nx.connected_watts_strogatz_graph(400, 6, 0.3, seed=4)
    oracle = im.get_oracle("spanning_tree", graph=graph, sense=sense)
    weights = rng.normal(size=(6, graph.number_of_edges()))
    weights[:, ::7] = 0.0
    for w, z in zip(weights, oracle(weights)):
        for (u, v), value in zip(graph.edges, w):
            graph[u][v]["w"] = value
        tree = (nx.minimum_spanning_tree if sense == "min" else nx.maximum_spanning_tree)(graph, weight="w")
        assert z.sum() == 399
        assert w @ z == pytest.approx(tree.size(weight="w"), abs=1e-9)


def test_disconnected_graph_is_infeasible_with_the_batch_index():
    graph = nx.Graph([(0, 1), (2, 3)])
    with pytest.raises(im.InfeasibleError, match=r"batch index \(0,\).*not connected") as info:
        im.get_oracle("spanning_tree", graph=graph)(np.ones((3, 2)))
    assert info.value.index == (0,) and info.value.oracle == "spanning_tree"


def test_input_errors():
    with pytest.raises(im.InvalidInputError, match="undirected"):
        im.get_oracle("spanning_tree", graph=nx.DiGraph([(0, 1)]))
    with pytest.raises(im.InvalidInputError, match="sense"):
        im.get_oracle("spanning_tree", graph=nx.path_graph(3), sense="maximum")
    with pytest.raises(im.InvalidInputError, match="at least one edge"):
        im.get_oracle("spanning_tree", graph=nx.empty_graph(3))
    oracle = im.get_oracle("spanning_tree", graph=nx.path_graph(3))
    with pytest.raises(im.InvalidInputError, match=r"expected event shape \(2,\)"):
        oracle(np.ones(3))
    assert oracle.sense == "min" and im.get_oracle("spanning_tree", graph=nx.path_graph(3), sense="max").sense == "max"
