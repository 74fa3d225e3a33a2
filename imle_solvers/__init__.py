"""imle_solvers: make discrete combinatorial solvers trainable.

A network predicts the parameters ``theta`` of a combinatorial problem; a MAP
oracle (Dijkstra, an ILP solver, a matching, top-k) returns a discrete
solution; Implicit MLE (I-MLE) and its adaptive variant (AIMLE) estimate the
gradient through the black box.

The public API is flat: everything below is importable from
``imle_solvers``. Modules that need torch (estimators, noise, targets) are
imported on first use, so that worker processes solving with numpy never
import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import (
    ImleSolversError,
    ImleSolversWarning,
    InfeasibleError,
    InvalidInputError,
    MissingDependencyError,
    OracleError,
    OracleNotFoundError,
    OracleTimeoutError,
    UnboundedError,
    WorkerCrashedError,
)
from .oracles import FunctionOracle, Oracle
from .registry import available_oracles, get_oracle, register_oracle
from .runners import ExecutorRunner, ProcessRunner, Runner, SerialRunner, ThreadRunner

__version__ = "0.1.0"

# name -> module that defines it; imported lazily (PEP 562).
_LAZY: dict[str, str] = {
    # noise
    "Gumbel": "imle_solvers.noise",
    "SumOfGamma": "imle_solvers.noise",
    "Normal": "imle_solvers.noise",
    "Noise": "imle_solvers.noise",
    "DistributionNoise": "imle_solvers.noise",
    "ShardedNoise": "imle_solvers.distributed",
    # targets
    "PerturbedTarget": "imle_solvers.targets",
    "AdaptiveTarget": "imle_solvers.targets",
    # estimators
    "IMLE": "imle_solvers.estimators",
    "imle": "imle_solvers.estimators",
    "Blackbox": "imle_solvers.estimators",
    "PerturbedOptimizer": "imle_solvers.estimators",
    "FenchelYoungLoss": "imle_solvers.estimators",
    "StraightThrough": "imle_solvers.estimators",
    "NegativeIdentity": "imle_solvers.estimators",
    # cost-supervised losses (PyEPO's setting) and solution caching
    "SPOPlusLoss": "imle_solvers.losses",
    "SolutionLoss": "imle_solvers.losses",
    "NCELoss": "imle_solvers.losses",
    "ContrastiveMAPLoss": "imle_solvers.losses",
    "PointwiseLTRLoss": "imle_solvers.losses",
    "PairwiseLTRLoss": "imle_solvers.losses",
    "ListwiseLTRLoss": "imle_solvers.losses",
    "CachedOracle": "imle_solvers.caching",
    "regret": "imle_solvers.metrics",
    # data and models for the Warcraft shortest-path experiments
    "WarcraftCNN": "imle_solvers.models",
    "ResNet18Trunk": "imle_solvers.models",
    "WarcraftDataset": "imle_solvers.datasets.torch_dataset",
    "load_synthetic_warcraft": "imle_solvers.datasets.warcraft",
    "load_warcraft": "imle_solvers.datasets.warcraft",
}

__all__ = [
    "__version__",
    # registry
    "available_oracles",
    "get_oracle",
    "register_oracle",
    # oracles and runners
    "Oracle",
    "FunctionOracle",
    "Runner",
    "SerialRunner",
    "ThreadRunner",
    "ProcessRunner",
    "ExecutorRunner",
    # errors
    "ImleSolversError",
    "ImleSolversWarning",
    "OracleNotFoundError",
    "InvalidInputError",
    "OracleError",
    "InfeasibleError",
    "UnboundedError",
    "OracleTimeoutError",
    "WorkerCrashedError",
    "MissingDependencyError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'imle_solvers' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, the dunders and the package's own loaded submodules
    (not the helpers this file imports: ``Any``, ``annotations``, ``importlib``)."""
    ours = {
        name for name, value in globals().items()
        if name.startswith("__")
        or (not name.startswith("_") and getattr(value, "__name__", "").startswith(__name__ + "."))
    }
    return sorted(ours | set(__all__))
