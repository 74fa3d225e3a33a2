"""Time per instance of the built-in oracles against natural baselines.

Run:  .venv/bin/python benchmarks/oracles.py [--only NAME] [--repeats 5] [--batch 64]

For every oracle family and size it prints the time per instance of our
oracle (serial runner, one call over a batch) and of the baselines, run side
by side in this process, best of ``--repeats``. The ``ratio`` column is
``baseline time / our time`` — above 1 we are faster, below 1 slower; the row
of the reference method reads 1.00. Timings on a shared machine are noisy:
compare ratios, not absolute numbers.

Sections (``--only``): shortest_path, matching, spanning_tree, knapsack, ilp,
ranking. A new family is one more ``bench_<name>`` function registered in
``SECTIONS``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import imle_solvers as im


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` runs of ``fn`` (after one warm-up)."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def report(family: str, size: str, timings: dict[str, float], count: int, reference: str) -> None:
    """Print one row per method: µs per instance and the ratio to ``reference``."""
    ours = timings[reference]
    for method, seconds in timings.items():
        print(f"{family:<14} {size:<22} {method:<30} {seconds / count * 1e6:12.1f} {seconds / ours:8.2f}")


# ---------------------------------------------------------------------- #
# Sections: one function per family, one helper per size
# ---------------------------------------------------------------------- #
def bench_shortest_path(args) -> None:
    import networkx as nx

    rng = np.random.default_rng(0)
    graphs = {
        "grid 12x12": (nx.grid_2d_graph(12, 12), (0, 0), (11, 11)),
        "grid 30x30": (nx.grid_2d_graph(30, 30), (0, 0), (29, 29)),
        "gnm 1000 n / 5000 e": (nx.gnm_random_graph(1000, 5000, seed=1), 0, 999),
    }
    for size, (graph, source, target) in graphs.items():
        _shortest_path_size(args, rng, size, graph, source, target)


def _shortest_path_size(args, rng, size, graph, source, target) -> None:
    import networkx as nx

    count = min(args.batch, 32)
    costs = rng.random((count, graph.number_of_edges()))
    ours = im.get_oracle("shortest_path", graph=graph, source=source, target=target)
    reference = im.get_oracle("shortest_path", graph=graph, source=source, target=target, backend="networkx")
    scipy_backend = im.get_oracle("shortest_path", graph=graph, source=source, target=target, backend="scipy")
    index = {}
    for i, (u, v) in enumerate(graph.edges):
        index[u, v] = index[v, u] = i

    def networkx_dijkstra():  # the natural baseline: a weight function reading the cost vector
        for w in costs:
            nx.dijkstra_path(graph, source, target, weight=lambda u, v, _, w=w: w[index[u, v]])

    timings = {
        "ours (numba)": best_time(lambda: ours(costs), args.repeats),
        "ours (backend=scipy)": best_time(lambda: scipy_backend(costs), args.repeats),
        "ours (backend=networkx)": best_time(lambda: reference(costs), args.repeats),
        "networkx dijkstra_path": best_time(networkx_dijkstra, args.repeats),
    }
    report("shortest_path", size, timings, count, "ours (numba)")


def bench_matching(args) -> None:
    rng = np.random.default_rng(1)
    for n in (10, 50, 100):
        _matching_size(args, rng.random((args.batch, n, n)))


def _matching_size(args, scores) -> None:
    from scipy.optimize import linear_sum_assignment

    oracle = im.get_oracle("matching")
    count, n = scores.shape[0], scores.shape[1]

    def per_instance():
        out = np.zeros_like(scores)
        for i in range(count):
            rows, cols = linear_sum_assignment(scores[i], maximize=True)
            out[i, rows, cols] = 1.0
        return out

    timings = {
        "ours": best_time(lambda: oracle(scores), args.repeats),
        "linear_sum_assignment loop": best_time(per_instance, args.repeats),
    }
    report("matching", f"{n}x{n}", timings, count, "ours")


def bench_spanning_tree(args) -> None:
    import networkx as nx

    rng = np.random.default_rng(2)
    for size, graph in {"grid 30x30": nx.grid_2d_graph(30, 30),
                        "gnm 1000 n / 5000 e": nx.gnm_random_graph(1000, 5000, seed=3)}.items():
        if not nx.is_connected(graph):
            graph = graph.subgraph(max(nx.connected_components(graph), key=len)).copy()
        weights = rng.random((min(args.batch, 32), graph.number_of_edges())) + 0.1  # positive: scipy drops zeros
        _spanning_tree_size(args, size, graph, weights)


def _spanning_tree_size(args, size, graph, weights) -> None:
    import networkx as nx
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    oracle = im.get_oracle("spanning_tree", graph=graph)
    position = {node: i for i, node in enumerate(graph.nodes)}
    rows = np.array([position[u] for u, _ in graph.edges])
    cols = np.array([position[v] for _, v in graph.edges])
    n = graph.number_of_nodes()
    edges = list(graph.edges)

    # A CSR built once; each instance refills its data (the same work our oracle does per instance).
    # Zero-weight edges are avoided by the caller: scipy drops explicit zeros from its result.
    csr = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    csr.sum_duplicates()
    probe = csr_matrix((np.arange(1, len(rows) + 1, dtype=float), (rows, cols)), shape=(n, n))
    slot_of_edge = np.asarray(probe.data - 1, dtype=np.int64)  # CSR slot k holds edge slot_of_edge[k]

    def scipy_mst():
        for w in weights:
            csr.data[:] = w[slot_of_edge]
            minimum_spanning_tree(csr)

    def networkx_mst():
        for w in weights:
            for (u, v), value in zip(edges, w):
                graph[u][v]["w"] = value
            nx.minimum_spanning_tree(graph, weight="w")

    timings = {
        "ours (numba Kruskal)": best_time(lambda: oracle(weights), args.repeats),
        "scipy minimum_spanning_tree (prebuilt CSR)": best_time(scipy_mst, args.repeats),
        "networkx minimum_spanning_tree": best_time(networkx_mst, max(1, args.repeats // 2)),
    }
    report("spanning_tree", size, timings, weights.shape[0], "ours (numba Kruskal)")


def bench_knapsack(args) -> None:
    from imle_solvers.oracles._mip import _silence_highs_banner

    _silence_highs_banner()  # HiGHS prints a banner on its first use in a process
    rng = np.random.default_rng(3)
    for n in (50, 200):
        count = min(args.batch, 32)
        values = rng.integers(1, 100, size=(count, n)).astype(float)
        weights = rng.integers(1, 100, size=(count, n)).astype(float)
        _knapsack_size(args, values, weights, weights.sum(1) / 2)


def _knapsack_size(args, values, weights, capacity) -> None:
    import cvxpy as cp

    count, n = values.shape
    dp = im.get_oracle("knapsack", backend="dp")
    cpsat = im.get_oracle("knapsack", backend="cpsat")

    # One cvxpy model with Parameters, compiled once (cvxpy caches the canonicalisation of a
    # parametrised problem); each instance only sets the parameters.
    value_p, weight_p, capacity_p = cp.Parameter(n), cp.Parameter(n, nonneg=True), cp.Parameter(nonneg=True)
    z = cp.Variable(n, boolean=True)
    problem = cp.Problem(cp.Maximize(value_p @ z), [weight_p @ z <= capacity_p])

    def cvxpy_highs():
        for v, w, c in zip(values, weights, capacity):
            value_p.value, weight_p.value, capacity_p.value = v, w, c
            problem.solve(solver=cp.HIGHS, mip_rel_gap=0.0)

    timings = {
        "ours DP (numba)": best_time(lambda: dp(values, weights=weights, capacity=capacity), args.repeats),
        "ours CP-SAT (1 worker)": best_time(lambda: cpsat(values, weights=weights, capacity=capacity), args.repeats),
        "cvxpy + HiGHS (Parameter model)": best_time(cvxpy_highs, max(1, args.repeats // 2)),
    }
    report("knapsack", f"{n} items, C ~ {int(capacity.mean())}", timings, count, "ours DP (numba)")


def bench_ilp(args) -> None:
    rng = np.random.default_rng(4)
    for n, m in ((30, 10), (100, 20)):
        a_ub = rng.integers(0, 20, size=(m, n)).astype(float)
        _ilp_size(args, a_ub, a_ub.sum(1) / 4, rng.normal(size=(min(args.batch, 16), n)))


def _ilp_size(args, a_ub, b_ub, theta) -> None:
    timings = {}
    for backend in ("cpsat", "mip", "cvxpy"):
        oracle = im.get_oracle("ilp", A_ub=a_ub, b_ub=b_ub, backend=backend)
        timings[f"ours backend={backend}"] = best_time(lambda o=oracle: o(theta), max(1, args.repeats // 2))
    m, n = a_ub.shape
    report("ilp", f"binary n={n}, m={m}", timings, theta.shape[0], "ours backend=cpsat")


def bench_ranking(args) -> None:
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(5)
    for n in (100, 1000):
        _ranking_size(args, rng.normal(size=(256, n)).astype(np.float32))


def _ranking_size(args, scores) -> None:
    import torch

    oracle = im.get_oracle("ranking")
    tensor = torch.from_numpy(scores)
    timings = {
        "ours numpy": best_time(lambda: oracle(scores), args.repeats),
        "ours torch (cpu, 1 thread)": best_time(lambda: oracle(tensor), args.repeats),
    }
    count, n = scores.shape
    report("ranking", f"batch {count} x n={n}", timings, count, "ours numpy")


SECTIONS: dict[str, Callable] = {
    "shortest_path": bench_shortest_path,
    "matching": bench_matching,
    "spanning_tree": bench_spanning_tree,
    "knapsack": bench_knapsack,
    "ilp": bench_ilp,
    "ranking": bench_ranking,
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(SECTIONS), help="run one section")
    parser.add_argument("--repeats", type=int, default=5, help="best of this many runs (default 5)")
    parser.add_argument("--batch", type=int, default=64, help="instances per call (capped per section)")
    args = parser.parse_args(argv)
    print(f"best of {args.repeats}; ratio = method time / first row's time (below 1: that method is faster)")
    print(f"{'family':<14} {'size':<22} {'method':<30} {'us/instance':>12} {'ratio':>8}")
    for name, section in SECTIONS.items():
        if args.only in (None, name):
            section(args)


if __name__ == "__main__":
    main()
