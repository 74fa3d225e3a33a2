"""The TensorFlow front end (imle_solvers.tf) against the PyTorch estimators and closed forms.

TensorFlow is imported once for the module (it takes seconds). Statistical
checks are seeded and allow 5 standard errors (a chance below 1e-6 per check
of failing for a correct sampler under another seed); the learning test and
the example's smoke run are seeded and pass with a wide margin (observed
accuracy 0.935-0.963 over five seeds against 0.85 asserted; precision 0.62-0.71 over four seeds
against 0.45 asserted, chance 0.25).
"""

from __future__ import annotations

import importlib
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import torch
from scipy import stats

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# isort: off
# imle_solvers.tf before tensorflow: it loads OR-Tools first, which CP-SAT needs (google/or-tools#3230)
import imle_solvers as im  # noqa: E402
import imle_solvers.tf as itf  # noqa: E402
import tensorflow as tf  # noqa: E402
# isort: on
from imle_solvers.oracles.selection import TopK  # noqa: E402
from imle_solvers.tf import _noise as tf_noise  # noqa: E402
from imle_solvers.tf._noise import _standard_gamma  # noqa: E402
from tests.test_estimators_oracles import grid_oracle, knapsack_oracle  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "tf_topk_subset.py"


# --------------------------------------------------------------------------- #
# Noise
# --------------------------------------------------------------------------- #
def assert_mean_var(samples: np.ndarray, mean: float, var: float) -> None:
    """Sample mean and variance within 5 standard errors (fourth moment from the sample)."""
    n = samples.size
    centred = samples - samples.mean()
    se_mean = math.sqrt(var / n)
    se_var = math.sqrt((float((centred**4).mean()) - var * var) / n)
    assert abs(samples.mean() - mean) < 5 * se_mean, (samples.mean(), mean, se_mean)
    assert abs(samples.var() - var) < 5 * se_var, (samples.var(), var, se_var)


def flawed_original_sum_of_gamma(shape, k: float, num_terms: int = 10) -> tf.Tensor:
    """The original release's sample_sum_of_gamma (tau = 1): tf.random.gamma(shape, 1/k, k/i),
    where beta = k/i is a rate (the paper's term is Gamma(1/k, rate i/k))."""
    terms = [tf.random.gamma(shape, 1.0 / k, k / i, dtype=tf.float64) for i in range(1, num_terms + 1)]
    return (tf.add_n(terms) - math.log(num_terms)) / k


@pytest.mark.parametrize("k, num_terms, seeded", [(1, 10, True), (5, 10, True), (3, 20, False)])
def test_sum_of_gamma_k_fold_sum_has_closed_form_moments_and_the_flawed_one_does_not(k, num_terms, seeded):
    tf.random.set_seed(11)
    generator = tf.random.Generator.from_seed(11) if seeded else None
    eps = itf.SumOfGamma(k, num_terms).sample([50_000, k], generator=generator, dtype=tf.float64)
    total = tf.reduce_sum(eps, -1).numpy()  # the sum of k independent draws
    mean = sum(1 / i for i in range(1, num_terms + 1)) - math.log(num_terms)  # H_s - ln s
    var = sum(1 / i**2 for i in range(1, num_terms + 1))
    assert_mean_var(total, mean, var)

    flawed = tf.reduce_sum(flawed_original_sum_of_gamma([50_000, k], k, num_terms), -1).numpy()
    se_mean = math.sqrt(var / flawed.size)
    # far off: at least 20 standard errors in the mean or 20% in the variance (observed: hundreds of SEs)
    assert abs(flawed.mean() - mean) > 20 * se_mean or abs(flawed.var() / var - 1) > 0.2
    # and it is the parametrisation, not the sampler: the flawed mean is sum_i i/k^2 - ln s
    flawed_mean = sum(i / k**2 for i in range(1, num_terms + 1)) - math.log(num_terms)
    assert abs(flawed.mean() - flawed_mean) < 5 * math.sqrt(flawed.var() / flawed.size)


def splitmix64_reference(state: int, count: int) -> list[int]:
    """Vigna's splitmix64.c, in Python integers."""
    out, mask = [], (1 << 64) - 1
    for _ in range(count):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        out.append(z ^ (z >> 31))
    return out


def test_splitmix64_is_the_published_generator():
    """The samplers' uniforms come from SplitMix64: its published first outputs for seed 1234567, and ours equal
    the reference stream from the state the seed pair names (start - 1 = top 62 bits of s0 xor s1 * MIX1)."""
    assert splitmix64_reference(1234567, 2) == [6457827717110365317, 3203168211198807973]
    mask = (1 << 64) - 1
    for s0, s1 in [(5, 0), (-3, 2**62 + 7), (2**63 - 1, -(2**63))]:
        start = ((s0 & mask) ^ ((s1 & mask) * 0xBF58476D1CE4E5B9 & mask)) >> 2
        ours = tf_noise._splitmix64(tf.constant(6), tf.constant([s0, s1], tf.int64)).numpy().tolist()
        assert ours == splitmix64_reference(start * 0x9E3779B97F4A7C15 & mask, 6)


