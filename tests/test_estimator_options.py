"""What a user sees when an estimator is configured or fed wrongly.

* negative costs the model predicts for an oracle that needs non-negative
  ones: a warning once per layer (default), an error, or a silent clamp —
  never the silent clamp that stalled training (every negative cell free,
  paths tied, gradient zero);
* a class where an instance belongs (``target=AdaptiveTarget``,
  ``noise=Gumbel``), a ``torch.distributions`` object as noise, a target's
  parameter given to the estimator (``IMLE(o, lambda_=5)``): refused at
  construction with what to do, or accepted;
* ``print(model)`` shows the target and its step, the noise and the samples.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import imle_solvers as im
from imle_solvers import get_oracle


def grid():
    return get_oracle("shortest_path_grid")


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def costs_with_negatives():
    """Two 4x4 maps, a quarter of the cells negative (instance 1 only)."""
    costs = torch.rand(2, 4, 4, generator=seeded(1), dtype=torch.float64) + 0.5
    costs[1, :2, :] = -0.25  # 8 of 32 entries
    return costs


ESTIMATORS = {
    "imle": lambda o, **kw: im.IMLE(o, generator=seeded(), **kw),
    "imle_eval": lambda o, **kw: im.IMLE(o, generator=seeded(), **kw).eval(),  # the noiseless eval path
    "aimle": lambda o, **kw: im.IMLE(o, target=im.AdaptiveTarget(), generator=seeded(), **kw),
    "blackbox": lambda o, **kw: im.Blackbox(o, lambda_=2.0, **kw),
    "straight_through": lambda o, **kw: im.StraightThrough(o, **kw),
    "perturbed": lambda o, **kw: im.PerturbedOptimizer(o, num_samples=2, generator=seeded(), **kw),
    "fenchel_young": lambda o, **kw: im.FenchelYoungLoss(o, num_samples=2, generator=seeded(), **kw),
}


def run(name, layer, costs):
    w = costs.clone().requires_grad_(True)
    if name == "fenchel_young":
        layer(w, torch.zeros_like(w)).backward()
    else:
        (layer(w) * torch.randn(w.shape, generator=seeded(2), dtype=w.dtype)).sum().backward()
    return w.grad


# ---------------------------------------------------------------------- #
# 1. Negative model costs
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize("name", ESTIMATORS)
def test_negative_model_costs_warn_once_per_layer_with_share_and_remedy(name):
    layer = ESTIMATORS[name](grid())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            run(name, layer, costs_with_negatives())
    found = [w for w in caught if issubclass(w.category, im.ImleSolversWarning)]
    assert len(found) == 1, [str(w.message) for w in found]  # once per layer, not once per call
    message = str(found[0].message)
    assert "25.0% of the costs the model gave oracle 'shortest_path_grid' are negative (min -0.25)" in message
    assert "softplus or exp" in message and "negative='raise'" in message
    assert found[0].filename == __file__  # points at the user's code
    with warnings.catch_warnings(record=True) as caught:  # a new layer warns again
        warnings.simplefilter("always")
        run(name, ESTIMATORS[name](grid()), costs_with_negatives())
    assert sum(issubclass(w.category, im.ImleSolversWarning) for w in caught) == 1


@pytest.mark.parametrize("name", ESTIMATORS)
def test_negative_model_costs_raise_names_the_instance(name):
    layer = ESTIMATORS[name](grid(), negative="raise")
    with pytest.raises(im.InvalidInputError, match=r"oracle 'shortest_path_grid' needs non-negative costs, but the "
                                                   r"model's theta has negative entries \(first at theta's batch "
                                                   r"index \(1,\); 25\.0% of all entries.*softplus") as info:
        run(name, layer, costs_with_negatives())
    assert info.value.index == (1,) and info.value.oracle == "shortest_path_grid"
    assert "negative='raise'" in repr(layer)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_negative_clamp_is_silent_and_positive_costs_never_warn(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", im.ImleSolversWarning)
        run(name, ESTIMATORS[name](grid(), negative="clamp"), costs_with_negatives())
        # small positive costs: noise pushes many perturbed costs below zero, which is clamped silently
        run(name, ESTIMATORS[name](grid()), torch.full((2, 4, 4), 0.05, dtype=torch.float64))


def test_clamped_model_costs_give_the_solution_of_the_clamped_map():
    costs = costs_with_negatives()
    with pytest.warns(im.ImleSolversWarning):
        z = im.Blackbox(grid())(costs)
    torch.testing.assert_close(z, grid()(costs.clamp(min=0)))


def test_the_silent_stall_the_warning_is_about():
    # Instance 1's negative rows all cost zero once clamped: the path runs along
    # the top, and a loss that wants it elsewhere gets zero gradient there.
    costs = costs_with_negatives()
    w = costs.clone().requires_grad_(True)
    with pytest.warns(im.ImleSolversWarning, match="gradient vanishes"):
        z = im.Blackbox(grid(), lambda_=0.1)(w)
    (z * torch.ones_like(z)).sum().backward()  # shorter paths wanted
    assert (w.grad[1, :2] == 0).all()


def test_unknown_negative_mode_is_refused():
    with pytest.raises(im.InvalidInputError, match=r"IMLE: expected negative in \('warn', 'raise', 'clamp'\)"):
        im.IMLE(grid(), negative="ignore")


def test_oracles_without_the_capability_are_not_checked():
    layer = im.IMLE(get_oracle("topk", k=1), negative="raise")
    layer(torch.tensor([[-3.0, -1.0, -2.0]]))  # scores may be negative


# ---------------------------------------------------------------------- #
# 3. A class instead of an instance
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize("make, expected", [
    (lambda o: im.IMLE(o, target=im.AdaptiveTarget), "IMLE: target=AdaptiveTarget is a class, not an object; "
                                                     "pass an instance: AdaptiveTarget()"),
    (lambda o: im.IMLE(o, target=im.PerturbedTarget), "pass an instance: PerturbedTarget()"),
    (lambda o: im.IMLE(o, noise=im.Gumbel), "IMLE: noise=Gumbel is a class, not an object; pass an instance: Gumbel()"),
    (lambda o: im.imle(torch.zeros(1, 3), o, noise=im.SumOfGamma), "pass an instance: SumOfGamma()"),
    (lambda o: im.imle(torch.zeros(1, 3), o, target=im.AdaptiveTarget), "pass an instance: AdaptiveTarget()"),
    (lambda o: im.PerturbedOptimizer(o, noise=im.Normal), "PerturbedOptimizer: noise=Normal is a class"),
    (lambda o: im.FenchelYoungLoss(o, noise=im.Gumbel), "FenchelYoungLoss: noise=Gumbel is a class"),
    (lambda o: im.IMLE(o, noise=torch.distributions.Gumbel), "pass an instance: Gumbel()"),
])
def test_a_class_instead_of_an_instance_is_refused_at_construction(make, expected):
    with pytest.raises(im.InvalidInputError) as info:
        make(get_oracle("onehot"))
    assert expected in str(info.value)


# ---------------------------------------------------------------------- #
# 4. torch.distributions as noise
# ---------------------------------------------------------------------- #
def test_torch_distribution_as_noise_draws_from_torchs_global_state():
    oracle = get_oracle("onehot")
    theta = torch.tensor([[0.0, 0.5, 1.0], [2.0, 0.0, 0.1]], requires_grad=True)
    layer = im.IMLE(oracle, noise=torch.distributions.Gumbel(0.0, 1.0), num_samples=5, reduction="none")
    assert isinstance(layer.noise, im.DistributionNoise)
    torch.manual_seed(3)
    z = layer(theta)
    torch.manual_seed(3)
    eps = torch.distributions.Gumbel(0.0, 1.0).sample((5, 2, 3))
    torch.testing.assert_close(z, oracle(theta.detach() + eps))
    z.sum().backward()
    assert theta.grad.shape == theta.shape


def test_torch_distribution_noise_refuses_a_generator_at_construction():
    for make in (lambda: im.IMLE(get_oracle("onehot"), noise=torch.distributions.Gumbel(0.0, 1.0),
                                 generator=seeded()),
                 lambda: im.PerturbedOptimizer(get_oracle("onehot"), noise=torch.distributions.Normal(0.0, 1.0),
                                               generator=seeded()),
                 lambda: im.imle(torch.zeros(1, 3), get_oracle("onehot"),
                                 noise=torch.distributions.Gumbel(0.0, 1.0), generator=seeded())):
        with pytest.raises(im.InvalidInputError, match="cannot use generator=.*torch.manual_seed"):
            make()


def test_distribution_noise_density_gradient_and_shape_checks():
    z = torch.linspace(-2, 3, 11, dtype=torch.float64)
    normal = im.DistributionNoise(torch.distributions.Normal(0.0, 2.0))
    torch.testing.assert_close(normal.neg_log_density_grad(z), z / 4)
    gumbel = im.DistributionNoise(torch.distributions.Gumbel(0.0, 1.0))
    torch.testing.assert_close(gumbel.neg_log_density_grad(z), im.Gumbel().neg_log_density_grad(z))
    with pytest.raises(im.InvalidInputError, match=r"scalar distribution .* batch_shape \(3,\)"):
        im.DistributionNoise(torch.distributions.Normal(torch.zeros(3), 1.0))
    # PerturbedOptimizer with it: softmax of theta in the mean, as with im.Gumbel()
    torch.manual_seed(0)
    layer = im.PerturbedOptimizer(get_oracle("onehot"), num_samples=20_000, noise=torch.distributions.Gumbel(0.0, 1.0))
    theta = torch.tensor([0.0, 1.0, -0.5])
    torch.testing.assert_close(layer(theta), torch.softmax(theta, -1), atol=0.02, rtol=0)


# ---------------------------------------------------------------------- #
# 5. A target's parameter given to the estimator
# ---------------------------------------------------------------------- #
def test_lambda_given_to_imle_points_to_the_target():
    oracle = get_oracle("onehot")
    with pytest.raises(im.InvalidInputError, match=r"IMLE: lambda_ belongs to the target, not to IMLE: pass "
                                                   r"target=PerturbedTarget\(lambda_=5\)"):
        im.IMLE(oracle, lambda_=5)
    with pytest.raises(im.InvalidInputError, match=r"target=AdaptiveTarget\(beta=2\.0\)"):
        im.IMLE(oracle, beta=2.0)
    with pytest.raises(im.InvalidInputError, match=r"unknown option 'num_sample' \(did you mean 'num_samples'\?\)"):
        im.IMLE(oracle, num_sample=4)
    with pytest.raises(im.InvalidInputError, match=r"imle: lambda_ belongs to the target.*PerturbedTarget\(lambda_=5\)"):
        im.imle(torch.zeros(2, 3), oracle, lambda_=5)


# ---------------------------------------------------------------------- #
# 10. print(model)
# ---------------------------------------------------------------------- #
def test_printed_modules_show_target_step_noise_and_samples():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), im.IMLE(get_oracle("topk", k=2), noise=im.SumOfGamma(2),
                                                               target=im.PerturbedTarget(lambda_=5.0), num_samples=3))
    text = str(model)
    assert "target=PerturbedTarget(lambda_=5.0, alpha=1.0)" in text
    assert "noise=SumOfGamma(k=2.0, num_terms=10)" in text and "num_samples=3" in text
    adaptive = str(im.IMLE(get_oracle("topk", k=2), target=im.AdaptiveTarget(beta=0.5, symmetric=True)))
    assert "(target): AdaptiveTarget(beta=0.5, target_nonzeros=1.0" in adaptive and "symmetric=True" in adaptive
    assert "noise=Gumbel(scale=1.0)" in adaptive
    assert "lambda_=2.0" in str(im.Blackbox(get_oracle("onehot"), lambda_=2.0))
    assert "sigma=0.5, num_samples=4, noise=Normal(scale=1.0)" in str(im.PerturbedOptimizer(get_oracle("onehot"), 0.5, 4))
