"""Estimators: shapes, dtypes, signs, exact equalities, instance data, state, errors.

The closed-form checks (perturbed optimizer vs softmax, Fenchel-Young vs
cross-entropy) are seeded and allow 5 standard errors (a chance below 1e-6
per entry of failing for a correct estimator under a fresh seed).
"""

import math

import numpy as np
import pytest
import torch

import imle_solvers as im
from imle_solvers.oracles import FunctionOracle
from tests.test_estimators_oracles import grid_oracle, knapsack_oracle

EULER_GAMMA = 0.5772156649015329


class ZeroNoise:
    def sample(self, shape, *, generator=None, device=None, dtype=None):
        return torch.zeros(shape, device=device, dtype=dtype)


class CountingOracle(FunctionOracle):
    """A FunctionOracle that records the shape of every call."""

    def __init__(self, fn, **kwargs):
        super().__init__(fn, **kwargs)
        self.calls = []

    def __call__(self, theta, **data):
        self.calls.append(tuple(theta.shape))
        return super().__call__(theta, **data)


def argmax_onehot(theta):
    z = np.zeros_like(theta)
    z[np.argmax(theta)] = 1.0
    return z


def argmin_onehot(costs):
    z = np.zeros_like(costs)
    z[np.argmin(costs)] = 1.0
    return z


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def estimators(oracle):
    """Every estimator, configured to run on ``oracle``."""
    return {
        "imle": im.IMLE(oracle, generator=seeded()),
        "imle_sog": im.IMLE(oracle, noise=im.SumOfGamma(2), num_samples=3, generator=seeded()),
        "aimle": im.IMLE(oracle, target=im.AdaptiveTarget(), num_samples=2, generator=seeded()),
        "aimle_symmetric": im.IMLE(oracle, target=im.AdaptiveTarget(symmetric=True), generator=seeded()),
        "blackbox": im.Blackbox(oracle, lambda_=3.0),
        "perturbed": im.PerturbedOptimizer(oracle, 0.5, 4, generator=seeded()),
        "straight_through": im.StraightThrough(oracle),
    }


