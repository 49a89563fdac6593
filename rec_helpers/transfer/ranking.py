"""Small vectorised ranking helpers: mask seen items, deterministic top-k, NDCG@k."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def mask_seen(scores: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
    """Copy of ``scores`` with seen items (non-zeros of ``seen``, same rows) set to -inf."""
    out = np.array(scores, dtype=np.float64, copy=True)
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
    if 4 * k >= n:
        # a stable sort of -scores keeps equal scores in item-index order
        return np.argsort(-scores, axis=1, kind="stable")[:, :k]
    # only items scoring ≥ the k-th best value can make the list: gather them (in index
    # order, via a linear-time stable sort of booleans), then stable-sort that short list
    kth = np.partition(scores, n - k, axis=1)[:, n - k]
    cand = scores >= kth[:, None]
    width = int(cand.sum(axis=1).max())
    cols = np.argsort(~cand, axis=1, kind="stable")[:, :width]
    order = np.argsort(-np.take_along_axis(scores, cols, axis=1), axis=1, kind="stable")
    return np.take_along_axis(cols, order[:, :k], axis=1)


def ndcg_at_k(scores: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> float:
    """Mean NDCG@k with binary gain and log2 discount over rows with ≥ 1 relevant item.

    DCG = Σ_{r≤k} rel_r / log2(r + 1); IDCG = Σ_{r≤min(k,|rel|)} 1 / log2(r + 1).
    ``scores`` should already have seen items masked (see :func:`mask_seen`).
    """
    rel = sp.csr_matrix(relevant)
    n_rel = np.asarray(rel.sum(axis=1)).ravel()
    keep = n_rel > 0
    if not keep.any():
        return float("nan")
    top = top_k(scores[keep], k)
    rel_k = rel[np.flatnonzero(keep)]
    hits = np.take_along_axis(rel_k.toarray(), top, axis=1) > 0
    disc = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    dcg = (hits * disc).sum(axis=1)
    idcg = np.cumsum(disc)[np.minimum(n_rel[keep], top.shape[1]).astype(int) - 1]
    return float(np.mean(dcg / idcg))
