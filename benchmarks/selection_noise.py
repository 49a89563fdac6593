"""How well does cold_valid order near-equal models? A diagnostic that reads cold_test for every grid point.

The suite chooses everything on cold_valid (397 users on ML-1M). This script asks whether that choice can
separate the best models at all: it fits the kernel map over a grid of its smoothing (λ_s, w) and its own ridge λ,
mixes each with one VAE by score fusion at several α, and prints cold_valid *and* cold_test NDCG@10 for every
point, with Spearman's ρ between the two and what each way of choosing would have given. It chooses nothing and
writes nothing: a figure found here by looking at cold_test must never go into a config (that is tuning on
cold_test). The VAE and the split are the config's (seed 42); the grid defaults to the one reported in
docs/experiments.md (45 kernel maps, 225 mixes; 11 min on 2 cores, 7 Dec 2026).

    python benchmarks/selection_noise.py [--profile smoke] [--smoothing 100 200 500 1000 2000]
                                         [--weights 0.5 1 2] [--l2 2 3 5] [--alphas 0.7 0.75 0.8 0.85 0.9]
"""
from __future__ import annotations

import argparse
import itertools
import tempfile
import time

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from _grid import configured_method

from rec_helpers import pipeline
from rec_helpers.metrics import ndcg_at_k
from rec_helpers.transfer.base import valid_ndcg


def fitted(ctx, data, name: str, **override):
    """``name`` fitted with the config's parameters, ``override`` on top (no progress bars)."""
    return configured_method(ctx, name, **override).fit(data)


def summarise(df: pd.DataFrame, what: str, target: float | None) -> None:
    best_valid = df.loc[df["valid"].idxmax()]
    top10 = df.nlargest(10, "valid")["test"]
    rho = spearmanr(df["valid"], df["test"])[0]
    print(f"{what}: {len(df)} points; Spearman ρ(cold_valid, cold_test) = {rho:.2f}; cold_test "
          f"{df['test'].min():.4f}–{df['test'].max():.4f} (mean {df['test'].mean():.4f})")
    print(f"  chosen on cold_valid: {best_valid['valid']:.4f} → cold_test {best_valid['test']:.4f}; the 10 best on "
          f"cold_valid score {top10.min():.4f}–{top10.max():.4f} on cold_test (mean {top10.mean():.4f})")
    if target is not None:
        print(f"  points at or above {target:.4f} on cold_test: {(df['test'] >= target).sum()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--profile", default="")
    ap.add_argument("--smoothing", nargs="+", type=float, default=[100.0, 200.0, 500.0, 1000.0, 2000.0])
    ap.add_argument("--weights", nargs="+", type=float, default=[0.5, 1.0, 2.0])
    ap.add_argument("--l2", nargs="+", type=float, default=[2.0, 3.0, 5.0])
    ap.add_argument("--alphas", nargs="+", type=float, default=[0.7, 0.75, 0.8, 0.85, 0.9])
    ap.add_argument("--ratio", type=float, default=1.05, help="print how many mixes reach this × CD-ridge")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ctx = pipeline.start(tmp, args.config, args.profile)
        split, data = pipeline.ensure_split(ctx), pipeline.transfer_data(ctx)
        cold = data.user_ids[data.cold_test_idx]

        def test_ndcg(model) -> float:
            return ndcg_at_k(split.target_test, model.recommend(data, cold, k=10), k=10)

        reference = test_ndcg(fitted(ctx, data, "cd_ridge"))
        vae = fitted(ctx, data, "vae")
        print(f"CD-ridge cold_test {reference:.4f}; VAE cold_valid {valid_ndcg(vae, data):.4f}, "
              f"cold_test {test_ndcg(vae):.4f}", flush=True)
        maps, mixes = [], []
        for smoothing, weight, l2 in itertools.product(args.smoothing, args.weights, args.l2):
            start = time.perf_counter()
            km = fitted(ctx, data, "kernel_map", smoothing=smoothing, smoothing_weight=weight, l2_grid=[l2])
            point = {"smoothing": smoothing, "w": weight, "l2": l2}
            maps.append({**point, "valid": valid_ndcg(km, data), "test": test_ndcg(km)})
            sf = configured_method(ctx, "score_fusion", alpha_grid=args.alphas)
            sf.fit(data, fitted={"vae": vae, "kernel_map": km})
            valid_of = sf.history_["alpha_curve"]  # {str(α): cold_valid NDCG@10}
            for a in args.alphas:
                sf.meta_["alpha"] = float(a)  # score at each α of the curve, not only at cold_valid's choice
                mixes.append({**point, "alpha": a, "valid": valid_of[str(a)], "test": test_ndcg(sf)})
            row = " ".join(f"α {m['alpha']:g}: {m['valid']:.4f}/{m['test']:.4f}" for m in mixes[-len(args.alphas):])
            print(f"λ_s {smoothing:>6g} w {weight:g} λ {l2:g}  kernel map {maps[-1]['valid']:.4f}/"
                  f"{maps[-1]['test']:.4f}  score fusion {row}  ({time.perf_counter() - start:.0f} s)", flush=True)
    print("\n(cold_valid/cold_test NDCG@10; cold_test is read for every point, so nothing here may be chosen)")
    summarise(pd.DataFrame(maps), "kernel map", None)
    summarise(pd.DataFrame(mixes), "score fusion", args.ratio * reference)


if __name__ == "__main__":
    main()
