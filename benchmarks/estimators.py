"""Estimator overhead over the raw oracle, and gradient quality against exact gradients.

Run:  .venv/bin/python benchmarks/estimators.py [--batch 64] [--grid 12] [--repeats 20] [--quality] [--bound]
      .venv/bin/python benchmarks/estimators.py --breakdown-only [--repeats 300]

Overhead: one training step of I-MLE with S = 1 sample — forward and
backward — calls the oracle twice (the perturbed batch, then the target
batch). The "raw" time is those two oracle calls alone, on the very inputs
the estimator gave the oracle (recorded, and reproduced by re-seeding the
noise generator each step); the overhead is ``step / raw - 1``: noise, the
autograd function, the target, the gradient. AIMLE is the forward-difference
AdaptiveTarget (its beta frozen so that every step sends the same inputs).
Measured in one process, best of ``--repeats`` interleaved rounds, with
torch on one thread (``--threads``) so that other load on the machine does
not stall OpenMP. Rows:

* ``shortest_path_grid`` — the built-in oracle on k x k maps, when registered;
* ``dijkstra (scipy)`` — a FunctionOracle running scipy.sparse.csgraph
  Dijkstra on a prebuilt 8-neighbour grid graph, one instance at a time;
* ``topk`` — the device-native top-k (k = grid) on the flattened maps: the
  oracle is nearly free, so the ratio is large and the absolute overhead in
  microseconds is the number to read.

``--breakdown`` (``--breakdown-only`` without the overhead table) takes
the time an I-MLE step (S = 1, ``shortest_path_grid`` costs) spends outside
its two oracle calls apart: the same step behind an *instant* oracle (hands
back a precomputed solution tensor), behind a *busy* mock (the numpy round
trip of a CPU oracle and a 650 µs busy-wait) and behind the real Dijkstra,
with the oracle calls' own time subtracted; and, alone, the Gumbel draw, a
``torch.rand`` of the same size and the target computation. Interleaved
rounds; best, median and worst in microseconds; ``--clock cpu`` measures
this process's CPU time instead of the wall clock (torch runs on one thread).

``--quality`` prints the cosine similarity of each estimator's averaged
gradient with the exact gradient of ``E_{z ~ p(theta)}[L(z)]`` for the
k-subset distribution over n = 8 items, k = 3 (all 56 subsets enumerated),
for a quadratic loss ``||z - z*||^2`` and a linear loss ``<c, z>``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import numpy as np
import torch

import imle_solvers as im
from imle_solvers.oracles import FunctionOracle


def grid_graph(size: int):
    """CSR of the 8-neighbour k x k grid; edge (u, v) weighs the cost of v."""
    from scipy.sparse import csr_matrix

    rows, cols = [], []
    for i, j in itertools.product(range(size), range(size)):
        for di, dj in itertools.product((-1, 0, 1), repeat=2):
            a, b = i + di, j + dj
            if (di, dj) != (0, 0) and 0 <= a < size and 0 <= b < size:
                rows.append(i * size + j)
                cols.append(a * size + b)
    rows, cols = np.array(rows), np.array(cols)
    return csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(size * size, size * size)), cols


class ScipyGridDijkstra:
    """One instance: vertex costs (k, k) -> the cells of a cheapest path."""

    def __init__(self, size: int):
        self.size = size
        self.graph, self.targets = grid_graph(size)

    def __call__(self, costs: np.ndarray) -> np.ndarray:
        from scipy.sparse.csgraph import dijkstra

        flat = costs.reshape(-1)
        self.graph.data = flat[self.targets] + 1e-12  # csgraph drops explicit zeros
        _, predecessors = dijkstra(self.graph, indices=0, return_predecessors=True)
        path = np.zeros(flat.shape)
        node = flat.size - 1
        while node >= 0:
            path[node] = 1.0
            node = predecessors[node]
        return path.reshape(costs.shape)


def best_of(fn, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def overhead_rows(batch: int, size: int, repeats: int):
    generator = torch.Generator().manual_seed(0)
    costs = torch.rand(batch, size, size, generator=generator, dtype=torch.float32) * 9 + 1
    grad = torch.randn(batch, size, size, generator=generator, dtype=torch.float32)
    oracles = []
    if "shortest_path_grid" in im.available_oracles():
        oracles.append(("shortest_path_grid", im.get_oracle("shortest_path_grid"), costs, grad))
    else:
        oracles.append(("shortest_path_grid", None, costs, grad))
    dijkstra = FunctionOracle(ScipyGridDijkstra(size), name="dijkstra", sense="min", event_ndim=2, nonnegative=True)
    oracles.append(("dijkstra (scipy)", dijkstra, costs, grad))
    oracles.append(("topk", im.get_oracle("topk", k=size), costs.reshape(batch, -1), grad.reshape(batch, -1)))

    return [(name, None if oracle is None else measure(oracle, theta0, g, repeats))
            for name, oracle, theta0, g in oracles]


def measure(oracle, theta0: torch.Tensor, g: torch.Tensor, repeats: int) -> dict[str, float]:
    """Best times of an IMLE / AIMLE step and of its raw oracle calls, and the
    median of the per-round ratios."""
    targets = {"IMLE": lambda: im.PerturbedTarget(), "AIMLE": lambda: im.AdaptiveTarget(update_step=0.0)}
    layers = {label: im.IMLE(oracle, target=make(), generator=torch.Generator()) for label, make in targets.items()}

    def step(layer):
        layer.generator.manual_seed(1)  # the same noise, hence the same oracle inputs, every time
        theta = theta0.clone().requires_grad_(True)
        layer(theta).backward(g)

    # the raw baseline: the very inputs the estimator gives the oracle
    calls = {}
    for label, layer in layers.items():
        recorder = Recorder(oracle)
        layer.oracle = recorder
        step(layer)
        layer.oracle = oracle
        calls[label] = recorder.inputs

    def raw(label):
        for inputs in calls[label]:
            oracle(inputs)

    # interleave the measurements so that load changes hit all of them alike;
    # keep the best of each and the per-round (paired) ratios
    times = {f"raw {label}": math.inf for label in layers} | {label: math.inf for label in layers}
    ratios = {label: [] for label in layers}
    for _ in range(repeats):
        for label, layer in layers.items():
            raw_time = best_of(lambda label=label: raw(label), 1)
            step_time = best_of(lambda layer=layer: step(layer), 1)
            times[f"raw {label}"] = min(times[f"raw {label}"], raw_time)
            times[label] = min(times[label], step_time)
            ratios[label].append(step_time / raw_time)
    for label in layers:
        times[f"median ratio {label}"] = float(np.median(ratios[label]))
    return times


class Recorder:
    """Passes calls to an oracle and keeps a copy of every input batch."""

    def __init__(self, oracle):
        self.oracle, self.inputs = oracle, []
        for attribute in ("sense", "event_ndim", "nonnegative", "device_native", "instance_data", "name"):
            setattr(self, attribute, getattr(oracle, attribute))

    def __call__(self, theta, **data):
        self.inputs.append(theta.detach().clone())
        return self.oracle(theta, **data)


def exact_gradient_cosines(seeds=(0, 1, 2)):
    n, k = 8, 3
    subsets = torch.zeros(math.comb(n, k), n, dtype=torch.float64)
    for row, chosen in enumerate(itertools.combinations(range(n), k)):
        subsets[row, list(chosen)] = 1.0
    oracle = im.get_oracle("topk", k=k)
    results = {}
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        theta = torch.randn(n, generator=generator, dtype=torch.float64)
        z_star = torch.zeros(n, dtype=torch.float64)
        z_star[torch.randperm(n, generator=generator)[:k]] = 1.0
        c = torch.randn(n, generator=generator, dtype=torch.float64)
        losses = {"quadratic": lambda z, z_star=z_star: ((z - z_star) ** 2).sum(-1),
                  "linear": lambda z, c=c: (z * c).sum(-1)}
        for loss_name, loss in losses.items():
            p = torch.softmax(subsets @ theta, 0)
            values = loss(subsets)
            truth = (p * values) @ subsets - (p @ values) * (p @ subsets)
            noise_generator = torch.Generator().manual_seed(100 + seed)
            many = dict(num_samples=20_000, reduction="none", generator=noise_generator)
            adaptive = dict(num_samples=100, reduction="none", generator=noise_generator)
            layers = {
                "IMLE (Gumbel, lambda 1)": (im.IMLE(oracle, target=im.PerturbedTarget(1.0), **many), 1),
                "IMLE (Gumbel, lambda 10)": (im.IMLE(oracle, **many), 1),
                "IMLE (SumOfGamma(3), lambda 1)": (
                    im.IMLE(oracle, noise=im.SumOfGamma(k), target=im.PerturbedTarget(1.0), **many), 1),
                "AIMLE": (im.IMLE(oracle, target=im.AdaptiveTarget(), **adaptive), 200),
                "AIMLE symmetric": (im.IMLE(oracle, target=im.AdaptiveTarget(symmetric=True), **adaptive), 200),
                "PerturbedOptimizer (Gumbel)": (im.PerturbedOptimizer(oracle, 1.0, noise=im.Gumbel(), **many), 1),
                "Blackbox (lambda 1)": (im.Blackbox(oracle, 1.0), 1),
                "StraightThrough": (im.StraightThrough(oracle), 1),
            }
            for label, (layer, steps) in layers.items():
                total = torch.zeros(n, dtype=torch.float64)
                for _ in range(steps):
                    t = theta.clone().requires_grad_(True)
                    z = layer(t)
                    (loss(z).mean() if z.dim() == 2 else loss(z)).backward()
                    total += t.grad
                cosine = float(total @ truth / (total.norm() * truth.norm()))
                results.setdefault((loss_name, label), []).append(cosine)
    return results


def outside_oracle_times(batch: int, size: int, repeats: int) -> dict[str, tuple[float, float, float]]:
    """Microseconds a training step spends outside its two oracle calls
    (best, median), and the raw two calls (best), for I-MLE and for a
    *minimal* estimator: one ``torch.rand`` draw, one addition before each
    oracle call and one subtraction, through the same autograd plumbing — a
    bound that no perturb-and-MAP estimator built from torch ops can beat."""
    oracle = im.get_oracle("shortest_path_grid")
    generator = torch.Generator().manual_seed(0)
    costs = torch.rand(batch, size, size, generator=generator) * 9 + 1
    grad = torch.randn(batch, size, size, generator=generator)
    spent: list[float] = []

    def timed(x):
        start = time.perf_counter()
        out = oracle(x)
        spent.append(time.perf_counter() - start)
        return out

    noise_generator = torch.Generator()

    class Minimal(torch.autograd.Function):
        @staticmethod
        def forward(ctx, theta):
            z = timed(torch.add(theta, torch.rand(theta.shape, generator=noise_generator)))
            ctx.save_for_backward(theta, z)
            return z

        @staticmethod
        def backward(ctx, g):
            theta, z = ctx.saved_tensors
            return z - timed(torch.add(theta, g.abs()))  # |g| keeps the costs non-negative

    class Timed:  # the oracle behind IMLE, timed
        sense, event_ndim, nonnegative, device_native, instance_data, name = (
            oracle.sense, oracle.event_ndim, oracle.nonnegative, False, {}, oracle.name)

        def __call__(self, x):
            return timed(x)

    layer = im.IMLE(Timed(), target=im.PerturbedTarget(), generator=noise_generator)
    steps = {"IMLE": lambda theta: layer(theta), "minimal": Minimal.apply}
    results = {}
    for label, forward in steps.items():
        outside, raw = [], []
        for round_ in range(repeats + 20):
            noise_generator.manual_seed(1)
            theta = costs.clone().requires_grad_(True)
            first = len(spent)
            start = time.perf_counter()
            forward(theta).backward(grad)
            total = time.perf_counter() - start
            if round_ >= 20:  # warm-up rounds first
                outside.append(total - sum(spent[first:]))
                raw.append(sum(spent[first:]))
        results[label] = (min(outside) * 1e6, float(np.median(outside)) * 1e6, min(raw) * 1e6)
    return results


def breakdown_times(batch: int, size: int, repeats: int, clock=time.perf_counter) -> dict[str, list[float]]:
    """Seconds per round of each piece of an I-MLE step outside its oracle
    calls (see the module docstring), ``repeats`` interleaved rounds after 20
    of warm-up, measured with ``clock``."""
    oracle = im.get_oracle("shortest_path_grid")
    generator = torch.Generator().manual_seed(0)
    costs = torch.rand(batch, size, size, generator=generator) * 9 + 1
    grad = torch.randn(batch, size, size, generator=generator)
    solution = oracle(costs)  # what the instant and busy oracles hand back
    solution_np = solution.numpy()
    spent: list[float] = []

    def instant(x):
        return solution.reshape(x.shape)  # a view: no copy

    def busy(x):
        x.detach().cpu().numpy()
        end = time.perf_counter() + 650e-6
        while time.perf_counter() < end:
            pass
        return torch.from_numpy(solution_np.copy()).reshape(x.shape)

    class Timed:  # an oracle behind IMLE, its calls timed
        sense, event_ndim, nonnegative, device_native, instance_data = "min", 2, True, False, {}

        def __init__(self, name, solve):
            self.name, self.solve = name, solve

        def __call__(self, x):
            start = clock()
            out = self.solve(x)
            spent.append(clock() - start)
            return out

    noise_generator = torch.Generator()
    layers = {label: im.IMLE(Timed(label, solve), target=im.PerturbedTarget(), generator=noise_generator)
              for label, solve in (("instant oracle", instant), ("busy oracle (650 us)", busy),
                                   ("real Dijkstra", oracle))}
    gumbel, target = im.Gumbel(), im.PerturbedTarget()
    shape = (1, batch, size, size)

    def outside(layer):
        noise_generator.manual_seed(1)
        theta = costs.clone().requires_grad_(True)
        first = len(spent)
        start = clock()
        layer(theta).backward(grad)
        return clock() - start - sum(spent[first:])

    def alone(fn):
        start = clock()
        fn()
        return clock() - start

    pieces = {f"step outside oracle, {label}": (lambda layer=layer: outside(layer)) for label, layer in layers.items()}
    pieces["Gumbel draw"] = lambda: alone(lambda: gumbel.sample(shape, generator=noise_generator))
    pieces["torch.rand alone"] = lambda: alone(lambda: torch.rand(shape, generator=noise_generator))
    pieces["target (PerturbedTarget)"] = lambda: alone(lambda: target.targets(costs, grad, 2))
    times: dict[str, list[float]] = {label: [] for label in pieces}
    for round_ in range(repeats + 20):
        for label, piece in pieces.items():
            seconds = piece()
            if round_ >= 20:
                times[label].append(seconds)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--grid", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quality", action="store_true", help="also print exact-gradient cosines")
    parser.add_argument("--bound", action="store_true",
                        help="also time a step outside its oracle calls, for IMLE and a minimal estimator")
    parser.add_argument("--breakdown", action="store_true",
                        help="also take the time of a step outside its oracle calls apart")
    parser.add_argument("--breakdown-only", action="store_true", help="only the --breakdown table")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="--breakdown: wall clock or this process's CPU time (for a shared machine)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.breakdown or args.breakdown_only:
        import os

        print(f"an I-MLE step outside its oracle calls, taken apart: batch {args.batch}, {args.grid}x{args.grid} "
              f"maps ({args.batch * args.grid ** 2} costs), S=1, {args.repeats} interleaved rounds, torch threads "
              f"{args.threads}, {args.clock} clock, load {os.getloadavg()[0]:.2f}")
        print(f"{'us':42} {'best':>7} {'median':>7} {'worst':>7}")
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        for label, seconds in breakdown_times(args.batch, args.grid, args.repeats, clock).items():
            print(f"{label:42} {min(seconds) * 1e6:7.1f} {float(np.median(seconds)) * 1e6:7.1f} "
                  f"{max(seconds) * 1e6:7.1f}")
        if args.breakdown_only:
            return

    print(f"batch {args.batch}, {args.grid}x{args.grid} maps, S=1, best of {args.repeats}, "
          f"torch threads {args.threads}")
    print("overhead = best step / best raw - 1; paired = median over rounds of step / raw - 1")
    print(f"{'oracle':20} {'raw IMLE ms':>11} {'IMLE ms':>8} {'overhead':>8} {'paired':>7} {'extra us':>8}"
          f" {'raw AIMLE ms':>12} {'AIMLE ms':>8} {'overhead':>8} {'paired':>7} {'extra us':>8}")
    for name, times in overhead_rows(args.batch, args.grid, args.repeats):
        if times is None:
            print(f"{name:20} pending: not registered in this build")
            continue
        cells = []
        for label in ("IMLE", "AIMLE"):
            raw, full = times[f"raw {label}"], times[label]
            paired = times[f"median ratio {label}"] - 1
            cells.append(f"{raw * 1e3:{11 + len(label) - 4}.3f} {full * 1e3:8.3f} {full / raw - 1:8.1%} {paired:7.1%}"
                         f" {(full - raw) * 1e6:8.0f}")
        print(f"{name:20} " + " ".join(cells))

    if args.bound:
        print(f"\ntime outside the two oracle calls of a step (shortest_path_grid, us), best of {args.repeats}")
        for label, (best, median, raw) in outside_oracle_times(args.batch, args.grid, args.repeats).items():
            print(f"{label:8} best {best:6.1f}  median {median:6.1f}  = {best / raw:6.1%} of the two calls ({raw:.0f} us)")

    if args.quality:
        print("\ncosine with the exact gradient (k-subsets, n=8, k=3), seeds 0/1/2")
        for (loss_name, label), cosines in exact_gradient_cosines().items():
            print(f"{loss_name:10} {label:32} " + "  ".join(f"{c:.3f}" for c in cosines))


if __name__ == "__main__":
    main()
