"""Conformance checks for oracles: :func:`check_oracle`.

Every built-in oracle passes the same suite; this module runs it on yours.
Call it from your own tests::

    from imle_solvers.testing import check_oracle

    def test_my_oracle():
        check_oracle(MyOracle(), theta, enumerate_solutions=all_feasible)

:func:`check_oracle` raises :class:`ConformanceError` (an
``AssertionError``, so pytest shows it as a failed assertion) naming every
check that failed; pass ``raise_on_failure=False`` to get the
:class:`ConformanceReport` instead and inspect it. The checks, by name
(:data:`CHECKS`):

* ``declared`` — ``sense`` is ``"max"`` or ``"min"``, ``event_ndim`` a
  non-negative int, ``name`` a non-empty string.
* ``numpy`` — float64 and float32 arrays in give arrays of the same dtype
  and of shape ``(n, *output_event_shape)`` out, finite and integer-valued
  (0/1 indicators, ranks, integer programs); the input arrays are not
  modified.
* ``torch`` — tensors (float32 and float64, ``requires_grad=True``) give
  tensors of the same dtype and device with no autograd history, equal to
  the numpy answers; on the CPU, and on CUDA too when it is available.
* ``batch_shapes`` — a single instance (no batch dimension), a
  two-dimensional batch ``(1, n)`` and every instance solved on its own
  agree with the batch.
* ``empty_batch`` — a batch of zero instances gives zero solutions of the
  right shape, numpy and torch.
* ``determinism`` — the same input twice gives the same answer, and so does
  every runner in ``runners`` (each called twice; pools forced on, not left
  to the adaptive dispatch).
* ``pickle``, ``cloudpickle`` — the oracle survives a round trip
  (``pickle.dumps``, and ``cloudpickle.dumps`` as the process and Dask
  runners send it) with its ``name`` and ``sense`` and gives the same
  answers. Oracles holding lambdas or local functions fail ``pickle`` but
  may pass ``cloudpickle`` — enough for every runner of this library, not
  for ``multiprocessing`` or torch ``DataLoader`` workers; skip
  ``"pickle"`` if that is fine.
* ``validation`` — a NaN in one instance is refused with
  :class:`~imle_solvers.InvalidInputError` whose ``index`` is that
  instance's batch index (and is named in the message), before solving; an
  input with fewer dimensions than the event is refused too.
* ``optimality`` — with ``enumerate_solutions``, the oracle's solution of
  every instance is one of the enumerated feasible solutions and attains the
  best objective ``<theta, z>`` among them in the oracle's sense (maximum
  for ``"max"``, minimum for ``"min"``), within ``atol``.

A check that cannot run (no torch installed, no enumerator given) is
reported as skipped, not passed.
"""

from __future__ import annotations

import copy
import pickle
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidInputError
from .oracles.base import Oracle

__all__ = ["check_oracle", "ConformanceReport", "CheckResult", "ConformanceError", "CHECKS"]

CHECKS: tuple[str, ...] = (
    "declared",
    "numpy",
    "torch",
    "batch_shapes",
    "empty_batch",
    "determinism",
    "pickle",
    "cloudpickle",
    "validation",
    "optimality",
)
"""The names of the checks :func:`check_oracle` runs, in order (see the
module documentation for what each checks)."""

_PASSED, _FAILED, _SKIPPED = "passed", "failed", "skipped"


class ConformanceError(AssertionError):
    """One or more conformance checks failed. The message names each failed
    check and what went wrong; ``report`` is the full
    :class:`ConformanceReport`.

    An ``AssertionError``, so a test that calls :func:`check_oracle` fails
    like any failed assertion.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import FunctionOracle
        >>> from imle_solvers.testing import ConformanceError, check_oracle
        >>> always_first = FunctionOracle(lambda theta: np.eye(theta.shape[0])[0], name="always_first")
        >>> try:
        ...     check_oracle(always_first, np.eye(3), skip=["pickle"], runners=["serial"],
        ...                  enumerate_solutions=lambda theta: np.eye(3))
        ... except ConformanceError as error:
        ...     print([result.name for result in error.report.failures])
        ['optimality']
    """

    def __init__(self, message: str, report: ConformanceReport):
        super().__init__(message)
        self.report = report


