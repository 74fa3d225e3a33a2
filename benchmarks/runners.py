"""Serial vs threads vs processes for a cheap and an expensive oracle.

Run:  .venv/bin/python benchmarks/runners.py [--batch 64] [--repeats 5]
      .venv/bin/python benchmarks/runners.py --first-calls [--rounds 5]

Prints the time per call of each runner and its ratio to serial (higher is
faster), measured in one process. The "expensive" oracle holds the GIL
(a numpy loop) and one releases it (time.sleep stands in for a C solver that
releases it), so threads help only the latter. "adaptive" rows use the
runner's default automatic choice; "forced" rows always use the pool.

``--first-calls`` times what a new oracle's first call costs right after a
process pool starts: per round a fresh ``ProcessRunner(2)`` is started by one
untimed call, then the first calls of three fresh oracles (20 ms of
GIL-holding work per instance, batch 16; a new oracle each time, so each one
probes and is loaded by the workers) are timed against the same three first
calls on the serial runner, interleaved. Every answer is checked. Prints each
round's ratio (serial / pool) and the instances the probe solved in the
caller, then best / median / worst. 2.0x is the ceiling on 2 workers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import imle_solvers as im
from imle_solvers.oracles import FunctionOracle


def cheap(theta):
    return (theta > 0).astype(np.float64)


def expensive_gil(theta):
    # ~2 ms of Python-level work that holds the GIL.
    acc = 0.0
    for _ in range(6000):
        acc += float(theta[0])
    return (theta > acc * 0).astype(np.float64)


def expensive_nogil(theta):
    time.sleep(0.002)  # stands in for a solver that releases the GIL
    return (theta > 0).astype(np.float64)


def timed(oracle, theta, repeats):
    oracle(theta)  # warm up: pools start, estimates settle
    oracle(theta)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        oracle(theta)
        best = min(best, time.perf_counter() - start)
    return best


def busy_20ms(theta):
    """20 ms of work that holds the GIL; the answer says which process solved it."""
    end = time.perf_counter() + 0.02
    while time.perf_counter() < end:
        pass
    z = np.zeros(theta.shape[0] + 1)
    z[int(np.argmax(theta))] = 1.0
    z[-1] = os.getpid()
    return z


class _Busy(FunctionOracle):
    def output_event_shape(self, event_shape):
        return (event_shape[0] + 1,)


def first_calls(rounds: int, batch: int = 16, oracles: int = 3) -> None:
    rng = np.random.default_rng(0)
    print(f"first calls of {oracles} fresh oracles (20 ms/instance, batch {batch}) right after a "
          f"ProcessRunner(2) starts, vs serial; load {os.getloadavg()[0]:.2f}")
    ratios = []
    for r in range(rounds):
        runner = im.ProcessRunner(2)
        _Busy(busy_20ms, name="start").configure(runner=runner)(rng.normal(size=(batch, 8)))  # starts the pool
        serial_s = pool_s = 0.0
        in_caller = []
        for k in range(oracles):
            theta = rng.normal(size=(batch, 8))
            expected = np.eye(8)[theta.argmax(axis=1)]
            for kind in ("serial", "pool"):
                oracle = _Busy(busy_20ms, name=f"busy-{kind}-{r}-{k}").configure(
                    runner="serial" if kind == "serial" else runner)
                start = time.perf_counter()
                z = oracle(theta)
                seconds = time.perf_counter() - start
                assert (z[:, :-1] == expected).all(), "wrong answer"
                if kind == "serial":
                    serial_s += seconds
                else:
                    pool_s += seconds
                    in_caller.append(int((z[:, -1] == os.getpid()).sum()))
        runner.close()
        ratios.append(serial_s / pool_s)
        print(f"round {r}: serial {serial_s * 1e3:6.0f} ms, pool {pool_s * 1e3:6.0f} ms, {ratios[-1]:.2f}x; "
              f"instances solved in the caller {in_caller}")
    print(f"best {max(ratios):.2f}x, median {statistics.median(ratios):.2f}x, worst {min(ratios):.2f}x "
          f"(ceiling 2.0x); load {os.getloadavg()[0]:.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--first-calls", action="store_true", help="fresh oracles' first calls on a fresh pool")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if args.first_calls:
        first_calls(args.rounds)
        return
    theta = np.random.default_rng(0).normal(size=(args.batch, 16))
    runners = {
        "serial": lambda: "serial",
        "threads (adaptive)": lambda: im.ThreadRunner(),
        "threads (forced)": lambda: im.ThreadRunner(adaptive=False),
        "processes (adaptive)": lambda: im.ProcessRunner(),
        "processes (forced)": lambda: im.ProcessRunner(adaptive=False),
    }
    print(f"batch {args.batch}, {im.runners.default_workers()} cores, best of {args.repeats}")
    print(f"{'oracle':<16} {'runner':<22} {'ms/call':>9} {'speedup vs serial':>18}")
    for label, fn in (("cheap", cheap), ("expensive-gil", expensive_gil), ("expensive-nogil", expensive_nogil)):
        baseline = None
        for name, make in runners.items():
            runner = make()
            oracle = FunctionOracle(fn, name=label).configure(runner=runner)
            seconds = timed(oracle, theta, args.repeats)
            baseline = baseline or seconds
            print(f"{label:<16} {name:<22} {seconds * 1e3:9.3f} {baseline / seconds:17.2f}x")
            if not isinstance(runner, str):
                runner.close()


if __name__ == "__main__":
    main()
