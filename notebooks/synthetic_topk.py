# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Synthetic top-k: learning a k-subset distribution (I-MLE paper, synthetic experiment)
#
# **Reproduces** the synthetic experiment of Niepert, Minervini and
# Franceschi, *Implicit MLE* (NeurIPS 2021), section 6.1 and its figures: the
# optimality gap of I-MLE against straight-through and the score-function
# estimator, the λ × learning-rate sensitivity of I-MLE with sum-of-Gamma
# and with Gumbel noise, and the cost of computing the expectation exactly
# against sampling and perturb-and-MAP. Added to the paper's line-up: AIMLE
# (adaptive I-MLE, AAAI 2023) and the perturbed optimizer (Berthet et al.
# 2020). **Data**: none — one seeded random problem.
#
# The problem. `n = 10` items; `z ∈ {0,1}^10` with exactly `k = 5` ones; the
# distribution `p(z; θ) ∝ exp(⟨θ, z⟩)` over the `C(10, 5) = 252` subsets; the
# loss `L(θ) = E_{z ~ p(z; θ)} ‖z − b‖²` with `b = |N(0, 1)|`. With only 252
# subsets, `L(θ)` and its exact gradient are sums over all of them, so every
# estimator can be judged on the *true* objective. Each estimator sees one
# sample (or one perturb-and-MAP solution) per step and its own gradient
# estimate; the optimiser is SGD with momentum 0.9 for 50 steps from the same
# seeded `θ₀`, repeated 100 times with different noise. The **optimality
# gap** is `L(θ_t) − min_z ‖z − b‖²` (the expectation can only reach the
# minimum by concentrating on the best subset).
#
# A full run takes about a minute on two CPU cores; with
# `IMLE_NOTEBOOK_SMOKE=1` a few seconds (tiny sizes; its numbers mean nothing).

# %%
import itertools
import math
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

import imle_solvers as im

SMOKE = os.environ.get("IMLE_NOTEBOOK_SMOKE") == "1"
torch.set_num_threads(1)  # tiny tensors: one thread is fastest and leaves the other core alone
plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72, "figure.figsize": (5.0, 3.4)})

N, K = 10, 5
REPETITIONS = 8 if SMOKE else 100  # the runs we plot and report
TUNING_REPETITIONS = 4 if SMOKE else 20  # separate runs (other seeds) for picking learning rates
STEPS = 10 if SMOKE else 50
SFE_STEPS = 10 * STEPS  # the score-function estimator gets ten times the steps
MOMENTUM = 0.9
DTYPE = torch.float64
if SMOKE:
    print("SMOKE MODE: tiny sizes, the numbers mean nothing")

rng = np.random.RandomState(0)  # the original's seed and order: theta_0 first, then b
theta0 = torch.from_numpy(rng.randn(N))  # (n,)
b = torch.from_numpy(np.abs(rng.randn(N)))  # (n,)
print("theta_0 =", np.round(theta0.numpy(), 3))
print("b       =", np.round(b.numpy(), 3))

# %% [markdown]
# ## The exact objective
#
# All 252 subsets as rows of a `(252, 10)` matrix; `p(z; θ)` is a softmax of
# `STATES @ θ` over them, the expectation a dot product with each subset's
# loss. Autograd through this gives the exact gradient. The minimum puts the
# ones on the five largest entries of `b`.

# %%
STATES = torch.tensor(
    [[1.0 if i in subset else 0.0 for i in range(N)] for subset in itertools.combinations(range(N), K)], dtype=DTYPE
)  # (252, n)
STATE_LOSS = ((STATES - b) ** 2).sum(-1)  # (252,)
OPTIMUM = float(STATE_LOSS.min())
sorted_b = np.sort(b.numpy())
assert math.isclose(OPTIMUM, float((sorted_b[:K] ** 2).sum() + ((sorted_b[K:] - 1) ** 2).sum()))


