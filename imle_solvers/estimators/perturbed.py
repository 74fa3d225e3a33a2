"""Perturbed optimizers and the Fenchel-Young loss: :class:`PerturbedOptimizer`, :class:`FenchelYoungLoss`.

Berthet, Blondel, Teboul, Cuturi, Vert, Bach. Learning with Differentiable
Perturbed Optimizers. NeurIPS 2020 (arXiv 2002.08676).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from ..errors import InvalidInputError
from ..noise import Normal, as_noise
from ._common import (
    NegativeCosts,
    OracleCall,
    check_generator,
    check_num_samples,
    check_number,
    check_reduction,
    check_theta,
)

__all__ = ["PerturbedOptimizer", "FenchelYoungLoss"]


def _check_noise(owner: str, noise: Any, *, needs_density: bool) -> Any:
    if noise is None:
        return Normal()
    noise = as_noise(owner, noise)  # a class is refused, a torch distribution wrapped
    if not callable(getattr(noise, "sample", None)):
        raise InvalidInputError(f"{owner}: expected noise with a sample method, but found {type(noise).__name__}")
    if needs_density and not callable(getattr(noise, "neg_log_density_grad", None)):
        raise InvalidInputError(
            f"{owner}: the Jacobian formula needs the noise's neg_log_density_grad(z) (d/dz -log p(z)); "
            f"{type(noise).__name__} has none (use Normal or Gumbel)"
        )
    return noise


class _PerturbedFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, theta, noise_sample, call: OracleCall, settings, *data_values):
        sigma, num_samples, reduction, noise, _ = settings
        if call.sign > 0:
            perturbed = theta.unsqueeze(0) + sigma * noise_sample  # (S, *batch, *event)
        else:  # costs w: the scores -w perturbed, -(-w + sigma Z) = w - sigma Z
            perturbed = theta.unsqueeze(0) - sigma * noise_sample
        y = call.solve_input(perturbed, 1, fresh=True)  # (S, *batch, *event)
        ctx.save_for_backward(noise_sample, y)
        ctx.call, ctx.settings, ctx.num_data = call, settings, len(data_values)
        return y.mean(0) if reduction == "mean" else y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        nones = (None,) * (3 + ctx.num_data)
        if not ctx.needs_input_grad[0]:
            return (None, *nones)
        noise_sample, y = ctx.saved_tensors
        call = ctx.call
        sigma, num_samples, reduction, noise, variance_reduction = ctx.settings
        dims = call.event_dims(y)
        if reduction == "mean":
            inner = (y * grad_output).sum(dim=dims, keepdim=True)  # (S, *batch, 1...)
        else:
            inner = (y * grad_output).sum(dim=dims, keepdim=True) * num_samples
        if variance_reduction and num_samples > 1:  # leave-one-out baseline (unbiased)
            inner = (inner - inner.mean(0, keepdim=True)) * (num_samples / (num_samples - 1))
        score = noise.neg_log_density_grad(noise_sample)  # (S, *batch, *event)
        grad_scores = (inner * score).mean(0) / sigma
        grad_theta = grad_scores if call.sign > 0 else -grad_scores
        return (grad_theta.to(noise_sample.dtype), *nones)


class PerturbedOptimizer(nn.Module):
    """The perturbed optimizer of Berthet et al. (2020).

    For a max-sense oracle ``y*(theta) = argmax <theta, y>`` and noise ``Z``
    with density ``p(z) ∝ exp(-nu(z))``:

    * forward: ``y_sigma(theta) = E[y*(theta + sigma Z)]``, estimated by
      ``mean_s y*(theta + sigma Z_s)`` (``reduction="mean"``) or returned
      per sample (``"none"``, shape ``(S, *batch, *event)``);
    * backward: the Jacobian ``J = E[y*(theta + sigma Z) grad nu(Z)^T] / sigma``,
      so ``dL/dtheta = mean_s <g, y_s> grad nu(Z_s) / sigma``. For
      ``Normal`` noise ``grad nu(z) = z``; for ``Gumbel`` noise
      ``grad nu(z) = 1 - exp(-z)`` (no variance reduction, as published).
      With ``reduction="none"`` sample ``s`` uses ``S * dL/dy_s``. With
      ``variance_reduction=True`` the inner products ``<g, y_s>`` are
      centred on their mean over the samples and scaled by ``S / (S - 1)``
      (PyEPO's ``perturbedOpt`` default; unbiased, as the score has mean 0).

    With Gumbel noise and the ``onehot`` oracle, ``y_sigma(theta)`` is
    ``softmax(theta / sigma)``. A min-sense oracle on costs ``w`` is solved on
    scores ``-w`` (perturbed costs ``w - sigma Z``; the gradient for ``w`` is
    the negated score gradient); the perturbed costs given to ``nonnegative``
    oracles are clamped at zero, and negative entries of ``w`` itself are
    handled as ``negative=`` says (``"warn"``: warn once per layer, then
    clamp; ``"raise"``; ``"clamp"``: silently).

    Args:
        oracle: any :class:`~imle_solvers.Oracle`.
        sigma: the noise scale (``> 0``).
        num_samples: ``S``.
        noise: ``Normal()`` (default) or ``Gumbel()`` — any noise with
            ``sample`` and ``neg_log_density_grad``, or a scalar
            ``torch.distributions`` object (no ``generator`` then).
        reduction: ``"mean"`` or ``"none"``.
        generator: a ``torch.Generator`` on theta's device.
        variance_reduction: centre the per-sample inner products (see above).
        negative: ``"warn"`` (default), ``"raise"`` or ``"clamp"``: what to
            do when ``theta`` itself has negative entries for a
            ``nonnegative`` oracle (see :class:`~imle_solvers.IMLE`).

    Example:
        >>> import torch
        >>> from imle_solvers import PerturbedOptimizer, Gumbel, get_oracle
        >>> layer = PerturbedOptimizer(get_oracle("onehot"), sigma=1.0, num_samples=20_000, noise=Gumbel(),
        ...                            generator=torch.Generator().manual_seed(0))
        >>> y = layer(torch.tensor([0.0, 1.0]))
        >>> torch.allclose(y, torch.softmax(torch.tensor([0.0, 1.0]), -1), atol=0.02)
        True
    """

    def __init__(
        self,
        oracle: Any,
        sigma: float = 1.0,
        num_samples: int = 1,
        *,
        noise: Any = None,
        reduction: str = "mean",
        generator: torch.Generator | None = None,
        variance_reduction: bool = False,
        negative: str = "warn",
    ):
        super().__init__()
        OracleCall("PerturbedOptimizer", oracle, {})
        self.variance_reduction = bool(variance_reduction)
        self.oracle = oracle
        self.sigma = check_number("PerturbedOptimizer", "sigma", sigma, positive=True)
        self.num_samples = check_num_samples("PerturbedOptimizer", num_samples)
        self.noise = _check_noise("PerturbedOptimizer", noise, needs_density=True)
        check_generator("PerturbedOptimizer", self.noise, generator)
        self.reduction = check_reduction("PerturbedOptimizer", reduction)
        self.generator = generator
        self._negative = NegativeCosts("PerturbedOptimizer", negative)  # once-per-layer warning state

    def forward(self, theta: torch.Tensor, **instance_data: Any) -> torch.Tensor:
        """``y_sigma(theta)`` ``(*batch, *event)`` or the samples ``(S, *batch, *event)``."""
        call = OracleCall("PerturbedOptimizer", self.oracle, instance_data)
        check_theta("PerturbedOptimizer", theta, call.event_ndim)
        self._negative.check(theta, call)
        shape = (self.num_samples, *theta.shape)
        noise_sample = self.noise.sample(shape, generator=self.generator, device=theta.device, dtype=theta.dtype)
        settings = (self.sigma, self.num_samples, self.reduction, self.noise, self.variance_reduction)
        return _PerturbedFunction.apply(theta, noise_sample, call, settings, *instance_data.values())

    def extra_repr(self) -> str:
        return (
            f"oracle={self.oracle!r}, sigma={self.sigma}, num_samples={self.num_samples}, noise={self.noise!r}, "
            f"reduction={self.reduction!r}{self._negative.repr_suffix()}"
        )


class FenchelYoungLoss(nn.Module):
    """The perturbed Fenchel-Young loss of Berthet et al. (2020).

    For a max-sense oracle, with ``F_sigma(theta) = E[max_y <theta + sigma Z, y>]``,
    the loss is ``F_sigma(theta) - <theta, y_true> (+ Omega(y_true))``. The
    constant ``Omega(y_true)`` is omitted, so the value returned is

    .. math::

        \\ell(\\theta; y) = \\frac{1}{S}\\sum_s \\langle \\theta + \\sigma Z_s, y_s \\rangle
        - \\langle \\theta, y \\rangle,\\qquad y_s = \\mathrm{MAP}(\\theta + \\sigma Z_s),

    (one value per instance, then reduced) and its gradient is
    ``y_hat - y_true`` with ``y_hat = mean_s y_s`` — the exact gradient of
    the sampled estimate (Danskin: each ``y_s`` is a maximiser), an unbiased
    estimate of ``grad F_sigma(theta) - y_true``. Autograd also gives
    ``-theta`` for ``y_true`` if it requires grad.

    For a min-sense oracle on costs ``w`` the loss is the same function of
    scores ``theta = -w``:
    ``<w, y_true> - mean_s <w - sigma Z_s, y_s>`` with
    ``y_s = argmin <w - sigma Z_s, y>``, gradient ``y_true - y_hat`` for
    ``w``. For ``nonnegative`` oracles the costs given to the oracle are
    clamped at zero; the value uses the unclamped perturbed costs. Negative
    entries of ``w`` itself are handled as ``negative=`` says (``"warn"``:
    warn once per loss module, then clamp; ``"raise"``; ``"clamp"``).

    Args:
        oracle: any :class:`~imle_solvers.Oracle`.
        sigma: the noise scale (``> 0``).
        num_samples: ``S``.
        noise: ``Normal()`` (default), ``Gumbel()``, any noise object, or a
            scalar ``torch.distributions`` object (no ``generator`` then).
        reduction: ``"mean"`` (over the batch, default), ``"sum"`` or ``"none"``
            (shape ``batch``).
        generator: a ``torch.Generator`` on theta's device.
        negative: ``"warn"`` (default), ``"raise"`` or ``"clamp"``: what to
            do when ``theta`` itself has negative entries for a
            ``nonnegative`` oracle (see :class:`~imle_solvers.IMLE`).

    Example:
        >>> import torch
        >>> from imle_solvers import FenchelYoungLoss, get_oracle
        >>> loss_fn = FenchelYoungLoss(get_oracle("onehot"), num_samples=8, generator=torch.Generator().manual_seed(0))
        >>> theta = torch.zeros(2, 3, requires_grad=True)
        >>> loss = loss_fn(theta, torch.tensor([[1.0, 0, 0], [0, 0, 1.0]]))
        >>> loss.backward()
        >>> theta.grad.shape, torch.allclose(theta.grad.sum(-1), torch.zeros(2))  # y_hat - y_true sums to 0
        (torch.Size([2, 3]), True)
    """

    takes_target = True  # called as loss(theta, y_true): SolutionLoss passes the true solution

    def __init__(
        self,
        oracle: Any,
        sigma: float = 1.0,
        num_samples: int = 1,
        *,
        noise: Any = None,
        reduction: str = "mean",
        generator: torch.Generator | None = None,
        negative: str = "warn",
    ):
        super().__init__()
        OracleCall("FenchelYoungLoss", oracle, {})
        self.oracle = oracle
        self.sigma = check_number("FenchelYoungLoss", "sigma", sigma, positive=True)
        self.num_samples = check_num_samples("FenchelYoungLoss", num_samples)
        self.noise = _check_noise("FenchelYoungLoss", noise, needs_density=False)
        check_generator("FenchelYoungLoss", self.noise, generator)
        self.reduction = check_reduction("FenchelYoungLoss", reduction, ("mean", "sum", "none"))
        self.generator = generator
        self._negative = NegativeCosts("FenchelYoungLoss", negative)  # once-per-layer warning state

    def forward(self, theta: torch.Tensor, y_true: torch.Tensor, **instance_data: Any) -> torch.Tensor:
        """The loss (a scalar, or ``batch``-shaped with ``reduction="none"``)."""
        call = OracleCall("FenchelYoungLoss", self.oracle, instance_data)
        check_theta("FenchelYoungLoss", theta, call.event_ndim)
        self._negative.check(theta, call)
        y_true = torch.as_tensor(y_true, device=theta.device, dtype=theta.dtype)
        if y_true.shape != theta.shape:
            raise InvalidInputError(
                f"FenchelYoungLoss: expected y_true of theta's shape {tuple(theta.shape)}, "
                f"but found {tuple(y_true.shape)}"
            )
        shape = (self.num_samples, *theta.shape)
        noise_sample = self.noise.sample(shape, generator=self.generator, device=theta.device, dtype=theta.dtype)
        scores = theta if call.sign > 0 else -theta
        perturbed = scores.unsqueeze(0) + self.sigma * noise_sample  # (S, *batch, *event)
        y = call.solve(perturbed.detach(), 1)  # (S, *batch, *event), no gradient
        dims = call.event_dims(theta)
        sample_dims = tuple(d + 1 for d in dims)
        smoothed_max = (perturbed * y).sum(dim=sample_dims).mean(0)  # (*batch,)
        loss = smoothed_max - (scores * y_true).sum(dim=dims)
        if self.reduction == "mean":
            return loss.mean()
        if self.reduction == "sum":
            return loss.sum()
        return loss

    def extra_repr(self) -> str:
        return (
            f"oracle={self.oracle!r}, sigma={self.sigma}, num_samples={self.num_samples}, noise={self.noise!r}, "
            f"reduction={self.reduction!r}{self._negative.repr_suffix()}"
        )
