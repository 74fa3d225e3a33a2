"""Fault injection in every runner.

A solver that raises on one instance, raises something unpicklable, returns
the wrong shape, hangs past ``timeout``, or takes its process down (SIGKILL,
``os._exit``, a real segfault). Each gives its documented error within the
timeout plus a margin; the runner recovers and the next calls are correct;
no worker process outlives its runner (the process table is checked with
psutil).

What each runner survives (docs/failure_modes.md has the same table):

=============  =============  ===========  ====================================
runner         raise / shape  hang         kill / exit / segfault
=============  =============  ===========  ====================================
serial         OracleError    Timeout [1]  not survivable: it is the caller
threads        OracleError    Timeout [1]  not survivable: same process
processes      OracleError    Timeout [2]  WorkerCrashedError; fresh pool next
Dask executor  OracleError    Timeout [3]  rerun elsewhere; KilledWorker after
                                           allowed-failures -> WorkerCrashed
=============  =============  ===========  ====================================

[1] at the deadline; the solver's (daemon) thread cannot be killed and stays
busy until it returns. [2] the workers are killed; a fresh pool next call.
[3] the worker running the chunk is killed, its nanny starts a new one.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
import psutil
import pytest

import imle_solvers as im
from imle_solvers.oracles import FunctionOracle
from tests import faulty

HANG_TIMEOUT = 1.0  # the timeout of the hang tests
SAFETY_TIMEOUT = 60.0  # of the other tests: a bug gives an error instead of a stuck test
MARGIN = 4.0  # on top of the timeout: killing and joining workers, on a loaded 2-core machine
CRASH_BOUND = {"processes": 5.0, "dask": 20.0}  # seconds to a WorkerCrashedError (Dask reruns 3 times)


@dataclass(frozen=True)
class Fault:
    solver: object
    trigger: float
    error: type
    match: str
    crashes: bool = False  # ends the process it runs in


FAULTS = {
    "raise": Fault(faulty.raises, faulty.RAISE_TRIGGER, im.OracleError,
                   r"oracle 'raise' failed on batch index \(2, 1\): ZeroDivisionError: injected failure"),
    "unpicklable": Fault(faulty.raises_unpicklable, faulty.UNPICKLABLE_TRIGGER, im.OracleError,
                         r"batch index \(2, 1\): .*UnpicklableError: injected failure that cannot be pickled"),
    "wrong_shape": Fault(faulty.wrong_shape, faulty.SHAPE_TRIGGER, im.OracleError,
                         r"batch index \(2, 1\): solve returned an array of shape \(4,\), but the expected shape is \(5,\)"),
    "hang": Fault(faulty.hangs, faulty.HANG_TRIGGER, im.OracleTimeoutError,
                  r"oracle 'hang': the call did not finish within timeout=1.0 s"),
    "sigkill": Fault(faulty.kills, faulty.KILL_TRIGGER, im.WorkerCrashedError, r"oracle 'sigkill': a worker .* died",
                     crashes=True),
    "exit": Fault(faulty.exits, faulty.EXIT_TRIGGER, im.WorkerCrashedError, r"oracle 'exit': a worker .* died",
                  crashes=True),
    "segfault": Fault(faulty.segfaults, faulty.SEGFAULT_TRIGGER, im.WorkerCrashedError,
                      r"oracle 'segfault': a worker .* died", crashes=True),
}
KINDS = ["serial", "threads", "processes", "dask"]
IN_PROCESS = {"serial", "threads"}
MATRIX = [(kind, fault) for kind in KINDS for fault in FAULTS if not (FAULTS[fault].crashes and kind in IN_PROCESS)]


# ---------------------------------------------------------------------- #
# The process table
# ---------------------------------------------------------------------- #
def live_children() -> set[int]:
    """Pids of this process's live descendants, except multiprocessing's
    resource tracker (one per interpreter, started on first use)."""
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE or "resource_tracker" in " ".join(child.cmdline()):
                continue
        except psutil.Error:
            continue
        pids.add(child.pid)
    return pids


def settle(predicate, seconds=15.0):
    """Poll ``predicate`` until it holds or ``seconds`` pass; its last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture
def no_orphans():
    """Fails the test when a process it started is still alive after it."""
    before = live_children()
    yield
    leftover = settle(lambda: not (live_children() - before), seconds=10.0)
    assert leftover, f"orphan worker processes: {sorted(live_children() - before)}"


