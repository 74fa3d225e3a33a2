"""The ``tsp`` oracle: optimality against every tour (brute force, up to 8
cities), PyEPO's edge layout, the time limit, the warm start, containers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import imle_solvers as im
from imle_solvers.oracles.tsp import edge_costs_to_matrix, num_cities, tour_to_edges
from tests.oracle_cases import _tours


def brute_force(costs):
    """The cheapest tour's cost (diagonal ignored)."""
    return min((costs * tour).sum() for tour in _tours(costs.shape[0]))


def is_tour(z):
    n = z.shape[0]
    if not ((z.sum(0) == 1).all() and (z.sum(1) == 1).all()):
        return False
    successor, city = np.argmax(z, axis=1), 0
    for steps in range(1, n + 1):
        city = successor[city]
        if city == 0:
            return steps == n
    return False


@pytest.mark.parametrize("options", [{"backend": "dp"}, {"backend": "cpsat"}, {"backend": "cpsat", "warm_start": False}],
                         ids=["dp", "cpsat", "cpsat-cold"])
def test_optimal_against_every_tour_up_to_8_cities(options):
    rng = np.random.default_rng(3)
    oracle = im.get_oracle("tsp", **options)
    checked = 0
    for n in range(2, 9):
        count = 6 if n < 8 else 2
        symmetric = rng.integers(0, 20, size=(count, n, n)).astype(float)
        symmetric = symmetric + np.swapaxes(symmetric, 1, 2)  # ties: a tour and its reverse, and more
        asymmetric = rng.normal(size=(count, n, n)) * 10  # negative costs too
        for costs in (symmetric, asymmetric):
            for w, z in zip(costs, oracle(costs)):
                assert is_tour(z), z
                assert (w * z).sum() == pytest.approx(brute_force(w), rel=1e-8, abs=1e-8)
                checked += 1
    assert checked == 2 * (6 * 6 + 2)


def test_the_diagonal_is_ignored():
    costs = np.array([[-100.0, 1, 5], [5, -100, 1], [1, 5, -100]])
    np.testing.assert_array_equal(im.get_oracle("tsp")(costs), [[0, 1, 0], [0, 0, 1], [1, 0, 0]])


def test_pyepo_edge_layout():
    # PyEPO's model.edges: list(itertools.combinations(range(n), 2)); its costs and solutions follow that order.
    n = 6
    edges = list(itertools.combinations(range(n), 2))
    rng = np.random.default_rng(7)
    edge_costs = rng.random((5, len(edges))) * 10
    matrix = edge_costs_to_matrix(edge_costs)
    for k, (i, j) in enumerate(edges):
        assert (matrix[:, i, j] == edge_costs[:, k]).all() and (matrix[:, j, i] == edge_costs[:, k]).all()
    tours = im.get_oracle("tsp")(matrix)
    by_edges = im.get_oracle("tsp", layout="edges")(edge_costs)
    np.testing.assert_array_equal(by_edges, tour_to_edges(tours))
    for c, z_edges, z in zip(edge_costs, by_edges, tours):
        assert z_edges.sum() == n
        assert c @ z_edges == pytest.approx((edge_costs_to_matrix(c) * z).sum(), rel=1e-12)  # the same tour cost
        assert c @ z_edges == pytest.approx(brute_force(edge_costs_to_matrix(c)), rel=1e-8)
    assert num_cities(len(edges)) == n and num_cities(16) is None


def test_pyepo_edge_layout_reads_as_pyepos_gettour():
    pyepo_utils = pytest.importorskip("pyepo.model.utils")
    n = 7
    edges = list(itertools.combinations(range(n), 2))
    edge_costs = np.random.default_rng(11).random((3, len(edges)))
    for z in im.get_oracle("tsp", layout="edges")(edge_costs):
        tour = pyepo_utils.getTspTour(edges, n, z)  # PyEPO's own reader accepts our solution
        assert sorted(tour[:-1]) == list(range(n)) and tour[0] == tour[-1] == 0


