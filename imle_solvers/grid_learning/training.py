"""The training loop of the grid job: :func:`train_grid` and what it returns."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..datasets import GridPathData, cost_optimal
from ..errors import InvalidInputError
from .config import GridLearningConfig
from .data import _channel_statistics, load_grid_data
from .evaluation import evaluate
from .objective import _batch_loss, _torch_threads, build_estimator
from .pictures import plot_examples, plot_learning_curve

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["GridLearningResult", "build_model", "format_epoch", "train_grid"]


@dataclass
class GridLearningResult:
    """What :func:`train_grid` returns (and writes to ``metrics.json``).

    Attributes:
        config: the configuration used.
        history: one dict per epoch: ``epoch``, ``loss`` (mean training loss
            per map: Hamming distance, or the Fenchel-Young loss),
            ``lr`` (at the epoch's end), ``val`` (the :func:`evaluate` dict
            on the validation maps, or ``None`` without them), ``seconds``
            (training and validation time of the epoch).
        test: the :func:`evaluate` dict on the test maps after training.
        timings: seconds spent on ``data``, ``compile`` (the oracle's first
            call), ``train`` (all epochs, validation included), ``test``,
            ``files`` (pictures, JSON, weights) and ``total``.
        data: ``source`` (``synthetic`` or the original folder) and the
            number of maps per split actually used.
        model: the trained network (in eval mode).
        files: name -> path of every file written.
        estimator: the estimator module after training (an
            :class:`~imle_solvers.AdaptiveTarget`'s adapted ``beta`` is in
            ``estimator.target``).

    Example:
        >>> from imle_solvers.datasets import generate_synthetic_warcraft
        >>> data = (generate_synthetic_warcraft(16, k=6), None, generate_synthetic_warcraft(4, k=6, seed=1))
        >>> config = GridLearningConfig(k=6, epochs=2, batch_size=8, width=4, threads=None)
        >>> result = train_grid(config, data=data)
        >>> [record["epoch"] for record in result.history], result.test["num_maps"], result.data["source"]
        ([1, 2], 4, 'synthetic')
        >>> sorted(result.to_dict())  # metrics.json holds these, when an output folder is given
        ['config', 'data', 'environment', 'files', 'history', 'test', 'timings']
    """

    config: GridLearningConfig
    history: list[dict[str, Any]]
    test: dict[str, Any]
    timings: dict[str, float]
    data: dict[str, Any]
    model: nn.Module = field(repr=False)
    files: dict[str, str] = field(default_factory=dict)
    estimator: nn.Module | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the model, JSON-able (the content of ``metrics.json``)."""
        import torch

        return {
            "config": self.config.to_dict(),
            "data": self.data,
            "history": self.history,
            "test": self.test,
            "timings": self.timings,
            "files": self.files,
            "environment": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "cpu_count": os.cpu_count(),
                "torch_threads": self.config.threads if self.config.threads is not None else torch.get_num_threads(),
            },
        }



def _scheduler(config: GridLearningConfig, optimiser: torch.optim.Optimizer, total_steps: int):
    import torch

    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimiser, max_lr=config.lr, total_steps=total_steps, pct_start=config.warmup
        )
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=total_steps)
    return None


def format_epoch(record: dict[str, Any], epochs: int) -> str:
    """The per-epoch line: loss, held-out exact-match and cost-optimal %, time.

    Example:
        >>> format_epoch({"epoch": 3, "loss": 2.5, "seconds": 11.04,
        ...               "val": {"exact_match": 0.8, "cost_optimal": 0.912, "num_maps": 500}}, 8)
        'epoch 3/8  loss 2.500  val exact 80.0%  cost-optimal 91.2%  (500 maps)  11.0 s'
    """
    width = len(str(epochs))
    line = f"epoch {record['epoch']:>{width}}/{epochs}  loss {record['loss']:.3f}"
    val = record.get("val")
    if val:
        line += (
            f"  val exact {100 * val['exact_match']:.1f}%  cost-optimal {100 * val['cost_optimal']:.1f}%"
            f"  ({val['num_maps']} maps)"
        )
    return line + f"  {record['seconds']:.1f} s"


