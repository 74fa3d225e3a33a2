"""Estimators on a CUDA device: tensors stay there, a CPU oracle costs one
device-to-host and one host-to-device copy per forward and per backward, and
the noise and AdaptiveTarget never synchronise with the host.

Every test is marked ``cuda`` and skipped (by tests/conftest.py) where no
CUDA device is present. Copies are counted two ways: the CUDA profiler's
memcpy records (which would also catch hidden ``.item()`` syncs, themselves
device-to-host copies) and a count of the oracle adapter's conversions.
"""

import numpy as np
import pytest
import torch

import imle_solvers as im
from imle_solvers import _tensors
from imle_solvers.oracles import FunctionOracle

pytestmark = pytest.mark.cuda


def argmax_onehot(theta):
    z = np.zeros_like(theta)
    z[np.argmax(theta)] = 1.0
    return z


def above_weight(theta, weights):
    return (theta > weights).astype(np.float64)


def cuda_generator(seed=0):
    return torch.Generator(device="cuda").manual_seed(seed)


def memcpy_counts(fn):
    """(device-to-host, host-to-device) memcpy records of the CUDA work ``fn`` does."""
    from torch.profiler import ProfilerActivity, profile

    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    averages = prof.key_averages()
    dtoh = sum(row.count for row in averages if "Memcpy DtoH" in row.key)
    htod = sum(row.count for row in averages if "Memcpy HtoD" in row.key)
    return dtoh, htod


def test_the_profiler_sees_copies():
    # guards the counting itself: if the record names change, this fails first
    on_device = torch.ones(3, device="cuda")
    assert memcpy_counts(lambda: on_device.cpu()) == (1, 0)
    on_host = torch.ones(3)
    assert memcpy_counts(lambda: on_host.cuda()) == (0, 1)


def layers(oracle):
    """Every estimator, moved to the GPU (AdaptiveTarget's buffers)."""
    made = {
        "imle": im.IMLE(oracle, num_samples=4, generator=cuda_generator()),
        "imle_sog": im.IMLE(oracle, noise=im.SumOfGamma(2), num_samples=2, generator=cuda_generator()),
        "aimle_symmetric": im.IMLE(oracle, target=im.AdaptiveTarget(symmetric=True), num_samples=3,
                                   generator=cuda_generator()),
        "blackbox": im.Blackbox(oracle, 5.0),
        "perturbed": im.PerturbedOptimizer(oracle, 1.0, 3, generator=cuda_generator()),
    }
    return {name: layer.to("cuda") for name, layer in made.items()}


def warm_up(layer, theta):
    """One forward and backward: kernels loaded, buffers on the device."""
    layer(theta).sum().backward()
    theta.grad = None


@pytest.mark.parametrize("name", ["imle", "imle_sog", "aimle_symmetric", "blackbox", "perturbed"])
def test_cpu_oracle_costs_one_copy_each_way_per_pass(name):
    oracle = FunctionOracle(argmax_onehot, name="argmax", sense="max")
    layer = layers(oracle)[name]
    theta = torch.randn(16, 8, device="cuda", requires_grad=True)
    weights = torch.randn(16, 8, device="cuda")
    warm_up(layer, theta)
    holder = {}

    def forward():
        holder["z"] = layer(theta)

    assert memcpy_counts(forward) == (1, 1)
    z = holder["z"]
    assert z.device.type == "cuda"
    loss = (z * weights).sum()
    backward_copies = memcpy_counts(loss.backward)
    if name == "perturbed":
        assert backward_copies == (0, 0)  # the score-function Jacobian needs no solve
    else:
        assert backward_copies == (1, 1)
    assert theta.grad.device.type == "cuda" and torch.isfinite(theta.grad).all()


def test_adapter_conversions_counted_and_instance_data_copied_once(monkeypatch):
    counts = {"to_host": 0, "like_input": 0}
    to_host, like_input = _tensors.to_host, _tensors.like_input

    def counting_to_host(value):
        counts["to_host"] += _tensors.is_tensor(value) and value.device.type == "cuda"
        return to_host(value)

    def counting_like_input(result, reference, **kwargs):
        counts["like_input"] += _tensors.is_tensor(reference) and reference.device.type == "cuda"
        return like_input(result, reference, **kwargs)

    monkeypatch.setattr(_tensors, "to_host", counting_to_host)
    monkeypatch.setattr(_tensors, "like_input", counting_like_input)
    oracle = FunctionOracle(above_weight, name="above", sense="max", instance_data={"weights": 1})
    theta = torch.randn(4, 6, device="cuda", requires_grad=True)
    weights = torch.randn(4, 6, device="cuda")
    z = im.IMLE(oracle, target=im.AdaptiveTarget(symmetric=True), num_samples=5,
                generator=cuda_generator())(theta, weights=weights)
    assert counts == {"to_host": 2, "like_input": 1}  # theta batch + weights once; solutions back
    z.sum().backward()
    assert counts == {"to_host": 3, "like_input": 2}  # both sides, all samples: one call; weights reused
    assert theta.grad.device.type == "cuda"


