"""A torch ``Dataset`` over a :class:`~imle_solvers.datasets.GridPathData`."""

from __future__ import annotations

import torch

from .warcraft import GridPathData

__all__ = ["WarcraftDataset"]


class WarcraftDataset(torch.utils.data.Dataset):
    """Items ``(image, costs, path)`` of a grid shortest-path split.

    Images and costs share memory with the numpy arrays; ``image`` stays
    uint8 ``(3, H, W)`` (the model normalises it); ``costs`` and ``path`` are
    float32 ``(k, k)``. The whole split is also available as tensors
    ``images``, ``costs``, ``paths`` for index-based batching without a
    ``DataLoader``.

    Example:
        >>> from imle_solvers.datasets import generate_synthetic_warcraft
        >>> dataset = WarcraftDataset(generate_synthetic_warcraft(5, k=12))
        >>> image, costs, path = dataset[0]
        >>> len(dataset), image.shape, image.dtype, path.dtype
        (5, torch.Size([3, 96, 96]), torch.uint8, torch.float32)
    """

    def __init__(self, data: GridPathData):
        images, costs, paths = data
        self.images = torch.from_numpy(images)  # (N, 3, H, W) uint8
        self.costs = torch.from_numpy(costs).float()  # (N, k, k)
        self.paths = torch.from_numpy(paths).float()  # (N, k, k), 0/1

    def __len__(self) -> int:
        return int(self.costs.shape[0])

    def __getitem__(self, index):
        return self.images[index], self.costs[index], self.paths[index]
