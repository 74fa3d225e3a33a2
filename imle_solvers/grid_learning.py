"""Learning shortest paths on grids from the paths alone (the Warcraft experiment).

A CNN looks at a terrain map, predicts one cost per cell, the
``shortest_path_grid`` oracle (Dijkstra) turns the costs into a path, and the
network learns from the true paths only — never from the true costs — through
a gradient estimator: I-MLE, AIMLE, blackbox differentiation, a perturbed
optimizer, the Fenchel-Young loss or straight-through. This is the Warcraft
shortest-path benchmark of Vlastelica et al. (ICLR 2020) and Niepert et al.
(NeurIPS 2021), on the synthetic Warcraft-like maps of
:mod:`imle_solvers.datasets` (or on the original files, if you have them).

The loss (every estimator but ``fenchel-young``) is the Hamming distance
between the predicted and the true path, summed over the cells of a map::

    L(z, y) = sum_cells z (1 - y) + (1 - z) y,   dL/dz = 1 - 2y  (+-1 per cell)

For the backward pass the per-map losses are *summed* over the batch, so that
``dL/dz`` is +-1 on every cell whatever the batch size and ``lambda_`` is in
the units of the costs: the I-MLE and blackbox targets move every cell's cost
by ``lambda_`` (cheaper on the true path, dearer off it). Adam is invariant
to the scale of the gradient, so the sum trains like the mean; logs and
``metrics.json`` report the mean per map. ``fenchel-young`` minimises the
perturbed Fenchel-Young loss of the true path instead (Berthet et al. 2020).

Entry points:

- :class:`GridLearningConfig` — every knob, validated;
- :func:`train_grid` — data, model, estimator, training, evaluation, files;
  returns a :class:`GridLearningResult`;
- :func:`evaluate` — cost-optimal %, exact-match %, Hamming distance of the
  noiseless MAP paths of a model on a data split;
- :func:`plot_learning_curve`, :func:`plot_examples` — the two pictures
  (matplotlib's Agg canvas; no display, no pyplot state);
- ``imle-solvers train-grid`` — the command line (see :mod:`imle_solvers.cli`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .datasets import GridPathData, cost_optimal, exact_match, hamming_distance, load_synthetic_warcraft
from .errors import InvalidInputError

if TYPE_CHECKING:  # torch is imported where it is used: the CLI builds its parser without it
    import torch
    from torch import nn

__all__ = [
    "ESTIMATORS",
    "GridLearningConfig",
    "GridLearningResult",
    "build_estimator",
    "evaluate",
    "format_epoch",
    "hamming_loss",
    "load_grid_data",
    "plot_examples",
    "plot_learning_curve",
    "predict_costs",
    "train_grid",
    "training_loss",
]

ESTIMATORS: tuple[str, ...] = ("imle", "aimle", "blackbox", "perturbed", "fenchel-young", "straight-through")
"""The estimators :func:`train_grid` knows, by their command-line names
(``GridLearningConfig.estimator`` and ``imle-solvers train-grid --estimator``)."""
_NOISES = ("gumbel", "sum-of-gamma", "normal")
_SCHEDULES = ("onecycle", "cosine", "constant")
_RUNNERS = ("serial", "threads", "processes")


@dataclass
class GridLearningConfig:
    """Everything :func:`train_grid` needs; the defaults are the demo's
    (``make demo``: I-MLE on 10,000 synthetic 12 x 12 maps, 5 epochs of
    batch 32; about 80 s of training on one core, 95% cost-optimal paths on
    1,000 held-out maps over seeds 0-2; see ``docs/grid_learning.md``).

    Attributes:
        k: grid side (maps are ``k x k`` cells of 8 x 8 pixels).
        estimator: one of :data:`ESTIMATORS`.
        num_samples: noise samples per map (``imle``, ``aimle``,
            ``perturbed``, ``fenchel-young``); the network runs once per map
            whatever the number, so samples are cheap here.
        lambda_: the target step of ``imle`` and ``blackbox``, in cost units
            (see the module docstring); for ``aimle`` the initial relative
            step ``beta``.
        noise_temperature: the noise scale ``tau`` (``sigma`` for
            ``perturbed`` and ``fenchel-young``).
        noise: ``"gumbel"``, ``"sum-of-gamma"`` (``SumOfGamma(k)``) or
            ``"normal"`` (``perturbed`` and ``fenchel-young`` need a density:
            ``gumbel`` or ``normal``).
        epochs: passes over the training maps.
        num_train, num_val, num_test: maps per split. ``val`` is evaluated
            after every epoch, ``test`` once at the end. With
            ``original`` data the first ``num_*`` maps of each file are used
            (all of them when the file holds fewer; the counts used are
            recorded in the result).
        batch_size: maps per step; an epoch is ``num_train // batch_size``
            steps over a fresh permutation (the maps left over wait for the
            next epoch's permutation).
        lr: Adam's (peak) learning rate.
        schedule: ``"onecycle"`` (linear warm-up over the first
            ``warmup`` of the steps, then cosine annealing to ~0),
            ``"cosine"`` (annealing only) or ``"constant"``.
        warmup: share of the steps spent warming up (``onecycle``).
        weight_decay: Adam's L2 penalty.
        width, num_blocks: of :class:`~imle_solvers.models.WarcraftCNN`.
        seed: model initialisation, batch order and noise.
        data_seed: the synthetic data set's seed.
        runner: the oracle's runner (``"serial"``, ``"threads"``,
            ``"processes"``); the numba Dijkstra takes ~12 µs per 12 x 12
            map, so ``serial`` is the fast choice.
        threads: torch intra-op threads while training (``None``: leave
            torch's setting alone).
        original: a folder of the original Warcraft files (see
            :func:`~imle_solvers.datasets.load_warcraft`); ``None``: the
            synthetic maps.
        cache_dir: where the synthetic data set is cached (``None``: the
            default cache directory).
        output_dir: where ``metrics.json``, ``learning_curve.png``,
            ``examples.png`` and ``model.pt`` go (``None``: write nothing).
        eval_batch_size: maps per forward pass in :func:`evaluate`.
        num_examples: maps in ``examples.png``.
        augment: rotate a random half of every training batch by 180
            degrees (image and path). The rotation swaps the two corners
            of the path, so the rotated path is an optimal path of the
            rotated map; it keeps the direction of every texture stripe
            (vertical, horizontal, diagonal), so rotated maps look like
            maps of the same distribution.

    Example:
        >>> config = GridLearningConfig(estimator="blackbox", epochs=2)
        >>> config.validate().estimator
        'blackbox'
        >>> GridLearningConfig(estimator="magic").validate()
        Traceback (most recent call last):
        ...
        imle_solvers.errors.InvalidInputError: GridLearningConfig: expected estimator in ('imle', 'aimle', \
'blackbox', 'perturbed', 'fenchel-young', 'straight-through'), but found 'magic'
    """

    k: int = 12
    estimator: str = "imle"
    num_samples: int = 8
    lambda_: float = 1.0
    noise_temperature: float = 1.0
    noise: str = "gumbel"
    epochs: int = 5
    num_train: int = 10_000
    num_val: int = 500
    num_test: int = 1000
    batch_size: int = 32
    lr: float = 2e-2
    schedule: str = "onecycle"
    warmup: float = 0.1
    weight_decay: float = 0.0
    width: int = 16
    num_blocks: int = 2
    seed: int = 0
    data_seed: int = 0
    runner: str = "serial"
    threads: int | None = 1
    original: str | None = None
    cache_dir: str | None = None
    output_dir: str | None = None
    eval_batch_size: int = 250
    num_examples: int = 4
    augment: bool = False

    def validate(self) -> GridLearningConfig:
        """Check every field; raise :class:`~imle_solvers.InvalidInputError`
        naming the first bad one. Returns ``self``."""

        def bad(name: str, expected: str) -> InvalidInputError:
            return InvalidInputError(
                f"GridLearningConfig: expected {name} {expected}, but found {getattr(self, name)!r}"
            )

        def is_int(value: Any) -> bool:
            return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

        def is_number(value: Any) -> bool:
            return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)

        for name, low in (("k", 2), ("num_samples", 1), ("epochs", 1), ("num_train", 1), ("num_test", 1),
                          ("batch_size", 1), ("width", 1), ("eval_batch_size", 1)):
            if not is_int(getattr(self, name)) or getattr(self, name) < low:
                raise bad(name, f"to be an int >= {low}")
        for name in ("num_val", "num_blocks", "seed", "data_seed", "num_examples"):
            if not is_int(getattr(self, name)) or getattr(self, name) < 0:
                raise bad(name, "to be an int >= 0")
        for name in ("lambda_", "lr"):
            if not is_number(getattr(self, name)) or getattr(self, name) <= 0:
                raise bad(name, "to be a finite number > 0")
        for name in ("noise_temperature", "weight_decay"):
            if not is_number(getattr(self, name)) or getattr(self, name) < 0:
                raise bad(name, "to be a finite number >= 0")
        if not is_number(self.warmup) or not 0 < self.warmup < 1:
            raise bad("warmup", "in (0, 1)")
        if self.estimator not in ESTIMATORS:
            raise bad("estimator", f"in {ESTIMATORS}")
        if self.noise not in _NOISES:
            raise bad("noise", f"in {_NOISES}")
        if self.estimator in ("perturbed", "fenchel-young") and self.noise == "sum-of-gamma":
            raise bad("noise", f"'gumbel' or 'normal' for estimator {self.estimator!r} (it needs a noise density)")
        if self.estimator in ("perturbed", "fenchel-young") and self.noise_temperature == 0:
            raise bad("noise_temperature", f"> 0 for estimator {self.estimator!r}")
        if self.schedule not in _SCHEDULES:
            raise bad("schedule", f"in {_SCHEDULES}")
        if self.runner not in _RUNNERS:
            raise bad("runner", f"in {_RUNNERS}")
        if self.threads is not None and (not is_int(self.threads) or self.threads < 1):
            raise bad("threads", "to be an int >= 1 or None")
        if not isinstance(self.augment, bool):
            raise bad("augment", "to be a bool")
        if self.original is not None and not Path(self.original).expanduser().is_dir():
            raise bad("original", "to be a folder holding the original Warcraft .npy files")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return dataclasses.asdict(self)


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


# --------------------------------------------------------------------------
# data


def load_grid_data(config: GridLearningConfig) -> tuple[GridPathData, GridPathData | None, GridPathData]:
    """The ``(train, val, test)`` splits of ``config``: synthetic maps
    (generated once, cached) or the first ``num_*`` maps of the original
    files; ``val`` is ``None`` when ``num_val`` is 0.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     train, val, test = load_grid_data(GridLearningConfig(
        ...         k=6, num_train=8, num_val=0, num_test=2, cache_dir=folder))
        >>> train.images.shape, val, test.paths.shape
        ((8, 3, 48, 48), None, (2, 6, 6))
    """
    if config.original is None:
        splits = load_synthetic_warcraft(
            config.k, config.num_train, config.num_val, config.num_test, seed=config.data_seed,
            cache_dir=config.cache_dir,
        )
        train, val, test = splits
    else:
        from .datasets import load_warcraft

        def first(split: str, count: int) -> GridPathData:
            data = load_warcraft(config.original, split, k=config.k)
            return GridPathData(*(array[:count] for array in data))

        train, test = first("train", config.num_train), first("test", config.num_test)
        val = first("val", config.num_val) if config.num_val > 0 else None
    if val is not None and val.num_maps == 0:
        val = None
    return train, val, test


def _channel_statistics(images: np.ndarray, max_images: int = 1000) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of uint8 images ``(N, 3, H, W)`` scaled to [0, 1]."""
    sample = images[:max_images].astype(np.float64) / 255.0
    return sample.mean(axis=(0, 2, 3)).tolist(), np.maximum(sample.std(axis=(0, 2, 3)), 1e-3).tolist()


# --------------------------------------------------------------------------
# estimator and loss


def hamming_loss(z: torch.Tensor, paths: torch.Tensor) -> torch.Tensor:
    """Hamming distance per map, ``sum_cells z (1 - y) + (1 - z) y``, of
    (possibly averaged, fractional) solutions ``z`` ``(B, k, k)`` to the
    true paths ``y``; returns ``(B,)``. Linear in ``z``, so the loss of the
    mean over noise samples is the mean of the samples' losses.

    Example:
        >>> import torch
        >>> hamming_loss(torch.eye(3)[None], torch.fliplr(torch.eye(3))[None])
        tensor([4.])
    """
    return (z * (1 - paths) + (1 - z) * paths).sum(dim=(-2, -1))


def _make_noise(config: GridLearningConfig):
    from .noise import Gumbel, Normal, SumOfGamma

    if config.noise == "gumbel":
        return Gumbel()
    if config.noise == "normal":
        return Normal()
    return SumOfGamma(k=config.k)


def build_estimator(config: GridLearningConfig, oracle: Any, *, generator: torch.Generator | None = None) -> nn.Module:
    """The estimator module of ``config.estimator`` around ``oracle``.

    ``imle``: :class:`~imle_solvers.IMLE` with
    ``PerturbedTarget(lambda_)``; ``aimle``: IMLE with
    ``AdaptiveTarget(beta=lambda_, target_nonzeros=2)`` (the target path
    differs from the sampled one in about two cells, one cell swapped for
    another; 8 or 2k wanted non-zeros learned more slowly in a short sweep);
    ``blackbox``: :class:`~imle_solvers.Blackbox` ``(lambda_)``;
    ``perturbed``: :class:`~imle_solvers.PerturbedOptimizer`;
    ``fenchel-young``: :class:`~imle_solvers.FenchelYoungLoss`;
    ``straight-through``: :class:`~imle_solvers.StraightThrough`.

    Example:
        >>> from imle_solvers import get_oracle
        >>> build_estimator(GridLearningConfig(estimator="blackbox", lambda_=2.0), get_oracle("shortest_path_grid"))
        Blackbox(oracle=ShortestPathGrid(neighbourhood=8, backend='numba'), lambda_=2.0)
    """
    from .estimators import IMLE, Blackbox, FenchelYoungLoss, PerturbedOptimizer, StraightThrough
    from .targets import AdaptiveTarget, PerturbedTarget

    name = config.estimator
    if name == "imle":
        return IMLE(oracle, noise=_make_noise(config), target=PerturbedTarget(config.lambda_),
                    num_samples=config.num_samples, noise_temperature=config.noise_temperature, generator=generator)
    if name == "aimle":
        target = AdaptiveTarget(beta=config.lambda_, target_nonzeros=2.0)
        return IMLE(oracle, noise=_make_noise(config), target=target, num_samples=config.num_samples,
                    noise_temperature=config.noise_temperature, generator=generator)
    if name == "blackbox":
        return Blackbox(oracle, lambda_=config.lambda_)
    if name == "perturbed":
        return PerturbedOptimizer(oracle, sigma=config.noise_temperature, num_samples=config.num_samples,
                                  noise=_make_noise(config), generator=generator)
    if name == "fenchel-young":
        return FenchelYoungLoss(oracle, sigma=config.noise_temperature, num_samples=config.num_samples,
                                noise=_make_noise(config), reduction="none", generator=generator)
    if name == "straight-through":
        return StraightThrough(oracle)
    raise InvalidInputError(f"build_estimator: expected estimator in {ESTIMATORS}, but found {name!r}")


def _batch_loss(estimator: nn.Module, fenchel_young: bool, costs: torch.Tensor, paths: torch.Tensor) -> torch.Tensor:
    """Per-map training loss ``(B,)`` for predicted ``costs`` and true ``paths``."""
    if fenchel_young:
        return estimator(costs, paths)
    return hamming_loss(estimator(costs), paths)


def training_loss(
    model: nn.Module,
    data: GridPathData,
    config: GridLearningConfig,
    *,
    seed: int = 0,
    oracle: Any = None,
) -> float:
    """The training objective of ``config`` on ``data``, without training:
    the mean per-map loss over consecutive batches of ``config.batch_size``
    maps, the network in training mode (batch-norm batch statistics, as in
    a training step), the estimator's noise drawn from a generator seeded
    with ``seed``, ``config.threads`` torch threads. The same arguments give the same number, so the loss of
    two models can be compared on the same batches and the same noise. The
    model and its batch-norm statistics are left unchanged.

    Example:
        >>> from imle_solvers.datasets import generate_synthetic_warcraft
        >>> from imle_solvers.models import WarcraftCNN
        >>> data = generate_synthetic_warcraft(8, k=6)
        >>> config = GridLearningConfig(k=6, batch_size=4)
        >>> model = WarcraftCNN(k=6, width=4)
        >>> training_loss(model, data, config) == training_loss(model, data, config)
        True
    """
    import copy

    import torch

    config.validate()
    if oracle is None:
        from .registry import get_oracle

        oracle = get_oracle("shortest_path_grid", runner=config.runner)
    model = copy.deepcopy(model).train()
    estimator = build_estimator(config, oracle, generator=torch.Generator().manual_seed(seed)).train()
    images, paths = torch.from_numpy(data.images), torch.from_numpy(data.paths).float()
    batch = min(config.batch_size, data.num_maps)
    total = 0.0
    with torch.no_grad(), _torch_threads(config.threads):
        for start in range(0, data.num_maps - batch + 1, batch):
            costs = model(images[start : start + batch])  # (B, k, k)
            total += float(_batch_loss(estimator, config.estimator == "fenchel-young", costs,
                                       paths[start : start + batch]).sum())
    return total / (data.num_maps // batch * batch)


# --------------------------------------------------------------------------
# evaluation


def predict_costs(model: nn.Module, images: torch.Tensor | np.ndarray, *, batch_size: int = 250) -> torch.Tensor:
    """The model's costs ``(N, k, k)`` for images ``(N, 3, H, W)``, in eval
    mode and without gradients (the model's mode is restored).

    Example:
        >>> import torch
        >>> from imle_solvers.models import WarcraftCNN
        >>> predict_costs(WarcraftCNN(k=4, width=4), torch.zeros(3, 3, 32, 32, dtype=torch.uint8)).shape
        torch.Size([3, 4, 4])
    """
    import torch

    images = torch.as_tensor(images)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return torch.cat([model(images[i : i + batch_size]) for i in range(0, images.shape[0], batch_size)])
    finally:
        model.train(was_training)


def evaluate(
    model: nn.Module,
    data: GridPathData,
    *,
    oracle: Any = None,
    batch_size: int = 250,
    return_predictions: bool = False,
):
    """How well a model's costs lead to the true paths on a data split.

    The predicted path is the noiseless MAP ``oracle(model(image))`` (the
    model in eval mode). Metrics, averaged over the maps:

    - ``cost_optimal``: share of predicted paths whose cost *under the true
      costs* is optimal — the Warcraft papers' accuracy (a different path of
      equal cost counts);
    - ``exact_match``: share of predicted paths equal to the label;
    - ``hamming``: mean number of cells where prediction and label differ.

    Args:
        model: maps images ``(B, 3, H, W)`` to costs ``(B, k, k)``.
        data: a :class:`~imle_solvers.datasets.GridPathData` split.
        oracle: the shortest-path oracle (default
            ``get_oracle("shortest_path_grid")``).
        batch_size: maps per forward pass.
        return_predictions: also return ``(costs, paths)``, numpy arrays
            ``(N, k, k)``.

    Returns:
        ``{"cost_optimal", "exact_match", "hamming", "num_maps"}`` (floats in
        [0, 1] for the shares), and the predictions when asked.

    Example:
        >>> from imle_solvers.datasets import generate_synthetic_warcraft
        >>> from imle_solvers.models import WarcraftCNN
        >>> data = generate_synthetic_warcraft(6, k=6)
        >>> metrics = evaluate(WarcraftCNN(k=6, width=4), data)
        >>> sorted(metrics), metrics["num_maps"]
        (['cost_optimal', 'exact_match', 'hamming', 'num_maps'], 6)
    """
    if oracle is None:
        from .registry import get_oracle

        oracle = get_oracle("shortest_path_grid")
    costs = predict_costs(model, data.images, batch_size=batch_size).double().numpy()  # (N, k, k)
    paths = np.asarray(oracle(costs))  # (N, k, k)
    metrics = {
        "cost_optimal": float(cost_optimal(paths, data.costs, data.paths).mean()),
        "exact_match": float(exact_match(paths, data.paths).mean()),
        "hamming": float(hamming_distance(paths, data.paths).mean()),
        "num_maps": int(data.num_maps),
    }
    if return_predictions:
        return metrics, (costs, paths)
    return metrics


# --------------------------------------------------------------------------
# pictures


def _canvas(width: float, height: float, dpi: int = 100):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def plot_learning_curve(history: list[dict[str, Any]], path: str | os.PathLike, *, title: str | None = None) -> Path:
    """Training loss and held-out cost-optimal / exact-match % per epoch, as a PNG.

    Args:
        history: :attr:`GridLearningResult.history`.
        path: the PNG to write.
        title: the figure's title.

    Example:
        >>> import tempfile, pathlib
        >>> history = [{"epoch": 1, "loss": 9.0, "val": {"cost_optimal": 0.6, "exact_match": 0.4}},
        ...            {"epoch": 2, "loss": 4.0, "val": {"cost_optimal": 0.8, "exact_match": 0.7}}]
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     plot_learning_curve(history, pathlib.Path(folder) / "curve.png").stat().st_size > 0
        True
    """
    epochs = [record["epoch"] for record in history]
    figure = _canvas(8.0, 3.2)
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    loss_axes.plot(epochs, [record["loss"] for record in history], marker="o", color="tab:red")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("training loss per map")
    loss_axes.set_title("training loss")
    loss_axes.grid(alpha=0.3)
    held_out = [(record["epoch"], record["val"]) for record in history if record.get("val")]
    if held_out:
        x = [epoch for epoch, _ in held_out]
        accuracy_axes.plot(x, [100 * v["cost_optimal"] for _, v in held_out], marker="o", label="cost-optimal")
        accuracy_axes.plot(x, [100 * v["exact_match"] for _, v in held_out], marker="s", label="exact match")
        accuracy_axes.legend(loc="lower right")
    accuracy_axes.set_xlabel("epoch")
    accuracy_axes.set_ylabel("% of held-out maps")
    accuracy_axes.set_ylim(0, 100)
    accuracy_axes.set_title("held-out paths")
    accuracy_axes.grid(alpha=0.3)
    from matplotlib.ticker import MaxNLocator

    for axis in (loss_axes, accuracy_axes):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    return path


def plot_examples(
    images: np.ndarray,
    true_paths: np.ndarray,
    predicted_paths: np.ndarray,
    predicted_costs: np.ndarray,
    path: str | os.PathLike,
    *,
    true_costs: np.ndarray | None = None,
    optimal: np.ndarray | None = None,
    title: str | None = None,
    dpi: int = 80,
) -> Path:
    """A row per map: the image, the true path, the predicted path (both
    drawn over the image), the predicted cost map and, if given, the true
    one, as a PNG.

    Args:
        images: uint8 ``(n, 3, H, W)``.
        true_paths, predicted_paths: 0/1 ``(n, k, k)``.
        predicted_costs: ``(n, k, k)``.
        path: the PNG to write.
        true_costs: optional ``(n, k, k)``, drawn in a last column.
        optimal: optional bools ``(n,)``: whether each prediction is
            cost-optimal (shown in the panel's title).
        title: the figure's title.
        dpi: resolution.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> images = np.zeros((2, 3, 32, 32), np.uint8)
        >>> paths = np.eye(4)[None].repeat(2, 0)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     out = plot_examples(images, paths, paths, np.ones((2, 4, 4)), pathlib.Path(folder) / "x.png")
        ...     out.stat().st_size > 0
        True
    """
    n, k = len(images), true_paths.shape[-1]
    columns = 4 if true_costs is None else 5
    figure = _canvas(2.1 * columns, 2.1 * n + (0.4 if title else 0.0), dpi=dpi)
    axes = figure.subplots(n, columns, squeeze=False)
    side = images.shape[-1]
    centres = (np.arange(k) + 0.5) * side / k
    for row in range(n):
        picture = np.transpose(images[row], (1, 2, 0))  # (H, W, 3)
        panels = [("terrain", None), ("true path", true_paths[row]), ("predicted path", predicted_paths[row])]
        for column, (name, cells) in enumerate(panels):
            axis = axes[row, column]
            axis.imshow(picture, interpolation="nearest")
            if cells is not None:
                rows, cols = np.nonzero(np.asarray(cells) > 0.5)
                colour = "white" if column == 1 else "red"
                axis.scatter(centres[cols], centres[rows], s=14, c=colour, edgecolors="black", linewidths=0.5)
            label = name
            if column == 2 and optimal is not None:
                label += " (optimal)" if bool(optimal[row]) else " (costlier)"
            axis.set_title(label, fontsize=8)
        maps = [("predicted costs", predicted_costs[row])]
        if true_costs is not None:
            maps.append(("true costs", true_costs[row]))
        for offset, (name, values) in enumerate(maps):
            axis = axes[row, 3 + offset]
            heat = axis.imshow(values, cmap="viridis", interpolation="nearest")
            axis.set_title(name, fontsize=8)
            colourbar = figure.colorbar(heat, ax=axis, fraction=0.046, pad=0.04)
            colourbar.ax.tick_params(labelsize=7)
        for axis in axes[row]:
            axis.set_xticks([])
            axis.set_yticks([])
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path)
    return path


# --------------------------------------------------------------------------
# training


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


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    """Run with ``threads`` torch intra-op threads (``None``: unchanged), then restore."""
    import torch

    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _train(config, data, log, progress) -> GridLearningResult:
    import torch

    from .models import SYNTHETIC_WARCRAFT_MEAN, SYNTHETIC_WARCRAFT_STD, WarcraftCNN
    from .registry import get_oracle

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