@pytest.fixture(scope="module")
def dask_cluster():
    import dask
    import distributed  # the dev extra installs it
    before = live_children()
    # One rerun after a worker dies (Dask's default is 3): a crash that recurs ends in KilledWorker
    # after two deaths instead of four; the behaviour is the same, the test is faster.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.CRITICAL)
    client = distributed.Client(cluster)
    yield client, before
    client.close()
    cluster.close()
    assert settle(lambda: not (live_children() - before), seconds=10.0), "Dask left worker processes behind"


def dask_worker_processes(before) -> set[int]:
    return live_children() - before


def make_runner(kind, request):
    if kind == "serial":
        return im.SerialRunner()
    if kind == "threads":
        return im.ThreadRunner(2, adaptive=False)
    if kind == "processes":
        return im.ProcessRunner(2, adaptive=False)
    client, _ = request.getfixturevalue("dask_cluster")
    return im.ExecutorRunner(client.get_executor(), adaptive=False)


# ---------------------------------------------------------------------- #
# The matrix
# ---------------------------------------------------------------------- #
LOCAL = [(kind, fault) for kind, fault in MATRIX if kind != "dask"]
DASK = [fault for kind, fault in MATRIX if kind == "dask"]


@pytest.mark.parametrize("kind, fault", LOCAL, ids=[f"{k}-{f}" for k, f in LOCAL])
def test_fault_gives_its_error_in_time_and_the_runner_recovers(kind, fault, request, no_orphans):
    check_fault(kind, fault, request)


@pytest.mark.parametrize("fault", DASK)
def test_fault_on_dask_gives_its_error_in_time_and_the_cluster_recovers(fault, request, dask_cluster):
    check_fault("dask", fault, request)


def check_fault(kind, fault, request):
    spec = FAULTS[fault]
    runner = make_runner(kind, request)
    timeout = HANG_TIMEOUT if fault == "hang" else SAFETY_TIMEOUT
    oracle = FunctionOracle(spec.solver, name=fault).configure(runner=runner, timeout=timeout)
    theta = np.random.default_rng(7).normal(size=(3, 4, 5))
    try:
        np.testing.assert_array_equal(oracle(theta), faulty.sign(theta))  # the pool is up
        workers_before = set(runner.worker_pids()) if kind == "processes" else set()
        bad = theta.copy()
        bad[2, 1, 0] = spec.trigger
        start = time.monotonic()
        with pytest.raises(spec.error, match=spec.match) as info:
            oracle(bad)
        elapsed = time.monotonic() - start
        bound = HANG_TIMEOUT + MARGIN if fault == "hang" else CRASH_BOUND.get(kind, 2.0)
        assert elapsed < bound, f"{kind}/{fault}: the error took {elapsed:.1f} s (bound {bound} s)"
        if spec.error is im.OracleError:
            assert info.value.index == (2, 1) and info.value.oracle == fault
            cause = {"raise": ZeroDivisionError, "wrong_shape": im.OracleError,
                     "unpicklable": faulty.UnpicklableError if kind in IN_PROCESS else RuntimeError}[fault]
            assert isinstance(info.value.__cause__, cause), repr(info.value.__cause__)
        del info

        for shift in (0.5, -0.5):  # recovered: correct answers, promptly
            start = time.monotonic()
            np.testing.assert_array_equal(oracle(theta + shift), faulty.sign(theta + shift))
            assert time.monotonic() - start < 30, f"{kind}/{fault}: the next call took too long"

        if kind == "processes" and (spec.crashes or fault == "hang"):
            assert set(runner.worker_pids()).isdisjoint(workers_before)  # a fresh pool
            assert not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
                           for pid in workers_before), "the old workers are still alive"
        if kind == "dask":  # the nannies replace dead workers: two again, no more
            _, before = request.getfixturevalue("dask_cluster")
            assert settle(lambda: len(dask_worker_processes(before)) == 2), dask_worker_processes(before)
        if kind in IN_PROCESS:  # an abandoned solver thread must not block the interpreter's exit
            assert all(t.daemon for t in threading.enumerate() if t.name.startswith("imle-"))
    finally:
        if kind != "dask":
            runner.close()


# ---------------------------------------------------------------------- #
# Beyond the matrix
# ---------------------------------------------------------------------- #
def test_a_worker_killed_while_idle_does_not_fail_the_next_call(no_orphans):
    runner = im.ProcessRunner(2, adaptive=False)
    oracle = FunctionOracle(faulty.sign).configure(runner=runner)
    theta = np.random.default_rng(3).normal(size=(8, 4))
    try:
        oracle(theta)
        victim = psutil.Process(runner.worker_pids()[0])
        victim.kill()  # the OOM killer, between two calls
        victim.wait(5)
        assert settle(lambda: getattr(runner._pool, "_broken", False), seconds=5.0)  # the pool has noticed
        np.testing.assert_array_equal(oracle(theta), faulty.sign(theta))  # nothing was lost: no error
        assert victim.pid not in runner.worker_pids()
    finally:
        runner.close()


