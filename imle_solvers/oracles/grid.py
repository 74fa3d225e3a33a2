"""Shortest paths on Warcraft-style grids: the ``shortest_path_grid`` oracle.

A map is a ``k x k`` grid of non-negative vertex costs ``w``. A path runs from
the top-left cell ``s = (0, 0)`` to the bottom-right cell ``t = (k-1, k-1)``
through neighbouring cells (8-neighbourhood by default, 4 as an option) and
costs the sum of the costs of *every* cell on it, both ends included. The
oracle returns the ``k x k`` indicator ``z`` of the cells of a cheapest path::

    z = argmin_z <w, z>   over indicators of s-t paths

This is the problem of the Warcraft shortest-path benchmark (Vlastelica et
al., ICLR 2020; Niepert et al., NeurIPS 2021).

Tie rule
--------
The answer is a function of the input only, identical on every runner,
worker count and backend. Costs are cast to float64 once and sums are
float64 sums, ``fl(a + b)``. For every cell ``v``:

* ``D[v]`` — the cost of a cheapest path to ``v``, with ``D[s] = w[s]`` and
  ``D[v] = min_u fl(D[u] + w[v])`` over the neighbours ``u`` of ``v`` (every
  path's cost accumulated from ``s`` onwards, in path order).
* an edge ``u -> v`` is *tight* when ``fl(D[u] + w[v]) == D[v]``.
* ``H[v]`` — the fewest steps of a path from ``s`` to ``v`` made of tight
  edges (every prefix of such a path is itself a cheapest path), ``H[s] = 0``;
  equivalently ``(D[v], H[v]) = min_u (fl(D[u] + w[v]), H[u] + 1)`` in
  lexicographic order.

The path is traced back from ``t``: at ``v`` it steps to the first neighbour
``u`` in the fixed order below with ``fl(D[u] + w[v]) == D[v]`` and
``H[u] == H[v] - 1`` — the neighbour minimising ``(fl(D[u] + w[v]), H[u])``,
remaining ties broken by the order. ``H`` drops by one per step, so the trace
ends at ``s`` after ``H[t]`` steps, zero-cost plateaus included. The fixed
neighbour order is row-major over the offsets (row, column)::

    8-neighbourhood: (-1,-1) (-1,0) (-1,1) (0,-1) (0,1) (1,-1) (1,0) (1,1)
    4-neighbourhood:         (-1,0)        (0,-1) (0,1)        (1,0)

i.e. up-left, up, up-right, left, right, down-left, down, down-right.

Both backends compute exactly these ``D`` and ``H``. Floating-point addition
of a non-negative number is monotone (``a <= b`` implies
``fl(a + w) <= fl(b + w)`` and ``fl(a + w) >= a``), so Dijkstra and a
Bellman-Ford / min-plus relaxation reach the same float fixed point ``D``
bit for bit. ``H`` is then the breadth-first distance over tight edges, which
has one solution. The numba backend runs Dijkstra on the lexicographic keys
``(D, H)`` (a key never decreases along an edge, so Dijkstra is exact for
them); the torch backend relaxes ``D`` to its fixed point, then ``H`` over
the tight edges. (Relaxing ``(D, H)`` jointly in Bellman-Ford is *not*
equivalent: when two partial sums differ in their last bit and round to the
same value after one more addition, the joint relaxation can keep a hop
count no fixed point has.)
"""

from __future__ import annotations

import numpy as np

from .. import _tensors
from ..errors import OracleError
from ._deps import require
from .base import Oracle

__all__ = ["ShortestPathGrid"]

# Neighbour offsets in the documented tie-break order.
_OFFSETS = {
    8: ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)),
    4: ((-1, 0), (0, -1), (0, 1), (1, 0)),
}
# The same as (row offsets, column offsets) int64 arrays, for the numba kernel.
_OFFSET_ARRAYS = {n: tuple(np.array(a, dtype=np.int64) for a in zip(*offsets)) for n, offsets in _OFFSETS.items()}
_BACKENDS = ("numba", "torch")
_COMPUTE_DTYPES = ("float64", "float32")


