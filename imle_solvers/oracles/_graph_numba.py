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
  :mod:`~imle_solvers.oracles._grid_numba`, but here its push and pop are
  inlined helpers, ``_push`` and ``_pop``, because the bidirectional search
  runs two heaps; the grid kernel writes them out, measured 2-7% faster
  there, and the one-sided search here measured about 2.5% slower (median,
  CPU clock, 1,000-node random graph) than when it wrote them out too) --
  by default bidirectionally (below);
* on an acyclic graph, by one relaxation of each node's out-arcs in
  topological order, from the source's position to the target's: ``O(V +
  E)``, and exact for negative costs too.

Both give the same keys (the keys are the unique solution of
``key[v] = min over in-arcs (D[u] + w, H[u] + 1)`` on the nodes reached), so
the backtrack, and the path, do not depend on which one ran.

**Bidirectional search, same keys.** A backward Dijkstra from the target
(over in-arcs; its sums round differently, so it only bounds) runs
alternately with the forward one, whichever heap is smaller, and keeps
``mu``, the cheapest source -> target cost seen where the two searches
touch. They stop when the two heap minima sum to more than ``mu (1 +
1e-9)``: then every node on a cheapest path (ties included: the margin is
far above the rounding of any path sum) has been settled by one side or the
other -- the set ``R``. The forward search then continues alone, settling
and relaxing only nodes of ``R``, until it settles the target. A node of a
cheapest path has its key from a path that lies in ``R`` (a prefix of a
cheapest path is one), so the forward keys the backtrack reads are the
exact keys of the one-sided search: the same path, bit for bit. On a random
graph the two balls meet long before one ball reaches the target, so far
fewer nodes are settled (``benchmarks/peer_oracles.py``).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["solve_paths_chunk"]

_UNREACHED = 1 << 40  # hop count of a node no path has reached yet


@numba.njit(cache=True, nogil=True, inline="always")
def _precedes(dist_a, key_a, dist_b, key_b):
    return dist_a < dist_b or (dist_a == dist_b and key_a < key_b)


@numba.njit(cache=True, nogil=True, inline="always")
def _push(heap_dist, heap_key, size, d, key):
    """Push ``(d, key)`` onto the heap of ``size`` entries; returns the new size."""
    pos = size
    while pos > 0:  # sift up
        parent = (pos - 1) >> 1
        if not _precedes(d, key, heap_dist[parent], heap_key[parent]):
            break
        heap_dist[pos] = heap_dist[parent]
        heap_key[pos] = heap_key[parent]
        pos = parent
    heap_dist[pos] = d
    heap_key[pos] = key
    return size + 1


@numba.njit(cache=True, nogil=True, inline="always")
def _pop(heap_dist, heap_key, size):
    """Remove the least entry; returns ``(d, key, new size)``."""
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
            if right < size and _precedes(heap_dist[right], heap_key[right], heap_dist[child], heap_key[child]):
                child = right
            if not _precedes(heap_dist[child], heap_key[child], last_d, last_key):
                break
            heap_dist[pos] = heap_dist[child]
            heap_key[pos] = heap_key[child]
            pos = child
        heap_dist[pos] = last_d
        heap_key[pos] = last_key
    return d, key, size


