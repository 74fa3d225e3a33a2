"""I-MLE target distributions in TensorFlow: :class:`PerturbedTarget` and :class:`AdaptiveTarget`.

The TensorFlow twins of :mod:`imle_solvers.targets`, with the same contract
(score space; tensors of shape ``(S, *batch, *event)``, one entry per noise
sample):

* ``symmetric`` — forward (``False``) or central (``True``) differences;
* ``targets(theta, grad, event_ndim, noise=None)`` → ``(thetas, lam)``:
  the target parameters ``(T, S or 1, *batch, *event)`` (``T = 2``, plus
  side first, when symmetric) with the scaled target noise included, and the
  step ``lam`` (a float or a tensor broadcastable against ``grad``);
* ``update(difference, event_ndim)`` — called by the estimator once per
  backward pass with the solution differences when it adapts (the
  :class:`~imle_solvers.tf.IMLE` layer in training mode, the function
  :func:`~imle_solvers.tf.imle` always).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from .._checks import check_instance
from ..errors import InvalidInputError

__all__ = ["PerturbedTarget", "AdaptiveTarget", "resolve_target"]

keras = tf.keras


def _number(owner: str, name: str, value: Any, *, positive: bool = False, nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"{owner}: expected {name} to be a finite number, but found {value!r}")
    if positive and value <= 0:
        raise InvalidInputError(f"{owner}: expected {name} > 0, but found {value!r}")
    if nonnegative and value < 0:
        raise InvalidInputError(f"{owner}: expected {name} >= 0, but found {value!r}")
    return float(value)


def _event_axes(tensor: tf.Tensor, event_ndim: int) -> list[int]:
    rank = tensor.shape.rank
    return list(range(rank - event_ndim, rank))


def _norm(tensor: tf.Tensor, event_ndim: int) -> tf.Tensor:
    """The Euclidean norm over the event axes, kept as size-1 axes."""
    squares = tf.reduce_sum(tf.square(tensor), axis=_event_axes(tensor, event_ndim), keepdims=True)
    return tf.sqrt(squares)


class PerturbedTarget:
    """The I-MLE target ``theta' = alpha * theta - lambda_ * dL/dz``, solved at ``theta' + tau_t eps``.

    With ``z_s = MAP(theta + tau eps_s)`` the estimate is ``dL/dtheta =
    mean_s (z_s - MAP(theta' + tau_t eps_s)) / lambda_`` — exactly
    :class:`imle_solvers.PerturbedTarget`.

    Args:
        lambda_: the step along the downstream gradient (``> 0``).
        alpha: the weight of ``theta`` in the target (1 in the paper).

    Example:
        >>> import tensorflow as tf
        >>> from imle_solvers.tf import PerturbedTarget
        >>> thetas, lam = PerturbedTarget(lambda_=2.0).targets(tf.constant([1.0, 0.0]), tf.constant([[0.5, -0.5]]), 1)
        >>> thetas.numpy().tolist(), lam
        ([[[0.0, 1.0]]], 2.0)
    """

    symmetric = False

    def __init__(self, lambda_: float = 10.0, alpha: float = 1.0):
        self.lambda_ = _number("PerturbedTarget", "lambda_", lambda_, positive=True)
        self.alpha = _number("PerturbedTarget", "alpha", alpha)

    def targets(self, theta: tf.Tensor, grad: tf.Tensor, event_ndim: int, noise: tf.Tensor | None = None):
        """``(alpha * theta - lambda_ * grad + noise)[None]`` and ``lambda_``."""
        base = theta if self.alpha == 1.0 else self.alpha * theta
        theta_prime = base - self.lambda_ * grad  # (S or 1, *batch, *event)
        if noise is not None:
            theta_prime = theta_prime + noise
        return theta_prime[None], self.lambda_

    def update(self, difference: tf.Tensor, event_ndim: int) -> None:
        """Nothing to adapt."""

    def __repr__(self) -> str:
        return f"PerturbedTarget(lambda_={self.lambda_}, alpha={self.alpha})"


class AdaptiveTarget(keras.layers.Layer):
    r"""Adaptive I-MLE target (AIMLE; Minervini, Franceschi, Niepert, AAAI 2023) in TensorFlow.

    The same maths as :class:`imle_solvers.AdaptiveTarget`: the point
    ``base_s = alpha theta + tau_t eps_s`` moves against the downstream
    gradient ``g_s`` by ``lam_{s,b} = beta ||base_{s,b}|| / ||g_{s,b}||`` per
    instance and sample (``norm="theta"``: ``||alpha theta||``, the paper's
    formula; ``lam = 1`` where ``g = 0``; the norm floored at the dtype's
    machine epsilon); after each backward pass the mean number of non-zero
    entries of an instance's solution difference feeds an exponential moving
    average ``nonzeros``, and ``beta <- beta * exp(update_step *
    sign(target_nonzeros - nonzeros))``. Forward difference ``(z_s -
    MAP(base - lam g)) / lam`` by default, central difference
    ``(MAP(base + lam g) - MAP(base - lam g)) / (2 lam)`` with
    ``symmetric=True``, both sides in one oracle call.

    It is a Keras layer only to hold its state: ``beta`` and ``nonzeros`` are
    non-trainable weights, so they are saved with the model's weights when the
    target sits in an :class:`~imle_solvers.tf.IMLE` layer. It is never called.
    The IMLE layer adapts it in training mode only; the function
    :func:`~imle_solvers.tf.imle` adapts it on every backward pass.

    Args:
        beta: the initial relative step (``> 0``).
        target_nonzeros: the wanted number of non-zero gradient entries per
            instance and sample (``> 0``).
        update_step: the multiplicative step of ``beta`` in log space (``>= 0``).
        decay: the decay of the moving average of the non-zero count (in ``[0, 1)``).
        symmetric: central instead of forward differences.
        alpha: the weight of ``theta`` in the target.
        norm: ``"perturbed"`` (default) or ``"theta"``.

    Example:
        >>> import tensorflow as tf
        >>> from imle_solvers.tf import AdaptiveTarget
        >>> target = AdaptiveTarget(beta=0.5)
        >>> thetas, lam = target.targets(tf.constant([3.0, 4.0]), tf.constant([[0.0, 2.0]]), 1)
        >>> thetas.numpy().tolist(), lam.numpy().tolist()  # lam = 0.5 * 5 / 2
        ([[[3.0, 1.5]]], [[1.25]])
        >>> target.update(tf.constant([[1.0, -1.0]]), 1)  # 2 non-zeros > 1 wanted: beta shrinks
        >>> float(target.beta.numpy()) < 0.5
        True
    """

    def __init__(
        self,
        beta: float = 1.0,
        *,
        target_nonzeros: float = 1.0,
        update_step: float = 1e-2,
        decay: float = 0.9,
        symmetric: bool = False,
        alpha: float = 1.0,
        norm: str = "perturbed",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        beta = _number("AdaptiveTarget", "beta", beta, positive=True)
        self.target_nonzeros = _number("AdaptiveTarget", "target_nonzeros", target_nonzeros, positive=True)
        self.update_step = _number("AdaptiveTarget", "update_step", update_step, nonnegative=True)
        self.decay = _number("AdaptiveTarget", "decay", decay, nonnegative=True)
        if self.decay >= 1:
            raise InvalidInputError(f"AdaptiveTarget: expected decay in [0, 1), but found {decay!r}")
        if not isinstance(symmetric, bool):
            raise InvalidInputError(f"AdaptiveTarget: expected symmetric to be a bool, but found {symmetric!r}")
        self.symmetric = symmetric
        self.alpha = _number("AdaptiveTarget", "alpha", alpha)
        if norm not in ("perturbed", "theta"):
            raise InvalidInputError(f"AdaptiveTarget: expected norm 'perturbed' or 'theta', but found {norm!r}")
        self.norm = norm
        self.beta = self.add_weight(
            name="beta", shape=(), dtype="float32", trainable=False, initializer=keras.initializers.Constant(beta)
        )
        # the moving average starts at the target: no update until evidence comes
        self.nonzeros = self.add_weight(
            name="nonzeros", shape=(), dtype="float32", trainable=False,
            initializer=keras.initializers.Constant(self.target_nonzeros),
        )
        self.built = True

    def lambdas(self, base: tf.Tensor, grad: tf.Tensor, event_ndim: int) -> tf.Tensor:
        """``beta * ||base_{s,b}|| / ||grad_{s,b}||`` of shape ``(S or 1, *batch, 1, ..., 1)``
        (``1`` where the gradient is zero)."""
        eps = float(np.finfo(base.dtype.as_numpy_dtype).eps)
        base_norm = tf.maximum(_norm(base, event_ndim), eps) * tf.cast(tf.convert_to_tensor(self.beta), base.dtype)
        grad_norm = _norm(grad, event_ndim)
        zero = tf.equal(grad_norm, 0)
        lam = base_norm / tf.where(zero, tf.ones_like(grad_norm), grad_norm)
        return tf.where(zero, tf.ones_like(lam), lam)

    def targets(self, theta: tf.Tensor, grad: tf.Tensor, event_ndim: int, noise: tf.Tensor | None = None):
        """Target parameters ``(T, S or 1, *batch, *event)`` and the step ``lam``."""
        base = self.alpha * theta if self.alpha != 1.0 else theta
        if noise is not None and self.norm == "perturbed":
            lam = self.lambdas(base + noise, grad, event_ndim)  # the norm of the point that is moved
        else:
            lam = self.lambdas(base, grad, event_ndim)
        step = lam * grad  # (S or 1, *batch, *event)
        thetas = tf.stack([base + step, base - step]) if self.symmetric else (base - step)[None]
        if noise is not None:
            thetas = thetas + noise
        return thetas, lam

    def update(self, difference: tf.Tensor, event_ndim: int) -> None:
        """Adapt ``beta`` from the solution differences ``(S, *batch, *event)``
        (a no-op with ``update_step = 0``)."""
        if self.update_step == 0.0:
            return
        nonzero = tf.cast(tf.not_equal(difference, 0), tf.float32)
        per_instance = tf.reduce_sum(nonzero, axis=_event_axes(difference, event_ndim))
        count = tf.reduce_mean(per_instance)  # over samples and batch
        nonzeros = self.decay * tf.convert_to_tensor(self.nonzeros) + (1.0 - self.decay) * count
        self.nonzeros.assign(nonzeros)
        direction = tf.sign(self.target_nonzeros - nonzeros)
        self.beta.assign(tf.convert_to_tensor(self.beta) * tf.exp(self.update_step * direction))

    def call(self, *args: Any, **kwargs: Any):
        """Not a computing layer: raises ``TypeError``."""
        raise TypeError("AdaptiveTarget holds the AIMLE state; pass it as target= to IMLE instead of calling it")

    def __repr__(self) -> str:
        return (
            f"AdaptiveTarget(beta={float(self.beta.numpy()):.4g}, target_nonzeros={self.target_nonzeros}, "
            f"update_step={self.update_step}, decay={self.decay}, symmetric={self.symmetric}, alpha={self.alpha}, "
            f"norm={self.norm!r})"
        )


def resolve_target(owner: str, target: Any) -> Any:
    """``None`` -> ``PerturbedTarget()``; the torch-side :class:`imle_solvers.PerturbedTarget`
    -> its TensorFlow twin; TensorFlow targets (anything with ``targets``) as is."""
    if target is None:
        return PerturbedTarget()
    check_instance(owner, "target", target)
    if type(target).__module__ == "imle_solvers.targets":
        if type(target).__name__ == "PerturbedTarget":
            return PerturbedTarget(target.lambda_, target.alpha)
        raise InvalidInputError(
            f"{owner}: the torch {type(target).__name__} keeps its state in torch buffers; "
            "use imle_solvers.tf.AdaptiveTarget with the same arguments"
        )
    if not callable(getattr(target, "targets", None)):
        raise InvalidInputError(
            f"{owner}: expected a target with a targets(theta, grad, event_ndim, noise) method (PerturbedTarget, "
            f"AdaptiveTarget), but found {type(target).__name__}"
        )
    return target
