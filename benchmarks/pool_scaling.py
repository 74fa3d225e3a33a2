"""Serial vs threads vs processes vs a Dask cluster on a batch of knapsacks.

Run:  .venv/bin/python benchmarks/pool_scaling.py [--batch 64] [--items 100] [--repeats 7] [--block 50] [--plot docs/images/pool_scaling.png]

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
  calling thread when the pool cannot win; see ``imle_solvers/runners/dispatch.py``);
* ``processes (forced)``, ``dask (forced)``: ``adaptive=False``, always the
  pool, to show what the adaptive rule saves on the cheap oracle.

The Dask cluster is ``LocalCluster(n_workers=2, threads_per_worker=1,
processes=True)`` reached through ``client.get_executor(pure=False)``,
measured in a second phase against its own serial baseline (an idle
cluster's scheduler, nannies and workers take enough CPU to slow every
runner measured beside them: processes went from 1.4x to 1.05x) (with
the default ``pure=True`` Dask keys a task by its arguments, and a batch
submitted again while its previous result is still held comes back from
that result without solving: 20x "speedups" that measure nothing). Every
runner's solutions are checked equal to serial. Each runner is called
``--warmup`` times first (40, or fewer once 5 s have passed): pools start,
and the adaptive estimates of the solve time per instance and of the pool's
round trip settle. They need that many calls: the first call's time
includes one-time costs (numba compiling or loading the DP kernel, in this
process and in every worker: seconds), and the estimate is a moving average
(0.7 old + 0.3 new) that takes some 30 calls to forget them — until then an
adaptive pool keeps solving the cheap oracle in the pool. Then
``--repeats`` rounds, each calling every runner once in turn (rotating the
order, with a short pause before each call), so that load from other
processes hits them alike; the time is the best round (the median is
printed too). The cheap oracle's "call" in a round is a block of ``--block``
(50) calls, reported per call: one sub-millisecond call after a pause
varies by 10-20% from caches and clock alone. Speedup = serial time / runner time, measured in this
process. The load average is printed before and after:
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


def local_runners(workers: int) -> dict:
    return {
        "serial": lambda: "serial",
        "threads": lambda: ThreadRunner(workers),
        "processes": lambda: ProcessRunner(workers),
        "processes (forced)": lambda: ProcessRunner(workers, adaptive=False),
    }


def dask_runners(workers: int, client) -> dict:
    # pure=False: Dask would otherwise key each task by its arguments and hand a
    # repeated batch its cached result instead of solving it again
    return {
        "serial": lambda: "serial",
        "dask": lambda: ExecutorRunner(client.get_executor(pure=False), workers=workers),
        "dask (forced)": lambda: ExecutorRunner(client.get_executor(pure=False), workers=workers, adaptive=False),
    }


def interleaved_times(calls: dict, repeats: int, warmup: int, warmup_seconds: float) -> dict:
    """Seconds of every timed call of each entry. Rounds interleave the
    entries, each round starting one entry later (so that no runner always
    follows the same one), with a 20 ms pause before each timed call (so that
    background work a call leaves behind, e.g. the Dask client's bookkeeping
    thread, does not land on the next one)."""
    for fn in calls.values():  # pools start, the adaptive estimates settle
        start, count = time.perf_counter(), 0
        while count < warmup and (count < 2 or time.perf_counter() - start < warmup_seconds):
            fn()
            count += 1
    labels = list(calls)
    seconds: dict = {label: [] for label in calls}
    for round_ in range(repeats):
        for label in labels[round_ % len(labels):] + labels[: round_ % len(labels)]:
            time.sleep(0.02)
            start = time.perf_counter()
            calls[label]()
            seconds[label].append(time.perf_counter() - start)
    return seconds


def measure(label: str, backend: str, problem: dict, runner_factories: dict, args) -> list[dict]:
    data = {key: problem[key] for key in ("weights", "capacity")}
    runners = {name: make() for name, make in runner_factories.items()}
    oracles = {name: im.get_oracle("knapsack", backend=backend, runner=runner) for name, runner in runners.items()}
    expected = oracles["serial"](problem["theta"], **data)
    for name, oracle in oracles.items():
        if not np.array_equal(oracle(problem["theta"], **data), expected):
            raise AssertionError(f"{label}: the {name} runner's solutions differ from serial")
    # A sub-millisecond call timed alone after a pause varies by 10-20% (caches, clock):
    # the cheap oracle is timed in blocks of --block calls, the time per call being the block's mean.
    block = args.block if backend == "dp" else 1

    def timed(oracle):
        def run():
            for _ in range(block):
                oracle(problem["theta"], **data)
        return run

    seconds = interleaved_times({name: timed(oracle) for name, oracle in oracles.items()},
                                args.repeats, max(1, args.warmup // block), args.warmup_seconds)
    seconds = {name: [value / block for value in values] for name, values in seconds.items()}
    best = {name: min(times) for name, times in seconds.items()}
    median = {name: float(np.median(times)) for name, times in seconds.items()}
    rows = []
    for name, runner in runners.items():
        overhead = None if isinstance(runner, str) else runner.overhead  # measured pool round trip, seconds
        rows.append({"oracle": label, "runner": name, "ms": best[name] * 1e3, "median_ms": median[name] * 1e3,
                     "round_trip_ms": None if overhead is None else overhead * 1e3,
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
    ax.set_ylim(0, max(2.3, 1.15 * max(r["speedup"] for r in rows)))
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=2, loc="upper center")
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
    parser.add_argument("--warmup", type=int, default=40, help="untimed calls per runner first (at least 2) ...")
    parser.add_argument("--warmup-seconds", type=float, default=5.0, help="... or fewer once this many seconds passed")
    parser.add_argument("--block", type=int, default=50, help="the cheap oracle is timed in blocks of this many calls")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--plot", default=None, help="write the speedup chart (PNG) here")
    args = parser.parse_args(argv)

    before = load_line()
    expensive = knapsacks(args.batch, args.items)
    cheap = cheap_knapsacks(expensive)
    labels = (f"cpsat, {args.items} items", f"dp, {cheap['theta'].shape[1]} items")
    factories = local_runners(args.workers)
    rows = measure(labels[0], "cpsat", expensive, factories, args)
    rows += measure(labels[1], "dp", cheap, factories, args)
    # The Dask rows in a phase of their own, against their own serial baseline: an
    # idle LocalCluster (scheduler, nannies, workers) keeps the cores busy enough
    # to slow every other runner measured beside it.
    cluster, client = (None, None) if args.no_dask else start_dask(args.workers)
    if client is None and not args.no_dask:
        print("dask.distributed is not installed: Dask rows skipped (pip install 'imle-solvers[bench]')")
    if client is not None:
        try:
            factories = dask_runners(args.workers, client)
            dask_rows = measure(labels[0], "cpsat", expensive, factories, args)
            dask_rows += measure(labels[1], "dp", cheap, factories, args)
        finally:
            client.close()
            cluster.close()
        for row in dask_rows:
            if row["runner"] == "serial":
                row["runner"] = "serial (Dask phase)"
        rows = [r for label in labels for r in rows + dask_rows if r["oracle"] == label]
    after = load_line()
    print(f"batch {args.batch} knapsacks, {args.workers} workers, up to {args.warmup} warm-up calls "
          f"(or {args.warmup_seconds:g} s) per runner, then best (and median) of {args.repeats} interleaved rounds")
    print(f"before: {before}; after: {after}")
    header = (f"{'oracle':<18} {'runner':<20} {'ms/call':>9} {'speedup vs serial':>18} {'median ms':>10} "
              f"{'median speedup':>15} {'round trip ms':>14}")
    print(header)
    print("-" * len(header))
    for r in rows:
        trip = "" if r["round_trip_ms"] is None else f"{r['round_trip_ms']:14.2f}"
        print(f"{r['oracle']:<18} {r['runner']:<20} {r['ms']:9.2f} {r['speedup']:17.2f}x {r['median_ms']:10.2f} "
              f"{r['median_speedup']:14.2f}x {trip}")
    print("round trip: the pool's measured time per call beyond the busiest worker's solving (the runner's own "
          "estimate, which its adaptive rule uses)")
    serial = {r["oracle"]: r["per_instance_ms"] for r in rows if r["runner"] == "serial"}
    print("serial ms per instance: " + ", ".join(f"{k} {v:.3f}" for k, v in serial.items()))
    processes_row = next(r for r in rows if r["oracle"] == labels[0] and r["runner"] == "processes")
    processes = processes_row["speedup"]
    serial_ms = next(r["ms"] for r in rows if r["oracle"] == labels[0] and r["runner"] == "serial")
    idle = serial_ms / (serial_ms / args.workers + processes_row["round_trip_ms"])
    adaptive = [r for r in rows if r["oracle"] == labels[1] and r["runner"] in ("threads", "processes", "dask")]
    worst = min(adaptive, key=lambda r: r["speedup"])
    print(f"floor 1.7x, {args.workers} processes on the expensive oracle: {processes:.2f}x "
          f"({'met' if processes >= 1.7 else 'MISSED'}); with the measured round trip "
          f"({processes_row['round_trip_ms']:.1f} ms) and {args.workers} idle cores it would be "
          f"serial / (serial / {args.workers} + round trip) = {idle:.2f}x")
    print(f"floor 0.95x, adaptive runners on the cheap oracle: worst {worst['runner']} {worst['speedup']:.2f}x "
          f"({'met' if worst['speedup'] >= 0.95 else 'MISSED'})")
    if args.plot:
        plot(rows, args.plot, f"{args.batch} knapsacks, {args.workers} workers, {os.cpu_count()} cores ({after})")


if __name__ == "__main__":
    main()
