r"""Integer linear programs on OR-Tools CP-SAT, OR-Tools SCIP and cvxpy/HiGHS.

Shared by the ``ilp`` and ``knapsack`` oracles. One problem is

.. math::

    \max / \min \; \langle c, z \rangle \quad\text{s.t.}\quad
    A_{ub} z \le b_{ub},\; A_{eq} z = b_{eq},\;
    \ell \le z \le u,\; z \in \mathbb{Z}^n.

Integer scaling for CP-SAT
--------------------------
CP-SAT works on integers only, so real data are scaled by powers of two
(multiplying a float by ``2**s`` is exact unless it under- or overflows):

* Objective. If every ``c_j * 2**s`` is an integer for some ``s`` with
  ``max|c| * 2**s <= 2**53`` and ``sum_j |c_j| M_j * 2**s <= 2**62``
  (``M_j = max(|l_j|, |u_j|)``), the smallest such ``s`` is used and the
  scaling is *exact* (integer and dyadic objectives, e.g. integer costs).
  Otherwise ``s`` is chosen so that ``max|c| * 2**s`` lies in
  ``[2**29, 2**30)`` (about 1e9; smaller if the int64 budget requires) and
  ``c~ = round(c * 2**s)``. CP-SAT's solution ``z*`` is optimal for
  ``c~``; for the real objective it is within

      ``|<c, z*> - opt| <= 2**-s * sum_j M_j  (<= 1.9e-9 * max|c| * sum_j M_j)``

  of the optimum — for binary variables ``1.9e-9 * n * max|c|``.
* Constraints, row by row. A row is scaled *exactly* when some ``2**s``
  turns all its coefficients (and, for an equality, its right-hand side)
  into integers with ``max|a| * 2**s <= 2**53`` and the row's activity
  ``sum_j |a_j| M_j * 2**s <= 2**62``; then ``b`` of a ``<=`` row becomes
  ``floor(b * 2**s)`` — exactly equivalent for integer activities. Other
  ``<=`` rows have their coefficients rounded to nearest at
  ``max|a| * 2**s`` close to ``2**40``: each moves by ``e_j``, at most
  ``2**-(s+1)``, i.e. ``4.5e-13`` relative to the row's largest
  coefficient; the right-hand side becomes
  ``floor(b * 2**s + sum_j |e_j| M_j)``, so that every ``z`` that satisfies
  the real row exactly (in real arithmetic on the given floats — e.g.
  two-decimal weights that sum to the capacity exactly) stays feasible,
  and a returned ``z`` satisfies the real row to within
  ``2**-s * (sum_j M_j + 1)`` (``9e-13 * n`` of the row's largest
  coefficient for binaries). Data that cannot be represented this
  way are refused (:class:`~imle_solvers.errors.InvalidInputError`): an
  equality row that is not exactly representable, or a row whose
  coefficients span so many orders of magnitude that a nonzero one would
  round to zero. The ``"mip"`` and ``"cvxpy"`` backends take real data as
  they are (with their solvers' feasibility tolerances, about 1e-6), the
  objective and every constraint row divided by a power of two so that
  their largest coefficient lies in [0.5, 1) (exact; it keeps
  ``|c| >= 1e20``, which SCIP calls infinite, solvable, and makes the
  solvers' absolute tolerances relative to the data's scale).
* Every scaling uses ``ldexp`` and computes ``log2(sum_j |c_j| M_j)`` from
  a pre-scaled row, so objectives and rows anywhere in the float64 range,
  subnormal or near ``1.8e308``, are scaled without overflow.

Every backend's solution is checked against the real constraints (each row
scaled by a power of two to a largest coefficient in [0.5, 1), then a
tolerance of 1e-6 relative to the row's size) and the bounds before it is
returned; a stop without a
proof of optimality (``time_limit``) is an :class:`OracleError`, never a
silently suboptimal answer.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import warnings

import numpy as np

from ..errors import InfeasibleError, InvalidInputError, OracleError, UnboundedError
from ._deps import require

__all__ = [
    "BACKENDS",
    "check_limits",
    "fraction_bits",
    "scale_objective",
    "scale_rows",
    "solve",
]

BACKENDS = ("cpsat", "mip", "cvxpy")

_EXACT_BITS = 53  # largest coefficient of an exactly scaled row / objective
_ACTIVITY_BITS = 62  # sum_j |a_j| M_j must stay below 2**62 (CP-SAT checks int64 overflow)
_ROUND_ROW_BITS = 40  # rounded constraint rows: largest coefficient about 2**40
_OBJECTIVE_BITS = 30  # rounded objectives: largest coefficient in [2**29, 2**30)
_FEASIBILITY_TOLERANCE = 1e-6
_INTEGRALITY_TOLERANCE = 1e-6
MAX_CPSAT_BOUND = 2.0**53


def check_limits(time_limit, num_workers) -> str | None:
    """What is wrong with the ``time_limit`` / ``num_workers`` options, or ``None``."""
    number = isinstance(time_limit, (int, float, np.integer, np.floating)) and not isinstance(time_limit, bool)
    if time_limit is not None and not (number and time_limit > 0):
        return f"expected time_limit to be a positive number of seconds or None, but found {time_limit!r}"
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 1:
        return f"expected num_workers to be a positive int, but found {num_workers!r}"
    return None


def fraction_bits(x: np.ndarray) -> np.ndarray:
    """The number of binary digits after the point of each finite float:
    the smallest ``s >= 0`` with ``x * 2**s`` an integer.

    >>> fraction_bits(np.array([3.0, 0.5, 0.375, 0.0, 1e20])).tolist()
    [0, 1, 3, 0, 0]
    """
    x = np.asarray(x, dtype=np.float64)
    mantissa, exponent = np.frexp(x)  # x = mantissa * 2**exponent, 0.5 <= |mantissa| < 1
    integer = np.abs(mantissa * 2.0**53).astype(np.int64)  # exact: x = integer * 2**(exponent - 53)
    lowest_bit = integer & -integer
    trailing_zeros = np.frexp(lowest_bit.astype(np.float64))[1] - 1
    bits = 53 - exponent - trailing_zeros
    return np.where(x == 0, 0, np.maximum(bits, 0)).astype(np.int64)


def _log2(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log2(x)


def _log2_activity(absolute: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """``log2(absolute @ magnitude)`` per row of ``absolute`` ``(r, n)``, without
    overflow: each row is first scaled by a power of two (exactly) so that its
    largest entry is below 1 (``|c| ~ 1e308`` times ``n`` would overflow)."""
    top = np.frexp(absolute.max(axis=1, initial=0.0))[1]  # (r,): largest < 2**top
    with np.errstate(under="ignore"):
        scaled = np.ldexp(absolute, -top[:, None])
    return top + _log2(scaled @ magnitude)


def scale_objective(c: np.ndarray, magnitude: np.ndarray) -> tuple[np.ndarray, int, bool]:
    """Integer objective ``round(c * 2**s)`` (see the module docstring).

    Returns ``(c_int, s, exact)``.

    >>> scale_objective(np.array([1.0, -2.5]), np.ones(2))
    (array([ 2, -5]), 1, True)
    """
    c = np.asarray(c, dtype=np.float64)
    absolute = np.abs(c)
    largest = absolute.max(initial=0.0)
    if largest == 0:
        return np.zeros(c.shape, dtype=np.int64), 0, True
    activity_room = _ACTIVITY_BITS - _log2_activity(absolute[None], magnitude)[0]
    need = int(fraction_bits(c).max())
    if need <= math.floor(min(_EXACT_BITS - math.log2(largest), activity_room)):
        s, exact = need, True
    else:
        s, exact = int(math.floor(min(_OBJECTIVE_BITS - math.log2(largest), activity_room))), False
    # ldexp, not c * 2.0**s: 2.0**s overflows for the s of subnormal objectives (up to 1074 + 30)
    return np.rint(np.ldexp(c, s)).astype(np.int64), s, exact


def scale_rows(a: np.ndarray, b: np.ndarray, magnitude: np.ndarray, *, equality: bool):
    """Integer rows for CP-SAT (see the module docstring).

    Args:
        a: ``(r, n)`` coefficients; b: ``(r,)`` right-hand sides;
        magnitude: ``(n,)`` ``max(|lower|, |upper|)`` per variable;
        equality: the rows are equalities (else ``a z <= b``).

    Returns:
        ``(a_int (r, n) int64, b_int (r,) int64, problem)`` where ``problem``
        is ``None`` or ``(row, reason)`` for the first row that cannot be
        represented.

    >>> a_int, b_int, problem = scale_rows(np.array([[0.5, 1.0]]), np.array([1.7]), np.ones(2), equality=False)
    >>> a_int.tolist(), b_int.tolist(), problem  # exact: 2 * (0.5 z0 + z1 <= 1.7)
    ([[1, 2]], [3], None)
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    rows = a.shape[0]
    if rows == 0:
        return np.zeros(a.shape, dtype=np.int64), np.zeros(0, dtype=np.int64), None
    absolute = np.abs(a)
    largest = absolute.max(axis=1, initial=0.0)  # (r,); a program without variables has empty rows
    activity_room = _ACTIVITY_BITS - _log2_activity(absolute, magnitude)  # (r,)
    exact_room = np.floor(np.minimum(_EXACT_BITS - _log2(largest), activity_room))
    round_scale = np.floor(np.minimum(_ROUND_ROW_BITS - _log2(largest), activity_room))
    need = fraction_bits(a).max(axis=1, initial=0)
    if equality:
        need = np.maximum(need, fraction_bits(b))
    exact = need <= exact_room
    with np.errstate(invalid="ignore"):  # rows of zeros: inf exponents, replaced by 0 here
        scale = np.where(largest == 0, 0, np.where(exact, need, round_scale)).astype(np.int64)  # (r,) exponents
    # ldexp, not a * 2.0**scale: the power alone overflows for rows of tiny (subnormal) coefficients
    with np.errstate(over="ignore", under="ignore"):
        a_int = np.rint(np.ldexp(a, scale[:, None])).astype(np.int64)
        scaled_b = np.ldexp(b, scale)  # may overflow to inf: clipped below, beyond every activity
    limit = 2.0**_ACTIVITY_BITS + 1  # beyond every reachable activity: keeps (in)feasibility
    if equality:
        b_int = np.clip(scaled_b, -limit, limit).astype(np.int64)
    else:  # floor is exact for exact rows; rounded rows get room for the rounding of their coefficients
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            # (a_int - a 2**s) z is at most sum_j max(e_j lower_j, e_j upper_j) <= sum_j |e_j| M_j: a z <= b
            # (exactly, in real numbers) implies a_int z <= b 2**s + room; e_j is exact in float64
            # (|a 2**s| < 2**54), and so is the sum for binary-sized magnitudes.
            error = a_int.astype(np.float64) - np.ldexp(a, scale[:, None])
            room = np.abs(error) @ magnitude
            whole = np.floor(scaled_b)
            rounded = whole + np.floor((scaled_b - whole) + room)
        b_int = np.clip(np.where(exact, np.floor(scaled_b), rounded), -limit, limit).astype(np.int64)
    lost = ((a != 0) & (a_int == 0)).any(axis=1)
    problem = None
    bad = lost | (~exact & equality)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        if lost[row]:
            reason = ("its coefficients span too many orders of magnitude: a nonzero coefficient would round to "
                      f"zero when the row is scaled to integers (largest |a| = {largest[row]:.3g})")
        else:
            reason = (f"the equality's data need a scale of 2**{int(need[row])} to become integers, more than "
                      f"fits in 53 bits and int64 (at most 2**{int(exact_room[row])})")
        problem = (row, reason)
    return a_int, b_int, problem


