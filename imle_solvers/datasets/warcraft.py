"""Warcraft-style shortest-path data: a synthetic generator and a loader for
the original data set.

The Warcraft shortest-path benchmark (Vlastelica et al., ICLR 2020; used by
I-MLE, NeurIPS 2021) shows a network an image of a terrain map; it must
predict the cost of every cell so that Dijkstra finds the optimal
top-left to bottom-right path. Training sees the true paths only.

Layout (both sources). A split is a :class:`GridPathData` of

- ``images``: uint8 ``(N, 3, 8k, 8k)``, channels first (torch convention),
  8 x 8 pixels per cell;
- ``costs``: float32 ``(N, k, k)``, the true cell costs;
- ``paths``: uint8 ``(N, k, k)``, 1 on the cells of the optimal path from
  ``(0, 0)`` to ``(k-1, k-1)`` (8-neighbourhood, both ends included).

Synthetic maps. Terrain is spatially correlated: two smooth Gaussian random
fields (white noise blurred with a Gaussian of width ``smoothness`` cells)
give an elevation (low: water; high: hills) and a vegetation level (forest or
grass in between); zero to two straight roads of one cell width cross the map.
The five terrain types carry the Warcraft costs:

=========  ======  ==========================================
terrain    cost    look
=========  ======  ==========================================
road       0.8     sandy, cobblestone grid
grass      1.2     light green, vertical blades
forest     5.3     dark green, dark tree crowns (dots)
hills      7.7     brown, diagonal contour stripes
water      9.2     blue, horizontal foam lines
=========  ======  ==========================================

Each cell is rendered from its terrain's 8 x 8 texture at a random phase,
shifted by a random per-cell brightness, a random per-map tint, and
per-pixel noise, so a single pixel's colour does not tell the terrain but a
small CNN learns it easily. The labels are :func:`grid_shortest_paths` of the
stored float32 costs (float64 sums, the documented tie rule), so any float64
Dijkstra with that rule reproduces them from ``costs``. Ties are common: on
about 85% of 12 x 12 maps several paths reach the optimal cost (median 9),
mostly equally long detours through one terrain type, so the tie rule picks
the label among them. Judge predictions by :func:`cost_optimal`, not by
:func:`exact_match` alone.

Streams. Maps are generated in blocks of :data:`BLOCK_SIZE`; block ``b`` of
stream ``s`` draws from ``SeedSequence([seed, k, s, b, GENERATOR_VERSION])``.
Hence the same arguments give byte-identical arrays, the splits (streams
``"train"``, ``"val"``, ``"test"``) are disjoint, and a shorter request is a
prefix of a longer one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import ImleSolversWarning, InvalidInputError
from .grid_paths import grid_shortest_paths

__all__ = [
    "TERRAIN_TYPES",
    "TERRAIN_COSTS",
    "CELL_PIXELS",
    "BLOCK_SIZE",
    "GENERATOR_VERSION",
    "GridPathData",
    "WarcraftSplits",
    "sample_terrain",
    "render_terrain",
    "generate_synthetic_warcraft",
    "load_synthetic_warcraft",
    "default_cache_dir",
    "synthetic_warcraft_cache_file",
    "load_warcraft",
    "load_warcraft_splits",
]

TERRAIN_TYPES: tuple[str, ...] = ("road", "grass", "forest", "hills", "water")
"""Terrain names; a terrain map stores the index into this tuple."""
TERRAIN_COSTS: np.ndarray = np.array([0.8, 1.2, 5.3, 7.7, 9.2], dtype=np.float32)
"""Cost of each terrain type (the Warcraft costs), aligned with :data:`TERRAIN_TYPES`."""
CELL_PIXELS = 8
"""Pixels per cell side in the rendered images."""
BLOCK_SIZE = 256
"""Maps per random-number block (see "Streams" in the module docstring)."""
GENERATOR_VERSION = 1
"""Bumped whenever the generator's output changes; part of the cache key."""

_STREAMS = {"train": 0, "val": 1, "test": 2}
_ROAD, _GRASS, _FOREST, _HILLS, _WATER = range(5)
# Terrain thresholds on unit-variance fields: water below -0.8 and hills above
# +0.8 elevation (21% each); forest above 0 vegetation (half of the rest). With
# the roads, about 7% road, 27% grass, 27% forest, 20% hills, 19% water.
_WATER_BELOW, _HILLS_ABOVE, _FOREST_ABOVE = -0.8, 0.8, 0.0
_ROAD_SLOTS, _ROAD_PROBABILITY = 2, 0.5
_CELL_BRIGHTNESS, _MAP_TINT = 16, 10  # uniform offsets in [-a, a]


