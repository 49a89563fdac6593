"""Time ``evaluate_methods`` on a realistic cold-start workload.

7 methods x ~1,100 cold-test users x top-100 rankings over a 2,236-item target catalogue,
~40 relevant items per user, K = 5, 10, 20, 1,000 bootstrap resamples, plus AUC, coverage
and novelty. Run:  python benchmarks/evaluate_speed.py [--repeats 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from rec_helpers.constants import COL_ITEM, COL_RANK, COL_SCORE, COL_USER, DEFAULT_K
from rec_helpers.evaluation import evaluate_methods, summary_frame

N_METHODS, N_USERS, N_ITEMS, TOP_N, MEAN_RELEVANT = 7, 1100, 2236, 100, 40


def synthesise(seed: int = 0):
    """Truth, 7 rankings of varying quality, and the extras (training history -> candidates, popularity)."""
    rng = np.random.default_rng(seed)
    users = np.array([f"u{u}" for u in range(N_USERS)])
    items = np.array([f"i{i}" for i in range(N_ITEMS)])
    popularity = rng.zipf(1.6, size=N_ITEMS).clip(max=5000).astype(float)
    p_item = popularity / popularity.sum()
    n_rel = rng.poisson(MEAN_RELEVANT, size=N_USERS).clip(min=1)
    n_train = rng.integers(0, 60, size=N_USERS)
    truth_rows, relevant, train = [], np.zeros((N_USERS, N_ITEMS), bool), np.zeros((N_USERS, N_ITEMS), bool)
    for u in range(N_USERS):
        chosen = rng.choice(N_ITEMS, size=n_rel[u] + n_train[u], replace=False, p=p_item)
        relevant[u, chosen[: n_rel[u]]] = True
        train[u, chosen[n_rel[u]:]] = True
    truth_u, truth_i = np.nonzero(relevant)
    rating_true = pd.DataFrame({COL_USER: users[truth_u], COL_ITEM: items[truth_i]})

    rankings = {}
    for m in range(N_METHODS):
        signal = 0.15 * (m + 1)  # method m separates relevant items a little better than m - 1
        scores = rng.normal(size=(N_USERS, N_ITEMS)) + signal * relevant + 0.1 * np.log(popularity)
        scores[train] = -np.inf  # training items excluded
        top = np.argpartition(-scores, TOP_N, axis=1)[:, :TOP_N]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        rankings[f"method_{m}"] = pd.DataFrame({
            COL_USER: np.repeat(users, TOP_N),
            COL_ITEM: items[top.ravel()],
            COL_RANK: np.tile(np.arange(1, TOP_N + 1), N_USERS),
            COL_SCORE: np.take_along_axis(scores, top, axis=1).ravel(),
        })
    n_candidates = pd.Series(N_ITEMS - train.sum(axis=1), index=users)
    item_popularity = pd.Series(train.sum(axis=0), index=items)
    return rating_true, rankings, n_candidates, item_popularity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-resamples", type=int, default=1000)
    args = parser.parse_args()

    rating_true, rankings, n_candidates, item_popularity = synthesise()
    print(f"workload: {len(rankings)} methods x {rating_true[COL_USER].nunique()} users x top-{TOP_N}, "
          f"{N_ITEMS} items, {len(rating_true) / rating_true[COL_USER].nunique():.1f} relevant/user, "
          f"K={DEFAULT_K}, {args.n_resamples} resamples (+ AUC, coverage, novelty)")
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = evaluate_methods(
            rating_true, rankings, ks=DEFAULT_K, n_resamples=args.n_resamples, seed=0, reference="method_0",
            n_candidates=n_candidates, catalog_size=N_ITEMS,
            item_popularity=item_popularity, n_train_users=N_USERS,
        )
        times.append(time.perf_counter() - start)
    table = summary_frame(result)
    print(table[table["metric"].isin(["ndcg@10", "recall@20", "auc"])].to_string(index=False))
    print(f"evaluate_methods: best {min(times):.3f} s, median {np.median(times):.3f} s over {args.repeats} runs")


if __name__ == "__main__":
    main()
