"""Implicit Maximum Likelihood Estimation: :class:`IMLE` and :func:`imle`.

Niepert, Minervini, Franceschi. Implicit MLE: Backpropagating Through
Discrete Exponential Family Distributions. NeurIPS 2021 (arXiv 2106.01798);
with :class:`~imle_solvers.AdaptiveTarget`, Minervini, Franceschi, Niepert.
Adaptive Perturbation-Based Gradient Estimation for Discrete Latent Variable
Models. AAAI 2023 (arXiv 2209.04862).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from .._checks import TARGET_OPTIONS
from ..errors import InvalidInputError
from ..noise import Gumbel, as_noise
from ..targets import PerturbedTarget
from ._common import (
    NegativeCosts,
    OracleCall,
    check_generator,
    check_instance,
    check_num_samples,
    check_number,
    check_reduction,
    check_theta,
    refuse_unknown_options,
)

__all__ = ["IMLE", "imle"]


class _Plan:
    """Everything the autograd function needs besides tensors."""

    __slots__ = ("call", "target", "num_samples", "target_temperature", "reduction", "keys")

    def __init__(self, call, target, num_samples, target_temperature, reduction, keys):
        self.call = call
        self.target = target
        self.num_samples = num_samples
        self.target_temperature = target_temperature
        self.reduction = reduction
        self.keys = keys


class _IMLEFunction(torch.autograd.Function):
    """Forward: ``z_s = MAP(scores + tau eps_s)``; backward: the I-MLE estimate.

    ``scaled_noise`` is ``None`` (no noise) or ``tau * eps`` of shape
    ``(S, *theta.shape)``; ``noise`` is the unscaled ``eps``, reused in the
    target with the target temperature.
    """

    @staticmethod
    def forward(ctx, theta, scaled_noise, noise, plan: _Plan, *data_values):
        call = plan.call
        if scaled_noise is None:
            z = call.solve_input(theta.unsqueeze(0), 1)  # (1, *batch, *event); all samples alike
        elif call.sign > 0:
            z = call.solve_input(theta.unsqueeze(0) + scaled_noise, 1, fresh=True)  # (S, *batch, *event)
        else:  # costs w: the scores -w perturbed, -(-w + tau eps) = w - tau eps
            z = call.solve_input(theta.unsqueeze(0) - scaled_noise, 1, fresh=True)
        ctx.save_for_backward(theta, noise, z)
        ctx.plan = plan
        if plan.reduction == "mean":
            return z[0] if z.shape[0] == 1 else z.mean(0)
        if z.shape[0] != plan.num_samples:
            return z.expand(plan.num_samples, *z.shape[1:]).clone()
        return z

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        plan = ctx.plan
        if not ctx.needs_input_grad[0]:
            return (None,) * (4 + len(plan.keys))  # theta, scaled noise, noise, plan, *data
        theta, noise, z = ctx.saved_tensors
        call = plan.call
        scores = theta if call.sign > 0 else -theta
        if plan.reduction == "mean":
            grad = grad_output.unsqueeze(0)  # (1, *batch, *event), shared by the samples
        else:
            # the gradient of the per-sample loss when the loss averages over samples
            grad = grad_output * plan.num_samples  # (S, *batch, *event)
        target_noise = None
        if noise is not None and plan.target_temperature != 0.0:
            target_noise = noise if plan.target_temperature == 1.0 else plan.target_temperature * noise
        # perturbed target parameters, target noise included: (T, S or 1, *batch, *event)
        thetas, lam = plan.target.targets(scores, grad, call.event_ndim, target_noise)
        target_z = call.solve(thetas, 2, fresh=True)  # one oracle call for every sample and side
        # the difference in the user's terms: score space for "max", negated for "min" (costs)
        if getattr(plan.target, "symmetric", False):
            plus, minus = target_z[0], target_z[1]  # z(theta + lam g), z(theta - lam g)
            difference = plus - minus if call.sign > 0 else minus - plus
            scale = 2 * lam
        else:
            difference = z - target_z[0] if call.sign > 0 else target_z[0] - z  # the forward z is reused
            scale = lam
        update = getattr(plan.target, "update", None)
        if update is not None:
            update(difference, call.event_ndim)
        estimate = difference.div_(scale)  # (S, *batch, *event)
        grad_theta = estimate.mean(0) if estimate.shape[0] > 1 else estimate[0]
        if grad_theta.shape != theta.shape:  # a sample dimension of 1 broadcast against theta's
            grad_theta = grad_theta.expand(theta.shape)
        return (grad_theta.to(theta.dtype), None, None, *([None] * (1 + len(plan.keys))))


_OPTIONS = ("noise", "target", "num_samples", "noise_temperature", "target_temperature", "reduction", "generator",
            "noiseless_eval", "negative")


def _check_target(target: Any) -> Any:
    check_instance("IMLE", "target", target)
    if not callable(getattr(target, "targets", None)):
        raise InvalidInputError(
            f"IMLE: expected a target with a targets(theta, grad, event_ndim, noise) method (PerturbedTarget, "
            f"AdaptiveTarget), but found {type(target).__name__}"
        )
    return target


def _resolve_noise(noise: Any) -> Any:
    if isinstance(noise, str):
        if noise == "gumbel":
            return Gumbel()
        raise InvalidInputError(f"IMLE: expected noise 'gumbel', a noise object or None, but found {noise!r}")
    noise = as_noise("IMLE", noise)  # a class is refused, a torch distribution wrapped
    if noise is not None and not callable(getattr(noise, "sample", None)):
        raise InvalidInputError(
            f"IMLE: expected noise with a sample(shape, *, generator, device, dtype) method, or None, "
            f"but found {type(noise).__name__}"
        )
    return noise


def _apply(
    theta: torch.Tensor,
    oracle: Any,
    data: dict[str, Any],
    *,
    noise: Any,
    target: Any,
    num_samples: int,
    noise_temperature: float,
    target_temperature: float,
    reduction: str,
    generator: torch.Generator | None,
    negative: NegativeCosts,
) -> torch.Tensor:
    call = OracleCall("IMLE", oracle, data)
    check_theta("IMLE", theta, call.event_ndim)
    negative.check(theta, call)
    if noise is None or noise_temperature == 0.0:
        unit, scaled = None, None
    else:
        shape = (num_samples, *theta.shape)
        unit = noise.sample(shape, generator=generator, device=theta.device, dtype=theta.dtype)
        if unit.shape != shape:
            raise InvalidInputError(f"IMLE: noise.sample returned shape {tuple(unit.shape)}, expected {shape}")
        unit = unit.to(device=theta.device, dtype=theta.dtype)
        scaled = unit if noise_temperature == 1.0 else noise_temperature * unit
    keys = tuple(data)
    plan = _Plan(call, target, num_samples, target_temperature, reduction, keys)
    return _IMLEFunction.apply(theta, scaled, unit, plan, *data.values())


class IMLE(nn.Module):
    """Make a MAP oracle differentiable with Implicit MLE.

    For a max-sense oracle (``z = argmax <theta, z>``), with noise ``eps_s``
    (``s = 1..S``), temperatures ``tau`` (noise) and ``tau_t`` (target) and a
    target such as ``PerturbedTarget(lambda_, alpha)``:

    * forward: ``z_s = MAP(theta + tau eps_s)``; the output is
      ``mean_s z_s`` (``reduction="mean"``, shape ``(*batch, *event)``) or
      the samples (``reduction="none"``, shape ``(S, *batch, *event)``, the
      sample dimension first as in ``torch.distributions``).
    * backward, with ``g = dL/dz``: ``theta'_s = alpha theta - lambda_ g`` and
      ``dL/dtheta = mean_s (z_s - MAP(theta'_s + tau_t eps_s)) / lambda_`` —
      the same ``eps_s`` reused, the forward ``z_s`` reused, every sample (and
      both sides of a symmetric target) solved in one batched oracle call.
      With ``reduction="none"``, sample ``s`` uses ``g = S * dL/dz_s``: the
      gradient of its own loss when the total loss is the mean over samples,
      so both reductions agree for the same loss.

    A min-sense oracle (costs ``w``, ``z = argmin <w, z>``) is handled as the
    max-sense oracle on scores ``theta = -w``: the perturbed costs are
    ``w - tau eps``, the target costs ``alpha w + lambda_ g - tau_t eps``, and
    the gradient returned for ``w`` is ``-dL/dtheta``.

    Negative costs: for oracles with ``nonnegative=True`` (Dijkstra) the
    perturbed costs of the forward and target calls are clamped at zero (noise
    and the target shift can push a few below zero; a direct oracle call with
    negative costs is refused). Negative costs *predicted by the model* are
    another matter — clamped, they make cells free, paths tie and gradients
    vanish — so ``theta`` itself is checked first: ``negative="warn"``
    (default) warns once per layer with the share of negative entries and the
    remedy (end the cost head with softplus or exp) and clamps,
    ``negative="raise"`` raises :class:`~imle_solvers.InvalidInputError`
    naming the batch index, ``negative="clamp"`` clamps silently.

    Noise: the default ``"gumbel"`` means ``Gumbel()``, perturb-and-MAP's noise for
    one-hot-like problems, cheap to draw. For k-subsets and other problems
    whose solutions have about ``k`` ones, :class:`~imle_solvers.SumOfGamma`
    ``(k)`` is the paper's choice. ``noise=None`` or
    ``noise_temperature=0`` turns noise off (``num_samples`` copies of the
    noiseless MAP; one oracle call).

    Eval mode: with ``noiseless_eval=True`` (default) a module in eval mode
    returns the noiseless MAP solution ``MAP(theta)`` — what the original
    I-MLE layers returned at inference — repeated ``num_samples`` times for
    ``reduction="none"`` so that shapes do not change. Gradients still flow
    (with no noise; an :class:`~imle_solvers.AdaptiveTarget` does not adapt in
    eval mode).

    Args:
        oracle: any :class:`~imle_solvers.Oracle` (anything callable with
            ``sense`` and ``event_ndim``); solutions must have theta's shape.
        noise: an object with ``sample(shape, *, generator, device, dtype)``,
            a ``torch.distributions`` object (wrapped in
            :class:`~imle_solvers.DistributionNoise`; it cannot be combined
            with ``generator``), or ``None``. Pass an instance, not a class.
        target: :class:`~imle_solvers.PerturbedTarget` (default
            ``PerturbedTarget()``: ``lambda_=10``, ``alpha=1``),
            :class:`~imle_solvers.AdaptiveTarget` (AIMLE), or any object with
            ``targets``/``update`` (see :mod:`imle_solvers.targets`). A target
            that is an ``nn.Module`` becomes a submodule (its state is in this
            module's ``state_dict``).
        num_samples: ``S``, noise samples per instance.
        noise_temperature: ``tau``.
        target_temperature: ``tau_t``.
        reduction: ``"mean"`` or ``"none"``.
        generator: a ``torch.Generator`` on theta's device for the noise.
        noiseless_eval: return ``MAP(theta)`` in eval mode.
        negative: ``"warn"``, ``"raise"`` or ``"clamp"``: what to do with
            negative entries of ``theta`` for a ``nonnegative`` oracle (above).

    Options that belong to the target are refused with a pointer to it:
    ``IMLE(oracle, lambda_=5)`` says to pass ``target=PerturbedTarget(lambda_=5)``.

    Call as ``imle_layer(theta, **instance_data)``; instance data (e.g.
    knapsack weights) is passed to the oracle, repeated over the samples, and
    gets no gradient.

    Example:
        >>> import torch
        >>> from imle_solvers import IMLE, SumOfGamma, get_oracle
        >>> layer = IMLE(get_oracle("topk", k=2), noise=SumOfGamma(k=2), generator=torch.Generator().manual_seed(0))
        >>> theta = torch.tensor([[0.1, 2.0, -1.0, 1.5]], requires_grad=True)
        >>> z = layer(theta)
        >>> z.shape, float(z.detach().sum())
        (torch.Size([1, 4]), 2.0)
        >>> loss = (z * torch.tensor([[0.0, 0.0, -1.0, 0.0]])).sum()  # reward picking item 2
        >>> loss.backward()
        >>> bool(theta.grad[0, 2] < 0)  # descending the loss raises theta[2]
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
        generator: torch.Generator | None = None,
        noiseless_eval: bool = True,
        negative: str = "warn",
        **unknown: Any,
    ):
        refuse_unknown_options("IMLE", unknown, _OPTIONS)
        super().__init__()
        OracleCall("IMLE", oracle, {})  # validates the oracle's sense early
        self.oracle = oracle
        self.noise = _resolve_noise(noise)
        check_generator("IMLE", self.noise, generator)
        self.target = _check_target(PerturbedTarget() if target is None else target)
        self.num_samples = check_num_samples("IMLE", num_samples)
        self.noise_temperature = check_number("IMLE", "noise_temperature", noise_temperature)
        self.target_temperature = check_number("IMLE", "target_temperature", target_temperature)
        self.reduction = check_reduction("IMLE", reduction)
        self.generator = generator
        self.noiseless_eval = bool(noiseless_eval)
        self._negative = NegativeCosts("IMLE", negative)  # once-per-layer warning state

    def forward(self, theta: torch.Tensor, **instance_data: Any) -> torch.Tensor:
        """Solutions ``(*batch, *event)`` or ``(S, *batch, *event)``; see the class docs."""
        if not self.training and self.noiseless_eval:
            z = _apply(
                theta, self.oracle, instance_data, noise=None, target=self.target, num_samples=1,
                noise_temperature=0.0, target_temperature=0.0, reduction="mean", generator=None,
                negative=self._negative,
            )
            if self.reduction == "none":
                return z.unsqueeze(0).expand(self.num_samples, *z.shape)
            return z
        return _apply(
            theta, self.oracle, instance_data, noise=self.noise, target=self.target,
            num_samples=self.num_samples, noise_temperature=self.noise_temperature,
            target_temperature=self.target_temperature, reduction=self.reduction, generator=self.generator,
            negative=self._negative,
        )

    def extra_repr(self) -> str:
        # a target that is an nn.Module (AdaptiveTarget) prints as the child "(target): ..." with its beta
        target = "" if isinstance(self.target, nn.Module) else f"target={self.target!r}, "
        return (
            f"oracle={self.oracle!r}, {target}noise={self.noise!r}, num_samples={self.num_samples}, "
            f"noise_temperature={self.noise_temperature}, target_temperature={self.target_temperature}, "
            f"reduction={self.reduction!r}{self._negative.repr_suffix()}"
        )


def imle(
    theta: torch.Tensor,
    oracle: Any,
    *,
    noise: Any = "gumbel",
    target: Any = None,
    num_samples: int = 1,
    noise_temperature: float = 1.0,
    target_temperature: float = 1.0,
    reduction: str = "mean",
    generator: torch.Generator | None = None,
    negative: str = "warn",
    **instance_data: Any,
) -> torch.Tensor:
    """The function form of :class:`IMLE`: ``imle(theta, oracle, **options, **instance_data)``.

    Same options and maths as :class:`IMLE` (always in training behaviour: noise
    on; ``negative="warn"`` warns on every call whose theta has negative costs,
    as far as Python's warning filter lets it). A stateful target (:class:`~imle_solvers.AdaptiveTarget`) keeps its
    state in the object you pass, so pass the same object on every call.

    Example:
        >>> import torch
        >>> from imle_solvers import imle, get_oracle
        >>> theta = torch.zeros(3, 5, requires_grad=True)
        >>> z = imle(theta, get_oracle("onehot"), num_samples=4, reduction="none")
        >>> z.shape
        torch.Size([4, 3, 5])
    """
    accepted_data = getattr(oracle, "instance_data", {}) or {}
    refuse_unknown_options("imle", {key: value for key, value in instance_data.items()
                                    if key in TARGET_OPTIONS and key not in accepted_data}, _OPTIONS)
    noise = _resolve_noise(noise)
    check_generator("IMLE", noise, generator)
    target = _check_target(PerturbedTarget() if target is None else target)
    return _apply(
        theta, oracle, instance_data, noise=noise, target=target,
        num_samples=check_num_samples("IMLE", num_samples),
        noise_temperature=check_number("IMLE", "noise_temperature", noise_temperature),
        target_temperature=check_number("IMLE", "target_temperature", target_temperature),
        reduction=check_reduction("IMLE", reduction), generator=generator, negative=NegativeCosts("IMLE", negative),
    )
