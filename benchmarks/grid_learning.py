"""Every estimator on the grid shortest-path job: cost-optimal and exact-match
paths on held-out maps, mean and spread over seeds, time per epoch.

Run:  .venv/bin/python benchmarks/grid_learning.py [--k 12] [--seeds 0 1 2] [--epochs 8] [--train 20000] [--jobs 2]
      .venv/bin/python benchmarks/grid_learning.py --k 18 --seeds 0 --epochs 5 --train 10000
      .venv/bin/python benchmarks/grid_learning.py --table-only   # print the table of what is stored

Each (estimator, seed) is one ``train_grid`` run (synthetic maps: 20,000
training, 500 validation, 1,000 test; WarcraftCNN width 16; Adam with a one-cycle schedule;
one torch thread per run) in its own process, ``--jobs`` at a time. Results
are appended to a JSON-lines file (default ``benchmarks/results/grid_k{k}.jsonl``),
so an interrupted benchmark resumes where it stopped; ``--fresh`` starts over.

Settings per estimator (``SETTINGS`` below) are set by hand — I-MLE's from
the demo's short runs (docs/grid_learning.md, "Why these settings"), the
others at their usual values — not found by a search per estimator; the rest
is shared, and every row of the table states its own. The table is the
papers' (Vlastelica et al. 2020, Table 1; Niepert et al. 2021, Table 3):
cost-optimal % is the share of predicted paths whose true cost is optimal,
exact % the share equal to the label (ties are common on these maps, so
exact-match sits well below cost-optimal for every estimator).

Time per epoch is the median over epochs of training plus the validation
pass, measured while ``--jobs`` runs share the machine (and other users'
jobs ran beside them): compare rows with each other, not across machines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imle_solvers.grid_learning import ESTIMATORS, GridLearningConfig  # noqa: E402

#: Per-estimator options (everything else as GridLearningConfig's defaults).
SETTINGS: dict[str, dict] = {
    "imle": {"lambda_": 1.0, "noise_temperature": 1.0, "num_samples": 8, "noise": "gumbel"},
    "aimle": {"lambda_": 1.0, "noise_temperature": 1.0, "num_samples": 8, "noise": "gumbel"},
    "blackbox": {"lambda_": 1.0},
    "perturbed": {"noise_temperature": 1.0, "num_samples": 32, "noise": "normal"},
    "fenchel-young": {"noise_temperature": 1.0, "num_samples": 8, "noise": "normal"},
    "straight-through": {},
}


def describe(estimator: str) -> str:
    """The settings of a row, short."""
    names = {"lambda_": "lambda", "noise_temperature": "tau", "num_samples": "S", "noise": "noise"}
    if estimator == "aimle":
        names["lambda_"] = "beta0"
    return ", ".join(f"{names[key]}={value}" for key, value in SETTINGS[estimator].items()) or "-"


def run_one(estimator: str, seed: int, k: int, epochs: int, num_train: int, num_test: int, cache_dir: str | None):
    """One training run in this process; returns a JSON-able record."""
    from imle_solvers.grid_learning import train_grid

    config = GridLearningConfig(
        k=k, estimator=estimator, seed=seed, epochs=epochs, num_train=num_train, num_val=500, num_test=num_test,
        threads=1, cache_dir=cache_dir, **SETTINGS[estimator],
    )
    start = time.perf_counter()
    result = train_grid(config)
    return {
        "estimator": estimator,
        "seed": seed,
        "k": k,
        "epochs": epochs,
        "num_train": num_train,
        "settings": SETTINGS[estimator],
        "test": result.test,
        "val_per_epoch": [record["val"]["cost_optimal"] for record in result.history],
        "epoch_seconds": [record["seconds"] for record in result.history],
        "wall_seconds": time.perf_counter() - start,
    }


def table(records: list[dict], k: int) -> str:
    """The papers' table: one row per estimator."""
    lines = [
        f"{'estimator':<17} {'settings':<38} {'cost-optimal %':>16} {'exact %':>14} {'s/epoch':>8} {'seeds':>5}",
        "-" * 103,
    ]
    for estimator in ESTIMATORS:
        rows = [r for r in records if r["estimator"] == estimator and r["k"] == k]
        if not rows:
            continue
        optimal = [100 * r["test"]["cost_optimal"] for r in rows]
        exact = [100 * r["test"]["exact_match"] for r in rows]
        seconds = statistics.median(s for r in rows for s in r["epoch_seconds"])

        def spread(values):
            mean = statistics.fmean(values)
            deviation = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{mean:5.1f} +- {deviation:4.1f}"

        lines.append(
            f"{estimator:<17} {describe(estimator):<38} {spread(optimal):>16} {spread(exact):>14} "
            f"{seconds:8.1f} {len(rows):>5}"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=12)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--estimators", nargs="+", choices=ESTIMATORS, default=list(ESTIMATORS))
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--train", type=int, default=20_000)
    parser.add_argument("--test", type=int, default=1_000)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time, one process and one torch thread each")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--results", default=None, help="JSON-lines file (default benchmarks/results/grid_k{k}.jsonl)")
    parser.add_argument("--fresh", action="store_true", help="ignore stored results")
    parser.add_argument("--table-only", action="store_true", help="print the table of the stored results")
    args = parser.parse_args(argv)

    path = Path(args.results) if args.results else ROOT / "benchmarks" / "results" / f"grid_k{args.k}.jsonl"
    records = []
    if path.is_file() and not args.fresh:
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if args.fresh and path.is_file():
        path.unlink()
    if not args.table_only:
        done = {(r["estimator"], r["seed"], r["epochs"], r["num_train"]) for r in records}
        todo = [(e, s) for s in args.seeds for e in args.estimators
                if (e, s, args.epochs, args.train) not in done]
        if todo:
            # The data set is generated (and cached) once, before the workers read it.
            from imle_solvers.datasets import load_synthetic_warcraft

            load_synthetic_warcraft(args.k, args.train, 500, args.test, cache_dir=args.cache_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = {
                pool.submit(run_one, e, s, args.k, args.epochs, args.train, args.test, args.cache_dir): (e, s)
                for e, s in todo
            }
            for future in as_completed(futures):
                record = future.result()
                records.append(record)
                with path.open("a") as handle:
                    handle.write(json.dumps(record) + "\n")
                print(
                    f"{record['estimator']:<17} seed {record['seed']}: cost-optimal "
                    f"{100 * record['test']['cost_optimal']:.1f}%  exact {100 * record['test']['exact_match']:.1f}%  "
                    f"{record['wall_seconds']:.0f} s",
                    flush=True,
                )
    selected = [r for r in records if r["epochs"] == args.epochs and r["num_train"] == args.train]
    print(f"\n{args.k}x{args.k} maps, {args.train} training maps, {args.epochs} epochs of batch 32, "
          f"{args.test} test maps")
    print(table(selected, args.k))


if __name__ == "__main__":
    main()