def expected_loss(theta: torch.Tensor) -> torch.Tensor:
    """``E_{z ~ p(z; theta)} ||z - b||^2`` for each row of ``theta`` ``(R, n)`` -> ``(R,)``."""
    return torch.softmax(theta @ STATES.T, dim=-1) @ STATE_LOSS


def marginals(theta: torch.Tensor) -> torch.Tensor:
    """``E[z]`` under ``p(z; theta)``: ``(R, n)``."""
    return torch.softmax(theta @ STATES.T, dim=-1) @ STATES


print(f"{STATES.shape[0]} subsets; min loss {OPTIMUM:.4f}; "
      f"gap at theta_0 {float(expected_loss(theta0[None])) - OPTIMUM:.4f}")

# %% [markdown]
# ## One optimiser for every estimator
#
# Repetitions are rows of a batch: `θ` has shape `(R, n)`, each row its own
# run with its own noise, and the update is `torch.optim.SGD`'s momentum rule
# written out (`v ← 0.9 v + g`, `θ ← θ − lr · v`) so that a learning rate can
# differ per row (the sensitivity grid runs every learning rate in one
# batch). The rows never interact: the loss is a sum of per-row losses.
# The gap is recorded before the first step and after each of the `STEPS`
# steps.


# %%
def optimise(gradient, lr, *, steps=STEPS, repetitions=REPETITIONS):
    """Run ``repetitions`` independent SGD-with-momentum runs from theta_0.

    ``gradient(theta)`` returns the estimator's ``dL/dtheta`` for a batch
    ``(R, n)``; ``lr`` is a number or an ``(R, 1)`` tensor. Returns the
    optimality gaps ``(R, steps + 1)`` as a numpy array.
    """
    theta = theta0.to(DTYPE).expand(repetitions, N).clone()
    velocity = torch.zeros_like(theta)
    gaps = [expected_loss(theta) - OPTIMUM]
    for _ in range(steps):
        velocity = MOMENTUM * velocity + gradient(theta)
        theta = theta - lr * velocity
        gaps.append(expected_loss(theta) - OPTIMUM)
    return torch.stack(gaps, dim=1).numpy()


def through(layer, noise=None, generator=None):
    """The gradient of ``sum_rows ||layer(theta [+ eps]) - b||^2`` as the layer estimates it."""
    def gradient(theta):
        theta = theta.detach().requires_grad_(True)
        inputs = theta
        if noise is not None:  # perturb-and-MAP in front of a layer that has no noise of its own
            inputs = theta + noise.sample(theta.shape, generator=generator, dtype=DTYPE)
        ((layer(inputs) - b) ** 2).sum().backward()
        return theta.grad
    return gradient


def exact_gradient(theta):
    theta = theta.detach().requires_grad_(True)
    expected_loss(theta).sum().backward()
    return theta.grad


topk = im.get_oracle("topk", k=K)

