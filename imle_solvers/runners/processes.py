"""The process runner: a persistent pool of spawned worker processes."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import statistics
import time

from ..errors import InvalidInputError, WorkerCrashedError
from .base import _LIVE_RUNNERS
from .pool import _PoolRunner
from .worker import _check_not_bootstrapping, _handle, _held_ping, _ping, _worker_init


class ProcessRunner(_PoolRunner):
    """A persistent pool of worker processes.

    Workers are started with ``start_method`` (``"spawn"`` by default: never
    fork a process that may hold torch's threads) and run with one
    BLAS/OpenMP/torch thread each. Oracles travel serialised by value
    (cloudpickle), once per worker. The pool starts on the first call that
    needs it; a script that uses it needs an ``if __name__ == "__main__":``
    guard, as any multiprocessing code.

    Args:
        workers: processes (default: the cores this process may use).
        adaptive: decide per call whether the pool can beat the calling
            thread; ``False`` always uses the pool.
        start_method: a :mod:`multiprocessing` start method.

    Example:
        A batch this cheap is solved in the calling thread (the adaptive
        rule), so no process is started:

        >>> import numpy as np
        >>> from imle_solvers import ProcessRunner, get_oracle
        >>> runner = ProcessRunner(2)
        >>> get_oracle("matching", runner=runner)(np.eye(3)[None]).shape
        (1, 3, 3)
        >>> runner.worker_pids()
        []
        >>> runner.close()
    """

    kind = "process"
    in_process = False
    _default_overhead = 5e-4

    def __init__(self, workers: int | None = None, *, adaptive: bool = True, start_method: str = "spawn"):
        super().__init__(workers, adaptive)
        if start_method not in multiprocessing.get_all_start_methods():
            raise InvalidInputError(
                f"expected start_method in {multiprocessing.get_all_start_methods()}, but found {start_method!r}"
            )
        self.start_method = start_method
        self._pool: cf.ProcessPoolExecutor | None = None
        _LIVE_RUNNERS.add(self)

    def _executor(self):
        with self._lock:
            if self._pool is None:
                _check_not_bootstrapping()
                pool = cf.ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context(self.start_method),
                    initializer=_worker_init,
                    initargs=(os.getpid(),),
                )
                try:
                    overhead = _start_workers(pool, self.workers)
                except cf.BrokenExecutor as error:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise WorkerCrashedError(
                        f"the worker processes of {self!r} died while starting ({error}). The most common "
                        "cause is a script that calls an oracle at import time, without an "
                        "`if __name__ == \"__main__\":` guard; the workers' own error is printed above."
                    ) from error
                self._overhead = overhead
                self._pool = pool
            return self._pool

    def _payload(self, oracle):
        return _handle(oracle)

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (empty before the first pooled call)."""
        pool = self._pool
        if pool is None:
            return []
        return [p.pid for p in list(getattr(pool, "_processes", {}).values())]

    def _discard(self, executor, *, kill):
        with self._lock:
            if self._pool is executor:
                self._pool = None
        processes = list((getattr(executor, "_processes", None) or {}).values())
        if kill:
            for process in processes:
                if process.is_alive():
                    process.kill()
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.join(timeout=5)
        if kill:  # the workers are gone: let the executor release its queues
            executor.shutdown(wait=True)

    def close(self):
        with self._lock:
            pool = self._pool
        if pool is not None:
            self._discard(pool, kill=False)
            pool.shutdown(wait=True)

    def __repr__(self):
        return f"ProcessRunner(workers={self.workers}, start_method={self.start_method!r})"


# How long a pool's start waits for its slowest worker's first answer before
# it measures the round trip without it (a spawned worker imports the main
# module: seconds for a script that imports torch on a busy machine).
_START_WAIT = 120.0


def _start_workers(pool: cf.ProcessPoolExecutor, workers: int) -> float:
    """Start every worker of ``pool`` and return a warm round trip.

    The pool answers as soon as one worker is up, while the others may still
    be importing; a round trip measured then, or a first call whose chunks
    wait for a booting worker, counts seconds of start-up as overhead (the
    adaptive rule then keeps every fresh oracle's first instances in the
    caller). So: pings that hold their worker 10 ms, until every worker has
    answered one, then the median of five round trips of a warm worker.
    """
    seen: set[int] = set()
    deadline = time.monotonic() + _START_WAIT
    while len(seen) < workers and time.monotonic() < deadline:
        seen.update(pool.map(_held_ping, [0.01] * workers))
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        pool.submit(_ping).result()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)
