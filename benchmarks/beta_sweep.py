"""Few warm users: the β sweep of the PTUPCDR protocol (cold_test_frac 0.2, 0.5, 0.8).

For each β a fresh split is made (same seed; β of the overlapping users become cold_test,
``cold_valid_frac`` stay cold_valid, the rest are the warm users that teach the map). Every
text method is fitted with BERT vectors and with its random control, beside CD-ridge;
cold_test NDCG@10 with a paired bootstrap of each text method against its control and
against CD-ridge. Choices are made on cold_valid only, as in the suite.

    python benchmarks/beta_sweep.py [--profile smoke] [--betas 0.2 0.5 0.8] [--methods ...]
"""
from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd

from rec_helpers import pipeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--profile", default="")
    ap.add_argument("--betas", nargs="+", type=float, default=[0.2, 0.5, 0.8])
    ap.add_argument("--methods", nargs="+",
                    default=["cd_ridge", "zero_shot", "fusion", "adapter", "vae", "kernel_map", "score_fusion"])
    ap.add_argument("--n-resamples", type=int, default=1000)
    args = ap.parse_args()
    rows = []
    for beta in args.betas:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            ctx = pipeline.start(tmp, args.config, args.profile, {
                "split": {"cold_test_frac": beta}, "transfer": {"methods": args.methods},
                "evaluation": {"n_resamples": args.n_resamples, "reference": "cd_ridge", "text_control": True}})
            pipeline.ensure_methods(ctx, args.methods, progress=False)
            pipeline.evaluate_run(ctx, args.methods)
            m = ctx.run.read_json("metrics.json")
            n_warm = int((pipeline.ensure_split(ctx).users["role"] == "warm").sum())
            for name in args.methods:
                row = {"beta": beta, "warm users": n_warm, "cold_test users": m["n_users"]["cold_test"],
                       "method": name, "ndcg@10": m["methods"][name]["cold_test"]["ndcg@10"]["mean"]}
                c = m["text_control"].get(name)
                if c:
                    row.update({"random": c["random"], "Δ text": c["delta_ndcg@10"], "CI": f"[{c['ci_low']:+.4f}, {c['ci_high']:+.4f}]",
                                "p (Holm)": c["p_holm"]})
                r = m["comparisons"].get(name)
                if r:
                    row.update({"Δ vs cd_ridge": r["delta_ndcg@10"], "p vs cd_ridge (Holm)": r["p_holm"]})
                rows.append(row)
            print(f"β={beta}: {n_warm} warm users, {time.perf_counter() - t:.0f} s", flush=True)
    pd.set_option("display.width", 220)
    print("\ncold_test NDCG@10 by β (Δ text = BERT − random control, paired bootstrap):")
    print(pd.DataFrame(rows).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
