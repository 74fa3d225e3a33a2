"""Exact shortest paths on Warcraft-style vertex-weighted grids, vectorised
over a batch of maps with numpy (the labeller of the synthetic data set).

This module is deliberately independent of the ``shortest_path_grid`` oracle:
it is the reference that produces the data set's labels, written with a
different algorithm so that the two can check each other. Instead of
Dijkstra's priority queue it relaxes the whole batch at once, row by row
and column by column in both directions (a Gauss-Seidel form of
Bellman-Ford), until nothing changes; maps that have settled drop out. On
12 x 12 Warcraft maps this takes about 5 sweeps.

Problem. A map is a ``k x k`` array of non-negative cell costs ``c``. A path
runs from the top-left cell ``s = (0, 0)`` to the bottom-right cell
``t = (k-1, k-1)`` through 8-neighbouring cells (4 straight and 4 diagonal
moves). Its cost is the sum of the costs of *all* its cells, both ends
included.

Tie rule (the one specified for the ``shortest_path_grid`` oracle). Each cell
gets the
lexicographically smallest pair ``(D, H)``::

    (D[s], H[s]) = (c[s], 0)
    (D[v], H[v]) = min over neighbours u of v of (D[u] + c[v], H[u] + 1)

so ``D`` is the optimal cost and ``H`` the fewest moves among optimal paths.
The path is read backwards from ``t``: from ``v`` step to the neighbour ``u``
minimising ``(D[u] + c[v], H[u])``; remaining ties go to the first neighbour
in :data:`NEIGHBOUR_OFFSETS`, row-major order::

    (-1, -1) (-1, 0) (-1, +1)
    ( 0, -1)    v    ( 0, +1)
    (+1, -1) (+1, 0) (+1, +1)

Arithmetic is float64 (the input is cast), and every ``D[v]`` is formed as
``D[u] + c[v]``, as a Dijkstra run forms it, so the result is exactly that of
a float64 Dijkstra with lexicographic keys (both compute the least sums over
all walks; float addition is monotone). Equal-cost paths whose float sums
differ in the last bit are not ties; feed integer-valued costs to make
every sum exact.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError

__all__ = ["NEIGHBOUR_OFFSETS", "grid_shortest_paths"]

NEIGHBOUR_OFFSETS: tuple[tuple[int, int], ...] = (
    (-1, -1),
    (-1, 0),
    (-1, 1),
    (0, -1),
    (0, 1),
    (1, -1),
    (1, 0),
    (1, 1),
)
"""The 8 moves ``(d_row, d_col)`` in the order that breaks remaining ties."""

_NO_HOPS = np.iinfo(np.int32).max // 2  # "unreached" for hop counts; +1 cannot overflow


def _min_of_three(line: np.ndarray) -> np.ndarray:
    """``out[:, j] = min(line[:, j-1], line[:, j], line[:, j+1])`` for lines
    ``(m, k)``; missing neighbours at the ends are ignored."""
    out = line.copy()
    np.minimum(out[:, 1:], line[:, :-1], out=out[:, 1:])
    np.minimum(out[:, :-1], line[:, 1:], out=out[:, :-1])
    return out


def _row_order(k: int):
    """``(row, previous row)`` pairs: a pass downwards, then one upwards."""
    return [(i, i - 1) for i in range(1, k)] + [(i, i + 1) for i in range(k - 2, -1, -1)]


def _cost_passes(dist: np.ndarray, costs: np.ndarray) -> None:
    """Relax ``D`` in place, row by row downwards then upwards: each row takes
    the best of its three neighbours in the previous row. Adding ``c[v]``
    after the minimum equals the minimum of the sums, as rounding is
    monotone."""
    for i, prev in _row_order(dist.shape[1]):
        row = dist[:, i, :]
        np.minimum(row, _min_of_three(dist[:, prev, :]) + costs[:, i, :], out=row)


def _hop_passes(hops: np.ndarray, dist: np.ndarray, costs: np.ndarray) -> None:
    """Relax ``H`` in place like :func:`_cost_passes`, over tight moves only
    (``D[u] + c[v] == D[v]``)."""
    k = dist.shape[1]
    shifts = [(slice(1, k), slice(0, k - 1)), (slice(0, k), slice(0, k)), (slice(0, k - 1), slice(1, k))]
    for i, prev in _row_order(k):
        for v_cols, u_cols in shifts:
            tight = dist[:, prev, u_cols] + costs[:, i, v_cols] == dist[:, i, v_cols]
            target = hops[:, i, v_cols]
            np.minimum(target, np.where(tight, hops[:, prev, u_cols] + 1, _NO_HOPS), out=target)


def _relax(values: np.ndarray, passes, *arrays: np.ndarray) -> None:
    """Sweep ``passes`` over rows and columns (through transposed views)
    until ``values`` stop changing; maps that have settled drop out."""
    active = np.arange(values.shape[0])
    while active.size:
        current = values[active]
        others = [a[active] for a in arrays]
        before = current.copy()
        passes(current, *others)
        passes(current.transpose(0, 2, 1), *(a.transpose(0, 2, 1) for a in others))
        values[active] = current
        active = active[(current != before).any(axis=(1, 2))]


def _optimal_costs(costs: np.ndarray) -> np.ndarray:
    """``D`` for a batch ``(n, k, k)``."""
    dist = np.full_like(costs, np.inf)
    dist[:, 0, 0] = costs[:, 0, 0]
    _relax(dist, _cost_passes, costs)
    return dist


def _fewest_hops(costs: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """``H``: fewest moves from ``s`` over tight moves."""
    hops = np.full(costs.shape, _NO_HOPS, dtype=np.int32)
    hops[:, 0, 0] = 0
    _relax(hops, _hop_passes, dist, costs)
    return hops


def _backtrack(costs: np.ndarray, dist: np.ndarray, hops: np.ndarray) -> np.ndarray:
    """Walk back from ``t`` to ``s`` by the tie rule; returns 0/1 uint8 maps."""
    n, k, _ = costs.shape
    # Pad so that every cell has 8 neighbours; outside cells are never chosen.
    dist_pad = np.full((n, k + 2, k + 2), np.inf)
    dist_pad[:, 1:-1, 1:-1] = dist
    hops_pad = np.full((n, k + 2, k + 2), _NO_HOPS, dtype=np.int32)
    hops_pad[:, 1:-1, 1:-1] = hops
    d_rows = np.array([o[0] for o in NEIGHBOUR_OFFSETS])  # (8,)
    d_cols = np.array([o[1] for o in NEIGHBOUR_OFFSETS])  # (8,)

    paths = np.zeros((n, k, k), dtype=np.uint8)
    paths[:, k - 1, k - 1] = 1
    rows = np.full(n, k - 1)
    cols = np.full(n, k - 1)
    active = np.arange(n) if k > 1 else np.arange(0)
    while active.size:
        r, c = rows[active], cols[active]
        u_rows = r[:, None] + d_rows + 1  # (m, 8), padded coordinates
        u_cols = c[:, None] + d_cols + 1
        here = costs[active, r, c][:, None]  # (m, 1)
        cand = dist_pad[active[:, None], u_rows, u_cols] + here  # (m, 8)
        best = cand.min(axis=1, keepdims=True)
        cand_hops = np.where(cand == best, hops_pad[active[:, None], u_rows, u_cols], _NO_HOPS)
        choice = np.argmin(cand_hops, axis=1)  # first minimum: the neighbour order
        rows[active] = r + d_rows[choice]
        cols[active] = c + d_cols[choice]
        paths[active, rows[active], cols[active]] = 1
        active = active[(rows[active] != 0) | (cols[active] != 0)]
    return paths


def grid_shortest_paths(costs, *, return_costs: bool = False, chunk_size: int = 4096):
    """Optimal top-left to bottom-right paths on vertex-weighted grids.

    Args:
        costs: ``(..., k, k)`` non-negative finite cell costs (any array-like;
            cast to float64). ``k >= 1``; a ``1 x 1`` map is its own path.
        return_costs: also return the optimal path costs ``D[t]``.
        chunk_size: maps relaxed together (bounds the memory).

    Returns:
        ``paths``, uint8 ``(..., k, k)`` with ones on the path's cells (both
        ends included); with ``return_costs`` the pair ``(paths,
        path_costs)`` where ``path_costs`` is float64 ``(...)``.

    The tie rule and the neighbour order are described in the module
    docstring: minimum cost, then fewest cells, then the first neighbour in
    :data:`NEIGHBOUR_OFFSETS` while walking back from the target.

    Example:
        >>> import numpy as np
        >>> costs = np.array([[1.0, 9.0, 9.0],
        ...                   [9.0, 1.0, 9.0],
        ...                   [9.0, 9.0, 1.0]])
        >>> paths, total = grid_shortest_paths(costs, return_costs=True)
        >>> paths
        array([[1, 0, 0],
               [0, 1, 0],
               [0, 0, 1]], dtype=uint8)
        >>> float(total)
        3.0
    """
    costs = np.asarray(costs, dtype=np.float64)
    if costs.ndim < 2 or costs.shape[-1] != costs.shape[-2] or costs.shape[-1] < 1:
        raise InvalidInputError(f"grid_shortest_paths: expected costs of shape (..., k, k), but found {costs.shape}")
    if not np.all(np.isfinite(costs)) or np.any(costs < 0):
        flat = costs.reshape(-1, *costs.shape[-2:])
        bad = int(np.flatnonzero(~np.all(np.isfinite(flat) & (flat >= 0), axis=(1, 2)))[0])
        index = np.unravel_index(bad, costs.shape[:-2]) if costs.ndim > 2 else ()
        raise InvalidInputError(
            f"grid_shortest_paths: expected finite non-negative costs, but map {tuple(int(i) for i in index)} "
            f"has min {float(flat[bad].min())!r} and max {float(flat[bad].max())!r}",
            index=tuple(int(i) for i in index),
        )
    batch_shape = costs.shape[:-2]
    k = costs.shape[-1]
    flat = costs.reshape(-1, k, k)
    chunk_size = max(1, int(chunk_size))
    paths = np.zeros(flat.shape, dtype=np.uint8)
    totals = np.zeros(flat.shape[0])
    for start in range(0, flat.shape[0], chunk_size):
        chunk = flat[start : start + chunk_size]
        dist = _optimal_costs(chunk)
        hops = _fewest_hops(chunk, dist)
        paths[start : start + chunk_size] = _backtrack(chunk, dist, hops)
        totals[start : start + chunk_size] = dist[:, k - 1, k - 1]
    paths = paths.reshape(*batch_shape, k, k)
    if return_costs:
        return paths, totals.reshape(batch_shape)
    return paths
