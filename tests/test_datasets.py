"""Synthetic Warcraft-like data, its labeller, its cache, the loader of the
original data set, and the path metrics."""

from __future__ import annotations

import heapq
import subprocess
import sys
import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from imle_solvers.datasets import (
    BLOCK_SIZE,
    NEIGHBOUR_OFFSETS,
    TERRAIN_COSTS,
    TERRAIN_TYPES,
    GridPathData,
    cost_optimal,
    exact_match,
    generate_synthetic_warcraft,
    grid_shortest_paths,
    hamming_distance,
    is_valid_path,
    load_synthetic_warcraft,
    load_warcraft,
    load_warcraft_splits,
    path_cost,
    render_terrain,
    sample_terrain,
)
from imle_solvers.datasets import warcraft as warcraft_module
from imle_solvers.errors import ImleSolversWarning, InvalidInputError


@pytest.fixture(scope="module")
def maps12():
    """100 synthetic 12 x 12 maps with their terrain."""
    return generate_synthetic_warcraft(100, k=12, seed=7, return_terrain=True)


def _assert_same(a: GridPathData, b: GridPathData):
    for field in GridPathData._fields:
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and x.shape == y.shape, field
        assert x.tobytes() == y.tobytes(), field


# ---------------------------------------------------------------------------
# generator


def test_same_seed_gives_byte_identical_arrays_and_other_seeds_differ():
    first = generate_synthetic_warcraft(20, k=12, seed=3)
    _assert_same(first, generate_synthetic_warcraft(20, k=12, seed=3))
    other_seed = generate_synthetic_warcraft(20, k=12, seed=4)
    other_stream = generate_synthetic_warcraft(20, k=12, seed=3, stream="val")
    for other in (other_seed, other_stream):
        assert not np.array_equal(first.costs, other.costs)
        assert not np.array_equal(first.images, other.images)


def test_shorter_request_is_a_prefix_across_block_boundaries():
    long = generate_synthetic_warcraft(BLOCK_SIZE + 20, k=5, seed=1)
    for count in (3, BLOCK_SIZE, BLOCK_SIZE + 7):
        short = generate_synthetic_warcraft(count, k=5, seed=1)
        _assert_same(short, GridPathData(*(array[:count] for array in long)))


@pytest.mark.parametrize("k", [2, 3, 7, 12, 18])
def test_shapes_and_dtypes(k):
    data = generate_synthetic_warcraft(4, k=k, seed=0)
    assert data.images.shape == (4, 3, 8 * k, 8 * k) and data.images.dtype == np.uint8
    assert data.costs.shape == (4, k, k) and data.costs.dtype == np.float32
    assert data.paths.shape == (4, k, k) and data.paths.dtype == np.uint8
    assert data.k == k and data.num_maps == 4
    assert set(np.unique(data.paths)) <= {0, 1}
    assert np.isin(data.costs, TERRAIN_COSTS).all()


def test_empty_request():
    data = generate_synthetic_warcraft(0, k=12)
    assert data.images.shape == (0, 3, 96, 96) and data.paths.shape == (0, 12, 12)


def test_all_five_terrains_appear_with_their_costs(maps12):
    data, terrain = maps12
    assert len(TERRAIN_TYPES) == 5
    np.testing.assert_array_equal(data.costs, TERRAIN_COSTS[terrain])
    assert set(np.unique(data.costs).tolist()) == set(TERRAIN_COSTS.tolist())
    assert sorted(TERRAIN_COSTS.tolist()) == pytest.approx([0.8, 1.2, 5.3, 7.7, 9.2])
    shares = np.bincount(terrain.ravel(), minlength=5) / terrain.size
    assert (shares > 0.03).all(), dict(zip(TERRAIN_TYPES, shares))


