"""Decision-focused learning on PyEPO's own benchmark: ``vs_pyepo.py dfl``.

PyEPO's notebook protocol ("03 Training and Testing"): features and costs
from PyEPO's generators, a linear model ``nn.Linear(5, num_costs)``, Adam,
batch 32, 20 epochs, test regret normalised as PyEPO defines it. Every method
is trained twice — through our modules and through PyEPO's — with the same
data, the same initial weights (one seeded ``nn.Linear`` copied), the same
batch order (``torch.randperm`` seeded by seed and epoch) and the same
number of epochs; the two sides alternate epoch by epoch, so load from
other processes hits both alike. Test regret: each side's model with its
own solver and its own metric (``imle_solvers.metrics.regret`` /
``pyepo.metric.regret``).

Problems:

* ``sp5`` — shortest path on PyEPO's 5 x 5 grid (40 arcs right and down),
  ``pyepo.data.shortestpath.genData(2000, 5, (5, 5), deg=4,
  noise_width=0.5, seed)``, first 1,000 for training, last 1,000 for test.
  PyEPO: ``pyepo.model.ort.shortestPathModel`` (OR-Tools GLOP, its free
  default). Ours: ``shortest_path`` on the same DAG when it accepts negative
  costs (the compiled backend), else ``pyepo_adapters.PyepoGridShortestPath``
  (scipy Dijkstra on costs shifted per instance — every path has 8 arcs).
* ``ks`` — 2-dimensional 0/1 knapsack, 32 items,
  ``pyepo.data.knapsack.genData(2000, 5, 32, dim=2)`` (generator defaults:
  ``deg=1``, no noise), capacity 20 per dimension (PyEPO's notebooks).
  PyEPO: ``pyepo.model.ort.knapsackModel`` (OR-Tools SCIP). Ours:
  ``knapsack`` with ``(d, n)`` weights (``dims=2``; the compiled branch and
  bound) when available, else ``ilp`` (CP-SAT) with the same constraints,
  on PyEPO's own two-decimal float weights (see ``Problem``). Linear models predict negative values; both
  sides accept them.
* ``tsp20`` — the travelling salesman on 20 cities,
  ``pyepo.data.tsp.genData(train + test, 5, 20, deg=4, noise_width=0.5,
  seed)`` (one cost per city pair). PyEPO: ``pyepo.model.omo.tspGGModel``
  (Gavish-Graves) through Pyomo with HiGHS (``appsi_highs``), the free
  solver it can use; about 0.5 s per instance here, so this problem is run
  with small ``--train``/``--test`` and few epochs. Ours: ``tsp`` with
  ``layout="edges"`` (CP-SAT above 12 cities), about 0.09 s per instance.

Methods and their settings (PyEPO's notebook and docs): SPO+; DPO
(``n_samples=3, sigma=1``, L1 to the true solution, PyEPO's leave-one-out
variance reduction on both sides); PFYL (``n_samples=3, sigma=1``); I-MLE
(``n_samples=3, sigma=1, lambda=10``, sum-of-gamma noise kappa 5, L1); AIMLE
(``n_samples=3``, L1; ours ``AdaptiveTarget(target_nonzeros=<number of
variables>, update_step=1e-3, norm="theta")``, PyEPO's rule in our terms:
density 1, step 1e-3, the norm of the predicted costs); DBB (``lambda=20``,
lr 0.1, regret loss); NID (regret loss); NCE and the three LTR losses
(pool seeded with the training solutions, ``solve_ratio=0.05``). Learning
rate 1e-2 except DBB. ``--solve-ratio r`` < 1 runs the solver-based
methods with solution caching at that ratio on both sides (our
``CachedOracle``, PyEPO's ``solve_ratio=`` with the training set).
"""

from __future__ import annotations

import copy
import os
import time

import numpy as np
import torch

import imle_solvers as im