class _Skip(Exception):
    """Raised inside a check that cannot run."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: ``name`` (one of :data:`CHECKS`), ``status``
    (``"passed"``, ``"failed"`` or ``"skipped"``), a ``message`` saying what
    failed or why it was skipped, and the ``error`` raised, if any.

    Example:
        >>> from imle_solvers.testing import check_oracle
        >>> result = check_oracle("onehot", runners=["serial"])["empty_batch"]
        >>> result.name, result.status, result.passed
        ('empty_batch', 'passed', True)
    """

    name: str
    status: str
    message: str = ""
    error: BaseException | None = field(default=None, repr=False, compare=False)
    """The exception the check raised (or that made it fail), if any."""

    @property
    def passed(self) -> bool:
        """True when the check ran and passed."""
        return self.status == _PASSED


@dataclass
class ConformanceReport:
    """What :func:`check_oracle` found: one :class:`CheckResult` per check.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import get_oracle
        >>> from imle_solvers.testing import check_oracle
        >>> report = check_oracle(get_oracle("onehot"), np.eye(3), raise_on_failure=False, runners=("serial",))
        >>> report.ok, report["numpy"].status, report["optimality"].status
        (True, 'passed', 'skipped')
    """

    oracle: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def failures(self) -> list[CheckResult]:
        """The checks that failed."""
        return [result for result in self.results if result.status == _FAILED]

    @property
    def ok(self) -> bool:
        """True when no check failed (skipped checks do not count)."""
        return not self.failures

    def __getitem__(self, name: str) -> CheckResult:
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(f"no check named {name!r}; checks: {', '.join(r.name for r in self.results)}")

    def raise_for_failures(self) -> None:
        """Raise :class:`ConformanceError` naming every failed check (the
        first failure's exception chained as the cause); do nothing if all
        passed."""
        failures = self.failures
        if not failures:
            return
        lines = [f"oracle {self.oracle!r} failed {len(failures)} conformance check(s):"]
        lines += [f"  [{result.name}] {result.message}" for result in failures]
        error = ConformanceError("\n".join(lines), self)
        cause = next((result.error for result in failures if result.error is not None), None)
        raise error from cause

    def __str__(self) -> str:
        lines = [f"conformance of oracle {self.oracle!r}:"]
        for result in self.results:
            detail = f": {result.message}" if result.message else ""
            lines.append(f"  {result.status:7s} {result.name}{detail}")
        return "\n".join(lines)


# ---------------------------------------------------------------------- #
# Helpers
# ---------------------------------------------------------------------- #
def _fail(message: str) -> AssertionError:
    return AssertionError(message)


def _torch():
    try:
        import torch
    except ImportError as error:  # pragma: no cover - torch is a dependency
        raise _Skip(f"torch is not importable ({error})") from None
    return torch


