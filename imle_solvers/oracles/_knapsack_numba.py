"""Compiled kernel of the ``knapsack`` oracle's ``"bb"`` backend: depth-first
branch and bound for the multi-dimensional 0/1 knapsack with real weights.

Imported only when the backend solves its first batch (numba compiles the
kernel on the first call in a process unless its on-disk cache holds it).

One call solves a whole chunk. Per instance ``b`` (values already scaled by a
power of two, capacities already widened by the oracle's feasibility rule):

* an item is *useful* when its value is positive and it fits every capacity
  alone; the others are never selected;
* the search branches on the items in index order, ``z_j = 0`` before
  ``z_j = 1``, so the selections it meets are in lexicographic order; an
  incumbent is replaced only by a strictly better value, so the result is
  the lexicographically smallest optimal indicator (the DP's tie rule);
* the bound of a node (items ``j..n-1`` open, remaining capacities ``r``) is
  the minimum over the dimensions ``k`` of the LP relaxation with the
  constraint ``k`` alone (Dantzig's fractional bound: the open items that
  still fit every remaining capacity, by decreasing ``v_i / w_ki``); a node
  is cut when its bound, raised by ``1e-12`` of the total useful value (float
  rounding of the bound), cannot beat the incumbent;
* the greedy selection (items by decreasing value over summed weight) gives
  the first value to beat — ties with it are still searched, so the tie rule
  holds;
* the value of a selection is summed over its items in index order (one
  running sum per depth, no subtractions), the same sum on every path.

More than ``node_limit`` nodes leaves ``done[b]`` False and ``z[b]``
untouched: the oracle then solves that instance with CP-SAT.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["solve_knapsack_chunk"]


@numba.njit(nogil=True, cache=True)
def _bound(values, weights, order, j, remaining, partial, useful):  # pragma: no cover - compiled
    """min over k of the fractional bound of dimension k at a node whose open items are j..n-1;
    also whether any open item still fits (else the node is a leaf)."""
    d, n = weights.shape
    best = np.inf
    any_fits = False
    for k in range(d):
        room = remaining[k]
        total = partial
        for position in range(n):
            i = order[k, position]
            if i < j or not useful[i]:
                continue
            fits = True
            for q in range(d):
                if weights[q, i] > remaining[q]:
                    fits = False
                    break
            if not fits:
                continue
            any_fits = True
            w = weights[k, i]
            if w <= room:
                room -= w
                total += values[i]
            else:
                total += values[i] * (room / w)
                break
        if total < best:
            best = total
    return best, any_fits


@numba.njit(nogil=True, cache=True)
def solve_knapsack_chunk(values, weights, capacities, use, node_limit, z, done):  # pragma: no cover - compiled
    """values (m, n) float64 (scaled), weights (m, d, n) float64, capacities
    (m, d) float64 (widened), use (m,) bool; writes z (m, n) and done (m,)."""
    m, n = values.shape
    d = weights.shape[1]
    for b in range(m):
        if not use[b]:
            continue
        v = values[b]
        w = weights[b]
        cap = capacities[b]
        useful = np.zeros(n, np.bool_)
        total_useful = 0.0
        for i in range(n):
            ok = v[i] > 0.0
            for k in range(d):
                if w[k, i] > cap[k]:
                    ok = False
            useful[i] = ok
            if ok:
                total_useful += v[i]
        # per-dimension orders by decreasing v / w_k (weight 0 first)
        order = np.empty((d, n), np.int64)
        for k in range(d):
            ratio = np.empty(n)
            for i in range(n):
                ratio[i] = -np.inf if w[k, i] == 0.0 else -(v[i] / w[k, i])
            order[k] = np.argsort(ratio, kind="mergesort")
        # greedy start: decreasing value over summed (capacity-relative) weight
        surrogate = np.empty(n)
        for i in range(n):
            s = 0.0
            for k in range(d):
                if cap[k] > 0.0:
                    s += w[k, i] / cap[k]
                elif w[k, i] > 0.0:
                    s += np.inf
            surrogate[i] = -np.inf if s == 0.0 else -(v[i] / s)
        greedy_order = np.argsort(surrogate, kind="mergesort")
        room = cap.copy()
        chosen = np.zeros(n, np.bool_)
        for position in range(n):
            i = greedy_order[position]
            if not useful[i]:
                continue
            fits = True
            for k in range(d):
                if w[k, i] > room[k]:
                    fits = False
            if fits:
                chosen[i] = True
                for k in range(d):
                    room[k] -= w[k, i]
        best = 0.0
        for i in range(n):  # index order, as the search sums
            if chosen[i]:
                best += v[i]
        have = False  # no selection of the search accepted yet: ties with the greedy value are accepted
        best_x = np.zeros(n, np.bool_)
        slack = 1e-12 * total_useful
        # the search: value[j], remaining[j] at depth j; state[j]: 0 = 0-branch open, 1 = in 1-branch
        value = np.zeros(n + 1)
        remaining = np.empty((n + 1, d))
        remaining[0] = cap
        x = np.zeros(n, np.bool_)
        state = np.zeros(n + 1, np.int8)
        nodes = 0
        j = 0
        entering = True
        failed = False
        while True:
            if entering:
                nodes += 1
                if nodes > node_limit:
                    failed = True
                    break
                current = value[j]
                # the selection x[:j] + zeros: the lexicographically first leaf of this subtree
                if current > best or (not have and current >= best):
                    best = current
                    have = True
                    best_x[:j] = x[:j]
                    best_x[j:] = False
                if j == n:
                    entering = False
                    j -= 1
                    if j < 0:
                        break
                    continue
                bound, any_fits = _bound(v, w, order, j, remaining[j], current, useful)
                bound += slack
                # cut when nothing below can be accepted: a tie only before the first accepted selection
                if not any_fits or bound < best or (have and bound <= best):
                    entering = False
                    j -= 1
                    if j < 0:
                        break
                    continue
                # 0-branch first
                state[j] = 0
                x[j] = False
                value[j + 1] = current
                remaining[j + 1] = remaining[j]
                j += 1
                continue
            # returning to node j from one of its branches
            if state[j] == 0:
                state[j] = 1
                fits = useful[j]
                if fits:
                    for k in range(d):
                        if w[k, j] > remaining[j, k]:
                            fits = False
                if fits:
                    x[j] = True
                    value[j + 1] = value[j] + v[j]
                    for k in range(d):
                        remaining[j + 1, k] = remaining[j, k] - w[k, j]
                    j += 1
                    entering = True
                    continue
            x[j] = False
            j -= 1
            if j < 0:
                break
        if failed:
            done[b] = False
            continue
        if not have:  # pragma: no cover - the root's empty selection is always accepted or beaten
            best_x[:] = chosen
        for i in range(n):
            z[b, i] = 1.0 if best_x[i] else 0.0
        done[b] = True