# %% [markdown]
# ## The estimators
#
# * **I-MLE** (`IMLE` + `topk`): forward `z = topk(θ + ε)`; backward
#   `(z − topk(θ − λ·∂L/∂z + ε)) / λ`, the same `ε`. Noise: sum-of-Gamma
#   `SumOfGamma(k=5)` (the paper's), or `Gumbel()`.
#   *Units*: the paper's I-MLE returns `z − z'` without dividing by `λ`, so
#   its learning rates are ours divided by `λ`. We quote learning rates in the
#   paper's units and pass `lr · λ` to the optimiser: **λ = 2, lr = 0.75** is
#   the paper's setting (its grid search's choice).
# * **AIMLE** (`IMLE` with `AdaptiveTarget()`, sum-of-Gamma noise): λ set per
#   instance from the norms and adapted to a target gradient sparsity. Its
#   adaptive state is shared by a batch, so its repetitions run one by one.
# * **Straight-through**: forward `topk(θ + ε)` with Gumbel noise (the paper's
#   STE baseline perturbs too), backward the identity (`StraightThrough`).
# * **Perturbed optimizer** (Berthet et al.): forward the mean of
#   `topk(θ + σ Z_s)` over two normal samples `Z_s` (two top-k calls per
#   step, as I-MLE makes), backward its Jacobian estimate
#   (`PerturbedOptimizer`); σ picked from {0.5, 1, 2, 4, 8} with the learning rate.
# * **Score function** (REINFORCE): exact samples `z ~ p(z; θ)` (drawn from
#   the 252 probabilities — it needs exact sampling, not a MAP oracle, so it
#   lives here and not in the library) and `∇ = ‖z − b‖² · (z − E[z])`.
#
# Learning rates for the methods whose settings the paper's figure does not
# give (AIMLE, the perturbed optimizer), and for straight-through and the
# score function as a check on the paper's values, are picked by one rule:
# the lowest mean final gap over 20 *tuning* repetitions (other seeds than
# the reported ones) on a log grid. I-MLE's λ and lr come from the heat maps
# further down.


# %%
def imle_gradient(noise, lambda_, seed):
    layer = im.IMLE(topk, noise=noise, target=im.PerturbedTarget(lambda_=lambda_),
                    generator=torch.Generator().manual_seed(seed))
    return through(layer)


def perturbed_gradient(sigma, seed):
    # two samples: two top-k calls per step, the same work as I-MLE's forward and target
    layer = im.PerturbedOptimizer(topk, sigma=sigma, num_samples=2, generator=torch.Generator().manual_seed(seed))
    return through(layer)


def straight_through_gradient(seed):
    return through(im.StraightThrough(topk), noise=im.Gumbel(), generator=torch.Generator().manual_seed(seed))


def score_function_gradient(seed):
    generator = torch.Generator().manual_seed(seed)

    def gradient(theta):
        probabilities = torch.softmax(theta @ STATES.T, dim=-1)  # (R, 252)
        index = torch.multinomial(probabilities, 1, generator=generator).squeeze(1)  # (R,) exact samples
        z = STATES[index]  # (R, n)
        return STATE_LOSS[index, None] * (z - marginals(theta))
    return gradient


def aimle_run(lr, seed, *, steps=STEPS, repetitions=REPETITIONS):
    """AIMLE's beta adapts per layer, so each repetition gets a layer (and a run) of its own."""
    runs = []
    for repetition in range(repetitions):
        layer = im.IMLE(topk, noise=im.SumOfGamma(K), target=im.AdaptiveTarget(),
                        generator=torch.Generator().manual_seed(seed + repetition))
        runs.append(optimise(through(layer), lr, steps=steps, repetitions=1))
    return np.concatenate(runs)


def tune(run, grid, *, steps=STEPS):
    """The learning rate with the lowest mean final gap over the tuning repetitions (seed 1000)."""
    finals = [float(run(lr, 1000, steps=steps, repetitions=TUNING_REPETITIONS)[:, -1].mean()) for lr in grid]
    return grid[int(np.argmin(finals))], finals


def log_grid(low, high, count):
    return [float(x) for x in np.geomspace(low, high, count)]


# %% [markdown]
# ## λ × learning-rate sensitivity of I-MLE: sum-of-Gamma vs Gumbel
#
# The paper's grid: λ ∈ {0.5, 1, …, 3}, learning rate ∈ {0.5, 0.625, …, 1}
# (paper units). Shown: the mean (top) and standard deviation (bottom) of
# the optimality gap after 50 steps over `REPETITIONS` runs per cell, and
# the difference sum-of-Gamma − Gumbel (blue: sum-of-Gamma lower). All
# learning rates of one λ run as one batch.