class GridPathData(NamedTuple):
    """One split of a grid shortest-path data set (see the module docstring).

    Attributes:
        images: uint8 ``(N, 3, 8k, 8k)``.
        costs: float32 ``(N, k, k)``.
        paths: uint8 ``(N, k, k)``, 0/1.

    Example:
        >>> from imle_solvers.datasets import generate_synthetic_warcraft
        >>> data = generate_synthetic_warcraft(3, k=12, seed=0)
        >>> data.num_maps, data.k, data.paths.dtype
        (3, 12, dtype('uint8'))
    """

    images: np.ndarray
    costs: np.ndarray
    paths: np.ndarray

    @property
    def num_maps(self) -> int:
        """The number of maps ``N`` (``len()`` counts the three fields)."""
        return int(self.costs.shape[0])

    @property
    def k(self) -> int:
        """The grid side ``k``."""
        return int(self.costs.shape[-1])


class WarcraftSplits(NamedTuple):
    """The ``train``, ``val`` and ``test`` splits, each a :class:`GridPathData`.

    Example:
        >>> import tempfile
        >>> from imle_solvers.datasets import load_synthetic_warcraft
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     splits = load_synthetic_warcraft(12, 4, 2, 2, cache_dir=folder)
        >>> [split.num_maps for split in splits]
        [4, 2, 2]
    """

    train: GridPathData
    val: GridPathData
    test: GridPathData


# --------------------------------------------------------------------------
# terrain


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(3.0 * sigma + 0.5))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (x / sigma) ** 2)
    return weights / weights.sum()


def _smooth_fields(rng: np.random.Generator, num_maps: int, k: int, sigma: float) -> np.ndarray:
    """Stationary unit-variance Gaussian random fields ``(num_maps, k, k)``:
    white noise on a padded grid, blurred separably, cropped."""
    kernel = _gaussian_kernel(sigma)
    radius = kernel.size // 2
    size = k + 2 * radius
    noise = rng.standard_normal((num_maps, size, size), dtype=np.float32)
    # Valid separable convolution: rows, then columns.
    field = sum(w * noise[:, i : i + k, :] for i, w in enumerate(kernel))
    field = sum(w * field[:, :, i : i + k] for i, w in enumerate(kernel))
    # Each output is a weighted sum of i.i.d. N(0, 1): variance (sum w^2)^2.
    return field / float(np.sum(kernel**2))


def sample_terrain(num_maps: int, k: int, rng: np.random.Generator, *, smoothness: float = 1.5) -> np.ndarray:
    """Spatially correlated terrain maps.

    Args:
        num_maps: how many maps.
        k: grid side (``k >= 1``).
        rng: the source of randomness.
        smoothness: width (in cells) of the Gaussian blur of the elevation and
            vegetation fields; larger values give larger patches.

    Returns:
        int8 ``(num_maps, k, k)`` indices into :data:`TERRAIN_TYPES`.

    Example:
        >>> import numpy as np
        >>> terrain = sample_terrain(3, 12, np.random.default_rng(0))
        >>> terrain.shape, terrain.dtype
        ((3, 12, 12), dtype('int8'))
        >>> [TERRAIN_TYPES[t] for t in np.unique(terrain)]
        ['road', 'grass', 'forest', 'hills', 'water']
    """
    if smoothness <= 0:
        raise InvalidInputError(f"sample_terrain: expected smoothness > 0, but found {smoothness!r}")
    elevation = _smooth_fields(rng, num_maps, k, smoothness)
    vegetation = _smooth_fields(rng, num_maps, k, smoothness)
    terrain = np.where(vegetation > _FOREST_ABOVE, _FOREST, _GRASS).astype(np.int8)
    terrain[elevation < _WATER_BELOW] = _WATER
    terrain[elevation > _HILLS_ABOVE] = _HILLS

    # Roads: digital straight lines through a random point at a random angle.
    # A cell belongs to the line when its centre is within half a cell of it
    # along the dominant axis, which gives an unbroken 8-connected strip.
    present = rng.random((num_maps, _ROAD_SLOTS)) < _ROAD_PROBABILITY
    anchor = rng.random((num_maps, _ROAD_SLOTS, 2)) * k  # (row, col) in [0, k)
    angle = rng.random((num_maps, _ROAD_SLOTS)) * np.pi
    normal = np.stack([-np.sin(angle), np.cos(angle)], axis=-1)  # (n, R, 2)
    centres = np.arange(k) + 0.5
    distance = (centres[:, None] - anchor[..., 0, None, None]) * normal[..., 0, None, None] + (
        centres[None, :] - anchor[..., 1, None, None]
    ) * normal[..., 1, None, None]  # (n, R, k, k)
    half_width = 0.5 * np.abs(normal).max(axis=-1)[..., None, None]
    road = np.any((np.abs(distance) <= half_width) & present[..., None, None], axis=1)
    terrain[road] = _ROAD
    return terrain


