"""How a batch of instances is executed: serially, on threads, on processes,
or on any :class:`concurrent.futures.Executor` (a Dask cluster included).

A runner splits the flattened batch ``(n, *event)`` into contiguous chunks —
one per worker — solves them, and puts the results back in order. Pools are
created on first use, kept alive between calls and shut down at exit.

Choosing a runner
-----------------
``runner=`` on :func:`~imle_solvers.get_oracle` (or :meth:`Oracle.configure`)
accepts:

* ``"serial"`` (default) — a plain loop in the calling thread.
* ``"threads"`` — a persistent thread pool; pays off when the solver releases
  the GIL (OR-Tools CP-SAT, scipy's linear_sum_assignment, HiGHS, compiled
  numba kernels).
* ``"processes"`` or an int ``w`` — a persistent pool of ``w`` worker
  processes (spawned, never forked, so it is safe beside torch's threads);
  every worker runs with one BLAS/OpenMP/torch thread. ``1`` means serial.
* any :class:`concurrent.futures.Executor` — e.g. Dask's
  ``client.get_executor()`` to spread the solves over a cluster. The library
  does not own it and never shuts it down.

Adaptive dispatch
-----------------
A pool costs a round trip per chunk (about 0.1–0.3 ms for processes, 10 ms
for a Dask cluster) plus the pickling of the data. Pool runners therefore
keep, per oracle, a running estimate of the solve time per instance and run
a call in the calling thread when the pool cannot win::

    use the pool  iff  n * t * (1 - 1/w)  >  2 * overhead

where ``n`` is the batch size, ``t`` the estimated seconds per instance,
``w`` the number of workers and ``overhead`` the measured round-trip of one
chunk (measured when the pool starts and refined on every pooled call). On
the first call of an oracle ``t`` is unknown: the runner solves chunks of 1,
2, 4, ... instances in the calling thread until the time spent reaches
``2 * overhead`` — a cheap batch is finished by then, an expensive one has
told what an instance costs — and hands the rest to the pool if the rule
says so. At most about two round trips are lost to the probe. Pass
``adaptive=False`` to a runner class to always use the pool — a single
chunk, a single instance and a one-worker pool included, so that a solver
that may crash never runs in the caller's process.

Failures
--------
* a solver exception on instance ``i`` → :class:`OracleError` (or the
  solver's own subclass, e.g. :class:`InfeasibleError`) naming the oracle and
  ``i``, with the original exception chained as ``__cause__`` (from a worker
  process: the unpickled exception with the worker's traceback as a note;
  one that cannot be pickled travels as a ``RuntimeError`` with its text); a
  solver that returns the wrong shape → :class:`OracleError` likewise;
* a worker process that dies (killed, out of memory, segfault, ``os._exit``)
  → :class:`WorkerCrashedError`; the pool is discarded and the next call
  starts a fresh one. A worker that died while the pool was idle costs
  nothing: the pool is replaced before the call is submitted. On the serial
  and thread runners such a crash takes the caller's process with it — use
  processes (or Dask) for solvers that may crash;
* a call past ``timeout`` seconds → :class:`OracleTimeoutError`. Worker
  processes are killed (and replaced on the next call). Threads cannot be
  killed in Python: on the serial and thread runners the caller gets the
  error at the deadline while a solver that never returns keeps its (daemon)
  thread busy in the background. A user-supplied executor's tasks are
  cancelled where the executor allows it; on Dask the workers still running
  the call's chunks are restarted (see :class:`ExecutorRunner`, which also
  describes how Dask reruns the tasks of a worker that died);
* a task the executor cancelled on its own (a Dask cluster restart) →
  :class:`WorkerCrashedError`.

No failure leaves a result silently missing: a call returns every solution
or raises. docs/failure_modes.md lists every error with its causes.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import hashlib
import multiprocessing
import os
import pickle
import queue
import threading
import time
import traceback
import uuid
import warnings
import weakref
from typing import Any

import numpy as np

from .errors import (
    ImleSolversError,
    ImleSolversWarning,
    InvalidInputError,
    OracleError,
    OracleTimeoutError,
    WorkerCrashedError,
)
from .oracles.base import InstanceFailure

__all__ = [
    "Runner",
    "SerialRunner",
    "ThreadRunner",
    "ProcessRunner",
    "ExecutorRunner",
    "resolve_runner",
    "execute",
    "default_workers",
]


def default_workers() -> int:
    """The number of CPU cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------- #
