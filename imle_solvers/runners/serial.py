"""The serial runner: every instance in the calling thread."""

from __future__ import annotations

import concurrent.futures as cf
import threading

from .base import Runner, _DaemonThreadPool, _timeout_error
from .worker import _solve_chunk


class SerialRunner(Runner):
    """Solves every instance in the calling thread.

    With a ``timeout`` the call runs on a helper thread so that the caller
    gets :class:`OracleTimeoutError` at the deadline (the solver itself cannot
    be interrupted and finishes in the background).

    Example:
        >>> import numpy as np
        >>> from imle_solvers import SerialRunner, get_oracle
        >>> get_oracle("onehot", runner=SerialRunner())(np.array([[1.0, 3.0], [2.0, 0.0]]))
        array([[0., 1.],
               [1., 0.]])
    """

    def __init__(self):
        self._helper: _DaemonThreadPool | None = None
        self._lock = threading.Lock()

    def map_chunks(self, oracle, chunks, timeout):
        if timeout is None:
            return [_solve_chunk(oracle, theta, data, None, False) for theta, data in chunks]
        with self._lock:
            if self._helper is None:
                self._helper = _DaemonThreadPool(1, "imle-serial")
            helper = self._helper
        future = helper.submit(lambda: [_solve_chunk(oracle, theta, data, timeout, False) for theta, data in chunks])
        try:
            return future.result(timeout=timeout)
        except cf.TimeoutError:
            with self._lock:  # the stuck helper is abandoned; the next call gets a new one
                if self._helper is helper:
                    self._helper = None
            helper.shutdown(wait=False, cancel_futures=True)
            raise _timeout_error(oracle) from None

    def close(self):
        with self._lock:
            helper, self._helper = self._helper, None
        if helper is not None:
            helper.shutdown(wait=False, cancel_futures=True)

    def __repr__(self):
        return "SerialRunner()"