# --------------------------------------------------------------------------
# rendering

_BASE_COLOURS = np.array(
    [
        [176, 160, 120],  # road: sand
        [96, 160, 64],  # grass
        [48, 112, 48],  # forest
        [150, 120, 80],  # hills
        [60, 100, 180],  # water
    ],
    dtype=np.float64,
)


def _textures() -> np.ndarray:
    """int16 ``(5, 16, 3, 8, 8)``: per terrain, 16 phases (shifts by 0..3
    pixels in each direction) of an 8 x 8 texture with period 4."""
    y, x = np.mgrid[0:8, 0:8]
    tiles = np.zeros((5, 16, 3, 8, 8))
    for phase in range(16):
        yy, xx = (y + phase // 4) % 4, (x + phase % 4) % 4
        patterns = [
            # road: dark cobblestone grid lines
            (np.where((yy == 0) | (xx == 0), -1.0, 0.35), np.array([40, 40, 40])),
            # grass: light vertical blades
            (np.where((xx == 1) & (yy != 3), 1.0, -0.3), np.array([30, 45, 15])),
            # forest: dark tree crowns, 2 x 2 dots
            (np.where((yy >= 1) & (yy <= 2) & (xx >= 1) & (xx <= 2), -1.0, 0.5), np.array([30, 45, 25])),
            # hills: diagonal contour stripes
            (np.where((xx + yy) % 4 < 2, 1.0, -1.0), np.array([25, 22, 18])),
            # water: light horizontal foam lines
            (np.where(yy == 0, 1.0, -0.25), np.array([50, 50, 40])),
        ]
        for terrain, (pattern, amplitude) in enumerate(patterns):
            tiles[terrain, phase] = _BASE_COLOURS[terrain][:, None, None] + amplitude[:, None, None] * pattern
    return np.rint(tiles).astype(np.int16)


_TEXTURES = _textures()


def render_terrain(
    terrain: np.ndarray,
    rng: np.random.Generator,
    *,
    noise_rng: np.random.Generator | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Render terrain maps as RGB images, 8 x 8 pixels per cell.

    Each cell shows its terrain's texture at a random phase (one of 16), plus
    a random brightness offset in [-16, 16] per cell, a random tint in
    [-10, 10] per map and channel, and triangular pixel noise in [-30, 30]
    (std 13), clipped to [0, 255].

    Args:
        terrain: integer ``(n, k, k)`` indices into :data:`TERRAIN_TYPES`.
        rng: draws the phases, brightness and tint, in one call with one row
            per map.
        noise_rng: draws the pixel noise (default: ``rng``). With a separate
            ``noise_rng`` the image of map ``i`` does not depend on how many
            maps follow it.
        out: optional uint8 ``(n, 3, 8k, 8k)`` array to write into.

    Returns:
        uint8 ``(n, 3, 8k, 8k)``.

    Example:
        >>> import numpy as np
        >>> terrain = np.array([[[0, 4], [2, 3]]])
        >>> image = render_terrain(terrain, np.random.default_rng(0))
        >>> image.shape, image.dtype
        ((1, 3, 16, 16), dtype('uint8'))
    """
    terrain = np.asarray(terrain)
    if terrain.ndim != 3 or terrain.shape[1] != terrain.shape[2]:
        raise InvalidInputError(f"render_terrain: expected terrain of shape (n, k, k), but found {terrain.shape}")
    if terrain.size and (terrain.min() < 0 or terrain.max() >= len(TERRAIN_TYPES)):
        raise InvalidInputError(
            f"render_terrain: expected terrain indices in [0, {len(TERRAIN_TYPES) - 1}], "
            f"but found values in [{terrain.min()}, {terrain.max()}]"
        )
    noise_rng = rng if noise_rng is None else noise_rng
    n, k, _ = terrain.shape
    side = CELL_PIXELS * k
    if out is None:
        out = np.empty((n, 3, side, side), dtype=np.uint8)
    # One row of draws per map: k*k cell styles, then 3 tint values.
    style = rng.integers(0, 1 << 16, size=(n, k * k + 3), dtype=np.int32)
    cells = style[:, : k * k].reshape(n, k, k)
    phase = cells % _TEXTURES.shape[1]
    brightness = ((cells >> 4) % (2 * _CELL_BRIGHTNESS + 1) - _CELL_BRIGHTNESS).astype(np.int16)
    tint = (style[:, k * k :] % (2 * _MAP_TINT + 1) - _MAP_TINT).astype(np.int16)  # (n, 3)
    # Chunks keep the int16 working set near 64 MB whatever n is.
    chunk = max(1, (32 << 20) // (3 * side * side))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        m = stop - start
        tiles = _TEXTURES[terrain[start:stop], phase[start:stop]]  # (m, k, k, 3, 8, 8)
        tiles += brightness[start:stop, :, :, None, None, None]
        tiles += tint[start:stop, None, None, :, None, None]
        # Triangular noise from one byte: twice the sum of its nibbles, minus 30.
        raw = np.frombuffer(noise_rng.bytes(m * 3 * side * side), dtype=np.uint8)
        noise = (raw & 15).astype(np.int16)
        noise += raw >> 4
        noise -= 15
        noise *= 2
        pixels = noise.reshape(m, 3, k, CELL_PIXELS, k, CELL_PIXELS)
        pixels += tiles.transpose(0, 3, 1, 4, 2, 5)
        np.clip(pixels, 0, 255, out=pixels)
        out[start:stop] = pixels.reshape(m, 3, side, side)
    return out


# --------------------------------------------------------------------------
# generation


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InvalidInputError(f"{name}: expected a non-negative int, but found {value!r}")
    return int(value)


def _stream_id(stream) -> int:
    if isinstance(stream, str):
        if stream not in _STREAMS:
            raise InvalidInputError(
                f"stream: expected one of {sorted(_STREAMS)} or a non-negative int, but found {stream!r}"
            )
        return _STREAMS[stream]
    return _check_count("stream", stream)


def generate_synthetic_warcraft(
    num_maps: int,
    k: int = 12,
    *,
    seed: int = 0,
    stream: str | int = "train",
    smoothness: float = 1.5,
    return_terrain: bool = False,
):
    """Generate synthetic Warcraft-like maps with their labels.

    Args:
        num_maps: how many maps.
        k: grid side; any ``k >= 1`` (the benchmark uses 12, 18, 24, 30).
        seed: the data set's seed (a non-negative int).
        stream: ``"train"``, ``"val"``, ``"test"`` or a non-negative int;
            different streams are independent and never share a map draw.
        smoothness: patch size of the terrain fields, in cells.
        return_terrain: also return the int8 terrain indices ``(N, k, k)``.

    Returns:
        A :class:`GridPathData`, or ``(data, terrain)`` with ``return_terrain``.

    Example:
        >>> data = generate_synthetic_warcraft(4, k=12, seed=0)
        >>> data.images.shape, data.costs.shape, data.paths.shape
        ((4, 3, 96, 96), (4, 12, 12), (4, 12, 12))
        >>> int(data.paths[0, 0, 0]), int(data.paths[0, 11, 11])
        (1, 1)
    """
    num_maps = _check_count("num_maps", num_maps)
    k = _check_count("k", k)
    seed = _check_count("seed", seed)
    if k < 1:
        raise InvalidInputError(f"k: expected k >= 1, but found {k}")
    stream_id = _stream_id(stream)
    side = CELL_PIXELS * k
    images = np.empty((num_maps, 3, side, side), dtype=np.uint8)
    terrain = np.empty((num_maps, k, k), dtype=np.int8)
    for block, start in enumerate(range(0, num_maps, BLOCK_SIZE)):
        count = min(num_maps - start, BLOCK_SIZE)
        block_seed = np.random.SeedSequence([seed, k, stream_id, block, GENERATOR_VERSION])
        terrain_rng, style_rng, noise_rng = (np.random.default_rng(s) for s in block_seed.spawn(3))
        # The whole block's terrain is drawn (cheap) and the images of its
        # first maps do not depend on the rest, so that a shorter request is
        # a prefix of a longer one.
        terrain[start : start + count] = sample_terrain(BLOCK_SIZE, k, terrain_rng, smoothness=smoothness)[:count]
        render_terrain(
            terrain[start : start + count], style_rng, noise_rng=noise_rng, out=images[start : start + count]
        )
    costs = TERRAIN_COSTS[terrain]
    paths = grid_shortest_paths(costs)
    data = GridPathData(images, costs, paths)
    return (data, terrain) if return_terrain else data


# --------------------------------------------------------------------------
# cache

_SPLITS = ("train", "val", "test")
_FIELDS = ("images", "costs", "paths")


def default_cache_dir() -> Path:
    """The directory of cached data sets: ``$IMLE_SOLVERS_CACHE`` if set,
    else ``$XDG_CACHE_HOME/imle_solvers`` (``~/.cache/imle_solvers``).

    Example:
        >>> from unittest import mock
        >>> with mock.patch.dict("os.environ", {"IMLE_SOLVERS_CACHE": "/tmp/my-cache"}):
        ...     str(default_cache_dir())
        '/tmp/my-cache'
    """
    explicit = os.environ.get("IMLE_SOLVERS_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "imle_solvers"


def synthetic_warcraft_cache_file(
    k: int = 12,
    *,
    seed: int = 0,
    smoothness: float = 1.5,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """The file that caches the synthetic data set of ``k``, ``seed`` and
    ``smoothness`` (it may not exist yet): one file per data set, whatever
    the split sizes asked for (see :func:`load_synthetic_warcraft`).

    Its name encodes every generation parameter and the
    :data:`GENERATOR_VERSION`; it lives in ``cache_dir`` (default
    :func:`default_cache_dir`: ``$IMLE_SOLVERS_CACHE`` or
    ``~/.cache/imle_solvers``). It takes about ``(192 k^2 + 5 k^2)`` bytes per
    map: ~28 KB at 12 x 12, ~177 KB at 30 x 30.

    Example:
        >>> synthetic_warcraft_cache_file(12, seed=3, cache_dir="/data/maps").name
        'synthetic_warcraft_v1_k12_seed3_e1a783fc324f.npz'
    """
    params = _cache_params(k, seed, smoothness)
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    name = f"synthetic_warcraft_v{GENERATOR_VERSION}_k{params['k']}_seed{params['seed']}_{digest}.npz"
    return Path(default_cache_dir() if cache_dir is None else cache_dir).expanduser() / name


def _cache_params(k, seed, smoothness) -> dict:
    return {
        "generator_version": GENERATOR_VERSION,
        "k": _check_count("k", k),
        "seed": _check_count("seed", seed),
        "smoothness": float(smoothness),
    }


def _read_cache(path: Path, params: dict) -> dict[str, GridPathData] | None:
    """The cached splits (as many maps as were stored), or None when the file
    is missing, unreadable or was made with other parameters (a warning says
    so for the last two)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            stored = json.loads(str(archive["params"]))
            if stored != params:
                warnings.warn(
                    f"cache file {path} holds a data set made with {stored}, not {params}; regenerating",
                    ImleSolversWarning,
                    stacklevel=3,
                )
                return None
            return {split: GridPathData(*(archive[f"{split}_{field}"] for field in _FIELDS)) for split in _SPLITS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        warnings.warn(f"cache file {path} is unreadable ({error!r}); regenerating", ImleSolversWarning, stacklevel=3)
        return None


def _write_cache(path: Path, params: dict, splits: dict[str, GridPathData]) -> None:
    """Write atomically: a temporary file in the same directory, then a
    rename, so that a concurrent reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"{split}_{field}": getattr(splits[split], field) for split in _SPLITS for field in _FIELDS}
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.stem + ".", suffix=".tmp", delete=False)
    try:
        with handle:
            np.savez(handle, params=np.array(json.dumps(params, sort_keys=True)), **arrays)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def load_synthetic_warcraft(
    k: int = 12,
    num_train: int = 10_000,
    num_val: int = 1_000,
    num_test: int = 1_000,
    *,
    seed: int = 0,
    smoothness: float = 1.5,
    cache_dir: str | os.PathLike | None = None,
    cache: bool = True,
) -> WarcraftSplits:
    """The synthetic Warcraft-like data set, generated once and cached.

    The defaults are the sizes of the original benchmark (10,000 / 1,000 /
    1,000 maps). The splits are the streams ``"train"``, ``"val"`` and
    ``"test"`` of :func:`generate_synthetic_warcraft`: disjoint, and each
    independent of the other splits' sizes.

    One cache file holds a data set (:func:`synthetic_warcraft_cache_file`)
    for every split size: a shorter request is a prefix of a longer one (see
    "Streams" in the module docstring), so a request the file covers is
    sliced from it, and a longer one regenerates only the splits that grew
    and rewrites the file with them.

    Args:
        k: grid side.
        num_train, num_val, num_test: maps per split.
        seed: the data set's seed.
        smoothness: patch size of the terrain, in cells.
        cache_dir: where the ``.npz`` lives (default :func:`default_cache_dir`).
        cache: read and write the cache (``False``: always generate, write
            nothing).

    Returns:
        :class:`WarcraftSplits` of :class:`GridPathData` (images uint8
        ``(N, 3, 8k, 8k)``, costs float32 ``(N, k, k)``, paths uint8
        ``(N, k, k)``).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     splits = load_synthetic_warcraft(12, 8, 2, 2, cache_dir=folder)
        ...     again = load_synthetic_warcraft(12, 4, 2, 2, cache_dir=folder)  # sliced from the same file
        >>> splits.train.images.shape, splits.test.paths.shape
        ((8, 3, 96, 96), (2, 12, 12))
        >>> bool((again.train.images == splits.train.images[:4]).all())
        True
    """
    counts = {split: _check_count(f"num_{split}", n) for split, n in zip(_SPLITS, (num_train, num_val, num_test))}
    params = _cache_params(k, seed, smoothness)
    path = synthetic_warcraft_cache_file(k, seed=seed, smoothness=smoothness, cache_dir=cache_dir) if cache else None
    stored = _read_cache(path, params) if path is not None else None
    full: dict[str, GridPathData] = {}
    grew = stored is None
    for split in _SPLITS:
        if stored is not None and stored[split].num_maps >= counts[split]:
            full[split] = stored[split]
        else:
            full[split] = generate_synthetic_warcraft(counts[split], k, seed=seed, stream=split,
                                                      smoothness=smoothness)
            grew = True
    if path is not None and grew:
        _write_cache(path, params, full)
    return WarcraftSplits(
        *(GridPathData(*(array[: counts[split]] for array in full[split])) for split in _SPLITS)
    )


# --------------------------------------------------------------------------
# the original data set

_ORIGINAL_FILES = {
    "images": "{split}_maps.npy",
    "costs": "{split}_vertex_weights.npy",
    "paths": "{split}_shortest_paths.npy",
}


def _resolve_folder(path: Path, split: str, k: int | None) -> Path:
    """The folder holding ``{split}_maps.npy``: ``path`` itself, or, given
    ``k``, ``path/{k}x{k}`` or ``path/warcraft_shortest_path_oneskin/{k}x{k}``."""
    if not path.exists():
        raise FileNotFoundError(f"load_warcraft: no such folder: {path}")
    if not path.is_dir():
        raise NotADirectoryError(f"load_warcraft: expected a folder holding {split}_maps.npy, but {path} is a file")
    candidates = [path]
    if k is not None:
        candidates += [path / f"{k}x{k}", path / "warcraft_shortest_path_oneskin" / f"{k}x{k}"]
    for folder in candidates:
        if (folder / f"{split}_maps.npy").is_file():
            return folder
    return path


def load_warcraft(path: str | os.PathLike, split: str = "train", *, k: int | None = None) -> GridPathData:
    """Load one split of the original Warcraft shortest-path data set from disk.

    Nothing is downloaded. The folder (e.g.
    ``warcraft_shortest_path_oneskin/12x12``) holds, per split,
    ``{split}_maps.npy`` (uint8 ``(N, H, W, 3)`` RGB images),
    ``{split}_vertex_weights.npy`` (``(N, k, k)`` costs) and
    ``{split}_shortest_paths.npy`` (``(N, k, k)`` 0/1 paths).

    Args:
        path: that folder; given ``k``, also its parent ``.../{k}x{k}`` or the
            grandparent holding ``warcraft_shortest_path_oneskin/{k}x{k}``.
        split: ``"train"``, ``"val"`` or ``"test"`` (any file prefix works).
        k: the expected grid side (checked when given).

    Returns:
        A :class:`GridPathData` in the layout of the synthetic data: images
        transposed to uint8 ``(N, 3, H, W)``, costs float32, paths uint8.

    Raises:
        FileNotFoundError: the folder or one of the three files is missing
            (the message names it).
        InvalidInputError: a file's shape or dtype is not as described, or
            the files disagree on ``N`` or ``k`` (the message names the file,
            the expected and the found shape).

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> np.save(folder / "val_maps.npy", np.zeros((2, 16, 16, 3), np.uint8))
        >>> np.save(folder / "val_vertex_weights.npy", np.ones((2, 2, 2), np.float32))
        >>> np.save(folder / "val_shortest_paths.npy", np.eye(2)[None].repeat(2, 0))
        >>> data = load_warcraft(folder, "val")
        >>> data.images.shape, data.costs.dtype, data.paths.dtype
        ((2, 3, 16, 16), dtype('float32'), dtype('uint8'))
    """
    folder = _resolve_folder(Path(path).expanduser(), split, k)
    files = {field: folder / pattern.format(split=split) for field, pattern in _ORIGINAL_FILES.items()}
    for file in files.values():
        if not file.is_file():
            present = sorted(p.name for p in folder.glob("*.npy"))
            raise FileNotFoundError(
                f"load_warcraft: missing file {file} (the folder holds {present or 'no .npy files'})"
            )
    # Read the headers first (memory maps) so that shapes are checked before
    # anything large is loaded.
    arrays = {field: np.load(file, mmap_mode="r", allow_pickle=False) for field, file in files.items()}
    images, costs, paths = arrays["images"], arrays["costs"], arrays["paths"]

    def bad(field, expected, found):
        return InvalidInputError(f"load_warcraft: {files[field]}: expected {expected}, but found {found}")

    if images.ndim != 4 or images.shape[-1] != 3:
        raise bad("images", "RGB images of shape (N, H, W, 3)", f"shape {images.shape}")
    if images.dtype != np.uint8:
        raise bad("images", "dtype uint8", f"dtype {images.dtype}")
    if costs.ndim != 3 or costs.shape[1] != costs.shape[2]:
        raise bad("costs", "costs of shape (N, k, k)", f"shape {costs.shape}")
    n, grid = costs.shape[0], costs.shape[1]
    if k is not None and grid != k:
        raise bad("costs", f"shape (N, {k}, {k})", f"shape {costs.shape}")
    if images.shape[0] != n:
        raise bad("images", f"N = {n} images (as in {files['costs'].name})", f"shape {images.shape}")
    if paths.shape != costs.shape:
        raise bad("paths", f"shape {costs.shape} (as in {files['costs'].name})", f"shape {paths.shape}")
    if images.shape[1] % grid or images.shape[2] % grid:
        raise bad("images", f"height and width multiples of k = {grid}", f"shape {images.shape}")
    for field, array in (("costs", costs), ("paths", paths)):
        if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
            raise bad(field, "a numeric dtype", f"dtype {array.dtype}")
    path_values = np.asarray(paths)
    if not np.isin(path_values, (0, 1)).all():
        raise bad("paths", "0/1 entries", f"values in [{path_values.min()}, {path_values.max()}]")
    return GridPathData(
        np.ascontiguousarray(np.asarray(images).transpose(0, 3, 1, 2)),
        np.asarray(costs, dtype=np.float32),
        path_values.astype(np.uint8),
    )


def load_warcraft_splits(path: str | os.PathLike, *, k: int | None = None) -> WarcraftSplits:
    """All three splits of the original data set; see :func:`load_warcraft`.

    Example:
        >>> import numpy as np, tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> for split in ("train", "val", "test"):
        ...     np.save(folder / f"{split}_maps.npy", np.zeros((1, 16, 16, 3), np.uint8))
        ...     np.save(folder / f"{split}_vertex_weights.npy", np.ones((1, 2, 2)))
        ...     np.save(folder / f"{split}_shortest_paths.npy", np.eye(2)[None])
        >>> load_warcraft_splits(folder).test.costs.shape
        (1, 2, 2)
    """
    return WarcraftSplits(*(load_warcraft(path, split, k=k) for split in _SPLITS))
