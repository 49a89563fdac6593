"""CD-ridge and the kernel map: the scalable solvers against the exact ones (default: ML-1M).

Fits ``cd_ridge`` and ``cd_ridge_all`` with ``solver="exact"`` and with ``solver="low_rank"`` at
several ranks, and ``kernel_map`` exact and with Nyström landmarks (λ chosen on cold_valid in every
fit, as always), and prints cold_test NDCG@10, the
difference to the exact solver with its paired-bootstrap 95 % CI, and the fit time. cold_test is
read only here, to report.

    python benchmarks/ridge_solvers.py [--profile smoke] [--ranks 128 256 512] [--landmarks 500 1000 2000]
"""
from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd

from rec_helpers import pipeline
from rec_helpers.bootstrap import paired_bootstrap
from rec_helpers.metrics import ndcg_at_k
from rec_helpers.transfer.registry import make_method


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--profile", default="")
    ap.add_argument("--ranks", nargs="+", type=int, default=[128, 256, 512])
    ap.add_argument("--landmarks", nargs="+", type=int, default=[500, 1000, 2000])
    ap.add_argument("--methods", nargs="+", default=["cd_ridge", "cd_ridge_all", "kernel_map"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ctx = pipeline.start(tmp, args.config, args.profile)
        split, data = pipeline.ensure_split(ctx), pipeline.transfer_data(ctx)
        cold = data.user_ids[data.cold_test_idx]
        print(f"source columns: positives {data.n_source}, both {2 * data.n_source}; target items {data.n_target}; "
              f"warm users {len(data.warm_idx)}")
        rows = []
        for name in args.methods:
            exact = None
            variants = ([("exact", None)] + [("nystrom", m) for m in args.landmarks] if name == "kernel_map"
                        else [("exact", None)] + [("low_rank", r) for r in args.ranks])
            for solver, rank in variants:
                params = dict(pipeline.method_params(ctx.config, name))
                if name == "kernel_map":
                    params["landmarks"] = rank or 10 ** 9
                else:
                    params.update({"solver": solver, **({"rank": rank} if rank else {})})
                t = time.perf_counter()
                model = make_method(name, **params).fit(data)
                fit_s = time.perf_counter() - t
                per_user = ndcg_at_k(split.target_test, model.recommend(data, cold, k=10), k=10, per_user=True)
                row = {"method": name, "solver": solver, "rank": rank, "λ": model.meta_["l2"],
                       "cold_valid": model.history_["best_valid_ndcg@10"], "cold_test": per_user.mean(),
                       "fit_s": round(fit_s, 1)}
                if exact is None:
                    exact = per_user
                else:
                    b = paired_bootstrap(per_user.reindex(exact.index), exact, n_resamples=2000, seed=0)
                    row.update({"Δ vs exact": b["delta"], "ci_low": b["ci_low"], "ci_high": b["ci_high"]})
                rows.append(row)
                print(row, flush=True)
    pd.set_option("display.width", 200)
    print("\ncold_test NDCG@10, scalable vs exact solver (rank: SVD rank or Nyström landmarks; "
          "Δ: paired bootstrap, 95 % CI)")
    print(pd.DataFrame(rows).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
