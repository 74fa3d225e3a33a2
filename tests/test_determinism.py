"""Determinism: the same input gives bit-identical solutions, and a seeded
estimator bit-identical gradients, on every runner (serial, threads,
processes, a Dask cluster) and worker count (1, 2, 3).

The batches have ties (integer costs and scores), so a tie rule that
depended on chunking or on the worker would show. Pools are started once
for the module, ``adaptive=False`` so that every call goes through them;
the Dask cluster has two workers, and ``workers=`` sets the chunks per batch.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import imle_solvers as im
from imle_solvers import registry
from tests.oracle_cases import CASES

WORKER_COUNTS = (1, 2, 3)
# A few oracles solved on the host (the runners apply): scipy, numba DP with instance data, numba
# Dijkstra. Their solutions are shaped like theta, so the estimators can use them too. (The
# conformance suite runs every oracle on two-worker thread and process pools.)
ORACLES = ["matching", "knapsack", "shortest_path_grid", "shortest_path", "tsp"]


@pytest.fixture(scope="module")
def runners():
    import distributed  # the dev extra installs it
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=logging.CRITICAL)
    client = distributed.Client(cluster)
    made = {"serial": im.SerialRunner()}
    for workers in WORKER_COUNTS:
        made[f"threads-{workers}"] = im.ThreadRunner(workers, adaptive=False)
        made[f"processes-{workers}"] = im.ProcessRunner(workers, adaptive=False)
        made[f"dask-{workers}"] = im.ExecutorRunner(client.get_executor(), workers=workers, adaptive=False)
    yield made
    for runner in made.values():
        runner.close()
    client.close()
    cluster.close()


def _registered(name):
    if name not in registry._BUILTINS:
        pytest.fail(f"tests/oracle_cases.py::CASES has {name!r}, which is not a built-in oracle: restore it in "
                    "registry._BUILTINS or remove its case")


def _integer_batch(name, batch, seed):
    """A valid batch of the oracle's case with integer-valued theta (ties)."""
    rng = np.random.default_rng(seed)
    case = CASES[name]
    theta, data = case.theta(rng, batch), case.data(rng, batch)
    theta = np.round(np.asarray(theta, dtype=np.float64) * 2)  # (*batch, *event), integers: many ties
    if im.get_oracle(name, **case.options).nonnegative:
        theta = np.abs(theta)
    return theta, data


@pytest.mark.parametrize("name", ORACLES)
def test_solutions_are_identical_on_every_runner_and_worker_count(name, runners):
    _registered(name)
    theta, data = _integer_batch(name, (7,), seed=11)
    expected = im.get_oracle(name, **CASES[name].options)(theta, **data)
    for label, runner in runners.items():
        oracle = im.get_oracle(name, runner=runner, **CASES[name].options)
        for _ in range(2):  # and on a second call through the same (warm) pool
            np.testing.assert_array_equal(oracle(theta, **data), expected, err_msg=f"{name} on {label}")


def _torch_data(data):
    return {key: torch.as_tensor(value) for key, value in data.items()}


def _imle_gradient(name, runner, target, steps):
    """``steps`` SGD steps of a seeded IMLE layer; every step's gradient and the target's state."""
    theta_np, data = _integer_batch(name, (4,), seed=12)
    theta = torch.tensor(theta_np, requires_grad=True)
    weights = torch.tensor(np.random.default_rng(13).normal(size=theta_np.shape))  # the downstream loss
    oracle = im.get_oracle(name, runner=runner, **CASES[name].options)
    # SGD on theta itself drives a few costs below zero: clamped on purpose here
    layer = im.IMLE(oracle, noise=im.SumOfGamma(k=3), target=target, num_samples=3,
                    generator=torch.Generator().manual_seed(2023), negative="clamp")
    optimizer = torch.optim.SGD([theta], lr=0.1)
    gradients = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = (layer(theta, **_torch_data(data)) * weights).sum()
        loss.backward()
        gradients.append(theta.grad.clone())
        optimizer.step()
    state = {key: value.clone() for key, value in layer.state_dict().items()}
    return gradients, state


@pytest.mark.parametrize("name", ORACLES)
@pytest.mark.parametrize("estimator", ["imle", "aimle"])
def test_estimator_gradients_are_identical_on_every_runner_and_worker_count(name, estimator, runners):
    _registered(name)

    def target():  # a fresh target per run: AIMLE adapts its state as it goes
        if estimator == "imle":
            return im.PerturbedTarget(lambda_=2.0)
        return im.AdaptiveTarget(beta=0.5, update_step=0.2, symmetric=True)

    expected_gradients, expected_state = _imle_gradient(name, runners["serial"], target(), steps=3)
    assert any(bool(g.abs().sum() > 0) for g in expected_gradients), "a zero gradient would prove nothing"
    for label, runner in runners.items():
        gradients, state = _imle_gradient(name, runner, target(), steps=3)
        for step, (got, want) in enumerate(zip(gradients, expected_gradients)):
            assert torch.equal(got, want), f"{name}/{estimator} on {label}: step {step} gradient differs"
        assert state.keys() == expected_state.keys()
        for key in state:
            assert torch.equal(state[key], expected_state[key]), f"{name}/{estimator} on {label}: {key} differs"