NOTEBOOK = {  # PyEPO's "03 Training and Testing" notebook, 5 x 5 shortest path, one seed
    "SPO+": 7.59, "PFYL": 7.29, "DPO": 9.88, "I-MLE": 12.07, "AIMLE": 7.24, "DBB": 15.12, "NID": 8.90,
    "NCE": 10.29, "pointwise LTR": 8.47, "listwise LTR": 9.59, "pairwise LTR": 9.73,
}
METHODS = list(NOTEBOOK)


class Problem:
    """Data, labels and both sides' solvers for one seed."""

    def __init__(self, name: str, seed: int, train: int, test: int):
        import pyepo

        self.name, self.seed = name, seed
        if name == "sp5":
            from pyepo.model.ort import shortestPathModel
            from pyepo.model.utils import _get_grid_arcs

            x, c = pyepo.data.shortestpath.genData(train + test, 5, (5, 5), deg=4, noise_width=0.5, seed=seed)
            self.optmodel = shortestPathModel((5, 5))
            self.oracle, self.oracle_name = self._shortest_path(_get_grid_arcs((5, 5)))
        elif name == "ks":
            from pyepo.model.ort import knapsackModel

            weights, x, c = pyepo.data.knapsack.genData(train + test, 5, 32, dim=2, seed=seed)
            capacity = np.array([20.0, 20.0])
            self.optmodel = knapsackModel(weights, capacity)
            # PyEPO's own float weights (hundredths, 3.00-7.99): the knapsack oracle's feasibility rule
            # (sum <= C * (1 + 1e-9)) admits a selection that fills a capacity exactly in decimal, as SCIP's 1e-6
            # tolerance does; the compiled branch and bound solves them
            self.oracle, self.oracle_name = self._knapsack(weights, capacity)
        elif name == "tsp20":
            from pyepo.model.omo import tspGGModel

            x, c = pyepo.data.tsp.genData(train + test, 5, 20, deg=4, noise_width=0.5, seed=seed)
            self.optmodel = tspGGModel(20, solver="appsi_highs")  # Pyomo + HiGHS: PyEPO's free TSP route
            # PyEPO's edge vectors (one cost per city pair, in its order) in, its edge indicators out
            self.oracle, self.oracle_name = im.get_oracle("tsp", layout="edges"), "tsp (edge layout; CP-SAT)"
        else:
            raise ValueError(f"unknown problem {name!r}")
        self.x = torch.tensor(x, dtype=torch.float32)
        self.c = torch.tensor(c, dtype=torch.float32)
        self.train, self.test = slice(0, train), slice(train, train + test)
        from pyepo.data.dataset import optDataset

        self.dataset = optDataset(self.optmodel, x[self.train], c[self.train])  # PyEPO's labels (and pool seed)
        self.w = self.dataset.sols.float()
        self.z = self.dataset.objs.float().reshape(-1)
        ours = np.asarray(self.solve(self.c[self.train].double().numpy()))
        gap = np.abs((ours * c[self.train]).sum(1) - self.z.numpy()).max()
        if gap > 1e-3 * max(1.0, float(np.abs(self.z.numpy()).max())):
            raise AssertionError(f"{name}: our oracle and PyEPO's model disagree on optimal training objectives "
                                 f"(largest gap {gap})")
        test_data = optDataset(self.optmodel, x[self.test], c[self.test])
        self.test_w, self.test_z = test_data.sols.float(), test_data.objs.float().reshape(-1)

    def _shortest_path(self, arcs):
        try:
            oracle = im.get_oracle("shortest_path", graph=list(arcs), source=0, target=24)  # PyEPO's arc order
            oracle(np.full((1, len(arcs)), -1.0))  # the compiled backend takes negative costs on a DAG
            return oracle, "shortest_path"
        except im.InvalidInputError:
            import sys

            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            import pyepo_adapters

            return pyepo_adapters.PyepoGridShortestPath((5, 5)), "PyepoGridShortestPath (shifted Dijkstra)"

    def _knapsack(self, weights, capacity):
        try:
            oracle = im.get_oracle("knapsack", dims=weights.shape[0])  # (d, n) weights for every batch size
            oracle(np.ones((1, weights.shape[1])), weights=weights, capacity=capacity)
            self.data = {"weights": weights, "capacity": capacity}
            return oracle, "knapsack (d x n weights, branch and bound)"
        except (im.InvalidInputError, im.OracleError):
            oracle = im.get_oracle("ilp", sense="max", A_ub=weights, b_ub=capacity)
            return oracle, "ilp (CP-SAT)"

    @property
    def instance_data(self) -> dict:
        return getattr(self, "data", {})

    def solve(self, costs):
        return self.oracle(costs, **self.instance_data)

    def fresh_model(self, seed: int) -> torch.nn.Module:
        torch.manual_seed(seed)
        return torch.nn.Linear(self.x.shape[1], self.c.shape[1])


