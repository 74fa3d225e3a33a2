"""The thread runner: a persistent pool of daemon threads in this process."""

from __future__ import annotations

from .base import _LIVE_RUNNERS, _DaemonThreadPool
from .pool import _PoolRunner


class ThreadRunner(_PoolRunner):
    """A persistent pool of threads in this process. No pickling; pays off
    for solvers that release the GIL (OR-Tools, HiGHS, scipy's
    ``linear_sum_assignment``, the compiled grid and knapsack kernels).

    Args:
        workers: threads (default: the cores this process may use).
        adaptive: decide per call whether the pool can beat the calling
            thread (see :mod:`imle_solvers.runners`); ``False`` always uses
            the pool.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import ThreadRunner, get_oracle
        >>> runner = ThreadRunner(2)
        >>> scores = np.random.default_rng(0).normal(size=(8, 3, 3))
        >>> threaded = get_oracle("matching", runner=runner)
        >>> bool((threaded(scores) == get_oracle("matching")(scores)).all())
        True
        >>> runner.close()
    """

    kind = "thread"
    _default_overhead = 5e-5

    def __init__(self, workers: int | None = None, *, adaptive: bool = True):
        super().__init__(workers, adaptive)
        self._pool: _DaemonThreadPool | None = None
        _LIVE_RUNNERS.add(self)

    def _executor(self):
        with self._lock:
            if self._pool is None:
                self._pool = _DaemonThreadPool(self.workers, "imle-worker")
            return self._pool

    def _discard(self, executor, *, kill):
        with self._lock:
            if self._pool is executor:
                self._pool = None
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self):
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
