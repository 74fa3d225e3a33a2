"""Cost-supervised losses (imle_solvers.losses) against their definitions,
computed by enumerating small feasible sets."""

from __future__ import annotations

import numpy as np
import pytest

import imle_solvers as im

torch = pytest.importorskip("torch")


def enumerated_oracle(feasible: np.ndarray, sense: str) -> im.FunctionOracle:
    """The exact oracle over an explicit feasible set (rows of ``feasible``); first row on ties."""
    def solve(theta):
        values = feasible @ theta
        return feasible[np.argmax(values) if sense == "max" else np.argmin(values)].copy()

    return im.FunctionOracle(solve, name=f"enumerated-{sense}", sense=sense)


@pytest.fixture
def feasible(rng):
    rows = np.unique((rng.random((12, 6)) < 0.5).astype(np.float64), axis=0)
    return rows


@pytest.mark.parametrize("sense", ["min", "max"])
def test_spo_plus_matches_the_closed_form_and_its_subgradient(feasible, rng, sense):
    oracle = enumerated_oracle(feasible, sense)
    sign = 1.0 if sense == "max" else -1.0
    true = rng.normal(1.0, 1.0, size=(8, 6))
    predicted = rng.normal(0.5, 1.0, size=(8, 6))
    theta = torch.tensor(predicted, requires_grad=True)
    loss = im.SPOPlusLoss(oracle, reduction="none")(theta, torch.tensor(true))
    loss.sum().backward()
    for i in range(8):
        c, c_hat = true[i], predicted[i]
        best = feasible[np.argmax(sign * (feasible @ c))]
        z_star = best @ c
        # min: max_w <c - 2ĉ, w> + 2<ĉ, w*> - z*;  max: max_w <2ĉ - c, w> - 2<ĉ, w*> + z*
        expected = np.max(-sign * (feasible @ (c - 2 * c_hat))) + sign * (-2 * c_hat @ best + z_star) \
            if sense == "max" else np.max(feasible @ (c - 2 * c_hat)) + 2 * c_hat @ best - z_star
        assert loss[i].item() == pytest.approx(expected, abs=1e-9)
        achieved = feasible[np.argmax(sign * (feasible @ c_hat))] @ c
        assert loss[i].item() >= sign * (z_star - achieved) - 1e-9  # SPO+ bounds the regret
        z_tilde = feasible[np.argmax(sign * (feasible @ (2 * c_hat - c)))]
        expected_grad = 2 * (z_tilde - best) if sense == "max" else 2 * (best - z_tilde)
        np.testing.assert_allclose(theta.grad[i].numpy(), expected_grad, atol=1e-12)
    zero = im.SPOPlusLoss(oracle, reduction="none")(torch.tensor(true), torch.tensor(true))
    np.testing.assert_allclose(zero.numpy(), 0.0, atol=1e-9)  # SPO+(c, c) = 0


def test_spo_plus_uses_given_solutions_and_objectives_without_solving_them(feasible, rng):
    calls = []
    base = enumerated_oracle(feasible, "min")

    def counting(theta):
        calls.append(1)
        return base.solve(theta)

    oracle = im.FunctionOracle(counting, name="counting", sense="min")
    true = torch.tensor(rng.normal(1.0, 1.0, size=(4, 6)))
    solutions = torch.tensor(base(true.numpy()))
    objectives = (true * solutions).sum(-1)
    loss_fn = im.SPOPlusLoss(oracle)
    given = loss_fn(true * 0.5, true, true_solutions=solutions, true_objectives=objectives)
    assert len(calls) == 4  # the 2ĉ - c solves only
    computed = loss_fn(true * 0.5, true)
    assert len(calls) == 4 + 8
    assert given.item() == pytest.approx(computed.item())


def test_spo_plus_never_clamps_and_names_bad_shapes():
    import networkx as nx

    # undirected: every edge is a 2-cycle, so Dijkstra's rules apply and negative costs are refused
    oracle = im.get_oracle("shortest_path", graph=nx.Graph([(0, 1), (1, 2), (0, 2)]), source=0, target=2)
    loss_fn = im.SPOPlusLoss(oracle)
    with pytest.raises(im.InvalidInputError, match="negative"):  # 2ĉ - c < 0: refused, not clamped
        loss_fn(torch.zeros(1, 3), torch.ones(1, 3))
    with pytest.raises(im.InvalidInputError, match="true_costs"):
        loss_fn(torch.ones(1, 3), torch.ones(2, 3))