# ---------------------------------------------------------------------- #
# The two sides of every method
# ---------------------------------------------------------------------- #
def our_step_fn(method: str, problem: Problem, solve_ratio: float, seed: int):
    """(loss(cp, c, w, z), lr) for our modules."""
    from imle_solvers import (
        IMLE,
        AdaptiveTarget,
        Blackbox,
        CachedOracle,
        FenchelYoungLoss,
        ListwiseLTRLoss,
        NCELoss,
        NegativeIdentity,
        PairwiseLTRLoss,
        PerturbedOptimizer,
        PerturbedTarget,
        PointwiseLTRLoss,
        SolutionLoss,
        SPOPlusLoss,
        SumOfGamma,
    )
    from imle_solvers.noise import Normal

    oracle = problem.oracle
    if solve_ratio < 1.0 or problem.instance_data:
        # the pool needs the instance data fixed; it also carries the knapsack weights for every method
        oracle = CachedOracle(problem.oracle, solve_ratio, solutions=problem.w if solve_ratio < 1.0 else None,
                              generator=seed, **problem.instance_data)
    gen = torch.Generator().manual_seed(seed)
    lr = 1e-2
    if method == "SPO+":
        loss = SPOPlusLoss(oracle)
    elif method == "DPO":
        loss = SolutionLoss(PerturbedOptimizer(oracle, sigma=1.0, num_samples=3, noise=Normal(), generator=gen,
                                               variance_reduction=True))
    elif method == "PFYL":
        loss = SolutionLoss(FenchelYoungLoss(oracle, sigma=1.0, num_samples=3, generator=gen))
    elif method == "I-MLE":
        loss = SolutionLoss(IMLE(oracle, noise=SumOfGamma(5), target=PerturbedTarget(10.0), num_samples=3,
                                 generator=gen))
    elif method == "AIMLE":
        # PyEPO's adaptiveImplicitMLE rule in our terms: a target density of 1 (every entry non-zero), a step of
        # 1e-3 per backward pass, the step size from the norm of the predicted costs (not the perturbed ones);
        # our default AdaptiveTarget() aims at one non-zero entry instead (see docs/benchmarks.md)
        target = AdaptiveTarget(target_nonzeros=float(problem.c.shape[1]), update_step=1e-3, norm="theta")
        loss = SolutionLoss(IMLE(oracle, noise=SumOfGamma(5), target=target, num_samples=3, generator=gen))
    elif method == "DBB":
        loss, lr = SolutionLoss(Blackbox(oracle, lambda_=20.0), distance="regret"), 1e-1
    elif method == "NID":
        loss = SolutionLoss(NegativeIdentity(oracle), distance="regret")
    else:  # the pool losses: a pool seeded with the training solutions, refreshed at solve_ratio 0.05
        kind = {"NCE": NCELoss, "pointwise LTR": PointwiseLTRLoss, "pairwise LTR": PairwiseLTRLoss,
                "listwise LTR": ListwiseLTRLoss}[method]
        loss = kind(CachedOracle(problem.oracle, 0.05, solutions=problem.w, generator=seed, **problem.instance_data))
    def step(cp, c, w, z):
        return loss(cp, c, true_solutions=w, true_objectives=z)

    step.loss = loss  # for pyepo_streams.py, which feeds both sides the same random streams
    return step, lr


