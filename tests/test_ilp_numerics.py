"""Numerics of the ``ilp`` backends.

CP-SAT solves integer programs only, so a real objective is scaled to
integers (see :mod:`imle_solvers.oracles._mip`): exactly when it is integer
or dyadic, otherwise rounded at about ``2**30`` for its largest coefficient,
which costs at most ``2**-s * sum_j max(|l_j|, |u_j|)`` of objective
(documented as ``<= 1.9e-9 * max|c| * sum_j M_j``). Here CP-SAT is compared
with SCIP (``backend="mip"``, which takes the real objective as it is) on
hundreds of seeded instances — objectives of magnitudes from 1e-8 to 1e8,
objectives whose coefficients span up to 18 orders of magnitude, and
near-ties below the rounding — and never falls short of SCIP's objective by
more than that bound. The constraints are integers, so that every backend
sees the same feasible set exactly and only the objective's scaling is
tested.

Infeasible and unbounded programs raise InfeasibleError / UnboundedError
naming the batch index, on every backend (CP-SAT needs finite bounds, so it
cannot meet an unbounded program: it refuses infinite bounds up front).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import imle_solvers as im
from imle_solvers.oracles import _mip

BACKENDS = ["cpsat", "mip", "cvxpy"]


def _objectives(rng, count, n):
    """(count, n) real objectives of four kinds, a quarter each."""
    kind = np.arange(count) % 4
    c = rng.normal(size=(count, n))
    scale = 10.0 ** rng.uniform(-8, 8, size=(count, 1))  # one magnitude per instance
    spread = 10.0 ** rng.uniform(-9, 9, size=(count, n))  # coefficients spanning orders of magnitude
    near_tie = np.round(c, 1) + 1e-11 * rng.normal(size=(count, n))  # differences below 2**-30 of the largest
    return np.select([kind[:, None] == 0, kind[:, None] == 1, kind[:, None] == 2], [c * scale, c * spread, near_tie],
                     np.round(c * 8) / 8)  # the last quarter dyadic: scaled exactly


def _instances(seed, count, n, rows):
    rng = np.random.default_rng(seed)
    c = _objectives(rng, count, n)
    a_ub = rng.integers(-3, 5, size=(count, rows, n)).astype(float)
    b_ub = rng.integers(0, 3 * n, size=(count, rows)).astype(float)  # z = 0 is feasible when 0 is within bounds
    return c, a_ub, b_ub


def _value(c, z) -> float:
    return math.fsum((np.asarray(c) * np.asarray(z)).tolist())


@pytest.mark.parametrize("sense", ["max", "min"])
@pytest.mark.parametrize("lower, upper", [(0, 1), (-2, 3)], ids=["binary", "integer"])
def test_cpsat_is_never_worse_than_scip_beyond_the_documented_bound(sense, lower, upper):
    n, rows, count = 8, 3, 150
    c, a_ub, b_ub = _instances({"max": 101, "min": 202}[sense] + lower, count, n, rows)
    options = {"sense": sense, "lower": lower, "upper": upper}
    z = {backend: im.get_oracle("ilp", backend=backend, **options)(c, A_ub=a_ub, b_ub=b_ub)
         for backend in ("cpsat", "mip")}
    magnitude = np.full(n, float(max(abs(lower), abs(upper))))  # M_j
    sign = 1.0 if sense == "max" else -1.0
    rounded = 0
    for i in range(count):
        for backend in ("cpsat", "mip"):  # both feasible: integer data, exactly
            assert (a_ub[i] @ z[backend][i] <= b_ub[i]).all(), (backend, i)
        _, s, exact = _mip.scale_objective(c[i], magnitude)
        bound = 0.0 if exact else 2.0**-s * magnitude.sum()
        assert bound <= 1.9e-9 * np.abs(c[i]).max() * magnitude.sum()  # the bound the docstrings state
        cpsat, scip = sign * _value(c[i], z["cpsat"][i]), sign * _value(c[i], z["mip"][i])
        slack = 4 * np.finfo(float).eps * _value(np.abs(c[i]), np.abs(z["cpsat"][i]) + np.abs(z["mip"][i]))
        assert cpsat >= scip - bound - slack, (
            f"instance {i}: CP-SAT {cpsat!r} vs SCIP {scip!r}, documented bound {bound:.3g}, c = {c[i]!r}")
        rounded += not exact
    assert rounded >= count // 2  # the rounding path was exercised, not only exact scalings


def test_the_cvxpy_backend_agrees_too():
    n, rows, count = 6, 2, 40
    c, a_ub, b_ub = _instances(5, count, n, rows)
    z = {backend: im.get_oracle("ilp", backend=backend)(c, A_ub=a_ub, b_ub=b_ub) for backend in BACKENDS}
    for i in range(count):
        values = {backend: _value(c[i], z[backend][i]) for backend in BACKENDS}
        _, s, exact = _mip.scale_objective(c[i], np.ones(n))
        bound = 0.0 if exact else 2.0**-s * n
        tolerance = bound + 1e-9 * np.abs(c[i]).max()  # HiGHS and SCIP: gap 0, tolerances ~1e-9 of max|c|
        assert values["cpsat"] >= max(values["mip"], values["cvxpy"]) - tolerance, (i, values)
        assert abs(values["cvxpy"] - values["mip"]) <= tolerance, (i, values)


# ---------------------------------------------------------------------- #
# Infeasible and unbounded programs name their batch index, on every backend
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["bounds", "integrality"])
def test_an_infeasible_instance_names_its_batch_index(backend, kind):
    a_eq = np.ones((2, 3, 1, 3))  # (*batch, rows, n): z0 + z1 + z2 = b
    b_eq = np.ones((2, 3, 1))
    if kind == "bounds":  # no point within the bounds: 3 binaries cannot sum to 5
        b_eq[1, 2] = 5.0
    else:  # the LP relaxation is feasible, no integer point is: 2 z0 + 2 z1 = 3
        a_eq[1, 2] = [[2.0, 2.0, 0.0]]
        b_eq[1, 2] = 3.0
    oracle = im.get_oracle("ilp", backend=backend)
    with pytest.raises(im.InfeasibleError, match=r"oracle 'ilp' failed on batch index \(1, 2\): .*infeasible|"
                                                 r"cannot be satisfied") as info:
        oracle(np.ones((2, 3, 3)), A_eq=a_eq, b_eq=b_eq)
    assert info.value.index == (1, 2) and info.value.oracle == "ilp"


@pytest.mark.parametrize("backend", ["mip", "cvxpy"])
def test_an_unbounded_instance_names_its_batch_index(backend):
    oracle = im.get_oracle("ilp", lower=0, upper=np.inf, A_ub=[[1.0, -1.0]], b_ub=[0.0], backend=backend)
    theta = -np.ones((2, 3, 2))  # minimising -z0 - z1 ... is bounded by z0 <= z1 only with z1 bounded
    theta[0, 1] = [0.0, 1.0]  # maximise z1 with z1 >= z0 >= 0: unbounded
    with pytest.raises(im.UnboundedError, match=r"oracle 'ilp' failed on batch index \(0, 1\): .*unbounded") as info:
        oracle(theta)
    assert info.value.index == (0, 1)


def test_cpsat_refuses_unbounded_variables_before_solving():
    with pytest.raises(im.InvalidInputError, match="backend 'cpsat' needs finite bounds"):
        im.get_oracle("ilp", lower=0, upper=np.inf, backend="cpsat")
