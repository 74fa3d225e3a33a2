"""Synthetic Warcraft data: generation time, labeller speed, model speed.

Run:  .venv/bin/python benchmarks/warcraft_data.py [--maps 10000] [--repeats 3]

Prints, best of ``--repeats`` in one process:

1. the time to generate ``--maps`` maps of 12 x 12 (images + labels), split
   into terrain sampling, rendering and labelling;
2. the batched numpy labeller (``grid_shortest_paths``) per map against
   networkx's Dijkstra per map on the same maps (the ratio is the speedup);
3. forward + backward + Adam step of ``WarcraftCNN`` on a batch of 12 x 12
   images (96 x 96 pixels) for a few widths and batch sizes, with 1 and 2
   torch threads, and the parameter counts.
"""

from __future__ import annotations

import argparse
import time

import networkx as nx
import numpy as np

from imle_solvers.datasets import NEIGHBOUR_OFFSETS, generate_synthetic_warcraft, grid_shortest_paths
from imle_solvers.datasets.warcraft import render_terrain, sample_terrain


def best_of(repeats, fn):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def networkx_paths(costs):
    k = costs.shape[-1]
    graph = nx.DiGraph()
    for i in range(k):
        for j in range(k):
            for di, dj in NEIGHBOUR_OFFSETS:
                if 0 <= i + di < k and 0 <= j + dj < k:
                    graph.add_edge((i, j), (i + di, j + dj))
    for c in costs:
        for _, v, data in graph.edges(data=True):
            data["weight"] = float(c[v])
        nx.dijkstra_path(graph, (0, 0), (k - 1, k - 1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--maps", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-model", action="store_true")
    args = parser.parse_args(argv)

    n, k = args.maps, 12
    total = best_of(args.repeats, lambda: generate_synthetic_warcraft(n, k, seed=0))
    rng = np.random.default_rng(0)
    terrain_time = best_of(args.repeats, lambda: sample_terrain(n, k, rng))
    terrain = sample_terrain(n, k, rng)
    render_time = best_of(args.repeats, lambda: render_terrain(terrain, rng))
    data = generate_synthetic_warcraft(n, k, seed=0)
    label_time = best_of(args.repeats, lambda: grid_shortest_paths(data.costs))
    print(f"generate_synthetic_warcraft({n}, k={k}): {total:.2f} s (best of {args.repeats})")
    print(f"  terrain {terrain_time:.2f} s, render {render_time:.2f} s, labels {label_time:.2f} s")

    for size in (12, 30):
        sample = generate_synthetic_warcraft(200, size, seed=0).costs
        ours = best_of(args.repeats, lambda sample=sample: grid_shortest_paths(sample)) / len(sample)
        theirs = best_of(1, lambda sample=sample: networkx_paths(sample[:50])) / 50
        print(
            f"labels k={size}: {ours * 1e6:.0f} us/map batched numpy, "
            f"{theirs * 1e6:.0f} us/map networkx: {theirs / ours:.1f}x"
        )

    if args.skip_model:
        return
    import torch

    from imle_solvers.models import WarcraftCNN

    images = torch.from_numpy(data.images[:64])
    print("WarcraftCNN forward+backward+Adam step, 96 x 96 images (12 x 12 cells)")
    print("width  params  batch  threads  ms/step  ms/forward(eval)")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for width in (16, 32, 64):
            torch.manual_seed(0)
            model = WarcraftCNN(k=12, width=width)
            optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
            params = sum(p.numel() for p in model.parameters())
            for batch in (32, 64):
                x = images[:batch]

                def step(x=x, model=model, optimiser=optimiser):
                    loss = model(x).square().mean()
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()

                def forward(x=x, model=model):
                    model.eval()
                    with torch.no_grad():
                        model(x)
                    model.train()

                step()
                train = best_of(args.repeats * 3, step)
                infer = best_of(args.repeats * 3, forward)
                print(f"{width:5d} {params:7d} {batch:6d} {threads:8d} {train * 1e3:8.1f} {infer * 1e3:17.1f}")


if __name__ == "__main__":
    main()
