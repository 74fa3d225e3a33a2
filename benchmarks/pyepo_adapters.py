"""What it takes to put PyEPO and imle_solvers on the same problems.

Imported by ``benchmarks/vs_pyepo.py`` (and its tests); it imports PyEPO at
module level, so import it through ``vs_pyepo.pyepo_adapters()``, which
turns a missing PyEPO into an error naming the ``bench`` extra.

* :class:`VertexGridModel` — a PyEPO ``optModel`` (OR-Tools ``pywraplp``
  backend, GLOP by default, PyEPO's ``optOrtModel`` base) for the
  vertex-weighted Warcraft grid, which PyEPO does not ship: its
  ``shortestPathModel`` is an *edge*-weighted grid with arcs only to the
  right and down. The k x k map becomes a directed graph with an arc
  ``(u, v)`` for every pair of 8-neighbours (both directions); arc
  ``(u, v)`` costs ``c[v]``, so a path's arc costs plus ``c[source]`` are
  its vertex cost. The LP is PyEPO's own min-cost-flow formulation
  (``shortestPathModel._getModel``: one unit of flow from the source to the
  target, ``0 <= x_e <= 1``, conservation at every vertex) on that graph.
  Its cost vector is the ``k*k`` vertex costs (what the CNN predicts, so
  PyEPO's estimators perturb vertex costs exactly as ours do); ``solve``
  returns the vertex indicator of a path and its vertex cost. The path is
  read off the arcs that carry flow; when the optimal flow also runs around
  zero-cost cycles (possible as soon as two neighbouring costs are zero,
  which clamping produces), the cycles are dropped — otherwise the
  "solution" is no path, and its extra cells count in the loss.

  Costs are clamped at zero in ``setObj``, as our estimators clamp the
  perturbed costs given to Dijkstra. This is needed, not cosmetic: the
  8-neighbour graph has 2-cycles, and with a negative vertex cost the LP
  sends flow around negative cycles instead of returning a path.

* :class:`PyepoGridShortestPath` — our ``shortest_path`` oracle on PyEPO's
  edge-weighted grid, given as PyEPO's arc list so that the costs are in
  PyEPO's arc order (``graph=model.arcs``). Linear models predict negative
  arc costs, which PyEPO's LP accepts; so does the oracle, because the grid
  is acyclic (it relaxes the nodes in topological order, and
  ``nonnegative`` is ``False``, so the estimators do not clamp). Nothing
  is adapted any more; the class only names the grid. (Before the
  compiled backend the adapter subtracted each instance's smallest cost —
  every path has ``(rows-1) + (cols-1)`` arcs, so the argmin is unchanged —
  to make the costs fit Dijkstra.)

* :class:`ReplayedSumOfGamma` — noise for our ``IMLE`` that replays the
  draws PyEPO's ``implicitMLE`` makes (``sumGammaDistribution``, same seed,
  same torch generator, same sizes), negated and moved to our layout. PyEPO
  perturbs costs as ``c + sigma * n`` with ``n`` of shape ``(B, S, d)``; our
  IMLE perturbs costs as ``w - tau * eps`` with ``eps`` of shape
  ``(S, *batch, *event)``; ``eps = -n`` transposed makes the perturbed costs
  of both sides bit-identical. Drawing it costs *more* than our
  ``SumOfGamma(5)``: both draw ten Gamma(1/5) terms per entry, but PyEPO
  calls ``torch._standard_gamma`` and we use our own generator-driven
  Marsaglia-Tsang sampler, which took 2.3-2.9x less CPU time per draw (best
  rounds; 1.9-2.4x median) for the shapes of the training benchmark —
  ``python benchmarks/pyepo_adapters.py`` times both (docs/benchmarks.md).
  So the ``ours*`` column of that benchmark pays PyEPO's draw, not ours.
"""

from __future__ import annotations

import numpy as np
import torch
from grid_oracle import grid_edges  # benchmarks/ is on sys.path (scripts there, tests add it)
from ortools.linear_solver import pywraplp
from pyepo.func.utils import sumGammaDistribution
from pyepo.model.ort.ortmodel import optOrtModel
from pyepo.model.utils import _get_grid_arcs
from pyepo.utils import costToNumpy

from imle_solvers.oracles.graph import ShortestPath

__all__ = ["VertexGridModel", "PyepoGridShortestPath", "ReplayedSumOfGamma"]


