"""The ``matching`` oracle: optimality against every injection, rectangular
shapes, ties, errors."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
import torch

import imle_solvers as im


def brute_force(scores):
    n, m = scores.shape
    if n <= m:
        return max(sum(scores[i, cols[i]] for i in range(n)) for cols in permutations(range(m), n))
    return max(sum(scores[rows[j], j] for j in range(m)) for rows in permutations(range(n), m))


def test_optimal_against_every_injection():
    rng = np.random.default_rng(23)
    oracle = im.get_oracle("matching")
    cases = 0
    for n in range(1, 5):
        for m in range(1, 5):
            scores = rng.integers(-2, 3, size=(20, n, m)).astype(float)  # many ties
            for theta, z in zip(scores, oracle(scores)):
                assert set(np.unique(z)) <= {0.0, 1.0}
                assert z.sum() == min(n, m)
                assert (z.sum(axis=1) <= 1).all() and (z.sum(axis=0) <= 1).all()
                assert (theta * z).sum() == brute_force(theta)
                cases += 1
    assert cases == 320


def test_real_scores_and_determinism():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(30, 4, 4))
    oracle = im.get_oracle("matching")
    out = oracle(scores)
    for theta, z in zip(scores, out):
        assert (theta * z).sum() == pytest.approx(brute_force(theta))
    np.testing.assert_array_equal(oracle(scores), out)


@pytest.mark.parametrize("runner", ["serial", "threads"])
def test_ties_follow_the_documented_rule_wherever_the_instance_sits(runner):
    # The documented tie rule: scipy's linear_sum_assignment's answer. A tied
    # instance gets exactly that answer alone, in any position of a batch of
    # other instances, and on a pool of threads.
    from scipy.optimize import linear_sum_assignment

    tied = np.ones((4, 4))
    tied[0, :2] = 2.0  # row 0 takes column 0 or 1; the rest is a free-for-all
    rows, cols = linear_sum_assignment(tied, maximize=True)
    expected = np.zeros((4, 4))
    expected[rows, cols] = 1.0
    batch = np.random.default_rng(4).normal(size=(7, 4, 4))
    batch[[0, 3, 6]] = tied
    oracle = im.get_oracle("matching", runner=runner)
    out = oracle(batch)
    for position in (0, 3, 6):
        np.testing.assert_array_equal(out[position], expected)
    np.testing.assert_array_equal(oracle(tied), expected)
    np.testing.assert_array_equal(oracle(torch.from_numpy(tied)).numpy(), expected)
    assert (tied * expected).sum() == brute_force(tied) == 5.0


def test_torch_and_float16():
    scores = torch.tensor([[0.0, 2.0], [3.0, 1.0]], dtype=torch.float16)
    out = im.get_oracle("matching")(scores)
    assert out.dtype == torch.float16
    torch.testing.assert_close(out, torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float16))


def test_event_shape_errors():
    oracle = im.get_oracle("matching")
    with pytest.raises(im.InvalidInputError, match="at least 2 dimension"):
        oracle(np.ones(3))
    with pytest.raises(im.InvalidInputError, match=r"n, m >= 1, but found \(0, 3\)"):
        oracle(np.ones((2, 0, 3)))
