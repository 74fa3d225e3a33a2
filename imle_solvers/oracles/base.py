"""The :class:`Oracle` base class: the contract every MAP oracle follows.

An oracle solves one problem family for a batch of instances::

    z = argmax_z <theta, z>   (sense "max": scores, e.g. top-k, matching)
    z = argmin_z <w, z>       (sense "min": costs, e.g. shortest path)

over the problem's feasible set. ``theta`` has shape ``(*batch, *event)``;
the event shape is fixed by the oracle (or read from the input where the
problem allows it) and the batch shape is anything, empty included. The
result has the same type (numpy array or torch tensor), device, dtype and
leading shape as the input.

Writing an oracle means subclassing :class:`Oracle` and implementing
:meth:`Oracle.solve` (one instance, numpy in, numpy out) or, for speed,
:meth:`Oracle.solve_chunk` (a contiguous chunk of instances). Everything else
— validation, flattening, batching on a runner, conversions from and to
torch — is done here.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import _tensors
from .._batch import InstanceFailure, format_index
from ..errors import InvalidInputError, OracleError
from ..runners import execute, resolve_runner

__all__ = ["Oracle", "InstanceFailure", "format_index"]

Array = np.ndarray


class Oracle:
    """Base class of MAP oracles.

    Class attributes describe the oracle's capabilities; subclasses override
    them:

    * ``name`` — how errors refer to it (the registry sets the registered name).
    * ``sense`` — ``"max"`` (scores in, argmax out) or ``"min"`` (costs in,
      argmin out). Estimators read it to get the signs right.
    * ``event_ndim`` — how many trailing dimensions make one instance.
    * ``instance_data`` — names of the per-instance keyword arrays the oracle
      accepts, each mapped to its number of trailing (event) dimensions.
    * ``required_data`` — which of those must be given.
    * ``nonnegative`` — the oracle needs non-negative costs (Dijkstra);
      estimators clamp perturbed costs at zero for such oracles.
    * ``device_native`` — torch input is solved on its own device, with no
      host copy (override :meth:`solve_torch`).
    * ``option_aliases`` — other spellings of constructor options
      (``{"neighborhood": "neighbourhood"}``), accepted but not listed.
    * ``backend``, ``dependencies`` (importable module names) and
      ``event_doc`` (the event shape in words) — shown by
      ``imle-solvers oracles``.
    * ``output_doc`` (the solution's shape in words when it differs from
      ``event_doc``) and ``complexity_doc`` (the cost of one instance) —
      shown in the documentation's oracle catalogue.

    Example:
        >>> import numpy as np
        >>> from imle_solvers.oracles.base import Oracle
        >>> class Argmax(Oracle):
        ...     name, sense, event_ndim = "argmax", "max", 1
        ...     def solve(self, theta):
        ...         z = np.zeros_like(theta)
        ...         z[np.argmax(theta)] = 1
        ...         return z
        >>> Argmax()(np.array([[0.1, 0.7, 0.2], [3.0, 1.0, 2.0]]))
        array([[0., 1., 0.],
               [1., 0., 0.]])
    """

    name: str = "oracle"
    sense: str = "max"
    event_ndim: int = 1
    instance_data: Mapping[str, int] = {}
    required_data: frozenset[str] = frozenset()
    option_aliases: Mapping[str, str] = {}
    nonnegative: bool = False
    device_native: bool = False
    backend: str = "numpy"
    dependencies: tuple[str, ...] = ()
    event_doc: str = "(n,)"
    output_doc: str | None = None
    complexity_doc: str = ""

    # ------------------------------------------------------------------ #
    # Runner configuration
    # ------------------------------------------------------------------ #
    def configure(self, *, runner: Any = "serial", timeout: float | None = None) -> Oracle:
        """Set how batches are executed and the per-call time limit.

        ``runner`` is ``"serial"``, ``"threads"``, ``"processes"``, an int
        (number of worker processes; 1 means serial), a
        :class:`~imle_solvers.runners.Runner` or any
        :class:`concurrent.futures.Executor` (e.g. a Dask
        ``client.get_executor()``). ``timeout`` is in seconds per call.
        Returns ``self``.
        """
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
            raise InvalidInputError(
                f"oracle {self.name!r}: expected timeout to be a positive number of seconds or None, "
                f"but found {timeout!r}",
                oracle=self.name,
            )
        self._runner = resolve_runner(runner)
        self._timeout = None if timeout is None else float(timeout)
        return self

    @property
    def runner(self):
        """The :class:`~imle_solvers.runners.Runner` that executes batches."""
        runner = self.__dict__.get("_runner")
        if runner is None:
            runner = self._runner = resolve_runner("serial")
        return runner

    @runner.setter
    def runner(self, value: Any) -> None:
        self.configure(runner=value, timeout=self.timeout)

    @property
    def timeout(self) -> float | None:
        """Seconds one call may take before :class:`OracleTimeoutError`."""
        return self.__dict__.get("_timeout")

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self.configure(runner=self.runner, timeout=value)

    def __getstate__(self) -> dict:
        # Runners hold pools and locks; workers get the oracle without them.
        state = dict(self.__dict__)
        for key in ("_runner", "_timeout", "_stats", "_payload", "_token"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    # ------------------------------------------------------------------ #
    # Hooks for subclasses
    # ------------------------------------------------------------------ #
    def check_event_shape(self, event_shape: tuple[int, ...]) -> str | None:
        """Return a description of the expected event shape when
        ``event_shape`` is not acceptable, else ``None``."""
        return None

    def output_event_shape(self, event_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The event shape of one solution for an input event shape."""
        return event_shape

    def check_data(self, event_shape: tuple[int, ...], data: Mapping[str, Array]) -> None:
        """Check the per-instance data (already flattened to ``(n, *data_event)``)
        against the event shape. Raise with :meth:`invalid` on a problem."""

    def check_values(self, theta: Array, data: Mapping[str, Array]) -> None:
        """Check values of the flattened batch ``(n, *event)`` beyond
        finiteness (e.g. non-negative costs). Raise with :meth:`invalid`."""

    def solve(self, theta: Array, **data: Array) -> Array:
        """Solve one instance: ``theta`` of the event shape, data without a
        batch dimension. Returns an array of the output event shape."""
        raise NotImplementedError(f"{type(self).__name__} implements neither solve nor solve_chunk")

    def solve_chunk(self, theta: Array, **data: Array) -> Array:
        """Solve a contiguous chunk ``(m, *event)``; returns ``(m, *out_event)``.

        The default loops over :meth:`solve`. An exception on instance ``i``
        (local to the chunk; the caller adds the chunk's offset) is re-raised
        as ``InstanceFailure(i)`` chained to the original exception.
        Overrides do the same: ``raise InstanceFailure(i) from error``, or
        raise an :class:`OracleError` subclass (e.g. ``InfeasibleError``)
        with ``index=i``.
        """
        out_shape = self.output_event_shape(tuple(theta.shape[1:]))
        out = np.zeros((theta.shape[0], *out_shape), dtype=np.float64)
        for i in range(theta.shape[0]):
            instance = {key: value[i] for key, value in data.items()}
            try:
                solution = np.asarray(self.solve(theta[i], **instance))
            except Exception as error:  # noqa: BLE001 - any solver failure is reported with its index
                raise InstanceFailure(i) from error
            if solution.shape != out_shape:
                raise OracleError(
                    f"solve returned an array of shape {solution.shape}, but the expected shape is {out_shape}",
                    index=i,
                )
            out[i] = solution
        return out

    def solve_torch(self, theta, **data):
        """Solve a flattened batch ``(n, *event)`` of torch tensors on their
        device (device-native oracles only)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ #
    # Errors
    # ------------------------------------------------------------------ #
    def invalid(self, message: str, index: tuple[int, ...] | None = None) -> InvalidInputError:
        """An :class:`InvalidInputError` naming this oracle (and the batch
        index when given). Use as ``raise self.invalid(...)``."""
        where = "" if index is None else f" at batch index {index}"
        return InvalidInputError(f"oracle {self.name!r}{where}: {message}", oracle=self.name, index=index)

    def first_bad(self, bad: Array, message: str) -> None:
        """Raise :meth:`invalid` for the first ``True`` entry of the per-instance
        boolean vector ``bad`` (length n); ``message`` may use ``{i}`` for the
        flat index."""
        positions = np.flatnonzero(bad)
        if positions.size:
            flat = int(positions[0])
            raise self.invalid(message.format(i=flat), index=self._batch_index(flat))

    def _batch_index(self, flat: int) -> tuple[int, ...]:
        return format_index(flat, getattr(_CALL_STATE, "batch_shape", ()) or ())

    # ------------------------------------------------------------------ #
    # Calling
    # ------------------------------------------------------------------ #
    def __call__(self, theta: Any, **data: Any) -> Any:
        """Solve every instance of ``theta`` ``(*batch, *event)``.

        Returns solutions ``(*batch, *out_event)`` of the same type (numpy or
        torch), device and dtype as ``theta``.
        """
        tensor_input = _tensors.is_tensor(theta)
        if tensor_input and self.device_native and not _tensors.few_kernels(theta):
            return self._call_device(theta, data)
        host_theta = _tensors.to_host(theta)
        host_data = {key: _tensors.to_host(value) for key, value in data.items()}
        theta2d, data2d, batch_shape, event_shape = self._prepare(host_theta, host_data)
        out_event = self.output_event_shape(event_shape)
        if theta2d.shape[0] == 0:
            result = np.zeros((*batch_shape, *out_event), dtype=np.float64)
        else:
            solutions = execute(self, theta2d, data2d, batch_shape=batch_shape)
            self._check_fits(solutions, host_theta.dtype, batch_shape)
            result = solutions.reshape(*batch_shape, *out_event)
        if tensor_input:
            return _tensors.like_input(result, theta)
        return _tensors.like_input(result, host_theta)

    def _call_device(self, theta, data):
        torch = _tensors.torch_module()
        with torch.no_grad():
            theta = theta.detach()
            shapes = tuple(theta.shape)
            data = {key: torch.as_tensor(value, device=theta.device) for key, value in data.items()}
            batch_shape, event_shape = self._split_shape(shapes, str(theta.dtype).replace("torch.", ""), theta)
            data2d = self._flatten_data(
                data, batch_shape, event_shape, reshape=lambda x, s: x.reshape(s), expand=lambda x, s: x.expand(s)
            )
            n = math.prod(batch_shape)
            theta2d = theta.reshape(n, *event_shape)
            out_event = self.output_event_shape(event_shape)
            if n == 0:
                return torch.zeros((*batch_shape, *out_event), dtype=theta.dtype, device=theta.device)
            finite = torch.isfinite(theta2d.reshape(n, -1)).all(dim=1)
            if not bool(finite.all()):
                flat = int((~finite).nonzero()[0, 0])
                raise self.invalid(
                    f"expected finite values, but found nan or inf in {self._describe_bad(theta2d[flat])}",
                    index=format_index(flat, batch_shape),
                )
            _CALL_STATE.batch_shape = batch_shape
            try:
                self.check_values(theta2d, data2d)
                out = self.solve_torch(theta2d, **data2d)
            finally:
                _CALL_STATE.batch_shape = ()
            if not theta.dtype.is_floating_point:
                self._check_fits(out, theta.dtype, batch_shape)
            return out.reshape(*batch_shape, *out_event).to(theta.dtype)

    def _check_fits(self, solutions, dtype, batch_shape) -> None:
        """Refuse integer input whose dtype cannot hold the solutions (ranks up to
        ``n``, integer programs' values), instead of returning them wrapped around."""
        name = str(dtype).replace("torch.", "")
        if not name.startswith(("int", "uint")) or not math.prod(solutions.shape):
            return
        info = np.iinfo(name)
        if _tensors.is_tensor(solutions):
            flat = solutions.reshape(solutions.shape[0], -1)
            low, high = flat.amin(dim=1).cpu().numpy(), flat.amax(dim=1).cpu().numpy()
        else:
            flat = solutions.reshape(solutions.shape[0], -1)
            low, high = flat.min(axis=1), flat.max(axis=1)
        bad = (low < info.min) | (high > info.max)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise self.invalid(
                f"the solution has values in [{low[first]:g}, {high[first]:g}], which the input's dtype {name} "
                f"cannot hold (range [{info.min}, {info.max}]); pass theta as float64 or a wider integer dtype",
                index=format_index(first, batch_shape),
            )

    @staticmethod
    def _describe_bad(instance) -> str:
        values = np.asarray(instance.detach().cpu() if _tensors.is_tensor(instance) else instance).reshape(-1)
        bad = values[~np.isfinite(values)]
        return f"{bad.size} entr{'y' if bad.size == 1 else 'ies'} (first: {bad[0]})"

    def _split_shape(self, shape: tuple[int, ...], dtype_name: str, theta: Any):
        if dtype_name.startswith(("complex", "bool")) or dtype_name in ("object", "str"):
            raise self.invalid(f"expected a real-valued array, but found dtype {dtype_name}")
        if len(shape) < self.event_ndim:
            raise self.invalid(
                f"expected an array with at least {self.event_ndim} dimension(s) (*batch, *event), "
                f"but found shape {shape}"
            )
        split = len(shape) - self.event_ndim
        batch_shape, event_shape = tuple(shape[:split]), tuple(shape[split:])
        problem = self.check_event_shape(event_shape)
        if problem is not None:
            raise self.invalid(f"expected event shape {problem}, but found {event_shape} (input shape {shape})")
        return batch_shape, event_shape

    def _flatten_data(self, data, batch_shape, event_shape, *, reshape, expand):
        unknown = sorted(set(data) - set(self.instance_data))
        if unknown:
            accepted = ", ".join(sorted(self.instance_data)) or "none"
            raise self.invalid(f"unexpected instance data {unknown}; accepted: {accepted}")
        missing = sorted(set(self.required_data) - set(data))
        if missing:
            raise self.invalid(f"missing required instance data {missing}")
        n = math.prod(batch_shape)
        flat = {}
        for key, value in data.items():
            ndim = self.instance_data[key]
            shape = tuple(value.shape)
            if len(shape) == ndim:  # shared by every instance
                flat[key] = expand(reshape(value, (1, *shape)), (n, *shape))
            elif len(shape) == len(batch_shape) + ndim and shape[: len(batch_shape)] == batch_shape:
                flat[key] = reshape(value, (n, *shape[len(batch_shape):]))
            else:
                raise self.invalid(
                    f"expected instance data {key!r} of shape {batch_shape} + (per-instance shape of "
                    f"{ndim} dim(s)) or of the per-instance shape alone, but found {shape} "
                    f"(theta batch shape {batch_shape})"
                )
        self.check_data(event_shape, flat)
        return flat

    def _prepare(self, theta: Array, data: dict[str, Array]):
        batch_shape, event_shape = self._split_shape(theta.shape, theta.dtype.name, theta)
        n = math.prod(batch_shape)
        theta2d = theta.reshape(n, *event_shape)
        data2d = self._flatten_data(
            data, batch_shape, event_shape,
            reshape=lambda x, s: np.asarray(x).reshape(s),
            expand=lambda x, s: np.broadcast_to(x, s),
        )
        for key, value in data2d.items():
            if value.dtype.kind in "fc" and n:
                finite = np.isfinite(value.reshape(n, -1)).all(axis=1)
                if not finite.all():
                    flat = int(np.flatnonzero(~finite)[0])
                    raise self.invalid(
                        f"expected finite instance data {key!r}, but found {self._describe_bad(value[flat])}",
                        index=format_index(flat, batch_shape),
                    )
        if n:
            finite = np.isfinite(theta2d.reshape(n, -1)).all(axis=1) if theta2d.dtype.kind == "f" else np.ones(n, bool)
            if not finite.all():
                flat = int(np.flatnonzero(~finite)[0])
                raise self.invalid(
                    f"expected finite values, but found nan or inf in {self._describe_bad(theta2d[flat])}",
                    index=format_index(flat, batch_shape),
                )
            _CALL_STATE.batch_shape = batch_shape
            try:
                self.check_values(theta2d, data2d)
            finally:
                _CALL_STATE.batch_shape = ()
        return theta2d, data2d, batch_shape, event_shape

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} sense={self.sense!r} backend={self.backend!r}>"


# The batch shape of the call in progress (per thread), so that check hooks
# can name a batch index without threading the shape through every signature.
_CALL_STATE = threading.local()