def test_terrain_is_spatially_correlated(maps12):
    _, terrain = maps12
    same_right = np.mean(terrain[:, :, 1:] == terrain[:, :, :-1])
    same_below = np.mean(terrain[:, 1:, :] == terrain[:, :-1, :])
    shares = np.bincount(terrain.ravel(), minlength=5) / terrain.size
    independent = np.sum(shares**2)  # P(two i.i.d. cells agree), about 0.23
    # Measured: about 0.65 for both directions against 0.23. Deterministic (seeded).
    assert same_right > 2 * independent and same_below > 2 * independent
    # Smoother fields give larger patches.
    rng = np.random.default_rng(0)
    rough, smooth = sample_terrain(200, 12, rng, smoothness=0.5), sample_terrain(200, 12, rng, smoothness=3.0)
    assert np.mean(smooth[:, :, 1:] == smooth[:, :, :-1]) > np.mean(rough[:, :, 1:] == rough[:, :, :-1]) + 0.1


def test_images_are_learnable_per_cell_but_not_per_pixel(maps12):
    """The terrain of a cell is readable from its 8 x 8 pixels (mean and std
    per channel, nearest centroid: about 99.9%), but not from one pixel's
    colour (nearest centroid: about 75%)."""
    data, terrain = maps12
    n, k = terrain.shape[:2]
    cells = data.images.reshape(n, 3, k, 8, k, 8).transpose(0, 2, 4, 1, 3, 5).reshape(n * k * k, 3, 64)
    cells = cells.astype(np.float64)
    labels = terrain.ravel()
    half = labels.size // 2

    def nearest_centroid_accuracy(features, labels):
        train, test = slice(0, features.shape[0] // 2), slice(features.shape[0] // 2, None)
        scale = features[train].std(axis=0)
        centroids = np.stack([features[train][labels[train] == t].mean(axis=0) for t in range(5)])
        distance = (((features[test][:, None, :] - centroids) / scale) ** 2).sum(axis=-1)
        return np.mean(distance.argmin(axis=1) == labels[test])

    per_cell = np.concatenate([cells.mean(axis=2), cells.std(axis=2)], axis=1)
    assert nearest_centroid_accuracy(per_cell, labels) > 0.98
    pixels = cells[:half].transpose(0, 2, 1).reshape(-1, 3)
    assert nearest_centroid_accuracy(pixels, np.repeat(labels[:half], 64)) < 0.9


def test_render_rejects_bad_terrain():
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidInputError, match=r"terrain indices in \[0, 4\]"):
        render_terrain(np.full((1, 2, 2), 5), rng)
    with pytest.raises(InvalidInputError, match=r"\(n, k, k\)"):
        render_terrain(np.zeros((2, 3)), rng)


def test_bad_generation_arguments():
    with pytest.raises(InvalidInputError, match="num_maps"):
        generate_synthetic_warcraft(-1)
    with pytest.raises(InvalidInputError, match="stream"):
        generate_synthetic_warcraft(1, stream="training")
    with pytest.raises(InvalidInputError, match="k >= 1"):
        generate_synthetic_warcraft(1, k=0)


# ---------------------------------------------------------------------------
# labels


def _networkx_optimal_cost(costs: np.ndarray) -> float:
    """Vertex-weighted grid as a directed graph: the edge u -> v costs c[v]."""
    k = costs.shape[0]
    graph = nx.DiGraph()
    for i in range(k):
        for j in range(k):
            for di, dj in NEIGHBOUR_OFFSETS:
                a, b = i + di, j + dj
                if 0 <= a < k and 0 <= b < k:
                    graph.add_edge((i, j), (a, b), weight=float(costs[a, b]))
    if k == 1:
        return float(costs[0, 0])
    return float(costs[0, 0]) + nx.dijkstra_path_length(graph, (0, 0), (k - 1, k - 1))


def _assert_is_simple_path(path: np.ndarray):
    """Cells of one 8-connected chain from (0, 0) to (k-1, k-1), no extras."""
    k = path.shape[0]
    cells = {tuple(int(x) for x in cell) for cell in np.argwhere(path == 1)}
    assert (0, 0) in cells and (k - 1, k - 1) in cells
    graph = nx.Graph()
    graph.add_nodes_from(cells)
    for i, j in cells:
        for di, dj in NEIGHBOUR_OFFSETS:
            if (i + di, j + dj) in cells:
                graph.add_edge((i, j), (i + di, j + dj))
    hops = nx.shortest_path_length(graph, (0, 0), (k - 1, k - 1))
    assert hops + 1 == len(cells)  # every cell lies on one chain


