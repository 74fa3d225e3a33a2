"""The ``shortest_path`` oracle: optimality against enumeration of all simple
paths, agreement with networkx, zero-cost and parallel edges, errors."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import imle_solvers as im
from imle_solvers.oracles import graph as graph_module

BACKENDS = ["numba", "scipy", "networkx"]


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
    """The cheapest simple path by enumeration (parallel edges: the cheapest;
    self-loops are never on a simple path)."""
    edges = list(graph.edges(keys=True)) if graph.is_multigraph() else list(graph.edges)
    pair_cost: dict = {}
    for index, edge in enumerate(edges):
        if edge[0] == edge[1]:
            continue
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
    oracle = im.get_oracle("shortest_path", graph=graph, source=0, target=59, backend="scipy")
    costs = rng.integers(0, 3, size=(10, graph.number_of_edges())).astype(float)
    direct = oracle(costs)
    # Pretend scipy dropped explicit zeros: instances with a zero cost take the networkx path.
    graph_module.csgraph_keeps_explicit_zeros.cache_clear()
    monkeypatch.setattr(graph_module, "csgraph_keeps_explicit_zeros", lambda: False)
    fallback = oracle(costs)
    np.testing.assert_array_equal(fallback, direct)  # one tie rule: the same paths, not only the same costs
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
    with pytest.raises(im.InvalidInputError, match=r"batch index \(1,\).*non-negative.*every undirected edge"):
        oracle(np.array([[1.0, 1.0, 1.0], [1.0, -0.5, 1.0]]))
    with pytest.raises(im.InvalidInputError, match=r"expected event shape \(3,\) \(one cost per edge.*found \(4,\)"):
        oracle(np.ones((2, 4)))
    with pytest.raises(im.InvalidInputError, match="expected source to be a node of the graph, but found 7"):
        im.get_oracle("shortest_path", graph=graph, source=7, target=3)
    with pytest.raises(im.InvalidInputError, match="backend"):
        im.get_oracle("shortest_path", graph=graph, source=0, target=3, backend="igraph")
    with pytest.raises(TypeError, match="networkx graph or a non-empty sequence of \\(u, v\\) arcs"):
        im.get_oracle("shortest_path", graph=[(0, 1, 2)], source=0, target=1)
    with pytest.raises(TypeError, match="networkx graph"):
        im.get_oracle("shortest_path", graph=7, source=0, target=1)


def test_graph_changes_after_construction_do_not_leak_in():
    graph = nx.path_graph(3)
    oracle = im.get_oracle("shortest_path", graph=graph, source=0, target=2, backend="networkx")
    graph.add_edge(0, 2)
    np.testing.assert_array_equal(oracle(np.ones(2)), [1, 1])


# ---------------------------------------------------------------------- #
# One tie rule on every backend; negative costs on acyclic graphs
# ---------------------------------------------------------------------- #
def pyepo_grid(rows=5, cols=5):
    """PyEPO's shortest-path grid: arcs east and south, in PyEPO's order
    (``pyepo.model.utils._get_grid_arcs``), nodes numbered row by row."""
    arcs = []
    for i in range(rows):
        arcs += [(i * cols + j, i * cols + j + 1) for j in range(cols - 1)]
        if i < rows - 1:
            arcs += [(i * cols + j, (i + 1) * cols + j) for j in range(cols)]
    graph = nx.DiGraph()
    graph.add_nodes_from(range(rows * cols))
    graph.add_edges_from(arcs)
    return graph, arcs


def test_pyepo_grid_keeps_pyepos_arc_order_and_is_acyclic():
    graph, arcs = pyepo_grid()
    assert list(graph.edges) != arcs  # networkx groups a digraph's edges by tail: not PyEPO's order
    oracle = im.get_oracle("shortest_path", graph=arcs, source=0, target=24)
    assert oracle.edges == arcs and oracle.num_edges == 40
    assert oracle.acyclic and not oracle.nonnegative
    costs = np.random.default_rng(0).normal(size=(20, 40))
    by_graph = im.get_oracle("shortest_path", graph=graph, source=0, target=24)
    permutation = [arcs.index(edge) for edge in by_graph.edges]  # graph order -> PyEPO order
    np.testing.assert_array_equal(oracle(costs)[:, permutation], by_graph(costs[:, permutation]))


def test_arcs_given_twice_are_parallel_edges():
    oracle = im.get_oracle("shortest_path", graph=[(0, 1), (0, 1), (1, 2)], source=0, target=2)
    assert oracle.multigraph and oracle.edges == [(0, 1, 0), (0, 1, 1), (1, 2, 0)]
    np.testing.assert_array_equal(oracle(np.array([2.0, 1.0, 1.0])), [0, 1, 1])


@pytest.mark.parametrize("kind", [nx.Graph, nx.DiGraph, nx.MultiGraph, nx.MultiDiGraph])
def test_every_backend_returns_the_same_path(kind):
    """The documented tie rule, not only the same cost: integer costs with
    many ties and zeros (zero-cost cycles included)."""
    rng = np.random.default_rng(17)
    compared = 0
    for _ in range(30):
        graph = random_graph(rng, kind, nodes=int(rng.integers(2, 9)), edges=int(rng.integers(3, 20)))
        source, target = (int(x) for x in rng.integers(0, graph.number_of_nodes(), size=2))
        if not nx.has_path(graph, source, target):
            continue
        costs = rng.integers(0, 3, size=(8, graph.number_of_edges())).astype(float)
        answers = [im.get_oracle("shortest_path", graph=graph, source=source, target=target, backend=b)(costs)
                   for b in BACKENDS]
        for other in answers[1:]:
            np.testing.assert_array_equal(other, answers[0])
        compared += len(costs)
    assert compared >= 100


def test_the_tie_rule_prefers_fewer_edges_then_lower_edge_indices():
    # 0 -> 3 directly (cost 2), or 0 -> 1 -> 3 and 0 -> 2 -> 3 (cost 1 + 1): all cost 2.
    graph = nx.DiGraph([(0, 1), (0, 2), (1, 3), (2, 3), (0, 3)])
    edges = list(graph.edges)
    costs = np.array([1.0, 1.0, 1.0, 1.0, 2.0])
    costs = costs[[list(nx.DiGraph([(0, 1), (0, 2), (1, 3), (2, 3), (0, 3)]).edges).index(e) for e in edges]]
    for backend in BACKENDS:
        oracle = im.get_oracle("shortest_path", graph=graph, source=0, target=3, backend=backend)
        assert [edges[i] for i in np.flatnonzero(oracle(costs))] == [(0, 3)]  # fewest edges
        no_direct = costs.copy()
        no_direct[edges.index((0, 3))] = 5.0
        # two-edge paths tie: the lowest index into the target is (1, 3), then (0, 1)
        assert [edges[i] for i in np.flatnonzero(oracle(no_direct))] == [(0, 1), (1, 3)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_negative_costs_on_acyclic_graphs_against_brute_force(backend):
    rng = np.random.default_rng(23)
    checked = 0
    for _ in range(25):
        order = rng.permutation(7)  # a random DAG: arcs go forward in this order
        graph = nx.MultiDiGraph() if rng.random() < 0.3 else nx.DiGraph()
        graph.add_nodes_from(range(7))
        for _ in range(int(rng.integers(6, 18))):
            a, b = sorted(rng.choice(7, size=2, replace=False))
            graph.add_edge(int(order[a]), int(order[b]))
        source, target = int(order[0]), int(order[-1])
        if not nx.has_path(graph, source, target):
            continue
        oracle = im.get_oracle("shortest_path", graph=graph, source=source, target=target, backend=backend)
        assert oracle.acyclic and not oracle.nonnegative
        costs = rng.integers(-3, 3, size=(6, graph.number_of_edges())).astype(float)
        for w, z in zip(costs, oracle(costs)):
            assert path_edges_ok(graph, z, source, target)
            assert w @ z == brute_force_cost(graph, w, source, target)
            checked += 1
    assert checked >= 60


def test_negative_costs_on_the_pyepo_grid_agree_with_bellman_ford():
    graph, arcs = pyepo_grid()
    rng = np.random.default_rng(3)
    costs = rng.normal(size=(50, 40))  # a linear model's predictions: about half negative
    z = im.get_oracle("shortest_path", graph=arcs, source=0, target=24)(costs)
    for w, path in zip(costs, z):
        for (u, v), value in zip(arcs, w):
            graph[u][v]["w"] = value
        assert w @ path == pytest.approx(nx.bellman_ford_path_length(graph, 0, 24, weight="w"), abs=1e-12)
        successor = dict(arcs[i] for i in np.flatnonzero(path))
        node, steps = 0, 0
        while node in successor and steps < 8:
            node, steps = successor[node], steps + 1
        assert path.sum() == 8 and node == 24  # 8 arcs east or south, one chain from 0 to 24


@pytest.mark.parametrize("backend", BACKENDS)
def test_negative_costs_on_a_graph_with_a_cycle_are_refused(backend):
    graph = nx.DiGraph([(0, 1), (1, 2), (2, 0), (2, 3)])
    oracle = im.get_oracle("shortest_path", graph=graph, source=0, target=3, backend=backend)
    assert not oracle.acyclic and oracle.nonnegative
    costs = np.ones((2, 3, 4))
    costs[1, 2, 3] = -0.5
    with pytest.raises(im.InvalidInputError) as info:
        oracle(costs)
    message = str(info.value)
    assert info.value.index == (1, 2) and info.value.oracle == "shortest_path"
    assert "'shortest_path' at batch index (1, 2)" in message and "non-negative" in message
    assert "-0.5 on edge 3 (2, 3)" in message and "0 -> 1 -> 2 -> 0" in message and "acyclic" in message
    # a self-loop is not a cycle a path can use: the graph stays acyclic
    looped = nx.DiGraph([(0, 1), (1, 1), (1, 2)])
    z = im.get_oracle("shortest_path", graph=looped, source=0, target=2, backend=backend)(np.array([1.0, -5.0, -1.0]))
    np.testing.assert_array_equal(z, [1, 0, 1])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_containers_dtypes_and_batch_sizes(backend, dtype):
    torch = pytest.importorskip("torch")
    _, arcs = pyepo_grid()
    oracle = im.get_oracle("shortest_path", graph=arcs, source=0, target=24, backend=backend)
    costs = np.random.default_rng(2).normal(size=(3, 40)).astype(dtype)
    expected = oracle(costs.astype(np.float64))
    for batch in (costs[:0], costs[:1], costs[0], costs):
        out = oracle(batch)
        assert isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == batch.shape
        np.testing.assert_array_equal(out, expected[: len(batch)] if batch.ndim == 2 else expected[0])
        tensor = oracle(torch.from_numpy(batch))
        assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.from_numpy(batch).dtype
        np.testing.assert_array_equal(tensor.numpy(), out)


def test_compiled_backend_agrees_with_networkx_on_a_large_graph_with_ties():
    graph = nx.gnm_random_graph(1000, 5000, seed=1, directed=True)
    source, target = 0, next(n for n in range(999, 0, -1) if nx.has_path(graph, 0, n))
    rng = np.random.default_rng(9)
    costs = rng.integers(0, 5, size=(4, 5000)).astype(float)
    compiled = im.get_oracle("shortest_path", graph=graph, source=source, target=target)(costs)
    reference = im.get_oracle("shortest_path", graph=graph, source=source, target=target, backend="networkx")(costs)
    np.testing.assert_array_equal(compiled, reference)


@pytest.mark.parametrize("directed", [True, False])
def test_bidirectional_search_returns_the_one_sided_path_bit_for_bit(directed):
    """The two-sided Dijkstra settles fewer nodes but must give the same keys, hence the same path, on
    every instance: many ties (zeros, equal integers), sums that round (0.1 steps, 1e-17 next to 1e17),
    unreachable targets (the same batch index refused)."""
    rng = np.random.default_rng(31)
    compared = refused = 0
    for trial in range(60):
        nodes = int(rng.integers(2, 300))
        graph = nx.gnm_random_graph(nodes, int(rng.integers(1, 5 * nodes)), seed=trial, directed=directed)
        if trial % 4 == 0:
            graph = nx.MultiDiGraph(graph) if directed else nx.MultiGraph(graph)
        if graph.number_of_edges() == 0:
            continue
        source, target = (int(x) for x in rng.integers(0, nodes, size=2))
        pair = [im.get_oracle("shortest_path", graph=graph, source=source, target=target, bidirectional=b)
                for b in (True, False)]
        if pair[0].acyclic:
            continue
        shape = (6, graph.number_of_edges())
        costs = [np.zeros(shape), rng.integers(0, 3, size=shape).astype(float), rng.integers(1, 4, size=shape) * 0.1,
                 rng.choice([0.1, 0.3, 1e-17, 1e17], size=shape), rng.exponential(size=shape) ** 3][trial % 5]
        answers = []
        for oracle in pair:
            try:
                answers.append(oracle(costs))
            except im.InfeasibleError as error:
                answers.append(str(error))
        if isinstance(answers[0], str):
            assert answers[0] == answers[1]
            refused += 1
        else:
            np.testing.assert_array_equal(answers[0], answers[1])
            compared += len(costs)
    assert compared >= 100 and refused >= 3


def test_bidirectional_option_is_checked():
    graph = nx.cycle_graph(4)
    with pytest.raises(im.InvalidInputError, match="bidirectional to be True or False"):
        im.get_oracle("shortest_path", graph=graph, source=0, target=2, bidirectional="yes")
    one_sided = im.get_oracle("shortest_path", graph=graph, source=0, target=2, bidirectional=False)
    assert one_sided(np.ones(4)).sum() == 2


def test_check_oracle_on_the_pyepo_grid_with_negative_costs():
    """The conformance checks, brute force included, on an acyclic graph given
    as PyEPO's arcs, with costs of both signs."""
    from imle_solvers.testing import check_oracle

    _, arcs = pyepo_grid(3, 4)
    oracle = im.get_oracle("shortest_path", graph=arcs, source=0, target=11)
    index = {arc: i for i, arc in enumerate(arcs)}
    paths = []
    for nodes in nx.all_simple_paths(nx.DiGraph(arcs), 0, 11):
        z = np.zeros(len(arcs))
        z[[index[arc] for arc in zip(nodes, nodes[1:])]] = 1.0
        paths.append(z)
    theta = np.random.default_rng(4).integers(-3, 4, size=(6, len(arcs))).astype(float)
    report = check_oracle(oracle, theta, enumerate_solutions=lambda costs: iter(paths), runners=("serial", "threads"))
    assert report.ok and len(paths) == 10


def test_a_subclass_overriding_solve_is_still_used():
    """Subclasses written against the one-instance hook keep working now that
    the class solves whole chunks."""
    class Shifted(im.oracles.ShortestPath):
        def solve(self, theta):
            return super().solve(theta - theta.min())

    arcs = [(0, 1), (0, 2), (1, 3), (2, 3), (1, 2)]  # a DAG with paths of 2 and 3 edges
    shifted = Shifted(arcs, 0, 3)
    costs = np.array([[-3.0, 3.0, 0.5, 0.0, 0.4]])
    plain = im.get_oracle("shortest_path", graph=arcs, source=0, target=3)
    np.testing.assert_array_equal(plain(costs), [[1, 0, 0, 1, 1]])  # 0 -> 1 -> 2 -> 3 costs -2.6
    # the subclass's shift by 3 makes three edges dearer than two: 0 -> 1 -> 3
    np.testing.assert_array_equal(shifted(costs), [[1, 0, 1, 0, 0]])
