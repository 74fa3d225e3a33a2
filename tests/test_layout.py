"""The package's layout: imports flow one way, and the runners package keeps
every import path of the single module it replaced."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np

import imle_solvers as im

PACKAGE = Path(im.__file__).resolve().parent


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (deferred imports
    included), as an absolute dotted name."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + "." + "__init__"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: -node.level]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_runners_do_not_import_the_oracles():
    # The runners execute whatever has solve_chunk; oracles.base imports the
    # runners (execute, resolve_runner), never the other way round.
    for path in sorted((PACKAGE / "runners").glob("*.py")) + [PACKAGE / "_batch.py"]:
        offending = sorted(m for m in _imported_modules(path) if m.startswith("imle_solvers.oracles"))
        assert not offending, f"{path.relative_to(PACKAGE.parent)} imports {offending}"


def test_batch_helpers_are_one_object_everywhere():
    from imle_solvers import _batch
    from imle_solvers.oracles import base, format_index

    assert base.InstanceFailure is _batch.InstanceFailure
    assert base.format_index is format_index is _batch.format_index


def test_runners_package_keeps_the_old_import_paths():
    import imle_solvers.runners as runners

    public = ["Runner", "SerialRunner", "ThreadRunner", "ProcessRunner", "ExecutorRunner",
              "resolve_runner", "execute", "default_workers"]
    assert sorted(runners.__all__) == sorted(public)
    for name in public + ["plan_chunks", "_Stats", "_solve_chunk", "_load_oracle", "_OracleHandle"]:
        assert hasattr(runners, name), name
    assert im.ProcessRunner is runners.ProcessRunner is runners.processes.ProcessRunner
    assert runners.resolve_runner("serial") is runners.resolve_runner("serial")


def test_an_oracle_handle_round_trips_through_pickle():
    # What a worker process receives: the oracle by value, loaded once per token.
    from imle_solvers.runners import _handle, _load_oracle

    oracle = im.get_oracle("topk", k=1)
    handle = pickle.loads(pickle.dumps(_handle(oracle)))
    loaded = handle.load()
    assert loaded is not oracle and loaded.name == "topk"
    np.testing.assert_array_equal(loaded(np.array([[0.0, 2.0, 1.0]])), [[0.0, 1.0, 0.0]])
    assert pickle.loads(pickle.dumps(_handle(oracle))).load() is loaded
    # a handle pickled as the single runners module did (by _load_oracle) loads too
    assert _load_oracle(handle.token, handle.payload) is loaded