@pytest.mark.parametrize("k", [2, 5, 12])
def test_labels_are_optimal_paths_per_networkx(k):
    data = generate_synthetic_warcraft(25, k=k, seed=11)
    # the labeller applied to the stored float32 costs reproduces the labels
    np.testing.assert_array_equal(grid_shortest_paths(data.costs), data.paths)
    for costs, path in zip(data.costs, data.paths):
        _assert_is_simple_path(path)
        assert path_cost(path, costs) == pytest.approx(_networkx_optimal_cost(costs), rel=1e-9)


def test_labels_of_larger_maps_are_optimal():
    data = generate_synthetic_warcraft(3, k=30, seed=2)
    for costs, path in zip(data.costs, data.paths):
        _assert_is_simple_path(path)
        assert path_cost(path, costs) == pytest.approx(_networkx_optimal_cost(costs), rel=1e-9)


def _lexicographic_dijkstra(costs: np.ndarray) -> np.ndarray:
    """Textbook Dijkstra on (D, H) keys with a heap, then the documented
    backtracking rule: an independent reference for the tie rule."""
    k = costs.shape[0]
    key = {(0, 0): (costs[0, 0], 0)}
    heap, done = [(costs[0, 0], 0, 0, 0)], set()
    while heap:
        d, h, i, j = heapq.heappop(heap)
        if (i, j) in done:
            continue
        done.add((i, j))
        for di, dj in NEIGHBOUR_OFFSETS:
            a, b = i + di, j + dj
            if 0 <= a < k and 0 <= b < k and (a, b) not in done:
                candidate = (d + costs[a, b], h + 1)
                if candidate < key.get((a, b), (np.inf, 0)):
                    key[(a, b)] = candidate
                    heapq.heappush(heap, (*candidate, a, b))
    path = np.zeros((k, k), dtype=np.uint8)
    v = (k - 1, k - 1)
    path[v] = 1
    while v != (0, 0):
        options = []
        for order, (di, dj) in enumerate(NEIGHBOUR_OFFSETS):
            u = (v[0] + di, v[1] + dj)
            if 0 <= u[0] < k and 0 <= u[1] < k:
                options.append((key[u][0] + costs[v], key[u][1], order, u))
        v = min(options)[3]
        path[v] = 1
    return path


@pytest.mark.parametrize("values", [[1.0, 2.0], [0.0, 1.0], [0.8, 1.2, 5.3, 7.7, 9.2], [8, 12, 53, 77, 92]], ids=str)
def test_tie_rule_matches_a_heap_dijkstra(rng, values):
    """Few distinct costs make many ties: cost, then cells, then the
    neighbour order must all agree with the reference."""
    for k in (1, 2, 3, 4, 6):
        costs = rng.choice(values, size=(40, k, k)).astype(np.float64)
        paths = grid_shortest_paths(costs)
        for index in range(costs.shape[0]):
            np.testing.assert_array_equal(paths[index], _lexicographic_dijkstra(costs[index]), err_msg=f"{k=} {index=}")


def test_grid_shortest_paths_batch_shapes_and_costs():
    costs = np.ones((2, 3, 4, 4))
    paths, totals = grid_shortest_paths(costs, return_costs=True)
    assert paths.shape == (2, 3, 4, 4) and totals.shape == (2, 3)
    np.testing.assert_array_equal(totals, 4.0)
    np.testing.assert_array_equal(paths[1, 2], np.eye(4))
    # small chunks give the same answer
    data = generate_synthetic_warcraft(10, k=6, seed=0)
    np.testing.assert_array_equal(grid_shortest_paths(data.costs, chunk_size=3), data.paths)


