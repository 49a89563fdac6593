"""User interest vectors in one domain, built from item vectors or from BERT on titles.

Mean interest vector (``mean_interest_vectors``) of user u over the given interactions:

    P_u    = { j : r_uj >= threshold }                           (the user's positives)
    r̄_u    = mean of ALL of u's ratings in the given interactions (positives and negatives)
    w_uj   = max(1 + (r_uj - r̄_u), WEIGHT_EPS)                   (centred-rating weight)
           * 0.5 ** (age_uj / half_life_days)                      (only if half_life_days)
    age_uj = (t_u,latest - t_uj) in days, t_u,latest = u's latest timestamp in the given interactions
    u_d    = sum_{j in P_u} w_uj e_j / sum_{j in P_u} w_uj,   then  u_d <- u_d / ||u_d||

A positive rated above the user's own average counts more than one rated below it; the
clip at ``WEIGHT_EPS`` keeps every positive in with a small weight. Users with no positive
(or not present in the interactions) get an all-zero row, which callers can detect with
``~vectors.any(axis=1)``. Repeated (user, item) rows each contribute their own weight.

Everything is vectorised: one sparse user x item weight matrix W, then ``W @ E``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import constants
from .errors import ConfigError, DataValidationError, require_columns

if TYPE_CHECKING:  # pragma: no cover
    from .encoder import BertEncoder

WEIGHT_EPS = 0.05  # smallest weight a positive can get (see module docstring)
SECONDS_PER_DAY = 86_400.0
TITLE_SEP = "; "


def mean_interest_vectors(
    interactions: pd.DataFrame,
    item_ids: Sequence[str],
    item_vectors: np.ndarray,
    users: Sequence[str],
    *,
    positive_threshold: float = constants.DEFAULT_POSITIVE_THRESHOLD,
    half_life_days: float | None = None,
    col_user: str = constants.COL_USER,
    col_item: str = constants.COL_ITEM,
    col_rating: str = constants.COL_RATING,
    col_timestamp: str = constants.COL_TIMESTAMP,
) -> np.ndarray:
    """Weighted mean of each user's positive item vectors, L2-normalised; (len(users), dim) float32."""
    cols = [col_user, col_item, col_rating] + ([col_timestamp] if half_life_days is not None else [])
    _check_columns(interactions, cols)
    _check_half_life(half_life_days)
    item_vectors = np.asarray(item_vectors)
    if item_vectors.ndim != 2 or item_vectors.shape[0] != len(item_ids):
        raise DataValidationError(
            f"item_vectors has shape {item_vectors.shape} but there are {len(item_ids)} item_ids. "
            "Fix: pass one vector row per item id, in the same order."
        )
    user_row = _positions(interactions[col_user], users, "users")
    item_row = _item_positions(interactions[col_item], item_ids)
    ratings = _ratings(interactions[col_rating])

    keep = user_row >= 0  # interactions of users we were not asked about are ignored
    user_row, item_row, ratings = user_row[keep], item_row[keep], ratings[keep]
    weights = centred_weights(user_row, ratings, len(users))
    if half_life_days is not None:
        seconds = _seconds(interactions[col_timestamp])[keep]
        weights = weights * recency_decay(user_row, seconds, len(users), half_life_days)

    positive = ratings >= positive_threshold
    W = sp.csr_matrix(
        (weights[positive], (user_row[positive], item_row[positive])),
        shape=(len(users), len(item_ids)),
    )
    summed = W @ item_vectors.astype(np.float64, copy=False)
    mean = summed / np.maximum(np.asarray(W.sum(axis=1)), np.finfo(float).tiny)
    return l2_normalise(mean).astype(np.float32)


def centred_weights(user_row: np.ndarray, ratings: np.ndarray, n_users: int) -> np.ndarray:
    """w = max(1 + (r - r̄_u), WEIGHT_EPS), with r̄_u the mean of each user's ratings."""
    counts = np.bincount(user_row, minlength=n_users)
    sums = np.bincount(user_row, weights=ratings, minlength=n_users)
    user_mean = sums / np.maximum(counts, 1)
    return np.maximum(1.0 + ratings - user_mean[user_row], WEIGHT_EPS)


def recency_decay(
    user_row: np.ndarray, seconds: np.ndarray, n_users: int, half_life_days: float
) -> np.ndarray:
    """0.5 ** (age_days / half_life_days), age measured from each user's latest interaction."""
    latest = np.full(n_users, -np.inf)
    np.maximum.at(latest, user_row, seconds)
    age_days = (latest[user_row] - seconds) / SECONDS_PER_DAY
    return 0.5 ** (age_days / half_life_days)


