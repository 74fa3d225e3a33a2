"""Scoring a model of the grid job: predicted costs, and how often their
shortest paths are optimal under the true costs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..datasets import GridPathData, cost_optimal, exact_match, hamming_distance

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["evaluate", "predict_costs"]


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
        from ..registry import get_oracle

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


