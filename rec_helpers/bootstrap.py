"""Bootstrap confidence intervals over users, paired tests and Holm's correction.

Resampling is vectorised: one (n_resamples x n_users) matrix of resample counts
``W[b, u]`` = how often user u is drawn in resample b, so that the bootstrap means of any
number of per-user columns are a single product ``W @ V / n``. The same seed and number of
users give the same resamples, so every metric and every method of one evaluation is
resampled on the same draws (common random numbers), which is what a paired comparison needs.
"""
from __future__ import annotations

import warnings
from typing import Mapping

import numpy as np

from .errors import ConfigError, DataValidationError

DEFAULT_N_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
# Largest number of (resample, user) draws generated at once; bounds memory, not results.
_BLOCK_DRAWS = 4_000_000


def check_n_resamples(n_resamples: object) -> int:
    """Return ``n_resamples`` as an int, or raise unless it is an integer >= 1."""
    if isinstance(n_resamples, (bool, np.bool_)) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ConfigError(
            f"n_resamples must be an integer >= 1, got {n_resamples!r}. Fix: use e.g. n_resamples=1000."
        )
    return int(n_resamples)


def check_confidence(confidence: object) -> float:
    """Return ``confidence`` as a float, or raise unless 0 < confidence < 1."""
    try:
        c = float(confidence)
    except (TypeError, ValueError):
        c = float("nan")
    if not 0.0 < c < 1.0:
        raise ConfigError(
            f"confidence must lie strictly between 0 and 1, got {confidence!r}. Fix: use e.g. confidence=0.95."
        )
    return c


def resample_counts(n: int, n_resamples: int = DEFAULT_N_RESAMPLES, seed: int = 0) -> np.ndarray:
    """W (n_resamples x n): W[b, u] = times user u is drawn when resampling n users with replacement.

    Draws come from ``np.random.default_rng(seed).integers(0, n, (block, n))``; deterministic
    for a given (n, n_resamples, seed).
    """
    n_resamples = check_n_resamples(n_resamples)
    if n < 1:
        raise DataValidationError("cannot bootstrap over 0 users. Fix: evaluate at least one user.")
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_DRAWS // n)
    parts = []
    for start in range(0, n_resamples, block):
        b = min(block, n_resamples - start)
        draws = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        parts.append(np.bincount(draws.ravel(), minlength=b * n).reshape(b, n))
    return np.concatenate(parts).astype(np.float64)


def _as_matrix(values: object) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if v.ndim != 2 or v.shape[0] == 0:
        raise DataValidationError(
            f"values must be a non-empty 1-D array (one value per user), got shape {v.shape}."
        )
    return v


def bootstrap_means(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Bootstrap means (n_resamples x m) of each column of ``values`` (n x m), NaN-aware.

    mean_b = sum_u W[b,u] v_u 1[v_u defined] / sum_u W[b,u] 1[v_u defined].
    """
    v = _as_matrix(values)
    defined = ~np.isnan(v)
    if defined.all():  # every resample holds exactly n users
        return (counts @ v) / len(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ np.where(defined, v, 0.0)) / (counts @ defined.astype(np.float64))


def percentile_interval(boot: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval: the (1-c)/2 and (1+c)/2 quantiles of the bootstrap distribution."""
    alpha = 1.0 - confidence
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column: metric undefined for every user
        low, high = np.nanquantile(boot, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    return low, high


def _nanmean(v: np.ndarray) -> np.ndarray:
    defined = ~np.isnan(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(defined, v, 0.0).sum(axis=0) / defined.sum(axis=0)


def bootstrap_ci(
    values: np.ndarray,
    n_resamples: int = DEFAULT_N_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> dict[str, float]:
    """Percentile bootstrap CI of the mean over users.

    mean = (1/n) sum_u v_u;  [ci_low, ci_high] = quantiles (1-c)/2, (1+c)/2 of the means of
    ``n_resamples`` resamples of the n users with replacement. NaN entries (undefined users)
    are left out of every mean.
    """
    confidence = check_confidence(confidence)
    v = _as_matrix(values)
    boot = bootstrap_means(v, resample_counts(len(v), n_resamples, seed))
    low, high = percentile_interval(boot, confidence)
    return {"mean": float(_nanmean(v)[0]), "ci_low": float(low[0]), "ci_high": float(high[0])}


def paired_from_boot(
    diff: np.ndarray, boot_diff: np.ndarray, confidence: float
) -> dict[str, float]:
    """Delta, percentile CI and shifted-bootstrap two-sided p-value (see ``paired_bootstrap``)."""
    delta = float(_nanmean(diff[:, None])[0])
    low, high = percentile_interval(boot_diff[:, None], confidence)
    centred = boot_diff - delta
    extreme = np.count_nonzero(np.abs(centred) >= abs(delta) - 1e-12 * max(1.0, abs(delta)))
    p_value = (1.0 + extreme) / (1.0 + len(boot_diff))
    return {"delta": delta, "ci_low": float(low[0]), "ci_high": float(high[0]), "p_value": float(p_value)}


def paired_bootstrap(
    a: np.ndarray,
    b: np.ndarray,
    n_resamples: int = DEFAULT_N_RESAMPLES,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, float]:
    """Paired bootstrap of per-user scores of two methods on the same users.

    d_u = a_u - b_u, delta = mean(d). The users are resampled (same draws for a and b),
    giving bootstrap means d*_1..d*_B; CI = percentile interval of d*. Two-sided p-value by
    the shift method (Efron & Tibshirani 1993, sec. 16.4): centre the bootstrap distribution
    to impose H0 (mean difference 0), then

        p = (1 + #{b : |d*_b - delta| >= |delta|}) / (B + 1),

    the +1 keeping p > 0 (its resolution is 1 / (B + 1)). Identical arrays give p = 1.
    Pairs with a NaN on either side are dropped.
    """
    confidence = check_confidence(confidence)
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise DataValidationError(
            f"paired arrays must align on the same users, got {a.size} and {b.size} values. "
            f"Fix: reindex both per-user series on the same user index."
        )
    d = a - b
    d = d[~np.isnan(d)]
    boot = bootstrap_means(d, resample_counts(len(d), n_resamples, seed))[:, 0]
    return paired_from_boot(d, boot, confidence)


def holm_correction(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm-Bonferroni step-down adjusted p-values, in the input's key order.

    Sort p_(1) <= ... <= p_(m); adjusted p_(i) = max_{j<=i} min(1, (m - j + 1) p_(j)).
    """
    names = list(p_values)
    p = np.array([p_values[n] for n in names], dtype=np.float64)
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise DataValidationError(f"p-values must lie in [0, 1], got {dict(p_values)}.")
    order = np.argsort(p, kind="stable")
    m = len(p)
    stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(stepped)
    return {n: float(v) for n, v in zip(names, adjusted)}
