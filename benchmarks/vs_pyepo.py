"""imle_solvers side by side with PyEPO (and the reference-code style solvers).

Run (needs the ``bench`` extra: ``pip install 'imle-solvers[bench]'``):

    .venv/bin/python benchmarks/vs_pyepo.py oracles  [--sizes 5 12 30] [--repeats 5] [--plot docs/images/vs_pyepo_oracles.png]
    .venv/bin/python benchmarks/vs_pyepo.py training [--epochs 3] [--train 1000] [--test 1000]
    .venv/bin/python benchmarks/vs_pyepo.py pyepo-processes [--pyepo-processes 2]
    .venv/bin/python benchmarks/vs_pyepo.py dfl [--dfl-problems sp5 ks] [--seeds 42 43 44] [--dfl-epochs 20]
        [--methods SPO+ DPO ...] [--solve-ratios 1.0 0.1] [--dfl-out results.json]   (see pyepo_dfl.py)
    .venv/bin/python benchmarks/vs_pyepo.py          (oracles and training)

``oracles`` — one batch of vertex-weighted k x k Warcraft-like maps
(``grid_oracle.warcraft_like_maps``: the five Warcraft terrain costs in
3 x 3 patches), 8-neighbourhood, top-left to bottom-right, path cost = sum of
the cells on it, solved by

* ``ours``      — ``get_oracle("shortest_path_grid")`` on the whole batch
  (public ``__call__``, validation included, serial runner);
* ``numba-ref`` — a compiled textbook Dijkstra (numba), one call per map:
  the practical limit (``grid_oracle.numba_reference``);
* ``networkx``  — ``nx.dijkstra_path`` on a prebuilt graph
  (``grid_oracle.NetworkxSolver``);
* ``heapq``     — pure Python in the style of the original Warcraft /
  blackbox-backprop code (``grid_oracle.heapq_solver``);
* ``pyepo-lp``  — PyEPO's OR-Tools backend: ``pyepo_adapters.VertexGridModel``
  (a subclass of PyEPO's ``optOrtModel``: PyEPO's min-cost-flow LP on the
  directed 8-neighbour graph, arc ``(u, v)`` costing ``c[v]``, plus the
  source cost; GLOP, PyEPO's default LP solver for shortest paths), solved
  the way PyEPO's training modules solve a batch with ``processes=1``: a
  loop of ``setObj(c); solve()``.

Before timing, every method's path cost is checked against ours on the
timed maps (relative 1e-9; ties may give different paths of equal cost).
Times are the best of ``--repeats`` interleaved runs divided by the number
of maps; the slow methods run on fewer maps (per-map cost does not depend
on the batch).

``training`` — the same model, data, loss, optimiser and estimator
settings through our layers and through PyEPO's, one epoch at a time,
interleaved (ours, ours*, PyEPO, model only, ours, ...), so load from other
processes hits all alike; the time per epoch is the best of ``--epochs``.
"ours" is our layer as a user writes it (our ``SumOfGamma(5)`` noise);
"ours*" the same layer fed PyEPO's own noise draws (for the equality check
below); "model only" the same loop with no solver (the loss on the costs
themselves), the floor that every side pays:

* 12 x 12 synthetic Warcraft maps (``load_synthetic_warcraft``, seed 0; an
  epoch is the ``--train`` training maps, default 1,000, batch 32),
  ``WarcraftCNN(k=12, width=16)`` (same seed, same initial weights), Adam
  lr 1e-3, Hamming loss (sum over cells, mean over the batch) against the
  labelled path. Layers: our ``IMLE(get_oracle("shortest_path_grid"),
  target=PerturbedTarget(lambda), num_samples=S)`` against PyEPO's
  ``implicitMLE(VertexGridModel(12), n_samples=S, sigma=1, lambd=lambda)``
  with sum-of-gamma noise (kappa 5, PyEPO's default) on both sides, and
  our ``Blackbox(oracle, lambda)`` against PyEPO's ``blackboxOpt``.
* PyEPO's own 5 x 5 shortest path: ``pyepo.data.shortestpath.genData``
  (5 features, degree 4, noise half-width 0.5, seed 135; 1,000 training and
  1,000 test instances), ``nn.Linear(5, 40)``, Adam lr 1e-2, batch 32, L1
  loss (sum over arcs, mean over the batch) against the optimal solution
  (labels from PyEPO's ``shortestPathModel``); PyEPO's defaults
  ``n_samples=10, sigma=1, lambd=10``. Our oracle is ``shortest_path``
  (scipy Dijkstra on the same networkx graph, costs shifted per instance so
  that negative predicted costs are allowed; ``pyepo_adapters``).

Equal results, checked: "ours*" is given the very noise PyEPO draws
(``pyepo_adapters.ReplayedSumOfGamma``), so with the same seeds it sees the
same perturbed costs as PyEPO; both clamp perturbed Warcraft costs at zero.
The script prints, per row, how many training steps the per-step losses of
ours* and PyEPO stay equal and their largest difference; after the last
epoch, the test cost-optimality and normalised regret (PyEPO's definition:
sum of regrets / sum of optimal costs) of every side's trained model, each
evaluated with its own solver; and, for the PyEPO-trained model's
predicted test costs (plain, and perturbed as in training), the share of
identical solutions of the two solvers, the largest difference of their
costs and the regret each solver's decisions give. Runs diverge only where
two paths tie: equal-cost paths through zero-cost cells, which clamping
creates, are broken differently by Dijkstra (fewest steps) and the LP.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

from imle_solvers import IMLE, Blackbox, MissingDependencyError, PerturbedTarget, get_oracle
from imle_solvers.datasets import load_synthetic_warcraft, path_cost
from imle_solvers.models import WarcraftCNN

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grid_oracle import (  # noqa: E402 - the benchmarks folder is not a package
    NetworkxSolver,
    heapq_solver,
    interleaved_best_times,
    numba_reference,
    warcraft_like_maps,
)


def pyepo_adapters():
    """Import PyEPO (through ``pyepo_adapters``) or say which extra installs it."""
    try:
        import pyepo  # noqa: F401
        import pyepo_adapters
    except ImportError as error:
        raise MissingDependencyError(
            f"benchmarks/vs_pyepo.py compares against PyEPO, which could not be imported ({error}). "
            "Install the benchmark extra: pip install 'imle-solvers[bench]'"
        ) from error
    return pyepo_adapters


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


# ---------------------------------------------------------------------- #
# Oracle throughput
# ---------------------------------------------------------------------- #
class PyepoLoop:
    """A batch through a PyEPO model, as PyEPO's modules solve it with
    ``processes=1``: ``setObj`` and ``solve`` per instance."""

    def __init__(self, model):
        self.model = model

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        flat = batch.reshape(batch.shape[0], -1)
        out = np.empty(flat.shape, dtype=np.float32)
        for i in range(flat.shape[0]):
            self.model.setObj(flat[i])
            out[i], _ = self.model.solve()
        return out.reshape(batch.shape)


def bench_oracles(args) -> list[dict]:
    adapters = pyepo_adapters()
    torch.set_num_threads(1)
    ours = get_oracle("shortest_path_grid")
    print(f"## Oracle throughput: vertex-weighted k x k Warcraft-like maps, 8-neighbourhood ({load_line()})")
    print(f"best of {args.repeats} interleaved runs; ours and numba-ref on {args.batch} maps, networkx and heapq on "
          f"{args.slow_batch}, pyepo-lp on {args.lp_batch} (k <= 12) / {max(4, args.lp_batch // 4)} (k > 12)")
    header = (f"{'k':>3} | {'ours':>8} {'numba-ref':>9} {'networkx':>9} {'heapq':>9} {'pyepo-lp':>9} | "
              f"{'ours/ref':>8} {'nx/ours':>8} {'heapq/ours':>10} {'pyepo/ours':>10}")
    print("ms per instance")
    print(header)
    print("-" * len(header))
    rows = []
    for k in args.sizes:
        batch = warcraft_like_maps(args.batch, k, seed=k)
        lp = PyepoLoop(adapters.VertexGridModel(k))
        solvers = {"ours": ours, "numba-ref": numba_reference, "networkx": NetworkxSolver(k), "heapq": heapq_solver,
                   "pyepo-lp": lp}
        sizes = {"ours": args.batch, "numba-ref": args.batch, "networkx": args.slow_batch, "heapq": args.slow_batch,
                 "pyepo-lp": args.lp_batch if k <= 12 else max(4, args.lp_batch // 4)}
        timed = {label: (fn, batch[: sizes[label]]) for label, fn in solvers.items()}
        reference = path_cost(ours(batch), batch)
        for label, (fn, maps) in timed.items():
            costs = path_cost(np.asarray(fn(maps)), maps)
            if not np.allclose(costs, reference[: len(maps)], rtol=1e-9, atol=0):
                raise AssertionError(f"{label} disagrees with ours on the optimal path cost at k={k}")
        repeats = {label: args.repeats for label in solvers}
        seconds = interleaved_best_times(timed, repeats)
        ms = {label: seconds[label] / sizes[label] * 1e3 for label in solvers}
        print(f"{k:>3} | {ms['ours']:8.4f} {ms['numba-ref']:9.4f} {ms['networkx']:9.3f} {ms['heapq']:9.3f} "
              f"{ms['pyepo-lp']:9.3f} | {ms['ours'] / ms['numba-ref']:8.2f} {ms['networkx'] / ms['ours']:8.0f} "
              f"{ms['heapq'] / ms['ours']:10.0f} {ms['pyepo-lp'] / ms['ours']:10.0f}", flush=True)
        rows.append({"k": k, **ms})
    print("all methods returned paths of the optimal cost on every timed map")
    if args.plot:
        plot_oracles(rows, args.plot)
    return rows


def plot_oracles(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["ours", "numba-ref", "networkx", "heapq", "pyepo-lp"]
    names = {"ours": "imle_solvers (numba, batched)", "numba-ref": "compiled Dijkstra (numba)",
             "networkx": "networkx", "heapq": "pure-Python heapq", "pyepo-lp": "PyEPO LP (OR-Tools GLOP)"}
    sizes = [row["k"] for row in rows]
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    width = 0.16
    for i, label in enumerate(labels):
        positions = np.arange(len(sizes)) + (i - 2) * width
        ax.bar(positions, [row[label] for row in rows], width, label=names[label])
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(sizes)), [f"{k} x {k}" for k in sizes])
    ax.set_ylabel("ms per map (log scale)")
    ax.set_title("Warcraft grid shortest path, one CPU core")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"wrote {path}")


def bench_pyepo_processes(args) -> dict:
    """PyEPO's own batch solve (``pyepo.func.utils._solve_batch_np``, what its
    modules call) with ``processes=1`` and with a pathos pool of
    ``--pyepo-processes`` workers, on the perturbed batch one I-MLE step with
    S=10 solves at 12 x 12 (320 maps)."""
    adapters = pyepo_adapters()
    from pyepo.func.runtime import create_solver_pool
    from pyepo.func.utils import _close_pool, _solve_batch_np

    workers = max(2, args.pyepo_processes)
    model = adapters.VertexGridModel(12)
    maps = warcraft_like_maps(320, 12, seed=1).reshape(320, -1)
    pool = create_solver_pool(model, workers)
    try:
        serial, pooled = _solve_batch_np(maps, model, 1, None)[0], _solve_batch_np(maps, model, workers, pool)[0]
        if not np.allclose(flat_costs(serial, maps), flat_costs(pooled, maps), rtol=1e-9):
            raise AssertionError("PyEPO's pooled solve disagrees with its serial solve")
        seconds = interleaved_best_times({"1": (lambda m: _solve_batch_np(m, model, 1, None), maps),
                                          str(workers): (lambda m: _solve_batch_np(m, model, workers, pool), maps)},
                                         {"1": args.repeats, str(workers): args.repeats})
    finally:
        _close_pool(pool)
    print(f"## PyEPO processes ({load_line()}): 320 maps of 12 x 12 through _solve_batch_np, best of {args.repeats}")
    print(f"processes=1: {seconds['1'] * 1e3:.0f} ms; processes={workers} (pathos pool): "
          f"{seconds[str(workers)] * 1e3:.0f} ms; speedup {seconds['1'] / seconds[str(workers)]:.2f}x")
    return seconds


# ---------------------------------------------------------------------- #
# Training throughput
# ---------------------------------------------------------------------- #
class Side:
    """One training run: a model, its optimiser and a layer (costs -> solutions)."""

    def __init__(self, model, layer, lr):
        self.model, self.layer = model, layer
        self.optimiser = torch.optim.Adam(model.parameters(), lr=lr)
        self.times: list[float] = []
        self.losses: list[float] = []


def run_epoch(side: Side, features, labels, batch: int, seed: int) -> None:
    """One pass over the data in a seeded order; appends the time and losses."""
    order = torch.randperm(features.shape[0], generator=torch.Generator().manual_seed(seed))
    side.model.train()
    start = time.perf_counter()
    for begin in range(0, features.shape[0], batch):
        index = order[begin : begin + batch]
        costs = side.model(features[index])
        solutions = side.layer(costs)
        target = labels[index]
        loss = (solutions * (1 - target) + (1 - solutions) * target).flatten(1).sum(1).mean()  # Hamming = L1
        side.optimiser.zero_grad()
        loss.backward()
        side.optimiser.step()
        side.losses.append(loss.item())
    side.times.append(time.perf_counter() - start)


class Problem:
    """A training comparison: a seeded model factory, our oracle (numpy
    ``(n, *event)`` in and out), a PyEPO model factory, the training data and
    the test set (features, true costs, optimal true costs)."""

    def __init__(self, title, fresh_model, oracle, pyepo_model, features, labels, test_features, test_costs, lr):
        self.title, self.fresh_model, self.oracle, self.pyepo_model = title, fresh_model, oracle, pyepo_model
        self.features, self.labels, self.lr = features, labels, lr
        self.test_features, self.test_costs = test_features, test_costs  # tensor, numpy (n, *event)
        self.test_optimal = flat_costs(self.solve_ours(test_costs), test_costs)
        if not np.allclose(flat_costs(self.solve_pyepo(test_costs), test_costs), self.test_optimal, rtol=1e-9):
            raise AssertionError(f"{title}: PyEPO's model and our oracle disagree on the optimal test costs")

    def predict(self, model) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            out = torch.cat([model(self.test_features[i : i + 250]) for i in range(0, len(self.test_features), 250)])
        return out.double().numpy()  # (n, *event)

    def solve_ours(self, costs: np.ndarray) -> np.ndarray:
        return np.asarray(self.oracle(costs))

    def solve_pyepo(self, costs: np.ndarray, model=None) -> np.ndarray:
        return PyepoLoop(model if model is not None else self.pyepo_model())(costs).astype(np.float64)

    def scores(self, paths: np.ndarray) -> tuple[float, float]:
        """(share of cost-optimal decisions, normalised regret) under the true test costs."""
        achieved = flat_costs(paths, self.test_costs)
        optimal = self.test_optimal
        share = float(np.mean(np.abs(achieved - optimal) <= 1e-6 * np.abs(optimal)))
        return share, float((achieved - optimal).sum() / np.abs(optimal).sum())


def flat_costs(paths: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Cost of each decision: ``<paths_i, costs_i>`` (float64)."""
    return (paths.reshape(len(paths), -1) * costs.reshape(len(costs), -1)).sum(1)


