"""Calling an oracle from torch, shared by every estimator.

Estimators work in *score* space: for a max-sense oracle the scores are the
user's ``theta``; for a min-sense oracle they are ``-w`` for the user's costs
``w``, and the oracle is called with costs ``-scores``. :class:`OracleCall`
does that conversion, clamps the input of ``nonnegative`` oracles at zero,
repeats per-instance data over leading sample dimensions, and calls the
oracle once per batch of stacked samples (so a CPU oracle costs one
device-to-host and one host-to-device copy per call).

The clamp is meant for *perturbed* inputs (noise and target shifts push a few
below zero). Negative values the model itself predicts are a modelling error
that the clamp would hide (every negative cell costs zero, paths tie, the
gradient vanishes): :class:`NegativeCosts` checks them first and warns
(default), raises or clamps silently, as the estimator's ``negative=`` option
says. It reads only the oracle's ``nonnegative`` capability.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .. import _tensors
from .._checks import (
    check_instance,
    check_negative,
    check_num_samples,
    check_number,
    check_reduction,
    refuse_unknown_options,
    sense_sign,
)
from ..errors import ImleSolversWarning, InvalidInputError

__all__ = [
    "OracleCall", "NegativeCosts", "sense_sign", "check_theta", "check_num_samples", "check_reduction", "check_number",
    "check_instance", "check_generator", "refuse_unknown_options",
]


def check_generator(owner: str, noise: Any, generator: Any) -> None:
    """Refuse a ``torch.Generator`` with noise that cannot use one
    (``accepts_generator = False``: ``torch.distributions``)."""
    if generator is not None and not getattr(noise, "accepts_generator", True):
        raise InvalidInputError(
            f"{owner}: noise {noise!r} cannot use generator=: torch.distributions draw from torch's global random "
            "state. Seed with torch.manual_seed instead, or use imle_solvers.Gumbel(), SumOfGamma(k) or Normal(), "
            "which take a generator"
        )


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside imle_solvers and torch."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in ("imle_solvers", "torch"):
        frame, level = frame.f_back, level + 1
    return level


class NegativeCosts:
    """What an estimator does when the model's own ``theta`` has negative
    entries for an oracle that needs non-negative input (``nonnegative =
    True``, e.g. Dijkstra): ``"warn"`` (once per policy, i.e. per layer, with
    the share of negative entries and the remedy, then clamp), ``"raise"``
    (:class:`InvalidInputError` naming theta's batch index) or ``"clamp"``
    (silently). Perturbed inputs are clamped in every mode."""

    def __init__(self, owner: str, mode: str = "warn"):
        self.owner = owner
        self.mode = check_negative(owner, mode)
        self.warned = False

    def repr_suffix(self) -> str:
        """``", negative='raise'"`` for a module's repr; nothing for the default."""
        return "" if self.mode == "warn" else f", negative={self.mode!r}"

    def check(self, theta: torch.Tensor, call: OracleCall) -> None:
        if not call.clamp or self.mode == "clamp" or (self.mode == "warn" and self.warned):
            return
        with torch.no_grad():
            negative = theta.detach() < 0  # (*batch, *event)
            if not bool(negative.any()):
                return
            share = float(negative.double().mean())
            smallest = float(theta.detach().min())
        name = getattr(call.oracle, "name", call.oracle)
        remedy = ("End the cost head with softplus or exp (e.g. costs = torch.nn.functional.softplus(head(x))), "
                  "so that every cost the model predicts is positive")
        if self.mode == "raise":
            batch_shape = tuple(theta.shape[: theta.dim() - call.event_ndim])
            per_instance = negative.reshape(max(1, int(np.prod(batch_shape))), -1).any(dim=1)
            flat = int(per_instance.nonzero()[0, 0])
            index = tuple(int(i) for i in np.unravel_index(flat, batch_shape)) if batch_shape else ()
            raise InvalidInputError(
                f"{self.owner}: oracle {name!r} needs non-negative costs, but the model's theta has negative entries "
                f"(first at theta's batch index {index}; {share:.1%} of all entries, min {smallest:g}). {remedy}; "
                "or pass negative='clamp' (or 'warn') to clamp them at zero",
                oracle=getattr(call.oracle, "name", None), index=index,
            )
        self.warned = True
        warnings.warn(
            f"{self.owner}: {share:.1%} of the costs the model gave oracle {name!r} are negative (min {smallest:g}). "
            "The oracle needs non-negative costs, so they are clamped at zero: negative cells all cost nothing, "
            "paths through them tie and their gradient vanishes, so training can stall without another sign. "
            f"{remedy}. negative='raise' makes this an error, negative='clamp' clamps without this warning "
            "(shown once per layer; perturbed costs that noise or the target push below zero are clamped silently)",
            ImleSolversWarning,
            stacklevel=_user_stacklevel(),
        )


def check_theta(owner: str, theta: Any, event_ndim: int) -> None:
    if not isinstance(theta, torch.Tensor):
        raise InvalidInputError(f"{owner}: expected theta to be a torch.Tensor, but found {type(theta).__name__}")
    if not theta.dtype.is_floating_point:
        raise InvalidInputError(f"{owner}: expected a floating-point theta, but found dtype {theta.dtype}")
    if theta.dim() < event_ndim:
        raise InvalidInputError(
            f"{owner}: expected theta of shape (*batch, *event) with {event_ndim} event dimension(s), "
            f"but found shape {tuple(theta.shape)}"
        )


class OracleCall:
    """One oracle and one call's instance data, ready to solve score tensors.

    Per-instance data is converted once: to host arrays for a CPU oracle (so
    that repeated solves do not copy it again), left on the device for a
    device-native one. ``solve(scores)`` takes ``(*lead, *batch, *event)``
    and repeats data that has batch dimensions over ``lead``.
    """

    def __init__(self, owner: str, oracle: Any, data: Mapping[str, Any], *, clamp: bool | None = None):
        self.owner = owner
        self.oracle = oracle
        self.sign = sense_sign(owner, oracle)
        self.event_ndim = int(getattr(oracle, "event_ndim", 1))
        # clamp the costs of nonnegative oracles at zero, unless the caller says otherwise
        self.clamp = bool(getattr(oracle, "nonnegative", False)) if clamp is None else bool(clamp)
        self.per_instance_ndim: Mapping[str, int] = dict(getattr(oracle, "instance_data", {}) or {})
        device_native = bool(getattr(oracle, "device_native", False))
        self.data: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, torch.Tensor):
                value = value.detach()
                if not device_native:
                    value = _tensors.to_host(value)
            elif not device_native:
                value = np.asarray(value)
            self.data[key] = value

    def _repeat(self, lead: tuple[int, ...]) -> dict[str, Any]:
        if not lead:
            return self.data
        repeated = {}
        for key, value in self.data.items():
            ndim = self.per_instance_ndim.get(key)
            shape = tuple(getattr(value, "shape", ()))
            if ndim is None or len(shape) <= ndim:  # shared by every instance (or let the oracle complain)
                repeated[key] = value
            elif isinstance(value, torch.Tensor):
                repeated[key] = value.expand(*lead, *shape)
            else:
                repeated[key] = np.broadcast_to(value, (*lead, *shape))
        return repeated

    def solve(self, scores: torch.Tensor, lead_ndim: int, *, fresh: bool = False) -> torch.Tensor:
        """Solutions for ``scores`` of shape ``(*lead, *batch, *event)``, where
        ``lead`` is the first ``lead_ndim`` dimensions (samples, sides).
        ``fresh=True`` says ``scores`` is a temporary the caller does not
        reuse, so that negation and clamping happen in place."""
        if self.sign > 0:
            return self.solve_input(scores, lead_ndim, fresh=fresh)
        return self.solve_input(scores.neg_() if fresh else -scores, lead_ndim, fresh=True)

    def solve_input(self, inputs: torch.Tensor, lead_ndim: int, *, fresh: bool = False) -> torch.Tensor:
        """Like :meth:`solve` for ``inputs`` already in the oracle's own terms
        (costs of a min-sense oracle)."""
        if self.clamp:
            inputs = inputs.clamp_(min=0) if fresh else inputs.clamp(min=0)
        with torch.no_grad():
            try:
                solutions = self.oracle(inputs, **self._repeat(tuple(inputs.shape[:lead_ndim])))
            except InvalidInputError as error:
                raise self._in_user_terms(error, lead_ndim) from error
        if not isinstance(solutions, torch.Tensor) or solutions.shape != inputs.shape:
            found = tuple(solutions.shape) if hasattr(solutions, "shape") else type(solutions).__name__
            raise InvalidInputError(
                f"{self.owner}: the oracle {getattr(self.oracle, 'name', self.oracle)!r} returned {found} for input "
                f"of shape {tuple(inputs.shape)}; gradient estimators need solutions in the space of theta "
                "(a tensor of the same shape)"
            )
        return solutions

    def _in_user_terms(self, error: InvalidInputError, lead_ndim: int) -> InvalidInputError:
        """The oracle saw ``(*lead, *batch, *event)``; name theta's batch index
        (and the sample / target side) instead of the stacked one."""
        index = getattr(error, "index", None)
        if index is None or len(index) < lead_ndim:
            return InvalidInputError(f"{self.owner}: {error}", oracle=getattr(error, "oracle", None), index=index)
        lead, batch = tuple(index[:lead_ndim]), tuple(index[lead_ndim:])
        return InvalidInputError(
            f"{self.owner}: the oracle refused its input at theta's batch index {batch} (stacked sample/side "
            f"{lead}): {error}. The forward pass solves theta plus noise, the backward pass theta moved along "
            "dL/dz: look for nan/inf in theta or in the loss's gradient",
            oracle=getattr(error, "oracle", None), index=batch,
        )

    def event_dims(self, tensor: torch.Tensor) -> tuple[int, ...]:
        """The trailing event dimensions of ``tensor``."""
        return tuple(range(tensor.dim() - self.event_ndim, tensor.dim()))
