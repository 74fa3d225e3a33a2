"""The ``shortest_path_grid`` oracle against other ways to solve the same maps.

Run:  .venv/bin/python benchmarks/grid_oracle.py [--batch 256] [--repeats 7] [--sizes 12 18 24 30] [--clock cpu]

For each map size k it solves one batch of Warcraft-like maps with

* ``ours``         — ``get_oracle("shortest_path_grid")`` called on the whole
  batch through its public ``__call__`` (validation included), serial runner,
  numba backend (one compiled call per batch);
* ``ours-threads`` — the same oracle on the ``"threads"`` runner (the kernel
  releases the GIL; one chunk per core);
* ``numba-ref``    — the practical limit: a straightforward compiled
  single-thread Dijkstra (numba, ``heapq`` on tuples, stops at the target,
  predecessor array) written here, solving the whole batch in one compiled
  call as ours does (the headline ratio ``ours/ref``);
* ``ref-loop``     — the same compiled Dijkstra called once per map from a
  Python loop (what the per-call cost of a compiled function adds);
* ``torch-cpu``    — ``backend="torch"`` (batched min-plus relaxation) on CPU
  tensors;
* ``scipy``        — ``scipy.sparse.csgraph.dijkstra`` on a prebuilt CSR whose
  ``.data`` is overwritten per map (edge weight = cost of the head cell);
* ``networkx``     — ``nx.dijkstra_path`` on a graph built once, with the
  weights read per map through a weight function (cheaper than setting edge
  attributes, so it flatters networkx);
* ``heapq``        — pure Python in the style of the original Warcraft code
  (blackbox-backprop's ``dijkstra``: numpy indexing, ``heapq`` of
  ``(cost, (x, y))``, a settled set, a transitions dict, runs until the queue
  is empty).

Every answer of every timed run is checked, on every map it solved: a 0/1
map whose cells form one 8-connected set holding both corners, of the
optimal cost (scipy's distances, computed apart; with positive costs such a
set *is* a cheapest path). Times are the best of ``--repeats`` runs of the
whole batch, divided by the batch size; the runs of all solvers are
interleaved so that load from other processes hits them alike; median and
worst of the ``ours/ref`` ratio over the rounds are printed beside the best.
networkx and heapq (loops over maps) are timed on the first ``--slow-batch``
maps. ``--clock cpu`` times with the process's CPU time instead of the wall
clock (every solver but ``threads`` runs on one thread): on a machine shared
with other jobs it counts what each solver computed, not the time it waited
for a core; the ``threads`` column is left out then.

Maps ("Warcraft-like"): costs from {0.8, 1.2, 5.3, 7.7, 9.2} (the five
terrain costs of the Warcraft maps) in spatially correlated patches: a
terrain type is drawn per 3x3 block, then 15% of the cells are redrawn
independently. Seeded; ``--uniform`` draws i.i.d. costs from U[0, 10) instead.

Also printed: the numba compile time of the first call in a fresh process
(empty cache) and the load time from the on-disk cache in another fresh
process.
"""

from __future__ import annotations

import argparse
import heapq
import os
import subprocess
import sys
import tempfile
import time

import networkx as nx
import numba
import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.csgraph import dijkstra as csgraph_dijkstra

from imle_solvers import get_oracle

TERRAIN_COSTS = np.array([0.8, 1.2, 5.3, 7.7, 9.2])


