"""The Oracle contract: types, devices, dtypes, shapes and validation."""

import numpy as np
import pytest
import torch

import imle_solvers as im
from imle_solvers.oracles import FunctionOracle


class Knapsackish(im.Oracle):
    """Select every item whose value beats its weight; exercises instance data."""

    name = "toy"
    sense = "max"
    instance_data = {"weights": 1, "capacity": 0}
    required_data = frozenset({"weights"})

    def check_data(self, event_shape, data):
        weights = data["weights"]
        if weights.shape[1:] != event_shape:
            raise self.invalid(f"expected weights of per-instance shape {event_shape}, but found {weights.shape[1:]}")

    def solve(self, theta, weights, capacity=np.inf):
        return (theta > weights).astype(float)


def test_numpy_in_numpy_out_same_dtype_and_shape():
    oracle = im.get_oracle("onehot")
    for dtype in (np.float32, np.float64, np.int64):
        theta = np.arange(24).reshape(2, 3, 4).astype(dtype)
        out = oracle(theta)
        assert isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == (2, 3, 4)
        assert (out.sum(-1) == 1).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_torch_round_trip_for_cpu_oracle(dtype):
    oracle = FunctionOracle(lambda t: (t > 0).astype(float), name="sign")
    theta = torch.randn(3, 5, dtype=dtype, requires_grad=True)
    out = oracle(theta)
    assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.device == theta.device
    assert not out.requires_grad
    torch.testing.assert_close(out, (theta > 0).to(dtype))


def test_non_contiguous_input():
    theta = torch.randn(6, 4).t()  # (4, 6), not contiguous
    out = im.get_oracle("topk", k=2)(theta)
    assert out.shape == (4, 6) and (out.sum(-1) == 2).all()
    out_np = FunctionOracle(lambda t: (t > 0).astype(float))(theta)
    torch.testing.assert_close(out_np, (theta > 0).float())


def test_nan_and_inf_name_the_batch_index():
    oracle = im.get_oracle("topk", k=1)
    theta = np.zeros((2, 3, 4))
    theta[1, 2, 0] = np.nan
    with pytest.raises(im.InvalidInputError) as info:
        oracle(theta)
    assert info.value.index == (1, 2) and info.value.oracle == "topk"
    assert "batch index (1, 2)" in str(info.value) and "nan" in str(info.value)
    theta[1, 2, 0] = 0
    theta[0, 1, 3] = -np.inf
    with pytest.raises(im.InvalidInputError, match=r"batch index \(0, 1\).*inf"):
        oracle(torch.tensor(theta))  # device-native path validates too
    with pytest.raises(im.InvalidInputError, match=r"batch index \(0, 1\)"):
        FunctionOracle(np.sign, name="sign")(theta)


def test_wrong_event_shape_says_expected_and_found():
    with pytest.raises(im.InvalidInputError, match=r"oracle 'topk'.*expected event shape \(n,\) with n >= k=5, but found \(3,\)"):
        im.get_oracle("topk", k=5)(np.zeros((2, 3)))
    with pytest.raises(im.InvalidInputError, match="at least 2 dimension"):
        FunctionOracle(np.sign, event_ndim=2)(np.zeros(3))


@pytest.mark.parametrize("bad", [np.array([1 + 2j]), np.array([True, False])])
def test_non_real_dtypes_refused(bad):
    with pytest.raises(im.InvalidInputError, match="real-valued"):
        im.get_oracle("onehot")(bad)


def test_instance_data_per_instance_and_shared():
    oracle = Knapsackish()
    theta = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    np.testing.assert_array_equal(oracle(theta, weights=np.array([[0.0, 5.0, 0.0], [5.0, 0.0, 5.0]])), [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(oracle(theta, weights=np.array([1.5, 1.5, 1.5])), [[0, 1, 1], [1, 1, 0]])
    torch_out = oracle(torch.tensor(theta), weights=torch.tensor([1.5, 1.5, 1.5]))
    assert isinstance(torch_out, torch.Tensor)


def test_instance_data_errors():
    oracle = Knapsackish()
    theta = np.ones((2, 3))
    with pytest.raises(im.InvalidInputError, match="missing required instance data \\['weights'\\]"):
        oracle(theta)
    with pytest.raises(im.InvalidInputError, match="unexpected instance data \\['wieghts'\\]; accepted: capacity, weights"):
        oracle(theta, weights=np.ones(3), wieghts=1)
    with pytest.raises(im.InvalidInputError, match=r"found \(3, 3\) \(theta batch shape \(2,\)\)"):
        oracle(theta, weights=np.ones((3, 3)))  # wrong batch length
    with pytest.raises(im.InvalidInputError, match="expected weights of per-instance shape"):
        oracle(theta, weights=np.ones((2, 4)))
    bad = np.ones((2, 3))
    bad[1, 1] = np.inf
    with pytest.raises(im.InvalidInputError, match=r"batch index \(1,\).*'weights'"):
        oracle(theta, weights=bad)


@pytest.mark.parametrize("batch", [(0,), (0, 3), (3, 0)])
def test_empty_batch_gives_empty_result(batch):
    for theta in (np.zeros((*batch, 4)), torch.zeros((*batch, 4))):
        out = im.get_oracle("topk", k=2)(theta)
        assert tuple(out.shape) == (*batch, 4) and type(out) is type(theta)
        out = FunctionOracle(np.sign)(theta)
        assert tuple(out.shape) == (*batch, 4)


def test_single_instance_without_batch_dims():
    out = im.get_oracle("topk", k=2)(np.array([1.0, 3.0, 2.0]))
    np.testing.assert_array_equal(out, [0, 1, 1])


def test_topk_ties_go_to_lower_index_on_every_path():
    theta = np.array([[1.0, 2.0, 2.0, 2.0, 0.0]])
    expected = [[0, 1, 1, 0, 0]]
    oracle = im.get_oracle("topk", k=2)
    np.testing.assert_array_equal(oracle(theta), expected)
    np.testing.assert_array_equal(oracle(torch.tensor(theta)).numpy(), expected)
    np.testing.assert_array_equal(im.get_oracle("onehot")(np.array([[0.0, 3.0, 3.0]])), [[0, 1, 0]])
    np.testing.assert_array_equal(im.get_oracle("onehot")(torch.tensor([[0.0, 3.0, 3.0]])).numpy(), [[0, 1, 0]])


def test_topk_matches_brute_force(rng):
    from itertools import combinations

    for _ in range(50):
        n, k = rng.integers(1, 7), None
        k = int(rng.integers(1, n + 1))
        theta = rng.integers(-2, 3, size=(4, n)).astype(float)  # many ties
        for instance, z in zip(theta, im.get_oracle("topk", k=k)(theta)):
            best = max(sum(instance[list(c)]) for c in combinations(range(n), k))
            assert z.sum() == k and instance @ z == best


def test_topk_k_validation():
    for k in (0, -1, 1.5, True):
        with pytest.raises(im.InvalidInputError, match=rf"oracle 'topk': expected k to be a positive int .*k={k!r}"):
            im.get_oracle("topk", k=k)


def test_wrong_solution_shape_is_an_oracle_error_with_index():
    from tests import faulty

    theta = np.ones((4, 3))
    theta[2, 0] = faulty.SHAPE_TRIGGER
    with pytest.raises(im.OracleError, match=r"batch index \(2,\).*shape \(2,\).*\(3,\)") as info:
        FunctionOracle(faulty.wrong_shape, name="bad_shape")(theta)
    assert info.value.index == (2,)
