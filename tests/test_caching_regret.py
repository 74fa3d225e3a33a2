"""CachedOracle (solution-pool caching) and metrics.regret against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

import imle_solvers as im
from imle_solvers.metrics import regret


# ---------------------------------------------------------------------- #
# regret
# ---------------------------------------------------------------------- #
def test_regret_matches_a_hand_computation_min_sense():
    import networkx as nx

    graph = nx.DiGraph([(0, 1), (1, 3), (0, 2), (2, 3)])  # costs in order (0,1) (0,2) (1,3) (2,3)
    oracle = im.get_oracle("shortest_path", graph=graph, source=0, target=3)
    true = np.array([[1.0, 2.0, 1.0, 2.0], [3.0, 1.0, 3.0, 1.0]])  # optimal 2 (top) and 2 (bottom)
    predicted = np.array([[5.0, 1.0, 5.0, 1.0], [3.0, 1.0, 3.0, 1.0]])  # picks bottom (costs 4), then bottom (2)
    np.testing.assert_allclose(regret(oracle, predicted, true, reduction="none"), [2.0, 0.0])
    assert regret(oracle, predicted, true) == pytest.approx(2.0 / 4.0)
    assert regret(oracle, predicted, true, reduction="sum") == pytest.approx(2.0)
    assert regret(oracle, predicted, true, reduction="mean") == pytest.approx(1.0)
    given = regret(oracle, predicted, true, true_objectives=np.array([2.0, 2.0]))
    assert given == pytest.approx(0.5)


def test_regret_worst_tie_is_pyepos_unambiguous_regret():
    import networkx as nx

    graph = nx.DiGraph([(0, 1), (1, 3), (0, 2), (2, 3)])
    oracle = im.get_oracle("shortest_path", graph=graph, source=0, target=3)
    true = np.array([[1.0, 2.0, 1.0, 2.0]])  # top path 2, bottom 4
    tied = np.array([[1.0, 1.0, 1.0, 1.0]])  # both paths tie under the prediction
    solver = regret(oracle, tied, true, reduction="none")[0]
    worst = regret(oracle, tied, true, reduction="none", ties="worst")[0]
    assert worst == pytest.approx(2.0)  # the bottom path, whatever the solver picked
    assert solver in (0.0, 2.0)
    clear = np.array([[1.0, 1.5, 1.0, 1.5]])  # no tie: the same either way
    assert regret(oracle, clear, true, reduction="none", ties="worst")[0] == pytest.approx(0.0)


def test_regret_keeps_batch_shapes_and_takes_tensors():
    torch = pytest.importorskip("torch")
    oracle = im.get_oracle("topk", k=2)
    rng = np.random.default_rng(0)
    true, predicted = rng.random((2, 3, 5)), rng.random((2, 3, 5))
    per = regret(oracle, torch.tensor(predicted), torch.tensor(true), reduction="none")
    assert per.shape == (2, 3) and (per >= -1e-12).all()
    flat = regret(oracle, predicted.reshape(6, 5), true.reshape(6, 5), reduction="none")
    np.testing.assert_allclose(per.reshape(-1), flat)


def test_regret_refuses_bad_arguments():
    oracle = im.get_oracle("onehot")
    with pytest.raises(im.InvalidInputError, match="same shape"):
        regret(oracle, np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(im.InvalidInputError, match="reduction"):
        regret(oracle, np.ones((2, 3)), np.ones((2, 3)), reduction="avg")
    with pytest.raises(im.InvalidInputError, match="undefined"):
        regret(oracle, np.ones((2, 3)), np.zeros((2, 3)))


# ---------------------------------------------------------------------- #
# CachedOracle
# ---------------------------------------------------------------------- #
def knapsack_instance(rng, n=10):
    weights = rng.integers(1, 10, size=n).astype(np.float64)
    return weights, float(weights.sum() // 3)


def test_cached_answers_are_reproducible_with_a_seed(rng):
    weights, capacity = knapsack_instance(rng)
    calls = [rng.random((4, 10)) for _ in range(30)]

    def run(seed):
        cached = im.CachedOracle(im.get_oracle("knapsack"), 0.3, generator=seed, weights=weights, capacity=capacity)
        return [cached(values) for values in calls], cached.solved_calls

    first, second, other = run(7), run(7), run(8)
    assert first[1] == second[1] and 0 < first[1] < 30
    for a, b in zip(first[0], second[0]):
        np.testing.assert_array_equal(a, b)
    assert other[1] != first[1] or any(not np.array_equal(a, b) for a, b in zip(first[0], other[0]))


def test_cached_answers_are_always_feasible_and_from_the_pool(rng):
    weights, capacity = knapsack_instance(rng)
    oracle = im.get_oracle("knapsack")
    seed = oracle(rng.random((5, 10)), weights=weights, capacity=capacity)
    cached = im.CachedOracle(oracle, 0.2, solutions=seed, generator=0, weights=weights, capacity=capacity)
    for _ in range(40):
        values = rng.normal(0.5, 1.0, size=(8, 10))
        z = cached(values)
        assert (z @ weights <= capacity + 1e-9).all()
        assert set(np.unique(z)) <= {0.0, 1.0}
        pool = cached.pool
        assert all((pool == row).all(axis=1).any() for row in z)  # every answer is a pool row
    assert cached.cached_calls > 0 and cached.solved_calls > 0
    assert len(np.unique(cached.pool, axis=0)) == len(cached.pool)  # de-duplicated


def test_cached_answer_is_the_best_pool_member_for_each_sense():
    pool = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    best = im.CachedOracle(im.get_oracle("onehot"), 0.0, solutions=pool[:2], generator=0)
    np.testing.assert_array_equal(best(np.array([[1.0, 2.0, 9.0], [3.0, 1.0, 9.0]])), pool[[1, 0]])
    import networkx as nx

    graph = nx.DiGraph([(0, 1), (1, 2), (0, 2)])
    cheapest = im.CachedOracle(im.get_oracle("shortest_path", graph=graph, source=0, target=2), 0.0,
                               solutions=np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]), generator=0)
    np.testing.assert_array_equal(cheapest(np.array([[1.0, 5.0, 1.0]])), [[1.0, 0.0, 1.0]])


def test_cached_oracle_keeps_the_pool_on_the_tensor_device_and_feeds_estimators(rng):
    torch = pytest.importorskip("torch")
    weights, capacity = knapsack_instance(rng)
    cached = im.CachedOracle(im.get_oracle("knapsack"), 0.5, generator=1, weights=weights, capacity=capacity)
    layer = im.IMLE(cached, target=im.PerturbedTarget(5.0), num_samples=3, generator=torch.Generator().manual_seed(0))
    theta = torch.tensor(rng.random((6, 10)), dtype=torch.float32, requires_grad=True)
    z = layer(theta)
    (z * torch.randn(6, 10)).sum().backward()
    assert torch.is_tensor(cached.pool) and theta.grad.shape == theta.shape
    z_all = cached(theta.detach().repeat(3, 1))
    assert z_all.dtype == torch.float32 and ((z_all.double() @ torch.tensor(weights)) <= capacity + 1e-9).all()


def test_cached_oracle_refuses_what_would_break_feasibility():
    oracle = im.get_oracle("knapsack")
    cached = im.CachedOracle(oracle, 0.5, weights=np.ones(3), capacity=1.0)
    with pytest.raises(im.InvalidInputError, match="instance data"):
        cached(np.ones((1, 3)), weights=np.ones(3), capacity=2.0)
    with pytest.raises(im.InvalidInputError, match="solve_ratio"):
        im.CachedOracle(oracle, 1.5)
    with pytest.raises(im.InvalidInputError, match="already a CachedOracle"):
        im.CachedOracle(cached)
    with pytest.raises(im.InvalidInputError, match="event shape"):
        cached(np.ones((1, 3)))
        cached(np.ones((1, 4)))
