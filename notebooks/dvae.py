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
# # Discrete VAE with k-subset latent variables (I-MLE paper, discrete VAE experiment)
#
# **Reproduces** the discrete variational auto-encoder experiment of Niepert,
# Minervini and Franceschi, *Implicit MLE* (NeurIPS 2021, section 6.2) and the
# release's `DVAE/discrete-VAE-experiments-neurips.ipynb`, in PyTorch: an
# encoder maps an image to **20 latent variables, each a k-subset (k = 10) of
# 20 states**; a decoder reconstructs the image from the 20 × 20 binary code.
# The loss is the original's: Bernoulli reconstruction (sigmoid cross-entropy
# summed over pixels) plus the KL divergence of each latent's softmax to the
# uniform prior over its 20 states. The k-subset is sampled, and
# differentiated, by
#
# * **I-MLE** — `topk` perturbed with sum-of-Gamma noise, `τ = λ = 10`, the
#   original's `IMLESubsetkLayer(k=10, tau=10, lambda=10)`;
# * **I-MLE, τ = 1** — the same with noise and target temperature 1 (not in
#   the original; see "Reading the results" for why it is here);
# * **AIMLE** — the same with the adaptive target (Minervini et al., AAAI 2023);
# * **straight-through Gumbel** — hard top-k of `θ + Gumbel` forward, the
#   gradient of the relaxed top-k backward (Jang et al. 2017's "hard" mode);
# * **Gumbel-softmax** — the relaxed top-k itself (k successive softmaxes,
#   Xie & Ermon 2019), its temperature annealed from 1.0 to 0.5 as in the
#   original (`t ← max(t · exp(−3e−4 · epoch), 0.5)` per epoch);
# * **straight-through (identity)** — hard top-k of `θ + Gumbel`, the
#   identity backward (the library's `StraightThrough`; a biased baseline).
#
# Same architecture (784 or 64 → 512 → 256 → 400 → 256 → 512 → pixels), Adam
# with learning rate 1e-3, batch size 100, for every method and seed.
#
# **Data.** MNIST when its files are found (`imle_solvers.datasets.find_mnist`:
# the `IMLE_SOLVERS_MNIST` variable, Keras's `~/.keras/datasets/mnist.npz`, or
# `data/` — nothing is downloaded); otherwise scikit-learn's bundled **8 × 8
# digits** (1,797 images, 1,348 for training and 449 for testing), which is
# what the stored outputs below show. The losses on the digits are per
# 64-pixel image and not comparable with the paper's MNIST numbers (784
# pixels); the comparison between methods is the point.
#
# A full run on the digits (6 methods × 3 seeds × 100 epochs) took about 7
# minutes on a shared two-core machine, one core used; `IMLE_NOTEBOOK_SMOKE=1`
# runs it in seconds (tiny sizes; its numbers mean nothing).

# %%
import math
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import imle_solvers as im
from imle_solvers.datasets import load_mnist_or_digits

SMOKE = os.environ.get("IMLE_NOTEBOOK_SMOKE") == "1"
torch.set_num_threads(1)  # small tensors: one thread is fastest (two spin and wait on a busy machine)
plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72, "figure.figsize": (6.0, 3.6)})

N_LATENT, N_STATES, K = 20, 20, 10  # 20 latent variables, each a 10-subset of 20 states
TAU, LAMBDA = 10.0, 10.0  # the original layer's noise temperature and target strength
BATCH_SIZE, LEARNING_RATE = 100, 1e-3
GS_INIT, GS_MIN, GS_ANNEAL = 1.0, 0.5, 3e-4  # the original's Gumbel-softmax temperature schedule
EPOCHS = 2 if SMOKE else 100
EVAL_EVERY = 1 if SMOKE else 5  # epochs between test-loss evaluations
SEEDS = [0, 1] if SMOKE else [0, 1, 2]

data = load_mnist_or_digits()
x_train, x_test = torch.from_numpy(data.pixels("train")), torch.from_numpy(data.pixels("test"))
if SMOKE:
    x_train, x_test = x_train[:300], x_test[:200]
