"""I-MLE in TensorFlow: the :class:`IMLE` Keras layer, the :func:`imle` function and
the original release's :class:`IMLESubsetkLayer`.

The maths and options are those of :class:`imle_solvers.IMLE` (PyTorch);
the gradient is attached with ``tf.custom_gradient``.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from .._checks import TARGET_OPTIONS, refuse_unknown_options
from ..errors import ImleSolversError, InvalidInputError
from ..oracles.selection import TopK
from ._noise import SumOfGamma, resolve_noise
from ._oracle import OracleCall, check_num_samples, check_number, check_reduction
from ._targets import PerturbedTarget, resolve_target

__all__ = ["IMLE", "imle", "IMLESubsetkLayer"]

keras = tf.keras
_OPTIONS = ("noise", "target", "num_samples", "noise_temperature", "target_temperature", "reduction", "seed",
            "noiseless_inference")


def _check_theta(owner: str, theta: Any, event_ndim: int) -> tf.Tensor:
    if not isinstance(theta, (tf.Tensor, tf.Variable)):
        theta = tf.convert_to_tensor(theta)
    if not theta.dtype.is_floating:
        raise InvalidInputError(f"{owner}: expected a floating-point theta, but found dtype {theta.dtype.name}")
    rank = theta.shape.rank
    if rank is None or rank < event_ndim:
        raise InvalidInputError(
            f"{owner}: expected theta of shape (*batch, *event) with {event_ndim} event dimension(s) and a known "
            f"rank, but found shape {theta.shape}"
        )
    return tf.convert_to_tensor(theta)


# Plain Python that builds TensorFlow ops: AutoGraph (tf.function, Keras fit) need not rewrite it.
@tf.autograph.experimental.do_not_convert
def _apply(
    theta: Any,
    oracle: Any,
    data: dict[str, Any],
    *,
    noise: Any,
    noise_values: Any,
    target: Any,
    num_samples: int,
    noise_temperature: float,
    target_temperature: float,
    reduction: str,
    generator: tf.random.Generator | None,
    adapt: bool,
) -> tf.Tensor:
    call = OracleCall("IMLE", oracle, data)
    theta = _check_theta("IMLE", theta, call.event_ndim)
    samples = num_samples
    unit = scaled = None  # unit noise eps and tau * eps: (S, *batch, *event)
    if noise_temperature != 0.0 and (noise is not None or noise_values is not None):
        if noise_values is not None:
            unit = tf.cast(tf.convert_to_tensor(noise_values), theta.dtype)
            expected = tf.TensorShape([samples]).concatenate(theta.shape)
            if not unit.shape.is_compatible_with(expected):
                raise InvalidInputError(
                    f"IMLE: expected noise_values of shape (num_samples, *theta.shape) = {expected}, "
                    f"but found {unit.shape}"
                )
        else:
            shape = tf.concat([[samples], tf.shape(theta)], axis=0)
            unit = noise.sample(shape, generator=generator, dtype=theta.dtype)
            unit = tf.ensure_shape(tf.cast(unit, theta.dtype), tf.TensorShape([samples]).concatenate(theta.shape))
        unit = tf.stop_gradient(unit)
        scaled = unit if noise_temperature == 1.0 else noise_temperature * unit

    @tf.custom_gradient
    def estimator(theta):
        if scaled is None:
            z = call.solve_input(theta[None], 1)  # (1, *batch, *event): all samples alike
        elif call.sign > 0:
            z = call.solve_input(theta[None] + scaled, 1)  # (S, *batch, *event)
        else:  # costs w: the scores -w perturbed, -(-w + tau eps) = w - tau eps
            z = call.solve_input(theta[None] - scaled, 1)
        if reduction == "mean":
            output = z[0] if scaled is None or samples == 1 else tf.reduce_mean(z, axis=0)
        elif scaled is None and samples != 1:
            output = tf.repeat(z, samples, axis=0)  # (S, *batch, *event)
        else:
            output = z

        def gradient(grad_output):
            scores = theta if call.sign > 0 else -theta
            if reduction == "mean":
                grad = grad_output[None]  # (1, *batch, *event), shared by the samples
            else:
                # the gradient of the per-sample loss when the loss averages over samples
                grad = grad_output * float(samples)  # (S, *batch, *event)
            target_noise = None
            if unit is not None and target_temperature != 0.0:
                target_noise = unit if target_temperature == 1.0 else target_temperature * unit
            # perturbed target parameters, target noise included: (T, S or 1, *batch, *event)
            thetas, lam = target.targets(scores, grad, call.event_ndim, target_noise)
            target_z = call.solve(thetas, 2)  # one oracle call for every sample and side
            # the difference in the user's terms: score space for "max", negated for "min" (costs)
            if getattr(target, "symmetric", False):
                plus, minus = target_z[0], target_z[1]  # z(theta + lam g), z(theta - lam g)
                difference = plus - minus if call.sign > 0 else minus - plus
                scale = 2 * lam
            else:
                difference = z - target_z[0] if call.sign > 0 else target_z[0] - z  # the forward z is reused
                scale = lam
            update = getattr(target, "update", None)
            if adapt and update is not None:
                update(difference, call.event_ndim)
            estimate = difference / tf.cast(scale, difference.dtype)  # (S or 1, *batch, *event)
            grad_theta = tf.reduce_mean(estimate, axis=0)
            return tf.cast(tf.broadcast_to(grad_theta, tf.shape(theta)), theta.dtype)

        return output, gradient

    return estimator(theta)


def imle(
    theta: Any,
    oracle: Any,
    *,
    noise: Any = "gumbel",
    target: Any = None,
    num_samples: int = 1,
    noise_temperature: float = 1.0,
    target_temperature: float = 1.0,
    reduction: str = "mean",
    generator: tf.random.Generator | None = None,
    noise_values: Any = None,
    **instance_data: Any,
) -> tf.Tensor:
    """I-MLE through any MAP oracle, for TensorFlow: the twin of :func:`imle_solvers.imle`.

    For a max-sense oracle with noise ``eps_s`` (``s = 1..S``), temperatures
    ``tau`` (noise) and ``tau_t`` (target) and ``PerturbedTarget(lambda_,
    alpha)``:

    * forward: ``z_s = MAP(theta + tau eps_s)``; returns ``mean_s z_s``
      (``reduction="mean"``, shape ``(*batch, *event)``) or the samples
      (``reduction="none"``, shape ``(S, *batch, *event)``, sample dimension
      first);
    * backward, ``g = dL/dz``: ``dL/dtheta = mean_s (z_s - MAP(alpha theta -
      lambda_ g + tau_t eps_s)) / lambda_``, the same ``eps_s`` and the forward
      ``z_s`` reused, all samples (and both sides of a symmetric target) in one
      oracle call. With ``reduction="none"`` sample ``s`` uses ``g = S *
      dL/dz_s``, so both reductions agree for the same loss.

    A min-sense oracle (costs ``w``) is the max-sense oracle on ``-w``: the
    perturbed costs are ``w - tau eps``, the target costs ``alpha w +
    lambda_ g - tau_t eps``, the gradient returned for ``w`` is
    ``-dL/dtheta``. For oracles with ``nonnegative=True`` (Dijkstra) the
    perturbed costs are clamped at zero before each oracle call.

    Args:
        theta: scores (max-sense) or costs (min-sense), a float tensor or
            variable ``(*batch, *event)``.
        oracle: any oracle (``get_oracle(...)``, a :class:`~imle_solvers.FunctionOracle`, ...).
        noise: ``"gumbel"`` (default), :class:`~imle_solvers.tf.Gumbel`,
            :class:`~imle_solvers.tf.SumOfGamma` (the torch-side
            ``imle_solvers.Gumbel``/``SumOfGamma`` are converted), any object
            with ``sample(shape, *, generator, dtype)``, or ``None`` (no noise).
        target: :class:`~imle_solvers.tf.PerturbedTarget` (default: ``lambda_=10``),
            :class:`~imle_solvers.tf.AdaptiveTarget` (adapted on every backward pass),
            or the torch-side ``imle_solvers.PerturbedTarget``.
        num_samples: ``S``.
        noise_temperature: ``tau``; ``0`` turns noise off.
        target_temperature: ``tau_t``.
        reduction: ``"mean"`` or ``"none"``.
        generator: a ``tf.random.Generator`` for the noise (``None``:
            TensorFlow's global random ops).
        noise_values: unit noise ``eps`` of shape ``(num_samples,
            *theta.shape)`` to use instead of a draw from ``noise``
            (reproducing a computation, comparing with the torch estimator).
        **instance_data: per-instance arrays for the oracle (e.g. knapsack
            ``weights``); no gradient flows to them.

    Example:
        >>> import tensorflow as tf
        >>> from imle_solvers import get_oracle
        >>> from imle_solvers.tf import imle
        >>> theta = tf.zeros([3, 5])
        >>> imle(theta, get_oracle("onehot"), num_samples=4, reduction="none").shape
        TensorShape([4, 3, 5])
    """
    noise = resolve_noise("IMLE", noise)
    target = resolve_target("IMLE", target)
    return _apply(
        theta, oracle, instance_data, noise=noise, noise_values=noise_values, target=target,
        num_samples=check_num_samples("IMLE", num_samples),
        noise_temperature=check_number("IMLE", "noise_temperature", noise_temperature),
        target_temperature=check_number("IMLE", "target_temperature", target_temperature),
        reduction=check_reduction("IMLE", reduction), generator=generator, adapt=True,
    )


def _check_keras_backend() -> None:
    backend = getattr(getattr(keras, "backend", None), "backend", None)
    name = backend() if callable(backend) else "tensorflow"
    if name != "tensorflow":
        raise ImleSolversError(
            f"imle_solvers.tf layers need the TensorFlow Keras backend, but Keras runs on {name!r}; "
            "set KERAS_BACKEND=tensorflow (or use the PyTorch estimators, imle_solvers.IMLE)"
        )


class IMLE(keras.layers.Layer):
    """A Keras layer that makes a MAP oracle differentiable with Implicit MLE.

    The same estimator, options and maths as :func:`imle` (and as the PyTorch
    :class:`imle_solvers.IMLE`); see there. In Keras terms:

    * ``layer(theta, training=True)`` samples: ``mean_s MAP(theta + tau
      eps_s)`` or the ``S`` samples (``reduction="none"``, sample dimension
      first). An :class:`~imle_solvers.tf.AdaptiveTarget` adapts on each
      backward pass.
    * ``layer(theta)`` or ``training=False`` (``model.predict``,
      ``model.evaluate``) returns the noiseless MAP solution ``MAP(theta)``,
      as the original I-MLE Keras layers did (repeated ``S`` times for
      ``reduction="none"``); gradients still flow, without noise, and an
      adaptive target does not adapt. ``noiseless_inference=False`` samples
      in both modes.

    Keras fits call the layer with ``training=True``. Note the difference
    from the PyTorch module, whose default mode is training: a bare
    ``layer(theta)`` here is inference, the Keras convention.

    CPU oracles run through ``tf.numpy_function`` and so cannot be
    XLA-compiled, nor can the rejection loop of the :class:`SumOfGamma`
    sampler (its shapes depend on the draws); the layer then sets ``supports_jit = False`` and Keras compiles without
    XLA (``jit_compile="auto"``). With the built-in ``topk`` or ``onehot``
    oracle (TensorFlow ops) and :class:`Gumbel` noise (or none) the layer
    supports XLA.

    Args:
        oracle: any oracle.
        noise, target, num_samples, noise_temperature, target_temperature,
            reduction: as in :func:`imle`. A target that is a Keras layer
            (:class:`~imle_solvers.tf.AdaptiveTarget`) is tracked: its state
            is in this layer's non-trainable weights.
        seed: an int makes the noise reproducible (the layer owns a
            ``tf.random.Generator`` seeded with it); ``None`` uses
            TensorFlow's global random ops.
        noiseless_inference: return ``MAP(theta)`` when not training.
        **kwargs: Keras layer arguments (``name``, ``dtype``, ...).

    Call as ``layer(theta, training=None, noise_values=None,
    **instance_data)``; ``noise_values`` are unit noise values ``(S,
    *theta.shape)`` used instead of a draw (training mode only).

    Example:
        >>> import tensorflow as tf
        >>> from imle_solvers import get_oracle
        >>> from imle_solvers.tf import IMLE, SumOfGamma
        >>> layer = IMLE(get_oracle("topk", k=2), noise=SumOfGamma(k=2), seed=0)
        >>> theta = tf.Variable([[0.1, 2.0, -1.0, 1.5]])
        >>> layer(theta).numpy().tolist()  # inference: the noiseless top-2
        [[0.0, 1.0, 0.0, 1.0]]
        >>> with tf.GradientTape() as tape:
        ...     z = layer(theta, training=True)
        ...     loss = tf.reduce_sum(z * [[0.0, 0.0, -1.0, 0.0]])  # reward picking item 2
        >>> float(tf.reduce_sum(z))
        2.0
        >>> float(tape.gradient(loss, theta)[0, 2]) < 0  # descending the loss raises theta[2]
        True
    """

    def __init__(
        self,
        oracle: Any,
        *,
        noise: Any = "gumbel",
        target: Any = None,
        num_samples: int = 1,
        noise_temperature: float = 1.0,
        target_temperature: float = 1.0,
        reduction: str = "mean",
        seed: int | None = None,
        noiseless_inference: bool = True,
        **kwargs: Any,
    ):
        _check_keras_backend()
        refuse_unknown_options("IMLE", {key: kwargs.pop(key) for key in list(kwargs) if key in TARGET_OPTIONS},
                               _OPTIONS)
        super().__init__(**kwargs)
        probe = OracleCall("IMLE", oracle, {})  # validates the oracle's sense early
        self.oracle = oracle
        self.noise = resolve_noise("IMLE", noise)
        self.target = resolve_target("IMLE", target)
        self.num_samples = check_num_samples("IMLE", num_samples)
        self.noise_temperature = check_number("IMLE", "noise_temperature", noise_temperature)
        self.target_temperature = check_number("IMLE", "target_temperature", target_temperature)
        self.reduction = check_reduction("IMLE", reduction)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidInputError(f"IMLE: expected seed to be an int or None, but found {seed!r}")
        self.seed = seed
        self.generator = None if seed is None else tf.random.Generator.from_seed(seed)
        self.noiseless_inference = bool(noiseless_inference)
        # XLA needs a TensorFlow-native oracle (tf.numpy_function has no XLA kernel) and noise with XLA kernels
        noise_jit = self.noise is None or bool(getattr(self.noise, "xla_compatible", False))
        self.supports_jit = probe.native is not None and noise_jit

    def call(self, theta, training=None, noise_values=None, **instance_data):
        """Solutions ``(*batch, *event)`` or ``(S, *batch, *event)``; see the class docs."""
        if not training and self.noiseless_inference:
            z = _apply(
                theta, self.oracle, instance_data, noise=None, noise_values=None, target=self.target,
                num_samples=1, noise_temperature=0.0, target_temperature=0.0, reduction="mean",
                generator=None, adapt=False,
            )
            if self.reduction == "none":
                return tf.repeat(z[None], self.num_samples, axis=0)
            return z
        return _apply(
            theta, self.oracle, instance_data, noise=self.noise, noise_values=noise_values, target=self.target,
            num_samples=self.num_samples, noise_temperature=self.noise_temperature,
            target_temperature=self.target_temperature, reduction=self.reduction, generator=self.generator,
            adapt=bool(training),
        )

    def get_config(self) -> dict[str, Any]:
        """Not serialisable: raises ``NotImplementedError`` (the oracle is an arbitrary object)."""
        raise NotImplementedError(
            "IMLE holds an oracle object, which Keras cannot serialise: save the model's weights "
            "(model.save_weights; an AdaptiveTarget's state is among them) and rebuild the model in code. "
            "IMLESubsetkLayer is serialisable (model.save works)."
        )

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        return (self.num_samples, *shape) if self.reduction == "none" else shape

    def __repr__(self) -> str:
        return (
            f"IMLE(oracle={self.oracle!r}, noise={self.noise!r}, target={self.target!r}, "
            f"num_samples={self.num_samples}, noise_temperature={self.noise_temperature}, "
            f"target_temperature={self.target_temperature}, reduction={self.reduction!r})"
        )


def _register(cls):
    # tf.keras (keras._tf_keras.keras) has no `saving` namespace; `utils` has the same function
    return keras.utils.register_keras_serializable(package="imle_solvers")(cls)


@_register
class IMLESubsetkLayer(IMLE):
    """The k-subset I-MLE layer of the original TensorFlow release, with its noise fixed.

    ``IMLE(topk(k), noise=SumOfGamma(k, num_terms), noise_temperature=tau,
    target_temperature=tau, target=PerturbedTarget(lambda_))``: in training,
    ``z = topk(logits + tau eps)`` with sum-of-gamma ``eps``; the backward pass
    solves ``topk(logits - lambda_ dL/dz + tau eps)`` with the same ``eps``
    and returns ``(z - z') / lambda_``; at inference (``training=False`` or
    unset) the noiseless ``topk(logits)``.

    Differences from the original ``IMLESubsetkLayer``:

    * the sum-of-gamma terms are ``Gamma(1/k, rate i/k)`` as in the paper;
      the original passed ``k/i`` as ``tf.random.gamma``'s ``beta``, which is
      a rate, so its noise had the wrong mean and variance (see
      :class:`~imle_solvers.tf.SumOfGamma`);
    * the gradient is divided by ``lambda_`` (the I-MLE estimate); the
      original returned ``z - z'``, ``lambda_`` times larger. Adam and other
      scale-invariant optimisers see no difference; with plain SGD, a
      learning rate ``lambda_`` times the original one takes the original
      steps;
    * exactly ``k`` ones per row, ties to the lower index; the original
      thresholded at the k-th largest value and returned more than ``k`` ones
      on ties;
    * any batch shape ``(*batch, n)``, not only ``(batch, n)``; ``num_samples``
      and ``reduction`` are available as in :class:`IMLE`.

    Args:
        k: the subset size.
        tau: the noise (and target noise) temperature.
        lambda_: the perturbation strength of the target.
        num_terms: the truncation of the sum-of-gamma series.
        seed: an int for reproducible noise.
        xla: draw the noise's Gamma proposals with one XLA-compiled kernel
            (default; see :class:`SumOfGamma`), or with TensorFlow ops
            (``False``, for a device or build without XLA).

    Example:
        >>> import tensorflow as tf
        >>> from imle_solvers.tf import IMLESubsetkLayer
        >>> layer = IMLESubsetkLayer(k=2, seed=0)
        >>> logits = tf.constant([[0.0, 3.0, 1.0, 2.0]])
        >>> layer(logits).numpy().tolist()
        [[0.0, 1.0, 0.0, 1.0]]
        >>> float(tf.reduce_sum(layer(logits, training=True)))
        2.0
    """

    def __init__(self, k: int, tau: float = 10.0, lambda_: float = 10.0, *, num_terms: int = 10,
                 seed: int | None = None, num_samples: int = 1, reduction: str = "mean", xla: bool = True,
                 **kwargs: Any):
        tau = check_number("IMLESubsetkLayer", "tau", tau)
        super().__init__(
            TopK(k), noise=SumOfGamma(k, num_terms, xla=xla), target=PerturbedTarget(lambda_),
            num_samples=num_samples,
            noise_temperature=tau, target_temperature=tau, reduction=reduction, seed=seed, **kwargs,
        )
        self.k, self.tau, self.lambda_, self.num_terms, self.xla = int(k), tau, float(lambda_), num_terms, xla

    def get_config(self) -> dict[str, Any]:
        """The layer's arguments, for Keras serialisation (``model.save``)."""
        config = {key: value for key, value in keras.layers.Layer.get_config(self).items()
                  if key in ("name", "dtype", "trainable")}
        config.update(k=self.k, tau=self.tau, lambda_=self.lambda_, num_terms=self.num_terms, seed=self.seed,
                      num_samples=self.num_samples, reduction=self.reduction, xla=self.xla)
        return config
