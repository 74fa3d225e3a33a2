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
# # Learning to explain (L2X): I-MLE against the Concrete and SoftSub relaxations
#
# **Reproduces** the comparison of the I-MLE paper's L2X experiment (Niepert
# et al., NeurIPS 2021, section 6.3; the release's `L2X` notebook): an
# *explainer* picks `k` input features (words, in the paper) per example, a
# *predictor* sees only those, and the explainer is trained through the
# discrete k-subset — with I-MLE (`topk` + sum-of-Gamma noise), with L2X's
# own Concrete relaxation (Chen et al. 2018) and with the SoftSub relaxation
# (Xie & Ermon 2019). Scored by the precision of the selection against the
# truly relevant features, and by the predictor's test loss.
#
# **Data.** Part 1 — the one every run shows — is the synthetic task of
# `examples/topk_subset_selection.py`: 10 Gaussian features, feature 0 a
# switch; when `x0 > 0` the label depends on features 1 and 2, otherwise on
# 3 and 4, so the right 2-subset depends on the input and is known. Part 2
# runs the original experiment on the **BeerAdvocate** reviews (McAuley et
# al. 2012, with Lei et al.'s annotations), read by
# `imle_solvers.datasets.load_beer_reviews` and friends, *if you have the
# files* (nothing is downloaded): set `IMLE_BEER_DIR` to the folder holding
# `reviews.aspect1.train.txt`, `reviews.aspect1.heldout.txt`,
# `annotations.json` and optionally `review+wiki.filtered.200.txt`. Without
# them, part 2 runs the same pipeline on a tiny generated file in that
# format, only to show it working — its numbers mean nothing.
#
# A full run takes a few minutes on two CPU cores; `IMLE_NOTEBOOK_SMOKE=1`
# runs it in seconds.

# %%
import json
import os
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

import imle_solvers as im
from imle_solvers.datasets import (
    BEER_ASPECTS,
    build_vocabulary,
    load_beer_annotations,
    load_beer_reviews,
    load_word_embeddings,
    subset_precision,
)

SMOKE = os.environ.get("IMLE_NOTEBOOK_SMOKE") == "1"
torch.set_num_threads(1)  # small models: one thread is fastest on a shared 2-core machine
plt.rcParams.update({"figure.dpi": 72, "savefig.dpi": 72})
if SMOKE:
    print("SMOKE MODE: tiny sizes, the numbers mean nothing")

# %% [markdown]
# ## The three ways through a k-subset
#
# All three take the explainer's scores `θ` `(batch, d)` and return a mask
# `(batch, d)`; at evaluation all three return the hard top-k of `θ` (as the
# original layers did), so the selections are judged alike.
#
# * **I-MLE**: `IMLE(topk, noise=SumOfGamma(k), target=PerturbedTarget(λ))`
#   — a k-hot sample `topk(θ + τ ε)` forward, the I-MLE estimate backward.
# * **L2X Concrete** (Chen et al. 2018): `k` independent Gumbel-softmax
#   samples over the `d` features at temperature `τ`, combined by an
#   elementwise max — a relaxed, not exactly k-hot, mask. (The I-MLE
#   release's notebook drew a single Gumbel-softmax sample where L2X draws
#   `k`; we follow L2X.)
# * **SoftSub** (Xie & Ermon 2019): Gumbel keys, then `k` rounds of a
#   softmax at temperature `τ`, each round masking out (softly) what the
#   previous ones took — a relaxed top-k whose entries sum to `k`.
#
# Temperatures are the original notebook's: Concrete τ = 0.1, SoftSub
# τ = 0.5.


