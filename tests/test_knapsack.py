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
            # every backend, CP-SAT included (exact integer values): the same tie rule
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
    with pytest.raises(im.InvalidInputError, match=r"expected weights \(3,\) or \(2, 3\) .*found weights of shape "
                                                   r"\(4,\) and capacity of shape \(\)"):
        oracle(values, weights=np.ones(4), capacity=2)
    with pytest.raises(im.InvalidInputError, match=r"batch index \(0,\).*too many orders of magnitude"):
        im.get_oracle("knapsack", backend="cpsat")(values[:1], weights=np.array([[1e-20, 0.5, 1e3]]), capacity=2.5)
    # the branch and bound ("auto") takes such weights as they are
    np.testing.assert_array_equal(oracle(values[:1], weights=np.array([[1e-20, 0.5, 1e3]]), capacity=2.5),
                                  [[1.0, 1.0, 0.0]])
    with pytest.raises(im.InvalidInputError, match="backend"):
        im.get_oracle("knapsack", backend="greedy")


def test_cpsat_time_limit_is_an_error_not_a_silent_answer():
    rng = np.random.default_rng(0)
    # A hard instance: values equal to weights (subset sum) with large odd weights.
    weights = rng.integers(10**12, 10**13, size=(1, 60)).astype(float) * 2 + 1
    oracle = im.get_oracle("knapsack", backend="cpsat", time_limit=0.01)
    with pytest.raises(im.OracleError, match=r"batch index \(0,\).*without proving optimality"):
        oracle(weights.copy(), weights=weights, capacity=weights.sum() / 2)


# ---------------------------------------------------------------------- #
# Several capacity dimensions (PyEPO's multi-dimensional knapsack)
# ---------------------------------------------------------------------- #
def best_value_d(values, weights, capacity):
    """Brute force: weights (d, n), capacity (d,)."""
    all_z = subsets(len(values))
    feasible = (all_z @ weights.T <= capacity).all(axis=1)
    return (all_z[feasible] @ values).max()


@pytest.mark.parametrize("backend", ["auto", "bb", "cpsat"])
@pytest.mark.parametrize("dims", [2, 3])
def test_several_dimensions_against_every_subset(backend, dims):
    rng = np.random.default_rng(41 + dims)
    oracle = im.get_oracle("knapsack", backend=backend)
    values = rng.integers(-2, 8, size=(30, 7)).astype(float)
    weights = rng.integers(0, 6, size=(30, dims, 7)).astype(float)  # per instance: (*batch, d, n)
    capacity = rng.integers(0, 15, size=(30, dims)).astype(float)
    solutions = oracle(values, weights=weights, capacity=capacity)
    for v, w, c, z in zip(values, weights, capacity, solutions):
        assert (w @ z <= c).all() and set(np.unique(z)) <= {0.0, 1.0} and not z[v <= 0].any()
        assert v @ z == best_value_d(v, w, c)
        np.testing.assert_array_equal(z, lexicographic_optimum_d(v, w, c))  # the tie rule of every backend


def test_several_dimensions_agree_with_the_ilp_backends():
    """Seeded PyEPO-like instances (shared weights, real values): the same
    optimal value from every ilp backend."""
    rng = np.random.default_rng(5)
    weights = rng.integers(3, 8, size=(2, 12)).astype(float)  # PyEPO: integer weights 3..7, shared
    capacity = weights.sum(axis=1) / 2
    values = rng.random((6, 12)) * 10
    z = im.get_oracle("knapsack", dims=2)(values, weights=weights, capacity=capacity)
    for backend in ("cpsat", "mip", "cvxpy"):
        ilp = im.get_oracle("ilp", A_ub=weights, b_ub=capacity, backend=backend)
        reference = ilp(values)
        np.testing.assert_allclose((values * z).sum(1), (values * reference).sum(1), rtol=1e-9)
    assert ((z @ weights.T) <= capacity).all()


def test_dims_reads_shared_weights_for_every_batch_size():
    weights = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    capacity = np.array([5.0, 2.0])
    single = im.get_oracle("knapsack", dims=2)
    for batch in (1, 2, 3):
        values = np.tile([6.0, 10.0, 12.0], (batch, 1))
        np.testing.assert_array_equal(single(values, weights=weights, capacity=capacity), np.tile([0, 0, 1], (batch, 1)))
    # Without dims, a batch of exactly d instances reads (d, n) and (d,) as per-instance one-dimensional data
    # (the documented tie rule of the two forms): instance 0 gets weights [1, 2, 3] and capacity 5.
    inferred = im.get_oracle("knapsack")
    np.testing.assert_array_equal(inferred(np.tile([6.0, 10.0, 12.0], (2, 1)), weights=weights, capacity=capacity),
                                  [[0, 1, 1], [0, 0, 1]])
    # other batch sizes can only mean d constraints
    np.testing.assert_array_equal(inferred(np.tile([6.0, 10.0, 12.0], (3, 1)), weights=weights, capacity=capacity),
                                  np.tile([0, 0, 1], (3, 1)))
    # and the one-dimensional form still works with dims=1
    np.testing.assert_array_equal(im.get_oracle("knapsack", dims=1)(np.array([6.0, 10.0, 12.0]),
                                                                    weights=np.array([1, 2, 3]), capacity=5), [0, 1, 1])