def pyepo_step_fn(method: str, problem: Problem, solve_ratio: float, seed: int):
    """(loss(cp, c, w, z), lr) for PyEPO's modules, as its notebook calls them."""
    import pyepo.func as F

    om, ds = problem.optmodel, problem.dataset
    cache = {"solve_ratio": solve_ratio, "dataset": ds} if solve_ratio < 1.0 else {}
    pool = {"solve_ratio": 0.05, "dataset": ds}
    l1 = torch.nn.L1Loss()
    sign = 1.0 if problem.oracle.sense == "min" else -1.0  # min: c.w - z; max: z - c.w

    def regret_loss(layer):
        return lambda cp, c, w, z: (sign * ((layer(cp) * c).sum(1) - z)).mean()

    lr = 1e-2
    if method == "SPO+":
        module = F.SPOPlus(om, **cache)
        step = lambda cp, c, w, z: module(cp, c, w, z.unsqueeze(1))  # noqa: E731
    elif method == "DPO":
        module = F.perturbedOpt(om, n_samples=3, sigma=1.0, seed=seed, **cache)
        step = lambda cp, c, w, z: l1(module(cp), w)  # noqa: E731
    elif method == "PFYL":
        module = F.perturbedFenchelYoung(om, n_samples=3, sigma=1.0, seed=seed, **cache)
        step = lambda cp, c, w, z: module(cp, w)  # noqa: E731
    elif method == "I-MLE":
        from pyepo.func.utils import sumGammaDistribution

        module = F.implicitMLE(om, n_samples=3, sigma=1.0, lambd=10, distribution=sumGammaDistribution(5, seed=seed),
                               **cache)
        step = lambda cp, c, w, z: l1(module(cp), w)  # noqa: E731
    elif method == "AIMLE":
        from pyepo.func.utils import sumGammaDistribution

        module = F.adaptiveImplicitMLE(om, n_samples=3, sigma=1.0, distribution=sumGammaDistribution(5, seed=seed),
                                       **cache)
        step = lambda cp, c, w, z: l1(module(cp), w)  # noqa: E731
    elif method == "DBB":
        module = F.blackboxOpt(om, lambd=20, **cache)
        step, lr = regret_loss(module), 1e-1
    elif method == "NID":
        module = F.negativeIdentity(om, **cache)
        step = regret_loss(module)
    elif method == "NCE":
        module = F.NCE(om, **pool)
        step = lambda cp, c, w, z: module(cp, w)  # noqa: E731
    else:
        kind = {"pointwise LTR": F.ptLTR, "pairwise LTR": F.prLTR, "listwise LTR": F.lsLTR}[method]
        module = kind(om, **pool)
        step = lambda cp, c, w, z: module(cp, c)  # noqa: E731
    if method in ("I-MLE", "AIMLE"):
        # these two modules take no seed, and their solve-or-cache coin (``_branch_rng``) would be seeded from the
        # operating system: seed it, so that a cached run is reproducible as ours is
        module._branch_rng = np.random.RandomState(seed)
    step.module = module  # for pyepo_streams.py and --same-coins
    return step, lr


class Run:
    def __init__(self, model, step, lr):
        self.model, self.step = model, step
        self.optimiser = torch.optim.Adam(model.parameters(), lr=lr)
        self.times: list[float] = []
        # this process's CPU time (solver threads included): robust to other processes on a shared machine
        self.cpu_times: list[float] = []


def run_epoch(run: Run, problem: Problem, order: torch.Tensor, batch: int) -> None:
    x, c = problem.x[problem.train], problem.c[problem.train]
    run.model.train()
    start, cpu_start = time.perf_counter(), time.process_time()
    for begin in range(0, len(order), batch):
        index = order[begin: begin + batch]
        cp = run.model(x[index])
        loss = run.step(cp, c[index], problem.w[index], problem.z[index])
        run.optimiser.zero_grad()
        loss.backward()
        run.optimiser.step()
    run.times.append(time.perf_counter() - start)
    run.cpu_times.append(time.process_time() - cpu_start)