class ShortestPathGrid(Oracle):
    """Cheapest top-left to bottom-right path on a ``k x k`` grid of vertex
    costs (Warcraft shortest path), as a ``k x k`` 0/1 indicator.

    ``z = argmin_z <w, z>`` over indicators of paths from cell ``(0, 0)`` to
    ``(k-1, k-1)``; a path's cost sums the costs of all its cells, both ends
    included. Any square ``k x k`` event (``k >= 1``) is accepted and read
    from the input's last two dimensions. Ties are broken by a documented
    rule — least cost, then fewest steps, then a fixed neighbour order (see
    :mod:`imle_solvers.oracles.grid`) — identically on both backends and
    every runner.

    Costs must be non-negative (Dijkstra is only correct for those):
    ``nonnegative`` is ``True``, and by default negative costs are refused
    with an :class:`~imle_solvers.InvalidInputError` naming the batch index.
    ``negative="clamp"`` clamps them at zero instead. That is what training
    needs: I-MLE perturbs costs with noise, ``w - tau * eps``, and its target
    shifts them by ``lambda * dL/dz``, so a few perturbed costs can fall below
    zero even when the network's costs cannot; the estimators clamp perturbed
    costs at zero for every oracle with ``nonnegative = True``, and this option
    lets a direct caller do the same.

    Args:
        neighbourhood: ``8`` (king moves, the Warcraft setting) or ``4``;
            ``neighborhood=`` (US spelling) is accepted too.
        negative: ``"raise"`` (default) or ``"clamp"`` — what to do with
            negative costs.
        backend: ``"numba"`` (default) — a compiled Dijkstra that solves a
            whole chunk of maps per call and releases the GIL (so the
            ``"threads"`` runner runs in parallel); integer and float32
            costs are cast to float64 once. Or ``"torch"`` — a batched
            min-plus (Bellman-Ford) relaxation over the whole batch that runs
            on the tensor's own device, a GPU included, with no host copy
            (``device_native``). It is meant for batches that live on a GPU;
            on the CPU the numba backend is several times faster (see
            ``benchmarks/grid_oracle.py``), and one map at a time always
            belongs to Dijkstra. Numpy input on the torch backend is solved
            with torch on the CPU.
        compute_dtype: the torch backend's arithmetic, ``"float64"``
            (default: the same answers as the numba backend, bit for bit) or
            ``"float32"`` (faster on GPUs; near-ties may then be broken
            differently, though the path is optimal up to float32 rounding).
        check_every: the torch backend tests for convergence every this many
            sweeps (default 4); it affects speed only.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import get_oracle
        >>> costs = np.array([[1.0, 9.0, 1.0],
        ...                   [1.0, 9.0, 1.0],
        ...                   [9.0, 1.0, 1.0]])
        >>> get_oracle("shortest_path_grid")(costs)
        array([[1., 0., 0.],
               [1., 0., 0.],
               [0., 1., 1.]])

        With 4 neighbours both ways around the 9s cost 13 in 4 steps; the
        backtrack from the target prefers "up" to "left", so the tie goes to
        the top-right route:

        >>> get_oracle("shortest_path_grid", neighbourhood=4)(costs)
        array([[1., 1., 1.],
               [0., 0., 1.],
               [0., 0., 1.]])
    """

    name = "shortest_path_grid"
    complexity_doc = "O(k^2 log k) Dijkstra (numba); O(k^3) batched min-plus sweeps (torch)"
    sense = "min"
    event_ndim = 2
    nonnegative = True
    event_doc = "(k, k)"
    backend = "numba|torch"
    dependencies = ("numba",)

    option_aliases = {"neighborhood": "neighbourhood"}

    def __init__(
        self,
        neighbourhood: int = 8,
        *,
        negative: str = "raise",
        backend: str = "numba",
        compute_dtype: str = "float64",
        check_every: int = 4,
        neighborhood: int | None = None,
    ):
        if neighborhood is not None:  # the US spelling
            if neighbourhood != 8 and neighborhood != neighbourhood:
                raise self.invalid(f"neighbourhood={neighbourhood!r} and neighborhood={neighborhood!r} disagree; "
                                   "pass one of them")
            neighbourhood = neighborhood
        if isinstance(neighbourhood, bool) or neighbourhood not in _OFFSETS:
            raise self.invalid(f"expected neighbourhood 8 or 4, but found {neighbourhood!r}")
        if negative not in ("raise", "clamp"):
            raise self.invalid(f"expected negative='raise' or negative='clamp', but found {negative!r}")
        if backend not in _BACKENDS:
            raise self.invalid(f"expected backend 'numba' or 'torch', but found {backend!r}")
        if compute_dtype not in _COMPUTE_DTYPES:
            raise self.invalid(f"expected compute_dtype 'float64' or 'float32', but found {compute_dtype!r}")
        if backend != "torch" and compute_dtype != "float64":
            raise self.invalid("compute_dtype applies to backend='torch' only; the numba backend computes in float64")
        if isinstance(check_every, bool) or not isinstance(check_every, (int, np.integer)) or check_every < 1:
            raise self.invalid(f"expected check_every to be a positive int, but found {check_every!r}")
        self.neighbourhood = int(neighbourhood)
        self.negative = negative
        self.backend = backend
        self.compute_dtype = compute_dtype
        self.check_every = int(check_every)
        # Only the torch backend solves tensors on their own device.
        self.device_native = backend == "torch"
        self.dependencies = ("torch",) if backend == "torch" else ("numba",)

    # ------------------------------------------------------------------ #
    # Validation hooks
    # ------------------------------------------------------------------ #
    def check_event_shape(self, event_shape):
        rows, cols = event_shape
        if rows != cols or rows < 1:
            return "(k, k): a square grid with k >= 1"
        return None

    def check_values(self, theta, data):
        if self.negative == "clamp" or not bool(theta.min() < 0):  # one reduction in the common case
            return
        n = theta.shape[0]
        if _tensors.is_tensor(theta):
            negative = (theta.reshape(n, -1) < 0).any(dim=1).cpu().numpy()  # (n,)
            first = theta[int(np.flatnonzero(negative)[0])].detach().cpu().numpy()
        else:
            negative = (theta.reshape(n, -1) < 0).any(axis=1)  # (n,)
            first = np.asarray(theta[int(np.flatnonzero(negative)[0])])
        count = int((first < 0).sum())
        self.first_bad(
            negative,
            f"expected non-negative costs (Dijkstra needs them), but found {count} negative "
            f"entr{'y' if count == 1 else 'ies'} (min {float(first.min())!r}); "
            "pass negative='clamp' to clamp them at zero",
        )

    # ------------------------------------------------------------------ #
    # Solving
    # ------------------------------------------------------------------ #
    def solve_chunk(self, theta):
        if self.backend == "torch":
            import torch

            costs = torch.from_numpy(np.array(theta, dtype=self.compute_dtype))  # (m, k, k), our own copy
            # Return an array that owns its memory: no tensor may outlive this
            # call, or a worker thread could free it while the interpreter shuts
            # down (releasing the GIL there aborts the process).
            return self._solve_with_torch(costs, device_path=False, owned=True).numpy().copy()
        kernel = _numba_kernel()
        rows, cols = _OFFSET_ARRAYS[self.neighbourhood]
        costs = np.ascontiguousarray(theta, dtype=np.float64)  # (m, k, k); no copy when already so
        if self.negative == "clamp" and (costs < 0).any():
            costs = np.maximum(costs, 0.0)
        elif not costs.flags.writeable:  # a read-only array would compile a second kernel
            costs = costs.copy()
        out = np.zeros(costs.shape, dtype=np.float64)
        failed = kernel(costs, rows, cols, out)
        if failed >= 0:
            raise OracleError(_overflow_message(), index=int(failed))
        return out

    def solve_torch(self, theta):
        return self._solve_with_torch(theta, device_path=True, owned=False)

    def _solve_with_torch(self, theta, *, device_path: bool, owned: bool):
        torch = _tensors.torch_module()
        costs = theta.to(dtype=getattr(torch, self.compute_dtype), copy=not owned)  # (n, k, k), never the caller's
        if self.negative == "clamp":
            costs.clamp_(min=0)
        out, failed = _solve_torch_grid(costs, _OFFSETS[self.neighbourhood], self.check_every)
        if failed < 0:
            return out
        if device_path:  # no runner adds the oracle and the index to the message: do it here
            index = self._batch_index(failed)
            raise OracleError(
                f"oracle {self.name!r} failed on batch index {index}: {_overflow_message()}",
                oracle=self.name,
                index=index,
            )
        raise OracleError(_overflow_message(), index=failed)

    def __repr__(self):
        options = f"neighbourhood={self.neighbourhood}, backend={self.backend!r}"
        if self.negative != "raise":
            options += f", negative={self.negative!r}"
        if self.backend == "torch" and self.compute_dtype != "float64":
            options += f", compute_dtype={self.compute_dtype!r}"
        return f"ShortestPathGrid({options})"