def train_row(problem: Problem, label: str, layers: dict, replay_noise, args) -> dict:
    """Train one model per layer (same initial weights, same data order),
    epoch by epoch, interleaved; test each with its own solver; then feed the
    PyEPO-trained model's predicted test costs (plain, and perturbed with
    PyEPO's noise and clamped as in training) to both solvers."""
    sides = {name: Side(problem.fresh_model(), layer, problem.lr) for name, layer in layers.items()}
    sides["model only"] = Side(problem.fresh_model(), lambda costs: costs, problem.lr)  # no solver: the shared floor
    for epoch in range(args.epochs):
        for side in sides.values():
            run_epoch(side, problem.features, problem.labels, args.train_batch, seed=epoch)
    result = {"problem": problem.title, "row": label, "steps": len(sides["pyepo"].losses)}
    result["floor_s"] = min(sides.pop("model only").times)
    for name, side in sides.items():
        predicted = problem.predict(side.model)
        paths = problem.solve_pyepo(predicted) if name == "pyepo" else problem.solve_ours(predicted)
        result[f"{name}_s"] = min(side.times)
        result[f"{name}_optimal"], result[f"{name}_regret"] = problem.scores(paths)
    twin = sides["ours-replay"] if "ours-replay" in sides else sides["ours"]
    gap = np.abs(np.array(twin.losses) - np.array(sides["pyepo"].losses))
    result["loss_gap"] = float(gap.max())
    result["equal_steps"] = int(np.argmax(gap > 1e-6)) if (gap > 1e-6).any() else len(gap)
    # the same inputs through both solvers
    predicted = problem.predict(sides["pyepo"].model)
    inputs = {"plain": predicted}
    if replay_noise is not None:
        noise = replay_noise.sample((1, *predicted.shape), device="cpu", dtype=torch.float64)[0].numpy()
        perturbed = predicted - noise
        inputs["perturbed"] = np.maximum(perturbed, 0.0) if problem.title != "5x5" else perturbed
    lp = problem.pyepo_model()
    for kind, costs in inputs.items():
        ours_paths, pyepo_paths = problem.solve_ours(costs), problem.solve_pyepo(costs, lp)
        result[f"{kind}_cost_gap"] = float(np.max(np.abs(flat_costs(ours_paths, costs) - flat_costs(pyepo_paths, costs))))
        result[f"{kind}_identical"] = float(np.mean(np.all(ours_paths.reshape(len(costs), -1)
                                                            == pyepo_paths.reshape(len(costs), -1), axis=1)))
        if kind == "plain":
            result["same_input_regret"] = (problem.scores(ours_paths)[1], problem.scores(pyepo_paths)[1])
    result["lp_cycles"] = getattr(lp, "cycles_dropped", 0)
    result["inputs"] = len(predicted)
    return result