@numba.njit(cache=True, nogil=True)
def _bidirectional_keys(cost, out_ptr, out_head, out_edge, in_ptr, in_tail, in_edge, source, target,
                        dist, hops, back, settled, heap_dist, heap_key, back_dist, back_key):
    """The forward keys ``(dist, hops)`` the backtrack needs, by the bidirectional search of the module
    docs. ``settled`` (int8, zeros on entry) marks ``R``: 1 settled forward, 2 backward, 3 both."""
    num_nodes = dist.shape[0]
    for v in range(num_nodes):
        back[v] = np.inf
    back[target] = 0.0
    size = _push(heap_dist, heap_key, 0, 0.0, source)
    back_size = _push(back_dist, back_key, 0, 0.0, target)
    mu = np.inf
    while size > 0 and back_size > 0:
        if heap_dist[0] + back_dist[0] > mu + 1e-9 * mu:
            break
        if size <= back_size:  # the smaller heap advances
            d, key, size = _pop(heap_dist, heap_key, size)
            v = key & 0xFFFFFFFF
            h = key >> 32
            if d != dist[v] or h != hops[v]:
                continue  # stale
            settled[v] |= 1
            if v == target:
                return  # settled forward: the keys are those of the one-sided search
            next_h = h + 1
            for a in range(out_ptr[v], out_ptr[v + 1]):
                u = out_head[a]
                nd = d + cost[out_edge[a]]
                du = dist[u]
                if nd < du or (nd == du and next_h < hops[u]):
                    dist[u] = nd
                    hops[u] = next_h
                    size = _push(heap_dist, heap_key, size, nd, (next_h << 32) | u)
                    if nd + back[u] < mu:
                        mu = nd + back[u]
        else:
            d, v, back_size = _pop(back_dist, back_key, back_size)
            if d != back[v] or settled[v] & 2:
                continue  # stale
            settled[v] |= 2
            for a in range(in_ptr[v], in_ptr[v + 1]):
                u = in_tail[a]
                nd = d + cost[in_edge[a]]
                if nd < back[u]:
                    back[u] = nd
                    back_size = _push(back_dist, back_key, back_size, nd, u)
                    if dist[u] + nd < mu:
                        mu = dist[u] + nd
    # The forward search alone, within R, until the target is settled.
    while size > 0:
        d, key, size = _pop(heap_dist, heap_key, size)
        v = key & 0xFFFFFFFF
        h = key >> 32
        if d != dist[v] or h != hops[v] or settled[v] == 0 or settled[v] & 1:
            continue  # stale, outside R, or settled forward before the searches met
        settled[v] |= 1
        if v == target:
            return
        next_h = h + 1
        for a in range(out_ptr[v], out_ptr[v + 1]):
            u = out_head[a]
            if settled[u] == 0:
                continue
            nd = d + cost[out_edge[a]]
            du = dist[u]
            if nd < du or (nd == du and next_h < hops[u]):
                dist[u] = nd
                hops[u] = next_h
                size = _push(heap_dist, heap_key, size, nd, (next_h << 32) | u)


@numba.njit(cache=True, nogil=True)
def solve_paths_chunk(costs, out_ptr, out_head, out_edge, in_ptr, in_tail, in_edge, order, acyclic,
                      source, target, out, bidirectional=True):
    """Cheapest ``source`` -> ``target`` paths for a chunk of cost vectors.

    Args:
        costs: ``(m, E)`` float64, finite; non-negative unless ``acyclic``.
        out_ptr, out_head, out_edge: int64 CSR of the out-arcs of every node.
        in_ptr, in_tail, in_edge: int64 CSR of the in-arcs of every node,
            each node's arcs sorted by edge index.
        order: int64 nodes in a topological order (used when ``acyclic``).
        acyclic: relax in topological order instead of running Dijkstra.
        bidirectional: on a graph with a cycle, search from both ends (the
            same keys and path as the one-sided search, fewer nodes settled).
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
    two_sided = bidirectional and not acyclic and source != target
    back = np.empty(num_nodes if two_sided else 0, dtype=np.float64)
    settled = np.zeros(num_nodes if two_sided else 0, dtype=np.int8)
    back_dist = np.empty(capacity if two_sided else 0, dtype=np.float64)
    back_key = np.empty(capacity if two_sided else 0, dtype=np.int64)
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
        elif two_sided:
            settled[:] = 0
            _bidirectional_keys(costs[i], out_ptr, out_head, out_edge, in_ptr, in_tail, in_edge, source, target,
                                dist, hops, back, settled, heap_dist, heap_key, back_dist, back_key)
        else:
            size = _push(heap_dist, heap_key, 0, 0.0, source)
            while size > 0:
                d, key, size = _pop(heap_dist, heap_key, size)
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
                        size = _push(heap_dist, heap_key, size, nd, (next_h << 32) | u)
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
