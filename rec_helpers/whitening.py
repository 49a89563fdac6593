"""Whitening of frozen item vectors: remove the anisotropy of BERT sentence vectors.

Mean-pooled MiniLM vectors share a large common direction (the mean cosine between two
random ML-1M items is about 0.44; random unit vectors give about 0), so a user's mean of
item vectors blurs which items they chose. Whitening (BERT-whitening, Su et al. 2021)
centres the vectors and decorrelates their dimensions:

    μ = mean(E), Σ = cov(E) = U Λ Uᵀ,
    PCA:  W = U Λ^{-1/2}          ZCA:  W = U Λ^{-1/2} Uᵀ   (rotated back to the original axes),
    ê = normalise((e − μ) W).

It is fitted on the catalogue's item texts only (no interactions; an unsupervised transform),
so it cannot leak any user's behaviour.
"""
from __future__ import annotations

import numpy as np

from .errors import ConfigError
from .interest import l2_normalise

KINDS = ("zca", "pca")


def fit_whitening(vectors: np.ndarray, kind: str = "zca", eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """(μ, W) of the whitening map fitted on ``vectors`` (n × d)."""
    if kind not in KINDS:
        raise ConfigError(f"whitening kind {kind!r} is not valid; choose one of {list(KINDS)} (or null for none).")
    x = np.asarray(vectors, dtype=np.float64)
    mu = x.mean(axis=0)
    lam, u = np.linalg.eigh(np.cov(x - mu, rowvar=False))
    w = u / np.sqrt(np.maximum(lam, 0.0) + eps)
    return mu, (w @ u.T if kind == "zca" else w)


def whiten(vectors: np.ndarray, kind: str = "zca", fit_on: np.ndarray | None = None) -> np.ndarray:
    """Whitened, L2-normalised float32 copy of ``vectors`` (the map fitted on ``fit_on``, default the same)."""
    mu, w = fit_whitening(vectors if fit_on is None else fit_on, kind)
    return l2_normalise((np.asarray(vectors, dtype=np.float64) - mu) @ w).astype(np.float32)


def mean_cosine(vectors: np.ndarray, n_pairs: int = 20000, seed: int = 0) -> float:
    """Anisotropy: the mean cosine between random pairs of distinct rows (about 0 when isotropic)."""
    v = l2_normalise(np.asarray(vectors, dtype=np.float64))
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(v), n_pairs), rng.integers(0, len(v), n_pairs)
    keep = i != j
    return float(np.mean(np.sum(v[i[keep]] * v[j[keep]], axis=1)))
