"""Property-based tests over every registered built-in oracle.

For random batch shapes (empty and single included), dtypes (float32,
float64), containers (numpy, torch on the CPU and on CUDA when there is one)
and values (huge, tiny, negative, signed zeros, nan, inf, subnormals), every
call either

* returns a solution of the input's type, dtype, device and shape that the
  oracle's checker (``tests/oracle_cases.py``) accepts as feasible and optimal
  (up to the documented tolerance), or
* raises the documented error: :class:`InvalidInputError` naming a batch
  index whose instance is at fault (nan/inf, a negative cost for a
  non-negative oracle), or — only where an oracle documents it — an
  :class:`OracleError` for an instance whose float64 sums overflow,

never anything else: no other exception type, no OracleError wrapping an
arithmetic error, no solution for a faulty instance. Numpy and torch input
give the same outcome.

Examples are derandomised (the "ci" profile in ``tests/conftest.py``); set
``HYPOTHESIS_PROFILE=explore`` for fresh ones.
"""

from __future__ import annotations

import math
import os

import networkx as nx
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import imle_solvers as im
from imle_solvers import registry
from tests.oracle_cases import CASE_VARIANTS, CASES, PYEPO_ARCS_3X3

BUILTINS = sorted(registry._BUILTINS)
NAMES = sorted(set(BUILTINS) | set(CASES))

SPECIALS = [math.nan, math.inf, -math.inf, 1e30, -1e30, 1e-30, -1e-30, 0.0, -0.0, 1.7e308, -1.7e308, 5e-324, 3e38]
SCALES = [1.0, -1.0, 1e30, 1e-30, 1e300, 1e307, -1e307, 1e-300]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_every_builtin_has_a_checker():
    missing = [name for name in BUILTINS if name not in CASES or CASES[name].check is None]
    assert not missing, f"add a case with a checker to tests/oracle_cases.py::CASES for {missing}"


def _case(name):
    if name not in registry._BUILTINS:
        pytest.fail(f"tests/oracle_cases.py::CASES has {name!r}, which is not a built-in oracle: restore it in "
                    "registry._BUILTINS or remove its case")
    return CASES[name]


# ---------------------------------------------------------------------- #
# Drawing an input
# ---------------------------------------------------------------------- #
def _draw_input(draw, case):
    batch = tuple(draw(st.lists(st.integers(0, 3), max_size=2), label="batch shape"))
    dtype = draw(st.sampled_from([np.float64, np.float32]), label="dtype")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    size = draw(st.none() | st.integers(0, 4), label="event size") if case.sized is not None else None
    if size is None:
        theta, data = case.theta(rng, batch), case.data(rng, batch)
    else:
        theta, data = case.sized(rng, batch, size)
    theta = np.array(theta, dtype=np.float64) * draw(st.sampled_from(SCALES), label="scale")
    flat = theta.reshape(-1)
    fill = draw(st.none() | st.tuples(st.integers(0, 10**6), st.sampled_from(SPECIALS)), label="fill an instance")
    if fill is not None and math.prod(batch):
        rows = theta.reshape(math.prod(batch), -1)
        rows[fill[0] % rows.shape[0]] = fill[1]
    for position, value in draw(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(SPECIALS)), max_size=3),
                                label="specials"):
        if flat.size:
            flat[position % flat.size] = value
    data_scale = draw(st.sampled_from(case.data_scales), label="data scale")
    data = {key: np.array(np.asarray(value, dtype=np.float64) * data_scale) for key, value in data.items()}
    if data and draw(st.booleans(), label="non-finite data"):
        key = draw(st.sampled_from(sorted(data)))
        values = data[key].reshape(-1)
        if values.size:
            values[draw(st.integers(0, 10**6)) % values.size] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    with np.errstate(over="ignore"):
        theta = theta.astype(dtype)  # huge float64 values become inf in float32: the user's input is then inf
    return theta, data, batch, size


def _faulty_instances(oracle, theta, data, batch) -> np.ndarray:
    """Per flat instance: is it at fault (non-finite theta or data, a negative
    cost for a non-negative oracle)?"""
    values = _rows(theta, batch)
    bad = ~np.isfinite(values).all(axis=1)
    if oracle.nonnegative:
        bad |= (values < 0).any(axis=1)
    for value in data.values():
        bad |= ~np.isfinite(_rows(value, batch)).all(axis=1)
    return bad


def _rows(array, batch):
    """``array`` ``(*batch, ...)`` as ``(n, everything else)``."""
    shape = np.shape(array)
    return np.asarray(array, dtype=np.float64).reshape(math.prod(batch), math.prod(shape[len(batch):]))


