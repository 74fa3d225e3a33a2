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

__all__ = ["GridLearningResult", "format_epoch", "train_grid"]


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
) -> GridLearningResult:
    """Train a :class:`~imle_solvers.models.WarcraftCNN` to predict cell costs
    whose shortest paths are the true ones, from the true paths alone.

    Steps: load the data (:func:`load_grid_data`, or ``data``), build the
    model, the ``shortest_path_grid`` oracle (compiled on a first call, timed
    apart) and the estimator (:func:`build_estimator`), then for every epoch
    run Adam over a fresh permutation of the training maps and
    :func:`evaluate` the validation maps; finally evaluate the test maps
    and, with ``config.output_dir``, write ``metrics.json`` (config, history,
    test metrics, timings), ``learning_curve.png``, ``examples.png`` and
    ``model.pt`` (the ``state_dict``).

    Args:
        config: a :class:`GridLearningConfig` (default: the demo's).
        data: ``(train, val, test)`` splits to use instead of loading them
            (``val`` may be ``None``).
        log: called with each per-epoch line (see :func:`format_epoch`) and
            a final summary line; ``None`` logs nothing.
        progress: show a tqdm progress bar per epoch (on stderr).

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
        return _train(config, data, log, progress)


def _train(config, data, log, progress) -> GridLearningResult:
    import torch

    from ..models import SYNTHETIC_WARCRAFT_MEAN, SYNTHETIC_WARCRAFT_STD, WarcraftCNN
    from ..registry import get_oracle

    emit = log if log is not None else (lambda line: None)
    timings: dict[str, float] = {}
    start = time.perf_counter()

    # data
    train, val, test = load_grid_data(config) if data is None else data
    for name, split in (("training", train), ("validation", val), ("test", test)):
        if split is not None and split.k != config.k:
            raise InvalidInputError(f"train_grid: expected {config.k} x {config.k} maps (config.k), but found "
                                    f"{split.k} x {split.k} {name} maps")
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
    if config.original is None:
        mean, std = SYNTHETIC_WARCRAFT_MEAN, SYNTHETIC_WARCRAFT_STD
    else:
        mean, std = _channel_statistics(train.images)
    model = WarcraftCNN(k=config.k, width=config.width, num_blocks=config.num_blocks, mean=mean, std=std)
    estimator = build_estimator(config, oracle, generator=generator)
    fenchel_young = config.estimator == "fenchel-young"
    batch_size = min(config.batch_size, train.num_maps)
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
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch}/{config.epochs}", leave=False, unit="step",
                       mininterval=0.5)
        total_loss = 0.0
        for step in steps:
            index = order[step * batch_size : (step + 1) * batch_size]
            images, paths = train_images[index], train_paths[index]
            if config.augment:
                images, paths = _rotate_half(images, paths, generator)
            costs = model(images)  # (B, k, k)
            loss = _batch_loss(estimator, fenchel_young, costs, paths)  # (B,)
            optimiser.zero_grad(set_to_none=True)
            loss.sum().backward()
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
        record: dict[str, Any] = {
            "epoch": epoch,
            "loss": total_loss / steps_per_epoch,
            "lr": float(optimiser.param_groups[0]["lr"]),
            "val": evaluate(model, val, oracle=oracle, batch_size=config.eval_batch_size) if val is not None else None,
        }
        record["seconds"] = time.perf_counter() - epoch_start
        history.append(record)
        emit(format_epoch(record, config.epochs))
    timings["train"] = time.perf_counter() - tick

    tick = time.perf_counter()
    model.eval()
    test_metrics, (test_costs, test_paths) = evaluate(
        model, test, oracle=oracle, batch_size=config.eval_batch_size, return_predictions=True
    )
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
    result = GridLearningResult(config, history, test_metrics, timings, data_info, model)
    if config.output_dir is not None:
        tick = time.perf_counter()
        _write_outputs(result, test, test_costs, test_paths)
        timings["files"] = time.perf_counter() - tick
    timings["total"] = time.perf_counter() - start
    if config.output_dir is not None:
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
