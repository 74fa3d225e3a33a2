"""Decision quality of predicted costs: :func:`regret` (PyEPO's normalised regret).

A model predicts costs ``ĉ``; the decision is ``z(ĉ) = MAP(ĉ)``; what that
decision is worth is judged under the *true* costs ``c``. For a min-sense
oracle the regret of one instance is

.. math::

    r = \\langle c, z(\\hat c)\\rangle - z^*(c), \\qquad z^*(c) = \\min_z \\langle c, z\\rangle ,

and for a max-sense oracle ``r = z*(c) - <c, z(ĉ)>``; either way ``r >= 0``.
PyEPO's headline number is the *normalised* regret
``sum_i r_i / sum_i |z*(c_i)|``.

Inputs are numpy arrays or torch tensors (moved to the host; torch is never
imported here); one oracle call solves the whole batch, through whatever
runner the oracle is configured with.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _tensors
from ._checks import sense_sign
from .errors import InvalidInputError

__all__ = ["regret", "objective"]

_REDUCTIONS = ("normalized", "sum", "mean", "none")
_TIES = ("solver", "worst")


def _host64(value: Any) -> np.ndarray:
    return np.asarray(_tensors.to_host(value), dtype=np.float64)


def objective(solutions: Any, costs: Any, event_ndim: int = 1) -> np.ndarray:
    """``<costs_i, solutions_i>`` per instance, summed over the trailing
    ``event_ndim`` dimensions, as a float64 numpy array of the batch shape.

    Example:
        >>> import numpy as np
        >>> from imle_solvers.metrics import objective
        >>> objective(np.array([[1.0, 0.0, 1.0]]), np.array([[2.0, 5.0, 3.0]]))
        array([5.])
    """
    solutions, costs = _host64(solutions), _host64(costs)
    if solutions.shape != costs.shape or solutions.ndim < event_ndim:
        raise InvalidInputError(
            f"objective: expected solutions and costs of the same shape (*batch, *event) with {event_ndim} event "
            f"dimension(s), but found {solutions.shape} and {costs.shape}"
        )
    axes = tuple(range(solutions.ndim - event_ndim, solutions.ndim))
    return (solutions * costs).sum(axis=axes)


def _worst_ties(oracle, predicted: np.ndarray, true: np.ndarray, chosen: np.ndarray, sign: float,
                tolerance: float, max_halvings: int, data: dict, batched: set) -> np.ndarray:
    """Among the optima of the predicted costs, the one worst under the true
    costs: ``MAP(ĉ - eps c)``, with ``eps`` halved per instance until that
    solution is still optimal for ``ĉ`` (see :func:`regret`)."""
    n = predicted.shape[0]
    axes = tuple(range(1, predicted.ndim))
    best = (predicted * chosen).sum(axis=axes)  # optimal value under ĉ
    scale_p = np.abs(predicted.reshape(n, -1)).max(axis=1)
    scale_c = np.abs(true.reshape(n, -1)).max(axis=1)
    eps = np.where(scale_c > 0, 1e-3 * np.maximum(scale_p, tolerance) / np.where(scale_c > 0, scale_c, 1.0), 0.0)
    result = chosen.copy()
    pending = np.flatnonzero(eps > 0)
    for _ in range(max_halvings):
        if pending.size == 0:
            break
        shape = (-1,) + (1,) * (predicted.ndim - 1)
        trial_costs = predicted[pending] - eps[pending].reshape(shape) * true[pending]
        trial_data = {key: (value[pending] if key in batched else value) for key, value in data.items()}
        trial = np.asarray(oracle(trial_costs, **trial_data), dtype=np.float64)
        value = (predicted[pending] * trial).sum(axis=axes)
        optimal = sign * (best[pending] - value) <= tolerance * np.maximum(1.0, np.abs(best[pending]))
        result[pending[optimal]] = trial[optimal]
        pending = pending[~optimal]
        eps[pending] /= 2.0
    return result


def regret(
    oracle: Any,
    predicted_costs: Any,
    true_costs: Any,
    *,
    true_objectives: Any = None,
    reduction: str = "normalized",
    ties: str = "solver",
    tolerance: float = 1e-9,
    max_halvings: int = 30,
    **instance_data: Any,
) -> float | np.ndarray:
    """The regret of deciding with predicted costs, judged under the true costs.

    For each instance ``i`` (min sense; for max sense the sign flips so that
    regret is never negative):

    .. math::

        r_i = \\langle c_i, z(\\hat c_i)\\rangle - z^*(c_i),

    with ``z(ĉ) = oracle(ĉ)``, and ``z*(c_i)`` the optimal true objective
    (``true_objectives``, or one more oracle call on ``true_costs`` when not
    given). Reductions: ``"normalized"`` (default, PyEPO's
    ``pyepo.metric.regret``) ``sum_i r_i / sum_i |z*(c_i)|``; ``"sum"``;
    ``"mean"``; ``"none"`` (the ``r_i``, a numpy array of the batch shape).

    ``ties="worst"`` is PyEPO's *unambiguous* regret (``unambRegret``): when
    ``ĉ_i`` has several optimal solutions, ``r_i`` uses the one worst under
    the true costs, not the one the solver happened to return. It is found
    without touching the solver: ``MAP(ĉ - eps c)`` maximises ``<c, z>``
    (min sense) among the ``ĉ``-optimal ``z`` for small ``eps > 0``; ``eps``
    starts at ``1e-3 |ĉ|_max / |c|_max`` and is halved (one batched oracle
    call per round, for the instances not yet settled) until that solution is
    ``ĉ``-optimal within ``tolerance`` (relative); after ``max_halvings``
    rounds the solver's own solution is kept. Exact for exact ties; costs
    that differ by less than ``tolerance`` count as tied.

    The metric is vectorised: one oracle call for ``ĉ`` (through the
    oracle's runner), one for ``c`` unless ``true_objectives`` is given.

    Args:
        oracle: any :class:`~imle_solvers.Oracle`.
        predicted_costs, true_costs: ``(*batch, *event)``, numpy or torch.
        true_objectives: ``(*batch,)`` optimal true objectives, optional.
        reduction: ``"normalized"``, ``"sum"``, ``"mean"`` or ``"none"``.
        ties: ``"solver"`` (the solution the oracle returns) or ``"worst"``.
        tolerance, max_halvings: for ``ties="worst"``.
        **instance_data: passed to the oracle (e.g. knapsack weights).

    Example:
        >>> import numpy as np
        >>> from imle_solvers import get_oracle
        >>> from imle_solvers.metrics import regret
        >>> oracle = get_oracle("onehot")  # max sense: pick the best item
        >>> true = np.array([[3.0, 1.0, 2.0], [1.0, 4.0, 0.0]])
        >>> predicted = np.array([[1.0, 0.0, 2.0], [0.0, 5.0, 1.0]])  # picks items 2 and 1
        >>> regret(oracle, predicted, true, reduction="none")  # 3 - 2 and 4 - 4
        array([1., 0.])
        >>> round(regret(oracle, predicted, true), 4)  # 1 / (3 + 4)
        0.1429
        >>> tied = np.array([[1.0, 1.0, 0.0], [0.0, 5.0, 1.0]])  # items 0 and 1 tie in instance 0
        >>> regret(oracle, tied, true, reduction="none", ties="worst")  # the worse of the tie: item 1
        array([2., 0.])
    """
    if reduction not in _REDUCTIONS:
        raise InvalidInputError(f"regret: expected reduction in {_REDUCTIONS}, but found {reduction!r}")
    if ties not in _TIES:
        raise InvalidInputError(f"regret: expected ties in {_TIES}, but found {ties!r}")
    sign = sense_sign("regret", oracle)
    event_ndim = int(getattr(oracle, "event_ndim", 1))
    predicted, true = _host64(predicted_costs), _host64(true_costs)
    if predicted.shape != true.shape or predicted.ndim < event_ndim:
        raise InvalidInputError(
            f"regret: expected predicted and true costs of the same shape (*batch, *event), but found "
            f"{predicted.shape} and {true.shape}"
        )
    batch_shape = predicted.shape[: predicted.ndim - event_ndim]
    event_shape = predicted.shape[predicted.ndim - event_ndim:]
    n = int(np.prod(batch_shape, dtype=np.int64))
    predicted2d, true2d = predicted.reshape(n, *event_shape), true.reshape(n, *event_shape)
    per_instance_ndim = dict(getattr(oracle, "instance_data", {}) or {})
    flat_data, batched = {}, set()
    for key, value in instance_data.items():
        value = np.asarray(_tensors.to_host(value))
        ndim = per_instance_ndim.get(key)
        leading = value.shape[: len(batch_shape)]
        if ndim is not None and value.ndim == ndim + len(batch_shape) and leading == batch_shape:
            value = value.reshape(n, *value.shape[len(batch_shape):])
            batched.add(key)
        flat_data[key] = value  # shared by the batch (or left for the oracle to refuse)
    if n == 0:
        return np.zeros(batch_shape) if reduction == "none" else 0.0
    decisions = np.asarray(oracle(predicted2d, **flat_data), dtype=np.float64)
    if ties == "worst":
        decisions = _worst_ties(oracle, predicted2d, true2d, decisions, sign, tolerance, max_halvings,
                                flat_data, batched)
    achieved = objective(decisions, true2d, event_ndim)
    if true_objectives is None:
        optimal = objective(np.asarray(oracle(true2d, **flat_data), dtype=np.float64), true2d, event_ndim)
    else:
        optimal = _host64(true_objectives).reshape(-1)
        if optimal.shape != (n,):
            raise InvalidInputError(
                f"regret: expected true_objectives of the batch shape {batch_shape}, but found "
                f"{_host64(true_objectives).shape}"
            )
    per_instance = sign * (optimal - achieved)  # >= 0 up to solver tolerance
    if reduction == "none":
        return per_instance.reshape(batch_shape)
    if reduction == "sum":
        return float(per_instance.sum())
    if reduction == "mean":
        return float(per_instance.mean())
    total = float(np.abs(optimal).sum())
    if total == 0.0:
        raise InvalidInputError("regret: every optimal true objective is 0; the normalised regret is undefined "
                                "(use reduction='sum' or 'mean')")
    return float(per_instance.sum()) / total
