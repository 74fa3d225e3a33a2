"""Calling an oracle from torch, shared by every estimator.

Estimators work in *score* space: for a max-sense oracle the scores are the
user's ``theta``; for a min-sense oracle they are ``-w`` for the user's costs
``w``, and the oracle is called with costs ``-scores``. :class:`OracleCall`
does that conversion, clamps the input of ``nonnegative`` oracles at zero,
repeats per-instance data over leading sample dimensions, and calls the
oracle once per batch of stacked samples (so a CPU oracle costs one
device-to-host and one host-to-device copy per call).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .. import _tensors
from .._checks import check_num_samples, check_number, check_reduction, sense_sign
from ..errors import InvalidInputError

__all__ = ["OracleCall", "sense_sign", "check_theta", "check_num_samples", "check_reduction", "check_number"]


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
