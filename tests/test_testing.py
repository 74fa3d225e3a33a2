"""imle_solvers.testing.check_oracle: every built-in passes it (optimality
against brute force included), and it catches broken oracles."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import imle_solvers as im
from imle_solvers.oracles.base import Oracle
from imle_solvers.testing import CHECKS, ConformanceError, ConformanceReport, check_oracle
from tests.oracle_cases import GRID_OPTIMALITY_K, _grid_paths, _knapsack, _topk


def test_grid_oracle_is_optimal_against_brute_force():
    rng = np.random.default_rng(1)
    # integer costs: many ties, the oracle must still return an optimal simple path
    theta = rng.integers(0, 3, size=(6, GRID_OPTIMALITY_K, GRID_OPTIMALITY_K)).astype(float) + 0.5
    for neighbourhood_backend in ("numba", "torch"):
        oracle = im.get_oracle("shortest_path_grid", backend=neighbourhood_backend)
        report = check_oracle(oracle, theta, enumerate_solutions=_grid_paths(GRID_OPTIMALITY_K),
                              skip=[c for c in CHECKS if c != "optimality"])
        assert report["optimality"].passed, str(report)


def test_knapsack_with_shared_instance_data():
    weights = np.array([3.0, 4.0, 2.0, 5.0, 1.0])  # shared by the batch
    capacities = np.array([0.0, 4.0, 7.0, 15.0])  # per instance
    theta = np.random.default_rng(2).normal(size=(4, 5))
    report = check_oracle(im.get_oracle("knapsack"), theta, instance_data={"weights": weights, "capacity": capacities},
                          enumerate_solutions=_knapsack)
    assert report.ok and report["optimality"].message.startswith("4 instances")


def test_processes_runner_is_compared_too():
    theta = np.random.default_rng(3).normal(size=(6, 3, 3))
    report = check_oracle(im.get_oracle("matching"), theta, runners=("processes",), skip=["optimality"])
    assert report["determinism"].passed and "ProcessRunner" in report["determinism"].message


# ---------------------------------------------------------------------- #
# Broken oracles are caught, each by the check that should catch it
# ---------------------------------------------------------------------- #
class _Top2(Oracle):
    """The two largest entries (a correct oracle the broken ones derive from)."""

    name, sense, event_ndim = "top2", "max", 1

    def solve(self, theta):
        z = np.zeros(theta.shape)
        z[np.argsort(-theta, kind="stable")[:2]] = 1.0
        return z


class _RandomTies(_Top2):
    name = "random"

    def solve(self, theta):
        z = np.zeros(theta.shape)
        z[np.random.default_rng().permutation(theta.shape[0])[:2]] = 1.0  # ignores theta
        return z


class _WrongShape(_Top2):
    name = "wrong_shape"

    def solve(self, theta):
        return super().solve(theta)[:-1]


class _Suboptimal(_Top2):
    name = "suboptimal"

    def solve(self, theta):
        z = np.zeros(theta.shape)
        z[np.argsort(-theta, kind="stable")[[0, 2]]] = 1.0  # the 1st and 3rd largest
        return z


class _Infeasible(_Top2):
    name = "infeasible"

    def solve(self, theta):
        return (theta > np.sort(theta)[-3]).astype(float) + (theta == theta.max())  # a 2 on the maximum


class _Unpicklable(_Top2):
    name = "unpicklable"

    def __init__(self):
        self.lock = threading.Lock()


class _Mutating(_Top2):
    name = "mutating"

    def solve_chunk(self, theta):
        theta -= theta.mean(axis=1, keepdims=True)  # in place: the caller's array changes
        return np.stack([self.solve(row) for row in theta])


class _BatchDependent(_Top2):
    name = "batch_dependent"

    def solve_chunk(self, theta):
        scores = theta - theta.mean(axis=0)  # depends on the other instances
        return np.stack([self.solve(row) for row in scores])


class _NoValidation(_Top2):
    name = "no_validation"

    def __call__(self, theta, **data):
        theta = np.asarray(theta)
        return np.apply_along_axis(self.solve, -1, np.nan_to_num(theta))


class _TorchDisagrees(_Top2):
    name = "torch_disagrees"
    device_native = True

    def solve_torch(self, theta):
        order = torch.argsort(theta, dim=-1)[:, :2]  # the smallest two on the device
        return torch.zeros_like(theta).scatter_(-1, order, 1.0)


def _pairs(theta):
    return _topk(2)(theta)


THETA = np.random.default_rng(4).normal(size=(4, 6))


def _report(oracle, **kwargs):
    return check_oracle(oracle, THETA, enumerate_solutions=_pairs, raise_on_failure=False, **kwargs)


def _failed(report):
    return {r.name for r in report.failures}


def test_a_correct_oracle_passes_everything():
    report = _report(_Top2())
    assert report.ok and all(r.status == "passed" for r in report.results), str(report)


def test_non_determinism_is_caught():
    # A random answer repeats on two calls with probability (1/15)**4 per comparison: never in practice.
    report = _report(_RandomTies())
    assert "determinism" in _failed(report)
    assert "different answers on two calls" in report["determinism"].message


def test_a_wrong_shape_is_caught():
    report = _report(_WrongShape())
    assert {"numpy", "batch_shapes", "determinism"} <= _failed(report)
    assert "shape" in report["numpy"].message


def test_a_suboptimal_oracle_is_caught():
    report = _report(_Suboptimal())
    assert _failed(report) == {"optimality"}
    assert "best feasible solution" in report["optimality"].message


def test_an_infeasible_answer_is_caught():
    report = _report(_Infeasible(), skip=["numpy"])  # its 2s would fail nothing else
    assert "optimality" in _failed(report)
    assert "not among the 15 feasible solutions" in report["optimality"].message


def test_an_unpicklable_oracle_is_caught():
    report = _report(_Unpicklable())
    assert _failed(report) == {"pickle", "cloudpickle"}
    assert "lock" in report["pickle"].message.lower()


def test_an_oracle_that_modifies_its_input_is_caught():
    report = _report(_Mutating())
    assert "numpy" in _failed(report) and "modified its input" in report["numpy"].message


def test_answers_that_depend_on_the_batch_are_caught():
    report = _report(_BatchDependent())
    assert "batch_shapes" in _failed(report)


def test_missing_validation_is_caught():
    report = _report(_NoValidation())
    assert "validation" in _failed(report) and "NaN" in report["validation"].message


def test_a_device_path_that_disagrees_is_caught():
    report = _report(_TorchDisagrees())
    assert _failed(report) == {"torch"}
    assert "different answer from the numpy" in report["torch"].message


def test_raise_for_failures_names_every_failed_check():
    with pytest.raises(ConformanceError) as info:
        check_oracle(_Unpicklable(), THETA)
    assert isinstance(info.value, AssertionError)
    message = str(info.value)
    assert "unpicklable" in message and "[pickle]" in message and "[cloudpickle]" in message
    assert isinstance(info.value.report, ConformanceReport) and info.value.__cause__ is not None


def test_report_api_and_argument_errors():
    report = check_oracle("onehot", runners=("serial",))
    assert [r.name for r in report.results] == list(CHECKS)
    assert report["optimality"].status == "skipped" and "enumerate_solutions" in report["optimality"].message
    assert "passed  numpy" in str(report)
    with pytest.raises(KeyError, match="no check named"):
        report["nope"]
    with pytest.raises(TypeError, match="unknown checks"):
        check_oracle("onehot", skip=["nope"])
    with pytest.raises(TypeError, match="requires instance data"):
        check_oracle("knapsack")
    with pytest.raises(TypeError, match="expected an Oracle"):
        check_oracle(np.argmax)
    skipped = check_oracle(_Unpicklable(), THETA, skip=["pickle", "cloudpickle"])
    assert skipped.ok and skipped["pickle"].message == "skipped on request"
