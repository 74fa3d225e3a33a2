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
chunk (measured when the pool starts, once every worker has answered, as
the median of five warm round trips; refined on every pooled call, the
pool's start and an oracle's one-off load in a worker not counted). On
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

Layout
------
One module per concept: ``base`` (the :class:`Runner` class, the core
count, the daemon thread pool), ``worker`` (the work of one chunk and a
worker process's bootstrap), ``pool`` (what the pool runners share),
``serial``, ``threads``, ``processes``, ``executor`` (the runners),
``shared`` (``runner=`` values and the shared named pools), ``stats`` (the
per-oracle cost estimate) and ``dispatch`` (the adaptive rule and
:func:`execute`). Every name is importable from ``imle_solvers.runners``.
"""

from __future__ import annotations

# Besides the public names: plan_chunks (tests use it) and the private names
# of the single module this package replaced, for code that reached them
# there — and for pickles: an _OracleHandle reduces to _load_oracle.
from .base import (  # noqa: F401
    _LIVE_RUNNERS,
    Runner,
    _DaemonThreadPool,
    _shutdown_all,
    _timeout_error,
    default_workers,
)
from .dispatch import _split, _unwrap, execute, plan_chunks  # noqa: F401
from .executor import ExecutorRunner, _dask_client, _executor_workers, _exit_worker_soon  # noqa: F401
from .pool import _is_crash, _PoolRunner  # noqa: F401
from .processes import ProcessRunner
from .serial import SerialRunner
from .shared import _SHARED, _SHARED_LOCK, resolve_runner  # noqa: F401
from .stats import _Stats, _stats  # noqa: F401
from .threads import ThreadRunner
from .worker import (  # noqa: F401
    _WORKER_ORACLES,
    _WORKER_ORACLES_LOCK,
    _check_not_bootstrapping,
    _handle,
    _load_oracle,
    _OracleHandle,
    _ping,
    _solve_chunk,
    _worker_init,
)

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
