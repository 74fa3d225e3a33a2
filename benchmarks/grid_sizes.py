"""The grid job at 18 x 18 to 30 x 30: time per step and memory, and the
short validation sweeps behind the per-size defaults.

Run:  .venv/bin/python benchmarks/grid_sizes.py measure --k 18 30 --models cnn resnet18-trunk --steps 40
      .venv/bin/python benchmarks/grid_sizes.py sweep --k 18 --train 2000 --epochs 2
      .venv/bin/python benchmarks/grid_sizes.py ratio --k 18 24 30 --rounds 5 --steps 3
      .venv/bin/python benchmarks/grid_sizes.py data --k 18 30
      .venv/bin/python benchmarks/grid_sizes.py table

``measure`` runs every (k, model) in a fresh process, one at a time:
``train_grid`` on ``steps * batch`` synthetic maps for one epoch (no
validation, 32 test maps), and records seconds per training step (the
median of the epoch's time over its steps, oracle and Adam included), the
epoch a size's default training set would take at that rate, and the
process's peak resident memory (``ru_maxrss``: data, model, activations,
the oracle). ``ratio`` times a step of every size and model against
12 x 12 with the small CNN in the same process, in interleaved rounds (best,
median and worst), which is what survives a shared machine. ``data`` loads a size's default data set (generating and
caching it the first time) in a process that does nothing else, and
records its memory. ``sweep`` trains short runs with a few settings and records
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


def step_ratios(sizes: list[int], models: list[str], rounds: int, steps: int) -> dict:
    """Seconds per training step (forward, I-MLE through Dijkstra, backward,
    Adam; batch 32, 8 samples, one thread) of every (k, model), in one
    process, in interleaved rounds of ``steps`` steps each; the ratio to
    12 x 12 with the small CNN, timed in the same rounds."""
    import statistics

    import torch

    from imle_solvers import get_oracle
    from imle_solvers.datasets import generate_synthetic_warcraft
    from imle_solvers.grid_learning import GridLearningConfig, build_estimator, build_model, hamming_loss

    torch.set_num_threads(1)
    cases = [(12, "cnn")] + [(k, m) for k in sizes for m in models if (k, m) != (12, "cnn")]
    setups = {}
    for k, model_name in cases:
        config = GridLearningConfig.for_size(k, model=model_name)
        data = generate_synthetic_warcraft(32, k=k, seed=1)
        torch.manual_seed(0)
        model = build_model(config)
        oracle = get_oracle("shortest_path_grid")
        oracle(torch.ones(1, k, k, dtype=torch.float64).numpy())
        estimator = build_estimator(config, oracle, generator=torch.Generator().manual_seed(0))
        optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
        setups[(k, model_name)] = (model, estimator, optimiser, torch.from_numpy(data.images),
                                   torch.from_numpy(data.paths).float())
    times: dict = {case: [] for case in cases}
    for _ in range(rounds):
        for case in cases:
            model, estimator, optimiser, images, paths = setups[case]
            start = time.perf_counter()
            for _ in range(steps):
                loss = hamming_loss(estimator(model(images)), paths).sum()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            times[case].append((time.perf_counter() - start) / steps)
    base = times[(12, "cnn")]
    out = {}
    for case, values in times.items():
        ratios = sorted(v / b for v, b in zip(values, base))
        out[f"{case[0]} {case[1]}"] = {
            "seconds_per_step": {"best": min(values), "median": statistics.median(values), "worst": max(values)},
            "ratio_to_k12_cnn": {"best": ratios[0], "median": statistics.median(ratios), "worst": ratios[-1]},
        }
    return out


def _data_one(k: int, cache_dir: str | None, queue) -> None:
    import resource
    import time

    import torch

    from imle_solvers.grid_learning import GridLearningConfig, load_grid_data

    config = GridLearningConfig.for_size(k, cache_dir=cache_dir)
    start = time.perf_counter()
    train, val, test = load_grid_data(config)
    seconds = time.perf_counter() - start
    paths = torch.from_numpy(train.paths).float()  # as train_grid holds them
    splits = [split for split in (train, val, test) if split is not None]
    queue.put({
        "kind": "data", "k": k, "maps": [split.num_maps for split in splits], "seconds_to_load": seconds,
        "data_mb": (sum(a.nbytes for split in splits for a in split) + paths.numel() * 4) / 2**20,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
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
    for r in (r for r in records if r["kind"] == "ratio"):
        print(f"\nseconds per step and ratio to 12 x 12 cnn, best / median / worst of {r['rounds']} interleaved "
              f"rounds of {r['steps']} steps (load {r['load_average']})")
        for case, value in r["cases"].items():
            s, q = value["seconds_per_step"], value["ratio_to_k12_cnn"]
            print(f"  {case:<20} {s['best']:.3f} / {s['median']:.3f} / {s['worst']:.3f} s   "
                  f"{q['best']:.2f} / {q['median']:.2f} / {q['worst']:.2f}x")
    print("\ndefault data sets in memory (a process that loads them and nothing else)")
    for r in (r for r in records if r["kind"] == "data"):
        print(f"{r['k']:>3} maps {r['maps']}: {r['data_mb']:.0f} MB of arrays, peak {r['peak_rss_mb']:.0f} MB, "
              f"loaded in {r['seconds_to_load']:.0f} s  (load {r['load_average']})")
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
    ratio = sub.add_parser("ratio", help="seconds per step of each size and model against 12 x 12, interleaved")
    ratio.add_argument("--k", type=int, nargs="+", default=[18, 24, 30])
    ratio.add_argument("--models", nargs="+", default=["cnn", "resnet18-trunk"])
    ratio.add_argument("--rounds", type=int, default=5)
    ratio.add_argument("--steps", type=int, default=3)
    data = sub.add_parser("data", help="load a size's default data set: its memory and load time")
    data.add_argument("--k", type=int, nargs="+", default=[18, 30])
    data.add_argument("--cache-dir", default=None)
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
    elif args.command == "ratio":
        load = os.getloadavg()[0]
        record = {"kind": "ratio", "rounds": args.rounds, "steps": args.steps,
                  "cases": step_ratios(args.k, args.models, args.rounds, args.steps)}
        record["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]
        with RESULTS.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
        for case, value in record["cases"].items():
            s, r = value["seconds_per_step"], value["ratio_to_k12_cnn"]
            print(f"{case:<20} s/step {s['best']:.3f} / {s['median']:.3f} / {s['worst']:.3f}   "
                  f"x k12 cnn {r['best']:.2f} / {r['median']:.2f} / {r['worst']:.2f}", flush=True)
    elif args.command == "data":
        for k in args.k:
            print(json.dumps(_in_child(_data_one, k, args.cache_dir)), flush=True)
    else:
        table()


if __name__ == "__main__":
    main()
