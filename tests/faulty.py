"""Solver functions that misbehave on purpose, for fault-injection tests.

Each behaves like a sign oracle (``z = 1[theta > 0]``) except on the
instance whose first entry equals its trigger value. ``kills``, ``exits``
and ``segfaults`` end the process they run in: use them only on runners
with worker processes.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np

RAISE_TRIGGER = 42.0
KILL_TRIGGER = 7.0
HANG_TRIGGER = 5.0
SHAPE_TRIGGER = 3.0
EXIT_TRIGGER = 11.0
SEGFAULT_TRIGGER = 13.0
UNPICKLABLE_TRIGGER = 17.0


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


def exits(theta):
    if theta[0] == EXIT_TRIGGER:
        os._exit(3)  # no cleanup, no exception: the process is simply gone
    return sign(theta)


def segfaults(theta):
    if theta[0] == SEGFAULT_TRIGGER:
        ctypes.string_at(0)  # reads address 0: SIGSEGV, a real crash in C
    return sign(theta)


class UnpicklableError(RuntimeError):
    """An exception that cannot cross a process boundary (it holds a lock)."""

    def __init__(self, message):
        super().__init__(message)
        self.lock = threading.Lock()


def raises_unpicklable(theta):
    if theta[0] == UNPICKLABLE_TRIGGER:
        raise UnpicklableError("injected failure that cannot be pickled")
    return sign(theta)


def kills_once(theta, *, marker):
    """SIGKILL on the trigger the first time only (``marker`` is a file path
    that records it): a transient crash such as an OOM kill."""
    if theta[0] == KILL_TRIGGER and not Path(marker).exists():
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return sign(theta)


def hangs_once(theta, *, marker):
    """Hangs on the trigger the first time only (``marker`` as above)."""
    if theta[0] == HANG_TRIGGER and not Path(marker).exists():
        Path(marker).touch()
        time.sleep(60)
    return sign(theta)


def hangs_briefly(theta):
    """Past a 1 s timeout, but back after 3 s (for runners that cannot kill it)."""
    if theta[0] == HANG_TRIGGER:
        time.sleep(3)
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
    time.sleep(0.01)  # well above a pool's round trip, even on a loaded machine
    return sign(theta)


def single_threaded(theta):
    """Sign oracle that fails unless BLAS/OpenMP run with one thread here."""
    from threadpoolctl import threadpool_info

    threads = {info["internal_api"]: info["num_threads"] for info in threadpool_info()}
    if any(count != 1 for count in threads.values()) or os.environ.get("OMP_NUM_THREADS") != "1":
        raise RuntimeError(f"worker runs with more than one thread: {threads}")
    return sign(theta)
