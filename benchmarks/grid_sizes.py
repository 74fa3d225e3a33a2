"""The grid job at 18 x 18 to 30 x 30: time per step and memory, and the
short validation sweeps behind the per-size defaults.

Run:  .venv/bin/python benchmarks/grid_sizes.py measure --k 18 30 --models cnn resnet18-trunk --steps 40
      .venv/bin/python benchmarks/grid_sizes.py sweep --k 18 --train 2000 --epochs 2
      .venv/bin/python benchmarks/grid_sizes.py table

``measure`` runs every (k, model) in a fresh process, one at a time:
``train_grid`` on ``steps * batch`` synthetic maps for one epoch (no
validation, 32 test maps), and records seconds per training step (the
median of the epoch's time over its steps, oracle and Adam included), the
epoch a size's default training set would take at that rate, and the
process's peak resident memory (``ru_maxrss``: data, model, activations,
the oracle). ``sweep`` trains short runs with a few settings and records
the *validation* cost-optimal % only — the per-size defaults
(``GridLearningConfig.for_size``) were chosen from these numbers, never from
test maps (each run's test split is 8 maps, and its score is not recorded).
Results are appended to ``benchmarks/results/grid_sizes.jsonl``; ``table``
prints them.

The machine is shared: the load average at the start and end of each run
is recorded beside its numbers.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "grid_sizes.jsonl"

#: Settings tried by ``sweep`` (everything else: ``GridLearningConfig.for_size(k)``).
SWEEP: list[dict] = [
    {},
    {"lambda_": 3.0},
    {"lr": 1e-2},
    {"model": "resnet18-trunk"},
]


def _measure_one(k: int, model: str, steps: int, batch_size: int, cache_dir: str | None, queue) -> None:
    import resource

    from imle_solvers.grid_learning import GridLearningConfig, train_grid

    config = GridLearningConfig.for_size(
        k, model=model, epochs=1, num_train=steps * batch_size, num_val=0, num_test=32, batch_size=batch_size,
        threads=1, cache_dir=cache_dir,
    )
    result = train_grid(config)
    default_train = GridLearningConfig.for_size(k).num_train
    per_step = result.timings["train"] / result.data["steps_per_epoch"]
    queue.put({
        "kind": "measure", "k": k, "model": model, "batch_size": batch_size, "steps": result.data["steps_per_epoch"],
        "seconds_per_step": per_step, "default_num_train": default_train,
        "seconds_per_default_epoch": per_step * (default_train // batch_size),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "timings": result.timings,
    })


def _sweep_one(k: int, overrides: dict, num_train: int, epochs: int, num_val: int, seed: int, cache_dir, queue) -> None:
    from imle_solvers.grid_learning import GridLearningConfig, train_grid

    config = GridLearningConfig.for_size(
        k, num_train=num_train, epochs=epochs, num_val=num_val, num_test=8, seed=seed, threads=1,
        cache_dir=cache_dir, **overrides,
    )
    result = train_grid(config)
    queue.put({
        "kind": "sweep", "k": k, "overrides": overrides, "num_train": num_train, "epochs": epochs, "seed": seed,
        "batch_size": config.batch_size, "val_cost_optimal_per_epoch": [r["val"]["cost_optimal"] for r in result.history],
        "val_exact_per_epoch": [r["val"]["exact_match"] for r in result.history],
        "seconds_train": result.timings["train"],
    })


def _in_child(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    load = os.getloadavg()[0]
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    record = queue.get()
    process.join()
    record["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    return record


def table() -> None:
    if not RESULTS.is_file():
        print("no results yet")
        return
    records = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    print("time and memory (one process, one torch thread, batch 32)")
    print(f"{'k':>3} {'model':<15} {'s/step':>7} {'epoch (s)':>10} {'train maps':>10} {'peak MB':>8}  load")
    for r in (r for r in records if r["kind"] == "measure"):
        print(f"{r['k']:>3} {r['model']:<15} {r['seconds_per_step']:7.3f} {r['seconds_per_default_epoch']:10.0f} "
              f"{r['default_num_train']:>10} {r['peak_rss_mb']:8.0f}  {r['load_average']}")
    print("\nvalidation sweeps (cost-optimal % on validation maps after each epoch)")
    for r in (r for r in records if r["kind"] == "sweep"):
        curve = " ".join(f"{100 * v:.1f}" for v in r["val_cost_optimal_per_epoch"])
        print(f"{r['k']:>3} {json.dumps(r['overrides']):<32} {r['num_train']} maps x {r['epochs']} epochs, "
              f"seed {r['seed']}: {curve}   ({r['seconds_train']:.0f} s, load {r['load_average']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    measure = sub.add_parser("measure")
    measure.add_argument("--k", type=int, nargs="+", default=[18, 30])
    measure.add_argument("--models", nargs="+", default=["cnn", "resnet18-trunk"])
    measure.add_argument("--steps", type=int, default=40)
    measure.add_argument("--batch-size", type=int, default=32)
    measure.add_argument("--cache-dir", default=None)
    sweep = sub.add_parser("sweep")
    sweep.add_argument("--k", type=int, default=18)
    sweep.add_argument("--train", type=int, default=2000)
    sweep.add_argument("--epochs", type=int, default=2)
    sweep.add_argument("--val", type=int, default=300)
    sweep.add_argument("--seed", type=int, default=0)
    sweep.add_argument("--only", type=int, nargs="*", default=None, help="indices into SWEEP")
    sweep.add_argument("--cache-dir", default=None)
    sub.add_parser("table")
    args = parser.parse_args()
    if args.command == "measure":
        for k in args.k:
            for model in args.models:
                start = time.perf_counter()
                record = _in_child(_measure_one, k, model, args.steps, args.batch_size, args.cache_dir)
                print(f"k={k} {model}: {record['seconds_per_step']:.3f} s/step, peak {record['peak_rss_mb']:.0f} MB "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
    elif args.command == "sweep":
        chosen = range(len(SWEEP)) if args.only is None else args.only
        for index in chosen:
            record = _in_child(_sweep_one, args.k, SWEEP[index], args.train, args.epochs, args.val, args.seed,
                               args.cache_dir)
            print(json.dumps(record), flush=True)
    else:
        table()


if __name__ == "__main__":
    main()