# Work that runs in the workers
# ---------------------------------------------------------------------- #
_WORKER_ORACLES: dict[str, Any] = {}
_WORKER_ORACLES_LOCK = threading.Lock()


class _OracleHandle:
    """A picklable reference to an oracle.

    It travels as the oracle serialised by value with cloudpickle (so oracles
    defined in ``__main__`` or a notebook work too) and is deserialised once
    per worker process, then looked up by token.
    """

    __slots__ = ("token", "payload")

    def __init__(self, token: str, payload: bytes):
        self.token = token
        self.payload = payload

    def __reduce__(self):
        return (_load_oracle, (self.token, self.payload))


def _load_oracle(token: str, payload: bytes):
    with _WORKER_ORACLES_LOCK:
        oracle = _WORKER_ORACLES.get(token)
        if oracle is None:
            oracle = pickle.loads(payload)
            if len(_WORKER_ORACLES) > 64:  # bound the cache in long-lived workers
                _WORKER_ORACLES.pop(next(iter(_WORKER_ORACLES)))
            _WORKER_ORACLES[token] = oracle
    return oracle


def _solve_chunk(oracle, theta: np.ndarray, data: dict[str, np.ndarray], budget: float | None,
                 portable: bool = True):
    """Solve one chunk; never raises. Returns ``("ok", solutions, seconds)``
    or ``("error", local_index, exception, traceback_text, seconds)``. With
    ``portable`` (the result crosses a process boundary) an exception that
    cannot be pickled travels as a RuntimeError with its text; in-process
    callers get the exception itself."""
    start = time.perf_counter()
    try:
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


# ---------------------------------------------------------------------- #
# Runners
# ---------------------------------------------------------------------- #
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