def test_regrets(problem: Problem, ours: torch.nn.Module, theirs: torch.nn.Module) -> tuple[float, float]:
    from pyepo.metric import regret as pyepo_regret
    from torch.utils.data import DataLoader, TensorDataset

    x, c = problem.x[problem.test], problem.c[problem.test]
    with torch.no_grad():
        ours.eval()
        predicted = ours(x).double().numpy()
    mine = im.regret(problem.oracle, predicted, c.double().numpy(), true_objectives=problem.test_z.double().numpy(),
                     **problem.instance_data)
    loader = DataLoader(TensorDataset(x, c, problem.test_w, problem.test_z.unsqueeze(1)), batch_size=250)
    return float(mine), float(pyepo_regret(theirs, problem.optmodel, loader))


class ReplayedCoin:
    """PyEPO's solve-or-cache coin (``RandomState.uniform()``) replaying ``numpy.random.default_rng(seed)``:
    the draws our ``CachedOracle(generator=seed)`` makes, one per oracle call. ``random()`` too, so that it can
    stand in for our cache's generator as well."""

    def __init__(self, seed: int):
        self._rng = np.random.default_rng(seed)

    def uniform(self) -> float:
        return float(self._rng.random())

    random = uniform


def batch_order(problem: Problem, seed: int, epoch: int) -> torch.Tensor:
    """The training instances' order in ``epoch``: the same on both sides."""
    return torch.randperm(problem.train.stop, generator=torch.Generator().manual_seed(1000 * seed + epoch))


def train_method(problem: Problem, method: str, epochs: int, batch: int, solve_ratio: float, seed: int,
                 same_coins: bool = False) -> dict:
    initial = problem.fresh_model(seed)
    our_step, lr = our_step_fn(method, problem, solve_ratio, seed)
    their_step, their_lr = pyepo_step_fn(method, problem, solve_ratio, seed)
    if same_coins and solve_ratio < 1.0:
        # both sides solve on the same calls (the same number per step on both sides): the same solver work
        their_step.module._branch_rng = ReplayedCoin(seed)
    sides = {"ours": Run(copy.deepcopy(initial), our_step, lr), "pyepo": Run(copy.deepcopy(initial), their_step,
                                                                              their_lr),
             # the same loop with no solver (squared error on the costs): the floor both sides pay
             "floor": Run(copy.deepcopy(initial), lambda cp, c, w, z: (cp - c).square().mean(), lr)}
    for epoch in range(epochs):
        order = batch_order(problem, seed, epoch)
        for run in sides.values():
            run_epoch(run, problem, order, batch)
    ours_regret, pyepo_regret = test_regrets(problem, sides["ours"].model, sides["pyepo"].model)
    return {"problem": problem.name, "method": method, "seed": seed, "epochs": epochs, "solve_ratio": solve_ratio,
            "ours_regret": ours_regret, "pyepo_regret": pyepo_regret,
            "ours_epoch_s": sides["ours"].times, "pyepo_epoch_s": sides["pyepo"].times,
            "floor_epoch_s": sides["floor"].times,
            **{f"{name}_epoch_cpu_s": side.cpu_times for name, side in sides.items()}}


