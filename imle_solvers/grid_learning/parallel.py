"""Data-parallel training of the grid job in local processes
(``imle-solvers train-grid --nproc N``).

:func:`train_grid` itself runs data-parallel whenever it is called inside a
running ``torch.distributed`` process group (``torchrun``); this module
starts such a group on one machine — ``N`` spawned processes, the ``gloo``
backend, a rendezvous file in a temporary folder — and brings rank 0's
result back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..datasets import GridPathData
from ..errors import ImleSolversError, InvalidInputError
from .config import GridLearningConfig
from .training import GridLearningResult, build_model, train_grid

if TYPE_CHECKING:
    from torch import nn

__all__ = ["train_grid_processes"]


def train_grid_processes(
    config: GridLearningConfig,
    nproc: int,
    *,
    data: tuple[GridPathData, GridPathData | None, GridPathData] | None = None,
    log: Callable[[str], None] | None = None,
    progress: bool = False,
    model: nn.Module | None = None,
) -> GridLearningResult:
    """:func:`train_grid` data-parallel over ``nproc`` local processes.

    Each process (rank) loads the data (rank 0 first, so that the cache is
    written once), solves and back-propagates ``config.batch_size / nproc``
    maps of every global batch through its own oracle runner, and
    ``DistributedDataParallel`` averages the gradients over ``gloo``; the
    noise of a map is the same whatever rank solves it, so a step equals the
    single-process step on the same global batch (see :func:`train_grid`).
    ``config.threads`` torch threads per process: ``nproc * threads`` should
    not exceed the cores. Every process holds the whole data set in memory.

    Args:
        config: the configuration; ``config.batch_size`` must be divisible
            by ``nproc``.
        nproc: the number of processes (1: plain :func:`train_grid`).
        data: splits to use instead of loading them (pickled to every process).
        log: called by rank 0 with each line; it must be picklable (a
            module-level function, ``print``), since rank 0 runs in a spawned
            process.
        progress: rank 0's tqdm progress bar.
        model: a network to train instead of :func:`build_model`'s (pickled to
            every process); rank 0's trained weights are loaded into it.

    Returns:
        Rank 0's :class:`GridLearningResult`, its model rebuilt here from
        rank 0's weights.

    Example:
        >>> from imle_solvers.datasets import generate_synthetic_warcraft
        >>> data = (generate_synthetic_warcraft(16, k=4), None, generate_synthetic_warcraft(4, k=4, seed=1))
        >>> config = GridLearningConfig(k=4, epochs=1, batch_size=8, width=4)
        >>> result = train_grid_processes(config, 2, data=data)  # doctest: +SKIP
        >>> result.data["processes"], result.data["steps_per_epoch"]  # doctest: +SKIP
        (2, 2)
    """
    config.validate()
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise InvalidInputError(f"train_grid_processes: expected nproc to be an int >= 1, but found {nproc!r}")
    if nproc == 1:
        return train_grid(config, data=data, log=log, progress=progress, model=model)
    if config.batch_size % nproc:
        raise InvalidInputError(
            f"train_grid_processes: expected batch_size divisible by nproc = {nproc}, but found {config.batch_size}"
        )
    import torch
    import torch.multiprocessing as mp

    with tempfile.TemporaryDirectory(prefix="imle-solvers-ddp-") as folder:
        rendezvous = f"file://{Path(folder) / 'rendezvous'}"
        out_file = Path(folder) / "rank0.pt"
        try:
            mp.start_processes(
                _rank_main, args=(nproc, rendezvous, config, data, model, log, progress, str(out_file)),
                nprocs=nproc, join=True, start_method="spawn",
            )
        except mp.ProcessRaisedException as error:
            raise ImleSolversError(f"train_grid_processes: a rank failed:\n{error}") from None
        except mp.ProcessExitedException as error:
            raise ImleSolversError(f"train_grid_processes: a rank died: {error}") from None
        payload = torch.load(out_file, weights_only=False)
    if model is None:
        model = build_model(config)
    model.load_state_dict(payload["model"])
    model.eval()
    fields = payload["result"]
    return GridLearningResult(config, fields["history"], fields["test"], fields["timings"], fields["data"], model,
                              fields["files"])


def _rank_main(rank: int, world: int, rendezvous: str, config: GridLearningConfig, data: Any, model: Any,
               log: Any, progress: bool, out_file: str) -> None:
    """One rank: join the group, train, and (rank 0) save the result for the parent."""
    import torch
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=rendezvous, rank=rank, world_size=world)
    try:
        result = train_grid(config, data=data, log=log, progress=progress, model=model)
        if rank == 0:
            fields = {name: getattr(result, name) for name in ("history", "test", "timings", "data", "files")}
            torch.save({"result": fields, "model": result.model.state_dict()}, out_file)
    finally:
        dist.destroy_process_group()
