"""The ``ranking`` oracle: ranks maximise <theta, r> over all permutations,
stable ties, numpy and torch agree, the permutation-matrix view."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
import torch

import imle_solvers as im


def test_ranks_maximise_the_linear_objective_over_all_permutations():
    rng = np.random.default_rng(29)
    oracle = im.get_oracle("ranking")
    cases = 0
    for n in range(1, 6):
        theta = rng.integers(-2, 3, size=(60, n)).astype(float)  # ties
        ranks = oracle(theta)
        for instance, r in zip(theta, ranks):
            assert sorted(r) == list(range(1, n + 1))
            assert instance @ r == max(instance @ np.array(p) for p in permutations(range(1, n + 1)))
            cases += 1
    assert cases == 300


def test_ties_are_stable_lower_index_ranks_higher():
    theta = np.array([1.0, 2.0, 2.0, 0.0, 2.0])
    np.testing.assert_array_equal(im.get_oracle("ranking")(theta), [2, 5, 4, 1, 3])
    np.testing.assert_array_equal(im.get_oracle("ranking")(torch.tensor(theta)).numpy(), [2, 5, 4, 1, 3])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int64])
def test_torch_matches_numpy_on_device(dtype):
    rng = np.random.default_rng(3)
    theta = rng.integers(-20, 20, size=(4, 3, 16))
    oracle = im.get_oracle("ranking")
    expected = oracle(theta.astype(np.float64))
    out = oracle(torch.tensor(theta).to(dtype))
    assert out.dtype == dtype and tuple(out.shape) == (4, 3, 16)
    np.testing.assert_array_equal(out.to(torch.float64).numpy(), expected)


def test_permutation_view():
    rng = np.random.default_rng(5)
    theta = rng.integers(0, 4, size=(10, 6)).astype(float)
    ranks = im.get_oracle("ranking")(theta)
    for output in (im.get_oracle("ranking", output="permutation")(theta),
                   im.get_oracle("ranking", output="permutation")(torch.tensor(theta)).numpy()):
        assert output.shape == (10, 6, 6)
        for instance, p, r in zip(theta, output, ranks):
            assert (p.sum(0) == 1).all() and (p.sum(1) == 1).all()
            np.testing.assert_array_equal(p @ instance, np.sort(instance)[::-1])
            np.testing.assert_array_equal(p.T @ np.arange(6, 0, -1), r)  # the two views agree


def test_options_and_errors():
    with pytest.raises(im.InvalidInputError, match="output"):
        im.get_oracle("ranking", output="ranks_and_more")
    with pytest.raises(im.InvalidInputError, match="n >= 1"):
        im.get_oracle("ranking")(np.ones((2, 0)))
