"""Target distributions for I-MLE: :class:`PerturbedTarget` and :class:`AdaptiveTarget` (AIMLE).

I-MLE (Niepert et al. 2021) estimates ``dL/dtheta`` by comparing the
solution of the forward pass with the solution for *target* parameters moved
against the downstream gradient ``g = dL/dz``. Everything here works in
*score* space (the estimator negates costs of min-sense oracles first), with
tensors of shape ``(S, *batch, *event)``: one entry per noise sample.

A target object has

* ``symmetric`` — ``False``: forward difference; ``True``: central
  difference (two target solutions per sample).
* ``targets(theta, grad, event_ndim, noise=None)`` → ``(thetas, lam)``:
  the perturbed target parameters ``thetas`` of shape
  ``(T, S, *batch, *event)`` — with ``T = 2`` (plus side first) when
  symmetric, else ``T = 1`` — that the oracle solves, the scaled target
  noise ``noise = tau_t * eps`` (shape ``(S, *batch, *event)``, or ``None``)
  included; and ``lam``, the step, broadcastable against ``grad`` (a float,
  or a tensor of shape ``(S, *batch, 1, ..., 1)``).
* ``update(difference, event_ndim)`` — called once per backward pass with
  the solution differences ``(S, *batch, *event)``, before division by
  ``lam`` (negated for min-sense oracles; AdaptiveTarget only counts their
  non-zero entries, and only in training mode); stateless targets do
  nothing.

The estimator turns them into the gradient (max-sense, score space)::

    forward difference:  dL/dtheta = mean_s (z_s - MAP(thetas[0, s])) / lam
    central difference:  dL/dtheta = mean_s (MAP(thetas[0, s]) - MAP(thetas[1, s])) / (2 lam)
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .errors import InvalidInputError

__all__ = ["PerturbedTarget", "AdaptiveTarget"]


def _number(owner: str, name: str, value, *, positive: bool = False, nonnegative: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"{owner}: expected {name} to be a finite number, but found {value!r}")
    if positive and value <= 0:
        raise InvalidInputError(f"{owner}: expected {name} > 0, but found {value!r}")
    if nonnegative and value < 0:
        raise InvalidInputError(f"{owner}: expected {name} >= 0, but found {value!r}")
    return float(value)


class PerturbedTarget:
    """The I-MLE target ``theta' = alpha * theta - lambda_ * dL/dz``, solved at ``theta' + tau_t eps``.

    With ``z_s = MAP(theta + tau eps_s)`` the estimate is
    ``dL/dtheta = mean_s (z_s - MAP(theta' + tau_t eps_s)) / lambda_``
    (Niepert et al. 2021, Algorithm 1 with the perturbation-based implicit
    differentiation target). ``lambda_`` trades bias (large) against a
    gradient that is zero almost everywhere (small); it is in the units of
    ``theta / g``.

    Args:
        lambda_: the step along the downstream gradient (``> 0``).
        alpha: the weight of ``theta`` in the target (1 in the paper; other
            values move the target towards ``0``).

    Example:
        >>> import torch
        >>> from imle_solvers import PerturbedTarget
        >>> thetas, lam = PerturbedTarget(lambda_=2.0).targets(torch.tensor([1.0, 0.0]), torch.tensor([[0.5, -0.5]]), 1)
        >>> thetas, lam
        (tensor([[[0., 1.]]]), 2.0)
    """

    symmetric = False

    def __init__(self, lambda_: float = 10.0, alpha: float = 1.0):
        self.lambda_ = _number("PerturbedTarget", "lambda_", lambda_, positive=True)
        self.alpha = _number("PerturbedTarget", "alpha", alpha)

    def targets(self, theta: torch.Tensor, grad: torch.Tensor, event_ndim: int, noise: torch.Tensor | None = None):
        """``(alpha * theta - lambda_ * grad + noise)[None]`` and ``lambda_``."""
        base = theta if self.alpha == 1.0 else self.alpha * theta
        theta_prime = torch.add(base, grad, alpha=-self.lambda_)  # (S or 1, *batch, *event)
        if noise is not None:
            if noise.shape == theta_prime.shape:
                theta_prime.add_(noise)
            else:
                theta_prime = theta_prime + noise
        return theta_prime.unsqueeze(0), self.lambda_

    def update(self, difference: torch.Tensor, event_ndim: int) -> None:
        """Nothing to adapt."""

    def __repr__(self) -> str:
        return f"PerturbedTarget(lambda_={self.lambda_}, alpha={self.alpha})"


class AdaptiveTarget(nn.Module):
    r"""Adaptive I-MLE target (AIMLE; Minervini, Franceschi, Niepert, AAAI 2023).

    The target moves the point it perturbs, ``base_s = alpha theta + tau_t
    eps_s`` (``tau_t eps_s`` the target noise of sample ``s``), against the
    downstream gradient ``g_s``, by a step set per instance ``b`` and sample
    from their norms:

    .. math::

        \lambda_{s,b} = \beta \, \frac{\lVert \mathrm{base}_{s,b}\rVert_2}{\lVert g_{s,b}\rVert_2},

    so the shift ``lam g`` has norm ``beta * ||base||`` whatever the scale of
    the loss. The paper writes ``||theta||``; we use the norm of the point
    that is actually moved, which is the same when the noise is small
    against ``theta``, and which keeps the step alive at ``theta = 0`` (with
    ``||theta||`` a model initialised at zero gets ``lam = 0`` and never
    moves); ``norm="theta"`` gives the paper's formula. Without target noise
    ``base = alpha theta``. The norm is floored at the dtype's machine
    epsilon.

    ``beta`` is adapted online: after every backward pass in training mode,
    the number of non-zero entries of each instance's solution difference is
    averaged over samples and batch, an exponential moving average
    ``nonzeros`` of it is kept, and

    .. math::

        \beta \leftarrow \beta \cdot \exp\big(\text{update\_step} \cdot
        \operatorname{sign}(\text{target\_nonzeros} - \text{nonzeros})\big),

    a multiplicative step that grows ``beta`` while gradients are too sparse
    and shrinks it while they are too dense (the reference implementation
    adds ``±update_step``, which is scale-dependent and can reach
    ``beta = 0``). The update is made of tensor operations only — no
    ``.item()`` or host synchronisation — and the state (``beta``,
    ``nonzeros``) lives in buffers, saved in ``state_dict``. Buffers follow
    the module's ``.to()``; if they are on another device than ``theta``,
    they are moved there on first use.

    Forward difference (default), the gradient in score space::

        theta_minus = alpha * theta + tau_t eps_s - lam * g
        dL/dtheta   = mean_s (z_s - MAP(theta_minus)) / lam

    reusing the forward solution ``z_s`` (the reference implementation solves
    ``MAP(theta + eps_s)`` a second time). Central difference
    (``symmetric=True``)::

        theta_plus/minus = alpha * theta + tau_t eps_s ± lam * g
        dL/dtheta        = mean_s (MAP(theta_plus) - MAP(theta_minus)) / (2 lam)

    Signs: the marginals ``mu(theta) = E[z]`` of an exponential family have a
    symmetric Jacobian ``J``, so ``dL/dtheta = J^T g = J g``, and
    ``J g ≈ (mu(theta + lam g) - mu(theta - lam g)) / (2 lam)`` — the plus side
    comes first. (For a linear loss ``<g, z>`` the plus side has the larger
    objective, so the estimate has a non-negative inner product with ``g``.)
    Both sides are solved in one oracle call. The same ``lam`` — computed once
    from the current ``beta`` — perturbs the target and rescales the
    difference (the reference implementation recomputes it from differently
    shaped tensors for the two).

    Instances whose downstream gradient is zero get ``lam = 1``; their target
    is ``base`` itself, so their gradient is zero when ``alpha = 1`` and the
    two temperatures agree.

    Args:
        beta: the initial relative step (``> 0``).
        target_nonzeros: the wanted number of non-zero gradient entries per
            instance and sample (``> 0``; a single swap in a k-subset or a
            path changes two entries).
        update_step: the multiplicative step of ``beta`` in log space
            (``>= 0``; ``0`` freezes ``beta``).
        decay: the decay of the moving average of the non-zero count
            (in ``[0, 1)``).
        symmetric: central instead of forward differences.
        alpha: the weight of ``theta`` in the target (1 in the paper).
        norm: ``"perturbed"`` (default): ``lam`` from ``||alpha theta + tau_t
            eps_s||``; ``"theta"``: from ``||alpha theta||``, the paper's
            formula (a model at ``theta = 0`` then gets no gradient).

    Example:
        >>> import torch
        >>> from imle_solvers import AdaptiveTarget
        >>> target = AdaptiveTarget(beta=0.5)
        >>> thetas, lam = target.targets(torch.tensor([3.0, 4.0]), torch.tensor([[0.0, 2.0]]), 1)
        >>> thetas, lam  # lam = 0.5 * 5 / 2
        (tensor([[[3.0000, 1.5000]]]), tensor([[1.2500]]))
        >>> target.update(torch.tensor([[1.0, -1.0]]), 1)  # 2 non-zeros > 1 wanted: beta shrinks
        >>> bool(target.beta < 0.5)
        True
    """

    beta: torch.Tensor
    nonzeros: torch.Tensor

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
    ):
        super().__init__()
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
        self.register_buffer("beta", torch.tensor(beta, dtype=torch.float32))
        # the moving average starts at the target: no update until evidence comes
        self.register_buffer("nonzeros", torch.tensor(self.target_nonzeros, dtype=torch.float32))

    def _follow(self, device: torch.device) -> None:
        if self.beta.device != device:
            self.beta = self.beta.to(device)
            self.nonzeros = self.nonzeros.to(device)

    def lambdas(self, base: torch.Tensor, grad: torch.Tensor, event_ndim: int) -> torch.Tensor:
        """``beta * ||base_{s,b}|| / ||grad_{s,b}||`` of shape ``(S, *batch, 1, ..., 1)``
        (``1`` where the gradient is zero)."""
        self._follow(grad.device)
        base_dims = tuple(range(base.dim() - event_ndim, base.dim()))
        grad_dims = tuple(range(grad.dim() - event_ndim, grad.dim()))
        base_norm = torch.linalg.vector_norm(base, dim=base_dims, keepdim=True)  # (S or 1, *batch, 1...)
        base_norm.clamp_(min=torch.finfo(base.dtype).eps).mul_(self.beta.to(base_norm.dtype))
        grad_norm = torch.linalg.vector_norm(grad, dim=grad_dims, keepdim=True)  # (S or 1, *batch, 1...)
        zero = grad_norm == 0
        lam = base_norm / grad_norm.masked_fill_(zero, 1.0)
        return lam.masked_fill_(zero, 1.0)

    def targets(self, theta: torch.Tensor, grad: torch.Tensor, event_ndim: int, noise: torch.Tensor | None = None):
        """Perturbed target parameters ``(T, S, *batch, *event)`` and the step ``lam``."""
        base = self.alpha * theta if self.alpha != 1.0 else theta
        if noise is not None and self.norm == "perturbed":
            lam = self.lambdas(base + noise, grad, event_ndim)  # the norm of the point that is moved
        else:
            lam = self.lambdas(base, grad, event_ndim)
        if not self.symmetric:
            thetas = torch.addcmul(base, lam, grad, value=-1.0).unsqueeze(0)  # base - lam g: (1, S or 1, ...)
        else:
            step = lam * grad  # (S or 1, *batch, *event)
            thetas = torch.empty((2, *torch.broadcast_shapes(base.shape, step.shape)), dtype=step.dtype,
                                 device=step.device)
            torch.add(base, step, out=thetas[0])
            torch.sub(base, step, out=thetas[1])
        if noise is None:
            return thetas, lam
        if thetas.shape[1:] == noise.shape:
            return thetas.add_(noise), lam
        return thetas + noise, lam

    @torch.no_grad()
    def update(self, difference: torch.Tensor, event_ndim: int) -> None:
        """Adapt ``beta`` from the solution differences ``(S, *batch, *event)``
        (a no-op in eval mode or with ``update_step = 0``)."""
        if not self.training or self.update_step == 0.0:
            return
        self._follow(difference.device)
        flat = difference.reshape(*difference.shape[: difference.dim() - event_ndim], -1)
        count = self.reduce_statistics((flat != 0).sum(dim=-1, dtype=torch.float32))  # a 0-dim tensor
        self.nonzeros.mul_(self.decay).add_((1.0 - self.decay) * count)
        direction = torch.sign(self.target_nonzeros - self.nonzeros)
        self.beta.mul_(torch.exp(self.update_step * direction))

    # ---- data-parallel training (torch.distributed) -------------------------

    _sync_statistics: bool = False
    _sync_group: object = None

    def synchronize(self, enabled: bool = True, *, group=None) -> AdaptiveTarget:
        """Average the statistics that adapt ``beta`` over the processes of
        ``group`` (torch.distributed's default group when ``None``) — for
        data-parallel training, where each process sees a shard of the batch.

        Every process then adapts ``beta`` and ``nonzeros`` from the mean
        non-zero count of the whole batch, so all hold the same state, equal
        to a single process's on the whole batch. Without it each process
        adapts from its own shard, and if the target sits inside a
        ``DistributedDataParallel`` module the buffer broadcast keeps rank 0's
        state alone. Costs one all-reduce of two numbers per backward pass in
        training mode; every process must take part in it. Returns ``self``.

        Example:
            >>> from imle_solvers import AdaptiveTarget
            >>> AdaptiveTarget().synchronize() is not None  # takes effect when a process group is running
            True
        """
        self._sync_statistics = bool(enabled)
        self._sync_group = group
        return self

    def reduce_statistics(self, counts: torch.Tensor) -> torch.Tensor:
        """The mean of the per-instance non-zero counts ``counts`` ``(S, *batch)``
        that adapts ``beta``: over this process's batch, or, after
        :meth:`synchronize` with a process group running, over every
        process's (an all-reduce of their sum and number; exact for counts).

        Example:
            >>> import torch
            >>> from imle_solvers import AdaptiveTarget
            >>> AdaptiveTarget().reduce_statistics(torch.tensor([[2.0, 4.0]]))
            tensor(3.)
        """
        if not self._sync_statistics:
            return counts.mean()
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return counts.mean()
        totals = torch.stack([counts.sum(), torch.tensor(float(counts.numel()), device=counts.device)])
        dist.all_reduce(totals, group=self._sync_group)
        return totals[0] / totals[1]

    def extra_repr(self) -> str:
        return (
            f"beta={float(self.beta):.4g}, target_nonzeros={self.target_nonzeros}, update_step={self.update_step}, "
            f"decay={self.decay}, symmetric={self.symmetric}, alpha={self.alpha}, norm={self.norm!r}"
        )
