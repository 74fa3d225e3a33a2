"""The registry of MAP oracles: select by name, register your own.

>>> from imle_solvers import get_oracle, register_oracle, available_oracles
>>> "topk" in available_oracles()
True
>>> oracle = get_oracle("topk", k=3)

Three ways to add an oracle:

1. a class (or any factory returning an :class:`~imle_solvers.oracles.Oracle`)::

       @register_oracle("mine")
       class Mine(Oracle): ...

2. a plain function that solves one instance, numpy in and numpy out; give
   its ``sense`` (this is what tells it apart from a factory)::

       register_oracle("argmin", argmin_fn, sense="min", event_ndim=1)

3. an entry point in another package's ``pyproject.toml``, imported lazily
   the first time its name is asked for (a plugin that fails to import raises
   :class:`OracleNotFoundError` naming the plugin, and leaves every other
   oracle usable)::

       [project.entry-points."imle_solvers.oracles"]
       mine = "my_package.oracles:Mine"
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import threading
from collections.abc import Callable
from importlib import metadata
from typing import Any

from .errors import OracleNotFoundError
from .oracles._options import check_options
from .oracles.base import Oracle
from .oracles.function import FunctionOracle

__all__ = ["register_oracle", "get_oracle", "available_oracles", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "imle_solvers.oracles"

# Built-ins are named by import path and imported on first use, so that
# listing the registry does not import OR-Tools, cvxpy or numba.
_BUILTINS: dict[str, str] = {
    "topk": "imle_solvers.oracles.selection:TopK",
    "onehot": "imle_solvers.oracles.selection:OneHot",
    "ranking": "imle_solvers.oracles.ranking:Ranking",
    "matching": "imle_solvers.oracles.matching:Matching",
    "shortest_path": "imle_solvers.oracles.graph:ShortestPath",
    "shortest_path_grid": "imle_solvers.oracles.grid:ShortestPathGrid",
    "spanning_tree": "imle_solvers.oracles.spanning_tree:SpanningTree",
    "knapsack": "imle_solvers.oracles.knapsack:Knapsack",
    "tsp": "imle_solvers.oracles.tsp:TSP",
    "ilp": "imle_solvers.oracles.ilp:ILP",
}

_REGISTRY: dict[str, Callable[..., Oracle] | str] = dict(_BUILTINS)
_LOCK = threading.RLock()
_ENTRY_POINTS: dict[str, metadata.EntryPoint] | None = None


def _load_path(path: str) -> Callable[..., Oracle]:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def register_oracle(
    name: str,
    factory: Callable[..., Any] | None = None,
    *,
    overwrite: bool = False,
    sense: str | None = None,
    event_ndim: int = 1,
    instance_data: dict[str, int] | None = None,
    nonnegative: bool = False,
):
    """Register an oracle factory under ``name``; works as a call and as a
    decorator.

    Args:
        name: the name :func:`get_oracle` will find it under.
        factory: an :class:`Oracle` subclass or a callable returning an
            ``Oracle`` (called with :func:`get_oracle`'s options) — or, when
            ``sense`` is given, a function that solves one instance
            (``fn(theta, **instance_data) -> solution``, numpy in, numpy out).
        overwrite: replace an existing registration instead of raising.
        sense: ``"max"`` or ``"min"``; marks ``factory`` as a one-instance
            solver function and is the sense of the resulting oracle.
        event_ndim, instance_data, nonnegative: for a solver function, see
            :class:`~imle_solvers.oracles.FunctionOracle`.

    Returns:
        ``factory`` unchanged, so the decorator leaves the class or function
        usable as before.

    Raises:
        TypeError: ``name`` is not a non-empty string or ``factory`` is not
            callable.
        ValueError: ``name`` is taken and ``overwrite`` is false.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import register_oracle, get_oracle
        >>> @register_oracle("argmin_doc", sense="min", overwrite=True)
        ... def argmin(costs):
        ...     z = np.zeros_like(costs)
        ...     z[np.argmin(costs)] = 1
        ...     return z
        >>> get_oracle("argmin_doc")(np.array([[3.0, 1.0], [0.0, 2.0]]))
        array([[0., 1.],
               [1., 0.]])
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"expected the oracle name to be a non-empty str, but found {name!r}")
    if factory is None:
        def decorator(target):
            register_oracle(
                name, target, overwrite=overwrite, sense=sense, event_ndim=event_ndim,
                instance_data=instance_data, nonnegative=nonnegative,
            )
            return target

        return decorator
    if not callable(factory):
        raise TypeError(
            f"register_oracle({name!r}): expected an Oracle class, a factory or a solver function, "
            f"but found {type(factory).__name__}"
        )
    entry: Callable[..., Oracle]
    if sense is not None:
        if sense not in ("max", "min"):
            raise ValueError(f"register_oracle({name!r}): expected sense 'max' or 'min', but found {sense!r}")
        if isinstance(factory, type):
            raise TypeError(
                f"register_oracle({name!r}): sense= marks a solver function, but got the class {factory.__name__}"
            )
        entry = _FunctionFactory(factory, name, sense, event_ndim, instance_data, nonnegative)
    else:
        entry = factory
    with _LOCK:
        if name in _REGISTRY and not overwrite:
            raise ValueError(
                f"an oracle named {name!r} is already registered; pass overwrite=True to replace it"
            )
        _REGISTRY[name] = entry
    return factory


