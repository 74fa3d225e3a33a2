"""Resource stability of a long run: RSS, open file descriptors and threads
of this (parent) process, and the workers' RSS, every N calls.

Run:  .venv/bin/python benchmarks/resources.py [--calls 10000] [--steps 1000] [--every 1000]

Phase 1 makes ``--calls`` oracle calls (a 4x3x3 matching batch, numpy)
through a two-worker process pool with ``adaptive=False``, so every call is
a real round trip to the workers. Phase 2 makes ``--steps`` I-MLE training
steps (forward and backward: two oracle calls each, torch tensors) through
the same pool, with an AdaptiveTarget and an SGD optimiser. A leak shows as
a column that grows with the row number; flat columns are the goal. The
first row is taken after a warm-up (pool started, caches filled).
"""

from __future__ import annotations

import argparse
import gc
import threading
import time

import numpy as np
import psutil
import torch

import imle_solvers as im


def snapshot(runner) -> dict:
    me = psutil.Process()
    workers = 0
    for pid in runner.worker_pids():
        try:
            workers += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            pass
    return {"rss_mb": me.memory_info().rss / 2**20, "fds": me.num_fds(), "threads": threading.active_count(),
            "workers_rss_mb": workers / 2**20}


def report(label, count, stats, start):
    print(f"{label:>10} {count:>7} {stats['rss_mb']:>9.1f} {stats['fds']:>5} {stats['threads']:>8} "
          f"{stats['workers_rss_mb']:>11.1f} {time.perf_counter() - start:>8.1f}", flush=True)


def oracle_calls(oracle, count, every, runner):
    theta = np.random.default_rng(0).normal(size=(4, 3, 3))
    for _ in range(50):  # warm-up
        oracle(theta)
    gc.collect()
    start = time.perf_counter()
    first = snapshot(runner)
    report("calls", 0, first, start)
    for call in range(1, count + 1):
        oracle(theta + call * 1e-3)
        if call % every == 0:
            gc.collect()
            last = snapshot(runner)
            report("calls", call, last, start)
    return first, last, (time.perf_counter() - start) / count


def estimator_steps(oracle, count, every, runner):
    theta = torch.zeros(4, 3, 3, requires_grad=True)
    weights = torch.randn(4, 3, 3, generator=torch.Generator().manual_seed(1))
    layer = im.IMLE(oracle, target=im.AdaptiveTarget(), generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.SGD([theta], lr=0.01)

    def step():
        optimizer.zero_grad()
        (layer(theta) * weights).sum().backward()
        optimizer.step()

    for _ in range(20):  # warm-up
        step()
    gc.collect()
    start = time.perf_counter()
    first = snapshot(runner)
    report("steps", 0, first, start)
    for number in range(1, count + 1):
        step()
        if number % every == 0:
            gc.collect()
            last = snapshot(runner)
            report("steps", number, last, start)
    return first, last, (time.perf_counter() - start) / count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=1_000)
    parser.add_argument("--every", type=int, default=1_000, help="report every N calls (N/10 steps)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    runner = im.ProcessRunner(2, adaptive=False)
    oracle = im.get_oracle("matching", runner=runner)
    print(f"{'phase':>10} {'count':>7} {'rss_mb':>9} {'fds':>5} {'threads':>8} {'workers_mb':>11} {'seconds':>8}")
    try:
        calls = oracle_calls(oracle, args.calls, args.every, runner)
        steps = estimator_steps(oracle, args.steps, max(1, args.every // 10), runner)
    finally:
        runner.close()
    for label, (first, last, per) in (("oracle calls", calls), ("IMLE steps", steps)):
        print(f"{label}: RSS {last['rss_mb'] - first['rss_mb']:+.1f} MB, fds {last['fds'] - first['fds']:+d}, "
              f"threads {last['threads'] - first['threads']:+d}, workers' RSS "
              f"{last['workers_rss_mb'] - first['workers_rss_mb']:+.1f} MB; {per * 1e3:.2f} ms each")


if __name__ == "__main__":
    main()