# --------------------------------------------------------------------------- #
# Shapes, dtypes, layouts
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", list(estimators(im.get_oracle("topk", k=2))))
@pytest.mark.parametrize("shape", [(5,), (1, 5), (2, 3, 5)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_dtypes_and_gradient_shape(name, shape, dtype):
    layer = estimators(im.get_oracle("topk", k=2))[name]
    theta = torch.randn(shape, dtype=dtype, generator=seeded(1)).requires_grad_(True)
    z = layer(theta)
    assert z.shape == shape and z.dtype == dtype
    assert torch.allclose(z.detach().sum(-1), torch.full(shape[:-1], 2.0, dtype=dtype))
    (z * torch.randn(shape, dtype=dtype, generator=seeded(2))).sum().backward()
    assert theta.grad.shape == theta.shape and theta.grad.dtype == dtype
    assert torch.isfinite(theta.grad).all()


@pytest.mark.parametrize("num_samples", [1, 4])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_num_samples_and_reductions(num_samples, reduction):
    theta = torch.randn(3, 6, generator=seeded(1), requires_grad=True)
    layer = im.IMLE(im.get_oracle("topk", k=2), num_samples=num_samples, reduction=reduction, generator=seeded())
    z = layer(theta)
    if reduction == "none":
        assert z.shape == (num_samples, 3, 6)
        assert ((z == 0) | (z == 1)).all() and (z.sum(-1) == 2).all()
    else:
        assert z.shape == (3, 6)
        assert torch.allclose(z.sum(-1), torch.full((3,), 2.0))
    z.sum().backward()
    assert theta.grad.shape == theta.shape


def test_reductions_agree_for_the_same_loss():
    # loss(mean_s z_s) with "mean" and mean_s loss(z_s) with "none" are the same linear loss
    oracle = im.get_oracle("topk", k=2)
    weights = torch.randn(3, 6, generator=seeded(4))
    grads = []
    for reduction in ("mean", "none"):
        theta = torch.randn(3, 6, generator=seeded(1), requires_grad=True)
        layer = im.IMLE(oracle, num_samples=5, reduction=reduction, generator=seeded(7), target=im.PerturbedTarget(2.0))
        z = layer(theta)
        loss = (z * weights).sum() if reduction == "mean" else (z * weights).sum((1, 2)).mean()
        loss.backward()
        grads.append(theta.grad)
    torch.testing.assert_close(grads[0], grads[1])
    assert grads[0].abs().sum() > 0


def test_non_contiguous_input_matches_contiguous():
    base = torch.randn(7, 4, generator=seeded(3))
    results = []
    for theta in (base.t(), base.t().contiguous()):
        theta = theta.detach().requires_grad_(True)
        z = im.IMLE(im.get_oracle("topk", k=3), num_samples=2, generator=seeded(5))(theta)
        (z * torch.arange(7.0)).sum().backward()
        results.append((z.detach(), theta.grad))
    assert not base.t().is_contiguous()
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=0)
    torch.testing.assert_close(results[0][1], results[1][1], rtol=0, atol=0)


@pytest.mark.parametrize("noise", [im.Gumbel(), im.SumOfGamma(3)], ids=repr)
def test_generator_makes_forward_and_backward_deterministic(noise):
    runs = []
    for _ in range(2):
        theta = torch.randn(4, 8, generator=seeded(1), requires_grad=True)
        z = im.imle(theta, im.get_oracle("topk", k=3), noise=noise, num_samples=3, generator=seeded(9))
        (z * torch.linspace(-1, 1, 8)).sum().backward()
        runs.append((z.detach(), theta.grad))
    torch.testing.assert_close(runs[0][0], runs[1][0], rtol=0, atol=0)
    torch.testing.assert_close(runs[0][1], runs[1][1], rtol=0, atol=0)


def test_module_and_function_forms_agree():
    oracle = im.get_oracle("topk", k=2)
    outs = []
    for use_module in (True, False):
        theta = torch.randn(2, 5, generator=seeded(1), requires_grad=True)
        options = dict(num_samples=3, noise_temperature=0.5, target_temperature=2.0, generator=seeded(3))
        z = im.IMLE(oracle, **options)(theta) if use_module else im.imle(theta, oracle, **options)
        (z * torch.arange(5.0)).sum().backward()
        outs.append(theta.grad)
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


def test_eval_mode_returns_the_noiseless_map():
    oracle = im.get_oracle("topk", k=2)
    theta = torch.tensor([[0.1, 0.9, 0.5, 0.2]], requires_grad=True)
    layer = im.IMLE(oracle, num_samples=3, reduction="none", noise_temperature=50.0, generator=seeded())
    layer.eval()
    z = layer(theta)
    expected = oracle(theta.detach())
    assert z.shape == (3, 1, 4)
    torch.testing.assert_close(z, expected.expand(3, 1, 4))
    z.sum().backward()  # gradients still flow
    assert theta.grad.shape == theta.shape
    layer.train()
    noisy = layer(theta.detach())
    assert not torch.equal(noisy, expected.expand(3, 1, 4))  # tau = 50 scrambles the choice


# --------------------------------------------------------------------------- #
# Signs and exact equalities
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("name", ["imle", "imle_sog", "aimle", "aimle_symmetric", "blackbox", "perturbed",
                                  "straight_through"])
def test_min_oracle_on_costs_and_max_oracle_on_negated_costs_agree(name):
    costs = torch.randn(3, 6, generator=seeded(1), dtype=torch.float64)
    weights = torch.randn(3, 6, generator=seeded(2), dtype=torch.float64)
    w = costs.clone().requires_grad_(True)
    theta = (-costs).requires_grad_(True)
    z_min = estimators(FunctionOracle(argmin_onehot, sense="min"))[name](w)
    z_max = estimators(FunctionOracle(argmax_onehot, sense="max"))[name](theta)
    torch.testing.assert_close(z_min, z_max, rtol=0, atol=0)
    (z_min * weights).sum().backward()
    (z_max * weights).sum().backward()
    torch.testing.assert_close(w.grad, -theta.grad, rtol=0, atol=0)


@pytest.mark.parametrize("no_noise", ["temperature", "object", "none"])
def test_imle_without_noise_equals_blackbox_on_a_min_oracle(no_noise):
    costs = torch.rand(4, 5, 5, generator=seeded(1), dtype=torch.float64) * 3
    loss_weights = torch.randn(4, 5, 5, generator=seeded(2), dtype=torch.float64)
    options = {"temperature": dict(noise_temperature=0.0), "object": dict(noise=ZeroNoise()),
               "none": dict(noise=None)}[no_noise]
    grads, solutions = [], []
    for layer in (im.IMLE(grid_oracle(), target=im.PerturbedTarget(lambda_=4.0, alpha=1.0), **options),
                  im.Blackbox(grid_oracle(), lambda_=4.0)):
        w = costs.clone().requires_grad_(True)
        z = layer(w)
        (z * loss_weights).sum().backward()
        grads.append(w.grad)
        solutions.append(z.detach())
    torch.testing.assert_close(solutions[0], solutions[1], rtol=0, atol=0)
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)
    assert grads[0].abs().sum() > 0  # the shift lam * g changed some paths