class _PoolRunner(Runner):
    """Shared logic of the pool runners: submit chunks, gather in order,
    translate pool failures, measure the round-trip overhead."""

    def __init__(self, workers: int | None, adaptive: bool):
        if workers is not None and (not isinstance(workers, int) or isinstance(workers, bool) or workers < 1):
            raise InvalidInputError(f"expected workers to be a positive int, but found {workers!r}")
        self.workers = workers or default_workers()
        self.adaptive = adaptive
        self._lock = threading.Lock()
        self._overhead: float | None = None

    @property
    def overhead(self) -> float:
        return self._overhead if self._overhead is not None else self._default_overhead

    _default_overhead = 1e-3

    def _record_overhead(self, seconds: float) -> None:
        if self._overhead is None:
            self._overhead = seconds
        else:  # exponential moving average, robust to one slow call
            self._overhead = 0.8 * self._overhead + 0.2 * seconds

    def _executor(self) -> cf.Executor:
        raise NotImplementedError

    def _discard(self, executor: cf.Executor, *, kill: bool) -> None:
        raise NotImplementedError

    def _payload(self, oracle):
        return oracle

    def _submit(self, executor: cf.Executor, target, theta: np.ndarray, data: dict, timeout: float | None):
        return executor.submit(_solve_chunk, target, theta, data, timeout, not self.in_process)

    def _release_hung(self, oracle, pending: set) -> None:
        """Called on a timeout, before the unfinished chunks are cancelled."""

    # Whether a pool found broken before anything was submitted may be
    # replaced at once (the runner owns it, and no work was lost).
    _replaceable = True
    _after_crash = (
        "The pool was discarded; the next call starts a fresh one. If this happened on the first call of a "
        "script, check that it has an `if __name__ == \"__main__\":` guard."
    )

    def _submit_all(self, oracle, target, chunks, timeout):
        for attempt in (1, 2):
            executor = self._executor()
            try:
                return executor, [self._submit(executor, target, theta, data, timeout) for theta, data in chunks]
            except (cf.BrokenExecutor, RuntimeError) as error:
                if isinstance(error, RuntimeError) and not isinstance(error, cf.BrokenExecutor) \
                        and "shutdown" not in str(error):
                    raise
                self._discard(executor, kill=True)
                # A worker died while the pool was idle (the OOM killer, say): nothing was
                # lost, so a pool of our own is replaced once instead of failing this call.
                if attempt == 1 and self._replaceable and isinstance(error, cf.BrokenExecutor):
                    continue
                raise WorkerCrashedError(
                    f"oracle {oracle.name!r}: the {self.kind} pool is not usable ({error}); it was discarded "
                    "and the next call starts a fresh one"
                ) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def map_chunks(self, oracle, chunks, timeout):
        target = self._payload(oracle)
        started = time.perf_counter()
        executor, futures = self._submit_all(oracle, target, chunks, timeout)
        done, pending = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_EXCEPTION)
        failed = [f for f in futures if f in done and not f.cancelled() and f.exception() is not None]
        cancelled = [f for f in futures if f in done and f.cancelled()]
        if failed or pending or cancelled:
            if pending and not failed:
                self._release_hung(oracle, pending)
            for future in futures:
                future.cancel()
            self._discard(executor, kill=True)
        if failed:
            error = failed[0].exception()
            del futures, done, pending, failed  # a retry must not find these tasks alive
            if _is_crash(error):
                raise WorkerCrashedError(
                    f"oracle {oracle.name!r}: a worker of the {self.kind} pool died while solving "
                    f"({type(error).__name__}: {error}). {self._after_crash}"
                ) from error
            raise OracleError(
                f"oracle {oracle.name!r}: the {self.kind} runner failed: {type(error).__name__}: {error}",
                oracle=oracle.name,
            ) from error
        if pending:
            raise _timeout_error(oracle)
        if cancelled:  # not by us: the executor dropped the task (a cluster restart, say)
            raise WorkerCrashedError(
                f"oracle {oracle.name!r}: the executor of the {self.kind} runner cancelled a chunk before it "
                "finished (was the cluster restarted or shut down?); no result was returned for this call"
            )
        results = [future.result() for future in futures]
        elapsed = time.perf_counter() - started
        busiest = max((r[-1] for r in results), default=0.0)
        self._record_overhead(max(elapsed - busiest, 0.0))
        return results

    kind = "pool"


def _is_crash(error: BaseException) -> bool:
    if isinstance(error, (cf.BrokenExecutor, EOFError, ConnectionError)):
        return True
    # Dask reports a worker that died repeatedly as KilledWorker.
    return type(error).__name__ in {"KilledWorker", "CommClosedError", "BrokenProcessPool"}


def _timeout_error(oracle) -> OracleTimeoutError:
    return OracleTimeoutError(
        f"oracle {oracle.name!r}: the call did not finish within timeout={oracle.timeout} s",
        oracle=oracle.name,
    )


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
                # Start every worker now and measure one round trip.
                try:
                    list(pool.map(_ping, range(self.workers)))
                    started = time.perf_counter()
                    pool.submit(_ping).result()
                except cf.BrokenExecutor as error:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise WorkerCrashedError(
                        f"the worker processes of {self!r} died while starting ({error}). The most common "
                        "cause is a script that calls an oracle at import time, without an "
                        "`if __name__ == \"__main__\":` guard; the workers' own error is printed above."
                    ) from error
                self._overhead = time.perf_counter() - started
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


def _handle(oracle) -> _OracleHandle:
    """Serialise the oracle by value; the token is a digest of the bytes, so a
    worker deserialises each distinct oracle state once."""
    import cloudpickle

    payload = cloudpickle.dumps(oracle)
    return _OracleHandle(hashlib.blake2b(payload, digest_size=16).hexdigest(), payload)


