"""Small vectorised ranking helpers: mask seen items, deterministic top-k, metrics (NDCG@k, recall@k, ...) of score matrices."""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from ..metrics import HitMatrix, metric_label, ranking_values

# Users scored at once by valid_ndcg and recommend: memory stays at SCORE_CHUNK × n_target floats
# (about 1 GB in float64 at 60,000 target items) whatever the number of users. Top-k and NDCG are
# per row, so chunked results equal unchunked ones exactly.
SCORE_CHUNK = 2048


def user_chunks(user_idx: np.ndarray, size: int | None = None):
    """``user_idx`` in consecutive pieces of at most ``size`` (default :data:`SCORE_CHUNK`) users."""
    user_idx, size = np.asarray(user_idx), size or SCORE_CHUNK
    for start in range(0, max(len(user_idx), 1), size):
        yield user_idx[start:start + size]


def mask_seen(scores: np.ndarray, seen: sp.csr_matrix, dtype=np.float64) -> np.ndarray:
    """Copy of ``scores`` (as ``dtype``) with seen items (non-zeros of ``seen``, same rows) set to -inf."""
    out = np.array(scores, dtype=dtype, copy=True)
    coo = sp.coo_matrix(seen)
    out[coo.row, coo.col] = -np.inf
    return out


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the k best scores per row, best first; ties → lower index first."""
    scores = np.asarray(scores)
    n = scores.shape[1]
    k = min(int(k), n)
    if k == 0 or len(scores) == 0:
        return np.zeros((len(scores), k), dtype=np.int64)
    # torch.topk (linear time, multi-threaded) finds the k + 1 best values of each row. Where the
    # (k+1)-th is strictly below the k-th, the top-k set is unambiguous and only its order needs the
    # tie rule; the other rows (an item tied with the k-th just outside the set) go through the exact
    # path: every item scoring ≥ the k-th best, sorted by (score descending, item index).
    t = torch.from_numpy(np.ascontiguousarray(scores))
    vals, idx = torch.topk(t, min(k + 1, n), dim=1)
    vals, idx = vals.numpy(), idx.numpy().astype(np.int64)
    out = np.empty((len(scores), k), dtype=np.int64)
    clear = np.ones(len(scores), dtype=bool) if k == n else vals[:, k] < vals[:, k - 1]
    if clear.any():
        v, i = vals[clear, :k], idx[clear, :k]
        order = np.lexsort((i, -v))  # per row (2-D keys sort along the last axis)
        out[clear] = np.take_along_axis(i, order, axis=1)
    rest = np.flatnonzero(~clear)
    if len(rest):
        sub = scores[rest]
        kth = vals[rest, k - 1]
        rows, cols = np.nonzero(sub >= kth[:, None])
        order = np.lexsort((cols, -sub[rows, cols], rows))
        rows, cols = rows[order], cols[order].astype(np.int64)
        first = np.searchsorted(rows, np.arange(len(rest)))  # every row has ≥ k candidates
        out[rest] = cols[first[:, None] + np.arange(k)]
    return out


def metric_per_user(scores: np.ndarray, relevant: sp.csr_matrix, k: int = 10, metric: str = "ndcg") -> np.ndarray:
    """A ranking metric at k per row of a score matrix (NaN for rows without a relevant item), by the
    suite's one set of definitions (:func:`rec_helpers.metrics.ranking_values`: ``"ndcg"``,
    ``"recall"``, ``"precision"``, ...). Mask seen items first (:func:`mask_seen`)."""
    rel = sp.csr_matrix(relevant)
    n_rel = np.asarray(rel.sum(axis=1)).ravel().astype(np.int64)
    out = np.full(len(n_rel), np.nan)
    keep = np.flatnonzero(n_rel > 0)
    if len(keep):
        top = top_k(np.asarray(scores)[keep], k)
        hits = np.take_along_axis(rel[keep].toarray(), top, axis=1) > 0
        hm = HitMatrix(pd.RangeIndex(len(keep)), hits, np.ones_like(hits), n_rel[keep])
        out[keep] = ranking_values(hm, (int(k),))[metric_label(metric, int(k))]
    return out


def ndcg_per_user(scores: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> np.ndarray:
    """NDCG@k per row of a score matrix (:func:`metric_per_user`)."""
    return metric_per_user(scores, relevant, k, "ndcg")


def metric_at_k(scores: np.ndarray, relevant: sp.csr_matrix, k: int = 10, metric: str = "ndcg") -> float:
    """Mean of a ranking metric at k over rows with ≥ 1 relevant item (NaN when there is none): the
    score-matrix entry point of :mod:`rec_helpers.metrics` (frames: ``metrics.<metric>_at_k``)."""
    values = metric_per_user(scores, relevant, k, metric)
    values = values[~np.isnan(values)]
    return float(np.mean(values)) if len(values) else float("nan")


def ndcg_at_k(scores: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Mean NDCG@k over rows with ≥ 1 relevant item (:func:`metric_at_k`; frames:
    :func:`rec_helpers.metrics.ndcg_at_k`)."""
    return metric_at_k(scores, relevant, k, "ndcg")
