"""Perturb-and-MAP noise in TensorFlow: :class:`Gumbel` and :class:`SumOfGamma`.

The TensorFlow counterparts of :mod:`imle_solvers.noise`. A noise object has
one method, ``sample(shape, *, generator=None, dtype=tf.float32)``, and
says with ``xla_compatible`` whether its draws can be XLA-compiled. ``shape``
is a list of ints or a 1-D integer tensor (dynamic batch sizes work);
``generator`` is a ``tf.random.Generator`` that makes the draw reproducible,
or ``None`` for TensorFlow's global random ops (seeded by
``tf.random.set_seed``).

>>> import tensorflow as tf
>>> from imle_solvers.tf import Gumbel, SumOfGamma
>>> Gumbel().sample([2, 3], generator=tf.random.Generator.from_seed(0)).shape
TensorShape([2, 3])
>>> SumOfGamma(k=3).sample([4], dtype=tf.float64).dtype
tf.float64
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from .._checks import check_instance
from ..errors import InvalidInputError

__all__ = ["Gumbel", "SumOfGamma", "resolve_noise"]


def _check_positive(owner: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidInputError(f"{owner}: expected {name} to be a positive finite number, but found {value!r}")
    return float(value)


def _work_dtype(dtype: tf.DType) -> tf.DType:
    dtype = tf.as_dtype(dtype)
    if not dtype.is_floating:
        raise InvalidInputError(f"noise: expected a floating dtype, but found {dtype.name}")
    # half precision has too little range for logs of tiny uniforms
    return dtype if dtype in (tf.float32, tf.float64) else tf.float32


def _uniform_open(shape, generator, dtype: tf.DType) -> tf.Tensor:
    """Uniform on the open interval (0, 1): the random ops can return 0."""
    if generator is None:
        u = tf.random.uniform(shape, dtype=dtype)
    else:
        u = generator.uniform(shape, dtype=dtype)
    return tf.maximum(u, float(np.finfo(dtype.as_numpy_dtype).tiny))


def _standard_gamma(concentration: float, shape, generator, dtype) -> tf.Tensor:
    """Gamma(``concentration``, rate 1) draws."""
    if generator is None:
        return tf.random.gamma(shape, concentration, dtype=dtype)
    seed = generator.make_seeds(1)[:, 0]  # a fresh stateless seed from the generator's state
    return tf.random.stateless_gamma(shape, seed=seed, alpha=concentration, dtype=dtype)


class Gumbel:
    """Gumbel(0, ``scale``) noise: ``-scale * log(-log U)`` with ``U ~ Uniform(0, 1)``.

    The TensorFlow twin of :class:`imle_solvers.Gumbel`: mean ``scale *
    0.5772...``, variance ``scale**2 * pi**2 / 6``.

    Args:
        scale: the scale of the distribution (``> 0``).

    Example:
        >>> import tensorflow as tf
        >>> from imle_solvers.tf import Gumbel
        >>> z = Gumbel().sample([100_000], generator=tf.random.Generator.from_seed(0))
        >>> round(float(tf.reduce_mean(z)), 1)
        0.6
    """

    xla_compatible = True  # uniform draws have XLA kernels

    def __init__(self, scale: float = 1.0):
        self.scale = _check_positive("Gumbel", "scale", scale)

    def sample(self, shape, *, generator: tf.random.Generator | None = None, dtype=tf.float32) -> tf.Tensor:
        """A draw of ``shape`` in ``dtype``."""
        work = _work_dtype(dtype)
        exponential = -tf.math.log(_uniform_open(shape, generator, work))  # > 0 because U < 1
        gumbel = -self.scale * tf.math.log(exponential)
        return tf.cast(gumbel, dtype)

    def __repr__(self) -> str:
        return f"Gumbel(scale={self.scale})"


class SumOfGamma:
    """Sum-of-Gamma noise (Niepert et al., I-MLE, NeurIPS 2021), in TensorFlow:

    .. math::

        \\epsilon = \\frac{1}{k}\\Big(\\sum_{i=1}^{s}
        \\mathrm{Gamma}\\big(\\text{shape}=\\tfrac{1}{k}, \\text{rate}=\\tfrac{i}{k}\\big) - \\ln s\\Big)

    with ``s = num_terms``. The sum of ``k`` independent draws has mean
    ``H_s - ln s`` (``H_s`` the s-th harmonic number) and variance
    ``sum_{i<=s} 1/i**2``, and tends to Gumbel(0, 1) as ``s`` grows; top-k of
    ``theta + eps`` then samples the k-subset distribution ``p(z) ∝
    exp(<theta, z>)``. Since ``Gamma(1/k, rate i/k) = (k/i) Gamma(1/k, 1)``
    the draw is ``sum_i G_i / i - ln(s)/k`` with ``G_i ~ Gamma(1/k, 1)``:
    one Gamma draw of shape ``(s, *shape)``.

    **The original release's flaw, fixed here.** The Keras top-k layer of the
    original TensorFlow release drew the terms with
    ``tf.random.gamma(shape, 1.0/k, k/i)``, passing ``k/i`` as if it were a
    scale. The third argument of ``tf.random.gamma``, ``beta``, is a *rate*
    (inverse scale), so that drew ``Gamma(1/k, rate k/i)`` — mean ``i/k**2``
    instead of ``1/i`` — and the k-fold sum of ``eps`` was not close to
    Gumbel (for ``k = 5``, ``s = 10``: mean ``-0.10`` instead of ``0.63``,
    variance ``0.62`` instead of ``1.55``; for ``k = 1`` the mean is ``52.7``).
    Here the rate is ``i/k`` (``beta = i/k``, equivalently ``Gamma(1/k, 1) *
    k/i``), as in the paper; ``tests/test_tf.py`` checks the moments of the
    k-fold sum and that the flawed parametrisation fails the same check.

    Args:
        k: the number of terms whose sum is Gumbel (``> 0``, usually the
            number of ones in a solution).
        num_terms: ``s``, the truncation of the infinite series (``>= 1``).

    Example:
        >>> import tensorflow as tf
        >>> from imle_solvers.tf import SumOfGamma
        >>> eps = SumOfGamma(k=4).sample([50_000, 4], generator=tf.random.Generator.from_seed(0))
        >>> round(float(tf.reduce_mean(tf.reduce_sum(eps, -1))), 1)  # H_10 - ln 10 = 0.626...
        0.6
    """

    xla_compatible = False  # TensorFlow's Gamma samplers have no XLA kernel

    def __init__(self, k: float, num_terms: int = 10):
        self.k = _check_positive("SumOfGamma", "k", k)
        if isinstance(num_terms, bool) or not isinstance(num_terms, int) or num_terms < 1:
            raise InvalidInputError(f"SumOfGamma: expected num_terms to be a positive int, but found {num_terms!r}")
        self.num_terms = num_terms

    def sample(self, shape, *, generator: tf.random.Generator | None = None, dtype=tf.float32) -> tf.Tensor:
        """A draw of ``shape`` in ``dtype``."""
        work = _work_dtype(dtype)
        s = self.num_terms
        full_shape = tf.concat([[s], tf.cast(shape, tf.int32)], axis=0)
        gammas = _standard_gamma(1.0 / self.k, full_shape, generator, work)  # (s, *shape), rate 1
        inverse_i = 1.0 / tf.range(1, s + 1, dtype=work)  # (s,)
        eps = tf.tensordot(inverse_i, gammas, axes=1) - math.log(s) / self.k  # (*shape)
        return tf.cast(eps, dtype)

    def __repr__(self) -> str:
        return f"SumOfGamma(k={self.k}, num_terms={self.num_terms})"


def resolve_noise(owner: str, noise: Any) -> Any:
    """``"gumbel"`` -> :class:`Gumbel`; the torch-side :class:`imle_solvers.Gumbel` and
    :class:`imle_solvers.SumOfGamma` -> their TensorFlow twins (same parameters);
    ``None`` or an object with ``sample(shape, *, generator, dtype)`` as is."""
    check_instance(owner, "noise", noise)
    if type(noise).__module__.startswith("torch.distributions"):
        raise InvalidInputError(
            f"{owner}: a torch.distributions object cannot draw TensorFlow noise; use imle_solvers.tf.Gumbel(), "
            "imle_solvers.tf.SumOfGamma(k) or any object with sample(shape, *, generator, dtype) returning a tf.Tensor"
        )
    if isinstance(noise, str):
        if noise == "gumbel":
            return Gumbel()
        raise InvalidInputError(f"{owner}: expected noise 'gumbel', a noise object or None, but found {noise!r}")
    if noise is None or isinstance(noise, (Gumbel, SumOfGamma)):
        return noise
    if type(noise).__module__ == "imle_solvers.noise":  # the torch-side objects: same parameters, TF sampling
        name = type(noise).__name__
        if name == "Gumbel":
            return Gumbel(noise.scale)
        if name == "SumOfGamma":
            return SumOfGamma(noise.k, noise.num_terms)
        raise InvalidInputError(
            f"{owner}: {name} has no TensorFlow version; use imle_solvers.tf.Gumbel or imle_solvers.tf.SumOfGamma"
        )
    if not callable(getattr(noise, "sample", None)):
        raise InvalidInputError(
            f"{owner}: expected noise with a sample(shape, *, generator, dtype) method, or None, "
            f"but found {type(noise).__name__}"
        )
    return noise