def layers_for(settings, oracle, pyepo_model, lambda_, args, adapters):
    """Our layers and PyEPO's for one row; I-MLE rows get a second copy of
    ours driven by PyEPO's own noise draws (for the equality check)."""
    from pyepo.func import blackboxOpt, implicitMLE
    from pyepo.func.utils import sumGammaDistribution

    from imle_solvers import SumOfGamma

    flat = settings["flat"]

    def pyepo_layer(module):
        return module if flat else (lambda costs: module(costs.flatten(1)).view_as(costs))

    if settings["kind"] == "dbb":
        return {"ours": Blackbox(oracle, lambda_=lambda_),
                "pyepo": pyepo_layer(blackboxOpt(pyepo_model(), lambd=lambda_, processes=args.pyepo_processes))}
    samples = settings["samples"]
    common = {"target": PerturbedTarget(lambda_), "num_samples": samples}
    return {
        "ours": IMLE(oracle, noise=SumOfGamma(5), generator=torch.Generator().manual_seed(args.seed), **common),
        "ours-replay": IMLE(oracle, noise=adapters.ReplayedSumOfGamma(kappa=5), **common),
        "pyepo": pyepo_layer(implicitMLE(pyepo_model(), n_samples=samples, sigma=1.0, lambd=lambda_,
                                         distribution=sumGammaDistribution(kappa=5), processes=args.pyepo_processes)),
    }


