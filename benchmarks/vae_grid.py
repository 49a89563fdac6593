"""Choose the VAE's size on cold_valid NDCG@10 (the only population used for tuning).

Prints one line per configuration; cold_test is never read. The winner is written into
``configs/default.yaml`` (``transfer.vae``) by hand.

    python benchmarks/vae_grid.py [--profile smoke]
"""
from __future__ import annotations

import json
import time

from _grid import grid_args, temp_run_data

from rec_helpers import pipeline
from rec_helpers.transfer.base import valid_ndcg
from rec_helpers.transfer.registry import make_method

GRID = [{}, {"latent_dim": 128}, {"hidden": 600, "latent_dim": 200}, {"latent_dim": 256}, {"dropout": 0.3},
        {"beta_cap": 0.05}, {"text_decoder": True}, {"use_interest": False},
        {"latent_dim": 128, "beta_cap": 0.05}, {"latent_dim": 128, "hidden": 600}]


def main() -> None:
    with temp_run_data(grid_args(__doc__)) as (ctx, data):
        base = {k: v for k, v in pipeline.method_params(ctx.config, "vae").items() if k in ("seed", "device")}
        for g in GRID:
            t = time.perf_counter()
            m = make_method("vae", progress=False, **base, **g).fit(data)
            print(f"{json.dumps(g):45s} cold_valid NDCG@10 {valid_ndcg(m, data):.4f}  ({time.perf_counter() - t:.0f} s)",
                  flush=True)


if __name__ == "__main__":
    main()