def _flat(array, batch):
    n = math.prod(batch)
    return np.asarray(array, dtype=np.float64).reshape(n, *np.shape(array)[len(batch):])


# ---------------------------------------------------------------------- #
# Judging an outcome
# ---------------------------------------------------------------------- #
def _outcome(oracle, theta, data):
    try:
        return ("ok", oracle(theta, **data))
    except Exception as error:  # noqa: BLE001 - judged below
        return ("error", error)


def _min_size(case, oracle) -> int:
    return case.min_size(oracle) if callable(case.min_size) else case.min_size


def _judge_error(name, case, oracle, error, theta, data, batch, size, faulty):
    assert isinstance(error, im.ImleSolversError), f"{name}: undocumented {type(error).__name__}: {error}"
    assert error.__class__ in (im.InvalidInputError, im.OracleError) or isinstance(error, im.OracleError), error
    assert getattr(error, "oracle", None) == name, f"{name}: the error does not name the oracle: {error}"
    if size is not None and size < _min_size(case, oracle):
        assert isinstance(error, im.InvalidInputError) and "expected event shape" in str(error), error
        return
    if isinstance(error, im.InvalidInputError):
        assert faulty.any(), f"{name}: valid input refused: {error}"
        assert error.index is not None, f"{name}: the error names no batch index: {error}"
        flat = int(np.ravel_multi_index(error.index, batch)) if batch else 0
        assert faulty[flat], f"{name}: the error names instance {error.index}, which is not at fault: {error}"
        assert f"batch index {error.index}" in str(error), error
        return
    # An OracleError on valid input: only where the oracle documents one (float64 overflow).
    assert not faulty.any(), f"{name}: faulty input reached the solver: {error!r}"
    assert case.overflow is not None and error.index is not None, f"{name}: unexpected {error!r}"
    flat = int(np.ravel_multi_index(error.index, batch)) if batch else 0
    flat_data = {key: _flat(value, batch) for key, value in data.items()}
    assert case.overflow(_flat(theta, batch)[flat], {k: v[flat] for k, v in flat_data.items()}), error
    cause = error.__cause__
    assert cause is None or isinstance(cause, im.ImleSolversError), f"{name}: arithmetic failure: {cause!r}"


def _judge_solution(name, case, oracle, z, theta, data, batch, size, faulty):
    assert not (size is not None and size < _min_size(case, oracle)), f"{name}: event size {size} accepted"
    assert not faulty.any(), f"{name}: a faulty instance was solved silently"
    event = theta.shape[len(batch):]
    assert tuple(z.shape) == (*batch, *oracle.output_event_shape(tuple(event))), (z.shape, theta.shape)
    z = np.asarray(z.detach().cpu() if isinstance(z, torch.Tensor) else z, dtype=np.float64)
    assert np.isfinite(z).all(), f"{name}: non-finite solution"
    n = math.prod(batch)
    if n:
        case.check(oracle, _flat(theta, batch), {key: _flat(value, batch) for key, value in data.items()},
                   z.reshape(n, *z.shape[len(batch):]))


def _same_outcome(first, second):
    assert first[0] == second[0], f"numpy gave {first[1]!r} but torch gave {second[1]!r}"
    if first[0] == "error":
        assert type(first[1]) is type(second[1]) and first[1].index == second[1].index, (first[1], second[1])
    else:
        np.testing.assert_array_equal(second[1].detach().cpu().numpy(), first[1])


EXAMPLES = int(os.environ.get("IMLE_PROPERTY_EXAMPLES", 40))

# Other backends and options of the built-ins, checked by the same checkers.
VARIANTS = [
    ("ilp", {"backend": "mip"}),
    ("ilp", {"backend": "cvxpy"}),
    ("ilp", {"sense": "min"}),
    ("knapsack", {"backend": "cpsat"}),
    ("shortest_path", {"backend": "networkx"}),
    ("shortest_path", {"backend": "scipy"}),
    ("shortest_path", {"graph": PYEPO_ARCS_3X3, "source": 0, "target": 8}),  # acyclic: negative costs too
    ("shortest_path", {"graph": PYEPO_ARCS_3X3, "source": 0, "target": 8, "backend": "scipy"}),
    ("spanning_tree", {"sense": "max"}),
    ("ranking", {"output": "permutation"}),
    ("topk", {"k": 1}),
    ("tsp", {"backend": "cpsat"}),
    ("tsp", {"backend": "cpsat", "warm_start": False}),
    ("shortest_path_grid", {"neighbourhood": 4}),
    ("shortest_path_grid", {"backend": "torch"}),
]
VARIANT_IDS = ["-".join([name, *("dag" if key == "graph" else str(value) for key, value in options.items()
                                  if key not in ("source", "target"))]) for name, options in VARIANTS]


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=EXAMPLES)
@given(st.data())
def test_valid_solution_or_documented_error(name, data):
    _check_one_example(name, {}, data)


