"""Serial vs threads vs processes vs a Dask cluster on a batch of knapsacks.

Run:  .venv/bin/python benchmarks/pool_scaling.py [--batch 64] [--items 100] [--repeats 7] [--plot docs/images/pool_scaling.png]

(the Dask rows need the ``distributed`` or ``bench`` extra; without Dask
they are skipped with a note.)

Two oracles on the same batch of ``--batch`` 0/1 knapsacks (``--items``
items, values U[1, 100), integer weights in [10, 60), capacity half the
total weight; seeded):

* expensive — ``get_oracle("knapsack", backend="cpsat")``: OR-Tools CP-SAT,
  one search worker per instance, a few milliseconds each; it releases the
  GIL, so threads can help too;
* cheap — ``get_oracle("knapsack", backend="dp")`` on the same items with
  the weights divided by 10 (rounded up) and a quarter of the items: the
  compiled dynamic program, a few microseconds each, where no pool can win.

Runners, each a fresh oracle configured with it (2 workers each):

* ``serial``;
* ``threads``, ``processes``, ``dask`` with the default adaptive dispatch
  (the runner estimates the solve time per instance and keeps a call in the
  calling thread when the pool cannot win; see ``imle_solvers/runners.py``);
* ``processes (forced)``, ``dask (forced)``: ``adaptive=False``, always the
  pool, to show what the adaptive rule saves on the cheap oracle.

The Dask cluster is ``LocalCluster(n_workers=2, threads_per_worker=1,
processes=True)`` reached through ``client.get_executor(pure=False)`` (with
the default ``pure=True`` Dask keys a task by its arguments, and a batch
submitted again while its previous result is still held comes back from
that result without solving: 20x "speedups" that measure nothing). Every
runner's solutions are checked equal to serial. Each runner is called
``--warmup`` times first (pools start; the adaptive estimates of the solve
time and of the pool's round trip settle — an adaptive thread pool starts
from a guessed round trip of 50 us and learns the real one from its first
pooled calls); then ``--repeats`` rounds, each calling every runner once in
turn, so that load from other processes hits them alike; the time is the
best round (the median is printed too). Speedup = serial time / runner time,
measured in this process. The load average is printed before and after:
on a machine whose 2 cores are busy with other work, no pool reaches 2x.

Floors this checks: 2 processes on 2 cores at least 1.7x on the expensive
oracle; every adaptive runner at least 0.95x of serial on the cheap one.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import imle_solvers as im
from imle_solvers.runners import ExecutorRunner, ProcessRunner, ThreadRunner


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def knapsacks(batch: int, items: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    values = rng.uniform(1.0, 100.0, size=(batch, items))
    weights = rng.integers(10, 60, size=(batch, items)).astype(np.float64)
    return {"theta": values, "weights": weights, "capacity": weights.sum(axis=1) / 2}


def cheap_knapsacks(expensive: dict) -> dict:
    items = max(2, expensive["theta"].shape[1] // 4)
    weights = np.ceil(expensive["weights"][:, :items] / 10)
    return {"theta": expensive["theta"][:, :items], "weights": weights, "capacity": weights.sum(axis=1) / 2}


def start_dask(workers: int):
    try:
        import distributed
    except ImportError:
        return None, None
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=":0")
    return cluster, distributed.Client(cluster)


def make_runners(workers: int, client) -> dict:
    runners = {
        "serial": lambda: "serial",
        "threads": lambda: ThreadRunner(workers),
        "processes": lambda: ProcessRunner(workers),
        "processes (forced)": lambda: ProcessRunner(workers, adaptive=False),
    }
    if client is not None:
        # pure=False: Dask would otherwise key each task by its arguments and hand a
        # repeated batch its cached result instead of solving it again
        runners["dask"] = lambda: ExecutorRunner(client.get_executor(pure=False), workers=workers)
        runners["dask (forced)"] = lambda: ExecutorRunner(client.get_executor(pure=False), workers=workers,
                                                          adaptive=False)
    return runners


def interleaved_times(calls: dict, repeats: int, warmup: int) -> dict:
    """Seconds of every timed call of each entry; rounds interleave the entries."""
    for fn in calls.values():  # pools start, the adaptive estimates settle
        for _ in range(warmup):
            fn()
    seconds: dict = {label: [] for label in calls}
    for _ in range(repeats):
        for label, fn in calls.items():
            start = time.perf_counter()
            fn()
            seconds[label].append(time.perf_counter() - start)
    return seconds


def measure(label: str, backend: str, problem: dict, runner_factories: dict, repeats: int, warmup: int) -> list[dict]:
    data = {key: problem[key] for key in ("weights", "capacity")}
    runners = {name: make() for name, make in runner_factories.items()}
    oracles = {name: im.get_oracle("knapsack", backend=backend, runner=runner) for name, runner in runners.items()}
    expected = oracles["serial"](problem["theta"], **data)
    for name, oracle in oracles.items():
        if not np.array_equal(oracle(problem["theta"], **data), expected):
            raise AssertionError(f"{label}: the {name} runner's solutions differ from serial")
    seconds = interleaved_times({name: (lambda o=oracle: o(problem["theta"], **data)) for name, oracle in oracles.items()},
                                repeats, warmup)
    best = {name: min(times) for name, times in seconds.items()}
    median = {name: float(np.median(times)) for name, times in seconds.items()}
    rows = []
    for name in runners:
        rows.append({"oracle": label, "runner": name, "ms": best[name] * 1e3, "median_ms": median[name] * 1e3,
                     "per_instance_ms": best["serial"] * 1e3 / len(problem["theta"]),
                     "speedup": best["serial"] / best[name], "median_speedup": median["serial"] / median[name]})
    for runner in runners.values():
        if not isinstance(runner, str):
            runner.close()
    return rows


def plot(rows: list[dict], path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    oracles = list(dict.fromkeys(r["oracle"] for r in rows))
    runners = list(dict.fromkeys(r["runner"] for r in rows))
    fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=100)
    width = 0.8 / len(oracles)
    for i, oracle in enumerate(oracles):
        speedups = [next(r["speedup"] for r in rows if r["oracle"] == oracle and r["runner"] == name)
                    for name in runners]
        ax.bar(np.arange(len(runners)) + (i - (len(oracles) - 1) / 2) * width, speedups, width, label=oracle)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(1.7, color="tab:green", linestyle="--", linewidth=0.8, label="1.7x floor (2 processes, expensive)")
    ax.axhline(0.95, color="tab:red", linestyle=":", linewidth=0.8, label="0.95x floor (adaptive, cheap)")
    ax.set_xticks(np.arange(len(runners)), runners, rotation=15, fontsize=8)
    ax.set_ylabel("speedup vs serial")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls per runner first")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--plot", default=None, help="write the speedup chart (PNG) here")
    args = parser.parse_args(argv)

    before = load_line()
    cluster, client = (None, None) if args.no_dask else start_dask(args.workers)
    if client is None and not args.no_dask:
        print("dask.distributed is not installed: Dask rows skipped (pip install 'imle-solvers[bench]')")
    factories = make_runners(args.workers, client)
    expensive = knapsacks(args.batch, args.items)
    cheap = cheap_knapsacks(expensive)
    labels = (f"cpsat, {args.items} items", f"dp, {cheap['theta'].shape[1]} items")
    try:
        rows = measure(labels[0], "cpsat", expensive, factories, args.repeats, args.warmup)
        rows += measure(labels[1], "dp", cheap, factories, args.repeats, args.warmup)
    finally:
        if client is not None:
            client.close()
            cluster.close()
    after = load_line()
    print(f"batch {args.batch} knapsacks, {args.workers} workers, {args.warmup} warm-up calls, then best (and median) "
          f"of {args.repeats} interleaved rounds")
    print(f"before: {before}; after: {after}")
    header = f"{'oracle':<18} {'runner':<20} {'ms/call':>9} {'speedup vs serial':>18} {'median ms':>10} {'median speedup':>15}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['oracle']:<18} {r['runner']:<20} {r['ms']:9.2f} {r['speedup']:17.2f}x {r['median_ms']:10.2f} "
              f"{r['median_speedup']:14.2f}x")
    serial = {r["oracle"]: r["per_instance_ms"] for r in rows}
    print("serial ms per instance: " + ", ".join(f"{k} {v:.3f}" for k, v in serial.items()))
    processes = next(r["speedup"] for r in rows if r["oracle"] == labels[0] and r["runner"] == "processes")
    adaptive = [r for r in rows if r["oracle"] == labels[1] and r["runner"] in ("threads", "processes", "dask")]
    worst = min(adaptive, key=lambda r: r["speedup"])
    print(f"floor 1.7x, {args.workers} processes on the expensive oracle: {processes:.2f}x "
          f"({'met' if processes >= 1.7 else 'MISSED'})")
    print(f"floor 0.95x, adaptive runners on the cheap oracle: worst {worst['runner']} {worst['speedup']:.2f}x "
          f"({'met' if worst['speedup'] >= 0.95 else 'MISSED'})")
    if args.plot:
        plot(rows, args.plot, f"{args.batch} knapsacks, {args.workers} workers, {os.cpu_count()} cores ({after})")


if __name__ == "__main__":
    main()
