"""Solver functions that misbehave on purpose, for fault-injection tests.

Each behaves like a sign oracle (``z = 1[theta > 0]``) except on the
instance whose first entry equals its trigger value.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np

RAISE_TRIGGER = 42.0
KILL_TRIGGER = 7.0
HANG_TRIGGER = 5.0
SHAPE_TRIGGER = 3.0


def sign(theta: np.ndarray) -> np.ndarray:
    return (theta > 0).astype(np.float64)


def raises(theta):
    if theta[0] == RAISE_TRIGGER:
        raise ZeroDivisionError("injected failure")
    return sign(theta)


def kills(theta):
    if theta[0] == KILL_TRIGGER:
        os.kill(os.getpid(), signal.SIGKILL)
    return sign(theta)


def hangs(theta):
    if theta[0] == HANG_TRIGGER:
        time.sleep(60)
    return sign(theta)


def wrong_shape(theta):
    if theta[0] == SHAPE_TRIGGER:
        return sign(theta)[:-1]
    return sign(theta)


def slow_sign(theta):
    time.sleep(0.002)
    return sign(theta)


def single_threaded(theta):
    """Sign oracle that fails unless BLAS/OpenMP run with one thread here."""
    from threadpoolctl import threadpool_info

    threads = {info["internal_api"]: info["num_threads"] for info in threadpool_info()}
    if any(count != 1 for count in threads.values()) or os.environ.get("OMP_NUM_THREADS") != "1":
        raise RuntimeError(f"worker runs with more than one thread: {threads}")
    return sign(theta)
