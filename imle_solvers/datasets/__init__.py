"""Data sets for learning to solve: Warcraft-style shortest paths on grids,
and the BeerAdvocate reviews of the L2X experiments.

Numpy only at import time; :class:`WarcraftDataset` (a torch ``Dataset``)
is imported from :mod:`imle_solvers.datasets.torch_dataset` on first use.

- :func:`load_synthetic_warcraft` / :func:`generate_synthetic_warcraft`:
  deterministic synthetic Warcraft-like maps, cached on disk.
- :func:`load_warcraft` / :func:`load_warcraft_splits`: the original data
  set, for users who have it.
- :func:`grid_shortest_paths`: the exact labeller (batched, numpy).
- :func:`load_beer_reviews`, :func:`load_beer_annotations`,
  :func:`load_word_embeddings`, :func:`build_vocabulary`,
  :func:`subset_precision`: the BeerAdvocate review files of L2X, for users
  who have them.
- :func:`load_mnist`, :func:`read_idx`, :func:`load_digits`,
  :func:`load_mnist_or_digits`: MNIST in its standard files, and
  scikit-learn's 8x8 digits when there is none.
- metrics: :func:`exact_match`, :func:`cost_optimal`, :func:`hamming_distance`,
  :func:`path_cost`, :func:`is_valid_path`.
"""

from __future__ import annotations

import importlib
from typing import Any

from .beer import (
    BEER_ASPECTS,
    BeerReviews,
    build_vocabulary,
    load_beer_annotations,
    load_beer_reviews,
    load_word_embeddings,
    subset_precision,
)
from .grid_paths import NEIGHBOUR_OFFSETS, grid_shortest_paths
from .metrics import cost_optimal, exact_match, hamming_distance, is_valid_path, path_cost
from .mnist import ImageSplits, find_mnist, load_digits, load_mnist, load_mnist_or_digits, read_idx
from .warcraft import (
    BLOCK_SIZE,
    CELL_PIXELS,
    GENERATOR_VERSION,
    TERRAIN_COSTS,
    TERRAIN_TYPES,
    GridPathData,
    WarcraftSplits,
    default_cache_dir,
    generate_synthetic_warcraft,
    load_synthetic_warcraft,
    load_warcraft,
    load_warcraft_splits,
    render_terrain,
    sample_terrain,
    synthetic_warcraft_cache_file,
)

_LAZY = {"WarcraftDataset": "imle_solvers.datasets.torch_dataset"}

__all__ = [
    "TERRAIN_TYPES",
    "TERRAIN_COSTS",
    "CELL_PIXELS",
    "BLOCK_SIZE",
    "GENERATOR_VERSION",
    "NEIGHBOUR_OFFSETS",
    "GridPathData",
    "WarcraftSplits",
    "sample_terrain",
    "render_terrain",
    "generate_synthetic_warcraft",
    "load_synthetic_warcraft",
    "default_cache_dir",
    "load_warcraft",
    "load_warcraft_splits",
    "synthetic_warcraft_cache_file",
    "grid_shortest_paths",
    "hamming_distance",
    "exact_match",
    "path_cost",
    "cost_optimal",
    "is_valid_path",
    "WarcraftDataset",
    "BEER_ASPECTS",
    "BeerReviews",
    "build_vocabulary",
    "load_beer_reviews",
    "load_beer_annotations",
    "load_word_embeddings",
    "subset_precision",
    "ImageSplits",
    "read_idx",
    "load_mnist",
    "find_mnist",
    "load_digits",
    "load_mnist_or_digits",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'imle_solvers.datasets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
