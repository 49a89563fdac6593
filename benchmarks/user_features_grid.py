"""Choose how much the user features weigh, on cold_valid NDCG@10 (the only population used for tuning).

The user features are the dataset's categorical user columns (MovieLens: gender, age group, occupation),
one-hot with L2-normalised rows; cold-start users have them too. Two maps read them
(``rec_helpers.transfer.baselines``):

- the kernel map adds γ · (f_u · f_v)^p to its kernel (``user_feature_weight`` γ; its smoothing as configured);
- CD-ridge (user features), the same-input linear baseline, appends c · f_u to [positives | rated at all]
  (``user_feature_weight`` c).

Prints one line per weight with cold_valid NDCG@10 and the λ each map chose on cold_valid inside its fit;
cold_test is never read. The winners are written into ``configs/default.yaml`` by hand
(``transfer.kernel_map.user_feature_weight``; CD-ridge (user features)'s default is its class default).

    python benchmarks/user_features_grid.py [--profile smoke]
"""
from __future__ import annotations

import time

from _grid import configured_method, grid_args, temp_run_data

from rec_helpers.transfer.base import valid_ndcg

GRIDS = {"kernel_map": [0.0, 0.05, 0.1, 0.2, 0.4, 0.8], "cd_ridge_features": [0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0]}


def main() -> None:
    with temp_run_data(grid_args(__doc__)) as (ctx, data):
        if data.user_features is None:
            raise SystemExit("this data has no user features (gender, age, occupation); nothing to choose")
        print(f"user features: {data.user_features.shape[1]} one-hot columns", flush=True)
        for name, weights in GRIDS.items():
            for weight in weights:
                t = time.perf_counter()
                m = configured_method(ctx, name, user_feature_weight=weight).fit(data)
                print(f"{name:18s} user_feature_weight {weight:<5g} cold_valid NDCG@10 {valid_ndcg(m, data):.4f}  "
                      f"(λ {m.meta_['l2']:g}, {time.perf_counter() - t:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