def cpsat_problem(a_ub, b_ub, a_eq, b_eq, magnitude) -> str | None:
    """A description of the first constraint CP-SAT cannot represent, or ``None``."""
    for label, a, b, equality in (("A_ub", a_ub, b_ub, False), ("A_eq", a_eq, b_eq, True)):
        if a is None or a.shape[0] == 0:
            continue
        _, _, problem = scale_rows(a, b, magnitude, equality=equality)
        if problem is not None:
            row, reason = problem
            return (f"CP-SAT cannot represent row {row} of {label} exactly enough: {reason}; use backend "
                    "'mip' or 'cvxpy', or round the data")
    return None


# ---------------------------------------------------------------------- #
# Solving
# ---------------------------------------------------------------------- #
def solve(
    backend: str,
    c: np.ndarray,
    *,
    maximize: bool,
    a_ub: np.ndarray | None,
    b_ub: np.ndarray | None,
    a_eq: np.ndarray | None,
    b_eq: np.ndarray | None,
    lower: np.ndarray,
    upper: np.ndarray,
    time_limit: float | None = None,
    num_workers: int = 1,
    lexicographic: bool = False,
) -> np.ndarray:
    """Solve one integer linear program; returns ``z`` (float64, integral).

    ``lexicographic`` (CP-SAT, binary variables): among the optima, the
    lexicographically smallest ``z`` (``z_0 = 0`` whenever an optimum has it,
    then ``z_1``, ...), by the exact objective ``c_int * 2**n`` minus (for
    max; plus for min) ``sum_j z_j 2**(n-1-j)`` — applied when the
    objective scales to integers exactly and ``log2(sum |c_int|) + n <= 61``
    (int64), else ignored (the optimum CP-SAT finds first).

    Raises :class:`InfeasibleError`, :class:`UnboundedError`, or
    :class:`OracleError` when the solver stops without proving optimality.
    """
    n = c.shape[0]
    a_ub = np.zeros((0, n)) if a_ub is None else np.asarray(a_ub, dtype=np.float64)
    b_ub = np.zeros(0) if b_ub is None else np.asarray(b_ub, dtype=np.float64)
    a_eq = np.zeros((0, n)) if a_eq is None else np.asarray(a_eq, dtype=np.float64)
    b_eq = np.zeros(0) if b_eq is None else np.asarray(b_eq, dtype=np.float64)
    c = np.asarray(c, dtype=np.float64)
    # Rows and objective times powers of two (exact; the same solutions): the
    # float solvers' absolute tolerances become relative, and the check below
    # is relative to each row's largest coefficient.
    a_ub, b_ub = _normalise_rows(a_ub, b_ub)
    a_eq, b_eq = _normalise_rows(a_eq, b_eq)
    if backend == "cpsat":  # scales to integers itself
        z = _solve_cpsat(c, maximize, a_ub, b_ub, a_eq, b_eq, lower, upper, time_limit=time_limit,
                         num_workers=num_workers, lexicographic=lexicographic)
    elif backend == "mip":
        z = _solve_scip(_normalise_objective(c), maximize, a_ub, b_ub, a_eq, b_eq, lower, upper,
                        time_limit=time_limit)
    elif backend == "cvxpy":
        z = _solve_cvxpy(_normalise_objective(c), maximize, a_ub, b_ub, a_eq, b_eq, lower, upper,
                         time_limit=time_limit)
    else:  # pragma: no cover - validated by the oracles
        raise ValueError(f"unknown backend {backend!r}")
    _verify(z, a_ub, b_ub, a_eq, b_eq, lower, upper, backend)
    return z.astype(np.float64) + 0.0  # + 0.0 turns -0.0 into 0.0


