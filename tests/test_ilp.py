"""The ``ilp`` oracle: optimality against every binary (and small integer)
vector on each backend, agreement between backends, integer scaling for
CP-SAT, infeasible / unbounded / time-limited instances, errors."""

from __future__ import annotations

from itertools import product

import numpy as np
import pytest

import imle_solvers as im
from imle_solvers.oracles import _mip

BACKENDS = ["cpsat", "mip", "cvxpy"]


def enumerate_optimum(theta, sense, A_ub, b_ub, A_eq, b_eq, lower, upper):
    n = theta.shape[0]
    grid = np.array(list(product(*[range(int(lo), int(hi) + 1) for lo, hi in zip(lower, upper)])), dtype=float)
    feasible = np.ones(len(grid), bool)
    if A_ub is not None:
        feasible &= (grid @ A_ub.T <= b_ub + 1e-9).all(axis=1)
    if A_eq is not None:
        feasible &= (np.abs(grid @ A_eq.T - b_eq) <= 1e-9).all(axis=1)
    if not feasible.any():
        return None
    values = grid[feasible] @ theta
    assert grid.shape[1] == n
    return values.max() if sense == "max" else values.min()


def random_instances(rng, count, n):
    theta = rng.integers(-3, 4, size=(count, n)).astype(float)  # ties
    A_ub = rng.integers(-2, 4, size=(count, 2, n)).astype(float)
    b_ub = rng.integers(0, 5, size=(count, 2)).astype(float)
    A_eq = rng.integers(0, 2, size=(count, 1, n)).astype(float)
    b_eq = rng.integers(0, 3, size=(count, 1)).astype(float)
    return theta, A_ub, b_ub, A_eq, b_eq


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sense", ["max", "min"])
def test_optimal_against_every_binary_vector(backend, sense):
    rng = np.random.default_rng(43)
    oracle = im.get_oracle("ilp", sense=sense, backend=backend)
    solved = infeasible = 0
    for n in range(1, 7):
        theta, A_ub, b_ub, A_eq, b_eq = random_instances(rng, 8 if backend == "cvxpy" else 20, n)
        for i in range(theta.shape[0]):
            best = enumerate_optimum(theta[i], sense, A_ub[i], b_ub[i], A_eq[i], b_eq[i], np.zeros(n), np.ones(n))
            data = {"A_ub": A_ub[i], "b_ub": b_ub[i], "A_eq": A_eq[i], "b_eq": b_eq[i]}
            if best is None:
                with pytest.raises(im.InfeasibleError):
                    oracle(theta[i], **data)
                infeasible += 1
                continue
            z = oracle(theta[i], **data)
            assert set(np.unique(z)) <= {0.0, 1.0}
            assert (A_ub[i] @ z <= b_ub[i]).all() and (A_eq[i] @ z == b_eq[i]).all()
            assert theta[i] @ z == best
            solved += 1
    assert solved >= (30 if backend == "cvxpy" else 60) and infeasible >= 5


