"""Mean ± sd over model seeds of every method's cold_test NDCG@10 (default: ML-1M, 3 seeds).

The split and the BERT vectors stay those of the config (its ``seed``); only the methods'
own seeds change (initialisation, batches, dropout, α draws). Everything a method chooses
(epochs, λ, α) is chosen on cold_valid inside ``fit``; cold_test is read here only to
report. With ``--controls`` every method that reads BERT vectors is also fitted on random
vectors (its text control) for each seed. Closed forms (Pop, CD-ridge, …) have sd 0.

    python benchmarks/seeds.py [--profile smoke] [--seeds 42 1 2] [--controls] [--methods ...]
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pandas as pd

from _grid import configured_method

from rec_helpers import pipeline
from rec_helpers.metrics import ndcg_at_k

REFERENCE = "cd_ridge"


def fit_all(ctx, names: list[str], seed: int, control: bool) -> dict:
    """Fit ``names`` with model seed ``seed`` (score fusion reuses the same seed's components)."""
    data = pipeline.transfer_data(ctx, control=control)
    fitted = {}
    for name in names:
        model = configured_method(ctx, name, seed=seed)
        comps = {c: fitted[c] for c in getattr(model, "components", ()) if c in fitted}
        fitted[name] = model.fit(data, fitted=comps) if comps else model.fit(data)
    return fitted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--profile", default="")
    ap.add_argument("--seeds", nargs="+", type=int, default=[42, 1, 2])
    ap.add_argument("--methods", nargs="+", default=None, help="default: the config's transfer.methods")
    ap.add_argument("--controls", action="store_true", help="also fit every text method's random control")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ctx = pipeline.start(tmp, args.config, args.profile)
        names = args.methods or list(ctx.config["transfer"]["methods"])
        split, data = pipeline.ensure_split(ctx), pipeline.transfer_data(ctx)
        cold = data.user_ids[data.cold_test_idx]
        text = pipeline.text_control_methods(ctx, names) if args.controls else []
        rows = []
        for seed in args.seeds:
            t = time.perf_counter()
            for control, which in ((False, names), (True, text)):
                if not which:
                    continue
                cdata = pipeline.transfer_data(ctx, control=control)
                for name, model in fit_all(ctx, which, seed, control).items():
                    pred = model.recommend(cdata, cold, k=10)
                    rows.append({"method": name + (pipeline.CONTROL_SUFFIX if control else ""), "seed": seed,
                                 "valid": model.history_.get("best_valid_ndcg@10", model.history_.get("valid_ndcg@10")),
                                 "test": ndcg_at_k(split.target_test, pred, k=10)})
            print(f"seed {seed}: {time.perf_counter() - t:.0f} s", flush=True)
    df = pd.DataFrame(rows)
    table = df.groupby("method", sort=False).agg(
        valid_mean=("valid", "mean"), test_mean=("test", "mean"), test_sd=("test", "std"),
        test_min=("test", "min"), test_max=("test", "max"))
    per_seed = df.pivot(index="method", columns="seed", values="test")
    table = table.join(per_seed.add_prefix("seed "))
    if REFERENCE in table.index:
        table[f"× {REFERENCE}"] = table["test_mean"] / table.loc[REFERENCE, "test_mean"]
    pd.set_option("display.width", 200)
    print(f"\ncold_test NDCG@10 over model seeds {args.seeds} (sd: sample sd over seeds; "
          f"valid: cold_valid NDCG@10 as chosen in fit)")
    print(table.sort_values("test_mean", ascending=False).round(4).to_string())
    if "score_fusion" in per_seed.index and REFERENCE in per_seed.index:
        ratio = per_seed.loc["score_fusion"] / per_seed.loc[REFERENCE]
        print(f"\nscore_fusion / {REFERENCE} per seed: " + ", ".join(f"{r:.4f}" for r in ratio)
              + f"; mean {np.mean(ratio):.4f}")


if __name__ == "__main__":
    main()
