"""Integer linear programs: the ``ilp`` oracle (OR-Tools CP-SAT, OR-Tools
SCIP, cvxpy + HiGHS)."""

from __future__ import annotations

import numpy as np

from . import _mip
from .base import Oracle

__all__ = ["ILP"]

_DATA = ("A_ub", "b_ub", "A_eq", "b_eq")
_PAIRS = (("A_ub", "b_ub"), ("A_eq", "b_eq"))


class ILP(Oracle):
    r"""An integer linear program with per-instance objective:

    .. math::

        z = \arg\max_z \,(\text{or } \arg\min_z)\; \langle \theta, z \rangle
        \quad\text{s.t.}\quad A_{ub} z \le b_{ub},\; A_{eq} z = b_{eq},\;
        \text{lower} \le z \le \text{upper},\; z \in \mathbb{Z}^n .

    ``theta`` has shape ``(n,)`` per instance; the solution is the integer
    vector ``z`` (binary by default: ``lower=0``, ``upper=1``), returned in
    ``theta``'s dtype. The constraint data are fixed at construction
    (``A_ub=``, ``b_ub=``, ``A_eq=``, ``b_eq=``) or passed per call as
    instance data with the same names — per instance with the batch shape in
    front (``A_ub`` of shape ``(*batch, m, n)``) or shared (``(m, n)``).
    Each name comes from one place; ``A_ub``/``b_ub`` and ``A_eq``/``b_eq``
    come in pairs.

    Backends:

    * ``"cpsat"`` (default): OR-Tools CP-SAT, exact on integers, with
      ``num_workers=1`` by default (the runners parallelise across
      instances; with more workers ties may be broken differently from run
      to run). Real data are scaled to integers by powers of two: the
      objective exactly when it is integer or dyadic and fits in 53 bits,
      else rounded so that its largest coefficient is about ``2**30`` (~1e9)
      — then the solution is optimal for the rounded objective and within
      ``2**-s * sum_j max(|lower_j|, |upper_j|)`` (at most
      ``1.9e-9 * max|theta| * sum_j max(|lower_j|, |upper_j|)``, i.e.
      ``1.9e-9 * n * max|theta|`` for binaries) of the real optimum.
      Constraint rows are scaled exactly when possible, else rounded at
      about 40 bits (relative error ``4.5e-13`` of the row's largest
      coefficient); rows that cannot be represented (a non-exact equality,
      coefficients spanning more than ~12 orders of magnitude) are refused
      with :class:`~imle_solvers.errors.InvalidInputError`. Bounds must be
      finite (``|bound| <= 2**53``). See :mod:`imle_solvers.oracles._mip`.
    * ``"mip"``: OR-Tools ``pywraplp`` with SCIP (relative gap 0).
    * ``"cvxpy"``: cvxpy with the HiGHS MILP solver (relative gap 0).

    Both float backends accept real data and infinite bounds as they are,
    with their solvers' feasibility tolerances (~1e-6); the objective is
    divided by a power of two (exactly) so that ``max|theta|`` lies in
    [0.5, 1), which keeps their tolerances relative to ``theta``'s scale. Every solution is
    checked against the constraints before it is returned.

    Errors: an infeasible instance raises
    :class:`~imle_solvers.errors.InfeasibleError`, an unbounded one
    :class:`~imle_solvers.errors.UnboundedError`; a solver that stops
    (``time_limit``) without proving optimality raises
    :class:`~imle_solvers.errors.OracleError` — a non-optimal solution is
    never returned silently.

    Ties: deterministic for a given backend (one CP-SAT worker with a fixed
    seed, SCIP and HiGHS single-threaded): among equally good solutions the
    one the solver finds; backends may differ on ties but agree on the
    objective value.

    Args:
        sense: ``"max"`` (default) or ``"min"``.
        A_ub, b_ub, A_eq, b_eq: constraint data fixed for every instance.
        lower, upper: integer bounds, scalars or ``(n,)`` arrays (default
            0 and 1); ``-inf``/``inf`` allowed for ``"mip"`` and ``"cvxpy"``.
        backend: ``"cpsat"``, ``"mip"`` or ``"cvxpy"``.
        time_limit: seconds per instance, or ``None``.
        num_workers: CP-SAT search workers per instance.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import get_oracle
        >>> # choose at most two of four items, not both 0 and 1
        >>> oracle = get_oracle("ilp", A_ub=[[1, 1, 1, 1], [1, 1, 0, 0]], b_ub=[2, 1])
        >>> oracle(np.array([[3.0, 2.0, 1.0, -1.0], [1.0, 1.0, 5.0, 4.0]]))
        array([[1., 0., 1., 0.],
               [0., 0., 1., 1.]])
        >>> get_oracle("ilp", sense="min", A_eq=[[1, 1, 1]], b_eq=[1], backend="mip")(np.array([2.0, -1.0, 0.5]))
        array([0., 1., 0.])
    """

    name = "ilp"
    complexity_doc = "NP-hard: branch and bound / CP-SAT search, exponential in the worst case"
    sense = "max"
    sense_doc = "max/min (option)"
    event_ndim = 1
    instance_data = {"A_ub": 2, "b_ub": 1, "A_eq": 2, "b_eq": 1}
    backend = "cpsat|mip|cvxpy"
    dependencies = ("ortools",)
    event_doc = "(n,)"

    def __init__(
        self,
        *,
        sense: str = "max",
        A_ub=None,  # the names of scipy.optimize.linprog
        b_ub=None,
        A_eq=None,
        b_eq=None,
        lower=0,
        upper=1,
        backend: str = "cpsat",
        time_limit: float | None = None,
        num_workers: int = 1,
    ):
        if sense not in ("max", "min"):
            raise self.invalid(f"expected sense 'max' or 'min', but found {sense!r}")
        if backend not in _mip.BACKENDS:
            raise self.invalid(f"expected backend in {_mip.BACKENDS}, but found {backend!r}")
        problem = _mip.check_limits(time_limit, num_workers)
        if problem is not None:
            raise self.invalid(problem)
        self.sense = sense
        self.backend = backend
        self.dependencies = ("cvxpy", "highspy") if backend == "cvxpy" else ("ortools",)
        self.time_limit = None if time_limit is None else float(time_limit)
        self.num_workers = int(num_workers)
        self.fixed = {}
        given = {"A_ub": A_ub, "b_ub": b_ub, "A_eq": A_eq, "b_eq": b_eq}
        for key, value in given.items():
            if value is None:
                continue
            array = np.asarray(value, dtype=np.float64)
            want = self.instance_data[key]
            if array.ndim != want:
                raise self.invalid(f"expected {key} with {want} dimension(s), but found shape {array.shape}")
            if not np.all(np.isfinite(array)):
                raise self.invalid(f"expected finite {key}, but found nan or inf")
            self.fixed[key] = array
        for a_key, b_key in _PAIRS:
            if a_key in self.fixed and b_key in self.fixed and self.fixed[a_key].shape[0] != self.fixed[b_key].shape[0]:
                raise self.invalid(
                    f"expected {b_key} with one entry per row of {a_key} ({self.fixed[a_key].shape[0]}), "
                    f"but found shape {self.fixed[b_key].shape}"
                )
        sizes = {self.fixed[k].shape[1] for k in ("A_ub", "A_eq") if k in self.fixed}
        self.lower = self._bound("lower", lower)
        self.upper = self._bound("upper", upper)
        sizes |= {b.shape[0] for b in (self.lower, self.upper) if b.ndim == 1}
        if len(sizes) > 1:
            raise self.invalid(f"expected A_ub, A_eq, lower and upper to agree on the number of variables, "
                               f"but found {sorted(sizes)}")
        self.num_variables = sizes.pop() if sizes else None
        if np.any(self.lower > self.upper):
            raise self.invalid("expected lower <= upper for every variable, but found lower > upper")
        if backend == "cpsat":
            if np.any(np.abs(self.lower) > _mip.MAX_CPSAT_BOUND) or np.any(np.abs(self.upper) > _mip.MAX_CPSAT_BOUND):
                raise self.invalid("backend 'cpsat' needs finite bounds with |bound| <= 2**53; use backend "
                                   "'mip' or 'cvxpy' for unbounded variables")
            if all(k in self.fixed for k in ("A_ub", "b_ub")) or all(k in self.fixed for k in ("A_eq", "b_eq")):
                n = self.num_variables
                problem = _mip.cpsat_problem(
                    self.fixed.get("A_ub") if "b_ub" in self.fixed else None, self.fixed.get("b_ub"),
                    self.fixed.get("A_eq") if "b_eq" in self.fixed else None, self.fixed.get("b_eq"),
                    self._magnitude(n),
                )
                if problem is not None:
                    raise self.invalid(problem)

    def _bound(self, label, value):
        if value is None:
            infinite = "-np.inf" if label == "lower" else "np.inf"
            raise self.invalid(
                f"expected {label} to be an integer or an (n,) array of integers, but found {label}=None; for "
                f"no {label} bound pass {label}={infinite} (backends 'mip' and 'cvxpy'; 'cpsat' needs finite bounds)"
            )
        array = np.asarray(value, dtype=np.float64)
        if array.ndim > 1:
            raise self.invalid(f"expected {label} to be a scalar or an (n,) array, but found shape {array.shape}")
        if np.any(np.isnan(array)):
            raise self.invalid(f"expected {label} without nan")
        finite = array[np.isfinite(array)]
        if np.any(finite != np.floor(finite)):
            raise self.invalid(f"expected integer {label} bounds, but found {finite[finite != np.floor(finite)][0]!r}")
        if label == "lower" and np.any(array == np.inf) or label == "upper" and np.any(array == -np.inf):
            raise self.invalid(f"expected {label} bounds that leave room for a value, but found {label}={value!r}")
        return array

    def _magnitude(self, n):
        return np.broadcast_to(np.maximum(np.abs(self.lower), np.abs(self.upper)), (n,))

    # ------------------------------------------------------------------ #
    # Oracle hooks
    # ------------------------------------------------------------------ #
    def check_event_shape(self, event_shape):
        if self.num_variables is not None and event_shape != (self.num_variables,):
            return f"({self.num_variables},) (one objective coefficient per variable)"
        if event_shape[0] < 1:
            return "(n,) with n >= 1"
        return None

    def check_data(self, event_shape, data):
        n = event_shape[0]
        for key in data:
            if key in self.fixed:
                raise self.invalid(f"{key} was fixed at construction; pass it either there or per call, not both")
        merged = {**{k: v[None] for k, v in self.fixed.items()}, **data}  # fixed data: a leading axis of 1
        for a_key, b_key in _PAIRS:
            if (a_key in merged) != (b_key in merged):
                missing = b_key if a_key in merged else a_key
                raise self.invalid(f"{a_key} and {b_key} come in pairs, but {missing} is missing")
            if a_key not in merged:
                continue
            a, b = merged[a_key], merged[b_key]
            if a.shape[2] != n:
                raise self.invalid(f"expected {a_key} with {n} columns (one per variable), but found per-instance "
                                   f"shape {a.shape[1:]}")
            if a.shape[1] != b.shape[1]:
                raise self.invalid(f"expected {b_key} with one entry per row of {a_key} ({a.shape[1]}), but found "
                                   f"per-instance shape {b.shape[1:]}")

    def check_values(self, theta, data):
        if self.backend != "cpsat" or not data:
            return
        n = theta.shape[1]
        magnitude = self._magnitude(n)
        bad = np.zeros(theta.shape[0], dtype=bool)
        reasons: dict[int, str] = {}
        for a_key, b_key in _PAIRS:
            if a_key not in data and b_key not in data:
                continue
            a = data.get(a_key, self.fixed.get(a_key))
            b = data.get(b_key, self.fixed.get(b_key))
            count = theta.shape[0]
            a = np.broadcast_to(a, (count, *a.shape[-2:]))
            b = np.broadcast_to(b, (count, b.shape[-1]))
            rows = a.shape[1]
            if rows == 0:
                continue
            flat_a = np.asarray(a, dtype=np.float64).reshape(count * rows, n)
            flat_b = np.asarray(b, dtype=np.float64).reshape(count * rows)
            for instance in range(count):  # rows are scaled independently; find every failing instance
                if bad[instance]:
                    continue
                block = slice(instance * rows, (instance + 1) * rows)
                problem = _mip.cpsat_problem(
                    flat_a[block] if a_key == "A_ub" else None, flat_b[block] if a_key == "A_ub" else None,
                    flat_a[block] if a_key == "A_eq" else None, flat_b[block] if a_key == "A_eq" else None,
                    magnitude,
                )
                if problem is not None:
                    bad[instance] = True
                    reasons[instance] = problem
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            self.first_bad(bad, reasons[first].replace("{", "{{").replace("}", "}}"))

    def solve(self, theta, **data):
        merged = {**self.fixed, **data}
        n = theta.shape[0]
        return _mip.solve(
            self.backend,
            np.asarray(theta, dtype=np.float64),
            maximize=self.sense == "max",
            a_ub=merged.get("A_ub"),
            b_ub=merged.get("b_ub"),
            a_eq=merged.get("A_eq"),
            b_eq=merged.get("b_eq"),
            lower=np.broadcast_to(self.lower, (n,)).astype(np.float64),
            upper=np.broadcast_to(self.upper, (n,)).astype(np.float64),
            time_limit=self.time_limit,
            num_workers=self.num_workers,
        )

    def __repr__(self):
        constraints = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self.fixed.items())
        return f"ILP(sense={self.sense!r}, backend={self.backend!r}{', ' + constraints if constraints else ''})"
