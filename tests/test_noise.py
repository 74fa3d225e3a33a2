"""Noise distributions: closed-form moments, the Gamma sampler, generators, devices.

Statistical checks are seeded; each allows 5 standard errors (two-sided, a
chance below 1e-6 per check of failing for a correct sampler under a fresh
seed) or a Kolmogorov-Smirnov p-value above 1e-6.
"""

import math

import numpy as np
import pytest
import torch
from scipy import stats

import imle_solvers as im
from imle_solvers.noise import Gumbel, Noise, Normal, SumOfGamma, _gamma_fixed_rounds, standard_gamma

EULER_GAMMA = 0.5772156649015329
N = 200_000


def assert_mean_var(samples, mean, var, fourth_central):
    """Sample mean and variance within 5 standard errors of the closed forms."""
    samples = samples.double()
    n = samples.numel()
    se_mean = math.sqrt(var / n)
    se_var = math.sqrt((fourth_central - var * var) / n)
    assert abs(float(samples.mean()) - mean) < 5 * se_mean, (float(samples.mean()), mean, se_mean)
    assert abs(float(samples.var()) - var) < 5 * se_var, (float(samples.var()), var, se_var)


@pytest.mark.parametrize("concentration", [0.1, 1 / 3, 1.0, 2.5, 12.0])
def test_standard_gamma_moments_and_distribution(concentration):
    generator = torch.Generator().manual_seed(7)
    x = standard_gamma(concentration, (N,), generator=generator, dtype=torch.float64)
    a = concentration
    # Gamma(a, 1): mean a, variance a, fourth central moment 3a^2 + 6a
    assert_mean_var(x, a, a, 3 * a * a + 6 * a)
    assert float(x.min()) >= 0
    assert stats.kstest(x.numpy(), "gamma", args=(a,)).pvalue > 1e-6


@pytest.mark.parametrize("concentration", [0.2, 1.5])
def test_gamma_fill_loop_when_spares_run_short(monkeypatch, concentration):
    """With no spare proposals every rejected place goes through the until-enough loop; still Gamma(a),
    float32 too (as the layers draw it)."""
    from imle_solvers import noise as noise_module

    monkeypatch.setattr(noise_module, "_spares", lambda n: 0)
    calls = []
    original = noise_module._proposals

    def counting(d, c, n, *args):
        calls.append(n)
        return original(d, c, n, *args)

    monkeypatch.setattr(noise_module, "_proposals", counting)
    for dtype in (torch.float64, torch.float32):
        calls.clear()
        x = standard_gamma(concentration, (N,), generator=torch.Generator().manual_seed(5), dtype=dtype)
        assert calls[0] == N and len(calls) >= 3 and 0.01 * N < calls[1] < 0.06 * N  # the loop ran
        assert x.dtype == dtype and bool(torch.isfinite(x).all()) and float(x.min()) >= 0
        assert stats.kstest(x.double().numpy(), "gamma", args=(concentration,)).pvalue > 1e-6
        assert_mean_var(x.double(), concentration, concentration, 3 * concentration**2 + 6 * concentration)


@pytest.mark.parametrize("concentration", [0.2, 1.5])
def test_fixed_round_gamma_path_used_on_devices(concentration):
    # the no-sync path taken on CUDA, exercised here on the CPU
    a = concentration + 1 if concentration < 1 else concentration
    d = a - 1 / 3
    x = _gamma_fixed_rounds(d, 1 / math.sqrt(9 * d), N, torch.Generator().manual_seed(3), torch.device("cpu"),
                            torch.float64)
    assert stats.kstest(x.numpy(), "gamma", args=(a,)).pvalue > 1e-6
    assert_mean_var(x, a, a, 3 * a * a + 6 * a)


@pytest.mark.parametrize("k, num_terms", [(1, 10), (5, 10), (12, 3), (3, 50)])
def test_sum_of_gamma_k_fold_sum_has_closed_form_moments(k, num_terms):
    generator = torch.Generator().manual_seed(11)
    eps = SumOfGamma(k, num_terms).sample((50_000, k), generator=generator, dtype=torch.float64)
    total = eps.sum(-1)  # the sum of k independent draws
    harmonic = sum(1 / i for i in range(1, num_terms + 1))
    mean = harmonic - math.log(num_terms)
    var = sum(1 / i**2 for i in range(1, num_terms + 1))
    # the fourth central moment of the sum is not a short closed form; use the sample's
    centred = total - total.mean()
    assert_mean_var(total, mean, var, float((centred**4).mean()))
    # one draw: mean (H_s - ln s) / k
    assert abs(float(eps.mean()) - mean / k) < 5 * math.sqrt(var / k / eps.numel())