def _normalise_objective(c: np.ndarray) -> np.ndarray:
    """``c * 2**-e`` with ``max|c|`` in [0.5, 1): the same optimal solutions
    (a power of two scales exactly), and the float solvers' absolute
    tolerances become relative to ``max|c|``. SCIP treats ``|c| >= 1e20`` as
    infinite and HiGHS refuses such costs; without this, ``theta ~ 1e20``
    fails and ``theta ~ 1e-12`` looks constant to a gap of 1e-9.

    >>> _normalise_objective(np.array([3e30, -1e30])) * 2.0**102
    array([ 3.e+30, -1.e+30])
    """
    largest = np.abs(c).max(initial=0.0)
    if largest == 0:
        return c
    with np.errstate(under="ignore"):  # entries below 2**-1074 of the largest do not count
        return np.ldexp(c, -int(np.frexp(largest)[1]))


def _normalise_rows(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``a z <= b`` (or ``=``) times the power of two that puts its
    largest coefficient in [0.5, 1): the same feasible set, exactly."""
    top = np.frexp(np.abs(a).max(axis=1, initial=0.0))[1]  # (r,); 0 for a row of zeros
    with np.errstate(under="ignore", over="ignore"):
        return np.ldexp(a, -top[:, None]), np.ldexp(b, -top)


def _not_optimal(backend: str, status: str, time_limit: float | None) -> OracleError:
    limit = f" (time_limit={time_limit} s)" if time_limit is not None else ""
    return OracleError(f"the {backend} solver stopped{limit} without proving optimality (status {status}); "
                       "no solution is returned rather than a possibly suboptimal one")


def _verify(z, a_ub, b_ub, a_eq, b_eq, lower, upper, backend) -> None:
    if not np.all(np.isfinite(z)):
        raise OracleError(f"the {backend} solver returned a non-finite solution")
    if np.any(z < lower) or np.any(z > upper):
        raise OracleError(f"the {backend} solver returned a solution outside the variable bounds")
    for label, a, b, equality in (("A_ub z <= b_ub", a_ub, b_ub, False), ("A_eq z = b_eq", a_eq, b_eq, True)):
        if a.shape[0] == 0:
            continue
        activity = a @ z
        slack = _FEASIBILITY_TOLERANCE * (1.0 + np.abs(a) @ np.abs(z) + np.abs(b))
        violation = np.abs(activity - b) if equality else activity - b
        if np.any(violation > slack):
            row = int(np.argmax(violation - slack))
            raise OracleError(
                f"the {backend} solver returned a solution violating row {row} of {label} by {violation[row]:.3g}"
            )


def _integral(values: np.ndarray, backend: str) -> np.ndarray:
    rounded = np.rint(values)
    if np.any(np.abs(values - rounded) > _INTEGRALITY_TOLERANCE):
        raise OracleError(f"the {backend} solver returned a non-integral solution")
    return rounded


# ---- CP-SAT ------------------------------------------------------------ #
def _warn_if_loaded_after_tensorflow() -> None:
    """CP-SAT's native library loaded after TensorFlow's can crash the process
    (a segmentation fault in ``CpSolver.solve``, google/or-tools#3230: the two
    bundle different absl/protobuf builds); measured here with TensorFlow 2.21
    and OR-Tools 9.15. Loaded first, it works. Warn before the first load."""
    if "ortools.sat.python.cp_model" not in sys.modules and "tensorflow" in sys.modules:
        from ..errors import ImleSolversWarning

        warnings.warn(
            "OR-Tools CP-SAT is being loaded after TensorFlow, an order in which its solver can crash the process "
            "with a segmentation fault (google/or-tools#3230). Import imle_solvers.tf (or ortools.sat.python."
            "cp_model) before tensorflow, or use the ilp backend 'mip' or 'cvxpy' / the knapsack backend 'dp'.",
            ImleSolversWarning,
            stacklevel=3,
        )


def lexicographic_objective(c_int: np.ndarray, exact: bool, maximize: bool, lower, upper) -> np.ndarray | None:
    """CP-SAT minimisation coefficients whose optimum is the lexicographically
    smallest optimum of ``c_int`` over binary ``z``, or ``None`` when they do
    not fit (a rounded objective, non-binary bounds, or more than 61 bits).

    >>> lexicographic_objective(np.array([1, 1]), True, True, np.zeros(2), np.ones(2)).tolist()
    [-2, -3]
    """
    n = c_int.shape[0]
    if not exact or n > 60 or np.any(lower < 0) or np.any(upper > 1):
        return None
    total = int(np.abs(c_int).sum())
    if total.bit_length() + n > 61:
        return None
    sign = -1 if maximize else 1
    ties = [1 << (n - 1 - j) for j in range(n)]
    return np.array([sign * (int(v) << n) + t for v, t in zip(c_int.tolist(), ties)], dtype=np.int64)


def _solve_cpsat(c, maximize, a_ub, b_ub, a_eq, b_eq, lower, upper, *, time_limit, num_workers,
                 lexicographic=False):
    _warn_if_loaded_after_tensorflow()
    cp_model = require("ortools.sat.python.cp_model", needed_for="ilp backend 'cpsat'")
    n = c.shape[0]
    if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))):
        raise InvalidInputError("CP-SAT needs finite variable bounds; use backend 'mip' or 'cvxpy'")
    lower_int = lower.astype(np.int64)
    upper_int = upper.astype(np.int64)
    magnitude = np.maximum(np.abs(lower), np.abs(upper))
    model = cp_model.CpModel()
    proto = model.proto
    for lo, hi in zip(lower_int.tolist(), upper_int.tolist()):
        proto.variables.add().domain.extend([lo, hi])
    for label, a, b, equality in (("A_ub", a_ub, b_ub, False), ("A_eq", a_eq, b_eq, True)):
        if a.shape[0] == 0:
            continue
        a_int, b_int, problem = scale_rows(a, b, magnitude, equality=equality)
        if problem is not None:
            row, reason = problem
            raise InvalidInputError(f"CP-SAT cannot represent row {row} of {label} exactly enough: {reason}")
        low_activity = np.minimum(a_int * lower_int, a_int * upper_int).sum(axis=1)  # (r,), |.| < 2**62
        high_activity = np.maximum(a_int * lower_int, a_int * upper_int).sum(axis=1)
        for row in range(a_int.shape[0]):
            low, high, rhs = int(low_activity[row]), int(high_activity[row]), int(b_int[row])
            if rhs < low or (equality and rhs > high):
                raise InfeasibleError(f"row {row} of {label} cannot be satisfied within the variable bounds")
            if not equality and rhs >= high:
                continue  # redundant
            support = np.flatnonzero(a_int[row])
            constraint = proto.constraints.add().linear
            constraint.vars.extend(support.tolist())
            constraint.coeffs.extend(a_int[row, support].tolist())
            constraint.domain.extend([rhs, rhs] if equality else [low, rhs])
    c_int, _, exact = scale_objective(c, magnitude)
    ordered = lexicographic_objective(c_int, exact, maximize, lower, upper) if lexicographic else None
    if ordered is not None:
        proto.objective.vars.extend(range(n))
        proto.objective.coeffs.extend(ordered.tolist())
    else:
        support = np.flatnonzero(c_int)
        if support.size:
            proto.objective.vars.extend(support.tolist())
            proto.objective.coeffs.extend((-c_int[support] if maximize else c_int[support]).tolist())
    solver = cp_model.CpSolver()
    parameters = solver.parameters
    parameters.num_workers = int(num_workers)
    parameters.random_seed = 0
    # OR-Tools 9.15's inclusion-detection presolve can certify a wrong optimum
    # (google/or-tools#5293); we measured wrong "OPTIMAL" answers on ~2 % of
    # random knapsacks with 2**30..2**53 coefficients. Switching that presolve
    # family off removes them; the rest of presolve stays on.
    parameters.presolve_inclusion_work_limit = 0
    if time_limit is not None:
        parameters.max_time_in_seconds = float(time_limit)
    status = solver.solve(model)
    if status == cp_model.OPTIMAL:
        return np.fromiter(solver.response_proto.solution, dtype=np.int64, count=n).astype(np.float64)
    if status == cp_model.INFEASIBLE:
        raise InfeasibleError("the integer program is infeasible (proved by CP-SAT)")
    if status == cp_model.MODEL_INVALID:
        raise OracleError(f"CP-SAT rejected the model: {model.validate()}")
    raise _not_optimal("CP-SAT", solver.status_name(status), time_limit)


# ---- OR-Tools SCIP ------------------------------------------------------ #
def _build_scip(c, maximize, a_ub, b_ub, a_eq, b_eq, lower, upper, time_limit):
    pywraplp = require("ortools.linear_solver.pywraplp", needed_for="ilp backend 'mip'")
    solver = pywraplp.Solver.CreateSolver("SCIP")
    if solver is None:  # pragma: no cover - depends on the OR-Tools build
        raise OracleError("this OR-Tools build has no SCIP; use backend 'cpsat' or 'cvxpy'")
    infinity = solver.infinity()
    variables = [
        solver.IntVar(lo if np.isfinite(lo) else -infinity, hi if np.isfinite(hi) else infinity, "")
        for lo, hi in zip(lower.tolist(), upper.tolist())
    ]
    for a, b, equality in ((a_ub, b_ub, False), (a_eq, b_eq, True)):
        for row in range(a.shape[0]):
            rhs = float(b[row])
            constraint = solver.RowConstraint(rhs if equality else -infinity, rhs, "")
            for j in np.flatnonzero(a[row]).tolist():
                constraint.SetCoefficient(variables[j], float(a[row, j]))
    objective = solver.Objective()
    for j in np.flatnonzero(c).tolist():
        objective.SetCoefficient(variables[j], float(c[j]))
    if maximize:
        objective.SetMaximization()
    else:
        objective.SetMinimization()
    if time_limit is not None:
        solver.SetTimeLimit(max(1, int(math.ceil(time_limit * 1000))))
    parameters = pywraplp.MPSolverParameters()
    parameters.SetDoubleParam(parameters.RELATIVE_MIP_GAP, 0.0)
    return pywraplp, solver, variables, parameters


def _solve_scip(c, maximize, a_ub, b_ub, a_eq, b_eq, lower, upper, *, time_limit):
    pywraplp, solver, variables, parameters = _build_scip(c, maximize, a_ub, b_ub, a_eq, b_eq, lower, upper,
                                                          time_limit)
    status = solver.Solve(parameters)
    if status == pywraplp.Solver.OPTIMAL:
        return _integral(np.array([v.solution_value() for v in variables]), "SCIP")
    if status in (pywraplp.Solver.INFEASIBLE, pywraplp.Solver.UNBOUNDED):
        # OR-Tools reports SCIP's "infeasible or unbounded" as INFEASIBLE, and an
        # unbounded relaxation need not have an integer point: settle it with a
        # feasibility solve (zero objective).
        _, feasibility, _, parameters = _build_scip(np.zeros_like(c), maximize, a_ub, b_ub, a_eq, b_eq, lower,
                                                    upper, time_limit)
        check = feasibility.Solve(parameters)
        if check == pywraplp.Solver.INFEASIBLE:
            raise InfeasibleError("the integer program is infeasible (proved by SCIP)")
        if check == pywraplp.Solver.OPTIMAL:
            raise UnboundedError("the integer program is feasible but its objective is unbounded (SCIP)")
        raise _not_optimal("SCIP", f"{status}, feasibility check {check}", time_limit)
    names = {pywraplp.Solver.FEASIBLE: "FEASIBLE", pywraplp.Solver.NOT_SOLVED: "NOT_SOLVED",
             pywraplp.Solver.ABNORMAL: "ABNORMAL"}
    raise _not_optimal("SCIP", names.get(status, str(status)), time_limit)


# ---- cvxpy + HiGHS ------------------------------------------------------ #
_HIGHS_QUIET = False
_HIGHS_LOCK = threading.Lock()


def _silence_highs_banner() -> None:
    """HiGHS writes a banner to the process's stdout (file descriptor 1, from
    C++) when its first ``Highs`` object is created, whatever the options.
    Create that first object once with descriptor 1 pointed at /dev/null."""
    global _HIGHS_QUIET
    with _HIGHS_LOCK:
        if _HIGHS_QUIET:
            return
        try:
            highspy = require("highspy", needed_for="ilp backend 'cvxpy'")
        except ImportError:  # cvxpy reports its own error
            _HIGHS_QUIET = True
            return
        sys.stdout.flush()
        saved = os.dup(1)
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 1)
                highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        _HIGHS_QUIET = True


_CVXPY_CACHE = threading.local()
_CVXPY_CACHE_SIZE = 8


def _cvxpy_problem(cp, n, m_ub, m_eq, maximize, lower, upper):
    """A parametrised cvxpy problem for this shape, built once per thread:
    later instances only set parameter values (cvxpy reuses the
    canonicalisation, about half the time of a fresh problem)."""
    cache = getattr(_CVXPY_CACHE, "problems", None)
    if cache is None:
        cache = _CVXPY_CACHE.problems = {}
    key = (n, m_ub, m_eq, maximize, lower.tobytes(), upper.tobytes())
    entry = cache.get(key)
    if entry is None:
        z = cp.Variable(n, integer=True)
        c = cp.Parameter(n)
        parameters = {"c": c}
        constraints = []
        finite_lower, finite_upper = np.isfinite(lower), np.isfinite(upper)
        if finite_lower.any():
            constraints.append(z[np.flatnonzero(finite_lower)] >= lower[finite_lower])
        if finite_upper.any():
            constraints.append(z[np.flatnonzero(finite_upper)] <= upper[finite_upper])
        for label, rows in (("ub", m_ub), ("eq", m_eq)):
            if rows:
                a, b = cp.Parameter((rows, n)), cp.Parameter(rows)
                parameters["a_" + label], parameters["b_" + label] = a, b
                constraints.append(a @ z <= b if label == "ub" else a @ z == b)
        problem = cp.Problem((cp.Maximize if maximize else cp.Minimize)(c @ z), constraints)
        if len(cache) >= _CVXPY_CACHE_SIZE:
            cache.pop(next(iter(cache)))
        entry = cache[key] = (problem, z, parameters)
    return entry


def _cvxpy_status(c, maximize, a_ub, b_ub, a_eq, b_eq, lower, upper, time_limit):
    cp = require("cvxpy", needed_for="ilp backend 'cvxpy'")
    _silence_highs_banner()
    problem, z, parameters = _cvxpy_problem(cp, c.shape[0], a_ub.shape[0], a_eq.shape[0], maximize, lower, upper)
    parameters["c"].value = c
    for label, a, b in (("ub", a_ub, b_ub), ("eq", a_eq, b_eq)):
        if a.shape[0]:
            parameters["a_" + label].value = a
            parameters["b_" + label].value = b
    options = {"mip_rel_gap": 0.0, "output_flag": False, "log_to_console": False}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cvxpy warns on infeasible_or_unbounded; resolved below
        try:
            problem.solve(solver=cp.HIGHS, **options)
        except cp.error.SolverError as error:
            raise OracleError(f"cvxpy/HiGHS failed: {error}") from error
    return cp, problem.status, None if z.value is None else np.array(z.value, dtype=np.float64)


def _solve_cvxpy(c, maximize, a_ub, b_ub, a_eq, b_eq, lower, upper, *, time_limit):
    cp, status, value = _cvxpy_status(c, maximize, a_ub, b_ub, a_eq, b_eq, lower, upper, time_limit)
    if status == cp.OPTIMAL:
        return _integral(np.asarray(value, dtype=np.float64), "cvxpy/HiGHS")
    if status == cp.INFEASIBLE:
        raise InfeasibleError("the integer program is infeasible (proved by HiGHS)")
    if status in (cp.UNBOUNDED, "infeasible_or_unbounded"):
        _, check, _ = _cvxpy_status(np.zeros_like(c), maximize, a_ub, b_ub, a_eq, b_eq, lower, upper, time_limit)
        if check == cp.INFEASIBLE:
            raise InfeasibleError("the integer program is infeasible (proved by HiGHS)")
        if check == cp.OPTIMAL:
            raise UnboundedError("the integer program is feasible but its objective is unbounded (HiGHS)")
        raise _not_optimal("cvxpy/HiGHS", f"{status}, feasibility check {check}", time_limit)
    raise _not_optimal("cvxpy/HiGHS", str(status), time_limit)
