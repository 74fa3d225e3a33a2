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


# Marsaglia-Tsang proposals are accepted with probability >= 0.95 for every shape >= 1 (0.951 at shape 1,
# rising with the shape). A draw of n entries makes n proposals plus this many spares, enough to replace the
# rejected ones with a margin of about 13 standard deviations; when the spares run short, more are drawn.
_ACCEPTANCE_FLOOR = 0.95


# Shapes up to this one use the small-shape sampler below (:func:`_small_shape_acceptance`: 0.928 at 1/12, the
# shape of SumOfGamma(12); 0.841 at 0.2).
_SMALL_SHAPE = 0.2


def _spares(count: tf.Tensor, floor: Any = _ACCEPTANCE_FLOOR) -> tf.Tensor:
    """Spare proposals for ``count`` entries: ``count (1/p - 1) + 3 sqrt(count) + 8`` with ``p`` the sampler's
    acceptance probability (or a floor of it; a number or a scalar tensor)."""
    m = tf.cast(count, tf.float64)
    p = tf.cast(floor, tf.float64)
    return tf.cast(tf.math.ceil(m * (1.0 / p - 1.0) + 3.0 * tf.sqrt(m)), tf.int32) + 8


def _small_shape_acceptance(alpha: tf.Tensor) -> tf.Tensor:
    """The acceptance probability of :func:`_small_shape_proposals`: the target's mass ``Gamma(alpha + 1)``
    over the envelope's ``1 + w``."""
    return tf.exp(tf.math.lgamma(alpha + 1.0)) / (1.0 + alpha / (math.e * (1.0 - alpha)))


# SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014; the
# generator of Java's SplittableRandom, Vigna's splitmix64.c): the state advances by GOLDEN, and each output is
# mix(state). It passes BigCrush, and being a function of a counter (state i = i * GOLDEN from a start) it is
# plain integer arithmetic over all outputs at once, which XLA fuses with the proposals into one loop (XLA's own
# Philox is slow on the CPU; as TensorFlow ops, SplitMix64 takes about half the time of TensorFlow's Philox op).
_GOLDEN = 0x9E3779B97F4A7C15
_MIX = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)
_HIGH24_OF_EACH_HALF = 0x00FFFFFF00FFFFFF  # after a shift by 8: the top 24 bits of each 32-bit half


def _splitmix64(count: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """``count`` (a scalar integer tensor) SplitMix64 outputs (``uint64``) from the stateless seed pair ``seed``.

    The outputs ``mix(i * GOLDEN)`` for ``i = start, ..., start + count - 1``: the stream that starts in state
    ``(start - 1) * GOLDEN``, with ``start - 1`` the top 62 bits of ``seed[0] xor seed[1] * MIX1`` (pairs that
    differ in either half start apart; ``start + count`` stays within int64).
    """
    u64 = tf.uint64

    def const(value: int) -> tf.Tensor:
        return tf.constant(value, u64)

    mixed = tf.bitwise.bitwise_xor(tf.bitcast(seed[0], u64), tf.bitcast(seed[1], u64) * const(_MIX[0]))
    start = tf.bitcast(tf.bitwise.right_shift(mixed, const(2)), tf.int64) + 1
    z = tf.bitcast(tf.range(tf.cast(count, tf.int64), dtype=tf.int64) + start, u64) * const(_GOLDEN)
    z = tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, const(30))) * const(_MIX[0])
    z = tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, const(27))) * const(_MIX[1])
    return tf.bitwise.bitwise_xor(z, tf.bitwise.right_shift(z, const(31)))