def test_grid_shortest_paths_rejects_bad_costs():
    costs = np.ones((3, 4, 4))
    costs[2, 1, 1] = -0.5
    with pytest.raises(InvalidInputError, match=r"map \(2,\).*min -0.5") as info:
        grid_shortest_paths(costs)
    assert info.value.index == (2,)
    costs[2, 1, 1] = np.nan
    with pytest.raises(InvalidInputError, match="finite non-negative"):
        grid_shortest_paths(costs)
    with pytest.raises(InvalidInputError, match=r"\(\.\.\., k, k\)"):
        grid_shortest_paths(np.ones((2, 3, 4)))


# ---------------------------------------------------------------------------
# cache


def test_cache_round_trip(tmp_path, monkeypatch):
    splits = load_synthetic_warcraft(12, 6, 3, 2, seed=5, cache_dir=tmp_path)
    files = list(tmp_path.glob("*.npz"))
    assert len(files) == 1 and "k12" in files[0].name and "seed5" in files[0].name
    assert not list(tmp_path.glob("*.tmp"))

    def fail(*args, **kwargs):
        raise AssertionError("generated again instead of reading the cache")

    monkeypatch.setattr(warcraft_module, "generate_synthetic_warcraft", fail)
    again = load_synthetic_warcraft(12, 6, 3, 2, seed=5, cache_dir=tmp_path)
    for first, second in zip(splits, again):
        _assert_same(first, second)
    assert [s.num_maps for s in again] == [6, 3, 2]


def test_cache_matches_direct_generation_and_splits_are_disjoint(tmp_path):
    splits = load_synthetic_warcraft(12, 6, 3, 2, seed=5, cache_dir=tmp_path)
    _assert_same(splits.val, generate_synthetic_warcraft(3, 12, seed=5, stream="val"))
    images = np.concatenate([s.images for s in splits]).reshape(11, -1)
    assert len({row.tobytes() for row in images}) == 11
    # A split does not depend on the sizes of the others.
    other = load_synthetic_warcraft(12, 9, 3, 2, seed=5, cache_dir=tmp_path)
    _assert_same(other.test, splits.test)
    assert len(list(tmp_path.glob("*.npz"))) == 1  # one file per data set, whatever the split sizes


def test_one_cache_file_serves_every_split_size(tmp_path, monkeypatch):
    """A smaller request is sliced from the cached set without generating;
    a larger one regenerates only the split that grew; one file throughout."""
    from imle_solvers.datasets import synthetic_warcraft_cache_file

    big = load_synthetic_warcraft(5, 12, 4, 3, seed=2, cache_dir=tmp_path)
    (file,) = tmp_path.glob("*.npz")
    assert file == synthetic_warcraft_cache_file(5, seed=2, cache_dir=tmp_path)
    generated = []
    real = warcraft_module.generate_synthetic_warcraft

    def counting(num_maps, *args, **kwargs):
        generated.append((num_maps, kwargs.get("stream")))
        return real(num_maps, *args, **kwargs)

    monkeypatch.setattr(warcraft_module, "generate_synthetic_warcraft", counting)
    small = load_synthetic_warcraft(5, 7, 0, 2, seed=2, cache_dir=tmp_path)
    assert generated == []
    for part, whole in zip(small, big):
        _assert_same(part, GridPathData(*(array[: part.num_maps] for array in whole)))
    grown = load_synthetic_warcraft(5, 20, 4, 3, seed=2, cache_dir=tmp_path)
    assert generated == [(20, "train")]
    _assert_same(grown.train, real(20, 5, seed=2, stream="train"))
    assert list(tmp_path.glob("*.npz")) == [file]
    generated.clear()
    again = load_synthetic_warcraft(5, 16, 4, 3, seed=2, cache_dir=tmp_path)
    assert generated == []
    _assert_same(again.train, GridPathData(*(array[:16] for array in grown.train)))


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("IMLE_SOLVERS_CACHE", str(tmp_path / "env-cache"))
    load_synthetic_warcraft(3, 2, 1, 1)
    assert len(list((tmp_path / "env-cache").glob("*.npz"))) == 1


def test_cache_can_be_switched_off(tmp_path, monkeypatch):
    monkeypatch.setenv("IMLE_SOLVERS_CACHE", str(tmp_path))
    load_synthetic_warcraft(3, 2, 1, 1, cache=False)
    assert not any(tmp_path.iterdir())


def test_corrupt_cache_is_regenerated_with_a_warning(tmp_path):
    splits = load_synthetic_warcraft(4, 2, 1, 1, cache_dir=tmp_path)
    (file,) = tmp_path.glob("*.npz")
    file.write_bytes(b"not a zip file")
    with pytest.warns(ImleSolversWarning, match="unreadable"):
        again = load_synthetic_warcraft(4, 2, 1, 1, cache_dir=tmp_path)
    _assert_same(splits.train, again.train)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_synthetic_warcraft(4, 2, 1, 1, cache_dir=tmp_path)  # rewritten: reads cleanly


# ---------------------------------------------------------------------------
# the original data set's loader


def _write_original(folder, split, data: GridPathData, *, images=None, costs=None, paths=None):
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{split}_maps.npy", data.images.transpose(0, 2, 3, 1) if images is None else images)
    np.save(folder / f"{split}_vertex_weights.npy", data.costs.astype(np.float64) if costs is None else costs)
    np.save(folder / f"{split}_shortest_paths.npy", data.paths.astype(np.float64) if paths is None else paths)


def test_loader_round_trip(tmp_path):
    root = tmp_path / "warcraft_shortest_path_oneskin" / "12x12"
    originals = {split: generate_synthetic_warcraft(3, 12, seed=9, stream=split) for split in ("train", "val", "test")}
    for split, data in originals.items():
        _write_original(root, split, data)
    loaded = load_warcraft(root, "val")
    _assert_same(loaded, originals["val"])
    assert loaded.images.flags.c_contiguous
    # the parent folders work when k is given
    _assert_same(load_warcraft(tmp_path, "test", k=12), originals["test"])
    _assert_same(load_warcraft(root.parent, "test", k=12), originals["test"])
    splits = load_warcraft_splits(root, k=12)
    for split, data in originals.items():
        _assert_same(getattr(splits, split), data)


def test_loader_errors(tmp_path):
    data = generate_synthetic_warcraft(2, 4, seed=0)
    with pytest.raises(FileNotFoundError, match="no such folder"):
        load_warcraft(tmp_path / "nowhere")
    _write_original(tmp_path / "ok", "train", data)
    with pytest.raises(FileNotFoundError, match=r"val_maps\.npy.*train_maps\.npy"):
        load_warcraft(tmp_path / "ok", "val")
    (tmp_path / "ok" / "train_shortest_paths.npy").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing file .*train_shortest_paths\.npy"):
        load_warcraft(tmp_path / "ok", "train")

    hwc = data.images.transpose(0, 2, 3, 1)
    cases = {
        "channels": (dict(images=data.images), r"train_maps\.npy: expected RGB images of shape \(N, H, W, 3\)"),
        "dtype": (
            dict(images=hwc.astype(np.float32)),
            r"train_maps\.npy: expected dtype uint8, but found dtype float32",
        ),
        "count": (dict(images=hwc[:1]), r"expected N = 2 images.*found shape \(1, 32, 32, 3\)"),
        "paths": (dict(paths=data.paths[:, :3, :3]), r"train_shortest_paths\.npy: expected shape \(2, 4, 4\)"),
        "costs": (dict(costs=np.ones((2, 4, 5))), r"train_vertex_weights\.npy: expected costs of shape \(N, k, k\)"),
        "binary": (dict(paths=data.paths * 2.0), r"expected 0/1 entries"),
        "multiple": (dict(images=hwc[:, :30, :30]), r"multiples of k = 4"),
    }
    for name, (override, message) in cases.items():
        folder = tmp_path / name
        _write_original(folder, "train", data, **override)
        with pytest.raises(InvalidInputError, match=message):
            load_warcraft(folder, "train")
    with pytest.raises(InvalidInputError, match=r"expected shape \(N, 12, 12\), but found shape \(2, 4, 4\)"):
        load_warcraft(tmp_path / "multiple", "train", k=12)


# ---------------------------------------------------------------------------
# metrics


def test_metrics_per_instance():
    costs = np.ones((3, 3))[None].repeat(3, 0)
    true = np.eye(3, dtype=np.uint8)[None].repeat(3, 0)
    detour = np.array([[1, 1, 0], [0, 0, 1], [0, 0, 1]])  # 4 cells
    twin = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 1]])  # 4 cells
    predicted = np.stack([true[0], detour, twin])
    np.testing.assert_array_equal(hamming_distance(predicted, true), [0, 3, 3])
    np.testing.assert_array_equal(exact_match(predicted, true), [True, False, False])
    np.testing.assert_array_equal(path_cost(predicted, costs), [3.0, 4.0, 4.0])
    np.testing.assert_array_equal(cost_optimal(predicted, costs, true), [True, False, False])
    np.testing.assert_array_equal(is_valid_path(predicted), [True, True, True])
    broken = np.stack([np.diag([1, 0, 1]), np.diag([1, 1, 0]), np.zeros((3, 3))])
    np.testing.assert_array_equal(is_valid_path(broken), [False, False, False])
    stray = np.eye(5)
    stray[0, 4] = 1  # a cell off the path
    assert is_valid_path(np.eye(5)) and not is_valid_path(stray)


def test_cost_optimal_accepts_a_different_path_of_equal_cost():
    # Two 4-cell paths of equal cost 4 around an expensive diagonal.
    costs = np.array([[1.0, 1.0, 5.0], [1.0, 5.0, 1.0], [5.0, 1.0, 1.0]])
    upper = np.array([[1, 1, 0], [0, 0, 1], [0, 0, 1]])
    lower = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 1]])
    label = grid_shortest_paths(costs)
    assert path_cost(upper, costs) == path_cost(lower, costs) == path_cost(label, costs) == 4.0
    assert cost_optimal(upper, costs, lower) and cost_optimal(lower, costs, upper)
    assert not exact_match(upper, lower)
    assert not cost_optimal(np.eye(3), costs, label)  # the diagonal costs 7


def test_metrics_take_torch_tensors(maps12):
    import torch

    data, _ = maps12
    paths = torch.from_numpy(data.paths).float().requires_grad_(True)
    assert exact_match(paths, data.paths).all()
    assert cost_optimal(paths, torch.from_numpy(data.costs), data.paths).all()
    assert is_valid_path(torch.from_numpy(data.paths)).all()
    with pytest.raises(InvalidInputError, match="same shape"):
        hamming_distance(data.paths[:2], data.paths[:3])


def test_dataset_wrapper(maps12):
    import torch

    from imle_solvers.datasets import WarcraftDataset

    data, _ = maps12
    dataset = WarcraftDataset(data)
    assert len(dataset) == 100
    image, costs, path = dataset[3]
    assert image.dtype == torch.uint8 and image.shape == (3, 96, 96)
    assert costs.dtype == torch.float32 and path.dtype == torch.float32
    np.testing.assert_array_equal(path.numpy(), data.paths[3])
    assert np.shares_memory(dataset.images.numpy(), data.images)
    batch = next(iter(torch.utils.data.DataLoader(dataset, batch_size=8)))
    assert batch[0].shape == (8, 3, 96, 96)


def test_datasets_import_without_torch():
    code = "import sys, imle_solvers.datasets; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_top_level_names():
    import imle_solvers

    assert imle_solvers.load_synthetic_warcraft is load_synthetic_warcraft
    assert imle_solvers.load_warcraft is load_warcraft
    assert {"WarcraftCNN", "WarcraftDataset"} <= set(imle_solvers.__all__)
