"""The TensorFlow front end: import time and the time of one training step, against PyTorch.

Run:  .venv/bin/python benchmarks/tf_estimators.py [--batch 64] [--grid 12] [--repeats 20]

Import time: fresh interpreters running ``import tensorflow``, ``import
imle_solvers.tf`` (which imports TensorFlow) and ``import imle_solvers,
torch; imle_solvers.IMLE``, best of ``--import-repeats``; the ratio is
against ``import tensorflow``.

Step time: one I-MLE step (forward and backward, S = 1, PerturbedTarget) on
a batch of ``--batch`` instances, for

* ``topk`` — k = grid of grid**2 items: TensorFlow-native ``tf.math.top_k``
  vs torch's device-native top-k;
* ``shortest_path_grid`` — the numba Dijkstra on grid x grid maps, through
  ``tf.numpy_function`` vs the torch adapter; ``raw`` is the two oracle
  calls alone on numpy input (the floor both estimators pay).

TensorFlow runs eagerly and inside a ``tf.function`` (how Keras ``fit``
runs it); ratios are against the torch step, measured in the same process,
best of ``--repeats`` interleaved rounds, every framework on one thread
(``--threads N``: N intra-op threads for both, and N inter-op threads for
TensorFlow, its default on an N-core machine).
Sum-of-gamma noise: ``SumOfGamma(k=grid).sample((batch, grid**2))`` (10
terms: ``10 * batch * grid**2`` Gamma draws, 92,160 by default) for torch,
for the TensorFlow sampler eagerly and inside a ``tf.function``, the same
sampler with its proposals drawn by TensorFlow ops instead of one
XLA-compiled kernel, and, for reference, the TensorFlow draw as it was before
(``tf.random.stateless_gamma`` of shape ``(10, batch, grid**2)`` and the
weighted sum); ratios against torch.

Last, a Keras ``train_on_batch`` step (Adam update included) of a Dense +
IMLESubsetkLayer model against the Dense layer alone (and, to show what the
noise costs, the same layer without XLA, with Gumbel noise and without
noise).

Step, noise and Keras times: best / median / worst of ``--repeats``
interleaved rounds. ``--clock cpu`` times the noise and Keras rows in CPU
seconds of the process (``time.process_time``, all threads) instead of wall
seconds: on a machine shared with other jobs the wall clock mostly measures
the wait for a core, the CPU clock the work.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def import_seconds(statement: str, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
        best = min(best, float(out.stdout.strip().splitlines()[-1]))
    return best


def timings(functions: dict, repeats: int, clock=time.perf_counter) -> dict:
    """Seconds per call of each function, ``repeats`` interleaved rounds after two warm-up calls."""
    for function in functions.values():  # warm up (tracing, numba compilation)
        function()
        function()
    seconds = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = clock()
            function()
            seconds[name].append(clock() - start)
    return seconds


def best_of(functions: dict, repeats: int) -> dict:
    return {name: min(values) for name, values in timings(functions, repeats).items()}


def print_spread(seconds: dict, baseline: str, width: int = 43) -> None:
    """best / median / worst in ms, and each against the baseline's."""
    import statistics

    base = [min(seconds[baseline]), statistics.median(seconds[baseline]), max(seconds[baseline])]
    print(f"  {'':{width}s} {'best':>8s} {'median':>8s} {'worst':>8s}   ratio best / median / worst")
    for label, values in seconds.items():
        spread = [min(values), statistics.median(values), max(values)]
        ratios = " / ".join(f"{value / ref:5.2f}x" for value, ref in zip(spread, base, strict=True))
        print(f"  {label:{width}s} {spread[0] * 1e3:8.3f} {spread[1] * 1e3:8.3f} {spread[2] * 1e3:8.3f}   {ratios}")


def noise_functions(batch: int, n: int, k: int) -> dict:
    """One sum-of-gamma draw of shape (batch, n), 10 terms, per implementation."""
    import math

    import tensorflow as tf
    import torch

    import imle_solvers as im
    import imle_solvers.tf as itf

    torch_noise, tf_noise = im.SumOfGamma(k), itf.SumOfGamma(k)
    torch_generator = torch.Generator().manual_seed(0)
    generator = tf.random.Generator.from_seed(0)
    in_graph = tf.function(lambda: tf_noise.sample([batch, n], generator=generator))
    uncompiled = itf.SumOfGamma(k, xla=False)
    uncompiled_in_graph = tf.function(lambda: uncompiled.sample([batch, n], generator=generator))

    def before():  # the TensorFlow draw before this sampler: TensorFlow's Gamma op, then the weighted sum
        seed = generator.make_seeds(1)[:, 0]
        gammas = tf.random.stateless_gamma([10, batch, n], seed=seed, alpha=1.0 / k)
        return tf.tensordot(1.0 / tf.range(1, 11, dtype=tf.float32), gammas, axes=1) - math.log(10) / k

    return {
        "torch SumOfGamma.sample": lambda: torch_noise.sample((batch, n), generator=torch_generator),
        "tf SumOfGamma.sample, eager": lambda: tf_noise.sample([batch, n], generator=generator),
        "tf SumOfGamma.sample, tf.function": lambda: in_graph().numpy(),
        "  the same without XLA, tf.function": lambda: uncompiled_in_graph().numpy(),
        "tf.random.stateless_gamma (before), eager": before,
    }