@pytest.mark.parametrize("dtype, grid", [(tf.float32, 2**24), (tf.float64, 2**53)])
def test_sampler_uniforms_are_uniform_and_independent(dtype, grid):
    n = 1_000_000
    u = tf_noise._uniform(tf.constant(n), tf.constant([11, 12], tf.int64), dtype).numpy()
    assert u.dtype == dtype.as_numpy_dtype and u.shape == (n,)
    assert u.min() >= 0 and u.max() < 1 and np.all(u * grid == np.floor(u * grid))  # k / grid, never 1
    assert stats.kstest(u, "uniform").pvalue > 1e-6
    assert_mean_var(u.astype(np.float64), 0.5, 1 / 12)
    se = 1 / math.sqrt(n / 2)
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 * se  # neighbours (the two halves of one output in float32)
    first, second = u[: n // 2], u[n // 2 :]  # as the samplers split them: proposals and acceptance tests
    assert abs(np.corrcoef(first, second)[0, 1]) < 5 * se
    counts = np.histogram2d(first, second, bins=16, range=[[0, 1], [0, 1]])[0]
    assert stats.chisquare(counts.ravel()).pvalue > 1e-6
    other = tf_noise._uniform(tf.constant(8), tf.constant([11, 13], tf.int64), dtype).numpy()
    assert not np.array_equal(u[:8], other)  # seed pairs that differ in the second half draw differently
    np.testing.assert_array_equal(u[:8], tf_noise._uniform(tf.constant(8), tf.constant([11, 12], tf.int64),
                                                             dtype).numpy())


@pytest.mark.parametrize("concentration", [1 / 12, 0.2, 0.21, 1 / 3, 1.0, 2.5, 12.0])
def test_gamma_sampler_moments_and_distribution(concentration):
    """The samplers in TensorFlow ops draw Gamma(a, 1): Liu-Martin-Syring up to shape 0.2, Marsaglia-Tsang
    above (boosted below 1)."""
    a = concentration
    x = _standard_gamma(a, [200_000], tf.random.Generator.from_seed(7), tf.float64).numpy()
    assert_mean_var(x, a, a)
    assert x.min() >= 0 and np.isfinite(x).all()
    assert stats.kstest(x, "gamma", args=(a,)).pvalue > 1e-6
    # float32, as the layers draw it, and TensorFlow's global random ops (generator=None)
    tf.random.set_seed(8)
    y = _standard_gamma(a, [100_000], None, tf.float32).numpy()
    assert y.dtype == np.float32 and np.isfinite(y).all() and y.min() >= 0
    assert stats.kstest(y.astype(np.float64), "gamma", args=(a,)).pvalue > 1e-6


@pytest.mark.parametrize("concentration", [0.01, 0.05])
def test_gamma_sampler_very_small_shapes(concentration):
    """Shapes far below 1 (SumOfGamma(k) with k in the hundreds), in float64: most of Gamma(0.01)'s mass lies below
    float32's normal range (42% under 1.2e-38), so only float64 can show the distribution whole."""
    a = concentration
    x = _standard_gamma(a, [200_000], tf.random.Generator.from_seed(9), tf.float64).numpy()
    assert_mean_var(x, a, a)
    assert x.min() >= 0 and np.isfinite(x).all()
    assert stats.kstest(x, "gamma", args=(a,)).pvalue > 1e-6


@pytest.mark.parametrize("concentration, proposals, rejected", [
    (0.1, "_small_shape_proposals", (0.05, 0.11)),  # acceptance 0.92
    (0.5, "_proposals", (0.01, 0.06)),
    (1.5, "_proposals", (0.01, 0.06)),
])
def test_gamma_sampler_rejection_loop(monkeypatch, concentration, proposals, rejected):
    """With no spare proposals, every rejected place is filled by the until-enough loop; still Gamma(a)."""
    monkeypatch.setattr(tf_noise, "_spares", lambda count, floor=None: tf.constant(0, tf.int32))
    monkeypatch.setattr(tf_noise, "_bucket", lambda count: count)  # no extra proposals either
    calls = []

    def counting_proposals(count, seed, *args):
        calls.append(int(count))
        return original(count, seed, *args)

    original = getattr(tf_noise, proposals)
    monkeypatch.setattr(tf_noise, proposals, counting_proposals)
    x = tf_noise._gamma_graph(tf.constant(concentration, tf.float64), tf.constant([200_000]),
                              tf.constant([5, 6], tf.int64), tf_noise._method(concentration),
                              tf.float64).numpy()  # eager: the loop runs in Python
    assert calls[0] == 200_000 and len(calls) >= 3  # the loop ran, and more than once
    low, high = rejected
    assert 200_000 * low < calls[1] < 200_000 * high  # it drew for the rejected places
    assert stats.kstest(x, "gamma", args=(concentration,)).pvalue > 1e-6
    assert_mean_var(x, concentration, concentration)


def test_gamma_sampler_fills_rejected_places_with_spares_in_order():
    """The rejected places take the accepted spares in order; accepted proposals stay in place."""
    alpha = tf.constant(1.5, tf.float64)
    seed = tf.constant([1, 2], tf.int64)
    n = 5_000
    x = tf_noise._gamma_graph(alpha, tf.constant([n]), seed, "mt", tf.float64).numpy()
    first_seed, _ = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    d = 1.5 - 1 / 3
    draw, accept = tf_noise._proposals(tf.constant(n) + tf_noise._spares(tf.constant(n)), first_seed,
                                       tf.constant(d, tf.float64), 1 / tf.sqrt(tf.constant(9 * d, tf.float64)),
                                       1 / alpha, False, tf.float64)
    draw, accept = draw.numpy(), accept.numpy()
    np.testing.assert_array_equal(x[accept[:n]], draw[:n][accept[:n]])
    rejected = ~accept[:n]
    assert 0 < rejected.sum() < 0.06 * n
    np.testing.assert_array_equal(x[rejected], draw[n:][accept[n:]][: rejected.sum()])


@pytest.mark.parametrize("concentration, no_spares", [(1 / 12, False), (1 / 12, True), (0.5, False), (2.0, True)])
def test_sum_of_gamma_sums_the_draws_the_gamma_sampler_fills_in(monkeypatch, concentration, no_spares):
    """The sum-of-gamma sampler adds the spares of the rejected places (weight 1/i) instead of filling them in:
    for the same seed it returns the weighted sum of the Gamma sampler's draws of shape (s, *shape) -- the
    same proposals, the same spares, for the same places; also when the spares run short and the loop draws."""
    if no_spares:
        monkeypatch.setattr(tf_noise, "_spares", lambda count, floor=None: tf.constant(0, tf.int32))
    alpha, seed = tf.constant(concentration, tf.float64), tf.constant([3, 4], tf.int64)
    method = tf_noise._method(concentration)
    gammas = tf_noise._gamma_graph(alpha, tf.constant([7, 30, 20]), seed, method, tf.float64).numpy()
    expected = np.tensordot(1 / np.arange(1, 8), gammas, axes=1) - concentration * math.log(7)
    eps = tf_noise._sum_of_gamma_graph(alpha, tf.constant(7), tf.constant([30, 20]), seed, method, tf.float64)
    assert eps.shape == (30, 20)
    np.testing.assert_allclose(eps.numpy(), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("concentration", [1 / 12, 0.5, 2.0])
def test_xla_kernel_and_tensorflow_ops_draw_the_same(concentration):
    """The proposals' XLA kernel (the default) and the same math as TensorFlow ops give the same draws from the
    same seed (float64: the last bits of log and exp never flip an acceptance at this size)."""
    alpha, seed = tf.constant(concentration, tf.float64), tf.constant([8, 9], tf.int64)
    method = tf_noise._method(concentration)
    draws = [tf_noise._sum_of_gamma_graph(alpha, tf.constant(10), tf.constant([40, 30]), seed, method, tf.float64,
                                          xla=xla).numpy() for xla in (True, False)]
    np.testing.assert_allclose(draws[0], draws[1], rtol=1e-12, atol=1e-15)
    noise = itf.SumOfGamma(3, xla=False)
    assert repr(noise) == "SumOfGamma(k=3.0, num_terms=10, xla=False)"
    assert noise.sample([5, 3], generator=tf.random.Generator.from_seed(1)).shape == (5, 3)
    with pytest.raises(im.InvalidInputError, match="xla"):
        itf.SumOfGamma(3, xla="yes")


def test_proposal_counts_come_in_buckets():
    """XLA compiles the proposals once per count: counts are rounded up to 16 sizes per doubling, at most 6.25%
    more proposals (the extra ones are spares)."""
    counts = np.unique(np.geomspace(1, 3_000_000, 4_000).astype(np.int32))
    buckets = tf_noise._bucket(tf.constant(counts)).numpy()
    assert np.all(buckets >= counts) and np.all(buckets <= np.maximum(counts * 1.0625, counts + 1))
    for low in (2**10, 2**16, 2**20):
        inside = (counts >= low) & (counts < 2 * low)
        assert len(np.unique(buckets[inside])) <= 17


def test_gamma_sampler_shapes_and_reproducibility():
    g = tf.random.Generator.from_seed
    assert _standard_gamma(0.5, [], g(0), tf.float32).shape == ()
    assert _standard_gamma(0.5, [3, 0, 2], g(0), tf.float32).shape == (3, 0, 2)
    a = _standard_gamma(0.5, tf.constant([4, 5]), g(1), tf.float64).numpy()
    np.testing.assert_array_equal(a, _standard_gamma(0.5, [4, 5], g(1), tf.float64).numpy())
    assert not np.array_equal(a, _standard_gamma(0.5, [4, 5], g(2), tf.float64).numpy())
    tf.random.set_seed(3)
    first = itf.SumOfGamma(3).sample([6])
    tf.random.set_seed(3)
    np.testing.assert_array_equal(first.numpy(), itf.SumOfGamma(3).sample([6]).numpy())

    @tf.function
    def in_graph(batch):  # a dynamic batch size inside a traced function, as in Keras
        return itf.SumOfGamma(2).sample(tf.stack([batch, 3]), generator=generator)

    generator = g(4)
    assert in_graph(tf.constant(5)).shape == (5, 3) and in_graph(tf.constant(2)).shape == (2, 3)


def test_gumbel_moments_and_reproducible_generators():
    x = itf.Gumbel(2.0).sample([200_000], generator=tf.random.Generator.from_seed(2), dtype=tf.float64).numpy()
    assert_mean_var(x, 2 * 0.5772156649015329, 4 * math.pi**2 / 6)
    for noise in (itf.Gumbel(), itf.SumOfGamma(3)):
        a = noise.sample([4, 5], generator=tf.random.Generator.from_seed(1))
        b = noise.sample([4, 5], generator=tf.random.Generator.from_seed(1))
        c = noise.sample([4, 5], generator=tf.random.Generator.from_seed(2))
        assert a.dtype == tf.float32 and a.shape == (4, 5)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert not np.array_equal(a.numpy(), c.numpy())
        assert noise.sample([2, 3], dtype=tf.float16).dtype == tf.float16


def test_torch_side_noise_and_target_objects_are_converted():
    layer = itf.IMLE(im.get_oracle("topk", k=2), noise=im.SumOfGamma(3, num_terms=7), target=im.PerturbedTarget(2.0, 0.5))
    assert isinstance(layer.noise, itf.SumOfGamma) and (layer.noise.k, layer.noise.num_terms) == (3.0, 7)
    assert isinstance(layer.target, itf.PerturbedTarget) and (layer.target.lambda_, layer.target.alpha) == (2.0, 0.5)
    assert isinstance(itf.IMLE(im.get_oracle("onehot"), noise=im.Gumbel(0.5)).noise, itf.Gumbel)
    with pytest.raises(im.InvalidInputError, match="imle_solvers.tf.AdaptiveTarget"):
        itf.IMLE(im.get_oracle("topk", k=2), target=im.AdaptiveTarget())


# --------------------------------------------------------------------------- #
# The same numbers as the PyTorch estimators
# --------------------------------------------------------------------------- #
class FixedNoise:
    """torch-side noise that returns given values (unit eps of shape (S, *theta.shape))."""

    def __init__(self, values: np.ndarray):
        self.values = values

    def sample(self, shape, *, generator=None, device=None, dtype=None):
        assert tuple(shape) == self.values.shape
        return torch.as_tensor(self.values, dtype=dtype, device=device)


class NumpyTopK(TopK):
    """The built-in top-k, but through its numpy solve (tf.numpy_function), not tf.math.top_k."""


GRAPH = nx.grid_2d_graph(3, 3).to_directed()


def make_problem(name: str, rng: np.random.Generator):
    """(oracle, theta, instance data) for a batch of 2 instances."""
    if name in ("topk", "topk_numpy"):
        oracle = im.get_oracle("topk", k=3) if name == "topk" else NumpyTopK(3)
        return oracle, rng.normal(size=(2, 7)), {}
    if name == "shortest_path":
        oracle = im.get_oracle("shortest_path", graph=GRAPH, source=(0, 0), target=(2, 2))
        return oracle, rng.uniform(0.0, 1.0, size=(2, GRAPH.number_of_edges())), {}
    if name in ("shortest_path_grid", "grid_dijkstra"):
        oracle = im.get_oracle("shortest_path_grid") if name == "shortest_path_grid" else grid_oracle()
        return oracle, rng.uniform(0.0, 1.0, size=(2, 4, 4)), {}
    if name == "knapsack":
        weights = rng.uniform(0.5, 2.0, size=(2, 6))
        return knapsack_oracle(), rng.normal(size=(2, 6)), {"weights": weights, "capacity": np.array([2.5, 3.0])}
    raise AssertionError(name)


ORACLES = ["topk", "topk_numpy", "shortest_path_grid", "shortest_path", "grid_dijkstra", "knapsack"]

CONFIGS = {
    "mean": dict(num_samples=1, reduction="mean"),
    "none_temperatures": dict(num_samples=3, reduction="none", noise_temperature=0.7, target_temperature=1.5,
                              target=("perturbed", dict(lambda_=3.0, alpha=0.9))),
    "mean_samples_no_target_noise": dict(num_samples=4, reduction="mean", target_temperature=0.0,
                                         target=("perturbed", dict(lambda_=0.5))),
    "no_noise": dict(num_samples=2, reduction="none", noise=None),
    "aimle": dict(num_samples=2, reduction="mean", target=("adaptive", dict(beta=0.5, update_step=0.2))),
    "aimle_symmetric": dict(num_samples=3, reduction="none",
                            target=("adaptive", dict(symmetric=True, norm="theta", update_step=0.3, target_nonzeros=2.0))),
}


def build(config: dict, side: str):
    """The options of one config for the torch (``side="torch"``) or the TF estimator."""
    options = dict(config)
    kind, kwargs = options.pop("target", ("perturbed", {}))
    module = im if side == "torch" else itf
    options["target"] = (module.PerturbedTarget if kind == "perturbed" else module.AdaptiveTarget)(**kwargs)
    return options


@pytest.mark.parametrize("config_name", list(CONFIGS))
@pytest.mark.parametrize("oracle_name", ORACLES)
def test_same_outputs_and_gradients_as_torch(oracle_name, config_name, rng):
    oracle, theta, data = make_problem(oracle_name, rng)
    config = CONFIGS[config_name]
    samples = config["num_samples"]
    with_noise = config.get("noise", "gumbel") is not None
    torch_options = {key: value for key, value in build(config, "torch").items() if key != "noise"}
    tf_options = {key: value for key, value in build(config, "tf").items() if key != "noise"}
    torch_layer = im.IMLE(oracle, noise=None, **torch_options)  # noise set per step below
    clamped = gradient_seen = False
    for _ in range(3):  # several steps: an adaptive target's state must evolve alike
        eps = rng.gumbel(size=(samples, *theta.shape))  # unit noise, shared by both estimators
        torch_layer.noise = FixedNoise(eps) if with_noise else None
        theta_torch = torch.tensor(theta, requires_grad=True)
        z_torch = torch_layer(theta_torch, **{key: torch.as_tensor(value) for key, value in data.items()})
        grad_output = rng.normal(size=tuple(z_torch.shape))  # the same incoming gradient
        z_torch.backward(torch.as_tensor(grad_output))

        theta_tf = tf.Variable(theta)
        with tf.GradientTape() as tape:
            z_tf = itf.imle(theta_tf, oracle, noise_values=eps if with_noise else None,
                            noise="gumbel" if with_noise else None, **tf_options, **data)
        grad_tf = tape.gradient(z_tf, theta_tf, output_gradients=tf.constant(grad_output)).numpy()

        assert z_tf.dtype == tf.float64 and tuple(z_tf.shape) == tuple(z_torch.shape)
        np.testing.assert_allclose(z_tf.numpy(), z_torch.detach().numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(grad_tf, theta_torch.grad.numpy(), rtol=1e-9, atol=1e-12)
        gradient_seen |= bool(np.abs(grad_tf).sum() > 0)
        if oracle.sense == "min" and with_noise:
            clamped |= bool((theta[None] - config.get("noise_temperature", 1.0) * eps < 0).any())
        theta = theta - 0.3 * grad_tf if oracle.sense == "max" else np.abs(theta - 0.3 * grad_tf)
    assert gradient_seen  # not a comparison of zeros
    tf_target, torch_target = tf_options["target"], torch_layer.target
    if isinstance(tf_target, itf.AdaptiveTarget):
        np.testing.assert_allclose(float(tf_target.beta.numpy()), float(torch_target.beta), rtol=1e-6)
        np.testing.assert_allclose(float(tf_target.nonzeros.numpy()), float(torch_target.nonzeros), rtol=1e-6)
        assert float(tf_target.beta.numpy()) != config["target"][1].get("beta", 1.0)  # it did adapt
    if oracle.sense == "min" and with_noise:
        assert clamped  # the clamp of perturbed costs at zero was exercised


def test_gradient_matches_the_formula_by_hand():
    """Noiseless top-k: dL/dtheta = (topk(theta) - topk(theta - lambda g)) / lambda (numpy reference)."""
    theta = np.array([[0.3, 1.2, -0.4, 0.9, 0.0], [2.0, -1.0, 0.5, 0.4, 0.6]])
    g = np.array([[0.0, 0.5, -0.6, 0.1, 0.0], [0.1, 0.0, 0.0, 0.3, -0.5]])
    oracle = im.get_oracle("topk", k=2)
    variable = tf.Variable(theta)
    with tf.GradientTape() as tape:
        z = itf.imle(variable, oracle, noise=None, target=itf.PerturbedTarget(lambda_=2.0))
    grad = tape.gradient(z, variable, output_gradients=tf.constant(g)).numpy()
    np.testing.assert_array_equal(z.numpy(), oracle(theta))
    np.testing.assert_allclose(grad, (oracle(theta) - oracle(theta - 2.0 * g)) / 2.0)
    assert np.abs(grad).sum() > 0


def test_subset_layer_is_imle_with_sum_of_gamma_and_the_same_temperature_in_the_target(rng):
    logits = rng.normal(size=(3, 8)).astype("float32")
    eps = rng.gumbel(size=(1, 3, 8)).astype("float32")
    grad_output = rng.normal(size=(3, 8)).astype("float32")
    layer = itf.IMLESubsetkLayer(3, tau=2.0, lambda_=4.0)
    reference = itf.IMLE(im.get_oracle("topk", k=3), noise=itf.SumOfGamma(3), noise_temperature=2.0,
                         target_temperature=2.0, target=itf.PerturbedTarget(4.0))
    results = []
    for model in (layer, reference):
        variable = tf.Variable(logits)
        with tf.GradientTape() as tape:
            z = model(variable, training=True, noise_values=eps)
        results.append((z.numpy(), tape.gradient(z, variable, output_gradients=grad_output).numpy()))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    perturbed = logits + 2.0 * eps[0]
    target = logits - 4.0 * grad_output + 2.0 * eps[0]
    topk = im.get_oracle("topk", k=3)
    np.testing.assert_allclose(results[0][1], (topk(perturbed) - topk(target)) / 4.0, atol=1e-7)
    assert isinstance(layer.noise, itf.SumOfGamma) and layer.noise.k == 3
    clone = itf.IMLESubsetkLayer.from_config(layer.get_config())
    assert (clone.k, clone.tau, clone.lambda_, clone.num_terms) == (3, 2.0, 4.0, 10)


def test_keras_saving(tmp_path, rng):
    x = rng.normal(size=(4, 5)).astype("float32")
    layer = itf.IMLESubsetkLayer(2, tau=1.5, xla=False)
    model = tf.keras.Sequential([tf.keras.Input((5,)), tf.keras.layers.Dense(6), layer])
    model.save(tmp_path / "subset.keras")
    loaded = tf.keras.models.load_model(tmp_path / "subset.keras")
    assert isinstance(loaded.layers[-1], itf.IMLESubsetkLayer) and loaded.layers[-1].tau == 1.5
    assert loaded.layers[-1].noise.xla is False
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))

    def adaptive_model():
        target = itf.AdaptiveTarget()
        layer = itf.IMLE(im.get_oracle("topk", k=2), target=target)
        return tf.keras.Sequential([tf.keras.Input((5,)), tf.keras.layers.Dense(6), layer]), target

    model, target = adaptive_model()
    target.beta.assign(0.25)
    model.save_weights(tmp_path / "adaptive.weights.h5")
    with pytest.raises(NotImplementedError, match="save_weights"):
        model.save(tmp_path / "adaptive.keras")
    restored, restored_target = adaptive_model()
    restored.load_weights(tmp_path / "adaptive.weights.h5")
    assert float(restored_target.beta.numpy()) == 0.25  # the AIMLE state travels with the weights


# --------------------------------------------------------------------------- #
# Layer behaviour, shapes, errors
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_inference_returns_the_noiseless_map_and_training_samples(reduction, rng):
    graph_oracle = im.get_oracle("shortest_path", graph=GRAPH, source=(0, 0), target=(2, 2))
    for oracle, theta in (
        (im.get_oracle("topk", k=2), rng.normal(size=(4, 6)).astype("float32")),
        (graph_oracle, rng.uniform(0.1, 1.0, size=(4, GRAPH.number_of_edges())).astype("float32")),
    ):
        layer = itf.IMLE(oracle, noise_temperature=5.0, num_samples=3, reduction=reduction, seed=0)
        expected = oracle(theta)
        if reduction == "none":
            expected = np.broadcast_to(expected, (3, *theta.shape))
        for training in (None, False):
            np.testing.assert_array_equal(layer(tf.constant(theta), training=training).numpy(), expected)
        sampled = layer(tf.constant(theta), training=True).numpy()
        assert sampled.shape == expected.shape and not np.array_equal(sampled, expected)  # tau = 5 moves it
        variable = tf.Variable(theta)
        with tf.GradientTape() as tape:
            z = layer(variable, training=False)
            loss = tf.reduce_sum(z * rng.normal(size=z.shape).astype("float32"))
        assert tape.gradient(loss, variable).shape == theta.shape  # gradients still flow


@pytest.mark.parametrize("native", [True, False], ids=["tf_top_k", "numpy_function"])
@pytest.mark.parametrize("samples", [1, 4])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_output_and_gradient_shapes_with_a_dynamic_batch(samples, reduction, native):
    oracle = im.get_oracle("topk", k=2) if native else NumpyTopK(2)
    layer = itf.IMLE(oracle, num_samples=samples, reduction=reduction, seed=1)

    @tf.function(input_signature=[tf.TensorSpec([None, 3, 5], tf.float32)])
    def step(theta):
        with tf.GradientTape() as tape:
            tape.watch(theta)
            z = layer(theta, training=True)
            loss = tf.reduce_sum(z * tf.range(5, dtype=tf.float32))
        return z, tape.gradient(loss, theta)

    z, grad = step(tf.random.normal([2, 3, 5]))
    expected = (2, 3, 5) if reduction == "mean" else (samples, 2, 3, 5)
    assert z.shape == expected and grad.shape == (2, 3, 5)
    np.testing.assert_allclose(tf.reduce_sum(z, -1).numpy(), 2.0, rtol=1e-6)  # each sample is a 2-subset
    assert tuple(layer.compute_output_shape((None, 3, 5))) == ((None, 3, 5) if reduction == "mean"
                                                                else (samples, None, 3, 5))


def test_layer_passes_instance_data_to_the_oracle(rng):
    theta = rng.normal(size=(3, 6))
    data = {"weights": rng.uniform(0.5, 2.0, size=(3, 6)), "capacity": np.array([2.0, 2.5, 3.0])}
    eps = rng.gumbel(size=(2, 3, 6))
    layer = itf.IMLE(knapsack_oracle(), num_samples=2, reduction="none", dtype="float64")
    np.testing.assert_array_equal(layer(tf.constant(theta), **data).numpy(),
                                  np.broadcast_to(knapsack_oracle()(theta, **data), (2, 3, 6)))
    variable = tf.Variable(theta)
    with tf.GradientTape(persistent=True) as tape:
        z_layer = layer(variable, training=True, noise_values=eps, **data)
        z_function = itf.imle(variable, knapsack_oracle(), num_samples=2, reduction="none", noise_values=eps, **data)
    np.testing.assert_array_equal(z_layer.numpy(), z_function.numpy())
    repeated = {key: np.broadcast_to(value, (2, *value.shape)) for key, value in data.items()}  # over samples
    np.testing.assert_array_equal(z_layer.numpy(), knapsack_oracle()(theta[None] + eps, **repeated))
    grad_output = tf.constant(rng.normal(size=(2, 3, 6)))
    np.testing.assert_array_equal(tape.gradient(z_layer, variable, output_gradients=grad_output).numpy(),
                                  tape.gradient(z_function, variable, output_gradients=grad_output).numpy())


def test_adaptive_target_adapts_in_training_only_and_is_saved_with_the_weights():
    target = itf.AdaptiveTarget(update_step=0.5, target_nonzeros=0.1)  # counts are multiples of 1/4: beta moves
    layer = itf.IMLE(im.get_oracle("topk", k=2), target=target, num_samples=2, seed=0)
    theta = tf.Variable(tf.random.normal([4, 6]))
    for training in (False, True):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(theta, training=training) * tf.range(6, dtype=tf.float32))
        tape.gradient(loss, theta)
        assert (float(target.beta.numpy()) == 1.0) == (not training)
    assert {w.name for w in layer.non_trainable_weights} == {"beta", "nonzeros"}

    @tf.function
    def graph_step():  # the state also moves inside a tf.function (as under Keras fit)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(theta, training=True) * tf.range(6, dtype=tf.float32))
        return tape.gradient(loss, theta)

    before = float(target.beta.numpy())
    graph_step()
    graph_step()
    assert float(target.beta.numpy()) != before


