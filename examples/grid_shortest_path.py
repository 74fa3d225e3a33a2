# %% [markdown]
# # Learning shortest paths on grid maps from the paths alone
#
# A CNN looks at a terrain map and predicts the cost of every cell; Dijkstra
# (the `shortest_path_grid` oracle) turns the costs into a path; the network
# learns from the **true paths only** — it never sees a true cost — through
# I-MLE's gradient estimate of the Hamming loss. This is the Warcraft
# shortest-path experiment of the I-MLE and blackbox-differentiation papers,
# on synthetic Warcraft-like maps (not the original Warcraft data).
#
# Run it as a script (`python examples/grid_shortest_path.py`, about two
# minutes on two CPU cores) or with `--smoke` (or `IMLE_SMOKE=1`) for a
# seconds-long check; `imle-solvers train-grid` does the same with more
# options and writes pictures (see `docs/grid_learning.md`).

# %%
import os
import sys
import time

import torch

from imle_solvers import IMLE, Gumbel, PerturbedTarget, WarcraftCNN, get_oracle, load_synthetic_warcraft
from imle_solvers.datasets import cost_optimal, exact_match

SMOKE = "--smoke" in sys.argv or os.environ.get("IMLE_SMOKE") == "1"
NUM_TRAIN, EPOCHS = (256, 1) if SMOKE else (10_000, 5)
torch.set_num_threads(1)  # one thread is the robust choice on a shared 2-core machine
torch.manual_seed(0)

# %% [markdown]
# Data: images `(N, 3, 96, 96)` uint8, true costs and true paths `(N, 12, 12)`.
# Generated once and cached on disk (not cached in smoke mode).

# %%
train, val, test = load_synthetic_warcraft(12, NUM_TRAIN, 0, 100 if SMOKE else 1000, seed=0, cache=not SMOKE)
images, paths = torch.from_numpy(train.images), torch.from_numpy(train.paths).float()

# %% [markdown]
# The model predicts positive costs; I-MLE wraps the oracle. The grid oracle
# is a *cost* oracle (`sense="min"`): the estimator perturbs the costs with
# Gumbel noise, `w - tau * eps`, 8 samples per map, and moves the target
# costs by `lambda_ = 1` per cell along the loss gradient.

# %%
model = WarcraftCNN(k=12)
oracle = get_oracle("shortest_path_grid")
imle = IMLE(oracle, noise=Gumbel(), target=PerturbedTarget(lambda_=1.0), num_samples=8)
steps = EPOCHS * (NUM_TRAIN // 32)
optimiser = torch.optim.Adam(model.parameters(), lr=2e-2)
schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=2e-2, total_steps=steps, pct_start=0.1)


def evaluate(data):
    """Cost-optimal and exact-match shares of the noiseless paths."""
    model.eval()
    with torch.no_grad():
        predicted = oracle(model(torch.from_numpy(data.images)))
    model.train()
    return cost_optimal(predicted, data.costs, data.paths).mean(), exact_match(predicted, data.paths).mean()


# %% [markdown]
# Training: the Hamming loss `z (1 - y) + (1 - z) y`, summed over cells and
# maps (so `dL/dz` is +-1 per cell and `lambda_` is in cost units).

# %%
start = time.perf_counter()
for epoch in range(EPOCHS):
    order = torch.randperm(NUM_TRAIN)
    for step in range(NUM_TRAIN // 32):
        index = order[step * 32 : (step + 1) * 32]
        z = imle(model(images[index]))  # (32, 12, 12), the mean of the 8 sampled paths
        y = paths[index]
        loss = (z * (1 - y) + (1 - z) * y).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
    optimal, exact = evaluate(test)
    print(f"epoch {epoch + 1}/{EPOCHS}  loss {loss.item() / 32:.2f}  test cost-optimal {100 * optimal:.1f}%  "
          f"exact {100 * exact:.1f}%  {time.perf_counter() - start:.0f} s")
