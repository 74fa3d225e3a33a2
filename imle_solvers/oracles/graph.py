"""Shortest paths on a graph given at construction: the ``shortest_path`` oracle.

The graph is any networkx graph (``Graph``, ``DiGraph``, ``MultiGraph``,
``MultiDiGraph``); each instance gives one cost per edge, in the order of
``list(graph.edges)``, and the oracle returns the 0/1 indicator of the edges
on a cheapest ``source`` -> ``target`` path.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from ..errors import InfeasibleError
from ._deps import require
from .base import Oracle

__all__ = ["ShortestPath"]

_BACKENDS = ("scipy", "networkx")
_SUM_LIMIT = 2.0**1000  # costs whose path sums may come near the float64 maximum are rescaled


@functools.lru_cache(maxsize=1)
def csgraph_keeps_explicit_zeros() -> bool:
    """Whether the installed scipy's Dijkstra treats an explicitly stored zero
    of a CSR matrix as an edge of cost 0 (scipy documents that it does; dense
    input is different). Probed once per process on a 3-node graph whose only
    path runs over two zero-cost edges."""
    sparse = require("scipy.sparse", needed_for="shortest_path backend 'scipy'")
    csgraph = require("scipy.sparse.csgraph", needed_for="shortest_path backend 'scipy'")
    probe = sparse.csr_matrix(
        (np.zeros(2), np.array([1, 2], dtype=np.int32), np.array([0, 1, 2, 2], dtype=np.int32)), shape=(3, 3)
    )
    distances = csgraph.dijkstra(probe, directed=True, indices=0)
    return bool(np.isfinite(distances[2]) and distances[2] == 0.0)


class ShortestPath(Oracle):
    r"""Cheapest ``source`` -> ``target`` path on a fixed graph with
    per-instance edge costs.

    .. math::

        z = \arg\min_{z \in P} \langle w, z \rangle, \qquad
        P = \{\text{edge indicators of the } s \to t \text{ paths}\}

    ``w`` (shape ``(num_edges,)``) holds one non-negative cost per edge in
    ``list(graph.edges)`` order (for multigraphs that is the ``(u, v, key)``
    order); the solution is the 0/1 vector of the edges on the path.
    Undirected edges can be walked both ways; self-loops are never on a
    cheapest path; of parallel edges (multigraphs) the path uses the
    cheapest, the lower edge index on ties. ``source == target`` gives the
    empty path (all zeros). Costs must be non-negative (as for any Dijkstra;
    :class:`~imle_solvers.errors.InvalidInputError` otherwise) and zero costs
    are real edges of cost zero. Costs so large that a path's sum could
    overflow float64 are divided by a power of two first (exact), so huge
    finite costs give the cheapest path, never a false "no path".

    Backends:

    * ``"scipy"`` (default): :func:`scipy.sparse.csgraph.dijkstra` on a CSR
      matrix built once at construction (one copy per thread); each instance
      only refills its ``data``. scipy treats explicitly stored zeros of a
      sparse matrix as zero-cost edges; this is probed once per process, and
      should a scipy version drop them, instances with a zero cost are solved
      with the networkx backend instead — exact either way, never an epsilon.
    * ``"networkx"``: :func:`networkx.dijkstra_path`, the reference.

    Ties: both backends are deterministic — the same costs give the same
    path on every call, runner and worker count. Among equally cheap paths
    the scipy backend returns the one its predecessor array records (a node
    keeps the first predecessor that reached it at its final distance; nodes
    are numbered in ``list(graph.nodes)`` order) and the networkx backend the
    one networkx's Dijkstra finds first (graph insertion order). The two may
    pick different paths of equal cost.

    A target that cannot be reached raises
    :class:`~imle_solvers.errors.InfeasibleError`.

    Args:
        graph: a networkx graph; it is copied, later changes do not affect
            the oracle.
        source, target: nodes of ``graph``.
        backend: ``"scipy"`` or ``"networkx"``.

    Example:
        >>> import networkx as nx, numpy as np
        >>> from imle_solvers import get_oracle
        >>> graph = nx.DiGraph([(0, 1), (1, 3), (0, 2), (2, 3)])
        >>> list(graph.edges)  # the order of the costs
        [(0, 1), (0, 2), (1, 3), (2, 3)]
        >>> oracle = get_oracle("shortest_path", graph=graph, source=0, target=3)
        >>> oracle(np.array([[1.0, 0.5, 1.0, 2.0], [1.0, 0.5, 1.0, 1.0]]))
        array([[1., 0., 1., 0.],
               [0., 1., 0., 1.]])
    """

    name = "shortest_path"
    complexity_doc = "O((V + E) log V): Dijkstra"
    sense = "min"
    event_ndim = 1
    nonnegative = True
    backend = "scipy|networkx"
    dependencies = ("scipy", "networkx")
    event_doc = "(num_edges,)"

    def __init__(self, graph, source, target, *, backend: str = "scipy"):
        nx = require("networkx", needed_for="the shortest_path oracle")
        if not isinstance(graph, nx.Graph):
            raise TypeError(f"shortest_path: expected a networkx graph, but found {type(graph).__name__}")
        if backend not in _BACKENDS:
            raise self.invalid(f"expected backend in {_BACKENDS}, but found {backend!r}")
        for role, node in (("source", source), ("target", target)):
            try:
                present = node in graph
            except TypeError:  # unhashable
                present = False
            if not present:
                raise self.invalid(f"expected {role} to be a node of the graph, but found {node!r}")
        if graph.number_of_edges() == 0:
            raise self.invalid("expected a graph with at least one edge, but found none")
        self.backend = backend
        self.source, self.target = source, target
        self.directed = graph.is_directed()
        self.multigraph = graph.is_multigraph()
        self.nodes = list(graph.nodes)
        self.edges = list(graph.edges(keys=True)) if self.multigraph else list(graph.edges)
        self.num_edges = len(self.edges)
        position = {node: i for i, node in enumerate(self.nodes)}
        self._source, self._target = position[source], position[target]
        ends = np.array([(position[e[0]], position[e[1]]) for e in self.edges], dtype=np.int64).reshape(-1, 2)
        self._build_arcs(ends)
        self._graph = graph.copy() if backend == "networkx" else None
        self._local = threading.local()

    # ------------------------------------------------------------------ #
    # Construction of the CSR layout
    # ------------------------------------------------------------------ #
    def _build_arcs(self, ends: np.ndarray) -> None:
        """Arcs (directed copies of the edges, self-loops dropped) grouped
        into CSR slots: one slot per ordered node pair, holding the arcs of
        all parallel edges between them, sorted by edge index."""
        edge_ids = np.arange(len(ends), dtype=np.int64)
        keep = ends[:, 0] != ends[:, 1]
        tails, heads, arc_edge = ends[keep, 0], ends[keep, 1], edge_ids[keep]
        if not self.directed:
            tails, heads = np.concatenate([tails, heads]), np.concatenate([heads, tails])
            arc_edge = np.concatenate([arc_edge, arc_edge])
        order = np.lexsort((arc_edge, heads, tails))  # by tail, then head, then edge index
        tails, heads, arc_edge = tails[order], heads[order], arc_edge[order]
        new_slot = np.ones(len(tails), dtype=bool)
        new_slot[1:] = (tails[1:] != tails[:-1]) | (heads[1:] != heads[:-1])
        slot_start = np.flatnonzero(new_slot)  # first arc of every slot
        num_nodes = len(self.nodes)
        slot_tails = tails[slot_start]
        self._indices = heads[slot_start].astype(np.int32)
        self._indptr = np.concatenate([[0], np.cumsum(np.bincount(slot_tails, minlength=num_nodes))]).astype(np.int32)
        self._slot_keys = slot_tails * num_nodes + heads[slot_start]  # sorted: CSR order
        self._arc_edge = arc_edge
        self._slot_start = slot_start
        self._slot_stop = np.append(slot_start[1:], len(arc_edge))
        self._parallel = len(slot_start) != len(arc_edge)

    def _csr(self):
        """This thread's CSR matrix (threads must not share one ``data`` buffer)."""
        csr = getattr(self._local, "csr", None)
        if csr is None:
            sparse = require("scipy.sparse", needed_for="shortest_path backend 'scipy'")
            csr = sparse.csr_matrix(
                (np.ones(len(self._indices)), self._indices.copy(), self._indptr.copy()),
                shape=(len(self.nodes), len(self.nodes)),
            )
            self._local.csr = csr
        return csr

    def __getstate__(self):
        state = super().__getstate__()
        for key in ("_local", "_lookup", "_fallback_graph"):  # rebuilt on demand
            state.pop(key, None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self._local = threading.local()

    # ------------------------------------------------------------------ #
    # Oracle hooks
    # ------------------------------------------------------------------ #
    def check_event_shape(self, event_shape):
        if event_shape != (self.num_edges,):
            return f"({self.num_edges},) (one cost per edge of the graph, in list(graph.edges) order)"
        return None

    def check_values(self, theta, data):
        self.first_bad((theta < 0).any(axis=1), "expected non-negative edge costs (Dijkstra), but found a negative one")

    def solve(self, theta):
        costs = np.asarray(theta, dtype=np.float64)
        largest = costs.max(initial=0.0)
        if largest > _SUM_LIMIT / len(self.nodes):
            # A path's float sum could overflow to inf (scipy then reports "no
            # path"); a power of two scales every sum exactly instead.
            costs = np.ldexp(costs, -int(np.frexp(largest)[1]))
        if self.backend == "networkx":
            return self._solve_networkx(costs)
        if not csgraph_keeps_explicit_zeros() and not costs.all():
            return self._solve_networkx(costs)
        return self._solve_scipy(costs)

    def _solve_scipy(self, costs: np.ndarray) -> np.ndarray:
        csgraph = require("scipy.sparse.csgraph", needed_for="shortest_path backend 'scipy'")
        csr = self._csr()
        arc_costs = costs[self._arc_edge]
        if self._parallel:
            np.minimum.reduceat(arc_costs, self._slot_start, out=csr.data)
        else:
            csr.data[:] = arc_costs
        _, predecessors = csgraph.dijkstra(
            csr, directed=True, indices=self._source, return_predecessors=True
        )
        z = np.zeros(self.num_edges, dtype=np.float64)
        source, node = self._source, self._target
        if node != source and predecessors[node] < 0:
            raise self._no_path()
        heads = []
        while node != source:  # walk back along the predecessors
            heads.append(node)
            node = int(predecessors[node])
        if not heads:
            return z
        heads_array = np.array(heads, dtype=np.int64)
        tails_array = predecessors[heads_array].astype(np.int64)
        slots = np.searchsorted(self._slot_keys, tails_array * len(self.nodes) + heads_array)
        if not self._parallel:
            z[self._arc_edge[self._slot_start[slots]]] = 1.0
            return z
        data = csr.data
        for slot in slots.tolist():
            start, stop = self._slot_start[slot], self._slot_stop[slot]
            # parallel edges: the cheapest, the lowest edge index on ties
            z[self._arc_edge[start + int(np.argmax(arc_costs[start:stop] == data[slot]))]] = 1.0
        return z

    def _solve_networkx(self, costs: np.ndarray) -> np.ndarray:
        nx = require("networkx", needed_for="the shortest_path oracle")
        lookup = self._arc_lookup()
        values = costs.tolist()
        if self.multigraph:
            def weight(u, v, _attributes):
                return min(values[i] for i in lookup[u, v])
        else:
            def weight(u, v, _attributes):
                return values[lookup[u, v][0]]

        graph = self._graph if self._graph is not None else self._rebuild_graph()
        try:
            path = nx.dijkstra_path(graph, self.source, self.target, weight=weight)
        except nx.NetworkXNoPath:
            raise self._no_path() from None
        z = np.zeros(self.num_edges, dtype=np.float64)
        for u, v in zip(path[:-1], path[1:]):
            candidates = lookup[u, v]  # sorted by edge index; min() keeps the first of equals
            z[min(candidates, key=values.__getitem__)] = 1.0
        return z

    def _arc_lookup(self) -> dict:
        lookup = self.__dict__.get("_lookup")
        if lookup is None:
            pairs: dict = {}
            for index, edge in enumerate(self.edges):
                u, v = edge[0], edge[1]
                pairs.setdefault((u, v), []).append(index)
                if not self.directed and u != v:
                    pairs.setdefault((v, u), []).append(index)
            lookup = {pair: sorted(ids) for pair, ids in pairs.items()}
            self.__dict__["_lookup"] = lookup
        return lookup

    def _rebuild_graph(self):
        nx = require("networkx", needed_for="the shortest_path oracle")
        graph = self.__dict__.get("_fallback_graph")
        if graph is None:
            kind = {(False, False): nx.Graph, (True, False): nx.DiGraph,
                    (False, True): nx.MultiGraph, (True, True): nx.MultiDiGraph}[self.directed, self.multigraph]
            graph = kind()
            graph.add_nodes_from(self.nodes)
            graph.add_edges_from(self.edges)
            self.__dict__["_fallback_graph"] = graph
        return graph

    def _no_path(self) -> InfeasibleError:
        return InfeasibleError(
            f"no path from source {self.source!r} to target {self.target!r} in the graph", oracle=self.name
        )

    def __repr__(self):
        kind = ("Multi" if self.multigraph else "") + ("DiGraph" if self.directed else "Graph")
        return (f"ShortestPath({kind} with {len(self.nodes)} nodes and {self.num_edges} edges, "
                f"source={self.source!r}, target={self.target!r}, backend={self.backend!r})")
