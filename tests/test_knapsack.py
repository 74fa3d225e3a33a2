"""The ``knapsack`` oracle: optimality against every subset on each backend,
the DP's tie rule, backend selection, errors."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

import imle_solvers as im


def subsets(n):
    return np.array(list(product([0.0, 1.0], repeat=n))).reshape(-1, n)


def best_value(values, weights, capacity):
    all_z = subsets(len(values))
    feasible = all_z @ weights <= capacity
    return (all_z[feasible] @ values).max()


def lexicographically_smallest_optimum(values, weights, capacity):
    all_z = subsets(len(values))  # product order is lexicographic
    feasible = all_z @ weights <= capacity
    scores = np.where(feasible, all_z @ values, -np.inf)
    return all_z[np.flatnonzero(scores == scores.max())[0]]


@pytest.mark.parametrize("backend", ["dp", "cpsat", "auto"])
def test_optimal_against_every_subset(backend):
    rng = np.random.default_rng(31)
    oracle = im.get_oracle("knapsack", backend=backend)
    cases = 0
    for n in range(1, 9):
        values = rng.integers(-2, 6, size=(25, n)).astype(float)  # ties, zero and negative values
        weights = rng.integers(0, 5, size=(25, n)).astype(float)
        capacity = rng.integers(0, 2 * n + 1, size=25).astype(float)
        for v, w, c, z in zip(values, weights, capacity, oracle(values, weights=weights, capacity=capacity)):
            assert w @ z <= c and set(np.unique(z)) <= {0.0, 1.0}
            assert v @ z == best_value(v, w, c)
            assert not z[v <= 0].any()  # non-positive values are never selected
            if backend != "cpsat":
                np.testing.assert_array_equal(z, lexicographically_smallest_optimum(v, w, c))
            cases += 1
    assert cases == 200


def test_real_weights_and_values_use_cpsat_and_stay_optimal():
    rng = np.random.default_rng(37)
    oracle = im.get_oracle("knapsack")  # non-integer weights: CP-SAT with scaled data
    values = rng.random((40, 8))
    weights = rng.random((40, 8))
    capacity = rng.random(40) * 3
    n = values.shape[1]
    for v, w, c, z in zip(values, weights, capacity, oracle(values, weights=weights, capacity=capacity)):
        assert w @ z <= c
        assert v @ z >= best_value(v, w, c) - 2e-9 * n * v.max()  # the documented bound


def test_auto_switches_to_cpsat_for_large_capacities():
    rng = np.random.default_rng(41)
    values = rng.integers(1, 50, size=(10, 8)).astype(float)
    weights = rng.integers(1, 10**9, size=(10, 8)).astype(float)
    capacity = np.full(10, 2.5e9)
    dp_small = im.get_oracle("knapsack", dp_max_cells=10)
    out = dp_small(values, weights=weights, capacity=capacity)
    for v, w, c, z in zip(values, weights, capacity, out):
        assert w @ z <= c and v @ z == best_value(v, w, c)
    with pytest.raises(im.InvalidInputError, match=r"batch index \(0,\).*table"):
        im.get_oracle("knapsack", backend="dp")(values, weights=weights, capacity=capacity)


def test_shared_and_per_instance_data():
    values = np.array([[6.0, 10.0, 12.0], [1.0, 1.0, 1.0]])
    oracle = im.get_oracle("knapsack")
    shared = oracle(values, weights=np.array([1, 2, 3]), capacity=5)
    per_instance = oracle(values, weights=np.array([[1, 2, 3], [1, 2, 3]]), capacity=np.array([5, 5]))
    np.testing.assert_array_equal(shared, per_instance)
    np.testing.assert_array_equal(shared, [[0, 1, 1], [0, 1, 1]])  # ties: item 0 left out


def test_input_errors_name_the_batch_index():
    oracle = im.get_oracle("knapsack")
    values = np.ones((2, 3))
    with pytest.raises(im.InvalidInputError, match=r"batch index \(1,\).*non-negative weights"):
        oracle(values, weights=np.array([[1.0, 1, 1], [1, -1, 1]]), capacity=2)
    with pytest.raises(im.InvalidInputError, match=r"batch index \(0,\).*non-negative capacity"):
        oracle(values, weights=np.ones(3), capacity=np.array([-1.0, 2.0]))
    with pytest.raises(im.InvalidInputError, match=r"batch index \(1,\).*integer weights"):
        im.get_oracle("knapsack", backend="dp")(values, weights=np.array([[1.0, 1, 1], [1, 0.5, 1]]), capacity=2)
    with pytest.raises(im.InvalidInputError, match="missing required instance data"):
        oracle(values, weights=np.ones(3))
    with pytest.raises(im.InvalidInputError, match="per-instance shape"):
        oracle(values, weights=np.ones(4), capacity=2)
    with pytest.raises(im.InvalidInputError, match=r"batch index \(0,\).*too many orders of magnitude"):
        oracle(values[:1], weights=np.array([[1e-20, 0.5, 1e3]]), capacity=2.5)
    with pytest.raises(im.InvalidInputError, match="backend"):
        im.get_oracle("knapsack", backend="greedy")


def test_cpsat_time_limit_is_an_error_not_a_silent_answer():
    rng = np.random.default_rng(0)
    # A hard instance: values equal to weights (subset sum) with large odd weights.
    weights = rng.integers(10**12, 10**13, size=(1, 60)).astype(float) * 2 + 1
    oracle = im.get_oracle("knapsack", backend="cpsat", time_limit=0.01)
    with pytest.raises(im.OracleError, match=r"batch index \(0,\).*without proving optimality"):
        oracle(weights.copy(), weights=weights, capacity=weights.sum() / 2)