def _overflow_message() -> str:
    return "the cheapest path's cost is not finite in float64 (the costs are too large: their sum overflows)"


def _numba_kernel():
    """The compiled chunk solver (imports numba on first use)."""
    require("numba", needed_for="the shortest_path_grid oracle's default backend (or pass backend='torch')")
    from ._grid_numba import solve_grid_chunk

    return solve_grid_chunk


def _solve_torch_grid(costs, offsets, check_every: int):
    """Batched shortest paths with torch ops on ``costs``'s device.

    ``costs``: ``(n, k, k)`` non-negative, finite, float. Returns
    ``(indicators, -1)`` with the path indicators ``(n, k, k)`` in ``costs``'
    dtype, or ``(None, i)`` when the path cost of instance ``i`` (the first
    such) overflowed.

    1. ``D <- min(D, fl(min_u D[u] + w))`` until nothing changes (Jacobi
       sweeps). By monotonicity ``min_u fl(D[u] + w) = fl(min_u D[u] + w)``,
       so the neighbourhood minimum comes first — separably over the 3x3
       block for the 8-neighbourhood (the centre does no harm:
       ``fl(D[v] + w[v]) >= D[v]``) — from shifted views of ``D`` padded with
       ``+inf``.
    2. The tight edges ``fl(D[u] + w[v]) == D[v]``, one mask per direction.
       A cell with one tight predecessor has ``H[v] = H[u] + 1`` and that
       predecessor is its choice whatever ``H`` is, so ``H`` is relaxed (over
       tight edges, in place, direction by direction) only for the instances
       where some cell has two or more — ties, e.g. integer costs or zero
       plateaus; perturbed real-valued costs rarely have any.
    3. Each cell's predecessor by the tie rule; the parent pointers are
       followed from the target, a step per instance at a time, until every
       instance is at the source.
    """
    torch = _tensors.torch_module()
    n, k = costs.shape[0], costs.shape[-1]
    cells = k * k
    device = costs.device
    inf = float("inf")
    eight = len(offsets) == 8
    # a path needs at least k-1 steps (8-neighbourhood) or 2k-2 (4)
    min_steps = max(k - 1 if eight else 2 * k - 2, 1)

    # ---- 1. costs D, padded with +inf so that every shift is a full view
    dist_padded = costs.new_full((n, k + 2, k + 2), inf)
    dist = dist_padded[:, 1:-1, 1:-1]  # (n, k, k) view
    dist[:, 0, 0] = costs[:, 0, 0]
    previous = torch.empty_like(dist)
    best = torch.empty_like(dist)  # (n, k, k)
    row_min = costs.new_empty((n, k + 2, k)) if eight else None  # min over each row's 3 neighbours
    _sweep_until_stable(
        lambda: _relax_costs(torch, dist_padded, dist, costs, best, row_min),
        dist, previous, min_steps, check_every, torch,
    )
    overflowed = ~torch.isfinite(dist[:, -1, -1])
    if bool(overflowed.any()):
        return None, int(overflowed.nonzero()[0, 0])

    # ---- 2. tight edges, one mask per direction in the tie-break order
    tight = []
    for dr, dc in offsets:
        shifted = dist_padded[:, 1 + dr : 1 + dr + k, 1 + dc : 1 + dc + k]
        mask = torch.add(shifted, costs, out=best) == dist  # (n, k, k) bool
        mask[:, 0, 0] = False  # the source has no predecessor
        tight.append(mask)
    tight_count = torch.stack(tight).sum(dim=0, dtype=torch.int8)  # (n, k, k); at most 8
    with_ties = (tight_count > 1).flatten(1).any(dim=1).nonzero().flatten()  # instances needing H
    if with_ties.numel():
        subset = with_ties.numel() < n
        sub_tight = [mask[with_ties] for mask in tight] if subset else tight
        hops_padded, hops = _relax_hops(torch, sub_tight, offsets, k, device, min_steps, check_every)
        wanted = hops - 1
        for j, (dr, dc) in enumerate(offsets):
            shifted = hops_padded[:, 1 + dr : 1 + dr + k, 1 + dc : 1 + dc + k]
            chosen = sub_tight[j] & (shifted == wanted)
            if subset:
                tight[j] = tight[j].index_put((with_ties,), chosen)
            else:
                tight[j] = chosen

    # ---- 3. the first candidate in the fixed order, then follow the pointers
    choice = torch.full((n, k, k), len(offsets), dtype=torch.int64, device=device)  # len(offsets): none
    for j in reversed(range(len(offsets))):  # reversed, so the first direction in the order wins
        choice.masked_fill_(tight[j], j)
    jumps = torch.tensor([dr * k + dc for dr, dc in offsets] + [0], dtype=torch.int64, device=device)
    index = torch.arange(cells, device=device)
    parent = (index + jumps[choice.reshape(n, cells)])  # (n, cells); the source points to itself
    out = torch.zeros((n, cells), dtype=costs.dtype, device=device)
    out[:, cells - 1] = 1
    current = torch.full((n, 1), cells - 1, dtype=torch.int64, device=device)
    taken = 0
    todo = min_steps
    while True:
        for _ in range(todo):
            current = parent.gather(1, current)
            out.scatter_(1, current, 1.0)
        taken += todo
        if not bool(current.any()):  # every instance is at the source (cell 0)
            break
        if taken >= cells:  # the rule guarantees otherwise; this is a bug
            raise OracleError("internal error: the backtrack did not reach the source")
        todo = check_every
    return out.reshape(n, k, k), -1


