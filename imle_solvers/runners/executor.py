"""The executor runner: any :class:`concurrent.futures.Executor`, Dask's
``client.get_executor()`` included (keys of its own per chunk, hung workers
restarted at a timeout)."""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
import uuid
import warnings

from ..errors import ImleSolversWarning, InvalidInputError
from .base import default_workers
from .pool import _PoolRunner
from .worker import _handle, _solve_chunk


class ExecutorRunner(_PoolRunner):
    """Any :class:`concurrent.futures.Executor` — e.g. Dask's
    ``client.get_executor()``. The executor is the user's: it is never shut
    down here, and a timeout cancels the tasks it has not started.
    Passing the executor itself as ``runner=`` wraps it in this class.

    With a Dask executor (``distributed.Client.get_executor()``):

    * every chunk is submitted under a key of its own, so a call that is
      retried after a failure or a timeout runs afresh (Dask would
      otherwise hand back the earlier, failed or hung, task with the same
      arguments);
    * a worker that dies mid-task (killed, out of memory, segfault): the
      scheduler reruns its task on another worker, and the worker's nanny
      starts a new one. A one-off crash is therefore invisible; a crash that
      recurs on every worker ends, after
      ``distributed.scheduler.allowed-failures`` reruns (default 3), in
      Dask's ``KilledWorker``, raised as :class:`WorkerCrashedError`;
    * a timeout: Dask cannot stop a running task, and a solver that never
      returns would hold its worker's thread for good. With
      ``restart_hung_workers=True`` (default) the worker processes still
      running this call's chunks are killed at the deadline and their
      nannies start fresh ones (other tasks on those workers are rerun by
      Dask), then :class:`OracleTimeoutError` is raised. Workers without a
      nanny are left alone, with an :class:`ImleSolversWarning`.

    Args:
        executor: the executor.
        workers: how many chunks to split a batch into (default: the
            executor's worker count — for Dask, the cluster's threads,
            re-read every 10 s).
        adaptive: decide per call whether the pool can beat the calling
            thread; ``False`` always uses the executor.
        restart_hung_workers: see above (Dask only).

    Example:
        >>> import concurrent.futures, numpy as np
        >>> from imle_solvers import ExecutorRunner, get_oracle
        >>> with concurrent.futures.ThreadPoolExecutor(2) as executor:
        ...     runner = ExecutorRunner(executor, adaptive=False)
        ...     z = get_oracle("topk", k=1, runner=runner)(np.array([[0.0, 2.0, 1.0], [5.0, 0.0, 1.0]]))
        >>> runner.workers, z
        (2, array([[0., 1., 0.],
               [1., 0., 0.]]))
    """

    kind = "executor"
    in_process = False
    _default_overhead = 1e-2
    _replaceable = False  # not ours: a broken executor is reported, never replaced
    _after_crash = (
        "The executor is yours and stays up (a Dask nanny restarts a dead worker); the next call submits "
        "afresh. A solver that crashes on every worker shows here after Dask's allowed-failures reruns."
    )

    def __init__(self, executor: cf.Executor, *, workers: int | None = None, adaptive: bool = True,
                 restart_hung_workers: bool = True):
        if not isinstance(executor, cf.Executor):
            raise InvalidInputError(f"expected a concurrent.futures.Executor, but found {type(executor).__name__}")
        self._client = _dask_client(executor)
        self._pinned = workers is not None
        self._counted = time.monotonic()
        super().__init__(workers or _executor_workers(executor), adaptive)
        self.executor = executor
        self.in_process = isinstance(executor, cf.ThreadPoolExecutor)
        self.restart_hung_workers = bool(restart_hung_workers)

    @property
    def workers(self) -> int:
        """Chunks per batch: the ``workers`` given, else the executor's worker
        count — for Dask the cluster's threads, re-read every 10 s (clusters
        scale, and a worker may be restarting when the runner is made)."""
        if not self._pinned and self._client is not None and time.monotonic() - self._counted > 10.0:
            self._counted = time.monotonic()
            self._workers = _executor_workers(self.executor)
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    def _executor(self):
        return self.executor

    def _payload(self, oracle):
        return oracle if self.in_process else _handle(oracle)

    def _submit(self, executor, target, theta, data, timeout):
        if self._client is None:
            return super()._submit(executor, target, theta, data, timeout)
        key = f"imle-solve-chunk-{uuid.uuid4().hex}"  # Dask's submit keyword, not the solver's
        future = executor.submit(_solve_chunk, target, theta, data, timeout, key=key)
        future.imle_key = key
        return future

    def _release_hung(self, oracle, pending):
        client = self._client
        if client is None or not self.restart_hung_workers:
            return
        keys = [key for key in (getattr(future, "imle_key", None) for future in pending) if key is not None]
        workers: list[str] = []
        try:
            workers = sorted(client.call_stack(keys=keys))  # the workers executing these keys now
            import distributed

            # Cancel first (and wait for the scheduler), so that the kill does not make it rerun them.
            client.cancel([distributed.Future(key, client) for key in keys], force=True)
            if not workers:
                return
            info = client.scheduler_info().get("workers", {})
            unmanaged = [w for w in workers if not info.get(w, {}).get("nanny")]
            managed = [w for w in workers if w not in unmanaged]
            if managed:
                client.run(_exit_worker_soon, workers=managed, wait=False)
            if unmanaged:
                raise RuntimeError(f"workers {unmanaged} have no nanny to restart them")
        except Exception as error:  # noqa: BLE001 - the timeout is still reported; this is a warning
            warnings.warn(
                f"oracle {oracle.name!r}: could not restart the Dask workers running timed-out chunks "
                f"({workers}): {type(error).__name__}: {error}. A solver that never returns keeps its "
                "worker's thread busy.",
                ImleSolversWarning,
                stacklevel=5,
            )

    def _discard(self, executor, *, kill):
        pass  # not ours to shut down

    def __repr__(self):
        return f"ExecutorRunner({type(self.executor).__name__}, workers={self.workers})"


async def _exit_worker_soon() -> None:
    """Run on a Dask worker's event loop (its task threads may be busy): end
    the worker process at once; its nanny starts a fresh one."""
    import asyncio

    asyncio.get_running_loop().call_later(0.01, os._exit, 1)


def _dask_client(executor: cf.Executor):
    """The ``distributed.Client`` behind a Dask ``ClientExecutor``, else ``None``."""
    if type(executor).__module__.split(".")[0] != "distributed":
        return None
    return getattr(executor, "_client", None)


def _executor_workers(executor: cf.Executor) -> int:
    workers = getattr(executor, "_max_workers", None)
    if isinstance(workers, int) and workers > 0:
        return workers
    client = getattr(executor, "_client", None)  # dask.distributed.ClientExecutor
    if client is not None:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:  # noqa: BLE001 - a best guess is enough
            pass
    return default_workers()
