# %% [markdown]
# # Learning to select k features with the I-MLE top-k subset layer (TensorFlow / Keras)
#
# The original I-MLE release (NeurIPS 2021) came with a Keras layer,
# `IMLESubsetkLayer`, that samples a k-subset of its inputs with
# perturb-and-MAP (sum-of-gamma noise, top-k) and backpropagates with I-MLE.
# `imle_solvers.tf.IMLESubsetkLayer` reproduces it — with the Gamma
# parametrisation of its noise fixed (the original passed a scale where
# `tf.random.gamma` takes a rate; see `docs/tensorflow.md`).
#
# The task is a synthetic version of "learning to explain" (L2X): each input
# has `n` features, and the label is a function of only `k` of them; *which*
# `k` depends on the input (feature 0 switches between two groups). A
# selector network outputs one logit per feature, the layer turns them into a
# k-hot mask, and a predictor sees only the masked input. Nothing tells the
# selector which features matter: it learns them through the gradient of the
# prediction loss.
#
# Run it as a script (`python examples/tf_topk_subset.py`, add `--smoke` or
# set `IMLE_SMOKE=1` for a run of a few seconds) or open it as a notebook
# with Jupytext.

# %%
import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from imle_solvers.tf import IMLESubsetkLayer  # noqa: E402

keras = tf.keras

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--smoke", action="store_true", help="a small, fast run (also: IMLE_SMOKE=1)")
parser.add_argument("--seed", type=int, default=0)
args, _ = parser.parse_known_args(sys.argv[1:] if __name__ == "__main__" else [])
SMOKE = args.smoke or os.environ.get("IMLE_SMOKE", "") not in ("", "0")

N_FEATURES, K = 12, 3
NUM_TRAIN, NUM_TEST = (3_000, 1_000) if SMOKE else (20_000, 4_000)
EPOCHS = 6 if SMOKE else 20
keras.utils.set_random_seed(args.seed)

# %% [markdown]
# ## Data
#
# Feature 0 is a switch: when it is positive the label depends on features
# 1, 2 (and the switch itself), otherwise on features 3, 4 (and the switch).
# So the right 3-subset differs between instances.

# %%
GROUP_POSITIVE = np.array([0, 1, 2])
GROUP_NEGATIVE = np.array([0, 3, 4])


def make_data(num: int, rng: np.random.Generator):
    x = rng.normal(size=(num, N_FEATURES)).astype("float32")
    positive = x[:, 0] > 0
    y = np.where(positive, x[:, 1] * x[:, 2] + x[:, 1], x[:, 3] * x[:, 4] - x[:, 4]) + 0.5 * x[:, 0]
    relevant = np.zeros((num, N_FEATURES), dtype="float32")
    relevant[positive[:, None] & np.isin(np.arange(N_FEATURES), GROUP_POSITIVE)[None]] = 1.0
    relevant[~positive[:, None] & np.isin(np.arange(N_FEATURES), GROUP_NEGATIVE)[None]] = 1.0
    return x, y.astype("float32")[:, None], relevant


rng = np.random.default_rng(args.seed)
x_train, y_train, _ = make_data(NUM_TRAIN, rng)
x_test, y_test, relevant_test = make_data(NUM_TEST, rng)

# %% [markdown]
# ## Model
#
# Selector → `IMLESubsetkLayer(k, tau, lambda_)` → mask → predictor on
# `x * mask`. In training the layer samples `topk(logits + tau * eps)`; at
# inference (`model.predict`, `training=False`) it returns the noiseless
# `topk(logits)`.


# %%
class SelectAndPredict(keras.Model):
    def __init__(self, k: int, tau: float, lambda_: float, seed: int):
        super().__init__()
        self.selector = keras.Sequential([keras.layers.Dense(64, activation="relu"), keras.layers.Dense(N_FEATURES)])
        self.subset = IMLESubsetkLayer(k, tau=tau, lambda_=lambda_, seed=seed)
        self.predictor = keras.Sequential(
            [keras.layers.Dense(64, activation="relu"), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(1)]
        )

    def mask(self, x, training=False):
        return self.subset(self.selector(x), training=training)  # (batch, n), k ones per row

    def call(self, x, training=False):
        return self.predictor(x * self.mask(x, training=training), training=training)


model = SelectAndPredict(K, tau=1.0, lambda_=10.0, seed=args.seed)
model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")

# %% [markdown]
# ## Training

# %%
start = time.perf_counter()
history = model.fit(x_train, y_train, batch_size=100, epochs=EPOCHS, verbose=0)
train_seconds = time.perf_counter() - start

# %% [markdown]
# ## Evaluation
#
# Precision of the selected features against the truly relevant ones
# (1.0: every selected feature matters), and the test error against a
# predictor that always answers the mean.

# %%
mask = model.mask(tf.constant(x_test)).numpy()  # noiseless top-k
precision = float((mask * relevant_test).sum() / mask.sum())
test_mse = float(model.evaluate(x_test, y_test, verbose=0))
baseline_mse = float(np.mean((y_test - y_train.mean()) ** 2))
print(f"train loss per epoch: {', '.join(f'{v:.3f}' for v in history.history['loss'])}")
print(f"training time {train_seconds:.1f} s for {EPOCHS} epochs of {NUM_TRAIN} examples")
print(f"test mse {test_mse:.3f} (predicting the mean: {baseline_mse:.3f})")
print(f"precision of the selected features {precision:.3f} (chance: {K / N_FEATURES:.3f})")