@pytest.mark.parametrize("name", ["imle", "imle_sog", "aimle_symmetric", "blackbox", "perturbed"])
def test_device_native_oracle_makes_no_copies(name):
    layer = layers(im.get_oracle("topk", k=2))[name]
    theta = torch.randn(16, 8, device="cuda", requires_grad=True)
    warm_up(layer, theta)
    holder = {}

    def run():
        holder["z"] = layer(theta)

    # the oracle base checks finiteness with one bool(), a one-byte copy
    forward_dtoh, forward_htod = memcpy_counts(run)
    assert forward_htod == 0 and forward_dtoh <= 1
    backward_dtoh, backward_htod = memcpy_counts(holder["z"].sum().backward)
    assert backward_htod == 0 and backward_dtoh <= 1


@pytest.mark.parametrize("noise", [im.Gumbel(), im.Normal(), im.SumOfGamma(3)], ids=repr)
def test_noise_is_drawn_on_the_device_without_syncs(noise):
    generator = cuda_generator(3)
    torch.cuda.set_sync_debug_mode("error")
    try:
        x = noise.sample((64, 144), generator=generator, device="cuda", dtype=torch.float32)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert x.device.type == "cuda" and x.shape == (64, 144)
    y = noise.sample((64, 144), generator=cuda_generator(3), device="cuda", dtype=torch.float32)
    torch.testing.assert_close(x, y, rtol=0, atol=0)
    assert torch.isfinite(x).all()


def test_sum_of_gamma_moments_on_the_device():
    k, s = 4, 10
    total = im.SumOfGamma(k, s).sample((50_000, k), generator=cuda_generator(1), device="cuda",
                                       dtype=torch.float64).sum(-1).cpu()
    mean = sum(1 / i for i in range(1, s + 1)) - np.log(s)
    var = sum(1 / i**2 for i in range(1, s + 1))
    assert abs(float(total.mean()) - mean) < 5 * np.sqrt(var / total.numel())


def test_adaptive_target_updates_without_host_sync():
    target = im.AdaptiveTarget(symmetric=True).cuda()
    theta = torch.randn(8, 10, device="cuda")
    grad = torch.randn(3, 8, 10, device="cuda")
    noise = torch.randn(3, 8, 10, device="cuda")
    difference = torch.randint(-1, 2, (3, 8, 10), device="cuda").float()
    torch.cuda.set_sync_debug_mode("error")
    try:
        thetas, lam = target.targets(theta, grad, 1, noise)
        target.update(difference, 1)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert thetas.shape == (2, 3, 8, 10) and lam.device.type == "cuda"
    assert target.beta.device.type == "cuda"


def test_adaptive_target_buffers_follow_theta_device():
    target = im.AdaptiveTarget()  # buffers on the CPU
    layer = im.IMLE(im.get_oracle("topk", k=2), target=target, generator=cuda_generator())
    theta = torch.randn(4, 6, device="cuda", requires_grad=True)
    layer(theta).sum().backward()
    assert target.beta.device.type == "cuda"
    state = layer.state_dict()
    restored = im.IMLE(im.get_oracle("topk", k=2), target=im.AdaptiveTarget())
    restored.load_state_dict(state)
    assert torch.equal(restored.target.beta.cpu(), target.beta.cpu())


def test_min_sense_signs_and_fenchel_young_on_the_device():
    def argmin_onehot(costs):
        z = np.zeros_like(costs)
        z[np.argmin(costs)] = 1.0
        return z

    costs = torch.rand(5, 6, device="cuda", dtype=torch.float64)
    w = costs.clone().requires_grad_(True)
    theta = (-costs).requires_grad_(True)
    z_min = im.IMLE(FunctionOracle(argmin_onehot, sense="min"), generator=cuda_generator(2))(w)
    z_max = im.IMLE(FunctionOracle(argmax_onehot, sense="max"), generator=cuda_generator(2))(theta)
    torch.testing.assert_close(z_min, z_max, rtol=0, atol=0)
    weights = torch.randn(5, 6, device="cuda", dtype=torch.float64)
    (z_min * weights).sum().backward()
    (z_max * weights).sum().backward()
    torch.testing.assert_close(w.grad, -theta.grad, rtol=0, atol=0)
    loss = im.FenchelYoungLoss(im.get_oracle("onehot"), generator=cuda_generator())(theta.detach().requires_grad_(),
                                                                                    z_max.detach())
    assert loss.device.type == "cuda"
