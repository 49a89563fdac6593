"""Choose the kernel map's source-side smoothing on cold_valid NDCG@10 (the only population used for tuning).

The kernel map compares users by ((cos(x_u, x_v) + w·cos(x̃_u, x̃_v)) / (1 + w))² where x̃ = x S and S is
EASE's item–item model of the warm users' source rows with ridge λ_s (``smoothing``; see
``rec_helpers.transfer.baselines.KernelMap``). Prints one line per (λ_s, w) with the map's own λ (chosen on
cold_valid inside each fit) and the fit time; cold_test is never read. The winner is written into
``configs/default.yaml`` (``transfer.kernel_map``) by hand.

    python benchmarks/kernel_map_grid.py [--profile smoke]
"""
from __future__ import annotations

import itertools
import time

from _grid import configured_method, grid_args, temp_run_data

from rec_helpers.transfer.base import valid_ndcg

SMOOTHING = [None, 100.0, 200.0, 500.0, 1000.0, 2000.0]
WEIGHTS = [0.5, 1.0, 2.0]


def main() -> None:
    with temp_run_data(grid_args(__doc__)) as (ctx, data):
        grid = [(None, 1.0)] + list(itertools.product(SMOOTHING[1:], WEIGHTS))
        for smoothing, weight in grid:
            t = time.perf_counter()
            m = configured_method(ctx, "kernel_map", smoothing=smoothing, smoothing_weight=weight).fit(data)
            label = "off" if smoothing is None else f"λ_s {smoothing:>6g}  w {weight:g}"
            print(f"smoothing {label:18s} cold_valid NDCG@10 {valid_ndcg(m, data):.4f}  (map λ {m.meta_['l2']:g}, "
                  f"{time.perf_counter() - t:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