def test_dask_reruns_a_one_off_crash_on_another_worker(dask_cluster, tmp_path):
    client, before = dask_cluster
    solver = functools.partial(faulty.kills_once, marker=str(tmp_path / "killed"))
    oracle = FunctionOracle(solver, name="oom_once").configure(
        runner=im.ExecutorRunner(client.get_executor(), adaptive=False), timeout=SAFETY_TIMEOUT)
    theta = np.random.default_rng(5).normal(size=(6, 3))
    theta[4, 0] = faulty.KILL_TRIGGER
    np.testing.assert_array_equal(oracle(theta), faulty.sign(theta))  # no error: Dask reran the chunk
    assert (tmp_path / "killed").exists()  # a worker did die
    assert settle(lambda: len(dask_worker_processes(before)) == 2)


def test_dask_retry_after_a_timeout_runs_afresh(dask_cluster, tmp_path):
    client, before = dask_cluster
    solver = functools.partial(faulty.hangs_once, marker=str(tmp_path / "hung"))
    oracle = FunctionOracle(solver, name="hang_once").configure(
        runner=im.ExecutorRunner(client.get_executor(), adaptive=False), timeout=HANG_TIMEOUT)
    theta = np.random.default_rng(6).normal(size=(6, 3))
    theta[1, 0] = faulty.HANG_TRIGGER
    with pytest.raises(im.OracleTimeoutError) as info:
        oracle(theta)
    # The same batch again, with the first error still referenced (as a training loop that logs it
    # would): it must be solved afresh, not handed the hung task back.
    np.testing.assert_array_equal(oracle(theta), faulty.sign(theta))
    assert info.value.oracle == "hang_once"
    assert settle(lambda: len(dask_worker_processes(before)) == 2)


class _CancellingExecutor(cf.Executor):
    """An executor that drops every task, as a Dask cluster restart does."""

    def submit(self, fn, /, *args, **kwargs):
        future = cf.Future()
        future.cancel()
        future.set_running_or_notify_cancel()  # what Dask's ClientExecutor does for a cancelled task
        return future


def test_a_task_cancelled_by_the_executor_is_reported_not_lost():
    oracle = FunctionOracle(faulty.sign, name="dropped").configure(
        runner=im.ExecutorRunner(_CancellingExecutor(), workers=2, adaptive=False))
    with pytest.raises(im.WorkerCrashedError, match="oracle 'dropped': the executor .* cancelled a chunk"):
        oracle(np.ones((4, 3)))


POOL_THEN_WAIT = """
import sys, time
import numpy as np
import imle_solvers as im
from imle_solvers.oracles import FunctionOracle

def sign(theta):
    return (theta > 0).astype(float)

if __name__ == "__main__":
    runner = im.ProcessRunner(2, adaptive=False)
    FunctionOracle(sign).configure(runner=runner)(np.ones((4, 3)))
    print(" ".join(map(str, runner.worker_pids())), flush=True)
    time.sleep(120)
"""


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    import os
    import subprocess
    import sys

    script = tmp_path / "parent.py"
    script.write_text(POOL_THEN_WAIT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        workers = [psutil.Process(int(pid)) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2
        parent.kill()  # SIGKILL: no atexit, no pool shutdown
        parent.wait(10)
        gone, alive = psutil.wait_procs(workers, timeout=10)  # the workers' watchdog notices within ~0.5 s
        assert not alive, f"orphans: {[p.pid for p in alive]}"
    finally:
        parent.kill()
        parent.stdout.close()


@pytest.mark.filterwarnings("ignore:Port .* is already in use:UserWarning")  # an in-process worker's own server
def test_dask_workers_without_a_nanny_are_left_alone_with_a_warning():
    import distributed  # the dev extra installs it
    # processes=False: the workers are threads of this process, with no nanny; killing one would kill us
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as cluster, distributed.Client(cluster) as client:
        oracle = FunctionOracle(faulty.hangs_briefly, name="hang_inproc").configure(
            runner=im.ExecutorRunner(client.get_executor(), adaptive=False), timeout=HANG_TIMEOUT)
        theta = np.ones((4, 2))
        theta[1, 0] = faulty.HANG_TRIGGER
        with pytest.warns(im.ImleSolversWarning, match="no nanny to restart them"):
            with pytest.raises(im.OracleTimeoutError, match="oracle 'hang_inproc'"):
                oracle(theta)
        np.testing.assert_array_equal(oracle(np.ones((4, 2))), np.ones((4, 2)))  # the free thread still works
