"""Compiled kernel of the ``shortest_path`` oracle's ``"numba"`` backend.

Imported only when the numba backend solves its first batch, so that listing
the registry or the reference backends never import numba. The first call in
a process compiles the kernel (a few seconds) unless numba's on-disk cache
(``cache=True``: ``__pycache__`` next to this file, or ``NUMBA_CACHE_DIR``)
already holds it.

One call solves a whole chunk of cost vectors on one graph, whose arcs come
as two CSR layouts built once by :class:`~imle_solvers.oracles.ShortestPath`:
out-arcs per node (for the search) and in-arcs per node sorted by edge index
(for the backtrack). Per instance it computes, for every node ``v`` it
needs, the lexicographically smallest key ``(D[v], H[v])`` — the float64
cost of a cheapest path from the source, then the fewest edges of such a
path through nodes reached at their own cheapest cost — and then traces the
path back from the target, taking at each node the in-arc of the lowest edge
index with ``D[u] + w == D[v]`` and ``H[u] == H[v] - 1`` (the tie rule of
:mod:`imle_solvers.oracles.graph`). The keys are computed

* on a graph with a cycle, by Dijkstra with a lazy binary heap of
  ``(D, H << 32 | node)`` pairs in two flat arrays, stopping when the
  target is settled (costs are non-negative here; the heap is the one of
  :mod:`~imle_solvers.oracles._grid_numba`, written out again there on
  purpose: see that module);
* on an acyclic graph, by one relaxation of each node's out-arcs in
  topological order, from the source's position to the target's: ``O(V +
  E)``, and exact for negative costs too.

Both give the same keys (the keys are the unique solution of
``key[v] = min over in-arcs (D[u] + w, H[u] + 1)`` on the nodes reached), so
the backtrack, and the path, do not depend on which one ran.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["solve_paths_chunk"]

_UNREACHED = 1 << 40  # hop count of a node no path has reached yet


@numba.njit(cache=True, nogil=True, inline="always")
def _precedes(dist_a, key_a, dist_b, key_b):
    return dist_a < dist_b or (dist_a == dist_b and key_a < key_b)


@numba.njit(cache=True, nogil=True)
def solve_paths_chunk(costs, out_ptr, out_head, out_edge, in_ptr, in_tail, in_edge, order, acyclic,
                      source, target, out):
    """Cheapest ``source`` -> ``target`` paths for a chunk of cost vectors.

    Args:
        costs: ``(m, E)`` float64, finite; non-negative unless ``acyclic``.
        out_ptr, out_head, out_edge: int64 CSR of the out-arcs of every node.
        in_ptr, in_tail, in_edge: int64 CSR of the in-arcs of every node,
            each node's arcs sorted by edge index.
        order: int64 nodes in a topological order (used when ``acyclic``).
        acyclic: relax in topological order instead of running Dijkstra.
        source, target: node numbers.
        out: ``(m, E)`` zeros; the edges of each path are set to 1.

    Returns:
        -1 on success, else the chunk-local index of the first instance
        whose target cannot be reached.
    """
    m = costs.shape[0]
    num_nodes = out_ptr.shape[0] - 1
    num_arcs = out_head.shape[0]
    dist = np.empty(num_nodes, dtype=np.float64)
    hops = np.empty(num_nodes, dtype=np.int64)
    capacity = num_arcs + 1  # one push per strict key improvement, at most one per arc
    heap_dist = np.empty(capacity, dtype=np.float64)
    heap_key = np.empty(capacity, dtype=np.int64)  # hops << 32 | node
    first = 0
    last = num_nodes - 1
    if acyclic:
        for p in range(num_nodes):
            if order[p] == source:
                first = p
            if order[p] == target:
                last = p
    for i in range(m):
        for v in range(num_nodes):
            dist[v] = np.inf
            hops[v] = _UNREACHED
        dist[source] = 0.0
        hops[source] = 0
        if acyclic:
            for p in range(first, last + 1):
                v = order[p]
                h = hops[v]
                if h == _UNREACHED:
                    continue
                d = dist[v]
                next_h = h + 1
                for a in range(out_ptr[v], out_ptr[v + 1]):
                    u = out_head[a]
                    nd = d + costs[i, out_edge[a]]
                    du = dist[u]
                    if nd < du or (nd == du and next_h < hops[u]):
                        dist[u] = nd
                        hops[u] = next_h
        else:
            heap_dist[0] = 0.0
            heap_key[0] = source
            size = 1
            while size > 0:
                d = heap_dist[0]
                key = heap_key[0]
                size -= 1
                if size > 0:  # sift the last entry down from the root
                    last_d = heap_dist[size]
                    last_key = heap_key[size]
                    pos = 0
                    while True:
                        child = 2 * pos + 1
                        if child >= size:
                            break
                        right = child + 1
                        if right < size and _precedes(heap_dist[right], heap_key[right],
                                                      heap_dist[child], heap_key[child]):
                            child = right
                        if not _precedes(heap_dist[child], heap_key[child], last_d, last_key):
                            break
                        heap_dist[pos] = heap_dist[child]
                        heap_key[pos] = heap_key[child]
                        pos = child
                    heap_dist[pos] = last_d
                    heap_key[pos] = last_key
                v = key & 0xFFFFFFFF
                h = key >> 32
                if d != dist[v] or h != hops[v]:
                    continue  # stale: the node was improved after this push
                if v == target:
                    break
                next_h = h + 1
                for a in range(out_ptr[v], out_ptr[v + 1]):
                    u = out_head[a]
                    nd = d + costs[i, out_edge[a]]
                    du = dist[u]
                    if nd < du or (nd == du and next_h < hops[u]):
                        dist[u] = nd
                        hops[u] = next_h
                        new_key = (next_h << 32) | u
                        pos = size
                        size += 1
                        while pos > 0:  # sift up
                            parent = (pos - 1) >> 1
                            if not _precedes(nd, new_key, heap_dist[parent], heap_key[parent]):
                                break
                            heap_dist[pos] = heap_dist[parent]
                            heap_key[pos] = heap_key[parent]
                            pos = parent
                        heap_dist[pos] = nd
                        heap_key[pos] = new_key
        if hops[target] == _UNREACHED:
            return i
        # Backtrack: the in-arc of the lowest edge index with D[u] + w == D[v], H[u] == H[v] - 1.
        v = target
        while v != source:
            want_h = hops[v] - 1
            want_d = dist[v]
            found = -1
            for a in range(in_ptr[v], in_ptr[v + 1]):
                u = in_tail[a]
                e = in_edge[a]
                if hops[u] == want_h and dist[u] + costs[i, e] == want_d:
                    out[i, e] = 1.0
                    found = u
                    break
            if found < 0:  # impossible: the key of v came from such an arc
                return i
            v = found
    return -1
