"""Minimum or maximum spanning trees of a graph given at construction: the
``spanning_tree`` oracle."""

from __future__ import annotations

import numpy as np

from ..errors import InfeasibleError
from ._deps import compiled, require
from .base import Oracle

__all__ = ["SpanningTree"]


def _kruskal(order, tails, heads, num_nodes, z):  # pragma: no cover - compiled by numba
    """Kruskal over a chunk: ``order`` (m, E) lists the edges of each instance
    in the order they are tried; writes the tree's indicator into ``z``
    (m, E) and returns the number of tree edges per instance."""
    m, num_edges = order.shape
    parent = np.empty(num_nodes, np.int64)
    found = np.zeros(m, np.int64)
    for b in range(m):
        for v in range(num_nodes):
            parent[v] = v
        need = num_nodes - 1
        got = 0
        for k in range(num_edges):
            if got == need:
                break
            edge = order[b, k]
            root_u = tails[edge]
            while parent[root_u] != root_u:  # find with path halving
                parent[root_u] = parent[parent[root_u]]
                root_u = parent[root_u]
            root_v = heads[edge]
            while parent[root_v] != root_v:
                parent[root_v] = parent[parent[root_v]]
                root_v = parent[root_v]
            if root_u != root_v:
                parent[max(root_u, root_v)] = min(root_u, root_v)
                z[b, edge] = 1.0
                got += 1
        found[b] = got
    return found


_kernel = compiled(_kruskal, needed_for="the spanning_tree oracle")


class SpanningTree(Oracle):
    r"""Minimum (or maximum) spanning tree of a fixed undirected graph with
    per-instance edge weights.

    .. math::

        z = \arg\min_{z \in T} \langle w, z \rangle \quad (\text{sense} = \text{"min"}),
        \qquad z = \arg\max_{z \in T} \langle \theta, z \rangle \quad (\text{"max"}),

    where ``T`` is the set of edge indicators of the spanning trees of the
    graph. Weights (shape ``(num_edges,)``) follow ``list(graph.edges)``
    (``(u, v, key)`` order for multigraphs); any real weight is allowed,
    zero and negative ones included. The solution is the 0/1 indicator of
    the tree's ``|V| - 1`` edges; self-loops are never in it.

    Solved by Kruskal's algorithm (compiled with numba, releasing the GIL):
    edges are tried in order of weight (increasing for ``"min"``,
    decreasing for ``"max"``), ties in order of edge index, so among equally
    good trees the one preferring lower edge indices is returned —
    deterministic on every runner. A disconnected graph has no spanning
    tree: :class:`~imle_solvers.errors.InfeasibleError`.

    Args:
        graph: an undirected networkx graph (``Graph`` or ``MultiGraph``)
            with at least one edge; it is copied.
        sense: ``"min"`` (default; costs in) or ``"max"`` (scores in).

    Example:
        >>> import networkx as nx, numpy as np
        >>> from imle_solvers import get_oracle
        >>> graph = nx.Graph([(0, 1), (1, 2), (0, 2)])
        >>> get_oracle("spanning_tree", graph=graph)(np.array([3.0, 1.0, 2.0]))
        array([0., 1., 1.])
        >>> get_oracle("spanning_tree", graph=graph, sense="max")(np.array([3.0, 1.0, 2.0]))
        array([1., 0., 1.])
    """

    name = "spanning_tree"
    complexity_doc = "O(E log E): Kruskal with union-find"
    sense = "min"
    sense_doc = "min/max (option)"
    event_ndim = 1
    backend = "numba kruskal"
    dependencies = ("numba", "networkx")
    event_doc = "(num_edges,)"

    def __init__(self, graph, *, sense: str = "min"):
        nx = require("networkx", needed_for="the spanning_tree oracle")
        if not isinstance(graph, nx.Graph):
            raise TypeError(f"spanning_tree: expected a networkx graph, but found {type(graph).__name__}")
        if graph.is_directed():
            raise self.invalid(
                f"expected an undirected graph (Graph or MultiGraph), but found a {type(graph).__name__}; "
                "use graph.to_undirected() if that is what you mean"
            )
        if sense not in ("min", "max"):
            raise self.invalid(f"expected sense 'min' or 'max', but found {sense!r}")
        if graph.number_of_edges() == 0:
            raise self.invalid("expected a graph with at least one edge, but found none")
        self.sense = sense
        self.multigraph = graph.is_multigraph()
        self.nodes = list(graph.nodes)
        self.edges = list(graph.edges(keys=True)) if self.multigraph else list(graph.edges)
        self.num_edges = len(self.edges)
        position = {node: i for i, node in enumerate(self.nodes)}
        self._tails = np.array([position[e[0]] for e in self.edges], dtype=np.int64)
        self._heads = np.array([position[e[1]] for e in self.edges], dtype=np.int64)

    def check_event_shape(self, event_shape):
        if event_shape != (self.num_edges,):
            return f"({self.num_edges},) (one weight per edge of the graph, in list(graph.edges) order)"
        return None

    def solve_chunk(self, theta):
        weights = np.asarray(theta, dtype=np.float64)
        keys = weights if self.sense == "min" else -weights
        order = np.argsort(keys, axis=1, kind="stable")  # (m, E): ties keep edge-index order
        z = np.zeros(weights.shape, dtype=np.float64)
        found = _kernel(order, self._tails, self._heads, len(self.nodes), z)
        short = np.flatnonzero(found < len(self.nodes) - 1)
        if short.size:
            raise InfeasibleError(
                f"the graph is not connected ({len(self.nodes)} nodes, a spanning forest of only "
                f"{int(found[short[0]])} edges), so it has no spanning tree",
                oracle=self.name, index=int(short[0]),
            )
        return z

    def __repr__(self):
        return (f"SpanningTree({'MultiGraph' if self.multigraph else 'Graph'} with {len(self.nodes)} nodes and "
                f"{self.num_edges} edges, sense={self.sense!r})")