class VertexGridModel(optOrtModel):
    """PyEPO model of the vertex-weighted k x k Warcraft grid (see the module
    docstring): cost vector ``(k*k,)`` of vertex costs, solution the
    ``(k*k,)`` vertex indicator of a cheapest top-left to bottom-right path
    through 8-neighbours.

    Example:
        >>> model = VertexGridModel(3)
        >>> model.setObj([1.0, 9.0, 1.0, 1.0, 9.0, 1.0, 9.0, 1.0, 1.0])
        >>> solution, objective = model.solve()
        >>> solution.reshape(3, 3).tolist(), objective
        ([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], 4.0)
    """

    def __init__(self, k: int, solver: str = "glop") -> None:
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise ValueError(f"VertexGridModel: expected k to be an int >= 2, but found {k!r}")
        self.k = k
        self.tails, self.heads = grid_edges(k)  # 8-neighbour arcs, both directions
        self._source_cost = 0.0
        self.cycles_dropped = 0  # solves whose optimal flow held more than a path
        super().__init__(solver)

    def _getModel(self):
        k = self.k
        m = pywraplp.Solver.CreateSolver(self.solver.upper())
        if m is None:
            raise RuntimeError(f"Solver '{self.solver}' is not available in OR-Tools.")
        x = {e: m.NumVar(0, 1, f"x_{e}") for e in range(len(self.tails))}
        inflow: list[list] = [[] for _ in range(k * k)]
        outflow: list[list] = [[] for _ in range(k * k)]
        for e, (tail, head) in enumerate(zip(self.tails.tolist(), self.heads.tolist())):
            inflow[head].append(x[e])
            outflow[tail].append(x[e])
        for v in range(k * k):  # flow conservation, as in PyEPO's shortestPathModel
            expr = sum(inflow[v]) - sum(outflow[v])
            if v == 0:
                m.Add(expr == -1)
            elif v == k * k - 1:
                m.Add(expr == 1)
            else:
                m.Add(expr == 0)
        return m, x

    @property
    def num_cost(self) -> int:
        return self.k * self.k

    def setObj(self, c) -> None:
        c = np.maximum(costToNumpy(c).astype(np.float64).reshape(-1), 0.0)  # see the module docstring
        if c.shape != (self.k * self.k,):
            raise ValueError(f"VertexGridModel: expected {self.k * self.k} vertex costs, but found {c.shape}")
        self._source_cost = float(c[0])
        objective = self._model.Objective()
        for variable, coefficient in zip(self._vars_list, c[self.heads].tolist()):  # arc (u, v) costs c[v]
            objective.SetCoefficient(variable, coefficient)

    def solve(self):
        status = self._model.Solve()
        if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
            raise RuntimeError(f"OR-Tools found no solution (status {status}).")
        flows = np.fromiter((v.solution_value() for v in self._vars_list), dtype=np.float64, count=len(self._vars_list))
        support = np.flatnonzero(flows > 1e-9)
        vertices = np.zeros(self.k * self.k)
        vertices[self._path_in(support)] = 1.0
        if support.size != int(vertices.sum()) - 1:  # flow beyond one path: zero-cost cycles
            self.cycles_dropped += 1
        return vertices.astype(np.float32), self._model.Objective().Value() + self._source_cost

    def _path_in(self, support: np.ndarray) -> list[int]:
        """The fewest-arc source-target path over the arcs that carry flow.

        Any such path is optimal: by complementary slackness an arc with
        positive flow has reduced cost zero, or below zero at its upper
        bound, so the path costs at most the optimum, and at least it as a
        path. The LP can add zero-cost cycles to the path (clamped zero
        costs, 2-cycles between 8-neighbours); they are dropped here."""
        source, target = 0, self.k * self.k - 1
        successors: dict[int, list[int]] = {}
        for tail, head in zip(self.tails[support].tolist(), self.heads[support].tolist()):
            successors.setdefault(tail, []).append(head)
        parent = {source: source}
        frontier = [source]
        while frontier and target not in parent:
            following = []
            for vertex in frontier:
                for head in successors.get(vertex, ()):
                    if head not in parent:
                        parent[head] = vertex
                        following.append(head)
            frontier = following
        path, vertex = [target], target
        while vertex != source:
            vertex = parent[vertex]
            path.append(vertex)
        return path


