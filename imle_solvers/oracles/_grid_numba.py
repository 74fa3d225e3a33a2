"""Compiled kernel of the ``shortest_path_grid`` oracle (numba).

Imported only when the numba backend solves its first batch, so that listing
the registry or using the torch backend never imports numba. The first call
in a process compiles the kernel (about 2 s) unless numba's on-disk cache
(``cache=True``: ``__pycache__`` next to this file, or ``NUMBA_CACHE_DIR``)
already holds it; later processes load it from there (a fraction of a
second, mostly importing numba).

The kernel implements the tie rule documented in
:mod:`imle_solvers.oracles.grid`: Dijkstra over the lexicographic keys
``(D, H)`` — float64 path cost, then number of steps — followed by a
backtrack that takes, at each cell, the first neighbour in the fixed order
whose key extends to the cell's own key.

Implementation notes (each measured on Warcraft-like maps): the grid is
copied into a buffer padded by one cell of infinite cost, so neighbours are
fixed index offsets with no bounds checks; the heap is a lazy binary heap of
``(D, H << 32 | cell)`` pairs in two flat arrays (a stale entry is recognised
because its key no longer matches the cell's current key), allocated once
per chunk; the search stops when the target is settled. The heap's sift-down
and sift-up are written out here on purpose: helpers inlined by numba
(``inline="always"``) take the heap arrays as arguments, which adds
reference-count calls to the pop and push paths, and measured 2-7% slower on
this kernel (median over interleaved rounds, CPU clock).
:mod:`~imle_solvers.oracles._graph_numba` uses such helpers (``_push``,
``_pop``) because its bidirectional search runs two heaps.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["solve_grid_chunk"]

_UNREACHED = 1 << 40  # hop count of a cell no path has reached yet


@numba.njit(cache=True, nogil=True, inline="always")
def _precedes(dist_a, key_a, dist_b, key_b):
    return dist_a < dist_b or (dist_a == dist_b and key_a < key_b)


@numba.njit(cache=True, nogil=True)
def solve_grid_chunk(costs, rows, cols, out):
    """Cheapest top-left to bottom-right paths of a chunk of grids.

    Args:
        costs: ``(m, k, k)`` float64, non-negative and finite.
        rows, cols: int64 neighbour offsets in the fixed tie-break order.
        out: ``(m, k, k)`` array of zeros; the cells of each path are set to 1.

    Returns:
        -1 on success, else the chunk-local index of the first instance
        without a finite path cost (the float64 sum overflowed).
    """
    m = costs.shape[0]
    k = costs.shape[1]
    width = k + 2
    padded = width * width
    directions = rows.shape[0]
    steps = rows * width + cols  # flat offsets of the neighbours, in order
    source = width + 1
    target = k * width + k
    cost = np.full(padded, np.inf)  # the border costs +inf: never entered
    dist = np.full(padded, np.inf)
    hops = np.full(padded, -1, dtype=np.int64)  # -1 on the border: never improved
    # At most one push per strict improvement of a cell's key, and a cell's
    # key improves at most once per settled neighbour.
    capacity = k * k * directions + 1
    heap_dist = np.empty(capacity, dtype=np.float64)
    heap_key = np.empty(capacity, dtype=np.int64)  # hops << 32 | cell
    for i in range(m):
        for r in range(k):
            base = (r + 1) * width + 1
            for col in range(k):
                cost[base + col] = costs[i, r, col]
                dist[base + col] = np.inf
                hops[base + col] = _UNREACHED
        dist[source] = cost[source]
        hops[source] = 0
        heap_dist[0] = cost[source]
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
                    if right < size and _precedes(heap_dist[right], heap_key[right], heap_dist[child], heap_key[child]):
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
                continue  # stale: the cell was improved after this push
            if v == target:
                break
            next_h = h + 1
            for j in range(directions):
                u = v + steps[j]
                nd = d + cost[u]
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
        if not dist[target] < np.inf:
            return i
        # Backtrack: the first neighbour u in the fixed order with
        # fl(D[u] + w[v]) == D[v] and H[u] == H[v] - 1.
        v = target
        while True:
            out[i, v // width - 1, v % width - 1] = 1
            if v == source:
                break
            want_h = hops[v] - 1
            want_d = dist[v]
            cv = cost[v]
            found = -1
            for j in range(directions):
                u = v + steps[j]
                if hops[u] == want_h and dist[u] + cv == want_d:
                    found = u
                    break
            if found < 0:  # impossible for finite non-negative costs
                return i
            v = found
    return -1
