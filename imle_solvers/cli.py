"""The ``imle-solvers`` command.

Subcommands:

* ``imle-solvers oracles`` — a table of the registered oracles: name, sense,
  event shape, backend and whether its optional dependencies import;
  ``imle-solvers oracles NAME`` — one oracle's options with their defaults,
  per-call data, complexity and backend.
* ``imle-solvers train-grid`` — learn shortest paths on grid maps from the
  paths alone (the Warcraft experiment; :mod:`imle_solvers.grid_learning`):
  a progress bar and a line per epoch, then ``metrics.json``, a learning
  curve and a picture of test maps in the output folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import sys
from collections.abc import Sequence

__all__ = ["main", "oracle_table", "oracle_details"]


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


def _print_table(rows: list[dict[str, str]], columns: Sequence[str], out=None) -> None:
    out = sys.stdout if out is None else out  # at call time: sys.stdout may have been replaced since import
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) if rows else len(c) for c in columns}
    out.write("  ".join(c.ljust(widths[c]) for c in columns).rstrip() + "\n")
    out.write("  ".join("-" * widths[c] for c in columns) + "\n")
    for row in rows:
        out.write("  ".join(row[c].ljust(widths[c]) for c in columns).rstrip() + "\n")


def oracle_details(name: str) -> list[tuple[str, str]]:
    """What ``imle-solvers oracles NAME`` prints, as ``(label, text)`` rows:
    the summary, sense, shapes, options with their defaults, per-call data,
    complexity and backend of one registered oracle.

    Raises :class:`~imle_solvers.OracleNotFoundError` for an unknown name.

    Example:
        >>> from imle_solvers.cli import oracle_details
        >>> dict(oracle_details("topk"))["options"]
        "get_oracle('topk', k (required)); every oracle also takes runner='serial', timeout=None"
    """
    from .oracles import _options
    from .oracles.base import Oracle
    from .registry import _FunctionFactory, get_factory

    factory = get_factory(name)
    info: object = factory if isinstance(factory, (_FunctionFactory, type)) else None
    cls = factory if isinstance(factory, type) and issubclass(factory, Oracle) else None
    doc = getattr(getattr(factory, "fn", None), "__doc__", None) or getattr(factory, "__doc__", None)
    accepted = _options.option_defaults(factory)
    common = ", ".join(_options.format_option(key, value) for key, value in _options.COMMON.items())
    if accepted is None:
        options = f"not readable from the factory's signature; every oracle also takes {common}"
    else:
        aliases = _options.aliases_of(factory)
        shown = [_options.format_option(key, value) for key, value in accepted.items()]
        shown += [f"{alias} (= {target})" for alias, target in aliases.items()]
        options = f"get_oracle({name!r}, {', '.join(shown)})" if shown else "none of its own"
        options += f"; every oracle also takes {common}"
    data = _options.describe_data(factory)
    rows = [
        ("summary", _options.summary(doc)),
        ("class", f"{factory.__module__}.{factory.__qualname__}" if cls is not None else type(factory).__name__),
        ("sense", str(getattr(info, "sense_doc", None) or getattr(info, "sense", "?"))),
        ("input", f"(*batch, *event), event {cls.event_doc}" if cls is not None
         else f"(*batch, *event), {getattr(factory, 'event_ndim', '?')} event dim(s)"),
        ("output", (cls.output_doc or cls.event_doc) if cls is not None else "theta's shape"),
        ("options", options),
        ("per-call data", f"{data}: {_options.per_call_hint(factory).split(': ', 1)[1]}" if data else "none"),
        ("complexity", getattr(cls, "complexity_doc", "") or "not documented"),
    ]
    deps = tuple(getattr(cls, "dependencies", ()) or ())
    missing = [module for module in deps if not _importable(module)]
    backend = getattr(cls, "backend", "numpy") if cls is not None else "custom"
    status = "" if not deps else (" — installed" if not missing else " — missing " + ", ".join(missing))
    rows.append(("backend", f"{backend} ({', '.join(deps) or 'numpy'}){status}"))
    return rows


def _cmd_oracles(args: argparse.Namespace) -> int:
    if args.name is None:
        _print_table(oracle_table(), ["name", "sense", "event", "backend", "dependencies"])
        return 0
    from .errors import OracleNotFoundError

    try:
        rows = oracle_details(args.name)
    except OracleNotFoundError as error:
        sys.stderr.write(f"imle-solvers oracles: error: {error.args[0]}\n")
        return 2
    width = max(len(label) for label, _ in rows)
    sys.stdout.write(f"{args.name}\n")
    for label, text in rows:
        sys.stdout.write(f"  {label.ljust(width)}  {text}\n")
    return 0


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, but found {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, but found {value}")
        return value

    parse.__name__ = f"int>={low}"
    return parse


def _number(*, positive: bool):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, but found {text!r}") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(f"expected a finite number {'> 0' if positive else '>= 0'}, "
                                             f"but found {text!r}")
        return value

    parse.__name__ = "number>0" if positive else "number>=0"
    return parse


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show defaults, except for flags and options that default to nothing."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


def _add_train_grid(sub) -> None:
    from .grid_learning import _NOISES, _RUNNERS, _SCHEDULES, ESTIMATORS, MODELS, SIZE_DEFAULTS, GridLearningConfig
    from .grid_learning.objective import _LIBRARY_DEFAULTS

    defaults = GridLearningConfig()
    parser = sub.add_parser(
        "train-grid",
        help="learn shortest paths on grid maps from the paths alone (the Warcraft experiment)",
        description=(
            "Train a CNN to predict the cost of every cell of a terrain map so that Dijkstra returns the "
            "true shortest path, learning from the true paths alone through a gradient estimator. Data: "
            "synthetic Warcraft-like maps (generated once and cached), or the original Warcraft files with "
            "--original. Prints a line per epoch (loss, held-out exact-match and cost-optimal %, time) and "
            "writes metrics.json, learning_curve.png, examples.png and model.pt to --output. "
            + _LIBRARY_DEFAULTS
        ),
        formatter_class=_DefaultsFormatter,
    )
    positive, at_least_0 = _int_at_least(1), _int_at_least(0)
    add = parser.add_argument
    sizes = ", ".join(f"{k}: {', '.join(f'{n}={v}' for n, v in changes.items()) or 'the defaults'}"
                      for k, changes in SIZE_DEFAULTS.items())
    add("--k", "--size", dest="k", type=_int_at_least(2), default=defaults.k, metavar="K",
        help=f"grid side (k x k cells); 18, 24 and 30 change the training budget ({sizes}); options given "
             f"on the command line win")
    add("--estimator", choices=ESTIMATORS, default=defaults.estimator, help="gradient estimator")
    add("--samples", dest="num_samples", metavar="S", type=positive, default=defaults.num_samples,
        help="noise samples per map (imle, aimle, perturbed, fenchel-young); the library's default is 1, "
             "see above")
    add("--lambda", dest="lambda_", metavar="LAMBDA", type=_number(positive=True), default=defaults.lambda_,
        help="target step in cost units (imle, blackbox); initial beta (aimle); the library's "
             "PerturbedTarget default is 10, see above")
    add("--noise-temperature", metavar="TAU", type=_number(positive=False), default=defaults.noise_temperature,
        help="noise scale tau (sigma for perturbed and fenchel-young)")
    add("--noise", choices=_NOISES, default=defaults.noise, help="noise distribution")
    add("--epochs", metavar="N", type=positive, default=None,
        help=f"passes over the training maps (default: {defaults.epochs}, or as --k says)")
    add("--train", dest="num_train", metavar="N", type=positive, default=None,
        help=f"training maps (default: {defaults.num_train}, or as --k says)")
    add("--val", dest="num_val", metavar="N", type=at_least_0, default=defaults.num_val,
        help="validation maps, evaluated after every epoch (0: none)")
    add("--test", dest="num_test", metavar="N", type=positive, default=defaults.num_test,
        help="test maps, evaluated at the end")
    add("--batch-size", metavar="N", type=positive, default=defaults.batch_size, help="maps per step")
    add("--lr", metavar="LR", type=_number(positive=True), default=defaults.lr, help="Adam's peak learning rate")
    add("--schedule", choices=_SCHEDULES, default=defaults.schedule, help="learning-rate schedule")
    add("--model", choices=MODELS, default=defaults.model,
        help="cnn: WarcraftCNN (--width channels); resnet18-trunk: the papers' network (ResNet18's first block, "
             "64 channels, adaptive max pooling to k x k, 1x1 conv; 13x the parameters)")
    add("--width", metavar="N", type=positive, default=defaults.width, help="channels of the CNN (--model cnn)")
    add("--seed", metavar="N", type=at_least_0, default=defaults.seed, help="model, batch order and noise seed")
    add("--data-seed", metavar="N", type=at_least_0, default=defaults.data_seed, help="synthetic data set seed")
    add("--runner", choices=_RUNNERS, default=defaults.runner, help="how the oracle runs its batches")
    add("--threads", metavar="N", type=positive, default=defaults.threads, help="torch intra-op threads")
    add("--output", dest="output_dir", metavar="PATH", default="runs/grid", help="output folder")
    add("--original", default=None, metavar="PATH",
        help="a folder of the original Warcraft files ({split}_maps.npy, {split}_vertex_weights.npy, "
             "{split}_shortest_paths.npy) instead of synthetic maps")
    add("--data-dir", "--cache-dir", dest="cache_dir", metavar="PATH", default=None,
        help="where the synthetic data set is cached, one file per size and seed, about 28 KB a map at "
             "12 x 12 and 177 KB at 30 x 30 (default: $IMLE_SOLVERS_CACHE or ~/.cache/imle_solvers)")
    add("--augment", action="store_true",
        help="rotate a random half of each training batch by 180 degrees (better cost-optimal %%, but the labels' "
             "tie rule is not rotation-invariant, so exact-match %% drops)")
    add("--nproc", metavar="N", type=positive, default=1,
        help="data-parallel training in N local processes (torch.distributed, gloo): each solves and "
             "back-propagates batch-size/N maps of every batch, with the noise a single process would draw; "
             "N x --threads should not exceed the cores. Under torchrun, leave it at 1")
    add("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(handler=_cmd_train_grid, parser=parser)


def _cmd_train_grid(args: argparse.Namespace) -> int:
    from .datasets import synthetic_warcraft_cache_file
    from .errors import ImleSolversError
    from .grid_learning import train_grid, train_grid_processes
    from .grid_learning.objective import _estimator_settings

    config = _grid_config(args)
    try:
        config.validate()
    except ImleSolversError as error:
        args.parser.error(str(error))
    if args.nproc > 1 and config.batch_size % args.nproc:
        args.parser.error(f"expected --batch-size divisible by --nproc {args.nproc}, but found {config.batch_size}")
    rank, world = _torchrun_group()
    processes = max(world, args.nproc)
    if config.original is None:
        source = "synthetic Warcraft-like maps"
    else:
        source = f"original Warcraft files in {config.original}"

    log = _stdout_line if rank == 0 else _quiet
    log(f"train-grid: {config.estimator} on {config.k}x{config.k} {source}: {config.num_train} train / "
        f"{config.num_val} val / {config.num_test} test maps, {_count(config.epochs, 'epoch')} of batch "
        f"{config.batch_size}, {_count(config.threads, 'torch thread')}"
        + (f" per process, {processes} processes of {config.batch_size // processes} maps each"
           if processes > 1 else ""))
    log(f"estimator: {_estimator_settings(config)}")
    if config.original is None:
        log(f"data: {synthetic_warcraft_cache_file(config.k, seed=config.data_seed, cache_dir=config.cache_dir)} "
            f"(generated on first use; --data-dir or $IMLE_SOLVERS_CACHE to move it)")

    try:
        if args.nproc > 1:
            result = train_grid_processes(config, args.nproc, log=log, progress=args.progress)
        else:
            result = train_grid(config, log=log, progress=args.progress and rank == 0)
    except (ImleSolversError, FileNotFoundError, NotADirectoryError) as error:
        sys.stderr.write(f"imle-solvers train-grid: error: {error}\n")
        return 1
    finally:
        if world > 1:  # the torchrun group joined above
            import torch.distributed as dist

            dist.destroy_process_group()
    for name in ("metrics", "learning_curve", "examples", "model"):
        if name in result.files:
            log(f"wrote {result.files[name]}")
    return 0


def _grid_config(args: argparse.Namespace):
    """The GridLearningConfig of train-grid's arguments: the size's defaults
    (``GridLearningConfig.for_size``), then every option given."""
    from .grid_learning import GridLearningConfig

    options = {f.name: getattr(args, f.name) for f in dataclasses.fields(GridLearningConfig)
               if getattr(args, f.name, None) is not None}  # None: the default for the size
    return GridLearningConfig.for_size(options.pop("k"), **options)


def _stdout_line(line: str) -> None:
    """Print one line now (a module-level function: it travels to a spawned rank 0)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _quiet(line: str) -> None:
    """The log of ranks other than 0."""


def _torchrun_group() -> tuple[int, int]:
    """Under ``torchrun`` (``WORLD_SIZE`` > 1 in the environment): join its
    process group (gloo) and return ``(rank, world_size)``; else ``(0, 1)``."""
    import os

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size()


def _count(number: int | None, noun: str) -> str:
    """``1 epoch``, ``5 epochs``; ``None`` is torch's own setting."""
    if number is None:
        return f"torch's default {noun}s"
    return f"{number} {noun}" + ("" if number == 1 else "s")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="imle-solvers",
        description="Discrete solvers made trainable with Implicit MLE.",
    )
    parser.add_argument("--version", action="version", version=f"imle-solvers {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    oracles = sub.add_parser(
        "oracles", help="list the registered oracles, or show one: its options, per-call data and complexity",
        description="Without NAME: a table of the registered oracles (plugins included). With NAME: that oracle's "
                    "options with their defaults, the data passed with each call, its complexity and backend.",
    )
    oracles.add_argument("name", nargs="?", default=None, metavar="NAME", help="an oracle's name, e.g. knapsack")
    oracles.set_defaults(handler=_cmd_oracles)
    _add_train_grid(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``imle-solvers`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