def test_general_integer_bounds_and_backends_agree():
    rng = np.random.default_rng(47)
    lower, upper = np.array([-2, 0, -1, 1]), np.array([1, 3, 2, 2])
    A_ub = rng.integers(-3, 4, size=(3, 4)).astype(float)
    b_ub = rng.integers(0, 6, size=3).astype(float)
    theta = rng.normal(size=(30, 4))  # real objective
    best = [enumerate_optimum(t, "max", A_ub, b_ub, None, None, lower, upper) for t in theta]
    values = {}
    for backend in BACKENDS:
        oracle = im.get_oracle("ilp", A_ub=A_ub, b_ub=b_ub, lower=lower, upper=upper, backend=backend)
        z = oracle(theta)
        assert (z >= lower).all() and (z <= upper).all() and (z @ A_ub.T <= b_ub).all()
        values[backend] = (theta * z).sum(1)
        bound = 2.0 ** -29 * np.abs(theta).max(1) * np.maximum(np.abs(lower), np.abs(upper)).sum()
        assert (values[backend] >= np.array(best) - bound - 1e-12).all(), backend
    np.testing.assert_allclose(values["cpsat"], values["mip"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(values["cvxpy"], values["mip"], rtol=0, atol=1e-8)


def test_backends_agree_on_larger_instances():
    rng = np.random.default_rng(53)
    n = 30
    A_ub = rng.integers(0, 10, size=(5, n)).astype(float)
    b_ub = A_ub.sum(1) / 3
    A_eq = np.zeros((1, n))
    A_eq[0, :10] = 1
    theta = rng.integers(-20, 50, size=(6, n)).astype(float)
    results = {b: im.get_oracle("ilp", A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=[3], backend=b)(theta) for b in BACKENDS}
    objective = {b: (theta * z).sum(1) for b, z in results.items()}
    np.testing.assert_array_equal(objective["cpsat"], objective["mip"])
    np.testing.assert_array_equal(objective["cpsat"], objective["cvxpy"])


def test_fixed_and_per_instance_data_give_the_same_answers():
    rng = np.random.default_rng(59)
    theta, A_ub, b_ub, _, _ = random_instances(rng, 6, 5)
    b_ub = np.abs(b_ub)
    per_instance = im.get_oracle("ilp")(theta, A_ub=A_ub, b_ub=b_ub)
    for i in range(6):
        fixed = im.get_oracle("ilp", A_ub=A_ub[i], b_ub=b_ub[i])(theta[i])
        np.testing.assert_array_equal(fixed, per_instance[i])
    shared_call = im.get_oracle("ilp")(theta, A_ub=A_ub[0], b_ub=b_ub[0])
    np.testing.assert_array_equal(shared_call, im.get_oracle("ilp", A_ub=A_ub[0], b_ub=b_ub[0])(theta))
    mixed = im.get_oracle("ilp", A_ub=A_ub[0])(theta, b_ub=b_ub[0])  # A at construction, b per call
    np.testing.assert_array_equal(mixed, shared_call)


@pytest.mark.parametrize("backend", BACKENDS)
def test_infeasible_names_the_batch_index(backend):
    oracle = im.get_oracle("ilp", backend=backend)
    A_eq = np.array([[[1.0, 1.0]], [[1.0, 1.0]], [[2.0, 2.0]]])
    b_eq = np.array([[1.0], [2.0], [3.0]])  # the last has no binary solution
    with pytest.raises(im.InfeasibleError, match=r"batch index \(2,\)") as info:
        oracle(np.ones((3, 2)), A_eq=A_eq, b_eq=b_eq)
    assert info.value.index == (2,) and info.value.oracle == "ilp"


@pytest.mark.parametrize("backend", ["mip", "cvxpy"])
def test_unbounded_and_integer_infeasible(backend):
    unbounded = im.get_oracle("ilp", upper=np.inf, A_ub=[[1.0, -1.0]], b_ub=[0.0], backend=backend)
    with pytest.raises(im.UnboundedError, match=r"batch index \(1,\)"):
        unbounded(np.array([[-1.0, -1.0], [0.0, 1.0]]))
    # The LP relaxation is unbounded but there is no integer point: infeasible, not unbounded.
    no_integer_point = im.get_oracle("ilp", lower=-np.inf, upper=np.inf, A_eq=[[2.0, 2.0]], b_eq=[1.0],
                                     backend=backend)
    with pytest.raises(im.InfeasibleError):
        no_integer_point(np.array([1.0, 0.0]))


def test_time_limit_without_proof_is_an_error():
    rng = np.random.default_rng(0)
    # A market split instance: notoriously hard for branch and bound.
    A_eq = rng.integers(0, 100, size=(4, 40)).astype(float)
    b_eq = np.floor(A_eq.sum(1) / 2)
    for backend in ("cpsat", "mip"):
        oracle = im.get_oracle("ilp", A_eq=A_eq, b_eq=b_eq, backend=backend, time_limit=0.05)
        with pytest.raises(im.OracleError, match=r"batch index \(0,\).*without proving optimality"):
            oracle(np.ones((1, 40)))


def test_cpsat_scaling_rules():
    assert _mip.fraction_bits(np.array([1.0, 0.75, 2.0**-40, 3e15, -0.5])).tolist() == [0, 2, 40, 0, 1]
    # exact: integers and short binary fractions
    c_int, s, exact = _mip.scale_objective(np.array([3.0, -0.25]), np.ones(2))
    assert exact and s == 2 and c_int.tolist() == [12, -1]
    # rounded: about 2**30 for the largest coefficient
    c_int, s, exact = _mip.scale_objective(np.array([0.1, -0.3]), np.ones(2))
    assert not exact and 2**29 <= np.abs(c_int).max() < 2**30
    # floats are dyadic: 0.1 and 0.2 share their binary digits and scale exactly (and 0.1 + 0.2 != 0.3)
    a_int, b_int, problem = _mip.scale_rows(np.array([[0.1, 0.2]]), np.array([0.3]), np.ones(2), equality=True)
    assert problem is None and a_int.sum() != b_int[0] and (a_int * 2.0**-55 == [[0.1, 0.2]]).all()
    # a <= row that is not exactly representable is rounded to nearest at ~2**40, b alike
    a_int, b_int, problem = _mip.scale_rows(np.array([[0.1, 1e-5]]), np.array([0.1]), np.ones(2), equality=False)
    assert problem is None and 2**39 <= np.abs(a_int).max() <= 2**40 and b_int[0] == a_int[0, 0]
    # an equality that is not exactly representable is refused
    _, _, problem = _mip.scale_rows(np.array([[0.1, 1e-5]]), np.array([0.1]), np.ones(2), equality=True)
    assert problem is not None and "equality" in problem[1]
    # a row spanning too many orders of magnitude is refused
    _, _, problem = _mip.scale_rows(np.array([[1e-15, 1.0]]), np.array([1.0]), np.ones(2), equality=False)
    assert problem is not None and "orders of magnitude" in problem[1]


def test_cpsat_refuses_unrepresentable_data_and_other_backends_take_it():
    with pytest.raises(im.InvalidInputError, match="row 0 of A_eq"):
        im.get_oracle("ilp", A_eq=[[0.1, 1e-5]], b_eq=[0.1])
    oracle = im.get_oracle("ilp")
    with pytest.raises(im.InvalidInputError, match=r"batch index \(1,\).*CP-SAT cannot represent row 0 of A_eq"):
        oracle(np.ones((2, 2)), A_eq=np.array([[[1.0, 1.0]], [[0.1, 1e-5]]]), b_eq=np.array([[1.0], [0.1]]))
    for backend in ("mip", "cvxpy"):
        z = im.get_oracle("ilp", A_eq=[[0.1, 1e-5]], b_eq=[0.1], backend=backend)(np.array([1.0, 2.0]))
        np.testing.assert_array_equal(z, [1, 0])
    z = im.get_oracle("ilp", A_eq=[[0.5, 0.25]], b_eq=[0.75])(np.ones(2))  # dyadic: exact
    np.testing.assert_array_equal(z, [1, 1])
    z = im.get_oracle("ilp", A_ub=[[0.1, 1e-5]], b_ub=[0.1])(np.array([3.0, 2.0]))  # rounded <= row
    np.testing.assert_array_equal(z, [1, 0])


def test_option_and_data_errors():
    with pytest.raises(im.InvalidInputError, match="sense"):
        im.get_oracle("ilp", sense="maximise")
    with pytest.raises(im.InvalidInputError, match="backend"):
        im.get_oracle("ilp", backend="gurobi")
    with pytest.raises(im.InvalidInputError, match="finite bounds"):
        im.get_oracle("ilp", upper=np.inf)
    with pytest.raises(im.InvalidInputError, match="integer upper"):
        im.get_oracle("ilp", upper=1.5)
    with pytest.raises(im.InvalidInputError, match="lower <= upper"):
        im.get_oracle("ilp", lower=[0, 2], upper=[1, 1])
    with pytest.raises(im.InvalidInputError, match="agree on the number of variables"):
        im.get_oracle("ilp", A_ub=np.ones((1, 3)), b_ub=[1], upper=np.ones(4))
    with pytest.raises(im.InvalidInputError, match="time_limit"):
        im.get_oracle("ilp", time_limit=0)
    oracle = im.get_oracle("ilp", A_ub=np.ones((1, 3)), b_ub=[1])
    with pytest.raises(im.InvalidInputError, match=r"expected event shape \(3,\)"):
        oracle(np.ones(4))
    with pytest.raises(im.InvalidInputError, match="fixed at construction"):
        oracle(np.ones(3), A_ub=np.ones((1, 3)))
    with pytest.raises(im.InvalidInputError, match="come in pairs, but b_eq is missing"):
        im.get_oracle("ilp")(np.ones(3), A_eq=np.ones((1, 3)))
    with pytest.raises(im.InvalidInputError, match="one entry per row"):
        im.get_oracle("ilp")(np.ones(3), A_ub=np.ones((2, 3)), b_ub=np.ones(3))
    with pytest.raises(im.InvalidInputError, match="3 columns"):
        im.get_oracle("ilp")(np.ones(3), A_ub=np.ones((2, 4)), b_ub=np.ones(2))
