"""Metrics of predicted paths against the true ones, per instance.

Inputs are numpy arrays or torch tensors (moved to the host and converted;
torch is never imported here) of shape ``(..., k, k)``; the results are
numpy arrays of shape ``(...)``. Averages over a data set are one ``.mean()``
away.

- :func:`hamming_distance`: cells where the predicted and the true path differ.
- :func:`exact_match`: the predicted path equals the true path.
- :func:`path_cost`: the sum of the costs of a path's cells.
- :func:`cost_optimal`: the predicted path costs, under the TRUE costs, the
  optimal cost (within a relative tolerance) — the Warcraft papers' main
  metric, which does not penalise a different path of equal cost.
- :func:`is_valid_path`: the cells form a connected 8-neighbourhood path
  from the top-left to the bottom-right cell.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError

__all__ = ["hamming_distance", "exact_match", "path_cost", "cost_optimal", "is_valid_path"]


def _host(array) -> np.ndarray:
    """A numpy view or copy of a numpy array, a torch tensor or a list."""
    if hasattr(array, "detach") and hasattr(array, "cpu"):  # a torch tensor
        return array.detach().cpu().numpy()
    return np.asarray(array)


def _pair(name: str, first, second) -> tuple[np.ndarray, np.ndarray]:
    first, second = _host(first), _host(second)
    if first.shape != second.shape or first.ndim < 2:
        raise InvalidInputError(
            f"{name}: expected two arrays of the same shape (..., k, k), but found {first.shape} and {second.shape}"
        )
    return first, second


def hamming_distance(predicted, target) -> np.ndarray:
    """The number of cells on which two 0/1 path maps differ.

    Example:
        >>> import numpy as np
        >>> hamming_distance(np.eye(3), np.fliplr(np.eye(3)))
        array(4)
    """
    predicted, target = _pair("hamming_distance", predicted, target)
    return np.asarray(np.sum((predicted > 0.5) != (target > 0.5), axis=(-2, -1)))


def exact_match(predicted, target) -> np.ndarray:
    """Whether the predicted path equals the true path, cell for cell.

    Example:
        >>> import numpy as np
        >>> exact_match(np.stack([np.eye(3), np.ones((3, 3))]), np.eye(3)[None].repeat(2, 0))
        array([ True, False])
    """
    return hamming_distance(predicted, target) == 0


def path_cost(paths, costs) -> np.ndarray:
    """The cost of each path: the sum of the costs of its cells (float64).

    Example:
        >>> import numpy as np
        >>> path_cost(np.eye(2), np.array([[1.0, 5.0], [5.0, 2.0]]))
        array(3.)
    """
    paths, costs = _pair("path_cost", paths, costs)
    return np.asarray(np.sum((paths > 0.5) * costs.astype(np.float64), axis=(-2, -1)))


def cost_optimal(predicted, true_costs, true_paths, *, rtol: float = 1e-5) -> np.ndarray:
    """Whether each predicted path is optimal under the true costs:
    ``|cost(predicted) - cost(true)| <= rtol * cost(true)``.

    A predicted path of equal cost that differs from the labelled one counts
    as optimal. The predicted paths are assumed to be valid paths (oracle
    outputs are); check with :func:`is_valid_path` otherwise.

    Example:
        >>> import numpy as np
        >>> costs = np.array([[1.0, 1.0], [1.0, 1.0]])
        >>> true = np.eye(2)
        >>> other = np.array([[1, 1], [0, 1]])  # three cells: costlier
        >>> cost_optimal(np.stack([true, other]), costs[None].repeat(2, 0), true[None].repeat(2, 0))
        array([ True, False])
    """
    optimal = path_cost(true_paths, true_costs)
    achieved = path_cost(predicted, true_costs)
    return np.asarray(np.abs(achieved - optimal) <= rtol * np.abs(optimal))


_OFFSETS = [(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)]


def is_valid_path(paths) -> np.ndarray:
    """Whether the cells of each 0/1 map form one 8-connected set holding
    ``(0, 0)`` and ``(k-1, k-1)`` (a path, possibly with detours; no stray
    cells elsewhere).

    Example:
        >>> import numpy as np
        >>> is_valid_path(np.stack([np.eye(3), np.diag([1, 0, 1])]))
        array([ True, False])
    """
    on = _host(paths) > 0.5
    if on.ndim < 2 or on.shape[-1] != on.shape[-2]:
        raise InvalidInputError(f"is_valid_path: expected paths of shape (..., k, k), but found {on.shape}")
    batch_shape, k = on.shape[:-2], on.shape[-1]
    on = on.reshape(-1, k, k)
    reached = np.zeros_like(on)
    reached[:, 0, 0] = on[:, 0, 0]
    while True:  # flood fill from the start over the path's cells
        grown = reached.copy()
        padded = np.pad(reached, ((0, 0), (1, 1), (1, 1)))
        for di, dj in _OFFSETS:
            grown |= padded[:, 1 + di : 1 + di + k, 1 + dj : 1 + dj + k]
        grown &= on
        if np.array_equal(grown, reached):
            break
        reached = grown
    valid = reached[:, k - 1, k - 1] & (reached == on).all(axis=(1, 2))
    return np.asarray(valid.reshape(batch_shape))
