"""What the pool runners share: submit the chunks, gather them in order,
turn pool failures into errors, measure the round trip of a chunk."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time

import numpy as np

from ..errors import InvalidInputError, OracleError, WorkerCrashedError
from .base import Runner, _timeout_error, default_workers
from .worker import _solve_chunk


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
        self._executor()  # a pool that starts now: its start is not this call's round trip
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