def _equal(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(a, b)


def _describe_difference(a, b) -> str:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return f"shapes {a.shape} and {b.shape}"
    differ = np.argwhere(a != b)
    return f"{len(differ)} entr{'y differs' if len(differ) == 1 else 'ies differ'}, first at {tuple(differ[0])}"


class _Batch:
    """A batch ``(n, *event)`` and its instance data, sliced consistently."""

    def __init__(self, oracle: Oracle, theta: np.ndarray, data: Mapping[str, Any]):
        self.oracle = oracle
        self.theta = theta
        self.n = theta.shape[0]
        self.event = tuple(theta.shape[1:])
        self.data = {key: np.asarray(value) for key, value in data.items()}
        declared = dict(getattr(oracle, "instance_data", {}) or {})
        self.per_instance = {}
        for key, value in self.data.items():
            ndim = declared.get(key)
            self.per_instance[key] = ndim is not None and value.ndim == ndim + 1 and value.shape[0] == self.n

    def out_shape(self, batch: tuple[int, ...]) -> tuple[int, ...]:
        return (*batch, *tuple(self.oracle.output_event_shape(self.event)))

    def take(self, index) -> dict[str, np.ndarray]:
        """Instance data for ``theta[index]`` (an int or a slice)."""
        return {k: (v[index] if self.per_instance[k] else v) for k, v in self.data.items()}

    def reshaped(self, batch: tuple[int, ...]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The whole batch with batch shape ``batch`` (``prod(batch) == n``)."""
        theta = self.theta.reshape(*batch, *self.event)
        data = {
            k: (v.reshape(*batch, *v.shape[1:]) if self.per_instance[k] else v) for k, v in self.data.items()
        }
        return theta, data

    def torch_data(self, torch, device):
        return {k: torch.as_tensor(v, device=device) for k, v in self.data.items()}


def _default_theta(oracle: Oracle, rng: np.random.Generator, n: int) -> np.ndarray:
    if getattr(oracle, "required_data", None):
        raise TypeError(
            f"check_oracle: oracle {oracle.name!r} requires instance data {sorted(oracle.required_data)}; "
            "pass theta and instance_data"
        )
    event = (6,) * int(oracle.event_ndim) if oracle.event_ndim <= 1 else (4,) * int(oracle.event_ndim)
    problem = oracle.check_event_shape(event) if event else None
    if problem is not None:
        raise TypeError(
            f"check_oracle: the default event shape {event} does not suit oracle {oracle.name!r} "
            f"(expected {problem}); pass theta"
        )
    if oracle.sense == "min" and getattr(oracle, "nonnegative", False):
        return rng.random((n, *event))
    return rng.normal(size=(n, *event))


def _resolve_runner(spec):
    """A runner for the determinism check, pools forced on; and whether we own it."""
    from .runners import ProcessRunner, ThreadRunner, resolve_runner

    if spec == "threads":
        return ThreadRunner(2, adaptive=False), True
    if spec == "processes":
        return ProcessRunner(2, adaptive=False), True
    if isinstance(spec, int) and not isinstance(spec, bool) and spec > 1:
        return ProcessRunner(spec, adaptive=False), True
    return resolve_runner(spec), False


# ---------------------------------------------------------------------- #
# The checks
# ---------------------------------------------------------------------- #
def _check_declared(oracle: Oracle, batch: _Batch, ctx: dict) -> str:
    if oracle.sense not in ("max", "min"):
        raise _fail(f"expected sense 'max' or 'min', but found {oracle.sense!r}")
    ndim = oracle.event_ndim
    if isinstance(ndim, bool) or not isinstance(ndim, int) or ndim < 0:
        raise _fail(f"expected event_ndim to be a non-negative int, but found {ndim!r}")
    if not isinstance(oracle.name, str) or not oracle.name:
        raise _fail(f"expected name to be a non-empty str, but found {oracle.name!r}")
    return ""


def _check_numpy(oracle: Oracle, batch: _Batch, ctx: dict) -> str:
    for dtype in (np.float64, np.float32):
        theta = batch.theta.astype(dtype)
        theta_before = theta.copy()
        data_before = {k: v.copy() for k, v in batch.data.items()}
        out = oracle(theta, **batch.data)
        if not isinstance(out, np.ndarray):
            raise _fail(f"numpy {np.dtype(dtype).name} input gave a {type(out).__name__}, not a numpy array")
        if out.dtype != dtype:
            raise _fail(f"numpy {np.dtype(dtype).name} input gave dtype {out.dtype}")
        expected = batch.out_shape((batch.n,))
        if out.shape != expected:
            raise _fail(f"input of shape {theta.shape} gave shape {out.shape}, expected {expected}")
        if not np.all(np.isfinite(out)) or not np.array_equal(out, np.round(out)):
            raise _fail(f"expected finite integer-valued solutions, but found {out.reshape(-1)[:8]} ...")
        if not _equal(theta, theta_before):
            raise _fail("the oracle modified its input theta in place")
        for key, value in batch.data.items():
            if not _equal(value, data_before[key]):
                raise _fail(f"the oracle modified its instance data {key!r} in place")
        ctx[np.dtype(dtype).name] = out
    return ""


def _check_torch(oracle: Oracle, batch: _Batch, ctx: dict) -> str:
    torch = _torch()
    if "float64" not in ctx:
        raise _Skip("needs the numpy answers, and the numpy check failed")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        data = batch.torch_data(torch, device)
        for dtype, name in ((torch.float32, "float32"), (torch.float64, "float64")):
            tensor = torch.tensor(batch.theta, dtype=dtype, device=device, requires_grad=True)
            out = oracle(tensor, **data)
            where = f"a {name} tensor on {device}"
            if not isinstance(out, torch.Tensor):
                raise _fail(f"{where} gave a {type(out).__name__}, not a tensor")
            if out.dtype != dtype or out.device.type != tensor.device.type:
                raise _fail(f"{where} gave dtype {out.dtype} on {out.device}")
            if out.requires_grad:
                raise _fail(f"{where} gave a result that requires grad (oracles return plain solutions)")
            if not _equal(out.detach().cpu().numpy(), ctx[name]):
                raise _fail(
                    f"{where} gave a different answer from the numpy {name} array "
                    f"({_describe_difference(out.detach().cpu().numpy(), ctx[name])})"
                )
    return f"devices: {', '.join(devices)}"


def _check_batch_shapes(oracle: Oracle, batch: _Batch, ctx: dict) -> str:
    reference = ctx.get("float64")
    if reference is None:
        reference = oracle(batch.theta, **batch.data)
    # a two-dimensional batch
    theta2, data2 = batch.reshaped((1, batch.n))
    out2 = oracle(theta2, **data2)
    if np.shape(out2) != batch.out_shape((1, batch.n)):
        raise _fail(f"batch shape (1, {batch.n}) gave shape {np.shape(out2)}, expected {batch.out_shape((1, batch.n))}")
    if not _equal(np.asarray(out2).reshape(np.shape(reference)), reference):
        raise _fail(f"batch shape (1, {batch.n}) gave different answers from batch shape ({batch.n},)")
    # every instance on its own, without a batch dimension
    for i in range(batch.n):
        single = oracle(batch.theta[i], **batch.take(i))
        if np.shape(single) != batch.out_shape(()):
            raise _fail(f"a single instance gave shape {np.shape(single)}, expected {batch.out_shape(())}")
        if not _equal(single, reference[i]):
            raise _fail(
                f"instance {i} solved alone differs from its solution in the batch "
                f"({_describe_difference(single, reference[i])})"
            )
    return ""


def _check_empty_batch(oracle: Oracle, batch: _Batch, ctx: dict) -> str:
    data = batch.take(slice(0, 0))
    out = oracle(batch.theta[:0], **data)
    if np.shape(out) != batch.out_shape((0,)):
        raise _fail(f"an empty numpy batch gave shape {np.shape(out)}, expected {batch.out_shape((0,))}")
    try:
        torch = _torch()
    except _Skip:
        return "numpy only (no torch)"
    out = oracle(torch.as_tensor(batch.theta[:0]), **{k: torch.as_tensor(v) for k, v in data.items()})
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != batch.out_shape((0,)):
        raise _fail(f"an empty torch batch gave {type(out).__name__} of shape {tuple(np.shape(out))}")
    return ""


def _check_determinism(oracle: Oracle, batch: _Batch, ctx: dict) -> str:
    first = oracle(batch.theta, **batch.data)
    second = oracle(batch.theta, **batch.data)
    if not _equal(first, second):
        raise _fail(f"the same input gave different answers on two calls ({_describe_difference(first, second)})")
    checked = []
    for spec in ctx["runners"]:
        runner, owned = _resolve_runner(spec)
        try:
            copy_ = copy.copy(oracle)
            copy_.configure(runner=runner, timeout=oracle.timeout)
            for call in (1, 2):
                out = copy_(batch.theta, **batch.data)
                if not _equal(out, first):
                    raise _fail(
                        f"runner {runner!r} (call {call}) gave different answers from the first serial call "
                        f"({_describe_difference(out, first)})"
                    )
        finally:
            if owned:
                runner.close()
        checked.append(repr(runner))
    return "runners: " + ", ".join(checked) if checked else ""


def _round_trip(dumps: Callable, oracle: Oracle, batch: _Batch, ctx: dict) -> str:
    try:
        payload = dumps(oracle)
    except Exception as error:  # noqa: BLE001 - any serialisation failure is the finding
        raise _fail(f"serialising the oracle failed: {type(error).__name__}: {error}") from error
    restored = pickle.loads(payload)
    if restored.name != oracle.name or restored.sense != oracle.sense:
        raise _fail(
            f"the copy has name {restored.name!r} and sense {restored.sense!r}, "
            f"the original {oracle.name!r} and {oracle.sense!r}"
        )
    expected = oracle(batch.theta, **batch.data)
    out = restored(batch.theta, **batch.data)
    if not _equal(out, expected):
        raise _fail(f"the copy gives different answers ({_describe_difference(out, expected)})")
    return f"{len(payload)} bytes"


def _check_pickle(oracle, batch, ctx):
    return _round_trip(pickle.dumps, oracle, batch, ctx)


def _check_cloudpickle(oracle, batch, ctx):
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - cloudpickle is a dependency
        raise _Skip("cloudpickle is not installed") from None
    return _round_trip(cloudpickle.dumps, oracle, batch, ctx)


def _check_validation(oracle: Oracle, batch: _Batch, ctx: dict) -> str:
    theta2, data2 = batch.reshaped((1, batch.n))
    theta2 = np.array(theta2, dtype=np.float64)
    bad = (0, batch.n - 1)
    theta2[bad + (0,) * len(batch.event)] = np.nan
    try:
        oracle(theta2, **data2)
    except InvalidInputError as error:
        if tuple(error.index or ()) != bad:
            raise _fail(f"a NaN in instance {bad} was refused with index {error.index!r}: {error}") from error
        if f"batch index {bad}" not in str(error):
            raise _fail(f"the error for a NaN in instance {bad} does not name 'batch index {bad}': {error}") from error
        if error.oracle != oracle.name:
            raise _fail(f"the error names oracle {error.oracle!r}, not {oracle.name!r}") from error
    except Exception as error:  # noqa: BLE001 - the wrong error type is the finding
        raise _fail(
            f"a NaN in instance {bad} raised {type(error).__name__}, not InvalidInputError: {error}"
        ) from error
    else:
        raise _fail(f"a NaN in instance {bad} was accepted; expected InvalidInputError naming the index")
    if oracle.event_ndim >= 1:
        short = np.zeros((3,) * (oracle.event_ndim - 1))
        try:
            oracle(short, **batch.take(0))
        except InvalidInputError:
            pass
        except Exception as error:  # noqa: BLE001
            raise _fail(
                f"an input of shape {short.shape} (fewer dimensions than the event) raised "
                f"{type(error).__name__}, not InvalidInputError: {error}"
            ) from error
        else:
            raise _fail(f"an input of shape {short.shape} (fewer dimensions than the event) was accepted")
    return ""


def _check_optimality(oracle: Oracle, batch: _Batch, ctx: dict) -> str:
    enumerate_solutions = ctx["enumerate_solutions"]
    if enumerate_solutions is None:
        raise _Skip("no enumerate_solutions given")
    out_event = tuple(oracle.output_event_shape(batch.event))
    if out_event != batch.event:
        raise _Skip(f"the solution shape {out_event} is not theta's {batch.event}; <theta, z> is undefined")
    solutions = oracle(batch.theta, **batch.data)
    sign = 1.0 if oracle.sense == "max" else -1.0
    counted = 0
    for i in range(batch.n):
        theta = np.asarray(batch.theta[i], dtype=np.float64)
        candidates = [np.asarray(z, dtype=np.float64) for z in enumerate_solutions(batch.theta[i], **batch.take(i))]
        if not candidates:
            raise _fail(f"enumerate_solutions listed no feasible solution for instance {i}")
        for z in candidates:
            if z.shape != theta.shape:
                raise _fail(f"enumerate_solutions gave a solution of shape {z.shape} for theta of shape {theta.shape}")
        counted += len(candidates)
        values = np.array([float(np.sum(theta * z)) for z in candidates])
        best = float(values.max() if sign > 0 else values.min())
        found = np.asarray(solutions[i], dtype=np.float64)
        value = float(np.sum(theta * found))
        tolerance = ctx["atol"] if ctx["atol"] is not None else 1e-7 * max(1.0, float(np.sum(np.abs(theta))))
        if not any(np.array_equal(found, z) for z in candidates):
            raise _fail(
                f"instance {i}: the oracle's solution {found.reshape(-1).tolist()} (objective {value:.6g}) is not "
                f"among the {len(candidates)} feasible solutions enumerated"
            )
        if sign * (best - value) > tolerance:
            raise _fail(
                f"instance {i}: the oracle's solution has objective {value:.9g}, but the best feasible "
                f"solution has {best:.9g} (sense {oracle.sense!r}, tolerance {tolerance:.2g})"
            )
    return f"{batch.n} instances, {counted} feasible solutions enumerated"


_CHECK_FUNCTIONS: dict[str, Callable[[Oracle, _Batch, dict], str]] = {
    "declared": _check_declared,
    "numpy": _check_numpy,
    "torch": _check_torch,
    "batch_shapes": _check_batch_shapes,
    "empty_batch": _check_empty_batch,
    "determinism": _check_determinism,
    "pickle": _check_pickle,
    "cloudpickle": _check_cloudpickle,
    "validation": _check_validation,
    "optimality": _check_optimality,
}


# ---------------------------------------------------------------------- #
# The entry point
# ---------------------------------------------------------------------- #
def check_oracle(
    oracle: Oracle | str,
    theta: Any = None,
    *,
    instance_data: Mapping[str, Any] | None = None,
    enumerate_solutions: Callable[..., Iterable[Any]] | None = None,
    runners: Iterable[Any] = ("serial", "threads"),
    skip: Iterable[str] = (),
    atol: float | None = None,
    seed: int = 0,
    raise_on_failure: bool = True,
) -> ConformanceReport:
    """Run the conformance checks (see :mod:`imle_solvers.testing`) on an oracle.

    Args:
        oracle: an :class:`~imle_solvers.Oracle` (yours, a
            :class:`~imle_solvers.FunctionOracle`, or one from
            :func:`~imle_solvers.get_oracle`), or a registered name (built
            with its default options).
        theta: a small valid batch ``(n, *event)`` as a numpy array (a single
            instance of the event shape is taken as ``n = 1``; ``n >= 2``
            tests more). ``None``: ``n = 4`` standard normal draws (uniform
            on ``[0, 1)`` for non-negative cost oracles) of event ``(6,)``
            (one event dimension) or ``(4, 4, ...)`` — pass ``theta`` when
            those do not suit the oracle or it needs instance data.
        instance_data: keyword arrays for the oracle, per instance (with
            ``n`` in front) or shared (the per-instance shape alone), as the
            oracle's ``instance_data`` declares.
        enumerate_solutions: ``f(theta_i, **data_i) -> iterable of
            solutions``, every feasible solution of one instance (numpy in,
            arrays of theta's event shape out); turns on the
            ``optimality`` check. Keep instances tiny: it is brute force.
        runners: runners the ``determinism`` check compares with a serial
            call: ``"serial"``, ``"threads"`` (a 2-thread pool),
            ``"processes"`` (2 worker processes; slow to start), an int, a
            :class:`~imle_solvers.Runner` or any
            :class:`concurrent.futures.Executor`. Pools are forced on, not
            left to the adaptive dispatch; the ones created here are closed
            afterwards.
        skip: names of checks (:data:`CHECKS`) not to run (reported as
            skipped).
        atol: the objective tolerance of ``optimality``; default
            ``1e-7 * max(1, sum |theta_i|)``.
        seed: the seed of the default ``theta``.
        raise_on_failure: raise :class:`ConformanceError` when a check fails
            (default); ``False`` returns the report whatever happened.

    Returns:
        The :class:`ConformanceReport`, one :class:`CheckResult` per name in
        :data:`CHECKS`.

    Raises:
        ConformanceError: a check failed (an ``AssertionError``; the message
            names every failed check).
        TypeError: ``oracle`` is not an oracle, ``skip`` names an unknown
            check, or no default ``theta`` suits the oracle.

    Example:
        A one-instance solver registered as a function, checked against brute
        force:

        >>> import itertools
        >>> import numpy as np
        >>> from imle_solvers import FunctionOracle
        >>> from imle_solvers.testing import check_oracle
        >>> def best_pair(theta):  # the two largest entries
        ...     z = np.zeros_like(theta)
        ...     z[np.argsort(-theta, kind="stable")[:2]] = 1
        ...     return z
        >>> def all_pairs(theta):
        ...     for i, j in itertools.combinations(range(theta.shape[0]), 2):
        ...         z = np.zeros_like(theta)
        ...         z[[i, j]] = 1
        ...         yield z
        >>> oracle = FunctionOracle(best_pair, name="best_pair", sense="max")
        >>> # functions defined in a doctest (or a notebook) pickle by value only: skip plain pickle
        >>> report = check_oracle(oracle, enumerate_solutions=all_pairs, skip=["pickle"])
        >>> report.ok, report["optimality"].message
        (True, '4 instances, 60 feasible solutions enumerated')

        A wrong oracle (the two *smallest* entries) fails, naming the check:

        >>> worst = FunctionOracle(lambda t: best_pair(-t), name="worst_pair", sense="max")
        >>> check_oracle(worst, enumerate_solutions=all_pairs, skip=["pickle"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        imle_solvers.testing.ConformanceError: oracle 'worst_pair' failed 1 conformance check(s):
          [optimality] instance 0: the oracle's solution ...
    """
    if isinstance(oracle, str):
        from .registry import get_oracle

        oracle = get_oracle(oracle)
    if not isinstance(oracle, Oracle):
        raise TypeError(f"check_oracle: expected an Oracle or a registered name, but found {type(oracle).__name__}")
    skip = set(skip)
    unknown = sorted(skip - set(CHECKS))
    if unknown:
        raise TypeError(f"check_oracle: unknown checks in skip: {unknown}; checks: {', '.join(CHECKS)}")
    if theta is None:
        theta = _default_theta(oracle, np.random.default_rng(seed), 4)
    theta = np.asarray(theta)
    if theta.ndim == oracle.event_ndim:
        theta = theta[None]
    if theta.ndim != oracle.event_ndim + 1 or theta.shape[0] < 1:
        raise TypeError(
            f"check_oracle: expected theta of shape (n, *event) with n >= 1 and {oracle.event_ndim} event "
            f"dimension(s), but found shape {theta.shape}"
        )
    batch = _Batch(oracle, theta, dict(instance_data or {}))
    ctx: dict[str, Any] = {
        "runners": tuple(runners),
        "enumerate_solutions": enumerate_solutions,
        "atol": atol,
    }
    report = ConformanceReport(oracle=str(oracle.name))
    for name in CHECKS:
        if name in skip:
            report.results.append(CheckResult(name, _SKIPPED, "skipped on request"))
            continue
        try:
            message = _CHECK_FUNCTIONS[name](oracle, batch, ctx)
        except _Skip as reason:
            report.results.append(CheckResult(name, _SKIPPED, str(reason)))
        except AssertionError as error:
            cause = error.__cause__
            report.results.append(CheckResult(name, _FAILED, str(error), cause if cause is not None else error))
        except Exception as error:  # noqa: BLE001 - a crash inside a check is that check's failure
            where = traceback.extract_tb(error.__traceback__)[-1]
            report.results.append(
                CheckResult(
                    name,
                    _FAILED,
                    f"raised {type(error).__name__}: {error} (at {where.filename}:{where.lineno})",
                    error,
                )
            )
        else:
            report.results.append(CheckResult(name, _PASSED, message))
    if raise_on_failure:
        report.raise_for_failures()
    return report