class _FunctionFactory:
    """A picklable factory for a registered solver function."""

    __signature__ = inspect.Signature()  # it takes no options

    def __init__(self, fn, name, sense, event_ndim, instance_data, nonnegative):
        self.fn, self.name, self.sense = fn, name, sense
        self.event_ndim, self.instance_data, self.nonnegative = event_ndim, instance_data, nonnegative

    def __call__(self, **options) -> Oracle:
        if options:
            raise TypeError(f"oracle {self.name!r} is a plain function and takes no options, but got {sorted(options)}")
        return FunctionOracle(
            self.fn, name=self.name, sense=self.sense, event_ndim=self.event_ndim,
            instance_data=self.instance_data, nonnegative=self.nonnegative,
        )


def _entry_points() -> dict[str, metadata.EntryPoint]:
    global _ENTRY_POINTS
    if _ENTRY_POINTS is None:
        found = {}
        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            found.setdefault(entry_point.name, entry_point)
        _ENTRY_POINTS = found
    return _ENTRY_POINTS


def _load_entry_point(name: str) -> bool:
    entry_point = _entry_points().get(name)
    if entry_point is None:
        return False
    try:
        target = entry_point.load()
    except Exception as error:  # noqa: BLE001 - reported with the plugin's name, other oracles unaffected
        raise OracleNotFoundError(
            f"the plugin oracle {name!r} (entry point {entry_point.value!r} in group "
            f"{ENTRY_POINT_GROUP!r}) could not be loaded: {type(error).__name__}: {error}"
        ) from error
    with _LOCK:
        if name not in _REGISTRY:
            _REGISTRY[name] = target
    return True


def available_oracles() -> list[str]:
    """The sorted names of every registered oracle, plugins included.

    >>> from imle_solvers import available_oracles
    >>> {"onehot", "topk"} <= set(available_oracles())
    True
    """
    with _LOCK:
        names = set(_REGISTRY)
    names.update(_entry_points())
    return sorted(names)


def get_factory(name: str) -> Callable[..., Oracle]:
    """The factory registered under ``name`` (built-ins imported on demand)."""
    with _LOCK:
        entry = _REGISTRY.get(name)
    if entry is None and _load_entry_point(name):
        with _LOCK:
            entry = _REGISTRY.get(name)
    if entry is None:
        names = available_oracles()
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5) if isinstance(name, str) else []
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise OracleNotFoundError(
            f"no oracle named {name!r}.{hint} Available: {', '.join(names)}"
        ) from None
    if isinstance(entry, str):
        loaded = _load_path(entry)
        with _LOCK:
            if _REGISTRY.get(name) is entry:
                _REGISTRY[name] = loaded
        entry = loaded
    return entry


def get_oracle(name: str, *, runner: Any = "serial", timeout: float | None = None, **options: Any) -> Oracle:
    """A configured oracle by name.

    Args:
        name: a registered name (see :func:`available_oracles`).
        runner: how batches run — ``"serial"``, ``"threads"``,
            ``"processes"``, an int (worker processes) or any
            :class:`concurrent.futures.Executor`; see :mod:`imle_solvers.runners`.
        timeout: seconds one call may take (:class:`OracleTimeoutError` after).
        **options: passed to the oracle's factory (e.g. ``k=`` for ``topk``).

    Raises:
        OracleNotFoundError: unknown name; the message lists the names and
            suggests the closest.
        InvalidInputError: an option the oracle does not take (the message
            lists its options with their defaults and suggests the closest,
            or says that per-call data such as knapsack ``weights`` goes with
            each call), a missing required option, or a bad value.

    Example:
        >>> import numpy as np
        >>> from imle_solvers import get_oracle
        >>> topk = get_oracle("topk", k=1)
        >>> topk(np.array([[1.0, 3.0, 2.0]]))
        array([[0., 1., 0.]])
    """
    factory = get_factory(name)
    if isinstance(factory, (type, _FunctionFactory)):  # a custom factory function says what it wants itself
        check_options(name, factory, options)
    try:
        oracle = factory(**options)
    except TypeError as error:
        if isinstance(factory, (type, _FunctionFactory)):
            raise
        raise TypeError(
            f"calling the factory registered as {name!r} with options {sorted(options)} failed: {error}. "
            "If it is a function that solves one instance, register it with its sense: "
            f"register_oracle({name!r}, fn, sense='max')"
        ) from error
    if not isinstance(oracle, Oracle):
        raise TypeError(
            f"the factory registered as {name!r} returned {type(oracle).__name__}, not an Oracle. "
            "To register a function that solves one instance, pass its sense: "
            f"register_oracle({name!r}, fn, sense='max')"
        )
    oracle.name = name
    return oracle.configure(runner=runner, timeout=timeout)
