"""The data of the grid job: the synthetic maps or the original files, split
into training, validation and test maps."""

from __future__ import annotations

import numpy as np

from ..datasets import GridPathData, load_synthetic_warcraft
from .config import GridLearningConfig

__all__ = ["load_grid_data"]


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
        from ..datasets import load_warcraft

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