def train_grid(
    config: GridLearningConfig | None = None,
    *,
    data: tuple[GridPathData, GridPathData | None, GridPathData] | None = None,
    log: Callable[[str], None] | None = None,
    progress: bool = False,
    model: nn.Module | None = None,
) -> GridLearningResult:
    """Train a network to predict cell costs whose shortest paths are the
    true ones, from the true paths alone.

    Steps: load the data (:func:`load_grid_data`, or ``data``), build the
    model (:func:`build_model`, or ``model``), the ``shortest_path_grid``
    oracle (compiled on a first call, timed apart) and the estimator
    (:func:`build_estimator`), then for every epoch run Adam over a fresh
    permutation of the training maps and :func:`evaluate` the validation
    maps; finally evaluate the test maps and, with ``config.output_dir``,
    write ``metrics.json`` (config, history, test metrics, timings),
    ``learning_curve.png``, ``examples.png`` and ``model.pt`` (the
    ``state_dict``).

    **Data-parallel.** Called in every process of a running
    ``torch.distributed`` process group (``torchrun``, or
    ``imle-solvers train-grid --nproc N``), it trains one model with
    ``DistributedDataParallel``: every rank draws the same permutation,
    augmentation and noise for the global batch of ``config.batch_size``
    maps (:class:`~imle_solvers.distributed.ShardedNoise`) and solves and
    back-propagates its own slice of ``batch_size / world_size`` maps through
    its own oracle runner; :class:`~imle_solvers.AdaptiveTarget` statistics
    are averaged over the ranks. Without batch norm (or with batch norm in
    eval mode) a step equals the single-process step on the global batch, up
    to float rounding; with batch norm each rank normalises with its shard's
    statistics (``SyncBatchNorm`` needs a GPU). Rank 0 loads (and caches)
    the data first, evaluates, logs and writes the files; every rank returns
    the same history and test metrics.

    Args:
        config: a :class:`GridLearningConfig` (default: the demo's).
        data: ``(train, val, test)`` splits to use instead of loading them
            (``val`` may be ``None``).
        log: called with each per-epoch line (see :func:`format_epoch`) and
            a final summary line; ``None`` logs nothing.
        progress: show a tqdm progress bar per epoch (on stderr).
        model: a network to train instead of :func:`build_model`'s (images
            ``(B, 3, H, W)`` to costs ``(B, k, k)``); trained in place.

    Returns:
        A :class:`GridLearningResult`.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     result = train_grid(GridLearningConfig(
        ...         k=6, num_train=32, num_val=0, num_test=8, epochs=1, batch_size=16, width=4,
        ...         cache_dir=folder, threads=None))
        >>> len(result.history), sorted(result.test)
        (1, ['cost_optimal', 'exact_match', 'hamming', 'num_maps'])
    """

    config = (GridLearningConfig() if config is None else config).validate()
    with _torch_threads(config.threads):
        return _train(config, data, log, progress, model)


def build_model(config: GridLearningConfig, *, mean=None, std=None) -> nn.Module:
    """The network of ``config.model`` for ``config.k``: a
    :class:`~imle_solvers.models.WarcraftCNN` (``"cnn"``) or the papers'
    :class:`~imle_solvers.models.ResNet18Trunk`, initialised from torch's
    global generator; ``mean`` and ``std`` normalise the image channels
    (default: the synthetic maps' statistics).

    Example:
        >>> type(build_model(GridLearningConfig(model="resnet18-trunk"))).__name__
        'ResNet18Trunk'
    """
    from ..models import SYNTHETIC_WARCRAFT_MEAN, SYNTHETIC_WARCRAFT_STD, ResNet18Trunk, WarcraftCNN

    mean = SYNTHETIC_WARCRAFT_MEAN if mean is None else mean
    std = SYNTHETIC_WARCRAFT_STD if std is None else std
    if config.model == "resnet18-trunk":
        return ResNet18Trunk(k=config.k, mean=mean, std=std)
    return WarcraftCNN(k=config.k, width=config.width, num_blocks=config.num_blocks, mean=mean, std=std)