def test_negative_identity_is_minus_the_identity_for_costs(feasible, rng):
    oracle = enumerated_oracle(feasible, "min")
    costs = torch.tensor(rng.normal(size=(3, 6)), requires_grad=True)
    z = im.NegativeIdentity(oracle)(costs)
    np.testing.assert_array_equal(z.detach().numpy(), oracle(costs.detach().numpy()))
    g = torch.tensor(rng.normal(size=(3, 6)))
    (z * g).sum().backward()
    torch.testing.assert_close(costs.grad, -g)


@pytest.mark.parametrize("sense", ["min", "max"])
def test_solution_loss_distances_follow_pyepo(feasible, rng, sense):
    oracle = enumerated_oracle(feasible, sense)
    true = torch.tensor(rng.normal(1.0, 1.0, size=(5, 6)))
    predicted = torch.tensor(rng.normal(1.0, 1.0, size=(5, 6)))
    y_hat = torch.tensor(oracle(predicted.numpy()))
    y_true = torch.tensor(oracle(true.numpy()))
    layer = im.Blackbox(oracle, lambda_=20.0)
    l1 = im.SolutionLoss(layer)(predicted, true)
    assert l1.item() == pytest.approx(torch.nn.L1Loss()(y_hat, y_true).item())
    mse = im.SolutionLoss(layer, distance="squared")(predicted, true)
    assert mse.item() == pytest.approx(torch.nn.MSELoss()(y_hat, y_true).item())
    regret = im.SolutionLoss(layer, distance="regret", reduction="none")(predicted, true)
    expected = im.regret(oracle, predicted.numpy(), true.numpy(), reduction="none")
    np.testing.assert_allclose(regret.numpy(), expected, atol=1e-12)
    fy = im.FenchelYoungLoss(oracle, num_samples=4, generator=torch.Generator().manual_seed(0))
    via = im.SolutionLoss(fy)(predicted, true)
    fy.generator.manual_seed(0)
    assert via.item() == pytest.approx(fy(predicted, y_true).item())


def test_perturbed_optimizer_variance_reduction_centres_the_rewards():
    class Fixed:
        def __init__(self, value):
            self.value = value

        def sample(self, shape, *, generator=None, device=None, dtype=None):
            return self.value.to(dtype=dtype).expand(shape).clone() if self.value.shape != shape else self.value.clone()

        def neg_log_density_grad(self, z):
            return z

    eps = torch.tensor([[[0.5, -1.0, 0.2]], [[-0.3, 0.4, 1.1]], [[0.9, 0.1, -0.6]]], dtype=torch.float64)  # (S, 1, 3)
    theta = torch.tensor([[0.2, 0.1, 0.3]], dtype=torch.float64, requires_grad=True)
    g = torch.tensor([[1.0, -2.0, 0.5]], dtype=torch.float64)
    layer = im.PerturbedOptimizer(im.get_oracle("onehot"), sigma=0.5, num_samples=3, noise=Fixed(eps),
                                  variance_reduction=True)
    (layer(theta) * g).sum().backward()
    y = torch.nn.functional.one_hot((theta.detach() + 0.5 * eps).argmax(-1), 3).double()  # (S, 1, 3)
    reward = (y * g).sum(-1, keepdim=True)
    centred = (reward - reward.mean(0)) * 3 / 2
    torch.testing.assert_close(theta.grad, (centred * eps).mean(0) / 0.5)


def pool_definitions(predicted, true, pool, solution, sign):
    """NCE, CMAP and the three LTR losses of one instance, written out term by term."""
    score_hat = [sign * (predicted @ p) for p in pool]
    score_true = [sign * (true @ p) for p in pool]
    target = sign * (predicted @ solution)
    nce = np.mean([s - target for s in score_hat])
    cmap = max(score_hat) - target
    pointwise = np.mean([((true - predicted) @ p) ** 2 for p in pool])
    b = int(np.argmax(score_true))
    pairwise = sum(max(0.0, score_hat[j] - score_hat[b]) for j in range(len(pool))) / max(len(pool) - 1, 1)
    soft_true = np.exp(score_true - np.max(score_true))
    soft_true = np.maximum(soft_true / soft_true.sum(), 1e-8)
    log_soft_hat = np.array(score_hat) - np.max(score_hat)
    log_soft_hat = log_soft_hat - np.log(np.exp(log_soft_hat).sum())
    listwise = -float(np.sum(soft_true * log_soft_hat))
    return {"nce": nce, "cmap": cmap, "pointwise": pointwise, "pairwise": pairwise, "listwise": listwise}


