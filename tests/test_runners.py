"""Runners: same results everywhere, chunking, resolution, adaptive dispatch, worker
settings. Faults (errors, crashes, timeouts) are in tests/test_faults.py."""

import concurrent.futures as cf

import numpy as np
import pytest
import torch

import imle_solvers as im
from imle_solvers.oracles import FunctionOracle
from imle_solvers.runners import plan_chunks, resolve_runner
from tests import faulty

RUNNERS = {
    "serial": lambda: "serial",
    "threads": lambda: im.ThreadRunner(2, adaptive=False),
    "processes": lambda: im.ProcessRunner(2, adaptive=False),
    "executor": lambda: cf.ThreadPoolExecutor(3),
}


@pytest.fixture(scope="module")
def process_runner():
    runner = im.ProcessRunner(2, adaptive=False)
    yield runner
    runner.close()


def _theta(rng, n=23):
    return rng.normal(size=(n, 6))


@pytest.mark.parametrize("kind", sorted(RUNNERS))
def test_identical_results_on_every_runner(kind, rng):
    theta = _theta(rng).reshape(23, 1, 6)
    reference = im.get_oracle("topk", k=3)(theta)
    oracle = FunctionOracle(faulty.sign, name="sign").configure(runner=RUNNERS[kind]())
    np.testing.assert_array_equal(oracle(theta), faulty.sign(theta))
    cpu_topk = FunctionOracle(lambda t: im.get_oracle("topk", k=3)(t), name="topk_fn").configure(runner=RUNNERS[kind]())
    np.testing.assert_array_equal(cpu_topk(theta), reference)


@pytest.mark.parametrize("workers", [1, 2, 3, 5])
def test_results_do_not_depend_on_worker_count(workers, rng):
    theta = _theta(rng, 17)
    oracle = FunctionOracle(faulty.sign).configure(runner=im.ThreadRunner(workers, adaptive=False))
    np.testing.assert_array_equal(oracle(theta), faulty.sign(theta))


def test_process_runner_results_in_order(process_runner, rng):
    theta = _theta(rng, 31)
    theta[:, 0] = np.arange(31)  # distinct instances
    oracle = FunctionOracle(faulty.sign).configure(runner=process_runner)
    for _ in range(3):  # the pool is reused between calls
        np.testing.assert_array_equal(oracle(theta), faulty.sign(theta))
    assert len(process_runner.worker_pids()) == 2


def test_custom_oracle_from_a_local_scope_runs_in_processes(process_runner, rng):
    offset = 0.5  # a closure: only picklable by value

    def shifted_sign(theta):
        return (theta > offset).astype(float)

    oracle = FunctionOracle(shifted_sign, name="local").configure(runner=process_runner)
    theta = _theta(rng)
    np.testing.assert_array_equal(oracle(theta), (theta > offset).astype(float))


def test_timeout_validation():
    with pytest.raises(im.InvalidInputError, match="positive number of seconds"):
        im.get_oracle("topk", k=1, timeout=-1)


@pytest.mark.parametrize("spec", ["fibers", 0, -2, True, 1.5])
def test_bad_runner_spec(spec):
    with pytest.raises(im.InvalidInputError, match="runner"):
        im.get_oracle("topk", k=1, runner=spec)


def test_runner_resolution():
    assert isinstance(resolve_runner("serial"), im.SerialRunner)
    assert isinstance(resolve_runner(1), im.SerialRunner)
    assert isinstance(resolve_runner(3), im.ProcessRunner) and resolve_runner(3).workers == 3
    assert resolve_runner("processes") is resolve_runner("processes")  # pools are shared
    executor = cf.ThreadPoolExecutor(2)
    runner = resolve_runner(executor)
    assert isinstance(runner, im.ExecutorRunner) and runner.workers == 2
    executor.shutdown()


def test_adaptive_runner_keeps_cheap_oracles_in_process(rng):
    runner = im.ProcessRunner(2)  # adaptive by default; never started for cheap work
    oracle = FunctionOracle(faulty.sign, name="cheap").configure(runner=runner)
    theta = _theta(rng, 64)
    np.testing.assert_array_equal(oracle(theta), faulty.sign(theta))
    assert plan_chunks(oracle, runner, 64) == 1
    assert runner.worker_pids() == []  # the pool was not needed