# %%
LAMBDAS = [float(x) for x in np.linspace(0.5, 3.0, 2 if SMOKE else 6)]
PAPER_LRS = [float(x) for x in np.linspace(0.5, 1.0, 2 if SMOKE else 5)]
start = time.perf_counter()
heat = {name: np.zeros((len(PAPER_LRS), len(LAMBDAS))) for name in ("sum-of-Gamma", "Gumbel")}
spread = {name: np.zeros((len(PAPER_LRS), len(LAMBDAS))) for name in ("sum-of-Gamma", "Gumbel")}
for name, noise in (("sum-of-Gamma", im.SumOfGamma(K)), ("Gumbel", im.Gumbel())):
    for j, lambda_ in enumerate(LAMBDAS):
        lr = torch.tensor(PAPER_LRS, dtype=DTYPE).repeat_interleave(REPETITIONS)[:, None] * lambda_  # (L*R, 1)
        gaps = optimise(imle_gradient(noise, lambda_, seed=j), lr, repetitions=len(PAPER_LRS) * REPETITIONS)
        final = gaps[:, -1].reshape(len(PAPER_LRS), REPETITIONS)
        heat[name][:, j], spread[name][:, j] = final.mean(1), final.std(1)
print(f"sensitivity grid: {2 * len(LAMBDAS) * len(PAPER_LRS)} settings x {REPETITIONS} runs "
      f"in {time.perf_counter() - start:.1f} s")

fig, axes = plt.subplots(2, 3, figsize=(12, 6))
for row, (what, values) in enumerate((("mean", heat), ("std", spread))):
    vmax = max(values["sum-of-Gamma"].max(), values["Gumbel"].max())
    for ax, (name, value) in zip(axes[row], values.items()):
        image = ax.imshow(value, cmap="hot_r", vmin=0, vmax=vmax)
        ax.set_title(f"I-MLE, {name}: {what} of final gap", fontsize=9)
        fig.colorbar(image, ax=ax)
    difference = values["sum-of-Gamma"] - values["Gumbel"]
    bound = float(np.abs(difference).max()) or 1.0
    image = axes[row, 2].imshow(difference, cmap="seismic", vmin=-bound, vmax=bound)
    axes[row, 2].set_title(f"{what}: sum-of-Gamma − Gumbel", fontsize=9)
    fig.colorbar(image, ax=axes[row, 2])
for ax in axes.flat:
    ax.set_xticks(range(len(LAMBDAS)), [f"{x:g}" for x in LAMBDAS])
    ax.set_yticks(range(len(PAPER_LRS)), [f"{x:g}" for x in PAPER_LRS])
    ax.set_xlabel("λ")
    ax.set_ylabel("lr (paper units)")
fig.tight_layout()
plt.show()
difference = heat["sum-of-Gamma"] - heat["Gumbel"]
best = np.unravel_index(np.argmin(heat["sum-of-Gamma"]), heat["sum-of-Gamma"].shape)
print(f"best sum-of-Gamma cell: lambda {LAMBDAS[best[1]]:g}, lr {PAPER_LRS[best[0]]:g}, "
      f"gap {heat['sum-of-Gamma'][best]:.3f}")
print(f"sum-of-Gamma lower than Gumbel in {int((difference < 0).sum())} of {difference.size} cells; "
      f"mean gap over the grid {heat['sum-of-Gamma'].mean():.3f} (sum-of-Gamma) "
      f"vs {heat['Gumbel'].mean():.3f} (Gumbel); "
      f"mean std {spread['sum-of-Gamma'].mean():.3f} vs {spread['Gumbel'].mean():.3f}")

# %% [markdown]
# ## Tuning the learning rates of the other estimators