def warcraft_like_maps(n: int, k: int, seed: int = 0, uniform: bool = False) -> np.ndarray:
    """``(n, k, k)`` float64 cost maps (see the module docstring)."""
    rng = np.random.default_rng(seed)
    if uniform:
        return rng.uniform(0.0, 10.0, size=(n, k, k))
    block = 3
    coarse = rng.integers(0, len(TERRAIN_COSTS), size=(n, -(-k // block), -(-k // block)))
    terrain = np.repeat(np.repeat(coarse, block, axis=1), block, axis=2)[:, :k, :k]
    redraw = rng.random((n, k, k)) < 0.15
    terrain = np.where(redraw, rng.integers(0, len(TERRAIN_COSTS), size=(n, k, k)), terrain)
    return TERRAIN_COSTS[terrain]


# ---------------------------------------------------------------------- #
# Baselines
# ---------------------------------------------------------------------- #
@numba.njit(cache=False)
def _numba_reference(costs):
    """Textbook Dijkstra on one 8-neighbourhood grid: heapq of (cost, cell)."""
    k = costs.shape[0]
    cells = k * k
    dist = np.full(cells, np.inf)
    pred = np.full(cells, -1, dtype=np.int64)
    done = np.zeros(cells, dtype=np.bool_)
    dist[0] = costs[0, 0]
    queue = [(costs[0, 0], 0)]
    while len(queue) > 0:
        d, v = heapq.heappop(queue)
        if done[v]:
            continue
        done[v] = True
        if v == cells - 1:
            break
        r = v // k
        c = v % k
        for dr in range(-1, 2):
            for dc in range(-1, 2):
                rr = r + dr
                cc = c + dc
                if (dr != 0 or dc != 0) and 0 <= rr < k and 0 <= cc < k:
                    u = rr * k + cc
                    nd = d + costs[rr, cc]
                    if nd < dist[u]:
                        dist[u] = nd
                        pred[u] = v
                        heapq.heappush(queue, (nd, u))
    out = np.zeros((k, k))
    v = cells - 1
    while v >= 0:
        out[v // k, v % k] = 1.0
        v = pred[v]
    return out


@numba.njit(cache=False)
def numba_reference_batch(batch):
    """The whole batch in one compiled call (the ``numba-ref`` column)."""
    out = np.empty_like(batch)
    for i in range(batch.shape[0]):
        out[i] = _numba_reference(batch[i])
    return out


def numba_reference(batch):
    """One compiled call per map, from Python (the ``ref-loop`` column; what
    ``benchmarks/vs_pyepo.py`` times as its reference)."""
    out = np.empty_like(batch)
    for i in range(batch.shape[0]):
        out[i] = _numba_reference(batch[i])
    return out


def grid_edges(k: int):
    """Directed 8-neighbourhood edges (tail, head) as flat cell indices."""
    tails, heads = [], []
    for r in range(k):
        for c in range(k):
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if (dr or dc) and 0 <= rr < k and 0 <= cc < k:
                        tails.append(r * k + c)
                        heads.append(rr * k + cc)
    return np.array(tails), np.array(heads)


class ScipySolver:
    def __init__(self, k: int):
        tails, heads = grid_edges(k)
        self.k = k
        self.csr = sp.csr_matrix((np.ones(len(tails)), (tails, heads)), shape=(k * k, k * k))
        self.csr.sort_indices()
        self.heads = self.csr.indices.copy()

    def __call__(self, batch):
        k = self.k
        out = np.zeros_like(batch)
        for i in range(batch.shape[0]):
            flat = batch[i].reshape(-1)
            self.csr.data[:] = flat[self.heads]
            _, pred = csgraph_dijkstra(self.csr, indices=0, return_predecessors=True)
            v = k * k - 1
            while v >= 0:
                out[i].flat[v] = 1.0
                v = pred[v]
        return out


class NetworkxSolver:
    def __init__(self, k: int):
        self.k = k
        self.graph = nx.DiGraph()
        self.graph.add_edges_from(zip(*(t.tolist() for t in grid_edges(k))))

    def __call__(self, batch):
        k = self.k
        out = np.zeros_like(batch)
        for i in range(batch.shape[0]):
            flat = batch[i].reshape(-1)
            path = nx.dijkstra_path(self.graph, 0, k * k - 1, weight=lambda u, v, d, flat=flat: flat[v])
            out[i].flat[path] = 1.0
        return out


def _neighbours_8(x, y, x_max, y_max):
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            x_new, y_new = x + dx, y + dy
            if (dx, dy) != (0, 0) and 0 <= x_new < x_max and 0 <= y_new < y_max:
                yield x_new, y_new


def heapq_warcraft_style(matrix):
    """Pure-Python Dijkstra written the way the original Warcraft code is."""
    x_max, y_max = matrix.shape
    costs = np.full_like(matrix, 1.0e10)
    costs[0][0] = matrix[0][0]
    queue = [(matrix[0][0], (0, 0))]
    settled = set()
    transitions = {}
    while queue:
        _, (cur_x, cur_y) = heapq.heappop(queue)
        if (cur_x, cur_y) in settled:
            continue
        for x, y in _neighbours_8(cur_x, cur_y, x_max, y_max):
            if (x, y) not in settled and matrix[x][y] + costs[cur_x][cur_y] < costs[x][y]:
                costs[x][y] = matrix[x][y] + costs[cur_x][cur_y]
                heapq.heappush(queue, (costs[x][y], (x, y)))
                transitions[(x, y)] = (cur_x, cur_y)
        settled.add((cur_x, cur_y))
    on_path = np.zeros_like(matrix)
    cur = (x_max - 1, y_max - 1)
    on_path[cur] = 1.0
    while cur != (0, 0):
        cur = transitions[cur]
        on_path[cur] = 1.0
    return on_path


def heapq_solver(batch):
    return np.stack([heapq_warcraft_style(m) for m in batch])


# ---------------------------------------------------------------------- #
# Timing
# ---------------------------------------------------------------------- #
def interleaved_times(solvers: dict, repeats: dict, clock=time.perf_counter) -> tuple[dict, dict]:
    """Seconds per call of each solver in every round, and each solver's
    answers from its timed runs. Repeats are interleaved across solvers (one
    call of each in turn), so that a burst of load from other processes hits
    every solver alike."""
    times = {label: [] for label in solvers}
    answers = {label: [] for label in solvers}
    for fn, arg in solvers.values():  # warm up
        fn(arg)
    for r in range(max(repeats.values())):
        for label, (fn, arg) in solvers.items():
            if r < repeats[label]:
                start = clock()
                out = fn(arg)
                times[label].append(clock() - start)
                answers[label].append(np.asarray(out))
    return times, answers


def interleaved_best_times(solvers: dict, repeats: dict) -> dict:
    """Seconds per call of each solver, the best of its interleaved repeats
    (what ``benchmarks/vs_pyepo.py`` uses)."""
    times, _ = interleaved_times(solvers, repeats)
    return {label: min(seconds) for label, seconds in times.items()}


def optimal_costs(batch: np.ndarray) -> np.ndarray:
    """The cheapest path cost of every map (cells entered, source included),
    from scipy's Dijkstra distances: computed apart from every timed solver."""
    k = batch.shape[1]
    solver = ScipySolver(k)
    out = np.empty(batch.shape[0])
    for i in range(batch.shape[0]):
        flat = batch[i].reshape(-1)
        solver.csr.data[:] = flat[solver.heads]
        out[i] = csgraph_dijkstra(solver.csr, indices=0)[-1] + flat[0]
    return out


def check_paths(label: str, paths: np.ndarray, batch: np.ndarray, optimum: np.ndarray) -> None:
    """Every map of ``paths`` is a cheapest path of ``batch``: 0/1 cells in one
    8-connected set holding both corners, of the optimal cost (with positive
    costs, any other connected set holding both corners costs more)."""
    from scipy import ndimage

    k = batch.shape[1]
    if paths.shape != batch.shape or not np.isin(paths, (0.0, 1.0)).all():
        raise AssertionError(f"{label}: not a 0/1 map of shape {batch.shape} (k={k})")
    for i in range(batch.shape[0]):
        labels, parts = ndimage.label(paths[i], structure=np.ones((3, 3)))
        if parts != 1 or labels[0, 0] == 0 or labels[-1, -1] == 0:
            raise AssertionError(f"{label}: map {i} (k={k}) is not one connected corner-to-corner path")
    costs = (paths * batch).sum(axis=(1, 2))
    wrong = np.flatnonzero(~np.isclose(costs, optimum, rtol=1e-12, atol=0))
    if wrong.size:
        raise AssertionError(f"{label}: {wrong.size} maps (k={k}) not of the optimal cost, first {wrong[0]}: "
                             f"{costs[wrong[0]]!r} against {optimum[wrong[0]]!r}")


_COMPILE_PROBE = """
import time, numpy as np
start = time.perf_counter()
from imle_solvers import get_oracle
oracle = get_oracle("shortest_path_grid")
imported = time.perf_counter()
oracle(np.ones((2, 4, 4)))
done = time.perf_counter()
print(f"{imported - start:.3f} {done - imported:.3f}")
"""


def compile_times() -> tuple[float, float]:
    """Seconds of the first call in a fresh process: with an empty numba
    cache (compile) and then with the cache it left (load)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        seconds = []
        for _ in range(2):
            line = subprocess.run([sys.executable, "-c", _COMPILE_PROBE], env=env, check=True,
                                  capture_output=True, text=True).stdout.split()
            seconds.append(float(line[1]))
    return seconds[0], seconds[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--slow-repeats", type=int, default=3, help="repeats for networkx and heapq")
    parser.add_argument("--slow-batch", type=int, default=64, help="maps timed for networkx and heapq")
    parser.add_argument("--sizes", type=int, nargs="+", default=[12, 18, 24, 30])
    parser.add_argument("--uniform", action="store_true", help="i.i.d. U[0, 10) costs instead of Warcraft-like maps")
    parser.add_argument("--no-compile-times", action="store_true")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall clock (default) or this process's CPU time (for a shared machine)")
    args = parser.parse_args(argv)

    if not args.no_compile_times:
        compile_s, load_s = compile_times()
        print(f"numba kernel, first call in a fresh process: compile {compile_s:.2f} s, load from cache {load_s:.3f} s")

    torch.set_num_threads(1)
    ours = get_oracle("shortest_path_grid")
    ours_threads = get_oracle("shortest_path_grid", runner="threads")
    ours_torch = get_oracle("shortest_path_grid", backend="torch")
    print(f"batch {args.batch}, {'uniform U[0,10)' if args.uniform else 'Warcraft-like'} maps, 8-neighbourhood, "
          f"best of {args.repeats} interleaved (networkx/heapq: best of {args.slow_repeats} on {args.slow_batch} maps); "
          "torch with 1 thread; "
          f"{os.cpu_count()} cores")
    header = (f"{'k':>3} | {'ours':>7} {'threads':>7} {'numba-ref':>9} {'ref-loop':>8} {'torch':>7} {'scipy':>7} "
              f"{'networkx':>8} {'heapq':>8} | {'ours/ref':>8} {'(median':>7} {'worst)':>6} {'nx/ours':>8} "
              f"{'heapq/ours':>10}")
    print(f"ms per instance (best, {'CPU time of this process' if args.clock == 'cpu' else 'wall clock'}); "
          "ours/ref also as the median and worst of the per-round ratios")
    print(header)
    print("-" * len(header))
    checked = 0
    for k in args.sizes:
        batch = warcraft_like_maps(args.batch, k, seed=k, uniform=args.uniform)
        tensor = torch.from_numpy(batch)
        scipy_solver, nx_solver = ScipySolver(k), NetworkxSolver(k)
        solvers = {
            "ours": (ours, batch),
            "threads": (ours_threads, batch),
            "numba-ref": (numba_reference_batch, batch),
            "ref-loop": (numba_reference, batch),
            "torch": (ours_torch, tensor),
            "scipy": (scipy_solver, batch),
            "networkx": (nx_solver, batch),
            "heapq": (heapq_solver, batch),
        }
        slow = {"networkx", "heapq"}
        # networkx and pure Python loop over maps one by one: time them on the
        # first --slow-batch maps only (per-map cost does not depend on the batch)
        timed = {label: (fn, arg[: args.slow_batch] if label in slow else arg) for label, (fn, arg) in solvers.items()}
        repeats = {label: args.slow_repeats if label in slow else args.repeats for label in solvers}
        if args.clock == "cpu":
            timed.pop("threads")  # CPU time of several threads is not the time a caller waits
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        times, answers = interleaved_times(timed, {label: repeats[label] for label in timed}, clock)
        optimum = optimal_costs(batch)
        for label, runs in answers.items():  # every answer of every timed run, every map
            n = len(timed[label][1])
            for paths in runs:
                check_paths(label, paths, batch[:n], optimum[:n])
                checked += n
        ms = {label: min(times[label]) / len(timed[label][1]) * 1e3 for label in timed}
        ms.setdefault("threads", float("nan"))
        ratios = [a / b for a, b in zip(times["ours"], times["numba-ref"])]
        print(f"{k:>3} | {ms['ours']:7.4f} {ms['threads']:7.4f} {ms['numba-ref']:9.4f} {ms['ref-loop']:8.4f} "
              f"{ms['torch']:7.4f} {ms['scipy']:7.4f} {ms['networkx']:8.3f} {ms['heapq']:8.3f} | "
              f"{ms['ours'] / ms['numba-ref']:8.2f} {np.median(ratios):7.2f} {max(ratios):6.2f} "
              f"{ms['networkx'] / ms['ours']:8.1f} {ms['heapq'] / ms['ours']:10.1f}")
    print(f"checked {checked} answers (every map of every timed run): all cheapest paths; "
          f"load {os.getloadavg()[0]:.2f}")
    ours_threads.runner.close()


if __name__ == "__main__":
    main()
