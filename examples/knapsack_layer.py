# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # A knapsack layer: learning item values from chosen sets
#
# Each instance is a 0/1 knapsack: 20 items with known weights and a known
# capacity, and *unknown* values. We observe item features and, for training,
# the optimal selection under the true values — not the values themselves.
# A network predicts values from features, the `knapsack` oracle turns them
# into a selection, and I-MLE trains the network through the solver so that
# its selections match the observed ones.
#
# The instance data (`weights`, `capacity`) travel with the call:
# `layer(values, weights=..., capacity=...)`; the oracle receives them per
# instance and the gradient flows to the values only.
#
# At the end the same problem is written as a general integer linear program
# (`ilp` oracle) to check that both solvers agree.
#
# Run `python examples/knapsack_layer.py` or with `--smoke`.

# %%
import os
import sys
import time

import numpy as np
import torch
from torch import nn

import imle_solvers as im

SMOKE = "--smoke" in sys.argv or os.environ.get("IMLE_SMOKE") == "1"
STEPS = 150 if SMOKE else 800
torch.set_num_threads(1)
torch.manual_seed(0)

NUM_ITEMS, NUM_FEATURES = 20, 5


def make_instances(n: int, generator: torch.Generator):
    """Features ``(n, 20, 5)``, true values, integer weights ``(n, 20)`` and capacities ``(n,)``."""
    features = torch.randn(n, NUM_ITEMS, NUM_FEATURES, generator=generator)
    w_true = torch.tensor([1.0, -0.5, 0.8, 0.0, 0.3])
    values = nn.functional.softplus(features @ w_true + 0.3 * features[..., 3] ** 2)  # positive, nonlinear
    weights = torch.randint(1, 11, (n, NUM_ITEMS), generator=generator).double()
    capacity = (0.3 * weights.sum(-1)).floor()
    return features, values.double(), weights, capacity


generator = torch.Generator().manual_seed(0)
train_set = make_instances(512 if SMOKE else 2048, generator)
test_set = make_instances(500, generator)
knapsack = im.get_oracle("knapsack")


def solve(values, weights, capacity):
    return knapsack(values, weights=weights, capacity=capacity)


train_targets = solve(train_set[1], train_set[2], train_set[3])  # (N, 20) 0/1 selections
test_targets = solve(test_set[1], test_set[2], test_set[3])
print(f"{float(train_targets.sum(-1).mean()):.1f} of {NUM_ITEMS} items are chosen on average")

# %% [markdown]
# ## The layer
#
# `IMLE(knapsack, ...)` in front of a small network. About 8 items are
# selected, so the noise is `SumOfGamma(k=8)`, whose k-fold sum is a Gumbel
# variable (the I-MLE paper's choice for solutions with about k ones). The
# loss is the Hamming distance between the sampled selection and the observed
# one. What we report is the *regret*: how much true value the predicted
# selection loses against the optimal one.

# %%
model = nn.Sequential(nn.Linear(NUM_FEATURES, 32), nn.ReLU(), nn.Linear(32, 1))
layer = im.IMLE(knapsack, noise=im.SumOfGamma(k=8), target=im.PerturbedTarget(lambda_=5.0), num_samples=4,
                generator=torch.Generator().manual_seed(1))


def predicted_values(features):
    return model(features.float()).squeeze(-1).double()  # (n, 20)


def regret(data, targets):
    features, values, weights, capacity = data
    with torch.no_grad():
        chosen = solve(predicted_values(features), weights, capacity)
    best = (values * targets).sum(-1)
    return float(((best - (values * chosen).sum(-1)) / best).mean()), float((chosen == targets).all(-1).float().mean())


optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
print(f"before training: regret {regret(test_set, test_targets)[0]:.3f}")
start = time.perf_counter()
batches = torch.Generator().manual_seed(2)
for step in range(1, STEPS + 1):
    index = torch.randint(0, train_targets.shape[0], (64,), generator=batches)
    features, _, weights, capacity = (t[index] for t in train_set)
    z = layer(predicted_values(features), weights=weights, capacity=capacity)  # (64, 20)
    loss = ((z - train_targets[index]) ** 2).sum(-1).mean()
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    if step % (STEPS // 4) == 0:
        test_regret, exact = regret(test_set, test_targets)
        print(f"step {step:4d}  loss {loss.item():5.2f}  test regret {test_regret:.3f}  exact selections {exact:.2f}")
print(f"{STEPS} steps in {time.perf_counter() - start:.1f} s")

# %% [markdown]
# A model that never saw a value reaches a small regret: the selections it
# makes on new instances are nearly as valuable as the optimal ones. (Exact
# matches are rarer — several selections are often almost equally good.)
#
# ## The same knapsack as an integer linear program
#
# `z = argmax <v, z>` subject to `<w, z> <= C`, `z` binary, is the `ilp`
# oracle with one inequality row per instance: `A_ub` of shape `(n, 1, 20)`
# and `b_ub` of shape `(n, 1)`. Both are exact; on ties they may choose
# different optimal sets, so we compare the objective values.

# %%
ilp = im.get_oracle("ilp")
COMPARED = 20 if SMOKE else 100
features, values, weights, capacity = (t[:COMPARED] for t in test_set)
with torch.no_grad():
    v = predicted_values(features)
start = time.perf_counter()
by_knapsack = solve(v, weights, capacity)
knapsack_seconds = time.perf_counter() - start
start = time.perf_counter()
by_ilp = ilp(v, A_ub=weights.unsqueeze(1), b_ub=capacity.unsqueeze(1))
ilp_seconds = time.perf_counter() - start
gap = ((v * by_knapsack).sum(-1) - (v * by_ilp).sum(-1)).abs().max()
print(f"largest objective difference: {float(gap):.2e}; identical selections: "
      f"{float((by_knapsack == by_ilp).all(-1).float().mean()):.2f}")
print(f"{COMPARED} instances: knapsack (dynamic program) {1e3 * knapsack_seconds:.1f} ms, "
      f"ilp (CP-SAT) {1e3 * ilp_seconds:.1f} ms")
assert np.isclose(float(gap), 0.0, atol=1e-6)
