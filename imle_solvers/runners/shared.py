"""``runner=`` values turned into runners; the named ones shared by the
whole program (every oracle with ``runner="processes"`` uses one pool)."""

from __future__ import annotations

import concurrent.futures as cf
import threading
from typing import Any

from ..errors import InvalidInputError
from .base import Runner
from .executor import ExecutorRunner
from .processes import ProcessRunner
from .serial import SerialRunner
from .threads import ThreadRunner

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
