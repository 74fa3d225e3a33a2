"""Noise distributions for perturb-and-MAP: :class:`Gumbel`, :class:`SumOfGamma`, :class:`Normal`.

A noise object has one method, ``sample(shape, *, generator=None,
device=None, dtype=None)``, returning a tensor of ``shape`` drawn on
``device`` in ``dtype``; a ``torch.Generator`` (on that device) makes the
draw reproducible. Any object with that method works as noise (see
:class:`Noise`). Noises that :class:`~imle_solvers.PerturbedOptimizer` can use
also have ``neg_log_density_grad(z)``: the gradient of ``-log p(z)``, which
its Jacobian formula needs. A ``torch.distributions`` object passed as
noise is wrapped in :class:`DistributionNoise` (it cannot take a generator).

>>> import torch
>>> from imle_solvers import Gumbel, SumOfGamma
>>> generator = torch.Generator().manual_seed(0)
>>> Gumbel().sample((2, 3), generator=generator).shape
torch.Size([2, 3])
>>> SumOfGamma(k=3).sample((4,), generator=generator, dtype=torch.float64).dtype
torch.float64
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import torch

from ._checks import check_instance
from .errors import InvalidInputError

__all__ = ["Noise", "Gumbel", "SumOfGamma", "Normal", "DistributionNoise", "standard_gamma"]

_Shape = Sequence[int] | torch.Size


@runtime_checkable
class Noise(Protocol):
    """What an estimator needs of a noise distribution.

    ``sample(shape, *, generator=None, device=None, dtype=None)`` returns a
    tensor of ``shape`` on ``device`` (default CPU) in the floating ``dtype``
    (default ``torch.get_default_dtype()``), drawn from ``generator`` when one
    is given.

    >>> import torch
    >>> from imle_solvers.noise import Noise, Gumbel
    >>> class NoNoise:
    ...     def sample(self, shape, *, generator=None, device=None, dtype=None):
    ...         return torch.zeros(shape, device=device, dtype=dtype)
    >>> isinstance(NoNoise(), Noise), isinstance(Gumbel(), Noise)
    (True, True)
    """

    def sample(
        self,
        shape: _Shape,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> torch.Tensor: ...


def _resolve(dtype: torch.dtype | None, device) -> tuple[torch.dtype, torch.device]:
    dtype = torch.get_default_dtype() if dtype is None else dtype
    if not dtype.is_floating_point:
        raise InvalidInputError(f"noise: expected a floating dtype, but found {dtype}")
    return dtype, torch.device("cpu") if device is None else torch.device(device)


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    # half precision has too little range for logs of tiny uniforms
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def _check_positive(owner: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidInputError(f"{owner}: expected {name} to be a positive finite number, but found {value!r}")
    return float(value)


def _uniform_open(shape, generator, device, dtype) -> torch.Tensor:
    """Uniform on the open interval (0, 1): ``torch.rand`` can return 0."""
    u = torch.rand(shape, generator=generator, device=device, dtype=dtype)
    return u.clamp_(min=torch.finfo(dtype).tiny)


class Gumbel:
    """Gumbel(0, ``scale``) noise: ``-scale * log(-log U)`` with ``U ~ Uniform(0, 1)``.

    ``argmax_i (theta_i + G_i)`` with ``G_i ~ Gumbel(0, 1)`` is distributed
    as ``softmax(theta)`` (the Gumbel-max trick). Mean ``scale * 0.5772...``
    (Euler's constant), variance ``scale**2 * pi**2 / 6``.

    Args:
        scale: the scale of the distribution (``> 0``).

    Example:
        >>> import torch
        >>> from imle_solvers import Gumbel
        >>> z = Gumbel().sample((100_000,), generator=torch.Generator().manual_seed(0))
        >>> round(float(z.mean()), 1)
        0.6
    """

    def __init__(self, scale: float = 1.0):
        self.scale = _check_positive("Gumbel", "scale", scale)

    def sample(self, shape, *, generator=None, device=None, dtype=None) -> torch.Tensor:
        dtype, device = _resolve(dtype, device)
        work = _work_dtype(dtype)
        # -log(U) ~ Exp(1) is > 0 because U < 1; U > 0 by the clamp
        exponential = _uniform_open(shape, generator, device, work).log_().neg_()
        gumbel = exponential.log_().neg_() if self.scale == 1.0 else exponential.log_().mul_(-self.scale)
        return gumbel if gumbel.dtype == dtype else gumbel.to(dtype)

    def neg_log_density_grad(self, z: torch.Tensor) -> torch.Tensor:
        """``d/dz -log p(z) = (1 - exp(-z/scale)) / scale`` for the Gumbel density
        ``p(z) = exp(-z/scale - exp(-z/scale)) / scale``."""
        return -torch.expm1(-z / self.scale) / self.scale

    def __repr__(self) -> str:
        return f"Gumbel(scale={self.scale})"


class Normal:
    """Normal(0, ``scale``**2) noise, for :class:`~imle_solvers.PerturbedOptimizer`
    and :class:`~imle_solvers.FenchelYoungLoss` (Berthet et al. 2020).

    Example:
        >>> import torch
        >>> from imle_solvers import Normal
        >>> Normal(2.0).sample((3,), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([3])
    """

    def __init__(self, scale: float = 1.0):
        self.scale = _check_positive("Normal", "scale", scale)

    def sample(self, shape, *, generator=None, device=None, dtype=None) -> torch.Tensor:
        dtype, device = _resolve(dtype, device)
        return torch.randn(shape, generator=generator, device=device, dtype=dtype).mul_(self.scale)

    def neg_log_density_grad(self, z: torch.Tensor) -> torch.Tensor:
        """``d/dz -log p(z) = z / scale**2``."""
        return z / (self.scale * self.scale)

    def __repr__(self) -> str:
        return f"Normal(scale={self.scale})"


class DistributionNoise:
    """Noise drawn from any scalar ``torch.distributions.Distribution``.

    The estimators wrap a distribution passed as ``noise=`` in this class:
    ``IMLE(oracle, noise=torch.distributions.Gumbel(0.0, 1.0))``. Each entry
    of the noise tensor is an independent draw of the distribution, which must
    therefore have scalar batch and event shapes; its draws are cast to
    theta's dtype and moved to theta's device (a distribution whose parameters
    live on the CPU draws on the CPU: give it parameters on theta's device to
    avoid the copy). ``neg_log_density_grad`` (for
    :class:`~imle_solvers.PerturbedOptimizer`) is ``-d/dz log_prob(z)`` by
    autograd.

    ``torch.distributions`` draw from torch's global random state and take no
    ``torch.Generator``: an estimator given one together with such noise
    refuses it at construction. Seed with ``torch.manual_seed``, or use
    :class:`Gumbel`, :class:`SumOfGamma` or :class:`Normal`, which take a
    generator.

    Args:
        distribution: a ``torch.distributions.Distribution`` with
            ``batch_shape == event_shape == ()``.

    Example:
        >>> import torch
        >>> from imle_solvers import DistributionNoise
        >>> _ = torch.manual_seed(0)
        >>> noise = DistributionNoise(torch.distributions.Gumbel(0.0, 1.0))
        >>> z = noise.sample((100_000,), dtype=torch.float64)
        >>> z.dtype, round(float(z.mean()), 1)
        (torch.float64, 0.6)
    """

    #: an estimator refuses ``generator=`` with this noise
    accepts_generator = False

    def __init__(self, distribution: torch.distributions.Distribution):
        if isinstance(distribution, type):
            raise InvalidInputError(
                f"DistributionNoise: {distribution.__name__} is a class; pass an instance, e.g. "
                f"{distribution.__name__}(0.0, 1.0)"
            )
        if not isinstance(distribution, torch.distributions.Distribution):
            raise InvalidInputError(
                "DistributionNoise: expected a torch.distributions.Distribution, "
                f"but found {type(distribution).__name__}"
            )
        if tuple(distribution.batch_shape) or tuple(distribution.event_shape):
            raise InvalidInputError(
                f"DistributionNoise: expected a scalar distribution (batch_shape and event_shape ()), each noise "
                f"entry an independent draw, but found batch_shape {tuple(distribution.batch_shape)} and "
                f"event_shape {tuple(distribution.event_shape)}"
            )
        self.distribution = distribution

    def sample(self, shape, *, generator=None, device=None, dtype=None) -> torch.Tensor:
        if generator is not None:
            raise InvalidInputError(
                f"DistributionNoise({self.distribution!r}): torch.distributions draw from torch's global random state "
                "and cannot use a torch.Generator; seed with torch.manual_seed, or use imle_solvers.Gumbel(), "
                "SumOfGamma(k) or Normal(), which take one"
            )
        dtype, device = _resolve(dtype, device)
        draw = self.distribution.sample(tuple(shape))
        return draw.to(device=device, dtype=dtype)

    def neg_log_density_grad(self, z: torch.Tensor) -> torch.Tensor:
        """``-d/dz log p(z)``, by autograd through ``log_prob``."""
        with torch.enable_grad():
            point = z.detach().requires_grad_(True)
            (gradient,) = torch.autograd.grad(self.distribution.log_prob(point).sum(), point)
        return gradient.neg_().to(z.dtype)

    def __repr__(self) -> str:
        return f"DistributionNoise({self.distribution!r})"


def as_noise(owner: str, noise):
    """``noise`` as a noise object: a ``torch.distributions`` object wrapped
    in :class:`DistributionNoise`; a class refused (pass an instance)."""
    check_instance(owner, "noise", noise)
    if isinstance(noise, torch.distributions.Distribution):
        return DistributionNoise(noise)
    return noise


# Marsaglia-Tsang proposals accepted at least ~95% of the time for shape >= 1;
# on non-CPU devices this many rounds are drawn at once (no host sync) and the
# chance that one entry sees no acceptance is below 0.05**12 ~ 2e-16.
_DEVICE_ROUNDS = 12


def _marsaglia_tsang_round(d: float, c: float, normal: torch.Tensor, uniform: torch.Tensor):
    """One proposal round for Gamma(d + 1/3, 1): the candidate and whether it is accepted."""
    candidate, excess, accept = _marsaglia_tsang_excess(d, c, normal, uniform)
    return candidate, accept


def _marsaglia_tsang_excess(d: float, c: float, normal: torch.Tensor, uniform: torch.Tensor):
    """Proposals for Gamma(d + 1/3, 1): ``(candidate, log u - bound, accepted)``.

    The bound ``x^2/2 + d - d v + d log v`` is ``<= 0`` wherever ``v > 0``, so given acceptance
    ``exp(log u - bound)`` is a fresh Uniform(0, 1) independent of the candidate (the boost for shapes
    below 1 reuses it instead of drawing a third uniform).
    """
    v = (1.0 + c * normal).pow_(3)
    # log v for v <= 0 is never used: those proposals are rejected
    log_v = torch.log(v.clamp(min=torch.finfo(v.dtype).tiny))
    bound = log_v.sub_(v).add_(1.0).mul_(d).addcmul_(normal, normal, value=0.5)  # x^2/2 + d - d v + d log v
    excess = torch.log(uniform).sub_(bound)
    accept = (v > 0) & (excess < 0)
    return v.mul_(d), excess, accept


# A CPU draw of n entries makes n proposals plus this many spares (acceptance >= 0.95 for shape >= 1):
# the accepted proposals stay in place, the rejected places take the accepted spares in order.
_ACCEPTANCE_FLOOR = 0.95


def _spares(n: int) -> int:
    return math.ceil(n * (1.0 / _ACCEPTANCE_FLOOR - 1.0) + 3.0 * math.sqrt(n)) + 8


def _proposals(d, c, n, generator, device, dtype, boost):
    """``n`` proposals ``(candidate, accepted)``; with ``boost`` (= alpha < 1) the candidates are
    Gamma(alpha) draws ``Gamma(alpha + 1) * u'**(1/alpha)`` with the recycled uniform ``u'``."""
    normal = torch.randn(n, generator=generator, device=device, dtype=dtype)
    uniform = _uniform_open(n, generator, device, dtype)
    candidate, excess, accept = _marsaglia_tsang_excess(d, c, normal, uniform)
    if boost is not None:
        candidate.mul_(excess.div_(boost).exp_())  # (log u - bound) / alpha <= 0 where accepted: no overflow
    return candidate, accept


def _gamma_until_accepted(d, c, n, generator, device, dtype, boost=None) -> torch.Tensor:
    """Gamma draws from one batch of ``n`` proposals plus spares (see :func:`standard_gamma`)."""
    candidate, accept = _proposals(d, c, n + _spares(n), generator, device, dtype, boost)
    out = candidate[:n]
    todo = (~accept[:n]).nonzero().squeeze(1)  # a few per cent of the entries
    if todo.numel():
        spare = candidate[n:][accept[n:]]
        while spare.numel() < todo.numel():  # rare: more spares until there are enough
            missing = todo.numel() - spare.numel()
            more, more_accept = _proposals(d, c, missing + _spares(missing), generator, device, dtype, boost)
            spare = torch.cat([spare, more[more_accept]])
        out[todo] = spare[: todo.numel()]
    return out


def _gamma_fixed_rounds(d, c, n, generator, device, dtype, rounds: int = _DEVICE_ROUNDS) -> torch.Tensor:
    """Gamma(d + 1/3) draws from ``rounds`` proposals per entry drawn at once
    (no host sync); the first accepted proposal wins, else the last one."""
    normal = torch.randn((rounds, n), generator=generator, device=device, dtype=dtype)
    uniform = _uniform_open((rounds, n), generator, device, dtype)
    candidate, accept = _marsaglia_tsang_round(d, c, normal, uniform)  # (rounds, n)
    index = torch.arange(rounds, device=device).unsqueeze(1).expand(rounds, n)
    first = torch.where(accept, index, torch.full_like(index, rounds - 1)).amin(dim=0)  # (n,)
    return candidate.gather(0, first.unsqueeze(0)).squeeze(0)


def standard_gamma(
    concentration: float,
    shape: _Shape,
    *,
    generator: torch.Generator | None = None,
    device=None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Gamma(``concentration``, rate 1) draws that honour a ``torch.Generator``.

    ``torch.distributions.Gamma`` and ``torch._standard_gamma`` take no
    generator, so this implements Marsaglia and Tsang (2000): for shape
    ``a >= 1`` with ``d = a - 1/3``, ``c = 1/sqrt(9 d)``, propose
    ``d (1 + c x)**3`` with ``x ~ N(0, 1)`` and accept when
    ``log u < x**2/2 + d - d v + d log v``; for ``a < 1`` draw
    ``Gamma(a + 1) * U**(1/a)`` (tiny values underflow to 0, never nan). On
    the CPU one batch of proposals has about 5% spares: accepted proposals stay
    in place and the rejected places (about 4%) take the accepted spares in
    order, more being drawn in the rare case they run short -- exact, since
    each accepted proposal is an independent Gamma draw -- and ``U`` is the
    accepting uniform, recycled (given acceptance, ``u / exp(bound)`` is a
    fresh uniform). On other devices a fixed number of
    rounds is drawn at once so that nothing synchronises with the host; an
    entry rejected in all rounds (probability below 1e-15) keeps its last
    proposal.

    Example:
        >>> import torch
        >>> from imle_solvers.noise import standard_gamma
        >>> x = standard_gamma(0.5, (200_000,), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        >>> round(float(x.mean()), 2), round(float(x.var()), 1)
        (0.5, 0.5)
    """
    alpha = _check_positive("standard_gamma", "concentration", concentration)
    dtype, device = _resolve(dtype, device)
    work = _work_dtype(dtype)
    shape = tuple(shape)
    n = math.prod(shape)
    a = alpha + 1.0 if alpha < 1.0 else alpha
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    if device.type == "cpu":
        out = _gamma_until_accepted(d, c, n, generator, device, work, alpha if alpha < 1.0 else None)
    else:
        out = _gamma_fixed_rounds(d, c, n, generator, device, work)
        if alpha < 1.0:
            uniform = _uniform_open(n, generator, device, work)
            out = torch.exp(torch.log(out) + torch.log(uniform) / alpha)
    return out.reshape(shape).to(dtype)


class SumOfGamma:
    """Sum-of-Gamma noise (Niepert et al., I-MLE, NeurIPS 2021):

    .. math::

        \\epsilon = \\frac{1}{k}\\Big(\\sum_{i=1}^{s}
        \\mathrm{Gamma}\\big(\\tfrac{1}{k}, \\text{rate}=\\tfrac{i}{k}\\big) - \\ln s\\Big)

    with ``s = num_terms``. The sum of ``k`` independent draws has mean
    ``H_s - ln s`` (``H_s`` the s-th harmonic number) and variance
    ``sum_{i<=s} 1/i**2``, and tends to Gumbel(0, 1) as ``s`` grows: this is
    the noise that makes top-k of ``theta + eps`` a good sample of the
    k-subset distribution ``p(z) ∝ exp(<theta, z>)``. Use it for problems whose
    solutions have about ``k`` non-zero entries (k-subsets, paths of ~k
    cells).

    Because ``Gamma(1/k, rate=i/k) = (k/i) Gamma(1/k, 1)``, the draw is
    ``sum_i G_i / i - ln(s)/k`` with ``G_i ~ Gamma(1/k, 1)``: one Gamma draw of
    shape ``(s, *shape)``, no loop over terms.

    Note — the original TensorFlow release called ``tf.random.gamma(alpha=1/k,
    beta=k/i)``; ``beta`` is a *rate* there, so it drew Gamma(1/k, rate k/i)
    (mean ``i/k**2`` instead of ``1/i``). Here the rate is ``i/k`` as in the
    paper.

    Args:
        k: the number of terms whose sum is Gumbel (``> 0``, usually the
            number of ones in a solution).
        num_terms: ``s``, the truncation of the infinite series (``>= 1``).

    Example:
        >>> import torch
        >>> from imle_solvers import SumOfGamma
        >>> eps = SumOfGamma(k=4, num_terms=10).sample((50_000, 4), generator=torch.Generator().manual_seed(0))
        >>> round(float(eps.sum(-1).mean()), 1)  # H_10 - ln 10 = 0.626...
        0.6
    """

    def __init__(self, k: float, num_terms: int = 10):
        self.k = _check_positive("SumOfGamma", "k", k)
        if isinstance(num_terms, bool) or not isinstance(num_terms, int) or num_terms < 1:
            raise InvalidInputError(f"SumOfGamma: expected num_terms to be a positive int, but found {num_terms!r}")
        self.num_terms = num_terms

    def sample(self, shape, *, generator=None, device=None, dtype=None) -> torch.Tensor:
        dtype, device = _resolve(dtype, device)
        work = _work_dtype(dtype)
        shape = tuple(shape)
        s = self.num_terms
        gammas = standard_gamma(1.0 / self.k, (s, *shape), generator=generator, device=device, dtype=work)
        inverse_i = 1.0 / torch.arange(1, s + 1, device=device, dtype=work)  # (s,)
        weighted = gammas.reshape(s, -1) * inverse_i.unsqueeze(1)  # (s, prod(shape))
        eps = weighted.sum(0).sub_(math.log(s) / self.k)
        return eps.reshape(shape).to(dtype)

    def __repr__(self) -> str:
        return f"SumOfGamma(k={self.k}, num_terms={self.num_terms})"