class PyepoGridShortestPath(ShortestPath):
    """``shortest_path`` on PyEPO's ``grid`` (arcs right and down), costs in
    PyEPO's arc order, negative costs allowed (see the module docstring).

    Example:
        >>> import numpy as np
        >>> oracle = PyepoGridShortestPath((2, 2))  # arcs (0,1) (0,2) (1,3) (2,3) in PyEPO's order
        >>> oracle(np.array([[-1.0, 0.0, 5.0, 1.0]]))  # 0 -> 2 -> 3 costs 1, 0 -> 1 -> 3 costs 4
        array([[0., 1., 0., 1.]])
    """

    def __init__(self, grid: tuple[int, int]):
        self.arcs = _get_grid_arcs(tuple(grid))
        rows, cols = grid
        super().__init__(self.arcs, 0, rows * cols - 1)


class ReplayedSumOfGamma:
    """PyEPO's ``sumGammaDistribution(kappa, seed=seed)`` draws for
    ``implicitMLE(..., n_samples=S)``, replayed as our noise ``(S, *batch,
    *event)`` and negated (see the module docstring). Construct one per
    training run, next to the PyEPO module it mirrors.

    Example:
        >>> import torch
        >>> replay = ReplayedSumOfGamma(kappa=5)
        >>> eps = replay.sample((3, 2, 4, 4), device="cpu", dtype=torch.float32)  # (S, B, k, k)
        >>> n = sumGammaDistribution(kappa=5).sample(size=(2, 3, 16), device="cpu", dtype=torch.float32)
        >>> bool(torch.equal(eps, -n.transpose(0, 1).reshape(3, 2, 4, 4)))
        True
    """

    def __init__(self, kappa: float = 5.0, seed: int = 135):
        self.distribution = sumGammaDistribution(kappa=kappa, seed=seed)

    def sample(self, shape, *, generator=None, device=None, dtype=None):
        num_samples, batch = shape[0], shape[1]
        size = (batch, num_samples, int(np.prod(shape[2:])))
        n = self.distribution.sample(size=size, device=device or "cpu", dtype=dtype or torch.float32)  # (B, S, d)
        return -n.transpose(0, 1).reshape(shape)


def noise_draw_times(rounds: int = 200, clock_name: str = "cpu") -> None:
    """Microseconds per draw of the replayed PyEPO noise and of our
    ``SumOfGamma(5)``, for the shapes the training benchmark draws;
    interleaved rounds, best / median / worst; this process's CPU time
    (one torch thread; ``wall`` for the wall clock)."""
    import os
    import statistics
    import time
    from functools import partial

    import imle_solvers as im

    torch.set_num_threads(1)
    clock = time.process_time if clock_name == "cpu" else time.perf_counter
    shapes = {"12x12, S=1": (1, 32, 12, 12), "12x12, S=10": (10, 32, 12, 12), "5x5, S=10": (10, 32, 40)}
    print(f"noise draws (kappa 5, float32, batch 32), us over {rounds} interleaved rounds, one torch thread, "
          f"{clock_name} clock, load {os.getloadavg()[0]:.2f}")
    print(f"{'shape':14} {'draw':28} {'best':>8} {'median':>8} {'worst':>8}")
    for label, shape in shapes.items():
        replayed, ours, generator = ReplayedSumOfGamma(5.0), im.SumOfGamma(5), torch.Generator().manual_seed(0)
        draws = {
            "ReplayedSumOfGamma (PyEPO)": partial(replayed.sample, shape, device="cpu", dtype=torch.float32),
            "SumOfGamma(5) (ours)": partial(ours.sample, shape, generator=generator, dtype=torch.float32),
        }
        times = {name: [] for name in draws}
        for round_ in range(rounds + 10):
            for name, draw in draws.items():
                start = clock()
                draw()
                if round_ >= 10:
                    times[name].append(clock() - start)
        for name, seconds in times.items():
            print(f"{label:14} {name:28} {min(seconds) * 1e6:8.0f} {statistics.median(seconds) * 1e6:8.0f} "
                  f"{max(seconds) * 1e6:8.0f}")
        print(f"{'':14} {'ratio replayed / ours':28} "
              f"{min(times['ReplayedSumOfGamma (PyEPO)']) / min(times['SumOfGamma(5) (ours)']):8.2f} "
              f"{statistics.median(times['ReplayedSumOfGamma (PyEPO)']) / statistics.median(times['SumOfGamma(5) (ours)']):8.2f}")


if __name__ == "__main__":
    import sys

    noise_draw_times(clock_name=sys.argv[1] if len(sys.argv) > 1 else "cpu")