def warcraft_problem(args, adapters) -> Problem:
    k = 12
    splits = load_synthetic_warcraft(k, args.train, 0, args.test, seed=0, cache_dir=args.cache_dir)

    def fresh_model():
        torch.manual_seed(args.seed)
        return WarcraftCNN(k=k, width=16)

    return Problem("12x12", fresh_model, get_oracle("shortest_path_grid"), lambda: adapters.VertexGridModel(k),
                   torch.from_numpy(splits.train.images), torch.from_numpy(splits.train.paths).float(),
                   torch.from_numpy(splits.test.images), splits.test.costs.astype(np.float64), lr=1e-3)


def pyepo5_problem(args, adapters) -> Problem:
    from pyepo.data.shortestpath import genData
    from pyepo.model.ort import shortestPathModel

    grid = (5, 5)
    x, c = genData(args.train + args.test, 5, grid, deg=4, noise_width=0.5, seed=135)
    c = c.astype(np.float64)
    labels = PyepoLoop(shortestPathModel(grid))(c[: args.train])  # PyEPO's labels (optDataset solves the same way)

    def fresh_model():
        torch.manual_seed(args.seed)
        return torch.nn.Linear(5, c.shape[1])

    return Problem("5x5", fresh_model, adapters.PyepoGridShortestPath(grid), lambda: shortestPathModel(grid),
                   torch.from_numpy(x[: args.train]).float(), torch.from_numpy(labels).float(),
                   torch.from_numpy(x[args.train :]).float(), c[args.train :], lr=1e-2)