DATA_DIM = x_train.shape[1]
print(f"data: {data.source}, images {data.image_shape}, {len(x_train)} train / {len(x_test)} test")

# %% [markdown]
# ## The model and the loss
#
# As in the original: the encoder's 400 outputs are 20 rows of 20 scores
# `θ`; a method turns them into a 20 × 20 code `z` with ten ones per row (or
# its relaxation); the loss is `BCE(decoder(z), x) + KL(softmax(θ) ‖ uniform)`,
# summed over pixels and latent variables and averaged over the batch.

# %%
class DiscreteVAE(nn.Module):
    def __init__(self, data_dim: int):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(data_dim, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, N_LATENT * N_STATES)
        )
        self.decoder = nn.Sequential(
            nn.Linear(N_LATENT * N_STATES, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, data_dim)
        )

    def forward(self, x, latent):
        theta = self.encoder(x).view(-1, N_LATENT, N_STATES)  # (B, 20, 20) scores
        z = latent(theta)  # (B, 20, 20): ten ones per row, or a relaxation
        return theta, self.decoder(z.flatten(1))  # pixel logits (B, D)


def vae_loss(x, theta, pixel_logits):
    reconstruction = F.binary_cross_entropy_with_logits(pixel_logits, x, reduction="none").sum(1).mean()
    log_q = torch.log_softmax(theta, -1)
    kl = (log_q.exp() * (log_q + math.log(N_STATES))).sum((1, 2)).mean()
    return reconstruction + kl


# %% [markdown]
# ## The methods
#
# `relaxed_topk` is the Gumbel-softmax relaxation of a k-subset: k rounds of
# a softmax at temperature `t`, each round's mass taken out of the next
# round's scores (Xie & Ermon 2019, the relaxation L2X's SoftSub also uses).
# Each method is a function `latent(θ)` for training and for the test loss
# under its own sampler; `map_latent` — the noiseless top-k — gives every
# method the same deterministic test loss too.

# %%
TOPK = im.get_oracle("topk", k=K)
GUMBEL = im.Gumbel()


def relaxed_topk(scores, k, temperature):
    khot = torch.zeros_like(scores)
    onehot = torch.zeros_like(scores)
    for _ in range(k):
        scores = scores + torch.log1p(-onehot.clamp(max=1 - 1e-6))  # log(1 - last round's mass)
        onehot = torch.softmax(scores / temperature, dim=-1)
        khot = khot + onehot
    return khot


def hard_topk(scores):
    return TOPK(scores.detach()).to(scores.dtype)


def map_latent(theta):
    return hard_topk(theta)


class Method:
    """A k-subset sampler and its gradient: ``latent(theta)``, and the state it needs over an epoch."""

    def __init__(self, name, seed):
        self.name = name
        self.generator = torch.Generator().manual_seed(1000 + seed)
        self.temperature = GS_INIT
        self.imle = name in ("I-MLE", "I-MLE (τ = 1)", "AIMLE")
        if self.imle:
            target = im.AdaptiveTarget() if name == "AIMLE" else im.PerturbedTarget(LAMBDA)
            tau = 1.0 if name == "I-MLE (τ = 1)" else TAU
            self.layer = im.IMLE(TOPK, noise=im.SumOfGamma(K), noise_temperature=tau, target_temperature=tau,
                                 target=target, generator=self.generator)
        elif name == "straight-through (identity)":
            self.layer = im.StraightThrough(TOPK)

    def new_epoch(self, epoch):
        self.temperature = max(self.temperature * math.exp(-GS_ANNEAL * epoch), GS_MIN)

    def gumbel(self, theta):
        return GUMBEL.sample(theta.shape, generator=self.generator, dtype=theta.dtype)

    def __call__(self, theta):
        if self.imle:
            return self.layer(theta)
        if self.name == "straight-through (identity)":
            return self.layer(theta + self.gumbel(theta))
        relaxed = relaxed_topk(theta + self.gumbel(theta), K, self.temperature)
        if self.name == "Gumbel-softmax":
            return relaxed
        hard = hard_topk(relaxed)  # straight-through Gumbel: the hard top-k of the relaxed code
        return hard - relaxed.detach() + relaxed


