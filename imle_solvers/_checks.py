"""Argument checks shared by the torch estimators and the TensorFlow front end.

Framework-free (numpy only), so that :mod:`imle_solvers.tf` uses them without
importing torch; every check raises :class:`~imle_solvers.errors.InvalidInputError`
naming its owner (``"IMLE"``, ``"Blackbox"``, ...).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .errors import InvalidInputError

__all__ = [
    "sense_sign", "check_num_samples", "check_reduction", "check_number", "check_instance", "check_negative",
    "refuse_unknown_options", "TARGET_OPTIONS", "NEGATIVE_MODES",
]

#: Parameters of the targets (PerturbedTarget, AdaptiveTarget) that users pass to the estimator by mistake.
TARGET_OPTIONS = ("lambda_", "alpha", "beta", "symmetric", "target_nonzeros", "update_step", "decay", "norm")

#: What an estimator does with negative model costs for an oracle that needs non-negative ones.
NEGATIVE_MODES = ("warn", "raise", "clamp")


def sense_sign(owner: str, oracle: Any) -> float:
    """``+1.0`` for a max-sense oracle, ``-1.0`` for a min-sense one."""
    if not callable(oracle):
        raise InvalidInputError(f"{owner}: expected an Oracle, but found {type(oracle).__name__} (not callable)")
    sense = getattr(oracle, "sense", None)
    if sense == "max":
        return 1.0
    if sense == "min":
        return -1.0
    raise InvalidInputError(f"{owner}: expected an oracle with sense 'max' or 'min', but found sense={sense!r}")


def check_num_samples(owner: str, num_samples: Any) -> int:
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) or num_samples < 1:
        raise InvalidInputError(f"{owner}: expected num_samples to be a positive int, but found {num_samples!r}")
    return int(num_samples)


def check_reduction(owner: str, reduction: Any, allowed: tuple[str, ...] = ("mean", "none")) -> str:
    if reduction not in allowed:
        raise InvalidInputError(f"{owner}: expected reduction in {allowed}, but found {reduction!r}")
    return reduction


def check_number(owner: str, name: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"{owner}: expected {name} to be a finite number, but found {value!r}")
    if value < 0 or (positive and value == 0):
        raise InvalidInputError(f"{owner}: expected {name} {'> 0' if positive else '>= 0'}, but found {value!r}")
    return float(value)


def check_instance(owner: str, name: str, value: Any) -> Any:
    """Refuse a class where an object is expected (``target=AdaptiveTarget``
    instead of ``AdaptiveTarget()``): a class has the methods, so it would pass
    a duck-typing check and fail deep in the first backward pass."""
    if isinstance(value, type):
        raise InvalidInputError(
            f"{owner}: {name}={value.__name__} is a class, not an object; pass an instance: {value.__name__}()"
        )
    return value


def check_negative(owner: str, negative: Any) -> str:
    if negative not in NEGATIVE_MODES:
        raise InvalidInputError(f"{owner}: expected negative in {NEGATIVE_MODES}, but found {negative!r}")
    return negative


def refuse_unknown_options(owner: str, given: Mapping[str, Any], accepted: Iterable[str]) -> None:
    """Raise for keyword options ``owner`` does not take; a target's parameter
    (``lambda_=5``) is pointed to the target (``target=PerturbedTarget(lambda_=5)``)."""
    if not given:
        return
    accepted = list(accepted)
    problems = []
    for key, value in given.items():
        if key == "lambda_" or key == "alpha":
            problems.append(f"{key} belongs to the target, not to {owner}: pass target=PerturbedTarget({key}={value!r})"
                            f"{' (or AdaptiveTarget(alpha=...) for AIMLE)' if key == 'alpha' else ''}")
        elif key in TARGET_OPTIONS:
            problems.append(f"{key} belongs to the adaptive target, not to {owner}: pass "
                            f"target=AdaptiveTarget({key}={value!r})")
        else:
            close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.6)
            problems.append(f"unknown option {key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise InvalidInputError(f"{owner}: {'; '.join(problems)}. Its options: {', '.join(accepted)}")