# ---------------------------------------------------------------------- #
# Shared pools, resolution and shutdown
# ---------------------------------------------------------------------- #
_LIVE_RUNNERS: weakref.WeakSet = weakref.WeakSet()
_SHARED: dict[tuple, Runner] = {}
_SHARED_LOCK = threading.Lock()


def resolve_runner(spec: Any) -> Runner:
    """Turn a ``runner=`` value into a :class:`Runner`.

    Named runners are shared process-wide, so every oracle configured with
    ``"processes"`` uses the same pool.
    """
    if isinstance(spec, Runner):
        return spec
    if isinstance(spec, cf.Executor):
        return ExecutorRunner(spec)
    if isinstance(spec, bool):
        raise InvalidInputError(f"expected runner to be a name, an int or an Executor, but found {spec!r}")
    if isinstance(spec, int):
        if spec < 1:
            raise InvalidInputError(f"expected a positive number of worker processes, but found runner={spec}")
        key: tuple = ("serial",) if spec == 1 else ("processes", spec)
    elif spec in ("serial", "threads", "processes"):
        key = (spec,)
    else:
        raise InvalidInputError(
            "expected runner to be 'serial', 'threads', 'processes', a positive int or a "
            f"concurrent.futures.Executor, but found {spec!r}"
        )
    with _SHARED_LOCK:
        runner = _SHARED.get(key)
        if runner is None:
            if key[0] == "serial":
                runner = SerialRunner()
            elif key[0] == "threads":
                runner = ThreadRunner()
            else:
                runner = ProcessRunner(key[1] if len(key) > 1 else None)
            _SHARED[key] = runner
    return runner


@atexit.register
def _shutdown_all() -> None:
    for runner in list(_LIVE_RUNNERS):
        try:
            runner.close()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass


# ---------------------------------------------------------------------- #
# Executing a batch
# ---------------------------------------------------------------------- #
class _Stats:
    """Running estimate of an oracle's solve time per instance."""

    __slots__ = ("seconds_per_instance",)

    def __init__(self):
        self.seconds_per_instance: float | None = None

    def update(self, seconds: float, count: int) -> None:
        if count <= 0:
            return
        sample = seconds / count
        current = self.seconds_per_instance
        if current is None or sample < 0.25 * current:
            # First sample, or a much cheaper one: one-off start-up costs (a
            # compiled kernel loading on the first call) must not keep a cheap
            # oracle on the pool for dozens of calls, so the estimate drops at once.
            self.seconds_per_instance = sample
        else:  # otherwise a moving average, robust to one slow call
            self.seconds_per_instance = 0.7 * current + 0.3 * sample


def _stats(oracle) -> _Stats:
    stats = oracle.__dict__.get("_stats")
    if stats is None:
        stats = oracle.__dict__["_stats"] = _Stats()
    return stats


def _split(n: int, parts: int) -> list[slice]:
    """``parts`` contiguous slices of ``range(n)`` whose sizes differ by at most one."""
    parts = max(1, min(parts, n))
    size, extra = divmod(n, parts)
    slices, start = [], 0
    for part in range(parts):
        stop = start + size + (part < extra)
        slices.append(slice(start, stop))
        start = stop
    return slices


def plan_chunks(oracle, runner: Runner, n: int) -> int:
    """How many chunks a batch of ``n`` instances is split into. An adaptive
    runner runs a single chunk in the calling thread; a runner with
    ``adaptive=False`` always uses its pool, a single chunk included (the
    isolation of worker processes is what a caller with a crash-prone
    solver asked for). See the module docstring for the rule."""
    if isinstance(runner, SerialRunner):
        return 1
    if not runner.adaptive:
        return max(1, min(n, runner.workers))
    if n <= 1 or runner.workers <= 1:
        return 1
    t = _stats(oracle).seconds_per_instance
    if t is None:
        return min(n, runner.workers)
    saving = n * t * (1.0 - 1.0 / runner.workers)
    if saving <= 2.0 * runner.overhead:
        return 1
    return min(n, runner.workers)


