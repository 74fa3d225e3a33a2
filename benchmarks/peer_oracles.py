"""Our oracles against PyEPO's own solvers, on PyEPO's own instances.

Run:  PYTHONPATH=. .venv/bin/python benchmarks/peer_oracles.py [--only NAME] [--rounds 5]

Needs the ``bench`` extra (PyEPO with OR-Tools, Pyomo, highspy). Sections
(``--only``), each a few tens of seconds to a few minutes on 2 cores:

* ``shortest_path`` — PyEPO's 5 x 5 grid
  (``pyepo.data.shortestpath.genData(1000, 5, (5, 5), deg=4,
  noise_width=0.5, seed=135)``, 40 arcs east/south) and a 1,000-node /
  5,000-edge random graph. Ours: ``get_oracle("shortest_path",
  graph=model.arcs, source=0, target=24)``, one call per batch (on the
  random graph also with ``bidirectional=False``, the one-sided search;
  both must return the same paths in every round). Against:
  PyEPO's ``shortestPathModel`` (OR-Tools, GLOP), ``setObj``/``solve`` per
  instance as PyEPO's ``optDataset`` and losses do; a textbook compiled
  Dijkstra written here (numba, one call per instance: the practical
  limit of a single-instance solver); the previous ``shortest_path``
  oracle (scipy), loaded from git (``--previous REV``); and scipy's
  ``dijkstra`` on a prebuilt CSR (the previous oracle's method without its
  validation and path walk).
* ``knapsack`` — PyEPO's knapsacks (``pyepo.data.knapsack.genData(200, 5,
  32, dim, deg=4, noise_width=0.5, seed=135)``, capacities 20 per
  dimension as in PyEPO's tutorials), one and two dimensions; the weights
  have two decimals, so ours solves them with the compiled branch and bound
  (``auto``; the DP needs integer weights), and with ``backend="cpsat"`` as
  a second line. Ours: ``get_oracle("knapsack", dims=dim)``. Against: PyEPO's
  ``knapsackModel`` (OR-Tools SCIP, its default); its ``knapsackCpModel``
  (OR-Tools CP-SAT) refuses non-integer weights, so PyEPO's own instances.
* ``tsp`` — PyEPO's TSP instances (``pyepo.data.tsp.genData(n, 5, nodes,
  deg=4, noise_width=0.5, seed=135)``), 10 and 15 cities. Ours:
  ``get_oracle("tsp", layout="edges")`` (PyEPO's edge vectors in and out;
  ``auto``: the Held-Karp DP up to 12 cities, CP-SAT above) and
  ``backend="cpsat"``. Against: PyEPO's Pyomo models ``tspGGModel`` and
  ``tspMTZModel`` solved by HiGHS through Pyomo's appsi interface
  (``solver="appsi_highs"``), the free MIP solver that installs from PyPI.

Every method solves the same costs; every answer of every round is checked:
the objective equals ours on every instance (relative 1e-6: PyEPO's LP and
MIP solvers have tolerances, ours are exact). Rounds are interleaved (every
method once per round, in turn); per method the best, median and worst
round are printed, and per peer the ratio ``peer time / our time`` of the
same round, best, median and worst. The machine is shared: the load average
is printed with the results.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import imle_solvers as im

ROOT = Path(__file__).resolve().parent.parent
CLOCK = time.perf_counter  # --clock cpu: time.process_time (CPU seconds of the process, all threads)


# ---------------------------------------------------------------------- #
# Timing and reporting
# ---------------------------------------------------------------------- #
def interleaved(methods: dict[str, Callable[[], object]], check: Callable[[str, object], None], rounds: int,
                counts: dict[str, int]) -> dict[str, list[float]]:
    """Seconds per instance of every method in every round (one warm-up call
    each first); ``check(name, result)`` runs on every result, outside the
    timed region."""
    for name, run in methods.items():
        check(name, run())
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(rounds):
        for name, run in methods.items():
            start = CLOCK()
            result = run()
            times[name].append((CLOCK() - start) / counts[name])
            check(name, result)
    return times


def report(title: str, times: dict[str, list[float]], ours: str) -> None:
    print(f"\n{title}")
    print(f"  {'method':<44} {'µs/instance best':>17} {'median':>10} {'worst':>10}   ratio to ours best / median / worst")
    for name, values in times.items():
        line = (f"  {name:<44} {min(values) * 1e6:17.2f} {statistics.median(values) * 1e6:10.2f} "
                f"{max(values) * 1e6:10.2f}")
        if name != ours:
            ratios = [peer / mine for peer, mine in zip(values, times[ours])]
            line += f"   {max(ratios):8.1f} / {statistics.median(ratios):8.1f} / {min(ratios):8.1f}"
        print(line)


def same_objective(label: str, mine: np.ndarray, theirs: np.ndarray, rtol: float = 1e-6) -> None:
    mine, theirs = np.asarray(mine, np.float64), np.asarray(theirs, np.float64)
    bad = ~np.isclose(mine, theirs, rtol=rtol, atol=rtol)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AssertionError(f"{label}: instance {i} has objective {theirs[i]!r}, ours {mine[i]!r}")


def pyepo_loop(model, costs, count: int) -> Callable[[], np.ndarray]:
    """A run of PyEPO's own protocol: ``model`` solves ``costs[:count]`` one at
    a time (``setObj``, ``solve``); the run returns their objectives."""
    def run():
        objectives = np.empty(count)
        for i in range(count):
            model.setObj(costs[i])
            _, objectives[i] = model.solve()
        return objectives
    return run


# ---------------------------------------------------------------------- #
# Shortest paths
# ---------------------------------------------------------------------- #
def _reference_dijkstra():
    """A textbook compiled Dijkstra for one instance (numba): binary heap
    of (distance, node), predecessor arcs, stop at the target."""
    import numba

    @numba.njit(cache=False, nogil=True)
    def solve(ptr, head, edge, tail_of_arc, costs, source, target, z):
        n = ptr.shape[0] - 1
        dist = np.full(n, np.inf)
        pred = np.full(n, -1, np.int64)
        heap_d = np.empty(head.shape[0] + 1)
        heap_v = np.empty(head.shape[0] + 1, np.int64)
        dist[source] = 0.0
        heap_d[0] = 0.0
        heap_v[0] = source
        size = 1
        while size:
            d = heap_d[0]
            v = heap_v[0]
            size -= 1
            if size:
                last_d = heap_d[size]
                last_v = heap_v[size]
                pos = 0
                while True:
                    child = 2 * pos + 1
                    if child >= size:
                        break
                    if child + 1 < size and heap_d[child + 1] < heap_d[child]:
                        child += 1
                    if heap_d[child] >= last_d:
                        break
                    heap_d[pos] = heap_d[child]
                    heap_v[pos] = heap_v[child]
                    pos = child
                heap_d[pos] = last_d
                heap_v[pos] = last_v
            if d > dist[v]:
                continue
            if v == target:
                break
            for a in range(ptr[v], ptr[v + 1]):
                u = head[a]
                nd = d + costs[edge[a]]
                if nd < dist[u]:
                    dist[u] = nd
                    pred[u] = a
                    pos = size
                    size += 1
                    while pos > 0:
                        parent = (pos - 1) >> 1
                        if heap_d[parent] <= nd:
                            break
                        heap_d[pos] = heap_d[parent]
                        heap_v[pos] = heap_v[parent]
                        pos = parent
                    heap_d[pos] = nd
                    heap_v[pos] = u
        v = target
        while v != source:
            a = pred[v]
            z[edge[a]] = 1.0
            v = tail_of_arc[a]

    return solve


def _previous_shortest_path(revision: str):
    """The ``ShortestPath`` class of ``imle_solvers/oracles/graph.py`` at
    ``revision`` (git), imported beside today's package so that its relative
    imports resolve."""
    source = subprocess.run(["git", "show", f"{revision}:imle_solvers/oracles/graph.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    directory = Path(tempfile.mkdtemp(prefix="previous-oracle-"))
    path = directory / "_previous_graph.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("imle_solvers.oracles._previous_graph", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.ShortestPath


def bench_shortest_path(args) -> None:
    import networkx as nx
    from pyepo.data.shortestpath import genData
    from pyepo.model.ort import shortestPathModel

    reference = _reference_dijkstra()
    previous_class = _previous_shortest_path(args.previous)

    _, costs = genData(1000, 5, (5, 5), deg=4, noise_width=0.5, seed=135)  # (1000, 40) float32
    model = shortestPathModel((5, 5))  # OR-Tools GLOP, PyEPO's default for shortest paths
    arcs = model.arcs
    graph = nx.DiGraph(arcs)
    cases = [("PyEPO 5 x 5 grid (1000 instances, 40 arcs)", graph, arcs, costs, 0, 24, args.pyepo_count)]
    random_graph = nx.gnm_random_graph(1000, 5000, seed=1)
    random_costs = np.random.default_rng(0).random((64, 5000))
    cases.append(("random graph, 1,000 nodes / 5,000 edges (64 instances)", random_graph, list(random_graph.edges),
                  random_costs, 0, 999, 0))
    for title, graph, edges, batch, source, target, pyepo_count in cases:
        _shortest_path_case(args, reference, previous_class, model, title, graph, edges, batch, source, target,
                            pyepo_count)


def _shortest_path_case(args, reference, previous_class, model, title, graph, edges, batch, source, target,
                        pyepo_count) -> None:
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    ours = im.get_oracle("shortest_path", graph=edges if graph.is_directed() else graph, source=source,
                         target=target)
    one_sided = im.get_oracle("shortest_path", graph=edges if graph.is_directed() else graph, source=source,
                              target=target, bidirectional=False)
    assert ours.edges == list(edges)
    solution = ours(batch)
    # the previous oracle takes costs in list(graph.edges) order
    order = [edges.index(e) for e in graph.edges] if graph.is_directed() else list(range(len(edges)))
    previous = previous_class(graph, source, target)
    previous_batch = np.ascontiguousarray(batch[:, order])
    previous_batch64 = np.asarray(previous_batch, np.float64)
    # the compiled reference and scipy run on our CSR arrays
    ptr, head, edge = ours._out_ptr, ours._out_head, ours._out_edge
    tail_of_arc = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
    batch64 = np.asarray(batch, np.float64)

    def compiled_loop():
        out = np.zeros(batch64.shape)
        for i in range(batch64.shape[0]):
            reference(ptr, head, edge, tail_of_arc, batch64[i], source, target, out[i])
        return out

    csr = csr_matrix((np.ones(len(ours._indices)), ours._indices, ours._indptr),
                        shape=(len(ours.nodes), len(ours.nodes)))

    def scipy_loop():
        distances = np.empty(batch64.shape[0])
        for i in range(batch64.shape[0]):
            np.minimum.reduceat(batch64[i][ours._arc_edge], ours._slot_start, out=csr.data)
            distances[i] = dijkstra(csr, directed=True, indices=source)[target]
        return distances

    optimum = (batch64 * solution).sum(axis=1)

    def check(name, result):
        if name.startswith("ours"):  # our two searches: the same paths, not only the same costs
            np.testing.assert_array_equal(result, solution, err_msg=name)
        if name == "pyepo shortestPathModel (OR-Tools GLOP), solve loop":
            same_objective(name, optimum[:pyepo_count], result)
        elif name.startswith("scipy"):
            same_objective(name, optimum, result, rtol=1e-9)
        elif name.startswith("previous"):
            same_objective(name, optimum, (previous_batch64 * result).sum(axis=1), rtol=1e-9)
        else:
            same_objective(name, optimum, (batch64 * result).sum(axis=1), rtol=1e-9)

    methods = {
        "ours (numba, one call per batch)": lambda: ours(batch),
        **({} if ours.acyclic else {"ours, one-sided Dijkstra (bidirectional=False)": lambda: one_sided(batch)}),
        "compiled Dijkstra, one call per instance": compiled_loop,
        "previous oracle (scipy)": lambda: previous(previous_batch),
        "scipy dijkstra, prebuilt CSR": scipy_loop,
    }
    counts = {name: batch.shape[0] for name in methods}
    if pyepo_count:
        methods["pyepo shortestPathModel (OR-Tools GLOP), solve loop"] = pyepo_loop(model, batch, pyepo_count)
        counts["pyepo shortestPathModel (OR-Tools GLOP), solve loop"] = pyepo_count
    times = interleaved(methods, check, args.rounds, counts)
    report(f"shortest_path: {title}", times, "ours (numba, one call per batch)")


# ---------------------------------------------------------------------- #
# Knapsacks
# ---------------------------------------------------------------------- #
def bench_knapsack(args) -> None:
    for dim in (1, 2):
        _knapsack_case(args, dim)


def _knapsack_case(args, dim) -> None:
    from pyepo.data.knapsack import genData
    from pyepo.model.ort import knapsackCpModel, knapsackModel

    weights, _, values = genData(200, 5, 32, dim=dim, deg=4, noise_width=0.5, seed=135)
    capacity = np.full(dim, 20.0)
    count = args.knapsack_count
    batch = values[:count]
    ours = im.get_oracle("knapsack", dims=dim)
    ours_cpsat = im.get_oracle("knapsack", dims=dim, backend="cpsat")
    peers = {"pyepo knapsackModel (OR-Tools SCIP)": knapsackModel(weights, capacity)}
    try:  # PyEPO's CP-SAT model takes integer weights only; its own instances have two decimals
        peers["pyepo knapsackCpModel (OR-Tools CP-SAT)"] = knapsackCpModel(weights, capacity)
    except ValueError as error:
        print(f"\n(pyepo knapsackCpModel refuses these instances: {error})")

    solutions = ours(batch, weights=weights, capacity=capacity)
    assert ((solutions @ weights.T) <= capacity * (1 + 1e-9)).all()  # the oracle's feasibility rule
    optimum = (np.asarray(batch, np.float64) * solutions).sum(axis=1)

    def check(name, result):
        if name.startswith("ours"):
            same_objective(name, optimum, (np.asarray(batch, np.float64) * result).sum(axis=1), rtol=1e-12)
        else:
            same_objective(name, optimum, result)

    label = "compiled branch and bound"  # real weights: the DP needs integers
    methods = {f"ours ({label})": lambda: ours(batch, weights=weights, capacity=capacity),
               "ours (CP-SAT, 1 worker)": lambda: ours_cpsat(batch, weights=weights, capacity=capacity)}
    methods.update({name: pyepo_loop(model, batch, count) for name, model in peers.items()})
    times = interleaved(methods, check, args.rounds, {name: count for name in methods})
    report(f"knapsack: PyEPO's instances, {dim} dimension(s), 32 items, capacity 20 ({count} instances)", times,
           f"ours ({label})")


# ---------------------------------------------------------------------- #
# Travelling salesman
# ---------------------------------------------------------------------- #
def bench_tsp(args) -> None:
    for nodes, count in ((10, args.tsp_count), (15, max(2, args.tsp_count // 2))):
        _tsp_case(args, nodes, count)


def _tsp_case(args, nodes, count) -> None:
    from pyepo.data.tsp import genData
    from pyepo.model.omo import tspGGModel, tspMTZModel

    _, costs = genData(count, 5, nodes, deg=4, noise_width=0.5, seed=135)  # (count, n (n - 1) / 2) float32
    ours = im.get_oracle("tsp", layout="edges")
    cpsat = im.get_oracle("tsp", layout="edges", backend="cpsat")
    peers = {"pyepo tspGGModel, Pyomo + HiGHS (appsi)": tspGGModel(nodes, solver="appsi_highs"),
             "pyepo tspMTZModel, Pyomo + HiGHS (appsi)": tspMTZModel(nodes, solver="appsi_highs")}

    costs64 = np.asarray(costs, np.float64)
    optimum = (costs64 * ours(costs)).sum(axis=1)

    def check(name, result):
        if name.startswith("ours"):
            assert (np.asarray(result).sum(axis=1) == nodes).all()
            same_objective(name, optimum, (costs64 * result).sum(axis=1), rtol=1e-8)
        else:
            same_objective(name, optimum, result)

    label = "auto: Held-Karp DP" if nodes <= 12 else "auto: CP-SAT"
    methods = {f"ours ({label})": lambda: ours(costs)}
    if nodes <= 12:
        methods["ours (backend='cpsat', 1 worker)"] = lambda: cpsat(costs)
    methods.update({name: pyepo_loop(model, costs, count) for name, model in peers.items()})
    times = interleaved(methods, check, args.rounds, {name: count for name in methods})
    report(f"tsp: PyEPO's instances, {nodes} cities ({count} instances)", times, f"ours ({label})")


SECTIONS: dict[str, Callable] = {"shortest_path": bench_shortest_path, "knapsack": bench_knapsack, "tsp": bench_tsp}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(SECTIONS), help="run one section")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timed rounds (default 5)")
    parser.add_argument("--previous", default="490fe14~1",
                        help="git revision of the previous shortest_path oracle (default: before the compiled one)")
    parser.add_argument("--pyepo-count", type=int, default=200, help="instances PyEPO's shortest path solves per round")
    parser.add_argument("--knapsack-count", type=int, default=50, help="knapsack instances per round")
    parser.add_argument("--tsp-count", type=int, default=6, help="TSP instances per round (10 cities; half at 15)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall seconds, or CPU seconds of the process (all threads) for a machine shared with "
                             "other jobs")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.perf_counter if args.clock == "wall" else time.process_time
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores; "
          f"{args.rounds} interleaved rounds, {args.clock} clock; ratio = peer time / our time in the same round")
    for name, section in SECTIONS.items():
        if args.only in (None, name):
            section(args)
    print(f"\nload average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          "every method's objective matched ours on every instance of every round")


if __name__ == "__main__":
    main()