def bench_training(args) -> list[dict]:
    adapters = pyepo_adapters()
    torch.set_num_threads(1)
    print(f"## Training throughput ({load_line()})")
    print(f"epoch = {args.train} training instances, batch {args.train_batch}, best of {args.epochs} epochs, one torch "
          f"thread, PyEPO processes={args.pyepo_processes}; {args.test} test instances, tested after {args.epochs} epochs")
    results = []
    for name in args.problems:
        if name == "12":
            problem = warcraft_problem(args, adapters)
            lambda_, flat = args.lambda_warcraft, False
            rows = [(f"I-MLE S={s}", {"kind": "imle", "samples": s}) for s in args.samples]
        else:
            problem = pyepo5_problem(args, adapters)
            lambda_, flat = 10.0, True
            rows = [("I-MLE S=10", {"kind": "imle", "samples": 10})]
        rows.append(("DBB", {"kind": "dbb"}))
        for label, settings in rows:
            layers = layers_for({**settings, "flat": flat}, problem.oracle, problem.pyepo_model, lambda_, args, adapters)
            replay = adapters.ReplayedSumOfGamma(kappa=5, seed=7) if settings["kind"] == "imle" else None
            result = train_row(problem, label, layers, replay, args)
            results.append(result)
            print_row(result)
    print_tables(results)
    print(f"after: {load_line()}")
    return results