@pytest.mark.parametrize("sense", ["min", "max"])
def test_pool_losses_match_their_definitions(feasible, rng, sense):
    oracle = enumerated_oracle(feasible, sense)
    sign = 1.0 if sense == "max" else -1.0
    pool = feasible[: len(feasible) // 2 + 1]
    true = rng.normal(1.0, 1.0, size=(6, 6))
    predicted = rng.normal(1.0, 1.0, size=(6, 6))
    solutions = oracle(true)
    classes = {"nce": im.NCELoss, "cmap": im.ContrastiveMAPLoss, "pointwise": im.PointwiseLTRLoss,
               "pairwise": im.PairwiseLTRLoss, "listwise": im.ListwiseLTRLoss}
    for name, cls in classes.items():
        loss_fn = cls(oracle, solve_ratio=0.0, solutions=pool, generator=0, reduction="none")
        got = loss_fn(torch.tensor(predicted), torch.tensor(true), true_solutions=torch.tensor(solutions))
        assert loss_fn.cache.pool.shape == pool.shape  # solve_ratio=0: the pool is never refreshed
        for i in range(6):
            expected = pool_definitions(predicted[i], true[i], pool, solutions[i], sign)[name]
            assert got[i].item() == pytest.approx(expected, rel=1e-9, abs=1e-9), (name, i)


def test_pool_losses_refresh_the_pool_and_give_gradients(feasible, rng):
    oracle = enumerated_oracle(feasible, "min")
    loss_fn = im.NCELoss(oracle, solve_ratio=1.0, solutions=feasible[:1], generator=0)
    predicted = torch.tensor(rng.normal(size=(16, 6)), requires_grad=True)
    true = torch.tensor(rng.normal(size=(16, 6)))
    loss_fn(predicted, true).backward()
    assert len(loss_fn.cache.pool) > 1 and loss_fn.cache.solved_calls == 1
    assert predicted.grad.abs().sum() > 0
    with pytest.raises(im.InvalidInputError, match="instance data"):
        loss_fn(predicted, true, weights=np.ones(6))


def test_spo_plus_regret_and_caching_on_an_oracle_with_matrix_events(rng):
    """tsp (event_ndim 2): SPO+ against the closed form over every tour of 5 cities, the cached
    answers are tours, and regret reads (n, n) events."""
    import itertools

    oracle = im.get_oracle("tsp")
    n = 5
    tours = []
    for order in itertools.permutations(range(1, n)):
        cycle = (0, *order)
        z = np.zeros((n, n))
        for a, b in zip(cycle, cycle[1:] + cycle[:1]):
            z[a, b] = 1.0
        tours.append(z)
    tours = np.array(tours)  # (24, n, n)
    true = rng.random((3, n, n)) + 0.1
    predicted = rng.random((3, n, n)) + 0.1
    loss = im.SPOPlusLoss(oracle, reduction="none")(torch.tensor(predicted), torch.tensor(true))
    for i in range(3):
        values = lambda costs: (tours * costs).sum(axis=(1, 2))  # noqa: E731
        best = tours[np.argmin(values(true[i]))]
        expected = np.max(values(true[i] - 2 * predicted[i])) + 2 * (predicted[i] * best).sum() - values(true[i]).min()
        assert loss[i].item() == pytest.approx(expected, abs=1e-9)
    cached = im.CachedOracle(oracle, 0.0, solutions=tours[:3], generator=0)
    answers = cached(predicted)
    assert all((answers[i] == tours[:3]).all(axis=(1, 2)).any() for i in range(3))
    per = im.regret(oracle, predicted, true, reduction="none")
    assert per.shape == (3,) and (per >= -1e-12).all()