# %%
SIGMAS = [1.0] if SMOKE else [0.5, 1.0, 2.0, 4.0, 8.0]
start = time.perf_counter()
choices = {
    "straight-through": tune(lambda lr, seed, **kw: optimise(straight_through_gradient(seed), lr, **kw),
                             log_grid(0.001, 0.2, 4 if SMOKE else 10)),
    "AIMLE": tune(aimle_run, log_grid(0.01, 20.0, 3 if SMOKE else 8)),
    "score function": tune(lambda lr, seed, **kw: optimise(score_function_gradient(seed), lr, **kw),
                           log_grid(0.0001, 0.1, 4 if SMOKE else 10), steps=SFE_STEPS),
}
for sigma in SIGMAS:
    choices[f"perturbed optimizer, sigma {sigma:g}"] = tune(
        lambda lr, seed, sigma=sigma, **kw: optimise(perturbed_gradient(sigma, seed), lr, **kw),
        log_grid(0.001, 5.0, 4 if SMOKE else 12))
sigma_po = min(SIGMAS, key=lambda sigma: min(choices[f"perturbed optimizer, sigma {sigma:g}"][1]))
choices["perturbed optimizer"] = choices[f"perturbed optimizer, sigma {sigma_po:g}"]
paper = {"straight-through": 0.019, "score function": 0.0046}
for name, (lr, finals) in choices.items():
    if name == "perturbed optimizer":
        print(f"perturbed optimizer: sigma {sigma_po:g} chosen")
        continue
    note = f" (the paper's: {paper[name]:g})" if name in paper else ""
    print(f"{name:20s} lr {lr:.4g}{note}; final gaps over the grid: " + " ".join(f"{x:.2f}" for x in finals))
print(f"tuning took {time.perf_counter() - start:.1f} s")

# %% [markdown]
# ## The optimality gap over the optimisation
#
# Every method on the same `REPETITIONS` seeds (fresh ones, not used for
# tuning), mean ± one standard deviation. The score-function estimator ran
# ten times the steps; its curve shows every 10th step, so its x axis reads
# "steps / 10", as in the paper's figure.

# %%
LAMBDA, PAPER_LR = 2.0, 0.75
start = time.perf_counter()
curves = {
    "I-MLE, sum-of-Gamma": optimise(imle_gradient(im.SumOfGamma(K), LAMBDA, seed=1), PAPER_LR * LAMBDA),
    "I-MLE, Gumbel": optimise(imle_gradient(im.Gumbel(), LAMBDA, seed=1), PAPER_LR * LAMBDA),
    "AIMLE": aimle_run(choices["AIMLE"][0], seed=1),
    "straight-through": optimise(straight_through_gradient(1), choices["straight-through"][0]),
    f"perturbed optimizer (σ = {sigma_po:g})": optimise(perturbed_gradient(sigma_po, 1),
                                                        choices["perturbed optimizer"][0]),
}
score_function = optimise(score_function_gradient(1), choices["score function"][0], steps=SFE_STEPS)
curves["score function (steps x 10)"] = score_function[:, ::10]
print(f"{len(curves)} estimators x {REPETITIONS} runs in {time.perf_counter() - start:.1f} s")

fig, ax = plt.subplots(figsize=(7, 4.2))
for name, gaps in curves.items():
    mean, std = gaps.mean(0), gaps.std(0)
    line, = ax.plot(mean, label=name)
    ax.fill_between(range(len(mean)), mean - std, mean + std, alpha=0.2, color=line.get_color())
ax.set_xlabel("optimisation step (score function: step / 10)")
ax.set_ylabel("optimality gap")
ax.set_ylim(0, 3)
ax.set_xlim(0, STEPS)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The numbers

# %%
print(f"optimality gap after {STEPS} steps, mean ± standard error over {REPETITIONS} runs (std in brackets)")
finals = {}
for name, gaps in {**curves, "score function, same steps": score_function[:, :STEPS + 1]}.items():
    final = gaps[:, -1]
    finals[name] = final.mean()
    error = final.std(ddof=1) / math.sqrt(len(final))
    print(f"  {name:30s} {final.mean():.3f} ± {error:.3f}  ({final.std(ddof=1):.3f})")

