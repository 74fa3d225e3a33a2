"""One suite over every registered built-in oracle.

Every name in ``registry._BUILTINS`` needs an entry in ``tests/oracle_cases.py::CASES``
(how to build the oracle and a small valid batch, how to check a solution); a
built-in without one fails ``test_every_builtin_has_a_case``, so new oracles
must add theirs.
"""

from __future__ import annotations

import numpy as np
import pytest

import imle_solvers as im
from imle_solvers import registry
from imle_solvers.testing import check_oracle
from tests.oracle_cases import CASE_VARIANTS, CASES, ENUMERATORS, Case

BUILTINS = sorted(registry._BUILTINS)
NAMES = sorted(set(BUILTINS) | set(CASES))


def test_every_builtin_has_a_case():
    missing = [name for name in BUILTINS if name not in CASES]
    assert not missing, f"add a case to tests/oracle_cases.py::CASES for {missing}"


def test_every_case_is_a_builtin():
    unknown = [name for name in CASES if name not in registry._BUILTINS]
    assert not unknown, f"tests/oracle_cases.py::CASES covers {unknown}, which are not built-in oracles"


def _case(name) -> Case:
    if name not in registry._BUILTINS:
        pytest.fail(f"tests/oracle_cases.py::CASES has {name!r}, which is not a built-in oracle: restore it in "
                    "registry._BUILTINS or remove its case")
    return CASES[name]


def _make(name, **extra):
    return im.get_oracle(name, **_case(name).options, **extra)


def _batch(name, batch, seed=0):
    case = _case(name)
    rng = np.random.default_rng(seed)
    return case.theta(rng, batch), case.data(rng, batch)


def _out_event(oracle, theta):
    event = theta.shape[theta.ndim - oracle.event_ndim:]
    return tuple(oracle.output_event_shape(tuple(event)))


@pytest.fixture(scope="module")
def process_runner():
    runner = im.ProcessRunner(2, adaptive=False)
    yield runner
    runner.close()


# ---------------------------------------------------------------------- #
# The suite: the public checker first, then what it does not cover
# ---------------------------------------------------------------------- #
def test_every_builtin_has_a_brute_force_enumerator():
    missing = set(BUILTINS) - {"shortest_path_grid"} - set(ENUMERATORS)
    assert not missing, f"add a brute-force enumerator to tests/oracle_cases.py::ENUMERATORS for {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_check_oracle_passes(name, process_runner):
    """imle_solvers.testing.check_oracle: declared capabilities, numpy and torch
    round trips, batch shapes, empty batch, determinism on serial, threads and
    processes, pickle and cloudpickle, NaN validation, and optimality against
    brute-force enumeration (the grid's is in tests/test_testing.py, on 3 x 3
    maps)."""
    case = _case(name)
    rng = np.random.default_rng(0)
    theta, data = case.theta(rng, (4,)), case.data(rng, (4,))
    enumerate_solutions = ENUMERATORS[name]() if name in ENUMERATORS else None
    report = check_oracle(im.get_oracle(name, **case.options), theta, instance_data=data,
                          enumerate_solutions=enumerate_solutions, runners=("serial", "threads", process_runner))
    assert report.ok
    expected_skips = set() if enumerate_solutions else {"optimality"}
    assert {r.name for r in report.results if r.status == "skipped"} == expected_skips, str(report)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_dtypes_round_trip(name, dtype):
    oracle = _make(name)
    theta, data = _batch(name, (4,))
    out = oracle(theta.astype(dtype), **data)
    assert isinstance(out, np.ndarray) and out.dtype == dtype
    assert out.shape == (4, *_out_event(oracle, theta))
    assert np.all(np.isfinite(out)) and np.array_equal(out, np.round(out))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_batch_shapes_match_single_instances(name, batch):
    oracle = _make(name)
    theta, data = _batch(name, batch, seed=1)
    out = oracle(theta, **data)
    event_ndim = oracle.event_ndim
    assert out.shape == (*batch, *_out_event(oracle, theta))
    flat_theta = theta.reshape(-1, *theta.shape[theta.ndim - event_ndim:])
    flat_out = out.reshape(-1, *_out_event(oracle, theta))
    flat_data = {k: np.asarray(v).reshape(flat_theta.shape[0], *np.asarray(v).shape[len(batch):])
                 for k, v in data.items()}
    for i in range(flat_theta.shape[0]):
        single = oracle(flat_theta[i], **{k: v[i] for k, v in flat_data.items()})
        np.testing.assert_array_equal(single, flat_out[i])


@pytest.mark.parametrize("name", NAMES)
def test_nan_is_refused_with_its_index(name):
    oracle = _make(name)
    theta, data = _batch(name, (2, 3), seed=4)
    theta = theta.copy()
    theta[(1, 2) + (0,) * oracle.event_ndim] = np.nan
    with pytest.raises(im.InvalidInputError) as info:
        oracle(theta, **data)
    assert info.value.index == (1, 2) and "batch index (1, 2)" in str(info.value)
    assert info.value.oracle == name


@pytest.mark.parametrize("name", NAMES)
def test_too_few_dimensions_are_refused(name):
    oracle = _make(name)
    _, data = _batch(name, (), seed=5)
    with pytest.raises(im.InvalidInputError, match=repr(name)):
        oracle(np.zeros((3,) * (oracle.event_ndim - 1)), **data)


@pytest.mark.parametrize("name", NAMES)
def test_sense_and_capabilities_are_declared(name):
    oracle = _make(name)
    assert oracle.sense in ("max", "min")
    assert isinstance(oracle.event_ndim, int) and oracle.event_ndim >= 1
    factory = registry.get_factory(name)
    assert isinstance(factory.event_doc, str) and factory.backend and factory.__doc__ and ">>>" in factory.__doc__


@pytest.mark.parametrize("name, options, case", CASE_VARIANTS,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in o.items())}" for n, o, _ in CASE_VARIANTS])
def test_check_oracle_passes_on_other_data_layouts(name, options, case, process_runner):
    """The same public checker on another layout of a built-in's data (e.g.
    knapsacks with two capacity dimensions), brute force included."""
    _case(name)
    rng = np.random.default_rng(0)
    theta, data = case.theta(rng, (4,)), case.data(rng, (4,))
    report = check_oracle(im.get_oracle(name, **case.options), theta, instance_data=data,
                          enumerate_solutions=ENUMERATORS[name](), runners=("serial", "threads", process_runner))
    assert report.ok and not [r for r in report.results if r.status == "skipped"], str(report)