@pytest.mark.parametrize("k", [1, 3, 7])
def test_native_top_k_equals_the_oracle_with_ties_in_graphs_and_under_xla(k):
    """The TensorFlow top-k (selection by the k-th largest value, sorting where it is tied, top_k under XLA)
    returns what the numpy oracle returns: the lower index wins ties."""
    from imle_solvers.tf._oracle import native_solver

    oracle = im.get_oracle("topk", k=k)
    solve = native_solver(oracle)
    rng = np.random.default_rng(k)
    continuous = rng.normal(size=(2, 50, 7))
    tied = rng.integers(0, 3, size=(2, 50, 7)).astype(np.float64)  # most rows tie at the k-th value
    mixed = continuous.copy()
    mixed[0, 5] = tied[0, 5]  # one tied row among untied ones
    for values in (continuous, tied, mixed):
        expected = oracle(values.reshape(-1, 7)).reshape(values.shape)
        for run in (solve, tf.function(solve), tf.function(solve, jit_compile=True)):
            np.testing.assert_array_equal(run(tf.constant(values)).numpy(), expected)


def test_supports_jit_only_for_native_oracles_and_xla_noise():
    assert itf.IMLE(im.get_oracle("topk", k=2)).supports_jit  # tf.math.top_k + Gumbel
    assert not itf.IMLE(im.get_oracle("topk", k=2), noise=itf.SumOfGamma(2)).supports_jit  # no XLA Gamma
    assert not itf.IMLE(NumpyTopK(2)).supports_jit  # tf.numpy_function
    layer = itf.IMLE(im.get_oracle("topk", k=2), seed=0)
    compiled = tf.function(lambda theta: layer(theta, training=True), jit_compile=True)
    np.testing.assert_allclose(tf.reduce_sum(compiled(tf.random.normal([3, 5])), -1).numpy(), 2.0)