def test_time_limit_without_proof_is_an_error():
    rng = np.random.default_rng(0)
    costs = rng.random((2, 60, 60))
    oracle = im.get_oracle("tsp", backend="cpsat", time_limit=0.01, warm_start=False)
    with pytest.raises(im.OracleTimeoutError, match=r"batch index \(0,\).*without proving a tour optimal|"
                                                     r"batch index \(0,\).*without any tour proved optimal") as info:
        oracle(costs)
    assert info.value.index == (0,) and info.value.oracle == "tsp" and isinstance(info.value, im.OracleError)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_containers_dtypes_and_batch_sizes(dtype):
    torch = pytest.importorskip("torch")
    oracle = im.get_oracle("tsp")
    costs = np.random.default_rng(5).random((3, 5, 5)).astype(dtype)
    expected = oracle(costs.astype(np.float64))
    for batch in (costs[:0], costs[:1], costs[0], costs):
        out = oracle(batch)
        assert isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == batch.shape
        np.testing.assert_array_equal(out, expected[: len(batch)] if batch.ndim == 3 else expected[0])
        tensor = oracle(torch.from_numpy(batch))
        assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.from_numpy(batch).dtype
        np.testing.assert_array_equal(tensor.numpy(), out)


def test_input_errors():
    oracle = im.get_oracle("tsp")
    with pytest.raises(im.InvalidInputError, match=r"expected event shape \(n, n\) with n >= 2"):
        oracle(np.zeros((3, 4)))
    with pytest.raises(im.InvalidInputError, match=r"expected event shape \(n, n\) with n >= 2"):
        oracle(np.zeros((2, 1, 1)))
    with pytest.raises(im.InvalidInputError, match=r"n \(n - 1\) / 2,\) for n >= 3"):
        im.get_oracle("tsp", layout="edges")(np.zeros(7))
    with pytest.raises(im.InvalidInputError, match="backend"):
        im.get_oracle("tsp", backend="concorde")
    with pytest.raises(im.InvalidInputError, match="layout"):
        im.get_oracle("tsp", layout="pyepo")
    with pytest.raises(im.InvalidInputError, match="time_limit"):
        im.get_oracle("tsp", time_limit=-1)
    costs = np.ones((2, 4, 4))
    costs[1, 2, 3] = np.inf
    with pytest.raises(im.InvalidInputError, match=r"batch index \(1,\)"):
        oracle(costs)


def test_backends_and_warm_start_agree_on_the_optimal_cost():
    rng = np.random.default_rng(21)
    costs = rng.random((6, 12, 12))
    hinted = im.get_oracle("tsp", backend="cpsat")(costs)
    cold = im.get_oracle("tsp", backend="cpsat", warm_start=False)(costs)
    dp = im.get_oracle("tsp")(costs)  # auto: the DP at 12 cities
    for other in (cold, dp):
        np.testing.assert_allclose((costs * other).sum((1, 2)), (costs * hinted).sum((1, 2)), rtol=1e-8)
    assert all(is_tour(z) for z in dp)


def test_dp_limits_and_costs_across_the_float64_range():
    with pytest.raises(im.InvalidInputError, match="backend 'dp' solves up to 16 cities"):
        im.get_oracle("tsp", backend="dp")(np.ones((17, 17)))
    costs = np.array([[0.0, 1.7e308, 1e308], [1.6e308, 0.0, 1.7e308], [1.7e308, 1e308, 0.0]])
    for backend in ("dp", "cpsat"):  # sums beyond the float64 maximum: the instance is scaled first
        np.testing.assert_array_equal(im.get_oracle("tsp", backend=backend)(costs), [[0, 0, 1], [1, 0, 0], [0, 1, 0]])


def test_the_warm_start_heuristic_gives_a_tour_no_worse_than_nearest_neighbour():
    from imle_solvers.oracles.tsp import _heuristic

    rng = np.random.default_rng(2)
    for n in (3, 5, 12, 30):
        costs = rng.random((n, n))
        order = np.zeros(n, dtype=np.int64)
        _heuristic(costs, order)
        assert sorted(order.tolist()) == list(range(n)) and order[0] == 0
        tour_cost = costs[order, np.roll(order, -1)].sum()
        nearest = [0]  # nearest neighbour alone, written here
        while len(nearest) < n:
            rest = [j for j in range(n) if j not in nearest]
            nearest.append(min(rest, key=lambda j: costs[nearest[-1], j]))
        assert tour_cost <= costs[nearest, np.roll(nearest, -1)].sum() + 1e-12