def _process_group() -> tuple[int, int]:
    """``(rank, world_size)`` of a running torch.distributed process group, else ``(0, 1)``."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _sum_gradients(state, bucket):  # no annotations: DDP checks them
    """DDP communication hook: all-reduce a gradient bucket by summing (DDP's default averages)."""
    import torch.distributed as dist

    work = dist.all_reduce(bucket.buffer(), async_op=True)
    return work.get_future().then(lambda future: future.value()[0])


def _from_rank_zero(value: Any, world: int) -> Any:
    """``value`` as rank 0 has it, on every rank."""
    if world == 1:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def _train(config, data, log, progress, model=None) -> GridLearningResult:
    import torch

    from ..registry import get_oracle

    rank, world = _process_group()
    emit = log if log is not None and rank == 0 else (lambda line: None)
    timings: dict[str, float] = {}
    start = time.perf_counter()

    # data (rank 0 first: it generates and caches what the others then read)
    if data is None:
        if rank > 0:
            torch.distributed.barrier()
        data = load_grid_data(config)
        if world > 1 and rank == 0:
            torch.distributed.barrier()
    train, val, test = data
    for name, split in (("training", train), ("validation", val), ("test", test)):
        if split is not None and split.k != config.k:
            raise InvalidInputError(f"train_grid: expected {config.k} x {config.k} maps (config.k), but found "
                                    f"{split.k} x {split.k} {name} maps")
    batch_size = min(config.batch_size, train.num_maps)
    if batch_size % world:
        raise InvalidInputError(f"train_grid: expected a batch of maps divisible by the {world} processes, but "
                                f"found {batch_size} (batch_size {config.batch_size}, {train.num_maps} training maps)")
    local = batch_size // world  # this rank's maps per step
    train_images = torch.from_numpy(train.images)  # (N, 3, H, W) uint8
    train_paths = torch.from_numpy(train.paths).float()  # (N, k, k)
    timings["data"] = time.perf_counter() - start

    # oracle, compiled (or loaded from numba's cache) on a first call
    tick = time.perf_counter()
    oracle = get_oracle("shortest_path_grid", runner=config.runner)
    oracle(np.ones((1, config.k, config.k)))
    timings["compile"] = time.perf_counter() - tick

    # model, estimator, optimiser
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    if model is None:
        if config.original is None:
            model = build_model(config)
        else:
            mean, std = _channel_statistics(train.images)
            model = build_model(config, mean=mean, std=std)
    network = model
    estimator = build_estimator(config, oracle, generator=generator)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        from ..distributed import ShardedNoise
        from ..targets import AdaptiveTarget

        network = DistributedDataParallel(model)
        # Sum the ranks' gradients instead of averaging them: the loss stays the sum over this
        # rank's maps, so that dL/dz (which I-MLE's and blackbox's targets step along) is the
        # single-process one, and the sum over ranks is the global batch's gradient.
        network.register_comm_hook(None, _sum_gradients)
        if getattr(estimator, "noise", None) is not None:
            estimator.noise = ShardedNoise(estimator.noise, rank, world)
        if isinstance(getattr(estimator, "target", None), AdaptiveTarget):
            estimator.target.synchronize()
    fenchel_young = config.estimator == "fenchel-young"
    steps_per_epoch = train.num_maps // batch_size
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = _scheduler(config, optimiser, config.epochs * steps_per_epoch)

    history: list[dict[str, Any]] = []
    tick = time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        estimator.train()
        order = torch.randperm(train.num_maps, generator=generator)
        steps = range(steps_per_epoch)
        bar = None
        if progress and rank == 0:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch}/{config.epochs}", leave=False, unit="step",
                       mininterval=0.5)
        total_loss = 0.0
        for step in steps:
            index = order[step * batch_size : (step + 1) * batch_size]
            images, paths = train_images[index], train_paths[index]
            if config.augment:
                images, paths = _rotate_half(images, paths, generator)
            if world > 1:  # every rank drew for the global batch; this one keeps its slice
                images, paths = images[rank * local : (rank + 1) * local], paths[rank * local : (rank + 1) * local]
            costs = network(images)  # (local, k, k)
            loss = _batch_loss(estimator, fenchel_young, costs, paths)  # (local,)
            optimiser.zero_grad(set_to_none=True)
            loss.sum().backward()  # with world > 1, DDP sums the gradients over the ranks
            optimiser.step()
            if scheduler is not None:
                scheduler.step()
            batch_loss = float(loss.detach().mean())
            total_loss += batch_loss
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{batch_loss:.2f}", refresh=False)
        if bar is not None:
            bar.close()
        if world > 1:  # the mean over the ranks' shard means: the global batches' mean
            summed = torch.tensor([total_loss], dtype=torch.float64)
            torch.distributed.all_reduce(summed)
            total_loss = float(summed[0]) / world
        held_out = None
        if val is not None and rank == 0:
            held_out = evaluate(model, val, oracle=oracle, batch_size=config.eval_batch_size)
        record: dict[str, Any] = {
            "epoch": epoch,
            "loss": total_loss / steps_per_epoch,
            "lr": float(optimiser.param_groups[0]["lr"]),
            "val": _from_rank_zero(held_out, world),
        }
        record["seconds"] = time.perf_counter() - epoch_start
        history.append(record)
        emit(format_epoch(record, config.epochs))
    timings["train"] = time.perf_counter() - tick

    tick = time.perf_counter()
    model.eval()
    test_metrics, test_costs, test_paths = None, None, None
    if rank == 0:
        test_metrics, (test_costs, test_paths) = evaluate(
            model, test, oracle=oracle, batch_size=config.eval_batch_size, return_predictions=True
        )
    test_metrics = _from_rank_zero(test_metrics, world)
    timings["test"] = time.perf_counter() - tick

    data_info = {
        "source": "synthetic" if config.original is None else str(config.original),
        "k": config.k,
        "num_train": train.num_maps,
        "num_val": 0 if val is None else val.num_maps,
        "num_test": test.num_maps,
        "steps_per_epoch": steps_per_epoch,
        "batch_size": batch_size,
    }
    if world > 1:
        data_info["processes"] = world
    result = GridLearningResult(config, history, test_metrics, timings, data_info, model, estimator=estimator)
    if config.output_dir is not None and rank == 0:
        tick = time.perf_counter()
        _write_outputs(result, test, test_costs, test_paths)
        timings["files"] = time.perf_counter() - tick
    timings["total"] = time.perf_counter() - start
    if config.output_dir is not None and rank == 0:
        _write_json(result)
    emit(
        f"test ({test.num_maps} maps): exact {100 * test_metrics['exact_match']:.1f}%  "
        f"cost-optimal {100 * test_metrics['cost_optimal']:.1f}%  hamming {test_metrics['hamming']:.2f}  "
        f"total {timings['total']:.1f} s"
    )
    return result