def step_functions(oracle, theta, weights, *, raw: bool) -> dict:
    """One I-MLE step per framework for ``loss = <z, weights>``; ``raw``: the two oracle calls alone."""
    import numpy as np
    import tensorflow as tf
    import torch

    import imle_solvers as im
    import imle_solvers.tf as itf

    theta_tf, weights_tf = tf.Variable(theta), tf.constant(weights)
    theta_torch, weights_torch = torch.tensor(theta, requires_grad=True), torch.tensor(weights)
    generator = tf.random.Generator.from_seed(0)
    torch_generator = torch.Generator().manual_seed(0)

    def tf_step():
        with tf.GradientTape() as tape:
            z = itf.imle(theta_tf, oracle, generator=generator)
            loss = tf.reduce_sum(z * weights_tf)
        return tape.gradient(loss, theta_tf)

    graph_step = tf.function(tf_step)

    def torch_step():
        theta_torch.grad = None
        z = im.imle(theta_torch, oracle, generator=torch_generator)
        (z * weights_torch).sum().backward()
        return theta_torch.grad

    def two_oracle_calls():
        oracle(theta)
        oracle(np.maximum(theta - weights, 0) if oracle.sense == "min" else theta - weights)

    functions = {"torch": torch_step, "tf eager": tf_step, "tf.function": lambda: graph_step().numpy()}
    if raw:
        functions["raw (2 oracle calls)"] = two_oracle_calls
    return functions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--grid", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--import-repeats", type=int, default=3)
    parser.add_argument("--skip-imports", action="store_true", help="leave out the import-time part")
    parser.add_argument("--skip-steps", action="store_true", help="leave out the I-MLE step part")
    parser.add_argument("--threads", type=int, default=1,
                        help="intra-op threads for torch and TensorFlow alike, and as many inter-op threads for "
                             "TensorFlow (default 1; TensorFlow's and Keras's own default is every core for both)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="time the noise and Keras rows in wall seconds or in CPU seconds of the process")
    args = parser.parse_args()

    statements = {
        "import tensorflow": "import tensorflow",
        "import imle_solvers.tf": "import imle_solvers.tf",
        "import imle_solvers, torch (IMLE)": "import imle_solvers; imle_solvers.IMLE",
    }
    if not args.skip_imports:
        seconds = {name: import_seconds(statement, args.import_repeats) for name, statement in statements.items()}
        print(f"import time, best of {args.import_repeats} fresh interpreters")
        for name, value in seconds.items():
            print(f"  {name:36s} {value:6.2f} s  {value / seconds['import tensorflow']:5.2f}x")

    import numpy as np
    import tensorflow as tf
    import torch

    import imle_solvers as im
    import imle_solvers.tf as itf

    torch.set_num_threads(args.threads)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    rng = np.random.default_rng(0)
    size, batch = args.grid, args.batch

    rows = []
    problems = {
        "topk": (im.get_oracle("topk", k=size), rng.normal(size=(batch, size * size))),
        "shortest_path_grid": (im.get_oracle("shortest_path_grid"), rng.uniform(0.1, 1.0, size=(batch, size, size))),
    }
    for name, (oracle, theta) in problems.items() if not args.skip_steps else ():
        theta = theta.astype("float32")
        weights = rng.normal(size=theta.shape).astype("float32")
        best = best_of(step_functions(oracle, theta, weights, raw=name != "topk"), args.repeats)
        for label, value in best.items():
            rows.append((name, label, value, value / best["torch"]))

    # a Keras training step: Dense + IMLESubsetkLayer, Adam update included; baseline: the Dense layer alone
    n, k = size * size, size
    x = rng.normal(size=(batch, 32)).astype("float32")
    y = im.get_oracle("topk", k=k)(rng.normal(size=(batch, n))).astype("float32")
    models = {}
    layers = {
        "keras, Dense only": [],
        "keras, + IMLESubsetkLayer (sum-of-gamma)": [itf.IMLESubsetkLayer(k, seed=0)],
        "keras, + the same without XLA": [itf.IMLESubsetkLayer(k, seed=0, xla=False)],
        "keras, + IMLE(topk), Gumbel noise": [itf.IMLE(im.get_oracle("topk", k=k), seed=0)],
        "keras, + IMLE(topk), no noise": [itf.IMLE(im.get_oracle("topk", k=k), noise=None)],
    }
    for label, extra in layers.items():
        model = tf.keras.Sequential([tf.keras.Input((32,)), tf.keras.layers.Dense(n), *extra])
        model.compile(optimizer="adam", loss="mse")
        models[label] = model
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    noise_seconds = timings(noise_functions(batch, n, k), args.repeats, clock)
    keras_seconds = timings({label: (lambda m=m: m.train_on_batch(x, y)) for label, m in models.items()},
                            args.repeats, clock)

    if rows:
        print(f"\none I-MLE step (forward + backward), batch {batch}, grid {size}, 1 thread, best of {args.repeats}")
        print(f"  {'oracle':20s} {'estimator':22s} {'ms/step':>8s}  vs torch")
        for name, label, value, ratio in rows:
            print(f"  {name:20s} {label:22s} {value * 1e3:8.3f}  {ratio:5.2f}x")
    print(f"\nsum-of-gamma noise (batch {batch}, {n} items, k = {k}, 10 terms: {10 * batch * n} Gamma draws), {args.clock} ms")
    print_spread(noise_seconds, "torch SumOfGamma.sample")
    print(f"\nkeras train_on_batch (Adam), batch {batch}, {n} items, k = {k}, {args.clock} ms")
    print_spread(keras_seconds, "keras, Dense only")


if __name__ == "__main__":
    main()