def _uniform(count, seed, dtype) -> tf.Tensor:
    """``count`` (a scalar int32 tensor) Uniform[0, 1) draws from the stateless seed pair ``seed``.

    From SplitMix64 (:func:`_splitmix64`): in float32 two 24-bit uniforms per output (the top 24 bits of
    each 32-bit half: ``k / 2**24``, a finer grid than TensorFlow's own float32 uniforms, ``k / 2**23``), in
    float64 one 53-bit uniform per output. Like TensorFlow's uniforms they can be 0 and are never 1.
    """
    if dtype == tf.float64:
        bits = tf.bitwise.right_shift(_splitmix64(count, seed), tf.constant(11, tf.uint64))
        return tf.cast(tf.bitcast(bits, tf.int64), dtype) * (2.0**-53)
    z = _splitmix64((count + 1) // 2, seed)
    halves = tf.bitwise.bitwise_and(tf.bitwise.right_shift(z, tf.constant(8, tf.uint64)),
                                    tf.constant(_HIGH24_OF_EACH_HALF, tf.uint64))
    bits = tf.reshape(tf.bitcast(halves, tf.int32), [-1])[:count]  # (count,): each below 2**24, so non-negative
    return tf.cast(bits, dtype) * (2.0**-24)


def _normal_from_uniform(first: tf.Tensor, second: tf.Tensor) -> tf.Tensor:
    """``2 h`` standard normals from ``h`` open-interval uniforms ``first`` and ``h`` uniforms ``second``
    (Box-Muller, both outputs). TensorFlow's own normal sampler costs about three uniforms per draw on
    the CPU; this costs one."""
    radius = tf.sqrt(-2.0 * tf.math.log(first))
    angle = (2.0 * math.pi) * second
    return tf.concat([radius * tf.cos(angle), radius * tf.sin(angle)], axis=0)


def _marsaglia_tsang(x, log_u, d, c, inverse_alpha, boost: bool):
    """One Marsaglia-Tsang round for Gamma(d + 1/3) from normals ``x`` and log-uniforms ``log_u``.

    Returns ``(draw, accepted)``. With ``t = 1 + c x``, ``v = t**3``, the proposal
    ``d v`` is accepted when ``log u < x**2/2 + d - d v + 3 d log t`` (and ``t > 0``).
    That bound is ``<= 0`` for every ``t > 0`` (it is ``d f(t)`` with ``f`` concave,
    ``f(1) = f'(1) = 0``), so given acceptance ``u' = u / exp(bound)`` is a fresh
    Uniform(0, 1) independent of the draw: with ``boost`` the Gamma(alpha) draw
    ``d v * u'**(1/alpha)`` (alpha = d + 1/3 - 1) uses it instead of a third uniform
    (``exp`` of a very negative exponent underflows to 0, never nan).
    """
    t = 1.0 + c * x
    log_t = tf.math.log(tf.maximum(t, float(np.finfo(t.dtype.as_numpy_dtype).tiny)))  # used only where t > 0
    dv = d * (t * t * t)
    excess = log_u - 0.5 * x * x + dv - d * (1.0 + 3.0 * log_t)  # log u - bound
    accept = (t > 0) & (excess < 0)
    if boost:
        return dv * tf.exp(excess * inverse_alpha), accept
    return dv, accept


def _compiled(function):
    """``function`` compiled by XLA (``tf.function(jit_compile=True)``): the proposals' ~25 elementwise passes
    (the uniforms included) become one fused loop -- on the CPU about half the time of the same TensorFlow ops
    on one thread, and less than half with TensorFlow's default threads, which split every op across the cores
    (``benchmarks/tf_estimators.py``). XLA compiles once per proposal count (see :func:`_bucket`): about half a
    second the first time a count is seen."""
    return tf.function(function, jit_compile=True, autograph=False)


def _bucket(count: tf.Tensor) -> tf.Tensor:
    """``count`` rounded up to a multiple of ``2**(floor(log2 count) - 4)``: at most 6.25% more proposals (they
    only add spares), and 16 sizes per doubling for XLA to compile, however the batch size varies."""
    count = tf.maximum(tf.cast(count, tf.int32), 1)
    step = tf.bitwise.left_shift(1, tf.maximum(
        tf.cast(tf.math.floor(tf.math.log(tf.cast(count, tf.float64)) / math.log(2.0)), tf.int32) - 4, 0))
    return (count + step - 1) // step * step


def _proposals(count, seed, d, c, inverse_alpha, boost: bool, dtype, xla: bool = True):
    """At least ``count`` (a scalar int32 tensor) Marsaglia-Tsang proposals from a stateless ``seed``:
    ``(draw, accepted)`` (:func:`_bucket` sizes; one XLA-compiled kernel, or TensorFlow ops with ``xla=False``)."""
    kernel = _marsaglia_tsang_kernel if xla else _marsaglia_tsang_proposals
    return kernel(_bucket(count), seed, d, c, inverse_alpha, boost, dtype)


def _marsaglia_tsang_proposals(count, seed, d, c, inverse_alpha, boost: bool, dtype):
    h = (count + 1) // 2
    # 2h uniforms for Box-Muller (the first h go through a log), count for the acceptance test
    uniform = _uniform(2 * h + count, seed, dtype)
    tiny = float(np.finfo(dtype.as_numpy_dtype).tiny)  # open interval: no log(0)
    first, second, u = uniform[:h], uniform[h : 2 * h], uniform[2 * h :]
    x = _normal_from_uniform(tf.maximum(first, tiny), second)[:count]
    return _marsaglia_tsang(x, tf.math.log(tf.maximum(u, tiny)), d, c, inverse_alpha, boost)


_marsaglia_tsang_kernel = _compiled(_marsaglia_tsang_proposals)


def _small_shape_proposals(count, seed, alpha, dtype, xla: bool = True):
    """At least ``count`` (a scalar int32 tensor) proposals ``(draw, accepted)`` for Gamma(``alpha``),
    ``alpha <= 0.2`` (:func:`_bucket` sizes; see :func:`_small_shape_math`; one XLA-compiled kernel, or
    TensorFlow ops with ``xla=False``)."""
    kernel = _small_shape_kernel if xla else _small_shape_math
    return kernel(_bucket(count), seed, alpha, dtype)


def _small_shape_math(count, seed, alpha, dtype):
    """``count`` proposals ``(draw, accepted)`` for Gamma(``alpha``), ``alpha <= 0.2``.

    Liu, Martin and Syring (2017), "Simulating from a gamma distribution with small shape
    parameter": ``Z = -alpha log X`` has density ``exp(-z - exp(-z / alpha)) / Gamma(alpha + 1)``,
    under the envelope ``exp(-z)`` for ``z >= 0`` and ``w lam exp(lam z)`` for ``z < 0``
    (``lam = 1/alpha - 1``, ``w = alpha / (e (1 - alpha))``, so that ``w lam = 1/e`` and the
    envelope touches at ``z = 0``). A proposal takes the first branch with probability
    ``r = 1 / (1 + w)``; one uniform ``u`` picks the branch (``t = u / r <= 1``) and, rescaled, draws
    from it (``t``, or ``(t - 1) r / (1 - r)``, uniform on the branch), a second ``v`` accepts. In
    ``y = log X = -z / alpha`` the acceptance is ``log v < -e**y`` on the first branch and
    ``log v < 1 + y - e**y`` on the second. Two uniforms, two logs and one exp per proposal, and no
    normal; acceptance 0.93 at shape 1/12, 0.84 at 0.2. Exact: an accepted proposal is a
    Gamma(``alpha``) draw.
    """
    w = alpha / (math.e * (1.0 - alpha))
    r = 1.0 / (1.0 + w)
    # two streams (with two or more inter-op threads TensorFlow runs the ops of the two side by side when they are
    # not compiled): the second seed differs in bit 62 of seed[0], so its stream starts 2**60 outputs away
    u = _uniform(count, seed, dtype)
    v = _uniform(count, tf.stack([tf.bitwise.bitwise_xor(seed[0], tf.constant(1 << 62, tf.int64)), seed[1]]), dtype)
    t = u * (1.0 / r)
    first = t <= 1.0
    # Exp(1) for z >= 0 from t, Exp(lam) for z < 0 from (t - 1) r / (1 - r); in y = log X both are one log
    branch_uniform = tf.where(first, t, (t - 1.0) * (r / (1.0 - r)))
    y = tf.math.xlogy(tf.where(first, 1.0 / alpha, -1.0 / (1.0 - alpha)), branch_uniform)
    x = tf.exp(y)  # underflows to 0 for the tiniest draws, as Gamma(alpha) draws below the float range do
    log_ratio = tf.where(first, tf.constant(0.0, dtype), 1.0 + y) - x  # log(target / envelope) <= 0
    return x, tf.math.log(v) < log_ratio


_small_shape_kernel = _compiled(_small_shape_math)


def _proposer(alpha, method: str, dtype, xla: bool):
    """``(propose, floor)``: ``propose(count, seed) -> (draw, accepted)`` for ``method`` (see :func:`_gamma_graph`)
    and a floor of its acceptance probability."""
    if method == "small":
        return ((lambda count, seed: _small_shape_proposals(count, seed, alpha, dtype, xla)),
                _small_shape_acceptance(alpha))
    boost = method == "boost"
    a = alpha + 1.0 if boost else alpha
    d = a - 1.0 / 3.0
    c = 1.0 / tf.sqrt(9.0 * d)
    inverse_alpha = 1.0 / alpha
    return (lambda count, seed: _proposals(count, seed, d, c, inverse_alpha, boost, dtype, xla)), _ACCEPTANCE_FLOOR


def _draw(alpha, n, places, seed, method: str, dtype, xla: bool):
    """``n`` places of Gamma(``alpha``) proposals, and spares for the rejected ones:
    ``(draw, accepted, rejected, spare)``.

    One batch of ``n + spares`` independent proposals from the first half of ``seed``: ``draw`` (``(n,)``)
    and ``accepted`` (reshaped to ``places``) are the first ``n``; ``rejected`` the indices of the rejected
    places (``tf.where`` on ``places``, in place order); ``spare`` one accepted spare per rejected place, in
    order -- the accepted ones among the rest, topped up from the second half of ``seed`` in the rare case
    they run short (see :data:`_ACCEPTANCE_FLOOR` and :func:`_spares`). Each accepted proposal is an exact
    Gamma draw, independent of the other proposals and of which of them were accepted, so the spares in order
    for the rejected places give every place an independent Gamma(``alpha``) draw -- the same distribution as
    redrawing each rejected place until accepted.
    """
    propose, floor = _proposer(alpha, method, dtype, xla)
    first_seed, loop_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    draw, accept = propose(n + _spares(n, floor), first_seed)
    accepted = tf.reshape(accept[:n], places)
    rejected = tf.where(~accepted)
    missing = tf.shape(rejected, out_type=tf.int32)[0]
    spare = tf.boolean_mask(draw[n:], accept[n:])

    def short(spare, seed):
        return tf.size(spare) < missing

    def more(spare, seed):
        this, next_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        count = missing - tf.size(spare)
        candidate, candidate_accepted = propose(count + _spares(count, floor), this)
        return tf.concat([spare, tf.boolean_mask(candidate, candidate_accepted)], axis=0), next_seed

    def loop():
        return tf.while_loop(short, more, (spare, loop_seed),
                             shape_invariants=(tf.TensorShape([None]), loop_seed.shape))[0]

    # the loop behind a cond: a while loop costs its setup on every call, a cond next to nothing
    spare = tf.cond(short(spare, loop_seed), loop, lambda: spare)
    return draw[:n], accepted, rejected, spare[:missing]


def _gamma_graph(alpha, shape, seed, method: str, dtype, xla: bool = True):
    """Gamma(``alpha``) draws of ``shape``: the body of the compiled sampler (see :func:`_standard_gamma`).

    ``method``: ``"small"`` (:func:`_small_shape_proposals`, shapes up to 0.2), ``"boost"``
    (Marsaglia-Tsang for ``alpha + 1``, boosted; other shapes below 1) or ``"mt"`` (Marsaglia-Tsang).
    The accepted proposals stay where they are; the rejected places (about 4%; 7-16% for ``"small"``)
    take the accepted spares in order (:func:`_draw`).
    """
    n = tf.reduce_prod(shape)
    draw, _, rejected, spare = _draw(alpha, n, tf.reshape(n, [1]), seed, method, dtype, xla)
    return tf.reshape(tf.tensor_scatter_nd_update(draw, rejected, spare), shape)


def _sum_of_gamma_graph(alpha, num_terms, shape, seed, method: str, dtype, xla: bool = True):
    """``sum_i G_i / i - alpha ln(num_terms)`` of ``shape``, ``G_i ~ Gamma(alpha)``: the body of the compiled
    sum-of-gamma sampler.

    The same draws as :func:`_gamma_graph` of shape ``(num_terms, *shape)`` (same seed, same fill), summed
    without filling them in: the accepted proposals go through one weighted sum, and each rejected place
    ``(i, j)`` adds its spare, times ``1 / i``, to entry ``j`` (a segment sum over the rejected places, about
    7% of them) -- no copy of the whole draw to scatter into.
    """
    size = tf.reduce_prod(shape)
    places = tf.stack([num_terms, size])
    draw, accepted, rejected, spare = _draw(alpha, num_terms * size, places, seed, method, dtype, xla)
    inverse_i = 1.0 / tf.range(1, num_terms + 1, dtype=dtype)  # (s,)
    kept = tf.where(accepted, tf.reshape(draw, places), tf.zeros((), dtype))
    eps = tf.linalg.matvec(kept, inverse_i, transpose_a=True)  # (size,)
    weight = 1.0 / (tf.cast(rejected[:, 0], dtype) + 1.0)  # rejected: (m, 2), term i - 1 and entry j
    eps += tf.math.unsorted_segment_sum(spare * weight, rejected[:, 1], size)
    return tf.reshape(eps - alpha * tf.math.log(tf.cast(num_terms, dtype)), shape)


def _make_sampler(kind: str, method: str, dtype: tf.DType, xla: bool = True):
    """A ``tf.function`` (traced once per ``kind``, ``method``, ``dtype``, ``xla``; any shape and concentration
    of the method's range; ``xla``: the proposals from one XLA-compiled kernel, else TensorFlow ops):
    ``"gamma"``: ``(alpha, shape, seed) -> Gamma(alpha)`` draws; ``"sum_of_gamma"``: ``(alpha,
    num_terms, shape, seed) -> sum_i G_i / i - alpha ln(num_terms)`` with ``G_i ~ Gamma(alpha)``."""
    scalar, vector, seed_spec = tf.TensorSpec([], dtype), tf.TensorSpec([None], tf.int32), tf.TensorSpec([2], tf.int64)
    if kind == "gamma":
        @tf.function(input_signature=[scalar, vector, seed_spec], autograph=False)
        def gamma(alpha, shape, seed):
            return _gamma_graph(alpha, shape, seed, method, dtype, xla)

        return gamma

    @tf.function(input_signature=[scalar, tf.TensorSpec([], tf.int32), vector, seed_spec], autograph=False)
    def sum_of_gamma(alpha, num_terms, shape, seed):
        return _sum_of_gamma_graph(alpha, num_terms, shape, seed, method, dtype, xla)

    return sum_of_gamma


_SAMPLERS: dict = {}


def _method(concentration: float) -> str:
    if concentration <= _SMALL_SHAPE:
        return "small"
    return "boost" if concentration < 1.0 else "mt"


def _sampler(kind: str, concentration: float, dtype: tf.DType, xla: bool = True):
    key = (kind, _method(concentration), dtype.name, xla)
    if key not in _SAMPLERS:
        _SAMPLERS[key] = _make_sampler(kind, key[1], dtype, xla)
    return _SAMPLERS[key]


def _seed(generator) -> tf.Tensor:
    """A stateless seed pair: from ``generator`` when given, else from TensorFlow's global random ops
    (so that ``tf.random.set_seed`` makes the draws reproducible)."""
    if generator is None:
        return tf.random.uniform([2], minval=tf.int64.min, maxval=tf.int64.max, dtype=tf.int64)
    return generator.uniform_full_int([2], dtype=tf.int64)


def _shape_vector(shape) -> tf.Tensor:
    return tf.cast(tf.reshape(shape, [-1]), tf.int32)


def _standard_gamma(concentration: float, shape, generator, dtype, xla: bool = True) -> tf.Tensor:
    """Gamma(``concentration``, rate 1) draws of ``shape`` in ``dtype`` (float32 or float64).

    Marsaglia and Tsang (2000) in TensorFlow ops, exact in distribution: for shape
    ``a >= 1``, ``d = a - 1/3``, ``c = 1/sqrt(9 d)``, propose ``d (1 + c x)**3`` with
    ``x ~ N(0, 1)`` and accept when ``log u < x**2/2 + d - d v + d log v``; the
    rejected places take accepted spare proposals (:func:`_gamma_graph`). For ``0.2 < a < 1``:
    ``Gamma(a + 1) * U**(1/a)``, with ``U`` recycled from the accepting uniform (see
    :func:`_marsaglia_tsang`). Normals by Box-Muller from uniforms. For ``a <= 0.2`` (the
    ``Gamma(1/k)`` terms of ``SumOfGamma(k)`` for ``k >= 5``): Liu, Martin and Syring's
    small-shape sampler (:func:`_small_shape_proposals`), about 4% faster for ``SumOfGamma(12)``. All random
    numbers come from SplitMix64 (:func:`_uniform`) under one stateless seed pair (:func:`_seed`); the
    proposals are one XLA-compiled kernel (:func:`_compiled`; ``xla=False``: TensorFlow ops).
    ``tf.random.gamma`` is about five times slower on the CPU (see
    ``benchmarks/tf_estimators.py``).
    """
    return _sampler("gamma", concentration, dtype, xla)(tf.constant(concentration, dtype), _shape_vector(shape),
                                                        _seed(generator))


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
        xla: draw the Gamma proposals with one XLA-compiled kernel (default: on
            the CPU about half the time of the same TensorFlow ops, see
            ``docs/tensorflow.md``; XLA compiles once per proposal count,
            about half a second the first time). ``False``: TensorFlow ops,
            for a device or build without XLA. Both draw the same
            distribution from the same stream, equal up to the last bits of
            ``log`` and ``exp``.

    Example:
        >>> import tensorflow as tf
        >>> from imle_solvers.tf import SumOfGamma
        >>> eps = SumOfGamma(k=4).sample([50_000, 4], generator=tf.random.Generator.from_seed(0))
        >>> round(float(tf.reduce_mean(tf.reduce_sum(eps, -1))), 1)  # H_10 - ln 10 = 0.626...
        0.6
    """

    xla_compatible = False  # the rejection loop's shapes depend on the draws: no XLA

    def __init__(self, k: float, num_terms: int = 10, *, xla: bool = True):
        self.k = _check_positive("SumOfGamma", "k", k)
        if isinstance(num_terms, bool) or not isinstance(num_terms, int) or num_terms < 1:
            raise InvalidInputError(f"SumOfGamma: expected num_terms to be a positive int, but found {num_terms!r}")
        if not isinstance(xla, bool):
            raise InvalidInputError(f"SumOfGamma: expected xla to be True or False, but found {xla!r}")
        self.num_terms = num_terms
        self.xla = xla

    def sample(self, shape, *, generator: tf.random.Generator | None = None, dtype=tf.float32) -> tf.Tensor:
        """A draw of ``shape`` in ``dtype``."""
        work = _work_dtype(dtype)
        eps = _sampler("sum_of_gamma", 1.0 / self.k, work, self.xla)(
            tf.constant(1.0 / self.k, work), tf.constant(self.num_terms, tf.int32), _shape_vector(shape),
            _seed(generator),
        )
        return eps if work == tf.as_dtype(dtype) else tf.cast(eps, dtype)

    def __repr__(self) -> str:
        xla = "" if self.xla else ", xla=False"
        return f"SumOfGamma(k={self.k}, num_terms={self.num_terms}{xla})"


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