def _rotate_half(images, paths, generator):
    """Rotate a random half of the maps (images ``(B, 3, H, W)``, paths
    ``(B, k, k)``) by 180 degrees."""
    import torch

    flip = torch.rand(images.shape[0], generator=generator) < 0.5  # (B,)
    images, paths = images.clone(), paths.clone()
    images[flip] = images[flip].flip(-2, -1)
    paths[flip] = paths[flip].flip(-2, -1)
    return images, paths


def _write_json(result: GridLearningResult) -> None:
    path = Path(result.files["metrics"])
    path.write_text(json.dumps(result.to_dict(), indent=2) + "\n")


def _write_outputs(result: GridLearningResult, test: GridPathData, costs: np.ndarray, paths: np.ndarray) -> None:
    config = result.config
    folder = Path(config.output_dir).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    result.files["metrics"] = str(folder / "metrics.json")
    title = (
        f"{config.estimator} on {config.k}x{config.k} maps: test cost-optimal "
        f"{100 * result.test['cost_optimal']:.1f}%, exact {100 * result.test['exact_match']:.1f}%"
    )
    result.files["learning_curve"] = str(plot_learning_curve(result.history, folder / "learning_curve.png",
                                                              title=title))
    shown = min(config.num_examples, test.num_maps)
    if shown > 0:
        optimal = cost_optimal(paths[:shown], test.costs[:shown], test.paths[:shown])
        result.files["examples"] = str(
            plot_examples(test.images[:shown], test.paths[:shown], paths[:shown], costs[:shown],
                          folder / "examples.png", true_costs=test.costs[:shown], optimal=optimal, title=title)
        )
    import torch

    model_path = folder / "model.pt"
    torch.save(result.model.state_dict(), model_path)
    result.files["model"] = str(model_path)
