"""Cleaning steps, each a small function that returns the cleaned frame and a count.

The order used by :func:`clean`: drop invalid rows → dedup (keep the latest) →
optional k-core. Positives (``rating >= threshold``) and per-user z-scores are
derived columns, not filters, so the split can keep every rating for weighting.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .constants import COL_ITEM, COL_RATING, COL_TIMESTAMP, COL_USER, DEFAULT_POSITIVE_THRESHOLD
from .errors import ConfigError, DataValidationError


def drop_invalid(inter: pd.DataFrame, items: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Remove rows with a missing field or an item absent from the item table; count each reason."""
    missing = inter[[COL_USER, COL_ITEM, COL_RATING, COL_TIMESTAMP]].isna().any(axis=1)
    unknown = ~inter[COL_ITEM].isin(items[COL_ITEM]) & ~missing
    keep = ~(missing | unknown)
    if len(inter) and not keep.any():
        if unknown.any():
            ids = inter.loc[unknown, COL_ITEM].drop_duplicates().head(3).tolist()
            known = items[COL_ITEM].drop_duplicates().head(3).tolist()
            raise DataValidationError(
                f"none of the {len(inter):,} interactions refers to an item of the item table: every item id is "
                f"unknown (interactions use e.g. {ids}, the item table e.g. {known}). Fix: make both files use "
                "the same item ids (check data.columns: which column is 'item' in each file).")
        raise DataValidationError(f"every one of the {len(inter):,} interactions has a missing user, item, rating or "
                                  "timestamp. Fix: check the file's columns and data.columns.")
    return inter[keep].reset_index(drop=True), {"missing_field": int(missing.sum()), "unknown_item": int(unknown.sum())}


def dedup_latest(inter: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Keep one row per (user, item): the latest by timestamp (the last listed on a tie)."""
    order = inter.reset_index(drop=True)
    order["_row"] = np.arange(len(order))
    order = order.sort_values([COL_USER, COL_ITEM, COL_TIMESTAMP, "_row"], kind="stable")
    out = order.drop_duplicates([COL_USER, COL_ITEM], keep="last").sort_values("_row").drop(columns="_row")
    return out.reset_index(drop=True), len(inter) - len(out)


def k_core(inter: pd.DataFrame, min_user: int = 0, min_item: int = 0) -> pd.DataFrame:
    """Repeatedly drop users with < ``min_user`` and items with < ``min_item`` interactions."""
    if min_user < 0 or min_item < 0:
        raise ConfigError(f"k-core sizes must be >= 0, got user={min_user}, item={min_item}")
    out = inter
    while True:
        n = len(out)
        if min_user:
            out = out[out.groupby(COL_USER)[COL_ITEM].transform("size") >= min_user]
        if min_item:
            out = out[out.groupby(COL_ITEM)[COL_USER].transform("size") >= min_item]
        if len(out) == n:
            return out.reset_index(drop=True)


def require_rows_left(inter: pd.DataFrame, cfg: Mapping, before: int) -> None:
    """DataValidationError when the k-core of ``cfg`` (the ``data`` section) removed every interaction."""
    if len(inter) == 0:
        raise DataValidationError(
            f"the k-core (data.min_user_interactions={cfg.get('min_user_interactions', 0)}, "
            f"data.min_item_interactions={cfg.get('min_item_interactions', 0)}) removed every interaction "
            f"({before:,} before it). Fix: lower those sizes (0 turns the k-core off).")


def positives(inter: pd.DataFrame, threshold: float = DEFAULT_POSITIVE_THRESHOLD) -> pd.DataFrame:
    """Rows whose rating is at least ``threshold`` (SPEC §3: ratings >= 4 by default)."""
    return inter[inter[COL_RATING] >= threshold]


def user_zscore(inter: pd.DataFrame) -> pd.Series:
    """Per-user z-score of the rating, (r - mean_u) / std_u; 0 where a user's std is 0."""
    g = inter.groupby(COL_USER)[COL_RATING]
    mean, std = g.transform("mean"), g.transform("std", ddof=0)
    return ((inter[COL_RATING] - mean) / std.replace(0, np.nan)).fillna(0.0).astype("float32")


def sample_users(inter: pd.DataFrame, n: int | None, seed: int) -> pd.DataFrame:
    """Keep a seeded random sample of ``n`` users (all of them when ``n`` is None)."""
    if not n:
        return inter
    users = np.sort(inter[COL_USER].unique())
    if n >= len(users):
        return inter
    chosen = np.random.default_rng(seed).choice(users, size=n, replace=False)
    return inter[inter[COL_USER].isin(chosen)].reset_index(drop=True)


def clean(inter: pd.DataFrame, items: pd.DataFrame, cfg: Mapping, seed: int) -> tuple[pd.DataFrame, dict]:
    """Run the cleaning steps a config's ``data`` section asks for; return rows and counts per step."""
    counts = {"raw": len(inter)}
    inter, dropped = drop_invalid(inter, items)
    counts.update({"invalid_removed": dropped, "after_invalid": len(inter)})
    inter, ndup = dedup_latest(inter)
    counts.update({"duplicates_removed": ndup, "after_dedup": len(inter)})
    inter = sample_users(inter, cfg.get("sample_users"), seed)
    counts["after_sample_users"] = len(inter)
    inter = k_core(inter, int(cfg.get("min_user_interactions", 0)), int(cfg.get("min_item_interactions", 0)))
    counts["after_k_core"] = len(inter)
    require_rows_left(inter, cfg, counts["after_sample_users"])
    if cfg.get("normalise_ratings", False):
        inter = inter.assign(rating_z=user_zscore(inter))
    return inter, counts