imle_final = curves["I-MLE, sum-of-Gamma"][:, -1]
print(f"\nI-MLE (sum-of-Gamma, lambda = {LAMBDA:g}, lr = {PAPER_LR:g} in the paper's units): final mean "
      f"optimality gap {imle_final.mean():.3f} ± {imle_final.std(ddof=1) / math.sqrt(len(imle_final)):.3f} "
      "(standard error)")


def steps_to_reach(gaps, level):
    """The first step at which the mean gap is at or below ``level`` (None if never)."""
    hit = np.nonzero(gaps.mean(0) <= level)[0]
    return int(hit[0]) if hit.size else None


print("\nsteps until the mean gap first reaches a level (score function: its own steps, 10x budget):")
for level in (1.0, 0.75, 0.5, float(curves["straight-through"][:, -1].mean())):
    imle_steps = steps_to_reach(curves["I-MLE, sum-of-Gamma"], level)
    sfe_steps = steps_to_reach(score_function, level)
    ratio = f"{sfe_steps / imle_steps:.0f}x" if imle_steps and sfe_steps else "-"
    print(f"  gap {level:.3f}: I-MLE {imle_steps}, score function {sfe_steps} ({ratio})")
level = finals["straight-through"]
below = {name: int((values < level).sum()) for name, values in heat.items()}
print(f"\ncells of I-MLE's sensitivity grid that end below straight-through's final gap ({level:.3f}): "
      + ", ".join(f"{name} {count} of {heat[name].size}" for name, count in below.items()))
if not SMOKE:  # the paper's claims, checked on this run
    assert finals["I-MLE, sum-of-Gamma"] < finals["straight-through"]
    assert finals["I-MLE, sum-of-Gamma"] < finals["score function, same steps"]

# %% [markdown]
# ## The cost of exactness: expectation vs sampling vs perturb-and-MAP
#
# For `n` items and `k = n / 2` the exact expectation (and exact sampling)
# needs all `C(n, n/2)` subsets — 252 at `n = 10`, 184,756 at `n = 20` —
# while perturb-and-MAP is one top-k of a noisy vector. Timed per call: the
# exact expected loss with its gradient; one exact sample (probabilities of
# all subsets, then a draw); one I-MLE forward and backward
# (sum-of-Gamma noise, two `topk` calls). The enumeration of the subsets is
# done once per `n` and not timed. Median of 11 interleaved rounds, best to
# worst shaded (the machine was shared with other jobs: read the shape, not
# the digits).

# %%
def exact_step(theta, states, state_loss):
    parameters = theta.clone().requires_grad_(True)
    (torch.softmax(parameters @ states.T, -1) @ state_loss).sum().backward()


def exact_sample(theta, states, generator):
    torch.multinomial(torch.softmax(theta @ states.T, -1), 1, generator=generator)


def imle_step(layer, theta, target):
    parameters = theta.clone().requires_grad_(True)
    ((layer(parameters) - target) ** 2).sum().backward()


SIZES = [8, 10] if SMOKE else [8, 10, 12, 14, 16, 18, 20, 22]
ROUNDS = 3 if SMOKE else 11
times = {"exact expectation + gradient": [], "exact sample": [], "I-MLE (perturb-and-MAP)": []}
best_worst = {name: [] for name in times}
generator = torch.Generator().manual_seed(0)
for n in SIZES:
    k = n // 2
    states = torch.tensor(list(itertools.combinations(range(n), k)))  # (C(n, k), k) indices
    states = torch.zeros(states.shape[0], n, dtype=DTYPE).scatter_(1, states, 1.0)  # (C(n, k), n)
    target = torch.from_numpy(np.abs(rng.randn(n)))
    theta = torch.from_numpy(rng.randn(n))[None]  # (1, n)
    state_loss = ((states - target) ** 2).sum(-1)
    layer = im.IMLE(im.get_oracle("topk", k=k), noise=im.SumOfGamma(k), target=im.PerturbedTarget(1.0),
                    generator=generator)

    calls = {
        "exact expectation + gradient": (exact_step, (theta, states, state_loss)),
        "exact sample": (exact_sample, (theta, states, generator)),
        "I-MLE (perturb-and-MAP)": (imle_step, (layer, theta, target)),
    }
    rounds = {name: [] for name in times}
    for _ in range(ROUNDS):
        for name, (call, arguments) in calls.items():
            begin = time.perf_counter()
            call(*arguments)
            rounds[name].append(time.perf_counter() - begin)
    for name in times:
        times[name].append(float(np.median(rounds[name])))
        best_worst[name].append((min(rounds[name]), max(rounds[name])))
    print(f"n = {n:2d} ({states.shape[0]:7,d} subsets): " + ", ".join(
        f"{name} {1e3 * times[name][-1]:8.3f} ms" for name in times))

