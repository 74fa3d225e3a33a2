"""TensorFlow 2 / Keras front end: I-MLE layers and functions for TensorFlow users.

I-MLE was first released as TensorFlow 2 layers; this subpackage gives
TensorFlow users the estimator of :mod:`imle_solvers.estimators` with the
same options and semantics, over any registered oracle:

* :class:`IMLE` — a Keras layer (``training=True`` samples; ``training=False``
  or unset returns the noiseless MAP solution, as the original layers did);
* :func:`imle` — the function form (always samples);
* :class:`IMLESubsetkLayer` — the original release's top-k subset layer
  (sum-of-gamma noise, perturbation-based target), with its Gamma
  parametrisation fixed (see :class:`SumOfGamma`);
* noise :class:`Gumbel`, :class:`SumOfGamma` and targets
  :class:`PerturbedTarget`, :class:`AdaptiveTarget` written in TensorFlow.

The gradient is attached with ``tf.custom_gradient``. CPU oracles are called
through ``tf.numpy_function`` (one call per forward and one per backward, all
samples batched); the built-in ``topk`` and ``onehot`` oracles run as
TensorFlow ops on the tensor's device. TensorFlow is an optional
dependency, installed with the ``tf`` extra (``pip install
'imle-solvers[tf]'``); importing this subpackage without it raises
:class:`~imle_solvers.MissingDependencyError`. Nothing here imports torch.

Example:
    >>> import tensorflow as tf
    >>> from imle_solvers import get_oracle
    >>> from imle_solvers.tf import imle
    >>> theta = tf.Variable([[0.5, 2.0, -1.0, 1.0]])
    >>> with tf.GradientTape() as tape:
    ...     z = imle(theta, get_oracle("topk", k=2), noise=None)
    ...     loss = tf.reduce_sum(z * [[0.0, 0.0, -1.0, 0.0]])  # reward item 2
    >>> z.numpy().tolist()
    [[0.0, 1.0, 0.0, 1.0]]
    >>> float(tape.gradient(loss, theta)[0, 2]) < 0  # descending raises theta[2]
    True
"""

from __future__ import annotations

import sys

from ..errors import MissingDependencyError

if "tensorflow" not in sys.modules:
    # OR-Tools CP-SAT (the ilp and knapsack oracles) loaded after TensorFlow can crash with a segmentation fault
    # in its solver (google/or-tools#3230); loaded first, both work. It is a dependency of imle-solvers.
    try:
        import ortools.sat.python.cp_model  # noqa: F401
    except ImportError:  # pragma: no cover - the oracles then report it where they need it
        pass

try:
    import tensorflow as _tensorflow  # noqa: F401 - the optional dependency this subpackage needs
except ImportError as _error:
    raise MissingDependencyError(
        f"imle_solvers.tf needs TensorFlow, which could not be imported ({_error}). Install the 'tf' extra: "
        "`pip install 'imle-solvers[tf]'` (or `pip install 'tensorflow>=2.16'`)."
    ) from _error

from ._estimator import IMLE, IMLESubsetkLayer, imle  # noqa: E402
from ._noise import Gumbel, SumOfGamma  # noqa: E402
from ._targets import AdaptiveTarget, PerturbedTarget  # noqa: E402

__all__ = ["IMLE", "imle", "IMLESubsetkLayer", "Gumbel", "SumOfGamma", "PerturbedTarget", "AdaptiveTarget"]