def l2_normalise(matrix: np.ndarray | sp.spmatrix) -> np.ndarray | sp.csr_matrix:
    """Divide each row by its L2 norm; all-zero rows stay zero (dense, or scipy sparse -> CSR)."""
    if sp.issparse(matrix):
        n = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        return sp.csr_matrix(sp.diags(np.divide(1.0, n, out=np.zeros_like(n), where=n > 0)) @ matrix)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def user_history_texts(
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    users: Sequence[str],
    *,
    n_recent: int = 20,
    positive_threshold: float = constants.DEFAULT_POSITIVE_THRESHOLD,
    col_user: str = constants.COL_USER,
    col_item: str = constants.COL_ITEM,
    col_rating: str = constants.COL_RATING,
    col_timestamp: str = constants.COL_TIMESTAMP,
    col_title: str = constants.COL_TITLE,
) -> pd.Series:
    """Titles of each user's ``n_recent`` newest positives, newest first, joined by ``"; "``.

    Indexed by ``users``; users without positives get ``""``. Ties in time keep input order.
    """
    if isinstance(n_recent, bool) or not isinstance(n_recent, (int, np.integer)) or n_recent <= 0:
        raise ConfigError(f"n_recent must be a positive integer, got {n_recent!r}. Fix: e.g. n_recent=20.")
    _check_columns(interactions, [col_user, col_item, col_rating, col_timestamp])
    _check_columns(items, [col_item, col_title], what="items")
    _unique_index(users, "users")
    titles = pd.Series(items[col_title].to_numpy(), index=pd.Index(items[col_item]))
    if not titles.index.is_unique:
        raise DataValidationError("items has duplicate item ids. Fix: drop duplicates before building texts.")
    _item_positions(interactions[col_item], titles.index, where="the items frame")

    ratings = _ratings(interactions[col_rating])
    wanted = interactions[col_user].isin(pd.Index(users)).to_numpy()
    pos = interactions.loc[(ratings >= positive_threshold) & wanted, [col_user, col_item, col_timestamp]]
    pos = pos.assign(_title=pos[col_item].map(titles).to_numpy())
    if pos["_title"].isna().any():
        missing = pos.loc[pos["_title"].isna(), col_item].unique()[:10].tolist()
        raise DataValidationError(f"items {missing} have no title. Fix: fill in their titles first.")
    pos = pos.sort_values([col_user, col_timestamp], ascending=[True, False], kind="stable")
    recent = pos.groupby(col_user, sort=False).head(n_recent)
    joined = recent.groupby(col_user, sort=False)["_title"].agg(TITLE_SEP.join)
    return joined.reindex(pd.Index(users), fill_value="").rename(constants.COL_TEXT)


def text_interest_vectors(
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    encoder: "BertEncoder",
    users: Sequence[str],
    *,
    n_recent: int = 20,
    positive_threshold: float = constants.DEFAULT_POSITIVE_THRESHOLD,
    col_user: str = constants.COL_USER,
    col_item: str = constants.COL_ITEM,
    col_rating: str = constants.COL_RATING,
    col_timestamp: str = constants.COL_TIMESTAMP,
    col_title: str = constants.COL_TITLE,
    show_progress: bool = True,
) -> np.ndarray:
    """BERT vector of each user's recent-positive titles (see ``user_history_texts``); zero rows for users without positives."""
    texts = user_history_texts(
        interactions, items, users, n_recent=n_recent, positive_threshold=positive_threshold,
        col_user=col_user, col_item=col_item, col_rating=col_rating,
        col_timestamp=col_timestamp, col_title=col_title,
    ).to_numpy()
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    has_text = texts != ""
    if has_text.any():
        out[has_text] = encoder.encode(list(texts[has_text]), show_progress=show_progress)
    return out


# --- validation helpers ---------------------------------------------------------------------


def _check_columns(frame: pd.DataFrame, cols: list[str], what: str = "interactions") -> None:
    require_columns(frame, cols, f"the {what} frame", "rename the columns or pass col_user=/col_item=/col_rating=/col_timestamp=")


def _check_half_life(half_life_days: float | None) -> None:
    if half_life_days is not None and not (np.isfinite(half_life_days) and half_life_days > 0):
        raise ConfigError(
            f"half_life_days must be a positive number or None, got {half_life_days!r}. "
            "Fix: e.g. half_life_days=180, or None for no recency decay."
        )


def _unique_index(keys: Sequence, what: str) -> pd.Index:
    index = pd.Index(keys)
    if not index.is_unique:
        dup = index[index.duplicated()].unique()[:5].tolist()
        raise DataValidationError(f"{what} contains duplicates, e.g. {dup}. Fix: pass each id once.")
    return index


def _positions(values: pd.Series, keys: Sequence, what: str) -> np.ndarray:
    """Row of each value in ``keys`` (-1 when absent); ``keys`` must be unique."""
    return _unique_index(keys, what).get_indexer(values)


def _item_positions(values: pd.Series, item_ids: Sequence, where: str = "item_ids") -> np.ndarray:
    rows = _positions(values, item_ids, "item_ids")
    if (rows < 0).any():
        unknown = pd.unique(np.asarray(values)[rows < 0])
        raise DataValidationError(
            f"{len(unknown)} item id(s) in interactions are not in {where}, e.g. {list(unknown[:5])} "
            "(check the id dtype too: '1' != 1). Fix: cover every item of this domain, or filter "
            "interactions to the known items."
        )
    return rows


def _ratings(values: pd.Series) -> np.ndarray:
    ratings = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(ratings).any():
        raise DataValidationError(
            f"{int(np.isnan(ratings).sum())} rating(s) are missing or not numeric. "
            "Fix: drop or fill those rows first."
        )
    return ratings


def _seconds(values: pd.Series) -> np.ndarray:
    """Timestamps as float seconds (unix ints/floats or datetimes; only differences matter)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        seconds = ((values - values.min()) / pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        seconds = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(seconds).any():
        raise DataValidationError(
            f"{int(np.isnan(seconds).sum())} timestamp(s) are missing or not numeric, but "
            "recency decay needs them. Fix: fill them, or pass half_life_days=None."
        )
    return seconds


__all__ = [
    "WEIGHT_EPS", "centred_weights", "l2_normalise", "mean_interest_vectors",
    "recency_decay", "text_interest_vectors", "user_history_texts",
]
