"""Is the synthetic Warcraft data learnable from paths alone, fast, on a CPU?

Run:  .venv/bin/python benchmarks/warcraft_learnability.py [--steps 3000] [--noise 1.0]

Trains ``WarcraftCNN`` on synthetic 12 x 12 maps (10,000 training maps) with
a Hamming loss on the predicted path, and reports the share of cost-optimal
and exactly matching paths on 500 held-out test maps every 250 steps.

The gradient through the shortest-path solver is a minimal perturb-and-MAP
estimator written inline (Gumbel noise of scale ``--noise`` on the costs,
target costs ``w + lambda * dL/dz`` as in blackbox differentiation, the same
noise in both solves), with this package's numpy labeller
``grid_shortest_paths`` as the solver. It checks the data and the model, not
the library's estimators, and stays independent of them. ``--noise 0`` is
plain blackbox differentiation (Vlastelica et al. 2020).

Measured (2 cores shared with other jobs, 1 torch thread, width 16, batch
32, lr 1e-3, lambda 20, seed 0): with ``--noise 1.0`` 57% cost-optimal after
250 steps, 80% after 1,000, 90.4% after 3,000 (250 s including the slow numpy
solver); with ``--noise 0`` it stalls near 67%.
"""

from __future__ import annotations

import argparse
import time

import torch

from imle_solvers.datasets import cost_optimal, exact_match, grid_shortest_paths, load_synthetic_warcraft
from imle_solvers.models import WarcraftCNN


def solve(costs: torch.Tensor) -> torch.Tensor:
    paths = grid_shortest_paths(costs.detach().clamp_min(0).double().numpy())
    return torch.from_numpy(paths).to(costs.dtype)


class PerturbedPaths(torch.autograd.Function):
    """z = sp(w - eps); dL/dw = -(z - sp(w + lambda * dL/dz - eps)) / lambda."""

    @staticmethod
    def forward(ctx, costs, noise, lambda_):
        paths = solve(costs - noise)
        ctx.save_for_backward(costs, noise, paths)
        ctx.lambda_ = lambda_
        return paths

    @staticmethod
    def backward(ctx, grad_paths):
        costs, noise, paths = ctx.saved_tensors
        target_paths = solve(costs + ctx.lambda_ * grad_paths - noise)
        return -(paths - target_paths) / ctx.lambda_, None, None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--lambda", dest="lambda_", type=float, default=20.0)
    parser.add_argument("--noise", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    splits = load_synthetic_warcraft(12, 10_000, 1_000, 1_000, seed=0, cache_dir=args.cache_dir)
    train_images = torch.from_numpy(splits.train.images)
    train_paths = torch.from_numpy(splits.train.paths).float()
    test = splits.test
    test_images = torch.from_numpy(test.images[:500])

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = WarcraftCNN(k=12, width=args.width)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    gumbel = torch.distributions.Gumbel(0.0, 1.0)

    def evaluate():
        model.eval()
        with torch.no_grad():
            costs = torch.cat([model(test_images[i : i + 250]) for i in range(0, 500, 250)])
        model.train()
        paths = solve(costs).numpy()
        return cost_optimal(paths, test.costs[:500], test.paths[:500]).mean(), exact_match(
            paths, test.paths[:500]
        ).mean()

    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        index = torch.randint(0, train_images.shape[0], (args.batch,), generator=generator)
        costs = model(train_images[index])  # (B, 12, 12)
        noise = args.noise * gumbel.sample(costs.shape) if args.noise > 0 else torch.zeros_like(costs)
        paths = PerturbedPaths.apply(costs, noise, args.lambda_)
        target = train_paths[index]
        loss = (paths * (1 - target) + (1 - paths) * target).sum(dim=(1, 2)).mean()  # Hamming
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 250 == 0 or step == args.steps:
            optimal, exact = evaluate()
            print(
                f"step {step:5d}  {time.perf_counter() - start:6.0f} s  cost-optimal {optimal:.3f}  exact {exact:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
