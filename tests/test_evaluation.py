"""Tests of the evaluation layer: hand-computed metrics, agreement with ranx, evaluate_methods, errors."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from rec_helpers.constants import COL_ITEM, COL_RANK, COL_SCORE, COL_USER
from rec_helpers.errors import ConfigError, DataValidationError
from rec_helpers.evaluation import (
    RANKING_METRICS,
    auc,
    bootstrap_ci,
    catalog_coverage,
    comparison_frame,
    evaluate_methods,
    f1_at_k,
    history_size_buckets,
    hit_matrix,
    hit_ratio_at_k,
    intra_list_diversity,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    popularity_buckets,
    precision_at_k,
    ranking_metrics,
    recall_at_k,
    restrict_to_buckets,
    segment_metrics,
    summary_frame,
)

LOG2_3 = math.log2(3)


def _pred(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=[COL_USER, COL_ITEM, COL_RANK])
    df[COL_SCORE] = -df[COL_RANK].astype(float)
    return df


@pytest.fixture
def rating_true() -> pd.DataFrame:
    # u1: {a, b, c} (R=3); u2: {d} (R=1); u3: {e, f} (R=2) has no ranking at all.
    return pd.DataFrame(
        {COL_USER: ["u1", "u1", "u1", "u2", "u3", "u3"], COL_ITEM: ["a", "b", "c", "d", "e", "f"]}
    )


@pytest.fixture
def rating_pred() -> pd.DataFrame:
    # u1: a* x b* y z   (hits at ranks 1 and 3);  u2: x d* (hit at rank 2);
    # u4 is not in rating_true and must be ignored by the accuracy metrics.
    return _pred([
        ("u1", "a", 1), ("u1", "x", 2), ("u1", "b", 3), ("u1", "y", 4), ("u1", "z", 5),
        ("u2", "x", 1), ("u2", "d", 2),
        ("u4", "a", 1),
    ]).sample(frac=1.0, random_state=3)  # row order must not matter


# --- hand-computed accuracy metrics -------------------------------------------------------
# k = 3
#   u1: hits at ranks 1, 3 -> hits=2, R=3
#       P = 2/3, R = 2/3, F1 = 2/3, HR = 1, MRR = 1
#       DCG = 1/log2(2) + 1/log2(4) = 1.5;  IDCG = 1 + 1/log2(3) + 1/2 (min(3, 3) = 3 terms)
#       AP = (P@1 + P@3) / min(3, 3) = (1 + 2/3) / 3 = 5/9
#   u2: hit at rank 2 -> hits=1, R=1
#       P = 1/3, R = 1, F1 = 2 (1/3)(1) / (4/3) = 1/2, HR = 1, MRR = 1/2
#       DCG = 1/log2(3);  IDCG = 1 (min(3, 1) = 1 term);  AP = P@2 / min(3, 1) = 1/2
#   u3: no ranking -> every metric 0
NDCG3_U1 = 1.5 / (1 + 1 / LOG2_3 + 0.5)
NDCG3_U2 = 1 / LOG2_3
EXPECTED_K3 = {
    precision_at_k: [2 / 3, 1 / 3, 0.0],
    recall_at_k: [2 / 3, 1.0, 0.0],
    f1_at_k: [2 / 3, 1 / 2, 0.0],
    hit_ratio_at_k: [1.0, 1.0, 0.0],
    ndcg_at_k: [NDCG3_U1, NDCG3_U2, 0.0],
    mrr_at_k: [1.0, 0.5, 0.0],
    map_at_k: [5 / 9, 1 / 2, 0.0],
}
# k = 1
#   u1: rank 1 is a hit: P = 1, R = 1/3, F1 = 2 (1)(1/3) / (4/3) = 1/2, HR = 1, NDCG = 1/1,
#       MRR = 1, AP = P@1 / min(1, 3) = 1   (ranx/trec_eval would give 1/3: they divide by R)
#   u2: rank 1 is a miss -> all 0;  u3 -> all 0
EXPECTED_K1 = {
    precision_at_k: [1.0, 0.0, 0.0],
    recall_at_k: [1 / 3, 0.0, 0.0],
    f1_at_k: [1 / 2, 0.0, 0.0],
    hit_ratio_at_k: [1.0, 0.0, 0.0],
    ndcg_at_k: [1.0, 0.0, 0.0],
    mrr_at_k: [1.0, 0.0, 0.0],
    map_at_k: [1.0, 0.0, 0.0],
}


@pytest.mark.parametrize("k, expected", [(3, EXPECTED_K3), (1, EXPECTED_K1)])
def test_hand_computed_metrics(rating_true, rating_pred, k, expected):
    for fn, per_user in expected.items():
        # the mean is over the 3 users of rating_true; u3 (no ranking) counts as 0
        assert fn(rating_true, rating_pred, k=k) == pytest.approx(sum(per_user) / 3, abs=1e-12), fn.__name__
        series = fn(rating_true, rating_pred, k=k, per_user=True)
        assert isinstance(series, pd.Series)
        assert list(series.index) == ["u1", "u2", "u3"]  # sorted users of rating_true, u4 ignored
        assert series.index.name == COL_USER
        np.testing.assert_allclose(series.to_numpy(), per_user, atol=1e-12)


def test_means_at_k3_written_out(rating_true, rating_pred):
    # P = (2/3 + 1/3 + 0)/3 = 1/3;  R = (2/3 + 1 + 0)/3 = 5/9;  F1 = (2/3 + 1/2)/3 = 7/18
    # HR = 2/3;  MRR = (1 + 1/2)/3 = 1/2;  MAP = (5/9 + 1/2)/3 = 19/54
    assert precision_at_k(rating_true, rating_pred, k=3) == pytest.approx(1 / 3)
    assert recall_at_k(rating_true, rating_pred, k=3) == pytest.approx(5 / 9)
    assert f1_at_k(rating_true, rating_pred, k=3) == pytest.approx(7 / 18)
    assert hit_ratio_at_k(rating_true, rating_pred, k=3) == pytest.approx(2 / 3)
    assert mrr_at_k(rating_true, rating_pred, k=3) == pytest.approx(1 / 2)
    assert map_at_k(rating_true, rating_pred, k=3) == pytest.approx(19 / 54)


def test_short_list_and_large_k(rating_true, rating_pred):
    # k = 20 > every list: precision still divides by k.  u1: 2/20, u2: 1/20 -> mean (3/20)/3
    assert precision_at_k(rating_true, rating_pred, k=20) == pytest.approx(0.05)
    # recall@20 = hits / R: u1 2/3 (c is never ranked), u2 1, u3 0
    assert recall_at_k(rating_true, rating_pred, k=20) == pytest.approx((2 / 3 + 1) / 3)


def test_users_without_ranking_count_zero(rating_true):
    empty = _pred([("zz", "a", 1)])  # no evaluated user has a list
    for fn in EXPECTED_K3:
        assert fn(rating_true, empty, k=5) == 0.0
        assert (fn(rating_true, empty, k=5, per_user=True) == 0.0).all()


def test_repeated_truth_pairs_count_once(rating_true, rating_pred):
    doubled = pd.concat([rating_true, rating_true])
    assert ndcg_at_k(doubled, rating_pred, k=3) == pytest.approx(ndcg_at_k(rating_true, rating_pred, k=3))


def test_ranking_metrics_table_matches_single_functions(rating_true, rating_pred):
    table = ranking_metrics(rating_true, rating_pred, ks=(1, 3))
    assert list(table.columns) == [f"{m}@{k}" for m in RANKING_METRICS for k in (1, 3)]
    fns = dict(zip(RANKING_METRICS, EXPECTED_K3))  # same order as RANKING_METRICS
    for m, fn in fns.items():
        for k in (1, 3):
            pd.testing.assert_series_equal(
                table[f"{m}@{k}"], fn(rating_true, rating_pred, k=k, per_user=True), check_names=False
            )


def test_hit_matrix(rating_true, rating_pred):
    hm = hit_matrix(rating_true, rating_pred)
    assert list(hm.users) == ["u1", "u2", "u3"]
    np.testing.assert_array_equal(
        hm.hits, [[1, 0, 1, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 0]]
    )
    np.testing.assert_array_equal(hm.listed.sum(axis=1), [5, 2, 0])
    np.testing.assert_array_equal(hm.n_relevant, [3, 1, 2])


def test_integer_ids_and_custom_columns():
    t = pd.DataFrame({"uid": [1, 1, 2], "iid": [10, 11, 12]})
    p = pd.DataFrame({"uid": [1, 1, 2], "iid": [11, 99, 12], "pos": [1, 2, 1]})
    # u1: hit at 1, R=2: NDCG@2 = 1 / (1 + 1/log2(3));  u2: hit at 1, R=1: 1
    got = ndcg_at_k(t, p, k=2, col_user="uid", col_item="iid", col_rank="pos", per_user=True)
    np.testing.assert_allclose(got.to_numpy(), [1 / (1 + 1 / LOG2_3), 1.0])


# --- agreement with ranx --------------------------------------------------------------------
def _random_case(seed: int, n_users: int = 400, n_items: int = 80):
    rng = np.random.default_rng(seed)
    items = np.array([f"i{j}" for j in range(n_items)])
    true_rows, pred_rows = [], []
    for u in range(n_users):
        user = f"u{u}"
        relevant = rng.choice(items, size=rng.integers(1, 21), replace=False)
        true_rows += [(user, i) for i in relevant]
        n_ranked = 0 if rng.random() < 0.1 else int(rng.integers(1, 61))
        # bias some lists towards relevant items so that hits land at varied ranks
        pool = np.concatenate([relevant, rng.permutation(items)]) if rng.random() < 0.5 else rng.permutation(items)
        ranked = pd.unique(pool)[:n_ranked]
        ranked = ranked[rng.permutation(len(ranked))] if rng.random() < 0.5 else ranked
        pred_rows += [(user, i, r + 1) for r, i in enumerate(ranked)]
    rating_true = pd.DataFrame(true_rows, columns=[COL_USER, COL_ITEM])
    rating_pred = _pred(pred_rows).sample(frac=1.0, random_state=seed)
    return rating_true, rating_pred


@pytest.mark.slow  # compiles ranx's numba kernels
def test_agrees_with_ranx():
    """400 random users (each a ranking case) x 6 cutoffs, all metrics, one ranx call, to 1e-9.

    ranx definitions checked against ours (ranx.metrics source, v0.3.21):
    precision = hits/k (k even past a short list), recall = hits/R, hit_rate, mrr@k, f1 and
    ndcg (Jarvelin: binary gain with relevance 1, log2(r+1) discount, IDCG over the ideal
    top-min(k, R)) are identical. ranx map@k divides by R, ours by min(k, R), so we compare
    ours * min(k, R) with ranx * R (both the sum of precisions at the hit ranks).
    """
    ranx = pytest.importorskip("ranx")
    rating_true, rating_pred = _random_case(seed=7)
    ks = (1, 3, 5, 10, 20, 50)
    ours = ranking_metrics(rating_true, rating_pred, ks=ks)
    assert len(ours) == 400 and (ours["hr@50"] > 0).sum() > 200  # a real mix of hits and misses

    qrels = ranx.Qrels({u: dict.fromkeys(g[COL_ITEM], 1) for u, g in rating_true.groupby(COL_USER)})
    run_dict = {u: {} for u in ours.index}
    for u, g in rating_pred.groupby(COL_USER):
        run_dict[u] = dict(zip(g[COL_ITEM], (1000.0 - g[COL_RANK]).astype(float)))
    run = ranx.Run(run_dict)
    names = {"precision": "precision", "recall": "recall", "f1": "f1", "hr": "hit_rate",
             "ndcg": "ndcg", "mrr": "mrr", "map": "map"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba type-safety warnings inside ranx
        ranx.evaluate(qrels, run, [f"{names[m]}@{k}" for m in RANKING_METRICS for k in ks], return_mean=False)
    R = rating_true.groupby(COL_USER).size().reindex(ours.index).to_numpy()
    for m in RANKING_METRICS:
        for k in ks:
            theirs = pd.Series(run.scores[f"{names[m]}@{k}"]).reindex(ours.index).to_numpy()
            mine = ours[f"{m}@{k}"].to_numpy()
            if m == "map":
                mine, theirs = mine * np.minimum(k, R), theirs * R
            np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-9, err_msg=f"{m}@{k}")


# --- beyond accuracy ------------------------------------------------------------------------
def test_auc_hand_computed(rating_true, rating_pred):
    # u1: M=10, R=3, Neg=7. Ranked a* x b* y z. a beats all 7 negatives; b has x above: beats 6.
    #     Unranked: c + (10 - 5 - 1) = 4 negatives, all tied: c gets 4 * 1/2 = 2.
    #     AUC = (7 + 6 + 2) / (3 * 7) = 15/21 = 5/7
    # u2: M=5, R=1, Neg=4. Ranked x d*: d beats 3 of 4 negatives -> 3/4
    # u3: M=4, no ranking: R=2, Neg=2, everything tied -> (1/2 * 2 * 2) / (2 * 2) = 1/2
    n_cand = {"u1": 10, "u2": 5, "u3": 4}
    got = auc(rating_true, rating_pred, n_candidates=n_cand, per_user=True)
    np.testing.assert_allclose(got.to_numpy(), [5 / 7, 3 / 4, 1 / 2])
    assert auc(rating_true, rating_pred, n_candidates=pd.Series(n_cand)) == pytest.approx((5 / 7 + 3 / 4 + 1 / 2) / 3)


def _brute_auc(relevant: set, ranked: list, n_candidates: int) -> float:
    """Pairwise AUC: ranked items score by position, the unranked rest tie at the bottom."""
    score = {i: len(ranked) - r for r, i in enumerate(ranked)}
    others = [f"tail{j}" for j in range(n_candidates - len(ranked) - len(relevant - set(ranked)))]
    candidates = list(ranked) + sorted(relevant - set(ranked)) + others
    s = np.array([score.get(i, 0.0) for i in candidates])
    rel = np.array([i in relevant for i in candidates])
    diff = s[rel][:, None] - s[~rel][None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def test_auc_matches_pairwise_brute_force():
    rating_true, rating_pred = _random_case(seed=11, n_users=60, n_items=50)
    rng = np.random.default_rng(0)
    # full ranking (exact case) for half the users: M = number ranked + unranked relevant
    ranked = {u: list(g.sort_values(COL_RANK)[COL_ITEM]) for u, g in rating_pred.groupby(COL_USER)}
    relevant = {u: set(g[COL_ITEM]) for u, g in rating_true.groupby(COL_USER)}
    n_cand = {}
    for u in relevant:
        lst = ranked.get(u, [])
        minimum = len(lst) + len(relevant[u] - set(lst))
        n_cand[u] = minimum if rng.random() < 0.5 else minimum + int(rng.integers(1, 30))
    got = auc(rating_true, rating_pred, n_candidates=n_cand, per_user=True)
    for u, value in got.items():
        lst = ranked.get(u, [])
        if n_cand[u] == len(relevant[u]):
            assert np.isnan(value)  # no negative: undefined
        else:
            assert value == pytest.approx(_brute_auc(relevant[u], lst, n_cand[u]), abs=1e-12), u


def test_catalog_coverage(rating_pred):
    # top-3 lists: u1 {a, x, b}, u2 {x, d}, u4 {a} -> {a, b, d, x}: 4 / 10
    assert catalog_coverage(rating_pred, catalog_size=10, k=3) == pytest.approx(0.4)
    # top-1: {a, x, a} -> {a, x}: 2 / 10
    assert catalog_coverage(rating_pred, catalog_size=10, k=1) == pytest.approx(0.2)


def test_novelty(rating_pred):
    pop = pd.Series({"a": 8, "x": 2, "b": 4, "d": 1})  # training users per item, n_users = 8
    # top-1 items: u1 a (p=1: 0 bits), u2 x (p=1/4: 2 bits), u4 a (0 bits) -> 2/3
    assert novelty(rating_pred, pop, n_users=8, k=1) == pytest.approx(2 / 3)
    # top-2: u1 a, x (0, 2); u2 x, d (2, 3); u4 a (0) -> 7/5 over the 5 recommendations
    assert novelty(rating_pred, pop, n_users=8, k=2) == pytest.approx(7 / 5)
    per_user = novelty(rating_pred, pop, n_users=8, k=2, per_user=True)
    np.testing.assert_allclose(per_user.to_numpy(), [1.0, 2.5, 0.0])
    # y has no training user: counted as 1 -> log2(8) = 3 bits
    y = _pred([("u9", "y", 1)])
    assert novelty(y, pop, n_users=8, k=1) == pytest.approx(3.0)


def test_intra_list_diversity(rating_pred):
    ids = ["a", "x", "b", "d", "y", "z"]
    vecs = np.array([[1, 0], [0, 1], [1, 1], [-1, 0], [2, 0], [0, 0]], dtype=float)
    # u1 top-3 {a, x, b}: cos(a,x)=0, cos(a,b)=cos(x,b)=1/sqrt2 -> mean(1 - cos) = (3 - sqrt2)/3
    # u2 top-3 {x, d}: cos = 0 -> 1;  u4 has one item: undefined, left out of the mean
    got = intra_list_diversity(rating_pred, vecs, ids, k=3, per_user=True)
    np.testing.assert_allclose(got.to_numpy()[:2], [(3 - math.sqrt(2)) / 3, 1.0])
    assert np.isnan(got["u4"])
    assert intra_list_diversity(rating_pred, vecs, ids, k=3) == pytest.approx(((3 - math.sqrt(2)) / 3 + 1) / 2)
    # u1 top-5 adds y (parallel to a) and z (zero vector: cosine 0 with all).
    # pairs (10): cos a-y 1, a-b .7071, x-b .7071, b-y .7071, all others 0 -> 1 - (1 + 3/sqrt2)/10
    got5 = intra_list_diversity(rating_pred, vecs, ids, k=5, per_user=True)
    assert got5["u1"] == pytest.approx(1 - (1 + 3 / math.sqrt(2)) / 10)


# --- evaluate_methods -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def workload():
    rating_true, good = _random_case(seed=5, n_users=300, n_items=60)
    rng = np.random.default_rng(1)
    # a "bad" method: random lists of 30 from the catalogue
    items = np.array([f"i{j}" for j in range(60)])
    bad = _pred([(u, i, r + 1) for u in rating_true[COL_USER].unique()
                 for r, i in enumerate(rng.permutation(items)[:30])])
    return rating_true, {"good": good, "bad": bad, "good_copy": good.copy()}


def test_evaluate_methods_structure_and_consistency(workload):
    rating_true, rankings = workload
    res = evaluate_methods(rating_true, rankings, ks=(5, 10, 20), n_resamples=300, seed=4, reference="good")
    assert res["n_users"] == 300 and res["ks"] == (5, 10, 20)
    names = {f"{m}@{k}" for m in RANKING_METRICS for k in (5, 10, 20)}
    for method in rankings:
        assert set(res["metrics"][method]) == names
        table = ranking_metrics(rating_true, rankings[method], ks=(5, 10, 20))
        for m in names:
            stats = res["metrics"][method][m]
            assert stats["mean"] == pytest.approx(table[m].mean(), abs=1e-12)
            assert stats["ci_low"] <= stats["mean"] <= stats["ci_high"]
        # the CIs are exactly bootstrap_ci on the per-user column with the same seed
        assert res["metrics"][method]["ndcg@10"] == pytest.approx(
            bootstrap_ci(table["ndcg@10"].to_numpy(), n_resamples=300, seed=4)
        )
        pd.testing.assert_frame_equal(res["per_user"][method][table.columns], table)
    comp = res["comparisons"]
    assert set(comp) == {"bad", "good_copy"}
    same = comp["good_copy"]["ndcg@10"]
    assert same["delta"] == 0 and same["p_value"] == 1.0
    worse = comp["bad"]["ndcg@10"]
    assert worse["delta"] < 0 and worse["ci_high"] < 0 and worse["p_value"] < 0.01
    assert worse["p_holm"] >= worse["p_value"]
    assert len(summary_frame(res)) == 3 * len(names) and len(comparison_frame(res)) == 2
    # deterministic by seed
    again = evaluate_methods(rating_true, rankings, ks=(5, 10, 20), n_resamples=300, seed=4, reference="good")
    assert again["metrics"] == res["metrics"]


def test_evaluate_methods_beyond_accuracy(workload):
    rating_true, rankings = workload
    items = [f"i{j}" for j in range(60)]
    pop = pd.Series(np.arange(1, 61), index=items)
    vecs = np.random.default_rng(0).normal(size=(60, 8))
    res = evaluate_methods(
        rating_true, rankings, ks=(5, 10), n_resamples=50, reference="bad", compare_on=["ndcg@5", "auc"],
        n_candidates=60, catalog_size=60, item_popularity=pop, n_train_users=100, item_vectors=vecs, item_ids=items,
    )
    m = res["metrics"]["bad"]
    for name in ("auc", "novelty@5", "novelty@10", "ild@5", "ild@10", "coverage@5", "coverage@10"):
        assert name in m
    assert m["auc"]["mean"] == pytest.approx(auc(rating_true, rankings["bad"], 60))
    assert m["coverage@10"]["mean"] == pytest.approx(catalog_coverage(rankings["bad"], 60, k=10))
    assert np.isnan(m["coverage@10"]["ci_low"])
    assert 0.4 < m["auc"]["mean"] < 0.6  # random lists
    assert set(res["comparisons"]["good"]) == {"ndcg@5", "auc"}
    # Holm over the 4 comparisons: adjusted >= raw
    for r in res["comparisons"].values():
        for s in r.values():
            assert s["p_value"] <= s["p_holm"] <= 1


def test_segment_metrics_and_buckets(workload):
    rating_true, rankings = workload
    per_user = ranking_metrics(rating_true, rankings["good"], ks=(10,))
    history = pd.DataFrame({COL_USER: np.repeat(per_user.index, np.arange(len(per_user)) % 7 + 1)})
    buckets = history_size_buckets(history, n_bins=3)
    assert buckets.cat.categories.size == 3
    assert set(buckets.index) == set(per_user.index)
    seg = segment_metrics(per_user, buckets, n_resamples=200)
    for label in buckets.cat.categories:
        members = buckets.index[buckets == label]
        row = seg.loc[(label, "ndcg@10")]
        assert row["n_users"] == len(members)
        assert row["mean"] == pytest.approx(per_user.loc[members, "ndcg@10"].mean())
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]


def test_history_size_bucket_labels():
    history = pd.DataFrame({COL_USER: list("aaabbbbbbc")})  # sizes a=3, b=6, c=1, d=0
    buckets = history_size_buckets(history, users=list("abcd"), n_bins=2)
    # median of (3, 6, 1, 0) = 2: [0, 2] and (2, 6]
    assert list(buckets.cat.categories) == ["Q1: 0-2", "Q2: 3-6"]
    assert list(buckets.astype(str)) == ["Q2: 3-6", "Q2: 3-6", "Q1: 0-2", "Q1: 0-2"]


def test_popularity_buckets_and_restriction():
    pop = pd.Series({f"i{j}": j for j in range(1, 9)})  # i8 most popular
    b = popularity_buckets(pop, catalogue=["i1", "i9", "i10"], head_frac=0.2, tail_frac=0.5)
    # 10 items: head = top ceil(2) = i8, i7; tail = last 5 = i3, i2, i1 and the unseen i10, i9
    assert set(b.index[b == "head"]) == {"i8", "i7"}
    assert set(b.index[b == "tail"]) == {"i3", "i2", "i1", "i10", "i9"}
    assert set(b.index[b == "torso"]) == {"i6", "i5", "i4"}
    t = pd.DataFrame({COL_USER: ["u", "u", "v", "w"], COL_ITEM: ["i8", "i1", "i2", "new"]})
    assert list(restrict_to_buckets(t, b, "head")[COL_ITEM]) == ["i8"]
    # items unknown to the buckets count as tail
    assert list(restrict_to_buckets(t, b, ["tail"])[COL_ITEM]) == ["i1", "i2", "new"]


# --- errors ---------------------------------------------------------------------------------
def test_missing_column(rating_true, rating_pred):
    with pytest.raises(DataValidationError, match="missing column.*rank"):
        ndcg_at_k(rating_true, rating_pred.drop(columns=[COL_RANK]))
    with pytest.raises(DataValidationError, match="rating_true is missing column.*item"):
        ndcg_at_k(rating_true.drop(columns=[COL_ITEM]), rating_pred)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_k(rating_true, rating_pred, k):
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        precision_at_k(rating_true, rating_pred, k=k)
    with pytest.raises(ConfigError, match="each k in ks must be a positive integer"):
        ranking_metrics(rating_true, rating_pred, ks=(5, k))


def test_duplicate_user_item(rating_true):
    bad = _pred([("u1", "a", 1), ("u1", "a", 2)])
    with pytest.raises(DataValidationError, match=r"duplicated \(user, item\)"):
        recall_at_k(rating_true, bad)


@pytest.mark.parametrize("ranks", [[0, 1], [-1, 1], [1.5, 2]])
def test_non_positive_or_fractional_rank(rating_true, ranks):
    bad = _pred([("u1", "a", 1), ("u1", "b", 2)])
    bad[COL_RANK] = ranks
    with pytest.raises(DataValidationError, match="not positive integers"):
        ndcg_at_k(rating_true, bad)


def test_duplicated_rank(rating_true):
    bad = _pred([("u1", "a", 1), ("u1", "b", 1), ("u2", "a", 1)])  # same rank twice for u1
    with pytest.raises(DataValidationError, match=r"duplicated \(user, rank\)"):
        map_at_k(rating_true, bad)


def test_mismatched_id_types(rating_true):
    numeric = pd.DataFrame({COL_USER: ["u1"], COL_ITEM: [1], COL_RANK: [1]})
    with pytest.raises(DataValidationError, match="item ids have different types"):
        ndcg_at_k(rating_true, numeric)


def test_evaluate_methods_errors(rating_true, rating_pred):
    with pytest.raises(ConfigError, match="n_resamples"):
        evaluate_methods(rating_true, {"m": rating_pred}, n_resamples=0)
    with pytest.raises(ConfigError, match="confidence"):
        evaluate_methods(rating_true, {"m": rating_pred}, confidence=1.0)
    with pytest.raises(DataValidationError, match="reference"):
        evaluate_methods(rating_true, {"m": rating_pred}, reference="other")
    with pytest.raises(ConfigError, match="k in ks must be a positive integer"):
        evaluate_methods(rating_true, {"m": rating_pred}, ks=(0,))
    with pytest.raises(ConfigError, match="catalog_size must be a positive integer"):
        evaluate_methods(rating_true, {"m": rating_pred}, catalog_size=0)
    bad = pd.concat([rating_pred, rating_pred.head(1)])
    with pytest.raises(DataValidationError, match="method 'bad'.*duplicated"):
        evaluate_methods(rating_true, {"m": rating_pred, "bad": bad})
    with pytest.raises(DataValidationError, match="n_candidates has no value"):
        evaluate_methods(rating_true, {"m": rating_pred}, n_candidates={"u1": 10})
    with pytest.raises(DataValidationError, match="n_candidates is smaller"):
        auc(rating_true, rating_pred, n_candidates=3)


def test_controls_are_paired_against_their_own_method(workload):
    """``controls``: each method against its own control (not the reference), same draws, Holm over them."""
    from rec_helpers import leaderboard

    rating_true, rankings = workload
    res = evaluate_methods(rating_true, rankings, ks=(10,), n_resamples=200, seed=4, reference="bad",
                           controls={"good": "bad", "good_copy": "good"})
    ctl = res["controls"]
    assert set(ctl) == {"good", "good_copy"}
    assert ctl["good"]["ndcg@10"]["delta"] == pytest.approx(
        res["metrics"]["good"]["ndcg@10"]["mean"] - res["metrics"]["bad"]["ndcg@10"]["mean"])
    assert ctl["good"]["ndcg@10"]["p_holm"] < 0.05 and ctl["good_copy"]["ndcg@10"]["delta"] == 0
    board = leaderboard.leaderboard(res, n_resamples=50)
    assert board.loc["good", "text − control"].endswith("text wins")
    assert board.loc["good_copy", "text − control"].endswith("no significant difference")
    assert board.loc["bad", "text − control"] == ""
    with pytest.raises(DataValidationError, match="no ranking"):
        evaluate_methods(rating_true, rankings, ks=(10,), n_resamples=20, controls={"good": "good__random"})


def test_discussion_reports_text_against_control():
    from rec_helpers.leaderboard import discussion

    def stat(v):
        return {"ndcg@10": {"mean": v, "ci_low": v - 0.01, "ci_high": v + 0.01}}

    metrics = {"n_users": {"cold_test": 100},
               "methods": {m: {"cold_test": stat(v)} for m, v in
                           {"pop": 0.40, "cd_ridge": 0.49, "vae": 0.47, "vae__random": 0.49}.items()},
               "comparisons": {"vae": {"delta_ndcg@10": -0.02, "ci_low": -0.03, "ci_high": -0.01, "p_holm": 0.01}},
               "text_control": {"vae": {"bert": 0.47, "random": 0.49, "delta_ndcg@10": -0.02, "ci_low": -0.03,
                                        "ci_high": -0.01, "p_value": 0.01, "p_holm": 0.01}}}
    text = discussion(metrics)
    assert "BERT 0.470 vs random 0.490" in text and "control wins" in text and "does not earn its place" in text


def test_best_against_baseline_pairs_the_best_transfer_method_with_the_strongest_baseline(workload):
    from rec_helpers.bootstrap import paired_bootstrap
    from rec_helpers.evaluation import best_against_baseline

    rating_true, rankings = workload
    named = {"vae": rankings["good"], "fusion": rankings["bad"], "cd_ridge": rankings["bad"],
             "kernel_map": rankings["good_copy"], "pop": rankings["bad"]}
    res = evaluate_methods(rating_true, named, ks=(10,), n_resamples=200, seed=4, reference="cd_ridge")
    out = best_against_baseline(res, "ndcg@10", n_resamples=200, seed=4)
    assert (out["method"], out["vs"]) == ("vae", "kernel_map")     # the best of each kind, by mean
    assert out["delta_ndcg@10"] == 0 and out["p_value"] == 1      # the same lists: no difference
    res = evaluate_methods(rating_true, {k: v for k, v in named.items() if k != "kernel_map"}, ks=(10,),
                           n_resamples=200, seed=4)
    out = best_against_baseline(res, "ndcg@10", n_resamples=200, seed=4)
    per = res["per_user"]
    expected = paired_bootstrap(per["vae"]["ndcg@10"].to_numpy(), per[out["vs"]]["ndcg@10"].to_numpy(), 200, 4)
    assert out["vs"] in {"cd_ridge", "pop"} and out["delta_ndcg@10"] == pytest.approx(expected["delta"])
    assert out["delta_ndcg@10"] > 0
    assert out["p_value"] == pytest.approx(expected["p_value"]) and out["p_value"] < 0.05
    assert best_against_baseline(evaluate_methods(rating_true, {"vae": rankings["good"]}, ks=(10,), n_resamples=20),
                                 "ndcg@10") == {}


def test_discussion_names_a_stronger_baseline_than_the_reference():
    from rec_helpers.leaderboard import discussion

    def stat(v):
        return {"ndcg@10": {"mean": v, "ci_low": v - 0.01, "ci_high": v + 0.01}}

    def metrics(vs, p):
        return {"n_users": {"cold_test": 100},
                "methods": {m: {"cold_test": stat(v)} for m, v in
                            {"cd_ridge": 0.48, "vae": 0.50, "kernel_map": 0.495}.items()},
                "comparisons": {"vae": {"delta_ndcg@10": 0.02, "ci_low": 0.01, "ci_high": 0.03, "p_holm": 0.01}},
                "best_vs_baseline": {"method": "vae", "vs": vs, "delta_ndcg@10": 0.005, "ci_low": -0.001,
                                     "ci_high": 0.011, "p_value": p}}

    text = discussion(metrics("kernel_map", 0.2))
    assert "strongest baseline in this run is **kernel_map**, not cd_ridge: 0.495 [0.485, 0.505]" in text
    assert "vae − kernel_map = +0.005 (CI [-0.001, +0.011], p = 0.2" in text and "no significant difference" in text
    assert "significantly better" in discussion(metrics("kernel_map", 0.01))
    assert "strongest baseline" not in discussion(metrics("cd_ridge", 0.01))  # the reference: tested above already
    assert "strongest baseline" not in discussion({k: v for k, v in metrics("kernel_map", 0.2).items()
                                                   if k != "best_vs_baseline"})  # an older metrics.json


# --- one NDCG core, two entry points -------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ndcg_entry_points_agree_on_random_data(seed):
    """Frames (metrics.ndcg_at_k) and score matrices (transfer.ranking.ndcg_at_k) give the same NDCG,
    equal to a direct loop over each user's list; recall and the other metrics agree the same way."""
    import scipy.sparse as sp

    from rec_helpers import metrics as ev_metrics
    from rec_helpers.transfer.ranking import metric_at_k, metric_per_user, ndcg_at_k as ndcg_scores, ndcg_per_user, top_k

    rng = np.random.default_rng(seed)
    n_users, n_items, k = 40, 60, 10
    scores = np.round(rng.normal(size=(n_users, n_items)), 1)  # rounded: ties, broken by item index
    relevant = sp.csr_matrix(rng.random((n_users, n_items)) < rng.uniform(0, 0.15, (n_users, 1)))
    top = top_k(scores, n_items)
    pred = pd.DataFrame({COL_USER: np.repeat(np.arange(n_users), n_items), COL_ITEM: top.ravel(),
                         COL_RANK: np.tile(np.arange(1, n_items + 1), n_users)})
    rows, cols = relevant.nonzero()
    truth = pd.DataFrame({COL_USER: rows, COL_ITEM: cols})

    per_scores = ndcg_per_user(scores, relevant, k)
    per_frames = ndcg_at_k(truth, pred, k=k, per_user=True)
    has = np.asarray(relevant.sum(axis=1)).ravel() > 0
    assert np.isnan(per_scores[~has]).all()
    np.testing.assert_array_equal(per_scores[has], per_frames.reindex(np.flatnonzero(has)).to_numpy())
    assert ndcg_scores(scores, relevant, k) == ndcg_at_k(truth, pred, k=k)
    for u in np.flatnonzero(has):  # the formula, one user at a time
        rel = set(relevant[u].indices)
        dcg = sum(1 / math.log2(r + 2) for r, i in enumerate(top[u, :k]) if i in rel)
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(rel))))
        assert per_scores[u] == pytest.approx(dcg / idcg)
        hits = len(rel & set(top[u, :k].tolist()))  # recall@k = hits / R through the score-matrix entry point
        assert metric_per_user(scores, relevant, k, "recall")[u] == pytest.approx(hits / len(rel))
    for name in ("recall", "precision", "hr", "mrr", "map"):  # every metric: the same values as the frames
        frames = getattr(ev_metrics, f"{'hit_ratio' if name == 'hr' else name}_at_k")(truth, pred, k=k, per_user=True)
        np.testing.assert_array_equal(metric_per_user(scores, relevant, k, name)[has],
                                      frames.reindex(np.flatnonzero(has)).to_numpy())
        assert metric_at_k(scores, relevant, k, name) == pytest.approx(frames.mean())


@pytest.mark.parametrize("index_dtype", ["str", object, "int64"])
def test_positions_is_get_indexer(index_dtype):
    """metrics.positions gives get_indexer's positions (−1 where absent) for Arrow strings (its
    fast path), object strings, integers and missing values."""
    from rec_helpers.metrics import positions

    keys = ["7", "3", "11", "5"] if index_dtype != "int64" else [7, 3, 11, 5]
    index = pd.Index(pd.array(keys, dtype=index_dtype))
    if index_dtype == "int64":
        values = [pd.Series([3, 99, 7, 7, 5]), np.array([11, 0])]
    else:
        values = [pd.Series(["3", "99", "7", "7", None, "5"], dtype=d) for d in ("str", object)] + [np.array(["11", "x"], dtype=object)]
    for v in values:
        got = positions(index, v)
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, index.get_indexer(v))
