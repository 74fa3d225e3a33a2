"""Cached I-MLE against PyEPO: the same random streams, then many.

    PYTHONPATH=. .venv/bin/python benchmarks/pyepo_streams.py [--problem ks] [--seeds 44 45]
        [--replicates 8] [--epochs 20] [--solve-ratio 0.1] [--method I-MLE] [--out results.jsonl]

PyEPO's notebook protocol (``pyepo_dfl.py``: the same data, initial weights
and batch order on both sides) for I-MLE (``n_samples=3, sigma=1,
lambda=10``, sum-of-gamma noise kappa 5, L1 to the true solution) with
solution caching at ``--solve-ratio`` on both sides. Two random streams
drive each side: the sum-of-gamma noise and the solve-or-cache coin (one
draw per oracle call, forward and backward). Two experiments:

1. **Same streams** (the first seed): both sides are fed the *same* noise
   tensors and the *same* coins, and our side solves with PyEPO's solver
   (:class:`PyepoSolver`: our exact solver and SCIP, which stops within a
   relative gap, can pick different selections on a near tie). If the two
   implementations compute the same thing, the two models stay equal; the largest weight difference is
   printed after every epoch, and the script exits with status 1 if it
   exceeds ``--atol``.
2. **Replicates**: each side its own streams, ``--replicates`` stream seeds
   per data seed (ours: ``CachedOracle`` and noise generator seeded
   ``1000 + r``; PyEPO: noise ``2000 + r``, coin ``3000 + r``); the final
   test regret of every run, then mean ± std per side. This measures how far
   the end point of a cached run moves with the streams alone.

``--method AIMLE`` (or DPO, PFYL) runs the replicates for that method
instead (with ``--solve-ratio 1.0``: the noise stream alone); the
same-streams check is I-MLE's only (AIMLE's two adaptive rules differ, and
DPO and PFYL draw PyEPO's noise inside the module).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pyepo_dfl  # noqa: E402


class SharedStreams:
    """One noise stream and one coin stream, replayed to both sides in the same order."""

    def __init__(self, seed: int, kappa: float = 5.0):
        from imle_solvers import SumOfGamma

        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.noise = SumOfGamma(kappa)
        self.queues: dict[str, list[torch.Tensor]] = {"ours": [], "pyepo": []}

    def _next(self, samples: int, batch: int, size: int) -> None:
        draw = self.noise.sample((samples, batch, size), generator=self.generator)  # ours: (S, batch, n)
        self.queues["ours"].append(draw)
        self.queues["pyepo"].append(draw.permute(1, 0, 2).contiguous())  # PyEPO's: (batch, S, n)

    def take(self, side: str, samples: int, batch: int, size: int) -> torch.Tensor:
        if not self.queues[side]:
            self._next(samples, batch, size)
        return self.queues[side].pop(0)

    def install(self, ours_step, pyepo_step) -> None:
        streams = self
        layer = ours_step.loss.layer  # SolutionLoss(IMLE(CachedOracle(...)))
        module = pyepo_step.module

        class Ours:
            def sample(self, shape, *, generator=None, device=None, dtype=None):
                return streams.take("ours", shape[0], shape[1], shape[2]).to(dtype)

        class Theirs:
            def sample(self, size, *, device=None, dtype=None):
                return streams.take("pyepo", size[1], size[0], size[2]).to(dtype)

        layer.noise, layer.generator = Ours(), None
        module.distribution = Theirs()
        layer.oracle._rng = pyepo_dfl.ReplayedCoin(self.seed)  # two copies of one coin stream
        module._branch_rng = pyepo_dfl.ReplayedCoin(self.seed)


def train(problem, ours_step, lr, pyepo_step, pyepo_lr, seed: int, epochs: int, batch: int, every_epoch=None):
    initial = problem.fresh_model(seed)
    runs = {"ours": pyepo_dfl.Run(copy.deepcopy(initial), ours_step, lr),
            "pyepo": pyepo_dfl.Run(copy.deepcopy(initial), pyepo_step, pyepo_lr)}
    for epoch in range(epochs):
        order = pyepo_dfl.batch_order(problem, seed, epoch)
        for run in runs.values():
            pyepo_dfl.run_epoch(run, problem, order, batch)
        if every_epoch is not None:
            every_epoch(epoch, runs)
    return pyepo_dfl.test_regrets(problem, runs["ours"].model, runs["pyepo"].model)


class PyepoSolver:
    """PyEPO's own batch solve (``optmodel``, one instance at a time) as an oracle for our side.

    On the same streams both sides must also get the same solutions: our exact knapsack and SCIP (a relative
    gap tolerance) can return different selections on a near tie, and from there the trajectories part.
    """

    event_ndim = 1

    def __init__(self, optmodel, sense: str):
        self.optmodel, self.sense, self.name = optmodel, sense, f"pyepo:{type(optmodel).__name__}"

    def __call__(self, theta, **unused):
        from pyepo.func.utils import _solve_batch_np

        is_tensor = isinstance(theta, torch.Tensor)
        costs = theta.detach().cpu().numpy() if is_tensor else np.asarray(theta)
        solutions, _ = _solve_batch_np(costs.reshape(-1, costs.shape[-1]), self.optmodel, 1, None)
        solutions = solutions.reshape(costs.shape)
        return torch.from_numpy(solutions).to(theta.dtype) if is_tensor else solutions


def same_streams(problem, seed: int, epochs: int, batch: int, solve_ratio: float, stream_seed: int = 7):
    """I-MLE, both sides on one noise stream, one coin stream and PyEPO's solver: (largest weight gap per
    epoch, final regrets)."""
    shared = copy.copy(problem)  # our estimator, cache and loss around PyEPO's solver
    shared.oracle, shared.data = PyepoSolver(problem.optmodel, problem.oracle.sense), {}
    ours, lr = pyepo_dfl.our_step_fn("I-MLE", shared, solve_ratio, seed)
    theirs, their_lr = pyepo_dfl.pyepo_step_fn("I-MLE", problem, solve_ratio, seed)
    SharedStreams(stream_seed).install(ours, theirs)
    gaps: list[float] = []

    def check(epoch, runs):
        gap = max(float((a - b).abs().max()) for a, b in zip(runs["ours"].model.state_dict().values(),
                                                              runs["pyepo"].model.state_dict().values()))
        gaps.append(gap)
        print(f"  same streams, epoch {epoch + 1}: largest weight difference {gap:.2e}", flush=True)

    regrets = train(problem, ours, lr, theirs, their_lr, seed, epochs, batch, check)
    return gaps, regrets


def replicate(problem, seed: int, rep: int, epochs: int, batch: int, solve_ratio: float,
              method: str = "I-MLE") -> dict:
    ours, lr = pyepo_dfl.our_step_fn(method, problem, solve_ratio, 1000 + rep)  # coin and noise seeds
    theirs, their_lr = pyepo_dfl.pyepo_step_fn(method, problem, solve_ratio, 2000 + rep)  # noise seed
    theirs.module._branch_rng = np.random.RandomState(3000 + rep)  # coin seed
    ours_regret, pyepo_regret = train(problem, ours, lr, theirs, their_lr, seed, epochs, batch)
    return {"problem": problem.name, "method": method, "seed": seed, "replicate": rep, "solve_ratio": solve_ratio,
            "epochs": epochs, "ours_regret": ours_regret, "pyepo_regret": pyepo_regret}


def summary(records: list[dict]) -> list[str]:
    lines = ["| data seed | replicates | ours regret % (mean ± std) | PyEPO regret % (mean ± std) | "
             "ours: min-max | PyEPO: min-max |", "|---|---|---|---|---|---|"]
    for seed in sorted({r["seed"] for r in records}) + [None]:
        sel = [r for r in records if seed is None or r["seed"] == seed]
        if seed is None and len({r["seed"] for r in records}) < 2:
            break
        a = np.array([r["ours_regret"] for r in sel]) * 100
        b = np.array([r["pyepo_regret"] for r in sel]) * 100
        std = (lambda v: v.std(ddof=1) if len(v) > 1 else float("nan"))
        lines.append(f"| {'all' if seed is None else seed} | {len(sel)} | {a.mean():.2f} ± {std(a):.2f} | "
                     f"{b.mean():.2f} ± {std(b):.2f} | {a.min():.2f}-{a.max():.2f} | {b.min():.2f}-{b.max():.2f} |")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problem", default="ks", choices=["sp5", "ks"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[44, 45])
    parser.add_argument("--replicates", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--solve-ratio", type=float, default=0.1)
    parser.add_argument("--method", default="I-MLE", choices=["I-MLE", "AIMLE", "DPO", "PFYL"])
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--atol", type=float, default=1e-6, help="largest weight difference allowed on same streams")
    parser.add_argument("--skip-same", action="store_true", help="leave out the same-streams check")
    parser.add_argument("--out", default=None, help="append one JSON line per replicate here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    status = 0
    records = []
    for index, seed in enumerate(args.seeds):
        problem = pyepo_dfl.Problem(args.problem, seed, args.train, args.test)
        print(f"## {args.problem} seed {seed}, {args.method}, solve_ratio {args.solve_ratio}, {args.epochs} epochs "
              f"({pyepo_dfl.load_line()})", flush=True)
        if index == 0 and not args.skip_same and args.method == "I-MLE":
            gaps, (ours, theirs) = same_streams(problem, seed, args.epochs, args.batch, args.solve_ratio)
            print(f"same streams: final regret ours {100 * ours:.2f}% PyEPO {100 * theirs:.2f}%; largest weight "
                  f"difference over the run {max(gaps):.2e}", flush=True)
            if max(gaps) > args.atol:
                print(f"FAIL: the trajectories parted (largest difference {max(gaps):.2e} > {args.atol})")
                status = 1
        for rep in range(args.replicates):
            record = replicate(problem, seed, rep, args.epochs, args.batch, args.solve_ratio, args.method)
            records.append(record)
            print(f"seed {seed} replicate {rep}: regret ours {100 * record['ours_regret']:.2f}% PyEPO "
                  f"{100 * record['pyepo_regret']:.2f}%", flush=True)
            if args.out:
                with open(args.out, "a") as handle:
                    handle.write(json.dumps(record) + "\n")
    if records:
        print()
        print("\n".join(summary(records)))
    print(f"after: {pyepo_dfl.load_line()}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
