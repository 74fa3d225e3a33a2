"""Learning shortest paths on grids from the paths alone (the Warcraft experiment).

A CNN looks at a terrain map, predicts one cost per cell, the
``shortest_path_grid`` oracle (Dijkstra) turns the costs into a path, and the
network learns from the true paths only — never from the true costs — through
a gradient estimator: I-MLE, AIMLE, blackbox differentiation, a perturbed
optimizer, the Fenchel-Young loss or straight-through. This is the Warcraft
shortest-path benchmark of Vlastelica et al. (ICLR 2020) and Niepert et al.
(NeurIPS 2021), on the synthetic Warcraft-like maps of
:mod:`imle_solvers.datasets` (or on the original files, if you have them).

The loss (every estimator but ``fenchel-young``) is the Hamming distance
between the predicted and the true path, summed over the cells of a map::

    L(z, y) = sum_cells z (1 - y) + (1 - z) y,   dL/dz = 1 - 2y  (+-1 per cell)

For the backward pass the per-map losses are *summed* over the batch, so that
``dL/dz`` is +-1 on every cell whatever the batch size and ``lambda_`` is in
the units of the costs: the I-MLE and blackbox targets move every cell's cost
by ``lambda_`` (cheaper on the true path, dearer off it). Adam is invariant
to the scale of the gradient, so the sum trains like the mean; logs and
``metrics.json`` report the mean per map. ``fenchel-young`` minimises the
perturbed Fenchel-Young loss of the true path instead (Berthet et al. 2020).

Entry points (one module per concept: ``config``, ``data``, ``objective``,
``training``, ``evaluation``, ``pictures``; every name is importable from
``imle_solvers.grid_learning``):

- :class:`GridLearningConfig` — every knob, validated;
  ``GridLearningConfig.for_size(k)`` the defaults for 18 x 18 to 30 x 30;
- :func:`train_grid` — data, model (:func:`build_model`: the small CNN or
  the papers' ResNet18 trunk), estimator, training, evaluation, files;
  returns a :class:`GridLearningResult`; data-parallel inside a running
  ``torch.distributed`` group, and :func:`train_grid_processes` starts one;
- :func:`evaluate` — cost-optimal %, exact-match %, Hamming distance of the
  noiseless MAP paths of a model on a data split;
- :func:`plot_learning_curve`, :func:`plot_examples` — the two pictures
  (matplotlib's Agg canvas; no display, no pyplot state);
- ``imle-solvers train-grid`` — the command line (see :mod:`imle_solvers.cli`).
"""

from __future__ import annotations

from .config import _NOISES, _RUNNERS, _SCHEDULES, ESTIMATORS, MODELS, SIZE_DEFAULTS, GridLearningConfig
from .data import _channel_statistics, load_grid_data
from .evaluation import evaluate, predict_costs
from .objective import _batch_loss, _make_noise, _torch_threads, build_estimator, hamming_loss, training_loss
from .parallel import train_grid_processes
from .pictures import plot_examples, plot_learning_curve
from .training import GridLearningResult, _rotate_half, build_model, format_epoch, train_grid

__all__ = [
    "ESTIMATORS",
    "MODELS",
    "SIZE_DEFAULTS",
    "GridLearningConfig",
    "GridLearningResult",
    "build_estimator",
    "build_model",
    "evaluate",
    "format_epoch",
    "hamming_loss",
    "load_grid_data",
    "plot_examples",
    "plot_learning_curve",
    "predict_costs",
    "train_grid",
    "train_grid_processes",
    "training_loss",
]

# private names kept importable from here for the CLI and the tests
_PRIVATE = (_NOISES, _RUNNERS, _SCHEDULES, _batch_loss, _channel_statistics, _make_noise, _rotate_half,
            _torch_threads)
