"""What the grid job minimises: the Hamming loss of the paths, the estimator
that carries its gradient through the solver, and the training objective
measured without training."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from ..datasets import GridPathData
from ..errors import InvalidInputError
from .config import ESTIMATORS, GridLearningConfig

if TYPE_CHECKING:  # torch is imported where it is used: the CLI builds its parser without it
    import torch
    from torch import nn

__all__ = ["build_estimator", "hamming_loss", "training_loss"]


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
    from ..noise import Gumbel, Normal, SumOfGamma

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
    from ..estimators import IMLE, Blackbox, FenchelYoungLoss, PerturbedOptimizer, StraightThrough
    from ..targets import AdaptiveTarget, PerturbedTarget

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


_NOISE_NAMES = {"gumbel": "Gumbel", "sum-of-gamma": "SumOfGamma", "normal": "Normal"}

_LIBRARY_DEFAULTS = (
    "The grid job's defaults differ from the library's on purpose: IMLE() alone means "
    "PerturbedTarget(lambda_=10) and num_samples=1; here lambda = 1 and 8 samples. The job sums the "
    "Hamming loss over the batch, so dL/dz is +-1 on every cell and lambda is in the units of the costs "
    "(0.8 to 9.2): 1 moves every cell by about one terrain step. 8 samples gave 92% instead of 89% "
    "cost-optimal paths after 1,000 steps for a few ms per step (docs/grid_learning.md, 'Why these settings')."
)
"""Why ``imle-solvers train-grid`` does not use the library's estimator
defaults (printed by ``--help``)."""


def _estimator_settings(config: GridLearningConfig) -> str:
    """The estimator :func:`build_estimator` makes of ``config``, in words:
    the class and every setting that shapes its gradient."""
    noise = f"{_NOISE_NAMES[config.noise]}()" if config.noise != "sum-of-gamma" else f"SumOfGamma(k={config.k})"
    sampled = f"noise={noise}, noise_temperature={config.noise_temperature}, num_samples={config.num_samples}"
    name = config.estimator
    if name == "imle":
        return f"IMLE(target=PerturbedTarget(lambda_={config.lambda_}), {sampled})"
    if name == "aimle":
        return f"IMLE(target=AdaptiveTarget(beta={config.lambda_}, target_nonzeros=2.0), {sampled})"
    if name == "blackbox":
        return f"Blackbox(lambda_={config.lambda_})"
    if name == "perturbed":
        return f"PerturbedOptimizer(sigma={config.noise_temperature}, noise={noise}, num_samples={config.num_samples})"
    if name == "fenchel-young":
        return f"FenchelYoungLoss(sigma={config.noise_temperature}, noise={noise}, num_samples={config.num_samples})"
    return "StraightThrough()"


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
        from ..registry import get_oracle

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