METHODS = ["I-MLE", "I-MLE (τ = 1)", "AIMLE", "straight-through Gumbel", "Gumbel-softmax",
           "straight-through (identity)"]


# %% [markdown]
# ## Training
#
# Every method and seed starts from the same initial weights for a given seed
# (`torch.manual_seed(seed)` before building the model) and sees the same
# batches. Every five epochs we record the test loss under the method's own
# sampler (for Gumbel-softmax: the relaxed code at the current temperature,
# as the original evaluated it) and under the noiseless top-k.

# %%
@torch.no_grad()
def test_loss(model, latent):
    return float(vae_loss(x_test, *model(x_test, latent)))


def train(method_name, seed):
    torch.manual_seed(seed)
    model = DiscreteVAE(DATA_DIM)
    method = Method(method_name, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    batches = torch.Generator().manual_seed(seed)
    own, noiseless, seconds = [], [], []
    for epoch in range(1, EPOCHS + 1):
        method.new_epoch(epoch)
        start = time.perf_counter()
        for index in torch.randperm(len(x_train), generator=batches).split(BATCH_SIZE):
            x = x_train[index]
            loss = vae_loss(x, *model(x, method))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
        if epoch % EVAL_EVERY == 0 or epoch == EPOCHS:
            own.append(test_loss(model, method))
            noiseless.append(test_loss(model, map_latent))
    return {"model": model, "own": np.array(own), "map": np.array(noiseless), "epoch_seconds": np.array(seconds),
            "temperature": method.temperature}


start = time.perf_counter()
runs = {name: [train(name, seed) for seed in SEEDS] for name in METHODS}
print(f"{len(METHODS)} methods x {len(SEEDS)} seeds x {EPOCHS} epochs in {time.perf_counter() - start:.0f} s")

# %% [markdown]
# ## Test loss over training (mean ± std over seeds)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
epochs = [epoch for epoch in range(1, EPOCHS + 1) if epoch % EVAL_EVERY == 0 or epoch == EPOCHS]
for name in METHODS:
    for ax, key in zip(axes, ("own", "map"), strict=True):
        curves = np.stack([run[key] for run in runs[name]])  # (seeds, epochs)
        mean, std = curves.mean(0), curves.std(0)
        ax.plot(epochs, mean, label=name)
        ax.fill_between(epochs, mean - std, mean + std, alpha=0.2)
axes[0].set_title("test loss, each method's own sampler")
axes[1].set_title("test loss, noiseless top-k code")
for ax in axes:
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
axes[0].set_ylabel("BCE + KL per image")
last = np.concatenate([[run["own"][-1], run["map"][-1]] for name in METHODS for run in runs[name]])
axes[0].set_ylim(last.min() * 0.95, np.percentile(last, 90) * 1.6)
axes[1].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Final test loss (mean ± std over seeds)

# %%
def mean_std(values):
    values = np.asarray(values)
    return values.mean(), values.std(ddof=1) if len(values) > 1 else float("nan")


rows = {}
print(f"{'method':30s} {'own sampler':>17s} {'noiseless top-k':>17s} {'s/epoch':>8s}")
for name in METHODS:
    own = mean_std([run["own"][-1] for run in runs[name]])
    noiseless = mean_std([run["map"][-1] for run in runs[name]])
    seconds = np.median(np.concatenate([run["epoch_seconds"] for run in runs[name]]))
    rows[name] = {"own": own, "map": noiseless, "seconds": seconds}
    print(f"{name:30s} {own[0]:8.2f} ± {own[1]:6.2f} {noiseless[0]:8.2f} ± {noiseless[1]:6.2f} {seconds:8.3f}")

# %%
# The acceptance check: I-MLE within the spread of Gumbel-softmax (mean ± std), or better.
for name in ("I-MLE", "I-MLE (τ = 1)"):
    for key, label in (("own", "own sampler"), ("map", "noiseless top-k")):
        imle_mean = rows[name][key][0]
        gs_mean, gs_std = rows["Gumbel-softmax"][key]
        verdict = "better" if imle_mean < gs_mean - gs_std else ("within" if imle_mean <= gs_mean + gs_std else "worse")
        print(f"{name:14s} {label:16s}: {imle_mean:.2f} vs Gumbel-softmax {gs_mean:.2f} ± {gs_std:.2f} -> {verdict}")

# %% [markdown]
# ## Reconstructions
#
# Test images (top row) and their reconstructions from the noiseless top-k
# code, one row per method (seed 0); the right column shows seed 0's I-MLE
# code of the first image (20 latent variables × 20 states, ten ones each).

# %%
n_show = 10
side = data.image_shape
images = x_test[:n_show]
grid = [images.numpy()]
with torch.no_grad():
    for name in METHODS:
        _, logits = runs[name][0]["model"](images, map_latent)
        grid.append(torch.sigmoid(logits).numpy())
    code = map_latent(runs["I-MLE"][0]["model"].encoder(images[:1]).view(N_LATENT, N_STATES)).numpy()
fig, axes = plt.subplots(len(grid), n_show + 1, figsize=(n_show * 0.8 + 1.2, len(grid) * 0.85))
for row, (label, pictures) in enumerate(zip(["test image", *METHODS], grid, strict=True)):
    for column in range(n_show):
        axes[row, column].imshow(pictures[column].reshape(side), cmap="gray", vmin=0, vmax=1)
        axes[row, column].axis("off")
    axes[row, 0].set_title(label, fontsize=7, loc="left")
    axes[row, n_show].axis("off")
axes[0, n_show].imshow(code, cmap="gray")
axes[0, n_show].set_title("code", fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Reading the results
#
# **I-MLE with the original's `τ = 10` is worse than Gumbel-softmax here**
# (table and check above), and its reconstructions are the same blurred
# average digit for every input: the posterior collapsed, the code carries
# next to no information. The reason is the original's loss, not the
# gradient estimator. The KL term is computed on `softmax(θ)` at temperature
# 1, while the code is `topk(θ + 10 ε)`: for the code to depend on the input
# through noise of that scale, the scores' spread must be far above 10, and
# at that spread `softmax(θ)` is nearly one-hot and the KL term approaches its
# maximum (`20 · ln 20 ≈ 60` nats per image). On the 8 × 8 digits, where the
# reconstruction term is small (about 20 nats per image for a good model), the
# optimum of that trade-off is to keep `θ` flat and ignore the code. The
# Gumbel-based methods perturb with unit-scale noise, the scale the KL term
# is measured at. AIMLE, whose adaptive target picks its own step, collapses
# less (23.2) but is still held back by the same noise.
#
# **With `τ = 1`** — noise on the scale of the KL term, nothing else changed
# — I-MLE has the lowest test loss of all methods, below Gumbel-softmax by
# far more than the spread of either (17.4 ± 0.1 against 20.9 ± 0.1 on its own
# sampler, 17.5 against 22.4 on the noiseless code). The original notebook
# used `τ = 10` on MNIST (784 pixels), where the reconstruction term is
# about ten times larger and so worth more KL; we did not run MNIST here (no
# copy offline). Whatever the data, the noise temperature should be chosen
# with the KL term's scale in mind.
#
# The relaxed Gumbel-softmax loss under its own sampler is measured on a
# continuous code, which its decoder was trained on; the other methods are
# measured on binary codes. The noiseless top-k column puts every method on
# the same discrete code: there Gumbel-softmax's loss rises (22.4) and
# straight-through Gumbel, trained on hard codes, stays close to its own
# (23.2). The identity straight-through baseline, whose gradient ignores how
# the top-k responds to its scores, drifts away between epochs 30 and 60 and
# ends at a loss of 80 on every seed.
