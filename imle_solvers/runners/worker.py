"""The work of one chunk, and the bootstrap of a worker process.

:func:`_solve_chunk` solves a chunk wherever it runs (the calling thread, a
pool thread, a worker process, a Dask worker) and never raises: it returns
the solutions or the failure, so that a pool carries a solver's exception
back as data. Oracles travel to worker processes as an :class:`_OracleHandle`
(the oracle serialised by value with cloudpickle, deserialised once per
worker); :func:`_worker_init` sets up every worker process.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import threading
import time
import traceback
from typing import Any

import numpy as np

from .._batch import InstanceFailure
from ..errors import ImleSolversError, OracleError

_WORKER_ORACLES: dict[str, Any] = {}
_WORKER_ORACLES_LOCK = threading.Lock()


class _OracleHandle:
    """A picklable reference to an oracle.

    It travels as the oracle serialised by value with cloudpickle (so oracles
    defined in ``__main__`` or a notebook work too) and is deserialised once
    per worker process, then looked up by token — inside :func:`_solve_chunk`,
    which counts that one-off load in the chunk's own time, so that it is not
    mistaken for the pool's round trip.
    """

    __slots__ = ("token", "payload")

    def __init__(self, token: str, payload: bytes):
        self.token = token
        self.payload = payload

    def __reduce__(self):
        return (_OracleHandle, (self.token, self.payload))

    def load(self):
        """The oracle, deserialised on this process's first use of the token."""
        return _load_oracle(self.token, self.payload)


def _load_oracle(token: str, payload: bytes):
    with _WORKER_ORACLES_LOCK:
        oracle = _WORKER_ORACLES.get(token)
        if oracle is None:
            oracle = pickle.loads(payload)
            if len(_WORKER_ORACLES) > 64:  # bound the cache in long-lived workers
                _WORKER_ORACLES.pop(next(iter(_WORKER_ORACLES)))
            _WORKER_ORACLES[token] = oracle
    return oracle


def _handle(oracle) -> _OracleHandle:
    """Serialise the oracle by value; the token is a digest of the bytes, so a
    worker deserialises each distinct oracle state once."""
    import cloudpickle

    payload = cloudpickle.dumps(oracle)
    return _OracleHandle(hashlib.blake2b(payload, digest_size=16).hexdigest(), payload)


def _solve_chunk(oracle, theta: np.ndarray, data: dict[str, np.ndarray], budget: float | None,
                 portable: bool = True):
    """Solve one chunk; never raises. Returns ``("ok", solutions, seconds)``
    or ``("error", local_index, exception, traceback_text, seconds)``, where
    ``seconds`` is the chunk's time here (an oracle that arrives as an
    :class:`_OracleHandle` is loaded first, counted in it). With ``portable``
    (the result crosses a process boundary) an exception that cannot be
    pickled travels as a RuntimeError with its text; in-process callers get
    the exception itself."""
    start = time.perf_counter()
    try:
        if isinstance(oracle, _OracleHandle):
            oracle = oracle.load()
        solutions = oracle.solve_chunk(theta, **data)
        solutions = np.asarray(solutions)
        expected = (theta.shape[0], *oracle.output_event_shape(tuple(theta.shape[1:])))
        if solutions.shape != expected:
            raise OracleError(f"solve_chunk returned shape {solutions.shape}, expected {expected}")
        return ("ok", solutions, time.perf_counter() - start)
    except Exception as error:  # noqa: BLE001 - reported to the parent with its traceback
        text = traceback.format_exc()
        index = None
        if isinstance(error, InstanceFailure):
            index = error.index
            error = error.__cause__ if error.__cause__ is not None else error
        elif isinstance(error, OracleError):
            index = error.index
        carried = error
        if portable:
            try:
                pickle.dumps(error)
            except Exception:  # noqa: BLE001 - unpicklable exceptions travel as text
                carried = RuntimeError(f"{type(error).__name__}: {error}")
        return ("error", index, carried, text, time.perf_counter() - start)


def _worker_init(parent: int | None = None) -> None:
    """Run once in every worker process: one thread for BLAS, OpenMP, torch;
    a watchdog that ends the worker when ``parent`` (the pool's process) dies."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[variable] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        pass
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    # Die with the parent: a worker whose parent was killed must not linger. The
    # parent's pid comes from the parent: a worker that starts (imports) slowly
    # may run this after its parent died, when os.getppid() is already init's.
    if parent is None:
        parent = os.getppid()

    def watch_parent() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch_parent, name="imle-parent-watch", daemon=True).start()


def _ping(_: object = None) -> int:
    return os.getpid()


def _held_ping(seconds: float) -> int:
    """Answer after ``seconds``: while one worker holds a ping, the next goes
    to another worker that is ready — how a pool's start finds every worker."""
    time.sleep(seconds)
    return os.getpid()


def _check_not_bootstrapping() -> None:
    """Refuse to start a pool from a worker that is still importing the main
    module — the sign of a script without an ``if __name__ == "__main__":``
    guard, which would otherwise spawn workers recursively."""
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise ImleSolversError(
            "a process pool was requested while a worker process was still importing the main "
            "module. Your script calls an oracle with runner='processes' at import time: put "
            "that code under `if __name__ == \"__main__\":` (see the multiprocessing docs, "
            "'Safe importing of main module')."
        )
