# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Your own solver as an oracle, trained through with I-MLE
#
# Any solver that maps a score vector to a discrete solution can become a
# trainable layer. This example registers two:
#
# 1. **function form** — a plain function that solves one instance, numpy in
#    and numpy out: the best window of 3 consecutive items;
# 2. **class form** — an `Oracle` subclass with an option and a vectorised
#    `solve_chunk`: the best item of every group (a partition matroid).
#
# Both are checked with `imle_solvers.testing.check_oracle` (shapes, dtypes,
# batches, determinism across runners, pickling, input validation and
# optimality against brute force), then trained through: a linear model
# learns to score items so that the solver returns the target solutions.
#
# Run `python examples/custom_oracle.py` or with `--smoke`.

# %%
import itertools
import os
import sys

import numpy as np
import torch

import imle_solvers as im
from imle_solvers.testing import check_oracle

SMOKE = "--smoke" in sys.argv or os.environ.get("IMLE_SMOKE") == "1"
STEPS = 40 if SMOKE else 150
torch.set_num_threads(1)

# %% [markdown]
# ## Function form
#
# `register_oracle(name, fn, sense=...)` wraps a function that solves one
# instance. `sense="max"` says the function maximises `<theta, z>`; the
# library handles batches, torch tensors, validation and runners. Give
# `event_ndim` (how many trailing dimensions make one instance; default 1)
# and, if the function takes per-instance arrays, `instance_data`.

# %%
WIDTH = 3


def best_window(theta: np.ndarray) -> np.ndarray:
    """The 0/1 indicator of the 3 consecutive items with the largest sum
    (the leftmost on ties)."""
    sums = np.convolve(theta, np.ones(WIDTH), mode="valid")  # (n - 2,)
    start = int(np.argmax(sums))
    z = np.zeros_like(theta)
    z[start : start + WIDTH] = 1.0
    return z


im.register_oracle("best_window", best_window, sense="max", overwrite=True)
window = im.get_oracle("best_window")
print(window(np.array([0.0, 1.0, 5.0, -1.0, 4.0, 0.0])))
print(window(torch.randn(2, 6)))  # tensors in, tensors out, any batch shape

# %% [markdown]
# ## Class form
#
# Subclass `Oracle`, declare `sense` and `event_ndim`, and implement `solve`
# (one instance) or, faster, `solve_chunk` (a contiguous chunk `(m, n)` at
# once). `check_event_shape` refuses inputs that do not fit the option. The
# decorator registers the class; `get_oracle` passes options to its
# constructor.


# %%
@im.register_oracle("one_per_group", overwrite=True)
class OnePerGroup(im.Oracle):
    """The best item of every group: ``z = argmax <theta, z>`` subject to
    exactly one selected item per group. Ties go to the lowest index.

    Args:
        groups: the group of each item, ints ``0..G-1``, shape ``(n,)``.
    """

    sense = "max"
    event_ndim = 1
    backend = "numpy"
    complexity_doc = "O(n)"

    def __init__(self, groups):
        self.groups = np.asarray(groups, dtype=np.int64)
        self.num_groups = int(self.groups.max()) + 1

    def check_event_shape(self, event_shape):
        if event_shape != self.groups.shape:
            return f"{self.groups.shape} (one score per item)"
        return None

    def solve_chunk(self, theta):  # theta: (m, n)
        z = np.zeros(theta.shape)
        for g in range(self.num_groups):
            members = np.flatnonzero(self.groups == g)
            best = members[np.argmax(theta[:, members], axis=1)]  # (m,)
            z[np.arange(theta.shape[0]), best] = 1.0
        return z


GROUPS = np.repeat(np.arange(4), 3)  # 12 items in 4 groups of 3
per_group = im.get_oracle("one_per_group", groups=GROUPS)
print(per_group(np.arange(12.0) % 5))

# %% [markdown]
# ## Conformance
#
# `check_oracle` raises a `ConformanceError` (an `AssertionError`) naming the
# checks that fail; here we print the report. An enumerator of all feasible
# solutions of small instances turns on the brute-force optimality check.


# %%
def all_windows(theta):
    for start in range(theta.shape[0] - WIDTH + 1):
        z = np.zeros_like(theta)
        z[start : start + WIDTH] = 1.0
        yield z


def one_of_each_group(theta):
    members = [np.flatnonzero(GROUPS == g) for g in range(GROUPS.max() + 1)]
    for choice in itertools.product(*members):
        z = np.zeros_like(theta)
        z[list(choice)] = 1.0
        yield z


rng = np.random.default_rng(0)
print(check_oracle(window, rng.normal(size=(5, 8)), enumerate_solutions=all_windows))
print(check_oracle(per_group, rng.normal(size=(5, 12)), enumerate_solutions=one_of_each_group))

# %% [markdown]
# ## Training through the solver
#
# Items have 4 features; a hidden linear scorer `w_true` and the solver
# define the target solutions. A model `w` starts at zero and sees only the
# solver's output — the loss is the squared distance (the Hamming distance of
# 0/1 vectors) between the sampled solution and the target. I-MLE supplies
# the gradient.


# %%
def train(oracle, num_items: int, steps: int = STEPS):
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(256, num_items, 4, generator=generator)  # (batch, items, features)
    w_true = torch.tensor([1.0, -2.0, 0.5, 1.5])
    targets = oracle(features @ w_true)  # (batch, items)
    w = torch.zeros(4, requires_grad=True)
    layer = im.IMLE(oracle, noise=im.Gumbel(), target=im.PerturbedTarget(lambda_=1.0), num_samples=2,
                    generator=torch.Generator().manual_seed(1))
    optimiser = torch.optim.Adam([w], lr=0.05)

    def exact():
        return float((oracle(features @ w.detach()) == targets).all(-1).float().mean())

    before = exact()
    for _ in range(steps):
        z = layer(features @ w)
        loss = ((z - targets) ** 2).sum(-1).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    cosine = float(torch.nn.functional.cosine_similarity(w.detach(), w_true, dim=0))
    print(f"{oracle.name}: exact solutions {before:.2f} -> {exact():.2f}; cosine(w, w_true) = {cosine:.3f}")
    return exact()


train(window, num_items=10)
train(per_group, num_items=12)

# %% [markdown]
# ## Runners
#
# Custom oracles run on every runner. Threads help when the solver releases
# the GIL (compiled code, most C solvers); for numpy loops like these,
# `runner="processes"` (or an int) would — it needs the usual
# `if __name__ == "__main__":` guard in a script, see the Dask example.

# %%
threaded = im.get_oracle("one_per_group", groups=GROUPS, runner="threads")
batch = rng.normal(size=(64, 12))
assert np.array_equal(threaded(batch), per_group(batch))
print("threads and serial agree on", batch.shape[0], "instances")