@pytest.mark.parametrize("name, options", VARIANTS, ids=VARIANT_IDS)
@settings(max_examples=max(EXAMPLES // 3, 1))
@given(st.data())
def test_variants_give_a_valid_solution_or_documented_error(name, options, data):
    _check_one_example(name, options, data)


@pytest.mark.parametrize("name, options, case", CASE_VARIANTS,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in o.items())}" for n, o, _ in CASE_VARIANTS])
@settings(max_examples=max(EXAMPLES // 3, 1))
@given(st.data())
def test_data_layouts_give_a_valid_solution_or_documented_error(name, options, case, data):
    _case(name)
    _check_one_example(name, options, data, case)


def _check_one_example(name, options, data, case=None):
    case = case or _case(name)
    oracle = im.get_oracle(name, **{**case.options, **options})
    theta, instance_data, batch, size = _draw_input(data.draw, case)
    faulty = _faulty_instances(oracle, theta, instance_data, batch)

    result = _outcome(oracle, theta, instance_data)
    if result[0] == "error":
        _judge_error(name, case, oracle, result[1], theta, instance_data, batch, size, faulty)
    else:
        z = result[1]
        assert isinstance(z, np.ndarray) and z.dtype == theta.dtype, (type(z), getattr(z, "dtype", None))
        _judge_solution(name, case, oracle, z, theta, instance_data, batch, size, faulty)

    device = data.draw(st.sampled_from(DEVICES), label="torch device")
    tensor = torch.from_numpy(theta).to(device)
    tensor_data = {key: torch.from_numpy(value).to(device) for key, value in instance_data.items()}
    tensor_result = _outcome(oracle, tensor, tensor_data)
    if tensor_result[0] == "ok":
        z = tensor_result[1]
        assert isinstance(z, torch.Tensor) and z.dtype == tensor.dtype and z.device == tensor.device, z
        assert not z.requires_grad
    _same_outcome(result, tensor_result)


# ---------------------------------------------------------------------- #
# Regressions: bugs the property tests found, pinned with exact expectations
# ---------------------------------------------------------------------- #
def test_onehot_refuses_an_empty_event():
    oracle = im.get_oracle("onehot")
    for theta in (np.zeros((2, 0)), torch.zeros(2, 0), np.zeros((0, 0))):
        with pytest.raises(im.InvalidInputError, match=r"expected event shape \(n,\) with n >= 1"):
            oracle(theta)


@pytest.mark.parametrize("backend", ["dp", "cpsat"])
def test_knapsack_values_near_the_float64_maximum(backend):
    # The DP summed 1.7e308 + 1.7e308 = inf, after which no item could improve
    # the value: it returned two items of three; CP-SAT's scaling raised OverflowError.
    z = im.get_oracle("knapsack", backend=backend)(np.full(3, 1.7e308), weights=np.ones(3), capacity=3.0)
    np.testing.assert_array_equal(z, [1, 1, 1])


@pytest.mark.parametrize("backend", ["dp", "cpsat"])
def test_knapsack_subnormal_values(backend):
    z = im.get_oracle("knapsack", backend=backend)(np.array([5e-324, 1e-320, 2e-323]), weights=np.ones(3),
                                                   capacity=2.0)
    np.testing.assert_array_equal(z, [0, 1, 1])


@pytest.mark.parametrize("backend", ["cpsat", "mip", "cvxpy"])
@pytest.mark.parametrize("theta, expected", [
    ([1.7e308, 1.6e308, 1.0], [1, 1, 0]),  # CP-SAT: OverflowError; SCIP: "infinite objective"; HiGHS: no solution
    ([3e30, -1e30, 2e30], [1, 0, 1]),
    ([3e-300, 2e-300, 1e-300], [1, 1, 0]),  # SCIP and HiGHS took these for zero: [0, 0, 0] and [0, 0, 1]
    ([3e-12, 2e-12, 1e-12], [1, 1, 0]),  # likewise, below their 1e-9 optimality tolerance
    ([1e-320, 5e-324, -1e-321], [1, 1, 0]),  # subnormal: CP-SAT's 2.0**s overflowed
])
def test_ilp_objectives_across_the_float64_range(backend, theta, expected):
    oracle = im.get_oracle("ilp", A_ub=[[1.0, 1.0, 1.0]], b_ub=[2.0], backend=backend)
    np.testing.assert_array_equal(oracle(np.array(theta)), expected)


def test_ilp_cpsat_rows_across_the_float64_range():
    # A subnormal row was scaled by exp2(1074) = inf and silently dropped ([1, 1, 1] violates it).
    z = im.get_oracle("ilp", A_ub=[[5e-324, 1e-323, 0.0]], b_ub=[1e-323])(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(z, [0, 1, 1])
    # A row near the float64 maximum overflowed its activity bound and was refused as unrepresentable.
    z = im.get_oracle("ilp", A_ub=[[1.7e308, 1.7e308, 0.0]], b_ub=[1.7e308])(np.array([1.0, 2.0, 1.0]))
    np.testing.assert_array_equal(z, [0, 1, 1])


@pytest.mark.parametrize("backend", ["numba", "scipy", "networkx"])
def test_shortest_path_costs_near_the_float64_maximum(backend):
    # scipy's Dijkstra summed the path to inf and reported "no path" (InfeasibleError).
    graph = nx.DiGraph([(0, 1), (0, 2), (1, 3), (2, 3)])
    oracle = im.get_oracle("shortest_path", graph=graph, source=0, target=3, backend=backend)
    np.testing.assert_array_equal(oracle(np.array([1.7e308, 1.7e308, 1.7e308, 1.6e308])), [0, 1, 0, 1])


@pytest.mark.parametrize("backend", ["cpsat", "mip", "cvxpy"])
def test_ilp_small_constraint_rows_are_respected(backend):
    # SCIP and HiGHS have an absolute feasibility tolerance of about 1e-6: they
    # returned [1, 1] (2e-7 > 1.5e-7) and the check let it through.
    oracle = im.get_oracle("ilp", A_ub=[[1e-7, 1e-7]], b_ub=[1.5e-7], backend=backend)
    np.testing.assert_array_equal(oracle(np.array([1.0, 2.0])), [0, 1])


@pytest.mark.parametrize("backend", ["auto", "dp", "cpsat"])
def test_knapsack_without_items(backend):
    # CP-SAT's row scaling reduced over an empty row: ValueError.
    z = im.get_oracle("knapsack", backend=backend)(np.zeros((2, 0)), weights=np.zeros((2, 0)), capacity=np.ones(2))
    assert z.shape == (2, 0)


# ---------------------------------------------------------------------- #
# A nan from the network, through the estimators
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize("name", ["matching", "topk"])  # a host oracle and a device-native one
def test_a_nan_in_theta_or_in_the_loss_gradient_names_theta_batch_index(name):
    oracle = im.get_oracle(name, **({"k": 1} if name == "topk" else {}))
    layer = im.IMLE(oracle, num_samples=2, generator=torch.Generator().manual_seed(0))
    shape = (3, 2, 2) if name == "matching" else (3, 4)
    theta = torch.zeros(shape)
    theta[1].view(-1)[0] = math.nan
    with pytest.raises(im.InvalidInputError, match=r"IMLE: the oracle refused its input at theta's batch index "
                                                   r"\(1,\) \(stacked sample/side \(0,\)\).*nan") as info:
        layer(theta.requires_grad_())
    assert info.value.index == (1,) and info.value.oracle == name
    z = layer(torch.zeros(shape, requires_grad=True))
    gradient = torch.zeros(shape)
    gradient[2].view(-1)[-1] = math.inf  # the loss's gradient blows up for instance 2
    with pytest.raises(im.InvalidInputError, match=r"theta's batch index \(2,\).*loss's gradient") as info:
        z.backward(gradient)
    assert info.value.index == (2,)


# ---------------------------------------------------------------------- #
# Integer input: the float64 answer, or a refusal that names the dtype
# ---------------------------------------------------------------------- #
NUMPY_INTEGERS = [np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64]
TORCH_INTEGERS = {np.uint8: torch.uint8, np.int8: torch.int8, np.uint16: torch.uint16, np.int16: torch.int16,
                  np.uint32: torch.uint32, np.int32: torch.int32, np.uint64: torch.uint64, np.int64: torch.int64}


def _integer_extremes(dtype) -> list[int]:
    """The dtype's extremes, cut to what float64 holds exactly (|v| <= 2**53):
    beyond that the float64 copy is not the same input."""
    info = np.iinfo(dtype)
    low, high = max(int(info.min), -(2**53)), min(int(info.max), 2**53)
    return sorted({low, low + 1, -1 if low < 0 else 0, 0, 1, high - 1, high})


def _same_as_float64(name, oracle, theta, data, container):
    """``oracle(theta)`` for integer ``theta`` gives what ``oracle(float64 theta)`` gives
    — the same solution, or the same refusal — or is refused with a message
    that names the dtype."""
    reference = _outcome(oracle, theta.astype(np.float64), data)
    if container == "torch":
        theta = torch.from_numpy(theta)
    found = _outcome(oracle, theta, data)
    if found[0] == "error" and reference[0] == "ok":
        assert isinstance(found[1], im.InvalidInputError) and str(theta.dtype).replace("torch.", "") in str(found[1]), (
            f"{name}: integer input ({theta.dtype}) failed where float64 was solved: {found[1]!r}")
        return
    assert found[0] == reference[0], f"{name}: float64 gave {reference[1]!r}, {theta.dtype} gave {found[1]!r}"
    if found[0] == "error":
        assert type(found[1]) is type(reference[1]) and found[1].index == reference[1].index, (found, reference)
        return
    solution = found[1]
    assert solution.dtype == theta.dtype, (name, solution.dtype, theta.dtype)
    solution = solution.numpy() if container == "torch" else solution
    np.testing.assert_array_equal(solution.astype(np.float64), reference[1], err_msg=f"{name} on {theta.dtype}")


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=max(EXAMPLES // 2, 1))
@given(st.data())
def test_integer_input_gives_the_float64_answer(name, data):
    """uint8 ``[0, 5, 3]`` once picked item 0 as the top-1: ``topk`` sorted
    ``-theta``, which wraps for unsigned types and for a signed type's minimum."""
    case = _case(name)
    oracle = im.get_oracle(name, **case.options)
    dtype = data.draw(st.sampled_from(NUMPY_INTEGERS), label="dtype")
    container = data.draw(st.sampled_from(["numpy", "torch"] if dtype in TORCH_INTEGERS else ["numpy"]),
                          label="container")
    batch = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2), label="batch shape"))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    theta, instance_data = case.theta(rng, batch), case.data(rng, batch)
    extremes = _integer_extremes(dtype)
    low, high = extremes[0], extremes[-1]
    values = np.clip(np.round(np.asarray(theta, dtype=np.float64) * 3), low, high)  # small integers, many ties
    flat = values.reshape(-1)
    for position, value in data.draw(st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(extremes)),
                                              max_size=4), label="extremes"):
        flat[position % flat.size] = value
    theta = np.array([int(v) for v in flat], dtype=dtype).reshape(values.shape)  # exact: no float rounding
    _same_as_float64(name, oracle, theta, instance_data, container)


