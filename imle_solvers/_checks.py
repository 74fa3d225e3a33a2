"""Argument checks shared by the torch estimators and the TensorFlow front end.

Framework-free (numpy only), so that :mod:`imle_solvers.tf` uses them without
importing torch; every check raises :class:`~imle_solvers.errors.InvalidInputError`
naming its owner (``"IMLE"``, ``"Blackbox"``, ...).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import InvalidInputError

__all__ = ["sense_sign", "check_num_samples", "check_reduction", "check_number"]


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