def summarise(results: list[dict]) -> list[str]:
    """The table: regret mean ± std over seeds; s/epoch median (min-max) over every epoch but the first
    (numba compiles there) of every seed; the ratio of the medians, also above the no-solver floor."""
    lines = []
    keys = sorted({(r["problem"], r["solve_ratio"]) for r in results})
    for problem, ratio in keys:
        rows = [r for r in results if r["problem"] == problem and r["solve_ratio"] == ratio]
        seeds = sorted({r["seed"] for r in rows})
        lines.append(f"### {problem}, solve_ratio {ratio}, seeds {seeds}, {rows[0]['epochs']} epochs")
        lines.append("| method | ours regret % | PyEPO regret % | PyEPO notebook % | ours s/epoch | PyEPO s/epoch | "
                     "PyEPO / ours: best, median | CPU time: PyEPO / ours | above floor (median) | "
                     "whole run: PyEPO / ours |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|")
        for method in METHODS:
            sel = [r for r in rows if r["method"] == method]
            if not sel:
                continue
            ours = np.array([r["ours_regret"] for r in sel]) * 100
            theirs = np.array([r["pyepo_regret"] for r in sel]) * 100
            ot = np.concatenate([r["ours_epoch_s"][1:] or r["ours_epoch_s"] for r in sel])  # epoch 1 compiles
            pt = np.concatenate([r["pyepo_epoch_s"][1:] or r["pyepo_epoch_s"] for r in sel])
            ft = np.concatenate([r["floor_epoch_s"][1:] or r["floor_epoch_s"] for r in sel])
            floor = np.median(ft)
            if "ours_epoch_cpu_s" in sel[0]:
                oc = np.concatenate([r["ours_epoch_cpu_s"][1:] or r["ours_epoch_cpu_s"] for r in sel])
                pc = np.concatenate([r["pyepo_epoch_cpu_s"][1:] or r["pyepo_epoch_cpu_s"] for r in sel])
                cpu = f"{np.median(pc) / np.median(oc):.1f}x"
            else:
                cpu = "-"
            above = (np.median(pt) - floor) / (np.median(ot) - floor) if np.median(ot) - floor > 1e-3 else float("nan")
            note = f"{NOTEBOOK[method]:.2f}" if problem == "sp5" else "-"
            spread = (lambda a: f"{a.std(ddof=1):.2f}" if len(a) > 1 else "-")
            # the time of all epochs but the first, summed: with caching most epochs may solve nothing, and the
            # solve events (the same ones on both sides with --same-coins) decide the cost
            whole = f"{pt.sum() / ot.sum():.1f}x"
            lines.append(
                f"| {method} | {ours.mean():.2f} ± {spread(ours)} | {theirs.mean():.2f} ± {spread(theirs)} | {note} | "
                f"{np.median(ot):.3f} ({ot.min():.3f}-{ot.max():.3f}) | {np.median(pt):.2f} ({pt.min():.2f}-"
                f"{pt.max():.2f}) | {pt.min() / ot.min():.1f}x, {np.median(pt) / np.median(ot):.1f}x | {cpu} | {above:.1f}x | "
                f"{whole} |")
        lines.append(f"floor (same loop, no solver): median {floor:.3f} s/epoch")
    return lines


def table_from(path: str) -> str:
    """The table of a ``--dfl-out`` JSON file (``python -c "import pyepo_dfl; print(pyepo_dfl.table_from(p))"``)."""
    import json

    with open(path) as handle:
        return "\n".join(summarise(json.load(handle)))


def bench_dfl(args) -> list[dict]:
    import json

    torch.set_num_threads(1)
    results = []
    out = args.dfl_out
    same_coins = bool(getattr(args, "same_coins", False))
    for name in args.dfl_problems:
        for seed in args.seeds:
            problem = Problem(name, seed, args.train, args.test)
            print(f"## {name} seed {seed}: our oracle {problem.oracle_name}; PyEPO {type(problem.optmodel).__name__}"
                  f" ({load_line()})", flush=True)
            for method in args.methods:
                for ratio in args.solve_ratios:
                    if ratio < 1.0 and method in ("NCE", "pointwise LTR", "pairwise LTR", "listwise LTR"):
                        continue  # these always use the pool (solve_ratio 0.05)
                    result = train_method(problem, method, args.epochs, args.train_batch, ratio, seed, same_coins)
                    result["same_coins"] = same_coins and ratio < 1.0
                    results.append(result)
                    print(f"{name} seed {seed} {method:<14} ratio {ratio}: regret ours {result['ours_regret']:.4f} "
                          f"PyEPO {result['pyepo_regret']:.4f}; s/epoch ours {np.median(result['ours_epoch_s']):.3f} "
                          f"PyEPO {np.median(result['pyepo_epoch_s']):.3f}", flush=True)
                    if out:
                        with open(out, "w") as handle:
                            json.dump(results, handle)
    print()
    print("\n".join(summarise(results)))
    print(f"after: {load_line()}")
    return results


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"
