"""The configuration of the grid job: :class:`GridLearningConfig` and the
names it accepts."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError

__all__ = ["ESTIMATORS", "MODELS", "SIZE_DEFAULTS", "GridLearningConfig"]


ESTIMATORS: tuple[str, ...] = ("imle", "aimle", "blackbox", "perturbed", "fenchel-young", "straight-through")
"""The estimators :func:`train_grid` knows, by their command-line names
(``GridLearningConfig.estimator`` and ``imle-solvers train-grid --estimator``)."""
_NOISES = ("gumbel", "sum-of-gamma", "normal")
_SCHEDULES = ("onecycle", "cosine", "constant")
_RUNNERS = ("serial", "threads", "processes")

MODELS: tuple[str, ...] = ("cnn", "resnet18-trunk")
"""The networks :func:`train_grid` can train (``GridLearningConfig.model``,
``imle-solvers train-grid --model``): ``"cnn"`` is
:class:`~imle_solvers.models.WarcraftCNN` (``width`` channels, ``num_blocks``
blocks; 11,745 parameters at the defaults), ``"resnet18-trunk"`` the papers'
:class:`~imle_solvers.models.ResNet18Trunk` (64 channels, 157,569
parameters)."""

SIZE_DEFAULTS: dict[int, dict[str, Any]] = {
    12: {},
    18: {"num_train": 20_000, "epochs": 8},
    24: {"num_train": 20_000, "epochs": 8, "eval_batch_size": 125},
    30: {"num_train": 20_000, "epochs": 8, "eval_batch_size": 100},
}
"""What :meth:`GridLearningConfig.for_size` changes for each grid side
(12 x 12 is the demo's configuration, ``GridLearningConfig()``). See
``docs/grid_learning.md`` ("Larger maps") for how they were chosen: on
validation maps only."""


@dataclass
class GridLearningConfig:
    """Everything :func:`train_grid` needs; the defaults are the demo's
    (``make demo``: I-MLE on 10,000 synthetic 12 x 12 maps, 5 epochs of
    batch 32; about 80 s of training on one core, 95% cost-optimal paths on
    1,000 held-out maps over seeds 0-2; see ``docs/grid_learning.md``).

    Attributes:
        k: grid side (maps are ``k x k`` cells of 8 x 8 pixels).
        estimator: one of :data:`ESTIMATORS`.
        num_samples: noise samples per map (``imle``, ``aimle``,
            ``perturbed``, ``fenchel-young``); the network runs once per map
            whatever the number, so samples are cheap here.
        lambda_: the target step of ``imle`` and ``blackbox``, in cost units
            (see the module docstring); for ``aimle`` the initial relative
            step ``beta``.
        noise_temperature: the noise scale ``tau`` (``sigma`` for
            ``perturbed`` and ``fenchel-young``).
        noise: ``"gumbel"``, ``"sum-of-gamma"`` (``SumOfGamma(k)``) or
            ``"normal"`` (``perturbed`` and ``fenchel-young`` need a density:
            ``gumbel`` or ``normal``).
        epochs: passes over the training maps.
        num_train, num_val, num_test: maps per split. ``val`` is evaluated
            after every epoch, ``test`` once at the end. With
            ``original`` data the first ``num_*`` maps of each file are used
            (all of them when the file holds fewer; the counts used are
            recorded in the result).
        batch_size: maps per step; an epoch is ``num_train // batch_size``
            steps over a fresh permutation (the maps left over wait for the
            next epoch's permutation).
        lr: Adam's (peak) learning rate.
        schedule: ``"onecycle"`` (linear warm-up over the first
            ``warmup`` of the steps, then cosine annealing to ~0),
            ``"cosine"`` (annealing only) or ``"constant"``.
        warmup: share of the steps spent warming up (``onecycle``).
        weight_decay: Adam's L2 penalty.
        model: one of :data:`MODELS`.
        width, num_blocks: of :class:`~imle_solvers.models.WarcraftCNN`
            (``model="cnn"``; the ResNet18 trunk has 64 channels and 2
            blocks, and other values are refused with it).
        seed: model initialisation, batch order and noise.
        data_seed: the synthetic data set's seed.
        runner: the oracle's runner (``"serial"``, ``"threads"``,
            ``"processes"``); the numba Dijkstra takes ~12 µs per 12 x 12
            map, so ``serial`` is the fast choice.
        threads: torch intra-op threads while training (``None``: leave
            torch's setting alone).
        original: a folder of the original Warcraft files (see
            :func:`~imle_solvers.datasets.load_warcraft`); ``None``: the
            synthetic maps.
        cache_dir: where the synthetic data set is cached (``None``: the
            default cache directory).
        output_dir: where ``metrics.json``, ``learning_curve.png``,
            ``examples.png`` and ``model.pt`` go (``None``: write nothing).
        eval_batch_size: maps per forward pass in :func:`evaluate`.
        num_examples: maps in ``examples.png``.
        augment: rotate a random half of every training batch by 180
            degrees (image and path). The rotation swaps the two corners
            of the path, so the rotated path is an optimal path of the
            rotated map; it keeps the direction of every texture stripe
            (vertical, horizontal, diagonal), so rotated maps look like
            maps of the same distribution.

    Example:
        >>> config = GridLearningConfig(estimator="blackbox", epochs=2)
        >>> config.validate().estimator
        'blackbox'
        >>> GridLearningConfig(estimator="magic").validate()
        Traceback (most recent call last):
        ...
        imle_solvers.errors.InvalidInputError: GridLearningConfig: expected estimator in ('imle', 'aimle', \
'blackbox', 'perturbed', 'fenchel-young', 'straight-through'), but found 'magic'
    """

    k: int = 12
    estimator: str = "imle"
    num_samples: int = 8
    lambda_: float = 1.0
    noise_temperature: float = 1.0
    noise: str = "gumbel"
    epochs: int = 5
    num_train: int = 10_000
    num_val: int = 500
    num_test: int = 1000
    batch_size: int = 32
    lr: float = 2e-2
    schedule: str = "onecycle"
    warmup: float = 0.1
    weight_decay: float = 0.0
    width: int = 16
    num_blocks: int = 2
    model: str = "cnn"
    seed: int = 0
    data_seed: int = 0
    runner: str = "serial"
    threads: int | None = 1
    original: str | None = None
    cache_dir: str | None = None
    output_dir: str | None = None
    eval_batch_size: int = 250
    num_examples: int = 4
    augment: bool = False

    def validate(self) -> GridLearningConfig:
        """Check every field; raise :class:`~imle_solvers.InvalidInputError`
        naming the first bad one. Returns ``self``."""

        def bad(name: str, expected: str) -> InvalidInputError:
            return InvalidInputError(
                f"GridLearningConfig: expected {name} {expected}, but found {getattr(self, name)!r}"
            )

        def is_int(value: Any) -> bool:
            return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

        def is_number(value: Any) -> bool:
            return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)

        for name, low in (("k", 2), ("num_samples", 1), ("epochs", 1), ("num_train", 1), ("num_test", 1),
                          ("batch_size", 1), ("width", 1), ("eval_batch_size", 1)):
            if not is_int(getattr(self, name)) or getattr(self, name) < low:
                raise bad(name, f"to be an int >= {low}")
        for name in ("num_val", "num_blocks", "seed", "data_seed", "num_examples"):
            if not is_int(getattr(self, name)) or getattr(self, name) < 0:
                raise bad(name, "to be an int >= 0")
        for name in ("lambda_", "lr"):
            if not is_number(getattr(self, name)) or getattr(self, name) <= 0:
                raise bad(name, "to be a finite number > 0")
        for name in ("noise_temperature", "weight_decay"):
            if not is_number(getattr(self, name)) or getattr(self, name) < 0:
                raise bad(name, "to be a finite number >= 0")
        if not is_number(self.warmup) or not 0 < self.warmup < 1:
            raise bad("warmup", "in (0, 1)")
        if self.estimator not in ESTIMATORS:
            raise bad("estimator", f"in {ESTIMATORS}")
        if self.noise not in _NOISES:
            raise bad("noise", f"in {_NOISES}")
        if self.estimator in ("perturbed", "fenchel-young") and self.noise == "sum-of-gamma":
            raise bad("noise", f"'gumbel' or 'normal' for estimator {self.estimator!r} (it needs a noise density)")
        if self.estimator in ("perturbed", "fenchel-young") and self.noise_temperature == 0:
            raise bad("noise_temperature", f"> 0 for estimator {self.estimator!r}")
        if self.schedule not in _SCHEDULES:
            raise bad("schedule", f"in {_SCHEDULES}")
        if self.runner not in _RUNNERS:
            raise bad("runner", f"in {_RUNNERS}")
        if self.threads is not None and (not is_int(self.threads) or self.threads < 1):
            raise bad("threads", "to be an int >= 1 or None")
        if self.model not in MODELS:
            raise bad("model", f"in {MODELS}")
        if self.model != "cnn" and (self.width, self.num_blocks) != (16, 2):
            raise InvalidInputError(
                f"GridLearningConfig: width and num_blocks are options of model 'cnn', but found width="
                f"{self.width!r}, num_blocks={self.num_blocks!r} with model {self.model!r} (64 channels, 2 blocks)"
            )
        if not isinstance(self.augment, bool):
            raise bad("augment", "to be a bool")
        if self.original is not None and not Path(self.original).expanduser().is_dir():
            raise bad("original", "to be a folder holding the original Warcraft .npy files")
        return self

    @classmethod
    def for_size(cls, k: int, **options: Any) -> GridLearningConfig:
        """The configuration for ``k x k`` maps: the defaults, then
        :data:`SIZE_DEFAULTS` of ``k`` (sizes not listed keep the defaults),
        then ``options``.

        Example:
            >>> config = GridLearningConfig.for_size(30, estimator="aimle")
            >>> config.k, config.num_train, config.epochs, config.estimator
            (30, 20000, 8, 'aimle')
            >>> GridLearningConfig.for_size(12) == GridLearningConfig()
            True
        """
        return cls(**{"k": k, **SIZE_DEFAULTS.get(k, {}), **options})

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return dataclasses.asdict(self)