# %%
def gumbel_like(theta: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    uniform = torch.rand(theta.shape, generator=generator, dtype=theta.dtype).clamp_(torch.finfo(theta.dtype).tiny, 1.0)
    return -torch.log(-torch.log(uniform))


def hard_topk(theta: torch.Tensor, k: int) -> torch.Tensor:
    return torch.zeros_like(theta).scatter_(-1, theta.topk(k, dim=-1).indices, 1.0)


class ConcreteSubset(nn.Module):
    """L2X's relaxation: the max over k Gumbel-softmax samples (train); hard top-k (eval)."""

    def __init__(self, k: int, tau: float = 0.1, generator: torch.Generator | None = None):
        super().__init__()
        self.k, self.tau, self.generator = k, tau, generator

    def forward(self, theta):  # (batch, d)
        if not self.training:
            return hard_topk(theta, self.k)
        logits = theta.unsqueeze(1).expand(-1, self.k, -1)  # (batch, k, d)
        samples = torch.softmax((logits + gumbel_like(logits, self.generator)) / self.tau, dim=-1)
        return samples.max(dim=1).values  # (batch, d)


class SoftSubset(nn.Module):
    """SoftSub: k rounds of a masked softmax over Gumbel keys (train); hard top-k (eval)."""

    def __init__(self, k: int, tau: float = 0.5, generator: torch.Generator | None = None):
        super().__init__()
        self.k, self.tau, self.generator = k, tau, generator

    def forward(self, theta):  # (batch, d)
        if not self.training:
            return hard_topk(theta, self.k)
        keys = theta + gumbel_like(theta, self.generator)
        tiny = torch.finfo(theta.dtype).tiny
        onehot = torch.zeros_like(theta)
        total = torch.zeros_like(theta)
        for _ in range(self.k):
            keys = keys + torch.log(torch.clamp(1.0 - onehot, min=tiny))
            onehot = torch.softmax(keys / self.tau, dim=-1)
            total = total + onehot
        return total  # (batch, d), sums to k


def imle_subset(k: int, lambda_: float, *, noise_temperature: float = 1.0, num_samples: int = 1, seed: int = 0):
    return im.IMLE(im.get_oracle("topk", k=k), noise=im.SumOfGamma(k), target=im.PerturbedTarget(lambda_=lambda_),
                   noise_temperature=noise_temperature, num_samples=num_samples,
                   generator=torch.Generator().manual_seed(seed))


# %% [markdown]
# ## Part 1: the synthetic task
#
# The same data, models and training as `examples/topk_subset_selection.py`:
# a two-layer explainer and a two-layer classifier (64 hidden units),
# Adam at `1e-2`, batches of 128, binary cross-entropy; `k = 2` of 10
# features.
#
# Each method's one knob — I-MLE's λ, each relaxation's temperature τ — is
# chosen by the same rule: the best selection precision on a *validation*
# set (not the test set) after one training run (seed 10) per value; the
# grids hold the original's values (τ = 0.1 and 0.5; λ = 10 of the example).
# Then three seeds per method, scored on the test set. I-MLE runs with one
# noise sample (the same single forward pass as the relaxations) and, as a
# second entry, with four (averaged; four cheap top-k calls). The test
# precision is recorded along the way.

# %%
NUM_FEATURES, K = 10, 2
STEPS = 60 if SMOKE else 1500
SEEDS = [0] if SMOKE else [0, 1, 2]
RECORD_EVERY = 20 if SMOKE else 100


def make_data(n: int, generator: torch.Generator):
    """Inputs ``(n, 10)``, labels ``(n,)`` and the relevant features ``(n, 10)``."""
    x = torch.randn(n, NUM_FEATURES, generator=generator)
    switch = x[:, 0] > 0
    logits = torch.where(switch, 3 * (x[:, 1] - x[:, 2]), 3 * (x[:, 3] - x[:, 4]))
    y = (torch.rand(n, generator=generator) < torch.sigmoid(logits)).float()
    relevant = torch.zeros(n, NUM_FEATURES)
    relevant[switch, 1:3] = 1.0
    relevant[~switch, 3:5] = 1.0
    return x, y, relevant


data_generator = torch.Generator().manual_seed(0)
x_train, y_train, _ = make_data(2_000 if SMOKE else 10_000, data_generator)
test_set = make_data(2_000, data_generator)  # (x, y, relevant): the reported numbers
validation_set = make_data(2_000, torch.Generator().manual_seed(1))  # for choosing λ and τ only


def mlp(inputs: int, outputs: int) -> nn.Module:
    return nn.Sequential(nn.Linear(inputs, 64), nn.ReLU(), nn.Linear(64, outputs))


def evaluate(explainer, layer, classifier, data=test_set):
    """Precision of the hard selection, loss and accuracy of the classifier on it."""
    x, y, relevant = data
    modules = (explainer, layer, classifier)
    for module in modules:
        module.eval()
    with torch.no_grad():
        z = layer(explainer(x))  # (n, 10), exactly K ones per row
        logits = classifier(x * z).squeeze(-1)
        loss = float(nn.functional.binary_cross_entropy_with_logits(logits, y))
        accuracy = float(((logits > 0).float() == y).float().mean())
        precision = float((z * relevant).sum(1).mean() / K)
    for module in modules:
        module.train()
    return {"precision": precision, "loss": loss, "accuracy": accuracy}


def train_synthetic(make_layer, seed: int, data=test_set):
    torch.manual_seed(seed)
    explainer, classifier, layer = mlp(NUM_FEATURES, NUM_FEATURES), mlp(NUM_FEATURES, 1), make_layer(seed)
    optimiser = torch.optim.Adam([*explainer.parameters(), *classifier.parameters()], lr=1e-2)
    batches = torch.Generator().manual_seed(seed)
    curve = []
    for step in range(1, STEPS + 1):
        index = torch.randint(0, x_train.shape[0], (128,), generator=batches)
        x, y = x_train[index], y_train[index]
        mask = layer(explainer(x))  # (128, 10)
        loss = nn.functional.binary_cross_entropy_with_logits(classifier(x * mask).squeeze(-1), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % RECORD_EVERY == 0:
            curve.append(evaluate(explainer, layer, classifier, data)["precision"])
    return evaluate(explainer, layer, classifier, data), curve


TUNING_SEED = 10
grids = {
    "I-MLE": ([3.0, 10.0, 30.0, 100.0], lambda value: lambda seed: imle_subset(K, value, seed=seed + 100)),
    "L2X Concrete": ([0.1, 0.5, 1.0], lambda value: lambda seed: ConcreteSubset(
        K, value, torch.Generator().manual_seed(seed + 100))),
    "SoftSub": ([0.1, 0.5, 1.0], lambda value: lambda seed: SoftSubset(
        K, value, torch.Generator().manual_seed(seed + 100))),
}
if SMOKE:
    grids = {name: (values[:1], make) for name, (values, make) in grids.items()}
start = time.perf_counter()
chosen = {}
for name, (values, make) in grids.items():
    scores = [train_synthetic(make(value), TUNING_SEED, validation_set)[0]["precision"] for value in values]
    chosen[name] = values[int(np.argmax(scores))]
    knob = "λ" if name == "I-MLE" else "τ"
    print(f"{name:13s} validation precision by {knob}: "
          + ", ".join(f"{value:g}: {score:.3f}" for value, score in zip(values, scores)) + f"  -> {chosen[name]:g}")
print(f"tuning: {time.perf_counter() - start:.0f} s")

methods = {
    f"I-MLE (λ = {chosen['I-MLE']:g}, 1 sample)": lambda seed: imle_subset(K, chosen["I-MLE"], seed=seed + 100),
    f"I-MLE (λ = {chosen['I-MLE']:g}, 4 samples)": lambda seed: imle_subset(K, chosen["I-MLE"], num_samples=4,
                                                                           seed=seed + 100),
    f"L2X Concrete (τ = {chosen['L2X Concrete']:g})": grids["L2X Concrete"][1](chosen["L2X Concrete"]),
    f"SoftSub (τ = {chosen['SoftSub']:g})": grids["SoftSub"][1](chosen["SoftSub"]),
}
results, curves = {}, {}
start = time.perf_counter()
for name, make_layer in methods.items():
    runs = [train_synthetic(make_layer, seed) for seed in SEEDS]
    results[name] = {key: np.array([final[key] for final, _ in runs]) for key in ("precision", "loss", "accuracy")}
    curves[name] = np.array([curve for _, curve in runs])
print(f"{len(methods)} methods x {len(SEEDS)} seeds x {STEPS} steps in {time.perf_counter() - start:.0f} s")

# %% [markdown]
# ### Results
#
# Mean ± standard deviation over the seeds of the hard selection's
# precision (the share of selected features that are relevant; a random
# 2-subset scores 0.2), and the classifier's test loss and accuracy on the
# selected features (the best possible accuracy is about 0.88: the labels
# are drawn from the sigmoid).

# %%
print(f"{'method':28s} {'precision':>17s} {'test loss':>17s} {'accuracy':>17s}")
for name, result in results.items():
    print(f"{name:28s} " + " ".join(
        f"{result[key].mean():9.3f} ± {result[key].std():5.3f}" for key in ("precision", "loss", "accuracy")))

fig, ax = plt.subplots(figsize=(6, 3.6))
steps = np.arange(1, curves[next(iter(curves))].shape[1] + 1) * RECORD_EVERY
for name, curve in curves.items():
    line, = ax.plot(steps, curve.mean(0), label=name)
    ax.fill_between(steps, curve.min(0), curve.max(0), alpha=0.15, color=line.get_color())
ax.axhline(0.2, color="grey", lw=0.8, ls=":")
ax.set_xlabel("training step")
ax.set_ylabel("test precision of the selection")
ax.set_ylim(0, 1.02)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Part 2: BeerAdvocate, the original experiment
#
# The original model in PyTorch: the explainer embeds the review (frozen
# word vectors when `review+wiki.filtered.200.txt` is present, else learned),
# a convolution with a global (max-pooled) and a local branch gives one
# score per position; the predictor averages the embeddings of the selected
# words and regresses the aspect's rating (MSE); `k = 10` words of at most
# 350. The original trained 20 epochs with batches of 40 and scored the
# selection on the annotated reviews with `subset_precision`. I-MLE uses the
# release's settings for this task (`τ = 10`, `λ = 1000`).

# %%
BEER_DIR = Path(os.environ.get("IMLE_BEER_DIR", "data/beer")).expanduser()
ASPECT = 1  # aroma; the annotations cover 0 (appearance), 1 (aroma) and 2 (palate)
TRAIN_FILE, HELDOUT_FILE = f"reviews.aspect{ASPECT}.train.txt", f"reviews.aspect{ASPECT}.heldout.txt"
have_data = all((BEER_DIR / name).is_file() for name in (TRAIN_FILE, HELDOUT_FILE, "annotations.json"))


def write_format_demo(folder: Path, num_reviews: int = 300, seed: int = 0) -> None:
    """A tiny made-up data set in the original file format (NOT BeerAdvocate).

    Reviews mix filler words with aroma words whose sentiment sets the aroma
    rating, so a selector has something to find.
    """
    rng = np.random.default_rng(seed)
    filler = "the a this beer pours glass bottle with some head color finish nice".split()
    good, bad = "citrus pine floral fruity".split(), "stale skunky musty cardboard".split()
    lines, annotations = [], []
    for _ in range(num_reviews):
        positive = rng.random() < 0.5
        tokens = list(rng.choice(filler, size=int(rng.integers(15, 30))))
        start = int(rng.integers(0, len(tokens)))
        aroma = ["smells", "of", *rng.choice(good if positive else bad, size=2)]
        tokens[start:start] = aroma
        ratings = rng.uniform(0.3, 0.7, size=5)
        ratings[1] = rng.uniform(0.7, 1.0) if positive else rng.uniform(0.0, 0.3)
        lines.append(" ".join(f"{r:.2f}" for r in ratings) + "\t" + " ".join(tokens))
        annotations.append({"x": tokens, "y": ratings.round(2).tolist(), "0": [], "1": [[start, start + 4]], "2": []})
    third = num_reviews // 3
    (folder / TRAIN_FILE).write_text("\n".join(lines[:2 * third]) + "\n", encoding="utf-8")
    (folder / HELDOUT_FILE).write_text("\n".join(lines[2 * third:]) + "\n", encoding="utf-8")
    (folder / "annotations.json").write_text("".join(json.dumps(a) + "\n" for a in annotations[2 * third:]),
                                             encoding="utf-8")


if have_data:
    data_dir = BEER_DIR
    print(f"BeerAdvocate files found in {BEER_DIR}: the original experiment, aspect {ASPECT} ({BEER_ASPECTS[ASPECT]})")
else:
    demo_folder = tempfile.TemporaryDirectory(prefix="beer-format-demo-")  # removed when the kernel exits
    data_dir = Path(demo_folder.name)
    write_format_demo(data_dir)
    print(f"no BeerAdvocate files in {BEER_DIR} (set IMLE_BEER_DIR): running on tiny made-up files in the "
          "same format — a demonstration of the pipeline, not a result")

MAX_LENGTH = 350 if have_data else 40
SELECT_K = 10 if have_data else 4
vocabulary = build_vocabulary(data_dir / TRAIN_FILE)
train_reviews = load_beer_reviews(data_dir / TRAIN_FILE, aspect=ASPECT, vocabulary=vocabulary, max_length=MAX_LENGTH)
heldout = load_beer_reviews(data_dir / HELDOUT_FILE, aspect=ASPECT, vocabulary=vocabulary, max_length=MAX_LENGTH)
annotated = load_beer_annotations(data_dir / "annotations.json", aspect=ASPECT, vocabulary=vocabulary,
                                  max_length=MAX_LENGTH)
embedding_file = data_dir / "review+wiki.filtered.200.txt"
if embedding_file.is_file():
    embeddings, found = load_word_embeddings(embedding_file, vocabulary)
    print(f"word vectors for {found:,} of {len(vocabulary):,} words (frozen, as in the original)")
else:
    embeddings = None
    print("no word vectors: the embeddings are learned")
print(f"{train_reviews.num_reviews:,} training reviews, {heldout.num_reviews:,} held out, "
      f"{annotated.num_reviews:,} annotated; vocabulary {len(vocabulary):,}")

# %%
class Explainer(nn.Module):
    """The L2X word selector: one score per position, from a global and a local view."""

    def __init__(self, embedding: nn.Embedding, filters: int = 100):
        super().__init__()
        self.embedding = embedding
        self.first = nn.Conv1d(embedding.embedding_dim, filters, 3, padding=1)
        self.global_dense = nn.Linear(filters, filters)
        self.local = nn.Sequential(nn.Conv1d(filters, filters, 3, padding=1), nn.ReLU(),
                                   nn.Conv1d(filters, filters, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Conv1d(2 * filters, filters, 1), nn.ReLU(),
                                  nn.Conv1d(filters, 1, 1))

    def forward(self, token_ids):  # (batch, L) -> scores (batch, L)
        first = torch.relu(self.first(self.embedding(token_ids).transpose(1, 2)))  # (batch, filters, L)
        global_info = torch.relu(self.global_dense(first.max(dim=2).values))  # (batch, filters)
        local_info = self.local(first)  # (batch, filters, L)
        combined = torch.cat([global_info.unsqueeze(2).expand_as(local_info), local_info], dim=1)
        return self.head(combined).squeeze(1)


class Predictor(nn.Module):
    """The rating from the mean embedding of the selected words."""

    def __init__(self, embedding: nn.Embedding, k: int, hidden: int = 250):
        super().__init__()
        self.embedding, self.k = embedding, k
        self.net = nn.Sequential(nn.Linear(embedding.embedding_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, token_ids, mask):  # (batch, L), (batch, L) -> (batch,)
        pooled = (self.embedding(token_ids) * mask.unsqueeze(-1)).sum(1) / self.k
        return torch.sigmoid(self.net(pooled)).squeeze(-1)


def make_embedding(seed: int) -> nn.Embedding:
    torch.manual_seed(seed)
    if embeddings is not None:
        return nn.Embedding.from_pretrained(torch.from_numpy(embeddings), freeze=True)
    return nn.Embedding(max(vocabulary.values()) + 1, 32)


BEER_EPOCHS = 1 if SMOKE else (20 if have_data else 15)
BEER_BATCH = 40


def train_beer(make_layer, seed: int):
    """Train explainer and predictor; return the held-out MSE and the annotated subset precision."""
    explainer = Explainer(make_embedding(seed))
    predictor = Predictor(make_embedding(seed) if embeddings is not None else explainer.embedding, SELECT_K)
    layer = make_layer(seed)
    parameters = {id(p): p for p in [*explainer.parameters(), *predictor.parameters()] if p.requires_grad}
    optimiser = torch.optim.Adam(parameters.values(), lr=1e-3)
    ids, ratings = torch.from_numpy(train_reviews.token_ids), torch.from_numpy(train_reviews.ratings)
    order = torch.Generator().manual_seed(seed)
    for _ in range(BEER_EPOCHS):
        for batch in torch.randperm(len(ids), generator=order).split(BEER_BATCH):
            mask = layer(explainer(ids[batch]))
            loss = nn.functional.mse_loss(predictor(ids[batch], mask), ratings[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    for module in (explainer, predictor, layer):
        module.eval()
    with torch.no_grad():
        held = torch.from_numpy(heldout.token_ids)
        mse = float(nn.functional.mse_loss(predictor(held, layer(explainer(held))), torch.from_numpy(heldout.ratings)))
        annotated_ids = torch.from_numpy(annotated.token_ids)
        selected = layer(explainer(annotated_ids)).numpy()
    precision = subset_precision(selected, annotated.relevant, annotated.token_ids, k=SELECT_K)
    return mse, precision


beer_methods = {
    "I-MLE (τ = 10, λ = 1000)": lambda seed: imle_subset(SELECT_K, 1000.0, noise_temperature=10.0, seed=seed),
    "L2X Concrete (τ = 0.1)": lambda seed: ConcreteSubset(SELECT_K, 0.1, torch.Generator().manual_seed(seed)),
    "SoftSub (τ = 0.5)": lambda seed: SoftSubset(SELECT_K, 0.5, torch.Generator().manual_seed(seed)),
}
beer_seeds = [0] if SMOKE else [0, 1, 2]
start = time.perf_counter()
print(f"{'method':26s} {'held-out MSE':>17s} {'subset precision':>17s}")
for name, make_layer in beer_methods.items():
    scores = np.array([train_beer(make_layer, seed) for seed in beer_seeds])  # (seeds, 2)
    print(f"{name:26s} {scores[:, 0].mean():9.4f} ± {scores[:, 0].std():.4f} "
          f"{scores[:, 1].mean():9.3f} ± {scores[:, 1].std():.3f}")
print(f"({len(beer_methods)} methods x {len(beer_seeds)} seeds x {BEER_EPOCHS} epochs in "
      f"{time.perf_counter() - start:.0f} s{'' if have_data else '; made-up data: the numbers mean nothing'})")

# %% [markdown]
# ## What to read from it
#
# In the stored run (part 1, three seeds, test set):
#
# * **Every method finds the relevant features most of the time, and here
#   the relaxations find them more often.** Precision: SoftSub 0.98,
#   L2X Concrete 0.96, I-MLE 0.93 with four samples and 0.89 with one,
#   I-MLE with the widest spread over seeds. This does *not* reproduce the
#   paper's ranking, which was measured on BeerAdvocate (350-word reviews,
#   k = 10); a 10-feature task with a strong signal is easy for a
#   relaxation, whose soft mask gives the classifier a gradient on every
#   feature.
# * **The relaxations are trained on one thing and used as another.** They
#   train the classifier on a soft mask and are scored on the hard top-k.
#   SoftSub's best temperature for precision (τ = 1, a very soft mask)
#   leaves the classifier worst on the hard selection: test loss 0.37
#   against 0.30 for I-MLE (four samples) and Concrete, accuracy 0.83
#   against 0.87-0.88. I-MLE trains on exactly the k-hot masks it is scored
#   on.
# * **I-MLE's λ matters on this task.** On the validation set, one seed per
#   value, λ = 3, 10, 30, 100 gave precision 0.67, 0.44, 0.90, 0.57; the
#   choice is noisy, and more seeds per value would pick it better. The
#   relaxations were flat over their temperature grids.
#
# On BeerAdvocate the I-MLE paper reports a higher subset precision for
# I-MLE than for L2X and SoftSub at a similar test MSE (aroma and the other
# annotated aspects, k = 5, 10, 15). Part 2 runs that experiment when the
# files are present; the original trained 20 epochs per run on a GPU —
# expect hours per method on two CPU cores. Its made-up stand-in above only
# shows the pipeline working; it is far too small to rank anything (I-MLE
# with the original's τ = 10 noise barely moves in 75 steps on it).