def test_adaptive_runner_uses_the_pool_for_expensive_oracles(rng):
    runner = im.ThreadRunner(2)
    oracle = FunctionOracle(faulty.slow_sign, name="slow").configure(runner=runner)
    theta = _theta(rng, 16)
    np.testing.assert_array_equal(oracle(theta), faulty.sign(theta))
    assert plan_chunks(oracle, runner, 16) == 2


def test_torch_input_through_processes(process_runner, rng):
    theta = torch.tensor(_theta(rng), dtype=torch.float32)
    out = FunctionOracle(faulty.sign).configure(runner=process_runner)(theta)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, (theta > 0).float())


def test_workers_run_with_one_blas_thread(process_runner, rng):
    theta = _theta(rng, 8)
    oracle = FunctionOracle(faulty.single_threaded, name="threads_check").configure(runner=process_runner)
    np.testing.assert_array_equal(oracle(theta), faulty.sign(theta))


UNGUARDED_SCRIPT = """
import numpy as np
import imle_solvers as im
from imle_solvers.oracles import FunctionOracle

def sign(theta):
    return (theta > 0).astype(float)

# No `if __name__ == "__main__":` guard: a spawned worker re-imports this file.
oracle = FunctionOracle(sign).configure(runner=im.ProcessRunner(2, adaptive=False))
print("result", oracle(np.ones((4, 3))).sum())
"""


def test_script_without_main_guard_gets_a_clear_error(tmp_path):
    import os
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    completed = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert completed.returncode != 0
    assert "__main__" in completed.stderr and "guard" in completed.stderr
    assert "WorkerCrashedError" in completed.stderr


def test_cost_estimate_forgets_a_slow_first_call_at_once():
    from imle_solvers.runners import _Stats

    stats = _Stats()
    stats.update(3.0, 64)  # a first call that paid a compile
    stats.update(64 * 1e-5, 64)
    assert stats.seconds_per_instance == pytest.approx(1e-5)
    stats.update(64 * 2e-5, 64)  # ordinary variation is averaged
    assert 1e-5 < stats.seconds_per_instance < 2e-5


SLOW_BOOT_SCRIPT = """
import os
import sys
import time

import numpy as np

if __name__ == "__mp_main__":  # a spawned worker importing this script
    try:  # the first worker boots at once, the others slowly (a heavy import on a busy machine)
        os.close(os.open(os.environ["IMLE_BOOT_MARK"], os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        time.sleep(1.5)

import imle_solvers as im
from imle_solvers.oracles import FunctionOracle


def slow(theta):  # 40 ms per instance; answers with the id of the process that solved it
    end = time.perf_counter() + 0.04
    while time.perf_counter() < end:
        pass
    return np.full(theta.shape, float(os.getpid()))


class SlowToLoad(FunctionOracle):
    def __setstate__(self, state):  # unpickled in the workers only: a big model, say
        time.sleep(0.5)
        super().__setstate__(state)


if __name__ == "__main__":
    runner = im.ProcessRunner(2)
    for call, kind in enumerate([FunctionOracle, SlowToLoad, FunctionOracle]):  # fresh oracles: each probes
        pids = kind(slow, name=f"slow{call}").configure(runner=runner)(np.zeros((12, 3)))[:, 0]
        workers = set(pids.astype(int).tolist()) - {os.getpid()}
        print("call", call, "in caller", int((pids == os.getpid()).sum()), "workers", len(workers),
              "overhead_ms", round(runner.overhead * 1e3, 2), flush=True)
    runner.close()
"""


def test_fresh_oracles_use_the_pool_at_once_after_a_slow_pool_start(tmp_path):
    # The pool's round trip is measured warm, once every worker has started: a
    # worker still booting when the pool "started" (or the pool's start itself,
    # or an oracle's one-off load in the workers) used to make a pooled call
    # look like a 40-500 ms round trip, and every fresh oracle then probed 3-12
    # of its 40 ms instances in the caller before using the pool.
    import os
    import subprocess
    import sys

    script = tmp_path / "slow_boot.py"
    script.write_text(SLOW_BOOT_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), IMLE_BOOT_MARK=str(tmp_path / "booted"))
    completed = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert completed.returncode == 0, completed.stderr
    calls = [line.split() for line in completed.stdout.splitlines() if line.startswith("call")]
    assert len(calls) == 3, completed.stdout
    for call in calls:
        # the probe's first instance in the caller, the other 11 on both workers
        assert (call[4], call[6]) == ("1", "2"), completed.stdout