def print_row(r: dict) -> None:
    replay = f"{r['ours-replay_s']:.2f}" if "ours-replay_s" in r else "-"
    print(f"{r['problem']:<6} {r['row']:<11} ours {r['ours_s']:.2f} s (PyEPO's noise {replay} s), PyEPO "
          f"{r['pyepo_s']:.2f} s: {r['pyepo_s'] / r['ours_s']:.1f}x; model only {r['floor_s']:.2f} s", flush=True)


def print_tables(results: list[dict]) -> None:
    print()
    print("Seconds per epoch (best epoch); ratio = PyEPO / ours; above floor = minus the epoch of the same loop with "
          "no solver (trained in the same interleaved rounds)")
    header = (f"{'problem':<7} {'row':<11} {'ours':>7} {'ours*':>7} {'PyEPO':>8} {'ratio':>7} | {'model only':>10} | "
              f"{'above floor: ours':>17} {'PyEPO':>7} {'ratio':>7}")
    print(header)
    print("-" * len(header))
    for r in results:
        replay = f"{r['ours-replay_s']:7.2f}" if "ours-replay_s" in r else f"{'-':>7}"
        ours_above, pyepo_above = r["ours_s"] - r["floor_s"], r["pyepo_s"] - r["floor_s"]
        above_ratio = f"{pyepo_above / ours_above:6.0f}x" if ours_above > 0.02 else f"{'n/a':>7}"
        print(f"{r['problem']:<7} {r['row']:<11} {r['ours_s']:7.2f} {replay} {r['pyepo_s']:8.2f} "
              f"{r['pyepo_s'] / r['ours_s']:6.1f}x | {r['floor_s']:10.2f} | {ours_above:17.2f} {pyepo_above:7.2f} "
              f"{above_ratio}")
    print("ours* = our layer driven by PyEPO's noise draws (the equality twin); ratio above floor: n/a when ours is "
          "within 0.02 s of the floor")
    print()
    print("Equal results: test after the last epoch (cost-optimal share / normalised regret), each model with its own solver")
    header = (f"{'problem':<7} {'row':<11} | {'equal steps':>11} {'max gap':>8} | {'optimal ours/ours*/PyEPO':>24} | "
              f"{'regret ours/ours*/PyEPO':>26} | {'same input: identical':>21} {'cost gap':>8} {'regret ours/PyEPO':>18}")
    print(header)
    print("-" * len(header))
    for r in results:
        star = "ours-replay" if "ours-replay_s" in r else "ours"
        optimal = f"{r['ours_optimal']:.3f}/{r[star + '_optimal']:.3f}/{r['pyepo_optimal']:.3f}"
        regret = f"{r['ours_regret']:.4f}/{r[star + '_regret']:.4f}/{r['pyepo_regret']:.4f}"
        identical = f"{r['plain_identical']:.3f}" + (f" ({r['perturbed_identical']:.3f})" if "perturbed_identical" in r else "")
        cost_gap = max(r["plain_cost_gap"], r.get("perturbed_cost_gap", 0.0))
        same = f"{r['same_input_regret'][0]:.4f}/{r['same_input_regret'][1]:.4f}"
        print(f"{r['problem']:<7} {r['row']:<11} | {r['equal_steps']:>4}/{r['steps']:<6} {r['loss_gap']:8.1e} | "
              f"{optimal:>24} | {regret:>26} | {identical:>21} {cost_gap:8.1e} {same:>18}")
    print("equal steps: training steps before the per-step losses of ours* and PyEPO first differ (> 1e-6); max gap: "
          "largest loss difference over all steps")
    print("same input: the PyEPO-trained model's predicted test costs (and in parentheses the same costs perturbed "
          "with sum-of-gamma noise, clamped at 0 on 12x12) through both solvers: share of identical solutions, largest "
          "cost difference, and the regret each solver's decisions give")
    cycles = [r["lp_cycles"] for r in results if r.get("lp_cycles")]
    if cycles:
        print(f"PyEPO LP solutions that carried zero-cost cycles besides the path (dropped by the adapter): {cycles}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", choices=["oracles", "training", "pyepo-processes", "dfl", "all"],
                        default="all")
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 12, 30])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256, help="maps for ours and numba-ref")
    parser.add_argument("--slow-batch", type=int, default=32, help="maps for networkx and heapq")
    parser.add_argument("--lp-batch", type=int, default=32, help="maps for pyepo-lp at k <= 12 (a quarter above)")
    parser.add_argument("--plot", default=None, help="write the oracle chart (PNG) here")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train", type=int, default=1000, help="training instances (one epoch)")
    parser.add_argument("--train-batch", type=int, default=32)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--samples", type=int, nargs="+", default=[1, 10], help="I-MLE samples per row (12x12)")
    parser.add_argument("--lambda-warcraft", type=float, default=20.0)
    parser.add_argument("--problems", nargs="+", default=["12", "5"], choices=["12", "5"])
    parser.add_argument("--pyepo-processes", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=None, help="where the synthetic Warcraft maps are cached")
    dfl = parser.add_argument_group("dfl (decision-focused learning on PyEPO's protocol; see pyepo_dfl.py)")
    dfl.add_argument("--dfl-problems", nargs="+", default=["sp5"], choices=["sp5", "ks", "tsp20"])
    dfl.add_argument("--methods", nargs="+", default=None, help="default: all eleven")
    dfl.add_argument("--dfl-epochs", type=int, default=20, help="epochs per run (PyEPO's notebook: 20)")
    dfl.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    dfl.add_argument("--solve-ratios", type=float, nargs="+", default=[1.0],
                     help="< 1: the solver-based methods with solution caching at that ratio, both sides")
    dfl.add_argument("--same-coins", action="store_true",
                     help="with caching, PyEPO's solve-or-cache coin replays ours: both sides solve on the same calls")
    dfl.add_argument("--dfl-out", default=None, help="write the raw results (JSON) here after every run")
    args = parser.parse_args(argv)
    if args.what in ("oracles", "all"):
        bench_oracles(args)
    if args.what == "pyepo-processes":
        bench_pyepo_processes(args)
    if args.what in ("training", "all"):
        bench_training(args)
    if args.what == "dfl":
        pyepo_adapters()  # or a clear error naming the extra
        import pyepo_dfl

        if args.methods is None:
            args.methods = pyepo_dfl.METHODS
        args.epochs = args.dfl_epochs
        pyepo_dfl.bench_dfl(args)


if __name__ == "__main__":
    main()