@pytest.mark.parametrize("dtype", NUMPY_INTEGERS, ids=lambda d: d.__name__)
def test_topk_on_unsigned_and_minimum_values(dtype):
    oracle = im.get_oracle("topk", k=1)
    info = np.iinfo(dtype)
    np.testing.assert_array_equal(oracle(np.array([0, 5, 3], dtype=dtype)), [0, 1, 0])
    np.testing.assert_array_equal(oracle(np.array([info.min, info.min + 1, info.min], dtype=dtype)), [0, 1, 0])
    np.testing.assert_array_equal(im.get_oracle("topk", k=2)(np.array([info.min, info.max, info.min], dtype=dtype)),
                                  [1, 1, 0])  # ties: the lower index


@pytest.mark.parametrize("container", ["numpy", "torch"])
def test_integer_input_too_narrow_for_the_solution_is_refused(container):
    # ranks 1..300 and an integer program's value 1000 were cast to the input's
    # dtype and wrapped around (uint8 rank 300 -> 44, int8 1000 -> -24)
    ranks = np.zeros((2, 300), dtype=np.uint8)
    ilp_theta = np.ones((1, 1), dtype=np.int8)
    if container == "torch":
        ranks, ilp_theta = torch.from_numpy(ranks), torch.from_numpy(ilp_theta)
    with pytest.raises(im.InvalidInputError, match=r"oracle 'ranking' at batch index \(0,\).*uint8 cannot hold"):
        im.get_oracle("ranking")(ranks)
    with pytest.raises(im.InvalidInputError, match=r"oracle 'ilp' at batch index \(0,\).*int8 cannot hold"):
        im.get_oracle("ilp", A_ub=[[1.0]], b_ub=[1000.0], upper=1000)(ilp_theta)
    np.testing.assert_array_equal(im.get_oracle("ranking")(np.zeros(200, dtype=np.uint8)), np.arange(200, 0, -1))