fig, ax = plt.subplots()
for name, values in times.items():
    line, = ax.plot(SIZES, values, marker="o", label=name)
    low, high = zip(*best_worst[name])
    ax.fill_between(SIZES, low, high, alpha=0.2, color=line.get_color())
ax.set_yscale("log")
ax.set_xlabel("n (k = n / 2)")
ax.set_ylabel("seconds per call")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What to read from it
#
# In the stored run (seeded; the same numbers on every run of this code):
#
# * **I-MLE ends below straight-through.** With sum-of-Gamma noise at the
#   paper's λ = 2, lr = 0.75 the final mean gap is about 0.19 ± 0.03
#   (standard error), against about 0.81 for straight-through at its best
#   learning rate from the same grid (0.11; the paper's 0.019 did about as
#   well on the tuning runs, 0.73). I-MLE with Gumbel noise (0.23) is within about one standard error of
#   sum-of-Gamma; AIMLE, with its default settings and a tuned learning rate,
#   ends level with straight-through here (0.85 against 0.81). Its tuning
#   grid is flat from lr 0.26 to 2.3 (final gaps 0.75-0.79 on the tuning
#   runs), so the rule picks between near-ties: this run took 0.26; an
#   earlier run of this notebook (another random stream of the same seeds,
#   before a change of the Gamma sampler that keeps its distribution) took
#   2.28 and ended at 0.62 on the reported runs — the learning rate, not the
#   draws, moves AIMLE here; the perturbed
#   optimizer, given the same two top-k calls per step and its best σ = 4,
#   ends near 0.32, just above I-MLE.
# * **The score-function estimator needs ten times the steps, and more.**
#   After 50 steps it is still far from the optimum (gap about 2.6); with
#   ten times the steps it ends near 0.38, above I-MLE's 50-step value. To
#   reach a given mean gap it needed 25-31x the steps I-MLE needed (the
#   table above). The paper's figure reads "about 10x"; with our tuned
#   learning rate and 100 repetitions the gap to I-MLE is, if anything,
#   wider.
# * **Sensitivity.** I-MLE works over most of the λ × lr grid: 27 of 30
#   cells with sum-of-Gamma and 29 of 30 with Gumbel end below
#   straight-through's tuned final gap. Sum-of-Gamma and Gumbel noise have about
#   the same mean gap here (0.366 against 0.364; sum-of-Gamma lower in 19 of
#   30 cells); sum-of-Gamma's
#   runs spread a little less (mean std 0.34 vs 0.37). The paper reported a
#   clearer advantage for sum-of-Gamma; on this problem, with k = n/2, the
#   two noise distributions induce nearly the same subset distribution.
# * **Exactness does not scale.** The exact expectation and exact sampling
#   grow with `C(n, n/2)` — 17-60 ms per call at n = 22 depending on the machine's load, and the enumeration
#   itself becomes the limit soon after — while one I-MLE step stays at a
#   few milliseconds, dominated by fixed per-call overheads. This is why the
#   estimators of this library need only a MAP oracle.
