"""The grid job's two pictures: the learning curve and test maps with their
paths (matplotlib's Agg canvas; no display, no pyplot state)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_examples", "plot_learning_curve"]


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
    figure = _learning_curve_figure(history, title)
    path = Path(path)
    figure.savefig(path)
    return path


def _learning_curve_figure(history: list[dict[str, Any]], title: str | None):
    """The figure of :func:`plot_learning_curve`: whole epochs on the x axis
    (one tick per epoch up to 12 epochs, with half an epoch of margin, so
    that a single epoch is one point at tick 1) and the legend below the
    axes, never over the points."""
    from matplotlib.ticker import FixedLocator, MaxNLocator

    epochs = [record["epoch"] for record in history]
    figure = _canvas(8.0, 3.6)
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
        accuracy_axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, fontsize=8, frameon=False)
    accuracy_axes.set_xlabel("epoch")
    accuracy_axes.set_ylabel("% of held-out maps")
    accuracy_axes.set_ylim(0, 100)
    accuracy_axes.set_title("held-out paths")
    accuracy_axes.grid(alpha=0.3)
    if epochs:
        first, last = min(epochs), max(epochs)
        for axis in (loss_axes, accuracy_axes):
            axis.set_xlim(first - 0.5, last + 0.5)
            if last - first < 12:
                axis.xaxis.set_major_locator(FixedLocator(list(range(first, last + 1))))
            else:
                axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


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


