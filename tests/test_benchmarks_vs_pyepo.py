"""The PyEPO adapters of benchmarks/vs_pyepo.py solve the problems they claim
to, and the benchmark scripts run end to end on tiny settings. The PyEPO
tests skip without the ``bench`` extra."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import imle_solvers as im
from imle_solvers.datasets import is_valid_path, path_cost

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import torch  # noqa: E402


@pytest.fixture(scope="module")
def adapters():
    pytest.importorskip("pyepo")
    import vs_pyepo

    return vs_pyepo.pyepo_adapters()


@pytest.mark.parametrize("k", [2, 3, 5, 8])
def test_vertex_grid_model_finds_paths_of_optimal_cost(adapters, rng, k):
    oracle = im.get_oracle("shortest_path_grid")
    model = adapters.VertexGridModel(k)
    costs = rng.uniform(0.0, 5.0, size=(12, k, k))
    costs[rng.random(costs.shape) < 0.3] = 0.0  # zero-cost cells: ties and zero-cost cycles for the LP
    costs[0] = 0.0
    expected = path_cost(oracle(costs), costs)
    for i in range(len(costs)):
        model.setObj(costs[i].reshape(-1))
        solution, objective = model.solve()
        path = solution.reshape(k, k)
        assert set(np.unique(path)) <= {0.0, 1.0}
        assert is_valid_path(path[None])[0]
        assert path_cost(path, costs[i]) == pytest.approx(expected[i], abs=1e-9)
        assert objective == pytest.approx(expected[i], rel=1e-6, abs=1e-6)  # GLOP's tolerances


def test_vertex_grid_model_clamps_negative_costs_like_the_estimators(adapters, rng):
    costs = rng.normal(1.0, 2.0, size=(6, 4, 4))
    expected = im.get_oracle("shortest_path_grid", negative="clamp")(costs)
    model = adapters.VertexGridModel(4)
    for i in range(len(costs)):
        model.setObj(costs[i].reshape(-1))
        solution, _ = model.solve()
        clamped = np.maximum(costs[i], 0.0)
        assert path_cost(solution.reshape(4, 4), clamped) == pytest.approx(path_cost(expected[i], clamped), abs=1e-9)


@pytest.mark.parametrize("grid", [(2, 2), (3, 3), (5, 5), (3, 6)])
def test_grid_shortest_path_agrees_with_pyepo_on_negative_costs(adapters, rng, grid):
    from pyepo.model.ort import shortestPathModel

    oracle = adapters.PyepoGridShortestPath(grid)
    reference = shortestPathModel(grid)
    costs = rng.normal(0.5, 1.0, size=(20, len(reference.arcs)))  # linear models predict negative costs
    ours = oracle(costs)
    for i in range(len(costs)):
        reference.setObj(costs[i])
        solution, objective = reference.solve()
        np.testing.assert_array_equal(ours[i], solution)  # continuous costs: no ties
        assert float(ours[i] @ costs[i]) == pytest.approx(objective, rel=1e-6, abs=1e-6)  # GLOP's tolerances


def test_replayed_noise_makes_our_imle_match_pyepos(adapters, rng):
    """With PyEPO's noise replayed, our IMLE and PyEPO's implicitMLE give the
    same forward solutions and the same gradient (5 x 5 grid, continuous
    costs, so no ties)."""
    from pyepo.func import implicitMLE
    from pyepo.func.utils import sumGammaDistribution
    from pyepo.model.ort import shortestPathModel

    grid = (5, 5)
    ours = im.IMLE(adapters.PyepoGridShortestPath(grid), noise=adapters.ReplayedSumOfGamma(kappa=5),
                   target=im.PerturbedTarget(10.0), num_samples=3)
    theirs = implicitMLE(shortestPathModel(grid), n_samples=3, sigma=1.0, lambd=10.0,
                         distribution=sumGammaDistribution(kappa=5))
    costs = torch.tensor(rng.normal(1.0, 1.0, size=(8, 40)), dtype=torch.float32)
    target = torch.tensor(rng.random((8, 40)) < 0.2, dtype=torch.float32)
    for _ in range(2):  # the second call draws the next noise on both sides
        a, b = costs.clone().requires_grad_(), costs.clone().requires_grad_()
        za, zb = ours(a), theirs(b)
        torch.testing.assert_close(za, zb, rtol=0, atol=0)
        (za * (1 - target) + (1 - za) * target).sum().backward()
        (zb * (1 - target) + (1 - zb) * target).sum().backward()
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-6, atol=1e-6)
        assert a.grad.abs().sum() > 0


def test_missing_pyepo_names_the_extra(monkeypatch):
    import vs_pyepo

    monkeypatch.setitem(sys.modules, "pyepo", None)  # import pyepo raises ImportError
    with pytest.raises(im.MissingDependencyError, match=r"imle-solvers\[bench\]"):
        vs_pyepo.pyepo_adapters()


@pytest.mark.slow
def test_vs_pyepo_runs_end_to_end(adapters, tmp_path, capsys):
    import vs_pyepo

    vs_pyepo.main(["oracles", "--sizes", "3", "--repeats", "1", "--batch", "8", "--slow-batch", "4", "--lp-batch", "4",
                   "--plot", str(tmp_path / "oracles.png")])
    vs_pyepo.main(["training", "--train", "32", "--test", "16", "--epochs", "1", "--samples", "1",
                   "--cache-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert "all methods returned paths of the optimal cost" in out
    assert (tmp_path / "oracles.png").stat().st_size > 0
    for row in ("I-MLE S=1", "DBB", "model only"):
        assert row in out


@pytest.mark.slow
def test_pool_scaling_runs_end_to_end(tmp_path, capsys):
    import pool_scaling

    pool_scaling.main(["--batch", "6", "--items", "12", "--repeats", "1", "--warmup", "1", "--no-dask",
                       "--plot", str(tmp_path / "pool.png")])
    out = capsys.readouterr().out
    assert "processes (forced)" in out and "floor 1.7x" in out
    assert (tmp_path / "pool.png").stat().st_size > 0


@pytest.mark.slow
def test_vs_pyepo_dfl_runs_end_to_end(adapters, tmp_path, capsys):
    import json

    import vs_pyepo

    out = tmp_path / "dfl.json"
    vs_pyepo.main(["dfl", "--dfl-problems", "sp5", "ks", "--train", "32", "--test", "16", "--dfl-epochs", "1",
                   "--seeds", "0", "--methods", "SPO+", "NCE", "--solve-ratios", "1.0", "0.5",
                   "--dfl-out", str(out)])
    text = capsys.readouterr().out
    assert "| SPO+ |" in text and "floor (same loop, no solver)" in text
    results = json.loads(out.read_text())
    assert {r["problem"] for r in results} == {"sp5", "ks"}
    assert {r["solve_ratio"] for r in results} == {1.0, 0.5}
    spo = [r for r in results if r["method"] == "SPO+" and r["problem"] == "sp5" and r["solve_ratio"] == 1.0][0]
    # same data, initial weights and batch order, exact solvers, no ties: the same model on both sides
    assert spo["ours_regret"] == pytest.approx(spo["pyepo_regret"], abs=1e-4)
    assert all(0.0 <= r["ours_regret"] < 1.0 for r in results)


@pytest.mark.slow
def test_cached_imle_follows_pyepos_trajectory_on_the_same_streams(adapters):
    """Fed the same sum-of-gamma noise and the same solve-or-cache coins, our
    IMLE through a CachedOracle and PyEPO's implicitMLE with ``solve_ratio``
    train the same model, weight for weight (2-D knapsack, PyEPO's data,
    solutions seeded from the training set)."""
    import pyepo_dfl
    import pyepo_streams

    problem = pyepo_dfl.Problem("ks", 44, 96, 32)
    gaps, (ours, theirs) = pyepo_streams.same_streams(problem, 44, epochs=2, batch=32, solve_ratio=0.3)
    assert gaps == [0.0, 0.0]
    assert ours == pytest.approx(theirs, abs=1e-9)  # each side scored by its own regret metric
    # and the streams mattered: another coin and noise stream trains another model
    record = pyepo_streams.replicate(problem, 44, 0, epochs=2, batch=32, solve_ratio=0.3)
    assert record["ours_regret"] != ours


@pytest.mark.slow
def test_same_coins_make_cached_spo_plus_train_the_same_model(adapters, tmp_path):
    """``--same-coins``: PyEPO's solve-or-cache coin replays our CachedOracle's, so both sides solve on the
    same calls; SPO+ draws no noise, so with caching the two sides train the same model."""
    import json

    import vs_pyepo

    out = tmp_path / "dfl.json"
    vs_pyepo.main(["dfl", "--dfl-problems", "ks", "--train", "64", "--test", "32", "--dfl-epochs", "2",
                   "--seeds", "42", "--methods", "SPO+", "--solve-ratios", "0.3", "--same-coins",
                   "--dfl-out", str(out)])
    (result,) = json.loads(out.read_text())
    assert result["same_coins"] and result["solve_ratio"] == 0.3
    assert result["ours_regret"] == pytest.approx(result["pyepo_regret"], abs=1e-9)