def test_bad_input_gets_clear_errors():
    oracle = im.get_oracle("topk", k=2)
    with pytest.raises(im.InvalidInputError, match="noise_values of shape"):
        itf.imle(tf.zeros([2, 5]), oracle, noise_values=np.zeros((1, 2, 4)))
    with pytest.raises(im.InvalidInputError, match="reduction"):
        itf.IMLE(oracle, reduction="sum")
    with pytest.raises(im.InvalidInputError, match="floating-point"):
        itf.imle(tf.zeros([2, 5], tf.int32), oracle)
    with pytest.raises(im.InvalidInputError, match="sense"):
        itf.imle(tf.zeros([2, 5]), lambda x: x)
    with pytest.raises(im.InvalidInputError, match="n >= k=2"):
        itf.imle(tf.zeros([2, 1]), oracle)
    # an oracle's own error comes through in eager mode as the library's exception
    with pytest.raises(im.OracleError, match="test_knapsack.*batch index"):  # no capacity given
        itf.imle(tf.zeros([2, 4], tf.float64), knapsack_oracle(), weights=np.ones((2, 4)))
    with pytest.raises(im.InvalidInputError, match="finite"):
        itf.imle(tf.constant([[np.nan, 1.0, 2.0]]), oracle, noise=None)
    with pytest.raises(im.InvalidInputError, match="finite"):
        itf.imle(tf.constant([[np.nan, 1.0, 2.0]]), NumpyTopK(2), noise=None)


