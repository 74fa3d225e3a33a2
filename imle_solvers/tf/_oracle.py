"""Calling an oracle from TensorFlow: ``tf.numpy_function``, or TensorFlow ops for top-k.

The TensorFlow twin of :mod:`imle_solvers.estimators._common` (which needs
torch). :class:`OracleCall` works in score space like its torch twin: for a
min-sense oracle the scores are ``-w`` for the user's costs ``w`` and the
oracle is called with ``-scores``; inputs of ``nonnegative`` oracles are
clamped at zero; per-instance data is repeated over leading sample
dimensions; and every call solves the whole stacked batch at once.

CPU oracles run through ``tf.numpy_function``: one host copy of the batch in,
one of the solutions out, per call. The built-in ``topk`` and ``onehot``
oracles (exactly those classes, not subclasses) are solved with TensorFlow
ops on the tensor's device instead — same tie rule (the lower index wins), no
host copy, and usable under XLA: the k-th largest value of each row
(``NthElement``, a linear-time selection) and a comparison with it, or
``tf.math.top_k`` where that value is tied within a row or under XLA (which has
no ``NthElement`` kernel). On the CPU the selection takes about half the time
of ``tf.math.top_k`` and its one-hot sum (profiled; ``docs/benchmarks.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from .._checks import check_num_samples, check_number, check_reduction, sense_sign
from ..errors import InvalidInputError
from ..oracles.selection import OneHot, TopK

__all__ = ["OracleCall", "sense_sign", "check_num_samples", "check_number", "check_reduction"]


def _in_xla_context() -> bool:
    """Whether ops built now will be XLA-compiled (``tf.function(jit_compile=True)``, Keras ``jit_compile``)."""
    try:
        from tensorflow.python.framework import ops
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # a TensorFlow without these helpers: take the path that compiles everywhere
        return True
    return bool(control_flow_util.GraphOrParentsInXlaContext(ops.get_default_graph()))


def _top_k_by_sorting(inputs: tf.Tensor, k: int) -> tf.Tensor:
    indices = tf.math.top_k(inputs, k=k, sorted=False).indices  # (*lead, *batch, k)
    return tf.reduce_sum(tf.one_hot(indices, tf.shape(inputs)[-1], dtype=inputs.dtype), axis=-2)


def _top_k_by_selection(inputs: tf.Tensor, k: int) -> tf.Tensor:
    """The ones where an entry is at least its row's k-th largest value. That is the top-k exactly when no row
    has a tie at its k-th value (then it would hold more than k ones); where one does, :func:`_top_k_by_sorting`
    decides, with its lower-index tie rule."""
    kth = tf.raw_ops.NthElement(input=inputs, n=k - 1, reverse=True)[..., tf.newaxis]
    chosen = inputs >= kth
    no_tie = tf.reduce_all(tf.equal(tf.reduce_sum(tf.cast(chosen, tf.int32), axis=-1), k))
    return tf.cond(no_tie, lambda: tf.cast(chosen, inputs.dtype), lambda: _top_k_by_sorting(inputs, k))


def _top_k_indicator(oracle: Any, k: int) -> Callable[[tf.Tensor], tf.Tensor]:
    """``z`` with ones at the ``k`` largest entries of the last axis (ties: lower index)."""

    def solve(inputs: tf.Tensor) -> tf.Tensor:
        n = inputs.shape[-1]
        if n is not None and n < k:
            raise oracle.invalid(f"expected event shape (n,) with n >= k={k}, but found ({n},) "
                                 f"(input shape {tuple(inputs.shape)})")
        if tf.executing_eagerly():
            finite = tf.reduce_all(tf.math.is_finite(tf.reshape(inputs, [-1, tf.shape(inputs)[-1]])), axis=1)
            if not bool(tf.reduce_all(finite)):
                flat = int(tf.where(~finite)[0, 0])
                index = tuple(int(i) for i in np.unravel_index(flat, tuple(inputs.shape[:-1])))
                raise oracle.invalid("expected finite values, but found nan or inf", index=index)
        else:
            inputs = tf.debugging.assert_all_finite(inputs, f"oracle {oracle.name!r}: expected finite values")
        if _in_xla_context():
            return _top_k_by_sorting(inputs, k)
        return _top_k_by_selection(inputs, k)

    return solve


def native_solver(oracle: Any) -> Callable[[tf.Tensor], tf.Tensor] | None:
    """A TensorFlow implementation of ``oracle`` when there is one (built-in top-k, one-hot)."""
    if type(oracle) is TopK:
        return _top_k_indicator(oracle, oracle.k)
    if type(oracle) is OneHot:
        return _top_k_indicator(oracle, 1)
    return None


class OracleCall:
    """One oracle and one call's instance data, ready to solve score tensors.

    ``solve(scores, lead_ndim)`` takes ``(*lead, *batch, *event)`` scores and
    repeats data that has batch dimensions over ``lead`` (the sample and side
    dimensions) before the single oracle call.
    """

    def __init__(self, owner: str, oracle: Any, data: Mapping[str, Any]):
        self.owner = owner
        self.oracle = oracle
        self.sign = sense_sign(owner, oracle)
        self.event_ndim = int(getattr(oracle, "event_ndim", 1))
        self.clamp = bool(getattr(oracle, "nonnegative", False))
        self.per_instance_ndim: Mapping[str, int] = dict(getattr(oracle, "instance_data", {}) or {})
        self.native = native_solver(oracle) if not data else None
        self.keys = tuple(data)
        self.values = [tf.stop_gradient(tf.convert_to_tensor(value)) for value in data.values()]

    def _host_solve(self, inputs: np.ndarray, lead_ndim: int, *values: np.ndarray) -> np.ndarray:
        lead = inputs.shape[:lead_ndim]
        data = {}
        for key, value in zip(self.keys, values):
            ndim = self.per_instance_ndim.get(key)
            if lead and ndim is not None and value.ndim > ndim:  # per instance: the same for every sample
                value = np.broadcast_to(value, (*lead, *value.shape))
            data[key] = value
        solutions = self.oracle(inputs, **data)
        if getattr(solutions, "shape", None) != inputs.shape:
            found = tuple(solutions.shape) if hasattr(solutions, "shape") else type(solutions).__name__
            raise InvalidInputError(
                f"{self.owner}: the oracle {getattr(self.oracle, 'name', self.oracle)!r} returned {found} for input "
                f"of shape {tuple(inputs.shape)}; gradient estimators need solutions in the space of theta "
                "(an array of the same shape)"
            )
        return np.asarray(solutions, dtype=inputs.dtype)

    def solve(self, scores: tf.Tensor, lead_ndim: int) -> tf.Tensor:
        """Solutions for ``scores`` of shape ``(*lead, *batch, *event)``, ``lead``
        the first ``lead_ndim`` dimensions."""
        return self.solve_input(scores if self.sign > 0 else -scores, lead_ndim)

    def solve_input(self, inputs: tf.Tensor, lead_ndim: int) -> tf.Tensor:
        """Like :meth:`solve` for inputs already in the oracle's own terms (costs
        of a min-sense oracle)."""
        if self.clamp:
            inputs = tf.maximum(inputs, tf.zeros((), inputs.dtype))
        if self.native is not None:
            return self.native(inputs)
        solutions = tf.numpy_function(
            lambda x, *values: self._host_solve(x, lead_ndim, *values),
            [inputs, *self.values],
            Tout=inputs.dtype,
            stateful=False,
            name="imle_oracle",
        )
        solutions.set_shape(inputs.shape)
        return solutions