def _relax_costs(torch, dist_padded, dist, costs, best, row_min):
    """One Jacobi sweep ``D <- min(D, fl(min over the neighbourhood of D + w))``."""
    if row_min is not None:  # 8-neighbourhood: separable 3x3 minimum
        torch.minimum(dist_padded[:, :, :-2], dist_padded[:, :, 1:-1], out=row_min)
        torch.minimum(row_min, dist_padded[:, :, 2:], out=row_min)
        torch.minimum(row_min[:, :-2], row_min[:, 1:-1], out=best)
        torch.minimum(best, row_min[:, 2:], out=best)
    else:  # 4-neighbourhood: up, down, left, right
        torch.minimum(dist_padded[:, :-2, 1:-1], dist_padded[:, 2:, 1:-1], out=best)
        torch.minimum(best, dist_padded[:, 1:-1, :-2], out=best)
        torch.minimum(best, dist_padded[:, 1:-1, 2:], out=best)
    best.add_(costs)
    torch.minimum(dist, best, out=dist)


def _relax_hops(torch, tight, offsets, k, device, min_steps, check_every):
    """Hop counts ``H`` over the tight edges (breadth-first distances from the
    source), as exact small integers in float32 padded with ``+inf``."""
    n = tight[0].shape[0]
    inf = float("inf")
    hops_padded = torch.full((n, k + 2, k + 2), inf, dtype=torch.float32, device=device)
    hops = hops_padded[:, 1:-1, 1:-1]  # (n, k, k) view
    hops[:, 0, 0] = 0
    # +1 along a tight edge, +inf elsewhere
    steps = [torch.full((n, k, k), inf, dtype=torch.float32, device=device).masked_fill_(mask, 1.0) for mask in tight]
    shifted = [hops_padded[:, 1 + dr : 1 + dr + k, 1 + dc : 1 + dc + k] for dr, dc in offsets]
    scratch = torch.empty_like(hops)
    previous = torch.empty_like(hops)

    def sweep():
        for view, step in zip(shifted, steps):
            torch.minimum(hops, torch.add(view, step, out=scratch), out=hops)

    _sweep_until_stable(sweep, hops, previous, min_steps, check_every, torch)
    return hops_padded, hops


def _sweep_until_stable(sweep, values, previous, first_check, check_every, torch):
    """Run ``sweep()`` until a sweep leaves ``values`` unchanged (a fixed
    point of a monotone relaxation), testing after ``first_check`` sweeps and
    then every ``check_every``."""
    todo = first_check
    while True:
        for done in range(todo):
            if done == todo - 1:
                previous.copy_(values)
            sweep()
        if torch.equal(previous, values):
            return
        todo = check_every