def test_blackbox_follows_vlastelica_formula():
    oracle = grid_oracle()
    costs = torch.rand(2, 4, 4, generator=seeded(3), dtype=torch.float64) + 0.1
    g = torch.randn(2, 4, 4, generator=seeded(4), dtype=torch.float64)
    w = costs.clone().requires_grad_(True)
    z = im.Blackbox(oracle, lambda_=2.5)(w)
    z.backward(g)
    expected = (oracle((costs + 2.5 * g).clamp(min=0)) - oracle(costs)) / 2.5
    torch.testing.assert_close(w.grad, expected)


@pytest.mark.parametrize("noise", [im.Gumbel(), im.SumOfGamma(2, num_terms=5)], ids=repr)
def test_aimle_forward_difference_with_frozen_beta_equals_imle(noise):
    # Random forward noise, alpha = 0.5, no target noise. Rows are permutations of
    # one vector (so are the loss weights): every instance has ||alpha theta_b|| = 2.5
    # and ||g_b|| = 5 exactly, so AIMLE's lam = beta * 2.5 / 5 = beta / 2 everywhere.
    theta_rows = torch.tensor([1.0, -2.0, 2.0, 4.0, 0.0, 0.0], dtype=torch.float64)
    g_rows = torch.tensor([0.0, 3.0, -4.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    perms = [torch.randperm(6, generator=seeded(i)) for i in range(4)]
    theta = torch.stack([theta_rows[p] for p in perms])
    g = torch.stack([g_rows[p.flip(0)] for p in perms])
    oracle = im.get_oracle("topk", k=2)
    beta = 0.75
    options = dict(noise=noise, num_samples=3, noise_temperature=1.5, target_temperature=0.0)
    grads = []
    for target in (im.PerturbedTarget(lambda_=beta / 2, alpha=0.5),
                   im.AdaptiveTarget(beta=beta, alpha=0.5, update_step=0.0)):
        t = theta.clone().requires_grad_(True)
        z = im.IMLE(oracle, target=target, generator=seeded(11), **options)(t)
        z.backward(g)
        grads.append(t.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)
    assert (grads[0] != 0).any() and (grads[0] != grads[0][0, 0]).any()


@pytest.mark.parametrize("symmetric", [False, True])
def test_aimle_with_the_papers_norm_and_target_noise_equals_imle(symmetric):
    # norm="theta": lam = beta ||alpha theta_b|| / ||g_b|| = beta * 2.5 / 5 exactly, whatever the noise
    theta_rows = torch.tensor([1.0, -2.0, 2.0, 4.0, 0.0, 0.0], dtype=torch.float64)
    g_rows = torch.tensor([0.0, 3.0, -4.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    perms = [torch.randperm(6, generator=seeded(i)) for i in range(4)]
    theta = torch.stack([theta_rows[p] for p in perms])
    g = torch.stack([g_rows[p.flip(0)] for p in perms])
    oracle = CountingOracle(argmax_onehot, sense="max")
    options = dict(noise=im.Gumbel(), num_samples=3, noise_temperature=1.5, target_temperature=0.5)
    t = theta.clone().requires_grad_(True)
    target = im.AdaptiveTarget(beta=0.75, alpha=0.5, update_step=0.0, norm="theta", symmetric=symmetric)
    im.IMLE(oracle, target=target, generator=seeded(11), **options)(t).backward(g)
    eps = im.Gumbel().sample((3, 4, 6), generator=seeded(11), dtype=torch.float64)
    if symmetric:
        plus = oracle(0.5 * theta + 0.375 * g + 0.5 * eps)
        minus = oracle(0.5 * theta - 0.375 * g + 0.5 * eps)
        expected = ((plus - minus) / 0.75).mean(0)
        torch.testing.assert_close(t.grad, expected, rtol=0, atol=0)
    else:
        reference = theta.clone().requires_grad_(True)
        layer = im.IMLE(oracle, target=im.PerturbedTarget(0.375, alpha=0.5), generator=seeded(11), **options)
        layer(reference).backward(g)
        torch.testing.assert_close(t.grad, reference.grad, rtol=0, atol=0)
    assert (t.grad != 0).any()


def test_aimle_with_target_noise_matches_its_definition():
    oracle = im.get_oracle("topk", k=2)
    theta = torch.randn(3, 6, generator=seeded(1), dtype=torch.float64)
    g = torch.randn(3, 6, generator=seeded(2), dtype=torch.float64)
    eps = im.Gumbel().sample((4, 3, 6), generator=seeded(3), dtype=torch.float64)
    t = theta.clone().requires_grad_(True)
    layer = im.IMLE(oracle, target=im.AdaptiveTarget(beta=0.2, update_step=0.0), num_samples=4,
                    noise_temperature=2.0, target_temperature=0.5, generator=seeded(3))
    layer(t).backward(g)
    base = theta + 0.5 * eps  # (4, 3, 6)
    lam = 0.2 * base.norm(dim=-1, keepdim=True) / g.norm(dim=-1, keepdim=True)
    expected = ((oracle(theta + 2.0 * eps) - oracle(base - lam * g)) / lam).mean(0)
    torch.testing.assert_close(t.grad, expected)
    assert (t.grad != 0).any()


def test_aimle_moves_a_model_initialised_at_zero():
    theta = torch.zeros(2, 6, requires_grad=True)
    g = torch.randn(2, 6, generator=seeded(2))
    layer = im.IMLE(im.get_oracle("topk", k=2), target=im.AdaptiveTarget(), num_samples=8, generator=seeded())
    layer(theta).backward(g)
    assert (theta.grad != 0).any()


def test_aimle_central_difference_matches_its_definition():
    oracle = im.get_oracle("topk", k=2)
    theta = torch.randn(3, 6, generator=seeded(1), dtype=torch.float64)
    g = torch.randn(3, 6, generator=seeded(2), dtype=torch.float64)
    target = im.AdaptiveTarget(beta=0.3, symmetric=True, update_step=0.0)
    t = theta.clone().requires_grad_(True)
    im.IMLE(oracle, target=target, noise=None)(t).backward(g)
    lam = 0.3 * theta.norm(dim=-1, keepdim=True) / g.norm(dim=-1, keepdim=True)
    expected = (oracle(theta + lam * g) - oracle(theta - lam * g)) / (2 * lam)
    torch.testing.assert_close(t.grad, expected)
    # for a linear loss <g, z> the plus side wins: the estimate ascends the loss
    assert ((t.grad * g).sum(-1) >= 0).all() and (t.grad * g).sum() > 0


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("num_samples", [1, 3])
def test_one_batched_oracle_call_per_pass_and_forward_solution_reused(symmetric, num_samples):
    oracle = CountingOracle(argmax_onehot, sense="max")
    theta = torch.randn(2, 5, generator=seeded(1), requires_grad=True)
    layer = im.IMLE(oracle, target=im.AdaptiveTarget(symmetric=symmetric), num_samples=num_samples,
                    generator=seeded())
    z = layer(theta)
    assert oracle.calls == [(num_samples, 2, 5)]
    (z * torch.randn(2, 5, generator=seeded(2))).sum().backward()
    sides = 2 if symmetric else 1
    assert oracle.calls == [(num_samples, 2, 5), (sides, num_samples, 2, 5)]


def test_straight_through_signs():
    g = torch.tensor([[2.0, -1.0, 0.5]])
    theta = torch.tensor([[0.0, 1.0, 0.5]], requires_grad=True)
    im.StraightThrough(FunctionOracle(argmax_onehot, sense="max"))(theta).backward(g)
    torch.testing.assert_close(theta.grad, g)
    w = torch.tensor([[0.0, 1.0, 0.5]], requires_grad=True)
    z = im.StraightThrough(FunctionOracle(argmin_onehot, sense="min"))(w)
    torch.testing.assert_close(z, torch.tensor([[1.0, 0.0, 0.0]]))
    z.backward(g)
    torch.testing.assert_close(w.grad, -g)


# --------------------------------------------------------------------------- #
# Non-negative costs, instance data
# --------------------------------------------------------------------------- #
class FixedNoise:
    """Noise known in advance (so that a test can compute the perturbed costs)."""

    def __init__(self, eps):
        self.eps = eps

    def sample(self, shape, *, generator=None, device=None, dtype=None):
        assert tuple(shape) == tuple(self.eps.shape)
        return self.eps.to(device=device, dtype=dtype)

    def neg_log_density_grad(self, z):
        return z  # as for Normal(1): only the forward is checked here


@pytest.mark.parametrize("name", ["imle", "aimle_symmetric", "perturbed"])
def test_nonnegative_oracle_solves_the_clamped_perturbed_costs_cell_by_cell(name):
    """Forward and backward solve exactly the clamped perturbed costs: the
    whole path (interior cells included), not just its fixed endpoints."""
    oracle = grid_oracle()
    costs = torch.rand(2, 5, 5, generator=seeded(7), dtype=torch.float64) * 0.2  # model costs >= 0
    eps = torch.randn(3, 2, 5, 5, generator=seeded(8), dtype=torch.float64)  # pushes many below zero
    g = torch.randn(2, 5, 5, generator=seeded(9), dtype=torch.float64)
    assert ((costs - eps) < 0).float().mean() > 0.3
    with pytest.raises(im.InvalidInputError, match="non-negative"):
        oracle(costs - eps)  # a direct call is refused
    layer = {
        "imle": im.IMLE(oracle, noise=FixedNoise(eps), num_samples=3, reduction="none",
                        target=im.PerturbedTarget(lambda_=0.7), negative="raise"),
        "aimle_symmetric": im.IMLE(oracle, noise=FixedNoise(eps), num_samples=3, reduction="none",
                                   target=im.AdaptiveTarget(symmetric=True, update_step=0.0), negative="raise"),
        "perturbed": im.PerturbedOptimizer(oracle, 1.0, 3, noise=FixedNoise(eps), reduction="none",
                                           negative="raise"),
    }[name]
    w = costs.clone().requires_grad_(True)
    z = layer(w)  # (3, 2, 5, 5)
    expected = torch.stack([oracle((costs - eps[s]).clamp(min=0)) for s in range(3)])
    torch.testing.assert_close(z, expected, rtol=0, atol=0)
    assert (z[..., 1:-1, 1:-1].sum() > 0) and (z.sum(dim=(-1, -2)) > 5).any()  # interior cells are on the paths
    (z * g).sum().backward()
    if name == "imle":
        target_costs = (costs + 0.7 * 3 * g - eps).clamp(min=0)  # w + lam * (S g) - eps, clamped
        target_z = torch.stack([oracle(target_costs[s]) for s in range(3)])
        torch.testing.assert_close(w.grad, ((target_z - expected) / 0.7).mean(0), rtol=0, atol=1e-12)
    assert torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["imle", "aimle", "aimle_symmetric", "blackbox", "perturbed", "straight_through"])
def test_instance_data_is_repeated_per_sample_and_gets_no_gradient(name):
    oracle = knapsack_oracle()
    theta = torch.rand(2, 5, generator=seeded(1), dtype=torch.float64).requires_grad_(True)
    # instance 0 can take 3 items, instance 1 none: any mix-up across samples shows
    weights = torch.tensor([[1.0] * 5, [10.0] * 5], dtype=torch.float64, requires_grad=True)
    capacity = np.array([3.0, 3.0])
    layer = estimators(oracle)[name]
    z = layer(theta, weights=weights, capacity=capacity)
    assert z.shape == (2, 5)
    assert torch.allclose(z[0].sum(), torch.tensor(3.0, dtype=torch.float64))
    assert (z[1] == 0).all()
    (z * torch.randn(2, 5, generator=seeded(2), dtype=torch.float64)).sum().backward()
    assert theta.grad.shape == theta.shape
    assert weights.grad is None
    if name != "straight_through":
        assert (theta.grad[1] == 0).all()  # nothing ever fits instance 1


def test_shared_instance_data_and_samples_dimension():
    oracle = knapsack_oracle()
    theta = torch.rand(3, 5, generator=seeded(1), dtype=torch.float64).requires_grad_(True)
    weights = torch.tensor([1.0, 1.0, 1.0, 5.0, 5.0], dtype=torch.float64)  # shared by the batch
    z = im.IMLE(oracle, num_samples=4, reduction="none", generator=seeded())(theta, weights=weights, capacity=2.0)
    assert z.shape == (4, 3, 5)
    assert (z[..., 3:] == 0).all() and ((z * weights).sum(-1) <= 2.0).all()
    z.sum().backward()
    assert theta.grad.shape == theta.shape


# --------------------------------------------------------------------------- #
# AdaptiveTarget state
# --------------------------------------------------------------------------- #
def test_adaptive_target_moves_beta_towards_the_wanted_sparsity():
    oracle = im.get_oracle("topk", k=3)
    g = torch.randn(8, 10, generator=seeded(2))
    for target_nonzeros, direction in ((0.1, -1), (6.0, +1)):
        target = im.AdaptiveTarget(beta=1.0, target_nonzeros=target_nonzeros, update_step=0.05, decay=0.5)
        layer = im.IMLE(oracle, target=target, generator=seeded())
        for _ in range(20):
            theta = torch.randn(8, 10, generator=seeded(1), requires_grad=True)
            layer(theta).backward(g)
        assert (float(target.beta) - 1.0) * direction > 0.5, float(target.beta)


def test_adaptive_target_state_dict_round_trip_and_eval_freezes_it():
    target = im.AdaptiveTarget(beta=2.0, update_step=0.1)
    layer = im.IMLE(im.get_oracle("topk", k=2), target=target, generator=seeded())
    g = torch.randn(4, 6, generator=seeded(2))
    for _ in range(5):
        layer(torch.randn(4, 6, generator=seeded(1), requires_grad=True)).backward(g)
    state = layer.state_dict()
    assert set(state) == {"target.beta", "target.nonzeros"}
    assert float(state["target.beta"]) != 2.0
    restored = im.IMLE(im.get_oracle("topk", k=2), target=im.AdaptiveTarget(beta=2.0, update_step=0.1))
    restored.load_state_dict(state)
    assert torch.equal(restored.target.beta, target.beta) and torch.equal(restored.target.nonzeros, target.nonzeros)
    frozen = target.beta.clone()
    layer.eval()
    layer(torch.randn(4, 6, generator=seeded(1), requires_grad=True)).backward(g)
    assert torch.equal(target.beta, frozen)


def test_adaptive_target_handles_zero_gradient_and_zero_theta():
    oracle = im.get_oracle("topk", k=1)
    theta = torch.zeros(2, 4, requires_grad=True)
    g = torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    im.IMLE(oracle, target=im.AdaptiveTarget(), generator=seeded())(theta).backward(g)
    assert torch.isfinite(theta.grad).all()
    assert (theta.grad[0] == 0).all()  # no downstream gradient, no estimate


# --------------------------------------------------------------------------- #
# Perturbed optimizers against closed forms
# --------------------------------------------------------------------------- #
def test_perturbed_optimizer_with_gumbel_noise_is_softmax_and_its_jacobian():
    sigma, num_samples = 0.5, 200_000
    theta0 = torch.tensor([0.2, -0.4, 1.0, 0.0, 0.5], dtype=torch.float64)
    layer = im.PerturbedOptimizer(im.get_oracle("onehot"), sigma, num_samples, noise=im.Gumbel(),
                                  generator=seeded(3))
    theta = theta0.clone().requires_grad_(True)
    y = layer(theta)
    p = torch.softmax(theta0 / sigma, -1)
    se = torch.sqrt(p * (1 - p) / num_samples)
    assert ((y.detach() - p).abs() < 5 * se).all(), (y, p)
    jacobian = torch.stack([torch.autograd.grad(y[i], theta, retain_graph=True)[0] for i in range(5)])
    expected = (torch.diag(p) - torch.outer(p, p)) / sigma
    # each entry averages y_i * (1 - exp(-Z_j)) / sigma; E[(1 - exp(-Z))^2] = 1 bounds its variance by 1/sigma^2
    bound = 5 / (sigma * math.sqrt(num_samples))
    assert (jacobian - expected).abs().max() < bound, (jacobian, expected)


def test_perturbed_optimizer_normal_noise_jacobian_matches_finite_differences_of_the_smoothing():
    # for onehot with Normal noise, y_sigma has no closed form; check J against central
    # differences of the forward with common random numbers
    sigma, num_samples = 1.0, 200_000
    theta0 = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    layer = im.PerturbedOptimizer(im.get_oracle("onehot"), sigma, num_samples, generator=seeded(5))
    theta = theta0.clone().requires_grad_(True)
    y = layer(theta)
    jacobian = torch.stack([torch.autograd.grad(y[i], theta, retain_graph=True)[0] for i in range(3)])
    h = 0.05
    columns = []
    for j in range(3):
        step = torch.zeros(3, dtype=torch.float64)
        step[j] = h
        layer.generator = seeded(6)
        plus = layer(theta0 + step)
        layer.generator = seeded(6)
        minus = layer(theta0 - step)
        columns.append((plus - minus) / (2 * h))
    finite = torch.stack(columns, dim=1)
    assert (jacobian - finite).abs().max() < 0.03, (jacobian, finite)
    torch.testing.assert_close(jacobian.sum(0), torch.zeros(3, dtype=torch.float64), atol=0.02, rtol=0)


@pytest.mark.parametrize("sense", ["max", "min"])
def test_fenchel_young_loss_value_and_gradient_match_cross_entropy(sense):
    # onehot with Gumbel noise: F(theta) = E[max_i theta_i + G_i] = logsumexp(theta) + gamma,
    # so the loss is cross-entropy + gamma and its gradient softmax - y
    num_samples = 100_000
    theta0 = torch.tensor([[0.5, -1.0, 2.0, 0.0], [0.0, 0.0, 0.3, -0.3]], dtype=torch.float64)
    y_true = torch.tensor([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]], dtype=torch.float64)
    oracle = FunctionOracle(argmax_onehot if sense == "max" else argmin_onehot, sense=sense)
    loss_fn = im.FenchelYoungLoss(oracle, 1.0, num_samples, noise=im.Gumbel(), reduction="none",
                                  generator=seeded(8))
    param = (theta0 if sense == "max" else -theta0).clone().requires_grad_(True)
    loss = loss_fn(param, y_true)
    cross_entropy = torch.logsumexp(theta0, -1) - (theta0 * y_true).sum(-1)
    se = math.sqrt(math.pi**2 / 6 / num_samples)  # the max of theta + G is Gumbel-distributed
    assert ((loss.detach() - (cross_entropy + EULER_GAMMA)).abs() < 5 * se).all(), (loss, cross_entropy)
    loss.sum().backward()
    expected = torch.softmax(theta0, -1) - y_true
    if sense == "min":
        expected = -expected
    assert (param.grad - expected).abs().max() < 5 * 0.5 / math.sqrt(num_samples)


def test_fenchel_young_reductions_and_shape_check():
    oracle = im.get_oracle("topk", k=2)
    theta = torch.randn(3, 5, generator=seeded(1), requires_grad=True)
    y_true = oracle(torch.randn(3, 5, generator=seeded(2)))
    per_instance = im.FenchelYoungLoss(oracle, reduction="none", generator=seeded(3))(theta, y_true)
    mean = im.FenchelYoungLoss(oracle, generator=seeded(3))(theta, y_true)
    total = im.FenchelYoungLoss(oracle, reduction="sum", generator=seeded(3))(theta, y_true)
    assert per_instance.shape == (3,)
    torch.testing.assert_close(mean, per_instance.mean())
    torch.testing.assert_close(total, per_instance.sum())
    with pytest.raises(im.InvalidInputError, match="y_true"):
        im.FenchelYoungLoss(oracle)(theta, y_true[0:2])


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #
def test_bad_configuration_is_refused():
    oracle = im.get_oracle("topk", k=1)
    for make in (
        lambda: im.IMLE(oracle, num_samples=0),
        lambda: im.IMLE(oracle, reduction="sum"),
        lambda: im.IMLE(oracle, noise_temperature=-1.0),
        lambda: im.IMLE(oracle, noise="uniform"),
        lambda: im.IMLE(oracle, noise=object()),
        lambda: im.IMLE(oracle, target=object()),
        lambda: im.IMLE(object()),
        lambda: im.Blackbox(oracle, lambda_=0.0),
        lambda: im.PerturbedOptimizer(oracle, sigma=0.0),
        lambda: im.PerturbedOptimizer(oracle, noise=ZeroNoise()),  # no neg_log_density_grad
        lambda: im.PerturbedTarget(lambda_=-1.0),
        lambda: im.AdaptiveTarget(decay=1.0),
        lambda: im.AdaptiveTarget(beta=0.0),
        lambda: im.AdaptiveTarget(norm="l1"),
    ):
        with pytest.raises(im.InvalidInputError):
            make()


def test_bad_inputs_are_refused_with_clear_errors():
    oracle = im.get_oracle("topk", k=2)
    with pytest.raises(im.InvalidInputError, match="torch.Tensor"):
        im.imle(np.zeros((2, 4)), oracle)
    with pytest.raises(im.InvalidInputError, match="floating-point"):
        im.imle(torch.zeros(2, 4, dtype=torch.int64), oracle)
    with pytest.raises(im.InvalidInputError, match="topk"):  # the oracle names itself and the event shape
        im.imle(torch.zeros(2, 1, requires_grad=True), oracle)
    wrong_shape = FunctionOracle(lambda t: t[:2], name="truncating")
    with pytest.raises(im.ImleSolversError):
        im.imle(torch.zeros(2, 4, requires_grad=True), wrong_shape)


def test_lazy_exports():
    for name in ("IMLE", "imle", "Blackbox", "PerturbedOptimizer", "FenchelYoungLoss", "StraightThrough",
                 "PerturbedTarget", "AdaptiveTarget", "Gumbel", "SumOfGamma"):
        assert name in im.__all__ and getattr(im, name) is not None
