"""The ``imle-solvers`` command.

Subcommands:

* ``imle-solvers oracles`` — a table of the registered oracles: name, sense,
  event shape, backend and whether its optional dependencies import.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence

__all__ = ["main", "oracle_table"]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def oracle_table() -> list[dict[str, str]]:
    """One row per registered oracle: ``name``, ``sense``, ``event``,
    ``backend``, ``dependencies`` (``ok`` or the missing modules)."""
    from .oracles.base import Oracle
    from .oracles.function import FunctionOracle
    from .registry import _FunctionFactory, available_oracles, get_factory

    rows = []
    for name in available_oracles():
        try:
            factory = get_factory(name)
        except Exception as error:  # noqa: BLE001 - a broken plugin is a row, not a crash
            cause = error.__cause__ or error
            rows.append({"name": name, "sense": "?", "event": "?", "backend": "plugin",
                         "dependencies": f"failed to load ({type(cause).__name__}: {cause})"})
            continue
        if isinstance(factory, _FunctionFactory):
            info: object = factory
            event = f"{factory.event_ndim} trailing dim(s)"
            backend, deps = FunctionOracle.backend, ()
        elif isinstance(factory, type) and issubclass(factory, Oracle):
            info = factory
            event = factory.event_doc
            backend, deps = factory.backend, factory.dependencies
        else:
            info, event, backend, deps = None, "?", "custom factory", ()
        sense = getattr(info, "sense_doc", None) or getattr(info, "sense", "?")
        missing = [module for module in deps if not _importable(module)]
        status = "ok" if not missing else "missing " + ", ".join(missing)
        rows.append({"name": name, "sense": str(sense), "event": event, "backend": backend,
                     "dependencies": status})
    return rows


def _print_table(rows: list[dict[str, str]], columns: Sequence[str], out=sys.stdout) -> None:
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) if rows else len(c) for c in columns}
    out.write("  ".join(c.ljust(widths[c]) for c in columns).rstrip() + "\n")
    out.write("  ".join("-" * widths[c] for c in columns) + "\n")
    for row in rows:
        out.write("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip() + "\n")


def _cmd_oracles(args: argparse.Namespace) -> int:
    _print_table(oracle_table(), ["name", "sense", "event", "backend", "dependencies"])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imle-solvers",
        description="Discrete solvers made trainable with Implicit MLE.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    oracles = sub.add_parser("oracles", help="list the registered oracles")
    oracles.set_defaults(handler=_cmd_oracles)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``imle-solvers`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