def execute(oracle, theta: np.ndarray, data: dict[str, np.ndarray], *, batch_shape: tuple[int, ...]) -> np.ndarray:
    """Solve the flattened batch ``theta`` ``(n, *event)`` with the oracle's
    runner and timeout; returns ``(n, *out_event)`` in order."""
    from .oracles.base import format_index

    runner = oracle.runner
    timeout = oracle.timeout
    if timeout is None and isinstance(runner, SerialRunner):  # the common case, kept lean
        return _unwrap(oracle, _solve_chunk(oracle, theta, data, None, False), 0, batch_shape, format_index)
    stats = _stats(oracle)
    n = theta.shape[0]
    pieces: list[np.ndarray] = []
    start = 0
    deadline = None if timeout is None else time.monotonic() + timeout

    if runner.adaptive and stats.seconds_per_instance is None and n > 1 and runner.workers > 1:
        # Probe in the calling thread with chunks of 1, 2, 4, ... instances until
        # the time spent would have paid for a pool round trip: a cheap batch
        # finishes here, an expensive one tells what an instance costs.
        serial = resolve_runner("serial")
        spent, size = 0.0, 1
        while start < n and spent < 2.0 * runner.overhead:
            stop = min(n, start + size)
            piece = [(theta[start:stop], {key: value[start:stop] for key, value in data.items()})]
            remaining = None if deadline is None else max(deadline - time.monotonic(), 1e-3)
            result = serial.map_chunks(oracle, piece, remaining)[0]
            pieces.append(_unwrap(oracle, result, start, batch_shape, format_index))
            spent += result[-1]
            start, size = stop, size * 2
        stats.update(spent, start)

    rest = n - start
    if rest:
        parts = plan_chunks(oracle, runner, rest)
        pooled = parts > 1 or not (runner.adaptive or isinstance(runner, SerialRunner))
        if not pooled and start == 0 and timeout is None:  # an adaptive runner kept a cheap call here: no slicing
            result = _solve_chunk(oracle, theta, data, None, False)
            stats.update(result[-1], n)
            return _unwrap(oracle, result, 0, batch_shape, format_index)
        active = runner if pooled else resolve_runner("serial")
        remaining = None if deadline is None else max(deadline - time.monotonic(), 1e-3)
        slices = _split(rest, parts)
        chunks = [
            (theta[start + s.start : start + s.stop], {k: v[start + s.start : start + s.stop] for k, v in data.items()})
            for s in slices
        ]
        results = active.map_chunks(oracle, chunks, remaining)
        for s, result in zip(slices, results):
            pieces.append(_unwrap(oracle, result, start + s.start, batch_shape, format_index))
        if pooled:
            stats.update(sum(r[-1] for r in results), rest)
        else:
            stats.update(results[0][-1], rest)
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=0)


def _unwrap(oracle, result: tuple, offset: int, batch_shape, format_index) -> np.ndarray:
    if result[0] == "ok":
        return result[1]
    _, local, error, text, _seconds = result
    flat = None if local is None else offset + int(local)
    index = None if flat is None else format_index(flat, batch_shape)
    where = f"batch index {index}" if index is not None else f"a chunk starting at flat index {offset}"
    if isinstance(error, OracleTimeoutError):
        cls = OracleTimeoutError
    elif isinstance(error, OracleError):
        cls = type(error)
    else:
        cls = OracleError
    message = str(error) if isinstance(error, OracleError) else f"{type(error).__name__}: {error}"
    wrapped = cls(f"oracle {oracle.name!r} failed on {where}: {message}", oracle=oracle.name, index=index)
    if isinstance(error, BaseException) and hasattr(error, "add_note") and text:
        if not any("worker traceback" in note for note in getattr(error, "__notes__", [])):
            error.add_note("worker traceback:\n" + text)
    raise wrapped from error
