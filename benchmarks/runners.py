"""Serial vs threads vs processes for a cheap and an expensive oracle.

Run:  .venv/bin/python benchmarks/runners.py [--batch 64] [--repeats 5]

Prints the time per call of each runner and its ratio to serial (higher is
faster), measured in one process. The "expensive" oracle holds the GIL
(a numpy loop) and one releases it (time.sleep stands in for a C solver that
releases it), so threads help only the latter. "adaptive" rows use the
runner's default automatic choice; "forced" rows always use the pool.
"""

from __future__ import annotations

import argparse
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
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