def test_sum_of_gamma_tends_to_gumbel():
    # with many terms, the k-fold sum is close to Gumbel(0, 1) in distribution
    generator = torch.Generator().manual_seed(5)
    total = SumOfGamma(4, num_terms=200).sample((20_000, 4), generator=generator, dtype=torch.float64).sum(-1)
    # the truncation shifts the mean by H_s - ln s - gamma ~ 1/(2s) = 0.0025; KS on 20k draws cannot see it
    assert stats.kstest(total.numpy(), "gumbel_r").pvalue > 1e-6


def test_gumbel_moments_and_distribution():
    x = Gumbel(scale=2.0).sample((N,), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    var = 4 * math.pi**2 / 6
    assert_mean_var(x, 2 * EULER_GAMMA, var, 5.4 * var * var)  # Gumbel kurtosis 3 + 12/5
    assert stats.kstest(x.numpy(), "gumbel_r", args=(0, 2)).pvalue > 1e-6
    assert torch.isfinite(x).all()


def test_normal_moments():
    x = Normal(0.5).sample((N,), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert_mean_var(x, 0.0, 0.25, 3 * 0.25**2)


@pytest.mark.parametrize("noise", [Gumbel(), Normal(), SumOfGamma(3)], ids=repr)
def test_generator_makes_draws_reproducible(noise):
    a = noise.sample((4, 5), generator=torch.Generator().manual_seed(1))
    b = noise.sample((4, 5), generator=torch.Generator().manual_seed(1))
    c = noise.sample((4, 5), generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("noise", [Gumbel(), Normal(), SumOfGamma(3)], ids=repr)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_shape_dtype_device(noise, dtype):
    x = noise.sample(torch.Size([2, 3, 4]), dtype=dtype, device="cpu")
    assert x.shape == (2, 3, 4) and x.dtype == dtype and x.device.type == "cpu"
    assert torch.isfinite(x).all()
    assert noise.sample((0, 3)).shape == (0, 3)
    assert isinstance(noise, Noise)


def test_default_dtype_and_empty_shape():
    assert Gumbel().sample(()).shape == () and Gumbel().sample(()).dtype == torch.get_default_dtype()
    assert SumOfGamma(2).sample(()).shape == ()


def test_neg_log_density_grad_matches_autograd():
    z = torch.linspace(-2, 3, 11, dtype=torch.float64, requires_grad=True)
    for noise, log_density in (
        (Gumbel(1.5), lambda v: stats.gumbel_r.logpdf(v, scale=1.5)),
        (Normal(0.7), lambda v: stats.norm.logpdf(v, scale=0.7)),
    ):
        # finite differences of scipy's log-density as the independent reference
        h = 1e-6
        values = z.detach().numpy()
        reference = -(log_density(values + h) - log_density(values - h)) / (2 * h)
        np.testing.assert_allclose(noise.neg_log_density_grad(z.detach()).numpy(), reference, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "make",
    [lambda: Gumbel(0), lambda: Gumbel(-1), lambda: Normal(float("nan")), lambda: SumOfGamma(0),
     lambda: SumOfGamma(2, num_terms=0), lambda: SumOfGamma(2, num_terms=2.5)],
)
def test_bad_parameters_are_refused(make):
    with pytest.raises(im.InvalidInputError):
        make()


def test_integer_dtype_is_refused():
    with pytest.raises(im.InvalidInputError, match="floating dtype"):
        Gumbel().sample((3,), dtype=torch.int64)


def test_lazy_public_names():
    assert im.Gumbel is Gumbel and im.SumOfGamma is SumOfGamma and im.Normal is Normal
    assert {"Gumbel", "SumOfGamma", "IMLE", "AdaptiveTarget"} <= set(im.__all__)
