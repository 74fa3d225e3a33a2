"""The :class:`Runner` base class and what every runner shares: the number
of cores, the daemon thread pool, the timeout error, the shutdown at exit."""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import os
import queue
import threading
import weakref

import numpy as np

from ..errors import OracleTimeoutError


def default_workers() -> int:
    """The number of CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class Runner:
    """Executes chunks of a batch. Subclasses decide where.

    ``workers`` is the number of chunks a batch is split into at most;
    ``in_process`` runners share memory with the caller (no pickling).
    ``runner=`` values (``"serial"``, ``"threads"``, ``"processes"``, an int,
    an executor) are turned into runners by :func:`resolve_runner`; named
    ones are shared by every oracle of the program.

    Example:
        >>> from imle_solvers import Runner, get_oracle
        >>> runner = get_oracle("topk", k=1, runner="serial").runner
        >>> isinstance(runner, Runner), runner.workers, runner.in_process
        (True, 1, True)
    """

    workers: int = 1
    in_process: bool = True
    adaptive: bool = False

    def map_chunks(self, oracle, chunks: list[tuple[np.ndarray, dict]], timeout: float | None) -> list[tuple]:
        """Run :func:`_solve_chunk` on every chunk; results in order."""
        raise NotImplementedError

    @property
    def overhead(self) -> float:
        """Seconds one pooled chunk costs beyond its solving (0 in-process)."""
        return 0.0

    def close(self) -> None:
        """Release the pool (it is recreated on the next call)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers})"


class _DaemonThreadPool(cf.Executor):
    """A minimal thread pool of daemon threads.

    ``concurrent.futures.ThreadPoolExecutor`` joins its threads at interpreter
    exit, so one solver that never returns would hang the program's exit
    after an :class:`OracleTimeoutError`. Daemon threads do not.
    """

    def __init__(self, workers: int, name: str):
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn, args = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as error:  # noqa: BLE001 - handed to the waiting caller
                    future.set_exception(error)
            # Drop the task and its result now: an idle daemon thread must not keep
            # tensors alive until interpreter shutdown (freeing them then can abort).
            del item, future, fn, args

    def submit(self, fn, /, *args, **kwargs):
        future: cf.Future = cf.Future()
        self._queue.put((future, (lambda *a: fn(*a, **kwargs)) if kwargs else fn, args))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


def _timeout_error(oracle) -> OracleTimeoutError:
    return OracleTimeoutError(
        f"oracle {oracle.name!r}: the call did not finish within timeout={oracle.timeout} s",
        oracle=oracle.name,
    )


_LIVE_RUNNERS: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    for runner in list(_LIVE_RUNNERS):
        try:
            runner.close()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass
