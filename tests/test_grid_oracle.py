"""The ``shortest_path_grid`` oracle: optimality against networkx and brute
force, the documented tie rule, agreement of backends and runners,
validation, and the type contract."""

from __future__ import annotations

import pickle
import warnings

import networkx as nx
import numpy as np
import pytest
import torch

import imle_solvers as im
from imle_solvers import get_oracle
from imle_solvers.oracles import ShortestPathGrid

OFFSETS = {
    8: [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)],
    4: [(-1, 0), (0, -1), (0, 1), (1, 0)],
}
TERRAIN = np.array([0.8, 1.2, 5.3, 7.7, 9.2])


# ---------------------------------------------------------------------- #
# Independent references
# ---------------------------------------------------------------------- #
def grid_graph(k: int, neighbourhood: int) -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(range(k * k))
    for r in range(k):
        for c in range(k):
            for dr, dc in OFFSETS[neighbourhood]:
                if 0 <= r + dr < k and 0 <= c + dc < k:
                    graph.add_edge(r * k + c, (r + dr) * k + c + dc)
    return graph


def networkx_cost(costs: np.ndarray, neighbourhood: int) -> float:
    """Cheapest path cost, vertex weights as the weight of each edge's head."""
    k = costs.shape[0]
    flat = costs.reshape(-1)
    length = nx.dijkstra_path_length(grid_graph(k, neighbourhood), 0, k * k - 1, weight=lambda u, v, d: flat[v])
    return float(flat[0] + length)


def networkx_cost_then_steps(costs: np.ndarray, neighbourhood: int) -> tuple[int, int]:
    """(cheapest cost, fewest steps among cheapest paths) for integer costs,
    via exact integer weights ``cost * big + 1``."""
    k = costs.shape[0]
    flat = costs.reshape(-1).astype(np.int64)
    big = k * k + 1
    length = nx.dijkstra_path_length(
        grid_graph(k, neighbourhood), 0, k * k - 1, weight=lambda u, v, d: int(flat[v]) * big + 1
    )
    return int(flat[0]) + length // big, length % big


def path_order(z: np.ndarray, neighbourhood: int) -> list[tuple[int, int]] | None:
    """The cells of ``z`` as a path from (0, 0) to (k-1, k-1) through
    neighbouring cells that visits each cell of ``z`` once, or None."""
    k = z.shape[0]
    cells = {tuple(int(i) for i in rc) for rc in np.argwhere(z == 1)}
    if (0, 0) not in cells or (k - 1, k - 1) not in cells:
        return None

    def extend(path, visited):
        if len(path) == len(cells):
            return path if path[-1] == (k - 1, k - 1) else None
        r, c = path[-1]
        for dr, dc in OFFSETS[neighbourhood]:
            nxt = (r + dr, c + dc)
            if nxt in cells and nxt not in visited:
                visited.add(nxt)
                found = extend(path + [nxt], visited)
                if found:
                    return found
                visited.discard(nxt)
        return None

    return extend([(0, 0)], {(0, 0)})


def simple_paths(k: int, neighbourhood: int) -> list[list[int]]:
    return list(nx.all_simple_paths(grid_graph(k, neighbourhood).to_undirected(), 0, k * k - 1))


def tie_rule_by_brute_force(costs: np.ndarray, paths: list[list[int]], neighbourhood: int) -> np.ndarray:
    """The documented rule spelled out on integer costs (exact sums): least
    cost, then fewest steps, then — read backwards from the target — the
    smallest sequence of neighbour positions in the fixed order."""
    k = costs.shape[0]
    flat = costs.reshape(-1)
    order = {offset: j for j, offset in enumerate(OFFSETS[neighbourhood])}

    def key(path):
        backwards = path[::-1]
        directions = tuple(
            order[(u // k - v // k, u % k - v % k)] for v, u in zip(backwards[:-1], backwards[1:])
        )
        return (flat[path].sum(), len(path), directions)

    best = min(paths, key=key)
    z = np.zeros(k * k)
    z[best] = 1
    return z.reshape(k, k)


def reference_rule(costs: np.ndarray, neighbourhood: int) -> np.ndarray:
    """The documented tie rule in plain Python floats (IEEE float64, like both
    backends): D by Bellman-Ford to its fixed point, H by breadth-first search
    over tight edges, then the backtrack in the fixed neighbour order."""
    k = costs.shape[0]
    w = costs.astype(np.float64).tolist()
    inf = float("inf")

    def neighbours(r, c):
        for dr, dc in OFFSETS[neighbourhood]:
            if 0 <= r + dr < k and 0 <= c + dc < k:
                yield r + dr, c + dc

    dist = [[inf] * k for _ in range(k)]
    dist[0][0] = w[0][0]
    changed = True
    while changed:
        changed = False
        for r in range(k):
            for c in range(k):
                for nr, nc in neighbours(r, c):
                    if dist[nr][nc] + w[r][c] < dist[r][c]:
                        dist[r][c] = dist[nr][nc] + w[r][c]
                        changed = True
    hops = [[None] * k for _ in range(k)]
    hops[0][0] = 0
    frontier = [(0, 0)]
    while frontier:
        following = []
        for r, c in frontier:
            for nr, nc in neighbours(r, c):
                if hops[nr][nc] is None and (nr, nc) != (0, 0) and dist[r][c] + w[nr][nc] == dist[nr][nc]:
                    hops[nr][nc] = hops[r][c] + 1
                    following.append((nr, nc))
        frontier = following
    z = np.zeros((k, k))
    r, c = k - 1, k - 1
    z[r, c] = 1
    while (r, c) != (0, 0):
        r, c = next(
            (nr, nc) for nr, nc in neighbours(r, c)
            if hops[nr][nc] == hops[r][c] - 1 and dist[nr][nc] + w[r][c] == dist[r][c]
        )
        z[r, c] = 1
    return z


def random_maps(rng, kind: str, n: int, k: int) -> np.ndarray:
    if kind == "uniform":
        return rng.uniform(0, 10, size=(n, k, k))
    if kind == "integers":  # many ties
        return rng.integers(0, 3, size=(n, k, k)).astype(float)
    if kind == "plateaus":  # zero-cost regions, as after clamping
        return rng.uniform(0, 5, size=(n, k, k)) * (rng.random((n, k, k)) < 0.4)
    if kind == "warcraft":
        return TERRAIN[rng.integers(0, 5, size=(n, k, k))]
    raise AssertionError(kind)


KINDS = ["uniform", "integers", "plateaus", "warcraft"]


# ---------------------------------------------------------------------- #
# Optimality
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize("neighbourhood", [8, 4])
@pytest.mark.parametrize("kind", KINDS)
def test_paths_are_valid_and_as_cheap_as_networkx(neighbourhood, kind):
    rng = np.random.default_rng(100 * KINDS.index(kind) + neighbourhood)
    oracle = get_oracle("shortest_path_grid", neighbourhood=neighbourhood)
    checked = 0
    for k in (1, 2, 3, 5, 8, 13):
        maps = random_maps(rng, kind, 8, k)
        paths = oracle(maps)
        for costs, z in zip(maps, paths):
            assert set(np.unique(z)) <= {0.0, 1.0}
            assert path_order(z, neighbourhood) is not None, f"not a simple path from corner to corner:\n{z}"
            assert np.isclose((z * costs).sum(), networkx_cost(costs, neighbourhood), rtol=1e-12, atol=1e-12)
            checked += 1
    assert checked == 48


@pytest.mark.parametrize("neighbourhood", [8, 4])
def test_fewest_steps_among_cheapest_paths(neighbourhood):
    # integer costs: sums are exact, so "tight" paths are all cheapest paths
    rng = np.random.default_rng(7 + neighbourhood)
    oracle = get_oracle("shortest_path_grid", neighbourhood=neighbourhood)
    for k in (2, 4, 7, 10):
        maps = rng.integers(0, 3, size=(10, k, k)).astype(float)
        for costs, z in zip(maps, oracle(maps)):
            cost, steps = networkx_cost_then_steps(costs, neighbourhood)
            assert (z * costs).sum() == cost
            assert z.sum() - 1 == steps


@pytest.mark.parametrize("neighbourhood,k", [(8, 2), (8, 3), (4, 2), (4, 3), (4, 4)])
def test_brute_force_on_tiny_grids_including_the_tie_rule(neighbourhood, k):
    rng = np.random.default_rng(k * 10 + neighbourhood)
    paths = simple_paths(k, neighbourhood)
    incidence = np.zeros((len(paths), k * k))
    for i, path in enumerate(paths):
        incidence[i, path] = 1
    oracle = get_oracle("shortest_path_grid", neighbourhood=neighbourhood)
    # real costs: the optimal cost over all simple paths
    maps = rng.uniform(0, 10, size=(100, k, k))
    for costs, z in zip(maps, oracle(maps)):
        assert np.isclose((z * costs).sum(), (incidence @ costs.reshape(-1)).min(), rtol=1e-12)
    # integer costs (ties everywhere): the exact path the documented rule names
    maps = rng.integers(0, 3, size=(100, k, k)).astype(float)
    for costs, z in zip(maps, oracle(maps)):
        np.testing.assert_array_equal(z, tie_rule_by_brute_force(costs, paths, neighbourhood))


def test_documented_tie_breaks():
    ones = np.ones((3, 3))
    # 8-neighbourhood: fewest steps wins -> the diagonal
    np.testing.assert_array_equal(get_oracle("shortest_path_grid")(ones), np.eye(3))
    np.testing.assert_array_equal(get_oracle("shortest_path_grid")(np.zeros((4, 4))), np.eye(4))
    # 4-neighbourhood: every monotone path costs 5 in 4 steps; the backtrack
    # prefers "up" over "left", so the path runs along the top row
    expected = np.array([[1, 1, 1], [0, 0, 1], [0, 0, 1]], dtype=float)
    np.testing.assert_array_equal(get_oracle("shortest_path_grid", neighbourhood=4)(ones), expected)


def test_zero_plateaus_do_not_loop_and_stay_short():
    costs = np.zeros((6, 6))
    costs[2, :5] = 5.0  # a wall with a gap at the right
    for neighbourhood in (8, 4):
        for backend in ("numba", "torch"):
            z = get_oracle("shortest_path_grid", neighbourhood=neighbourhood, backend=backend)(costs)
            assert (z * costs).sum() == 0
            assert path_order(z, neighbourhood) is not None
            _, steps = networkx_cost_then_steps(costs, neighbourhood)
            assert z.sum() - 1 == steps


# ---------------------------------------------------------------------- #
# Backends and runners give identical answers
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize("neighbourhood", [8, 4])
@pytest.mark.parametrize("kind", KINDS)
def test_numba_and_torch_backends_agree(neighbourhood, kind):
    rng = np.random.default_rng(1000 + 100 * KINDS.index(kind) + neighbourhood)
    numba_oracle = get_oracle("shortest_path_grid", neighbourhood=neighbourhood)
    torch_oracle = get_oracle("shortest_path_grid", neighbourhood=neighbourhood, backend="torch")
    for k in (1, 2, 4, 9, 16):
        maps = random_maps(rng, kind, 24, k)
        expected = numba_oracle(maps)
        np.testing.assert_array_equal(torch_oracle(torch.from_numpy(maps)).numpy(), expected)  # device path
        np.testing.assert_array_equal(torch_oracle(maps), expected)  # numpy input: torch on the CPU
        np.testing.assert_array_equal(numba_oracle(torch.from_numpy(maps)).numpy(), expected)


def test_backends_agree_on_batches_mixing_ties_and_no_ties():
    rng = np.random.default_rng(3)
    maps = np.concatenate([random_maps(rng, "uniform", 5, 10), random_maps(rng, "integers", 5, 10)])
    maps = maps[rng.permutation(10)]
    expected = get_oracle("shortest_path_grid")(maps)
    np.testing.assert_array_equal(get_oracle("shortest_path_grid", backend="torch")(maps), expected)


@pytest.mark.parametrize("neighbourhood", [8, 4])
def test_both_backends_follow_a_plain_python_reference_of_the_rule(neighbourhood):
    rng = np.random.default_rng(20 + neighbourhood)
    # Rounding traps: partial sums that differ in their last bit (1 vs 1 + 2^-52)
    # round to the same value after one more addition, so a cell's cheapest
    # predecessors can have different costs; a rule relaxing (D, H) jointly
    # (or ignoring H when relaxing) picks other paths on about 3% of these maps.
    traps = np.array([0.0, 2.0**-52, 1.0, 1.0 + 2.0**-52])[rng.integers(0, 4, size=(200, 6, 6))]
    maps = np.concatenate([traps, *(random_maps(rng, kind, 25, 6) for kind in KINDS)])
    expected = np.stack([reference_rule(costs, neighbourhood) for costs in maps])
    for backend in ("numba", "torch"):
        oracle = get_oracle("shortest_path_grid", neighbourhood=neighbourhood, backend=backend)
        np.testing.assert_array_equal(oracle(maps), expected)


@pytest.fixture(scope="module")
def process_runner():
    runner = im.ProcessRunner(2, adaptive=False)
    yield runner
    runner.close()


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_identical_on_every_runner(process_runner, backend):
    rng = np.random.default_rng(5)
    maps = np.concatenate([random_maps(rng, kind, 6, 9) for kind in KINDS])  # (24, 9, 9)
    expected = get_oracle("shortest_path_grid", backend=backend)(maps)
    threads = im.ThreadRunner(2, adaptive=False)
    try:
        for runner in ("threads", threads, process_runner):
            oracle = get_oracle("shortest_path_grid", backend=backend, runner=runner)
            np.testing.assert_array_equal(oracle(maps), expected)
    finally:
        threads.close()


# ---------------------------------------------------------------------- #
# Validation
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_negative_costs_are_refused_with_the_batch_index(backend, as_tensor):
    maps = np.ones((2, 3, 4, 4))
    maps[1, 2, 0, 3] = -0.5
    theta = torch.from_numpy(maps) if as_tensor else maps
    with pytest.raises(im.InvalidInputError) as info:
        get_oracle("shortest_path_grid", backend=backend)(theta)
    message = str(info.value)
    assert info.value.index == (1, 2)
    assert "shortest_path_grid" in message and "(1, 2)" in message
    assert "non-negative" in message and "-0.5" in message and "negative='clamp'" in message


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_clamp_solves_the_clamped_map_and_leaves_the_input_alone(backend):
    rng = np.random.default_rng(2)
    maps = rng.normal(1.0, 1.5, size=(20, 7, 7))
    assert (maps < 0).any()
    original = maps.copy()
    oracle = get_oracle("shortest_path_grid", negative="clamp", backend=backend)
    expected = get_oracle("shortest_path_grid")(np.maximum(maps, 0))
    np.testing.assert_array_equal(oracle(maps), expected)
    tensor = torch.from_numpy(maps)
    np.testing.assert_array_equal(oracle(tensor).numpy(), expected)
    np.testing.assert_array_equal(maps, original)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_nan_and_inf_are_refused(backend):
    oracle = get_oracle("shortest_path_grid", backend=backend)
    for bad in (np.nan, np.inf):
        maps = np.ones((3, 5, 5))
        maps[2, 1, 1] = bad
        for theta in (maps, torch.from_numpy(maps)):
            with pytest.raises(im.InvalidInputError, match=r"batch index \(2,\)"):
                oracle(theta)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_overflowing_path_cost_is_an_oracle_error_with_the_index(backend):
    maps = np.ones((3, 4, 4))
    maps[1] = 1e308  # finite costs whose sum is not
    for theta in (maps, torch.from_numpy(maps)):
        with pytest.raises(im.OracleError, match="overflow") as info:
            get_oracle("shortest_path_grid", backend=backend)(theta)
        assert info.value.index == (1,)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_non_square_and_empty_grids_are_refused(backend):
    oracle = get_oracle("shortest_path_grid", backend=backend)
    for theta in (np.ones((2, 3, 4)), torch.ones(2, 3, 4)):
        with pytest.raises(im.InvalidInputError, match=r"\(k, k\).*but found \(3, 4\)"):
            oracle(theta)
    with pytest.raises(im.InvalidInputError, match=r"k >= 1.*\(0, 0\)"):
        oracle(np.ones((2, 0, 0)))
    with pytest.raises(im.InvalidInputError, match="at least 2 dimension"):
        oracle(np.ones(4))


@pytest.mark.parametrize(
    "options,match",
    [
        ({"neighbourhood": 6}, "neighbourhood 8 or 4, but found 6"),
        ({"neighbourhood": True}, "neighbourhood 8 or 4"),
        ({"backend": "cuda"}, "backend 'numba' or 'torch', but found 'cuda'"),
        ({"negative": "ignore"}, "negative='raise' or negative='clamp'"),
        ({"backend": "torch", "compute_dtype": "float16"}, "compute_dtype"),
        ({"compute_dtype": "float32"}, "backend='torch' only"),
        ({"backend": "torch", "check_every": 0}, "check_every"),
    ],
)
def test_bad_options_are_clear_errors(options, match):
    with pytest.raises(im.InvalidInputError, match=match):
        get_oracle("shortest_path_grid", **options)


# ---------------------------------------------------------------------- #
# Types, shapes, registry, pickling
# ---------------------------------------------------------------------- #
@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("batch_shape", [(), (5,), (2, 3), (0,), (0, 4)])
def test_types_dtypes_and_batch_shapes(backend, batch_shape):
    rng = np.random.default_rng(0)
    maps = rng.uniform(0, 3, size=(*batch_shape, 6, 6))
    oracle = get_oracle("shortest_path_grid", backend=backend)
    flat_expected = get_oracle("shortest_path_grid")(maps.reshape(-1, 6, 6)) if maps.size else np.zeros((0, 6, 6))
    for dtype in (np.float32, np.float64):
        theta = maps.astype(dtype)
        out = oracle(theta)
        assert type(out) is np.ndarray and out.dtype == dtype and out.shape == theta.shape
        if maps.size and dtype == np.float64:
            np.testing.assert_array_equal(out.reshape(-1, 6, 6), flat_expected)
    for dtype in (torch.float32, torch.float64):
        theta = torch.from_numpy(maps).to(dtype).requires_grad_(True)
        out = oracle(theta)
        assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.shape == theta.shape
        assert out.device == theta.device and not out.requires_grad
        if maps.size and dtype == torch.float64:
            np.testing.assert_array_equal(out.reshape(-1, 6, 6).numpy(), flat_expected)


def test_integer_and_non_contiguous_input():
    rng = np.random.default_rng(1)
    maps = rng.integers(0, 5, size=(4, 7, 7))
    oracle = get_oracle("shortest_path_grid")
    out = oracle(maps)
    assert out.dtype == maps.dtype
    np.testing.assert_array_equal(out, oracle(maps.astype(float)))
    transposed = np.ascontiguousarray(maps.astype(float).transpose(0, 2, 1)).transpose(0, 2, 1)
    assert not transposed.flags.c_contiguous
    np.testing.assert_array_equal(oracle(transposed), out)
    np.testing.assert_array_equal(
        get_oracle("shortest_path_grid", backend="torch")(torch.from_numpy(transposed)).numpy(), out
    )
    read_only = maps.astype(float)
    read_only.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch's warning about non-writable arrays
        for backend in ("numba", "torch"):
            np.testing.assert_array_equal(get_oracle("shortest_path_grid", backend=backend)(read_only), out)


def test_registry_entry_flags_and_pickling():
    assert "shortest_path_grid" in im.available_oracles()
    oracle = get_oracle("shortest_path_grid", neighbourhood=4, negative="clamp")
    assert isinstance(oracle, ShortestPathGrid)
    assert oracle.sense == "min" and oracle.nonnegative and oracle.event_ndim == 2
    assert not oracle.device_native and oracle.dependencies == ("numba",)
    assert get_oracle("shortest_path_grid", backend="torch").device_native
    copy = pickle.loads(pickle.dumps(oracle))
    maps = np.random.default_rng(0).normal(1, 1, size=(3, 5, 5))
    np.testing.assert_array_equal(copy(maps), oracle(maps))
    assert "neighbourhood=4" in repr(oracle)


def test_float32_compute_is_optimal_up_to_float32_rounding():
    rng = np.random.default_rng(4)
    maps = rng.uniform(0, 10, size=(20, 10, 10))
    z = get_oracle("shortest_path_grid", backend="torch", compute_dtype="float32")(torch.from_numpy(maps)).numpy()
    for costs, path in zip(maps, z):
        assert path_order(path, 8) is not None
        assert np.isclose((path * costs).sum(), networkx_cost(costs, 8), rtol=1e-5)


@pytest.mark.cuda
def test_torch_backend_on_cuda_matches_numba():
    rng = np.random.default_rng(9)
    oracle = get_oracle("shortest_path_grid", backend="torch")
    for kind in KINDS:
        maps = random_maps(rng, kind, 64, 12)
        out = oracle(torch.from_numpy(maps).cuda())
        assert out.device.type == "cuda"
        np.testing.assert_array_equal(out.cpu().numpy(), get_oracle("shortest_path_grid")(maps))
