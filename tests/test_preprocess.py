"""rec_helpers.preprocess: each cleaning step on hand-made examples."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rec_helpers.errors import ConfigError
from rec_helpers.preprocess import clean, dedup_latest, drop_invalid, k_core, positives, sample_users, user_zscore


def frame(rows, cols=("user", "item", "rating", "timestamp")) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(cols))
    df["user"] = df["user"].astype(str)
    df["item"] = df["item"].astype(str)
    df["rating"] = df["rating"].astype("float32")
    return df


def pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(df["user"], df["item"]))


def test_dedup_keeps_the_latest_rating():
    df = frame([("u", "a", 1, 30), ("u", "a", 5, 10), ("u", "b", 3, 5), ("v", "a", 2, 7), ("u", "a", 4, 20)])
    out, n = dedup_latest(df)
    assert n == 2
    assert out.to_dict("records") == [
        {"user": "u", "item": "a", "rating": 1.0, "timestamp": 30},
        {"user": "u", "item": "b", "rating": 3.0, "timestamp": 5},
        {"user": "v", "item": "a", "rating": 2.0, "timestamp": 7},
    ]                                                                # original row order is kept


def test_dedup_on_a_timestamp_tie_keeps_the_last_row():
    df = frame([("u", "a", 2, 10), ("u", "a", 5, 10), ("u", "a", 3, 10), ("u", "a", 1, 9)])
    out, n = dedup_latest(df)
    assert n == 3
    assert out["rating"].tolist() == [3.0]


def test_dedup_without_duplicates_is_identity():
    df = frame([("u", "a", 2, 10), ("v", "a", 5, 10)])
    out, n = dedup_latest(df)
    assert n == 0
    pd.testing.assert_frame_equal(out, df)


def test_drop_invalid_counts_each_reason():
    df = frame([("u", "a", 4, 1), ("u", "zzz", 4, 2), ("u", "b", None, 3), (None, "a", 3, 4),
                ("v", "b", 5, None), ("v", "c", 2, 6), ("w", "also-unknown", 1, 7)])
    items = pd.DataFrame({"item": ["a", "b", "c"], "title": list("ABC"), "genres": ["x"] * 3})
    out, reasons = drop_invalid(df, items)
    assert reasons == {"missing_field": 3, "unknown_item": 2}
    assert pairs(out) == {("u", "a"), ("v", "c")}
    assert out.index.tolist() == [0, 1]


def test_drop_invalid_a_missing_item_counts_as_missing_field_only():
    df = frame([("u", None, 4, 1), ("u", "a", 4, 1)])
    items = pd.DataFrame({"item": ["a"], "title": ["A"], "genres": ["x"]})
    _, reasons = drop_invalid(df, items)
    assert reasons == {"missing_field": 1, "unknown_item": 0}


def test_k_core_converges_on_a_hand_example():
    # u4 has 1 rating -> dropped; then i4 has 1 -> dropped; then u3 has 1 -> dropped;
    # then i3 has 1 -> dropped. Only {u1,u2} x {i1,i2} is a 2-core.
    df = frame([("u1", "i1", 5, 1), ("u1", "i2", 5, 2), ("u1", "i3", 5, 3), ("u2", "i1", 5, 4),
                ("u2", "i2", 5, 5), ("u3", "i3", 5, 6), ("u3", "i4", 5, 7), ("u4", "i1", 5, 8)])
    out = k_core(df, min_user=2, min_item=2)
    assert pairs(out) == {("u1", "i1"), ("u1", "i2"), ("u2", "i1"), ("u2", "i2")}
    assert out.groupby("user").size().min() >= 2 and out.groupby("item").size().min() >= 2
    assert k_core(out, 2, 2).equals(out)                              # a fixed point


def test_k_core_one_sided_and_off():
    df = frame([("u1", "i1", 5, 1), ("u1", "i2", 5, 2), ("u2", "i1", 5, 3)])
    assert pairs(k_core(df, min_user=2)) == {("u1", "i1"), ("u1", "i2")}
    assert pairs(k_core(df, min_item=2)) == {("u1", "i1"), ("u2", "i1")}
    assert len(k_core(df)) == 3
    assert len(k_core(df, 5, 5)) == 0
    with pytest.raises(ConfigError, match="k-core sizes must be >= 0"):
        k_core(df, -1, 0)


def test_positives_threshold_is_inclusive():
    df = frame([("u", "a", 3.5, 1), ("u", "b", 4, 1), ("u", "c", 5, 1)])
    assert positives(df)["item"].tolist() == ["b", "c"]
    assert positives(df, 3.5)["item"].tolist() == ["a", "b", "c"]


def test_user_zscore_hand_example_with_a_zero_std_user():
    df = frame([("a", "x", 1, 1), ("b", "x", 4, 1), ("a", "y", 3, 2), ("a", "z", 5, 3), ("b", "y", 4, 2)])
    z = user_zscore(df)
    s = math.sqrt(8 / 3)                                             # population std of 1, 3, 5
    np.testing.assert_allclose(z.to_numpy(), [-2 / s, 0.0, 0.0, 2 / s, 0.0], rtol=1e-6)
    assert z.dtype == "float32"
    assert z.index.equals(df.index)
    assert not z.isna().any()


def test_sample_users_is_deterministic_by_seed():
    df = frame([(f"u{i:02d}", it, 4, i) for i in range(30) for it in ("a", "b")])
    one = sample_users(df, 10, seed=1)
    assert one["user"].nunique() == 10 and len(one) == 20
    pd.testing.assert_frame_equal(one, sample_users(df, 10, seed=1))
    others = {frozenset(sample_users(df, 10, seed=s)["user"]) for s in range(2, 7)}
    assert len(others | {frozenset(one["user"])}) > 1                 # seeds give different samples
    assert sample_users(df, None, 1) is df and sample_users(df, 30, 1) is df


def test_clean_reports_counts_per_step():
    df = frame([("u1", "i1", 4, 1), ("u1", "i1", 2, 2), ("u1", "i2", 5, 3), ("u2", "i1", 3, 4),
                ("u2", "nope", 3, 5), ("u3", "i2", 1, 6)])
    items = pd.DataFrame({"item": ["i1", "i2"], "title": ["A", "B"], "genres": ["x", "y"]})
    out, counts = clean(df, items, {"min_user_interactions": 2, "normalise_ratings": True}, seed=0)
    assert counts == {"raw": 6, "invalid_removed": {"missing_field": 0, "unknown_item": 1}, "after_invalid": 5,
                      "duplicates_removed": 1, "after_dedup": 4, "after_sample_users": 4, "after_k_core": 2}
    assert pairs(out) == {("u1", "i1"), ("u1", "i2")}
    assert out.loc[out["item"] == "i1", "rating"].item() == 2.0       # the later rating survived
    np.testing.assert_allclose(out["rating_z"].to_numpy(), [-1.0, 1.0])
