"""Executing a batch: the adaptive rule that decides between the calling
thread and the pool, the probe of a fresh oracle, the split into chunks,
and the errors that name the failed instance's batch index."""

from __future__ import annotations

import time

import numpy as np

from .._batch import format_index
from ..errors import OracleError, OracleTimeoutError
from .base import Runner
from .serial import SerialRunner
from .shared import resolve_runner
from .stats import _stats
from .worker import _solve_chunk


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
    runner = oracle.runner
    timeout = oracle.timeout
    if timeout is None and isinstance(runner, SerialRunner):  # the common case, kept lean
        return _unwrap(oracle, _solve_chunk(oracle, theta, data, None, False), 0, batch_shape)
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
            pieces.append(_unwrap(oracle, result, start, batch_shape))
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
            return _unwrap(oracle, result, 0, batch_shape)
        active = runner if pooled else resolve_runner("serial")
        remaining = None if deadline is None else max(deadline - time.monotonic(), 1e-3)
        slices = _split(rest, parts)
        chunks = [
            (theta[start + s.start : start + s.stop], {k: v[start + s.start : start + s.stop] for k, v in data.items()})
            for s in slices
        ]
        results = active.map_chunks(oracle, chunks, remaining)
        for s, result in zip(slices, results):
            pieces.append(_unwrap(oracle, result, start + s.start, batch_shape))
        if pooled:
            stats.update(sum(r[-1] for r in results), rest)
        else:
            stats.update(results[0][-1], rest)
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=0)


def _unwrap(oracle, result: tuple, offset: int, batch_shape) -> np.ndarray:
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