def test_one_dimension_given_as_d_equals_1_uses_the_dp():
    rng = np.random.default_rng(8)
    values = rng.integers(-1, 9, size=(20, 8)).astype(float)
    weights = rng.integers(0, 6, size=(20, 8)).astype(float)
    capacity = rng.integers(0, 20, size=20).astype(float)
    flat = im.get_oracle("knapsack", backend="dp")(values, weights=weights, capacity=capacity)
    lifted = im.get_oracle("knapsack", backend="dp")(values, weights=weights[:, None, :], capacity=capacity[:, None])
    np.testing.assert_array_equal(lifted, flat)  # the same DP, the same tie rule


def test_several_dimensions_errors():
    values = np.ones((4, 3))
    with pytest.raises(im.InvalidInputError, match="backend 'dp' solves one capacity dimension"):
        im.get_oracle("knapsack", backend="dp")(values, weights=np.ones((2, 3)), capacity=np.ones(2))
    with pytest.raises(im.InvalidInputError, match="backend 'dp' solves one capacity dimension, but dims=2"):
        im.get_oracle("knapsack", backend="dp", dims=2)
    with pytest.raises(im.InvalidInputError, match=r"expected weights \(2, n\) .*found weights of shape \(3, 3\)"):
        im.get_oracle("knapsack", dims=2)(values, weights=np.ones((3, 3)), capacity=np.ones(3))
    with pytest.raises(im.InvalidInputError, match="found weights of shape \\(2, 3\\) and capacity of shape \\(3,\\)"):
        im.get_oracle("knapsack")(values, weights=np.ones((2, 3)), capacity=np.ones(3))
    with pytest.raises(im.InvalidInputError, match=r"batch index \(2,\).*non-negative capacity"):
        capacity = np.ones((4, 2))
        capacity[2, 1] = -1
        im.get_oracle("knapsack")(values, weights=np.ones((2, 3)), capacity=capacity)
    with pytest.raises(im.InvalidInputError, match="dims"):
        im.get_oracle("knapsack", dims=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_several_dimensions_containers_and_batches(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(12)
    oracle = im.get_oracle("knapsack", dims=2)
    values = rng.random((3, 6)).astype(dtype)
    weights, capacity = rng.integers(1, 5, size=(2, 6)).astype(float), np.array([6.0, 7.0])
    expected = oracle(values.astype(np.float64), weights=weights, capacity=capacity)
    for batch in (values[:0], values[:1], values[0], values):
        out = oracle(batch, weights=weights, capacity=capacity)
        assert out.dtype == dtype and out.shape == batch.shape
        np.testing.assert_array_equal(out, expected[: len(batch)] if batch.ndim == 2 else expected[0])
        tensor = oracle(torch.from_numpy(batch), weights=torch.from_numpy(weights), capacity=torch.from_numpy(capacity))
        assert isinstance(tensor, torch.Tensor)
        np.testing.assert_array_equal(tensor.numpy(), out)


# ---------------------------------------------------------------------- #
# Real weights: the feasibility rule and the branch and bound
# ---------------------------------------------------------------------- #
# PyEPO's knapsack.genData(1000, 5, 32, dim=2, deg=4, noise_width=0.5, seed=43): the shared weights and the
# values of instance 205, where an optimal selection fills the first capacity (20) exactly: its float weights
# sum to exactly 20, yet CP-SAT's rounded rows refused it (value 15 instead of SCIP's 16).
PYEPO_WEIGHTS = np.array([
    [6.24, 6.2, 5.55, 6.05, 5.77, 3.58, 3.16, 6.07, 4.45, 4.87, 6.47, 7.5, 6.66, 7.14, 6.43, 6.2, 5.91, 6.83, 7.34,
     6.79, 7.59, 3.89, 7.49, 6.67, 3.34, 6.31, 4.94, 5.27, 6.73, 4.32, 5.92, 5.4],
    [6.73, 5.04, 5.16, 5.52, 4.75, 3.32, 5.02, 6.16, 6.68, 3.73, 7.18, 6.04, 7.36, 7.52, 6.76, 3.28, 3.73, 4.35, 6.17,
     3.84, 6.03, 4.04, 4.81, 7.16, 5.59, 7.18, 4.69, 7.91, 7.09, 7.13, 7.96, 4.18]])
PYEPO_VALUES_205 = np.array([1, 2, 2, 2, 3, 3, 4, 1, 2, 2, 5, 3, 3, 2, 1, 2, 1, 2, 5, 4, 2, 2, 3, 2, 2, 3, 2, 2, 2, 2,
                             1, 1], dtype=float)


@pytest.mark.parametrize("backend", ["auto", "bb", "cpsat"])
def test_a_selection_that_fills_the_capacity_exactly_is_feasible(backend):
    capacity = np.array([20.0, 20.0])
    z = im.get_oracle("knapsack", dims=2, backend=backend)(PYEPO_VALUES_205, weights=PYEPO_WEIGHTS, capacity=capacity)
    assert PYEPO_VALUES_205 @ z == 16.0  # SCIP's (PyEPO's knapsackModel) optimum
    assert (PYEPO_WEIGHTS @ z <= capacity * (1 + 1e-9)).all()


@pytest.mark.parametrize("backend", ["cpsat", "mip", "cvxpy"])
def test_ilp_rounded_rows_keep_exactly_feasible_points(backend):
    capacity = np.array([20.0, 20.0])
    z = im.get_oracle("ilp", A_ub=PYEPO_WEIGHTS, b_ub=capacity, backend=backend)(PYEPO_VALUES_205)
    assert PYEPO_VALUES_205 @ z == 16.0


@pytest.mark.parametrize("backend", ["auto", "bb", "cpsat"])
def test_decimal_weights_that_overshoot_in_floating_point_still_fit(backend):
    # 0.1 + 0.2 > 0.3 in float64 (and in exact arithmetic on those floats): within the 1e-9 relative rule
    values = np.array([[1.0, 1.0, 1.5]])
    z = im.get_oracle("knapsack", backend=backend)(values, weights=np.array([0.1, 0.2, 0.3]), capacity=0.3)
    np.testing.assert_array_equal(z, [[1.0, 1.0, 0.0]])


def lexicographic_optimum_d(values, weights, capacity):
    all_z = subsets(len(values))
    feasible = (all_z @ weights.T <= capacity * (1 + 1e-9)).all(axis=1)
    scores = np.where(feasible, all_z @ values, -np.inf)
    return all_z[np.flatnonzero(scores == scores.max())[0]]


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_branch_and_bound_returns_the_lexicographically_smallest_optimum(dims):
    rng = np.random.default_rng(100 + dims)
    oracle = im.get_oracle("knapsack", backend="bb")
    checked = 0
    for n in (1, 4, 9, 12):
        values = rng.integers(-1, 6, size=(15, n)).astype(float)  # small integers: many ties
        weights = np.round(rng.uniform(0, 8, size=(15, dims, n)), 2)  # two decimals, as PyEPO's
        capacity = np.round(rng.uniform(0, 3 * n, size=(15, dims)), 1)
        for v, w, c, z in zip(values, weights, capacity, oracle(values, weights=weights, capacity=capacity)):
            np.testing.assert_array_equal(z, lexicographic_optimum_d(v, w, c))
            checked += 1
    assert checked == 60


def test_branch_and_bound_matches_the_dp_on_integer_weights():
    rng = np.random.default_rng(7)
    values = rng.integers(-2, 9, size=(40, 10)).astype(float)
    weights = rng.integers(0, 7, size=(40, 10)).astype(float)
    capacity = rng.integers(0, 25, size=40).astype(float)
    np.testing.assert_array_equal(im.get_oracle("knapsack", backend="bb")(values, weights=weights, capacity=capacity),
                                  im.get_oracle("knapsack", backend="dp")(values, weights=weights, capacity=capacity))


def pyepo_like(rng, batch, n=32):
    weights = np.round(rng.uniform(3.0, 8.0, size=(2, n)), 2)  # 3.00-7.99, shared
    values = np.ceil(rng.uniform(0, 6, size=(batch, n)))
    return values, weights, np.array([20.0, 20.0])


def test_branch_and_bound_agrees_with_cpsat_and_the_ilp_backends_on_pyepo_like_instances():
    rng = np.random.default_rng(2026)
    values, weights, capacity = pyepo_like(rng, 40)
    bb = im.get_oracle("knapsack", dims=2)(values, weights=weights, capacity=capacity)
    objective = (values * bb).sum(1)
    assert ((bb @ weights.T) <= capacity * (1 + 1e-9)).all()
    cpsat = im.get_oracle("knapsack", dims=2, backend="cpsat")(values, weights=weights, capacity=capacity)
    np.testing.assert_array_equal(bb, cpsat)  # the same optimum, ties included (integer values)
    for reference in (im.get_oracle("ilp", A_ub=weights, b_ub=capacity, backend=b)(values)
                      for b in ("cpsat", "mip", "cvxpy")):
        np.testing.assert_array_equal(objective, (values * reference).sum(1))


def test_node_limit_hands_the_instance_to_cpsat():
    rng = np.random.default_rng(3)
    values, weights, capacity = pyepo_like(rng, 10)
    limited = im.get_oracle("knapsack", dims=2, bb_node_limit=1)(values, weights=weights, capacity=capacity)
    cpsat = im.get_oracle("knapsack", dims=2, backend="cpsat")(values, weights=weights, capacity=capacity)
    np.testing.assert_array_equal(limited, cpsat)  # every instance needed more than one node: CP-SAT's answers
    with pytest.raises(im.InvalidInputError, match="bb_node_limit"):
        im.get_oracle("knapsack", bb_node_limit=0)
