# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Coming from PyEPO: predict-then-optimise on true costs
#
# PyEPO's setting: features `x` predict the cost (or value) vector `c` of a
# linear optimisation problem with a known feasible set; the model is judged
# by the *regret* of the decisions it leads to. Here: a 0/1 knapsack with 20
# items, fixed integer weights and capacity, and item values that depend on
# 5 features through a degree-4 polynomial with multiplicative noise (the
# recipe of PyEPO's generators, written out below). A linear model is trained
#
# * with **SPO+** (`SPOPlusLoss`, PyEPO's `SPOPlus`),
# * with **NCE** against a **solution pool** (`NCELoss` + `CachedOracle`,
#   PyEPO's `NCE(..., solve_ratio=0.05, dataset=...)`),
# * with **DBB** plus PyEPO's regret loss (`SolutionLoss(Blackbox(...),
#   distance="regret")`, PyEPO's `blackboxOpt` + an L1 loss on objectives),
#
# and tested with `imle_solvers.metrics.regret` (PyEPO's
# `pyepo.metric.regret`). The [Coming from PyEPO](../coming_from_pyepo.md)
# page maps every PyEPO class to ours.
#
# Run `python examples/coming_from_pyepo.py` or with `--smoke`.

# %%
import os
import sys

import numpy as np
import torch

import imle_solvers as im

SMOKE = "--smoke" in sys.argv or os.environ.get("IMLE_SMOKE") == "1"
torch.set_num_threads(1)

# %% [markdown]
# ## Data, the PyEPO way
#
# `x ~ N(0, I)`, a fixed 0/1 matrix `B`, values
# `c = 5 ((x B^T / sqrt(p) + 3)^deg + 1) / 3.5^deg * eps` with
# `eps ~ U(1 - 0.5, 1 + 0.5)` — the recipe of
# `pyepo.data.knapsack.genData`. PyEPO's `optDataset` stores the optimal
# solutions and objectives of the training costs; here one batched oracle
# call gives them.

# %%
rng = np.random.default_rng(135)
num_items, num_features, degree = 20, 5, 4
num_train, num_test = (200, 200) if SMOKE else (1000, 1000)
weights = rng.integers(3, 8, size=num_items).astype(np.float64)
capacity = 20.0
B = rng.binomial(1, 0.5, size=(num_items, num_features))


def generate(n):
    x = rng.normal(size=(n, num_features))
    c = 5 * ((x @ B.T / np.sqrt(num_features) + 3) ** degree + 1) / 3.5**degree
    return x, c * rng.uniform(0.5, 1.5, size=c.shape)


x_train, c_train = generate(num_train)
x_test, c_test = generate(num_test)
oracle = im.get_oracle("knapsack")  # max sense: values in, the best selection out
w_train = oracle(c_train, weights=weights, capacity=capacity)  # PyEPO's dataset.sols
z_train = (w_train * c_train).sum(1)  # PyEPO's dataset.objs
x_train, c_train, x_test = (torch.tensor(a, dtype=torch.float32) for a in (x_train, c_train, x_test))
w_train, z_train = torch.tensor(w_train, dtype=torch.float32), torch.tensor(z_train, dtype=torch.float32)

# %% [markdown]
# ## One training loop for every loss
#
# Every cost-supervised loss takes `loss(predicted, true_costs,
# true_solutions=..., true_objectives=...)`; the solutions and objectives are
# optional (computed with one oracle call when missing). The weights and
# capacity are fixed for every instance, so they are given once, to a
# `CachedOracle`: with `solve_ratio=1` it solves every call, with less it
# answers the rest from its pool of solutions — feasible, since the feasible
# set never changes.

# %%
fixed = im.CachedOracle(oracle, solve_ratio=1.0, weights=weights, capacity=capacity)


def train(loss_fn, lr=1e-2, epochs=2 if SMOKE else 10, seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Linear(num_features, num_items)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    order_rng = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for index in torch.randperm(num_train, generator=order_rng).split(32):
            loss = loss_fn(model(x_train[index]), c_train[index], true_solutions=w_train[index],
                           true_objectives=z_train[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        predicted = model(x_test).double().numpy()
    return im.regret(oracle, predicted, c_test, weights=weights, capacity=capacity)


results = {
    "SPO+": train(im.SPOPlusLoss(fixed)),
    "NCE (pool, solve_ratio 0.05)": train(im.NCELoss(
        im.CachedOracle(oracle, 0.05, solutions=w_train, generator=0, weights=weights, capacity=capacity))),
    "DBB + regret loss": train(im.SolutionLoss(im.Blackbox(fixed, lambda_=20.0), distance="regret"), lr=1e-1),
}
untrained = train(im.SPOPlusLoss(fixed), epochs=0)
print(f"untrained linear model: normalised test regret {untrained:.2%}")
for name, value in results.items():
    print(f"{name:<30} normalised test regret {value:.2%}")

# %% [markdown]
# Each trained model beats the untrained one; SPO+ is the usual best.

# %%
assert all(value < untrained for value in results.values()), results
