"""Long runs keep resources flat: 10,000 oracle calls and 1,000 I-MLE steps
through a process pool leave this process's RSS, open file descriptors and
threads (and the workers' RSS) where they were after a warm-up.

``benchmarks/resources.py`` prints the same figures every N calls.
"""

from __future__ import annotations

import gc
import threading

import numpy as np
import psutil
import pytest
import torch

import imle_solvers as im

CALLS = 10_000
STEPS = 1_000
RSS_BOUND_MB = 8.0  # generous: a leak of 1 KB per call would exceed it; measured growth is 0.0-0.1 MB


def _snapshot(runner):
    gc.collect()
    me = psutil.Process()
    workers = sum(psutil.Process(pid).memory_info().rss for pid in runner.worker_pids()) / 2**20
    return me.memory_info().rss / 2**20, me.num_fds(), threading.active_count(), workers


def _assert_flat(label, before, after):
    rss, fds, threads, workers = (b - a for a, b in zip(before, after))
    assert rss < RSS_BOUND_MB, f"{label}: this process's RSS grew by {rss:.1f} MB"
    assert fds <= 0, f"{label}: {fds} more open file descriptors"
    assert threads <= 0, f"{label}: {threads} more threads"
    assert workers < 2 * RSS_BOUND_MB, f"{label}: the workers' RSS grew by {workers:.1f} MB"


@pytest.mark.slow
def test_long_runs_through_a_process_pool_keep_memory_and_descriptors_flat():
    runner = im.ProcessRunner(2, adaptive=False)  # every call is a round trip to the workers
    oracle = im.get_oracle("matching", runner=runner)
    theta = np.random.default_rng(0).normal(size=(2, 3, 3))  # two instances: one chunk per worker
    expected = oracle(theta)
    try:
        for _ in range(100):  # warm-up: pool started, caches filled
            oracle(theta)
        before = _snapshot(runner)
        for _ in range(CALLS):
            out = oracle(theta)
        np.testing.assert_array_equal(out, expected)
        _assert_flat(f"{CALLS} oracle calls", before, _snapshot(runner))

        scores = torch.zeros(2, 3, 3, requires_grad=True)
        downstream = torch.randn(2, 3, 3, generator=torch.Generator().manual_seed(1))
        layer = im.IMLE(oracle, target=im.AdaptiveTarget(), generator=torch.Generator().manual_seed(0))
        optimizer = torch.optim.SGD([scores], lr=0.05)

        def step():
            optimizer.zero_grad()
            (layer(scores) * downstream).sum().backward()
            optimizer.step()

        for _ in range(20):
            step()
        before = _snapshot(runner)
        for _ in range(STEPS):
            step()
        _assert_flat(f"{STEPS} IMLE steps", before, _snapshot(runner))
        assert bool(scores.grad.abs().sum() > 0)  # the steps did train
    finally:
        runner.close()