# --------------------------------------------------------------------------- #
# Keras training, the example, the missing-dependency path
# --------------------------------------------------------------------------- #
def test_keras_model_learns_a_target_k_subset():
    """A linear scorer + IMLESubsetkLayer learns which k of n items a hidden linear rule picks."""
    n, k, d = 10, 3, 8
    rng = np.random.default_rng(0)
    tf.keras.utils.set_random_seed(0)
    hidden = rng.normal(size=(d, n))
    x = rng.normal(size=(1_200, d)).astype("float32")
    y = im.get_oracle("topk", k=k)(x @ hidden).astype("float32")  # the target k-subsets
    model = tf.keras.Sequential([tf.keras.Input((d,)), tf.keras.layers.Dense(n),
                                 itf.IMLESubsetkLayer(k, tau=1.0, lambda_=10.0, seed=0)])
    # a summed loss: dL/dz = 2 (z - y) is on the scale of the logits, so lambda_ = 10 moves the target
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss=tf.keras.losses.MeanSquaredError(reduction="sum"))
    before = float(np.mean((model.predict(x[:200], verbose=0) * y[:200]).sum(-1) / k))
    model.fit(x[200:], y[200:], batch_size=50, epochs=8, verbose=0)
    predicted = model.predict(x[:200], verbose=0)  # inference: noiseless top-k
    accuracy = float(np.mean((predicted * y[:200]).sum(-1) / k))  # fraction of the right items picked
    assert np.all(predicted.sum(-1) == k)
    assert accuracy > 0.85 and before < 0.6, (before, accuracy)


def test_example_runs_in_smoke_mode():
    env = dict(os.environ, IMLE_SMOKE="1", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, str(EXAMPLE), "--smoke"], capture_output=True, text=True, env=env,
                            timeout=240, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    precision = float(re.search(r"precision of the selected features ([0-9.]+)", result.stdout).group(1))
    assert precision > 0.45, result.stdout  # chance: 0.25


def test_missing_tensorflow_raises_an_error_naming_the_extra(monkeypatch):
    for name in list(sys.modules):
        if name == "imle_solvers.tf" or name.startswith("imle_solvers.tf."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # `import tensorflow` now raises ImportError
    with pytest.raises(im.MissingDependencyError, match=r"imle-solvers\[tf\]") as error:
        importlib.import_module("imle_solvers.tf")
    assert isinstance(error.value, ImportError)
    # imle_solvers itself does not need TensorFlow
    assert "imle_solvers.tf" not in im.__all__ and callable(im.get_oracle)


def test_cp_sat_works_beside_tensorflow_when_imle_solvers_tf_came_first():
    """OR-Tools CP-SAT loaded after TensorFlow crashes in solve (google/or-tools#3230); imle_solvers.tf,
    imported above before tensorflow, loads it first. Without that this test dies with a segfault."""
    rng = np.random.default_rng(0)
    assert list(sys.modules).index("ortools.sat.python.cp_model") < list(sys.modules).index("tensorflow")
    theta = rng.normal(size=(2, 6))
    a_ub = rng.integers(-2, 4, size=(2, 3, 6)).astype(float)
    b_ub = rng.integers(1, 6, size=(2, 3)).astype(float)
    cpsat = im.get_oracle("ilp", backend="cpsat")(theta, A_ub=a_ub, b_ub=b_ub)
    np.testing.assert_array_equal(cpsat, im.get_oracle("ilp", backend="mip")(theta, A_ub=a_ub, b_ub=b_ub))


def test_cp_sat_loaded_after_tensorflow_warns_first():
    # a stand-in module named tensorflow: the order check only looks at sys.modules
    code = (
        "import sys, types, warnings, numpy as np\n"
        "sys.modules['tensorflow'] = types.ModuleType('tensorflow')\n"
        "import imle_solvers as im\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    im.get_oracle('ilp')(np.array([1.0, -1.0, 2.0]), A_ub=np.ones((1, 3)), b_ub=np.array([1.0]))\n"
        "print([str(w.message) for w in caught if issubclass(w.category, im.ImleSolversWarning)])\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "google/or-tools#3230" in result.stdout and "imle_solvers.tf" in result.stdout


# ---------------------------------------------------------------------- #
# Refused at construction, as in the torch front end
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize("options, expected", [
    ({"target": itf.AdaptiveTarget}, "IMLE: target=AdaptiveTarget is a class, not an object; pass an instance: "
                                     "AdaptiveTarget()"),
    ({"noise": itf.Gumbel}, "IMLE: noise=Gumbel is a class, not an object; pass an instance: Gumbel()"),
    ({"noise": torch.distributions.Gumbel(0.0, 1.0)}, "a torch.distributions object cannot draw TensorFlow noise"),
    ({"lambda_": 5}, "IMLE: lambda_ belongs to the target, not to IMLE: pass target=PerturbedTarget(lambda_=5)"),
])
def test_tf_refuses_classes_torch_distributions_and_target_options(options, expected):
    with pytest.raises(im.InvalidInputError) as info:
        itf.IMLE(im.get_oracle("topk", k=1), **options)
    assert expected in str(info.value)
    with pytest.raises(im.InvalidInputError):
        itf.imle(tf.zeros((1, 3)), im.get_oracle("topk", k=1), **{k: v for k, v in options.items() if k != "lambda_"}
                 or {"target": itf.PerturbedTarget})
