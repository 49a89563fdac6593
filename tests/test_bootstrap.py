"""Tests of the bootstrap CIs, the paired bootstrap test and Holm's correction."""
from __future__ import annotations

import numpy as np
import pytest

from rec_helpers.bootstrap import bootstrap_ci, holm_correction, paired_bootstrap, resample_counts
from rec_helpers.errors import ConfigError, DataValidationError


def test_resample_counts_shape_and_determinism():
    w = resample_counts(50, n_resamples=200, seed=3)
    assert w.shape == (200, 50)
    assert (w.sum(axis=1) == 50).all()  # every resample draws n users
    np.testing.assert_array_equal(w, resample_counts(50, n_resamples=200, seed=3))
    assert not np.array_equal(w, resample_counts(50, n_resamples=200, seed=4))


def test_bootstrap_ci_deterministic_and_contains_mean():
    x = np.random.default_rng(0).exponential(size=200)
    a = bootstrap_ci(x, n_resamples=500, seed=1)
    assert a == bootstrap_ci(x, n_resamples=500, seed=1)
    assert a != bootstrap_ci(x, n_resamples=500, seed=2)
    assert a["mean"] == pytest.approx(x.mean())
    assert a["ci_low"] < a["mean"] < a["ci_high"]


def test_bootstrap_ci_narrows_with_more_users_and_matches_normal_theory():
    rng = np.random.default_rng(0)
    small, large = rng.normal(size=100), rng.normal(size=10_000)
    ci_small = bootstrap_ci(small, n_resamples=1000)
    ci_large = bootstrap_ci(large, n_resamples=1000)
    width_small = ci_small["ci_high"] - ci_small["ci_low"]
    width_large = ci_large["ci_high"] - ci_large["ci_low"]
    assert width_large < width_small / 5  # ~ 1/sqrt(100) ratio of widths
    # 95% width ~ 2 * 1.96 * sd / sqrt(n)
    assert width_large == pytest.approx(2 * 1.96 * large.std() / 100, rel=0.15)


def test_bootstrap_ci_narrower_at_lower_confidence_and_constant_input():
    x = np.random.default_rng(1).random(300)
    c90, c99 = bootstrap_ci(x, confidence=0.90), bootstrap_ci(x, confidence=0.99)
    assert c99["ci_low"] < c90["ci_low"] < c90["ci_high"] < c99["ci_high"]
    assert bootstrap_ci(np.full(10, 0.25)) == {"mean": 0.25, "ci_low": 0.25, "ci_high": 0.25}


def test_bootstrap_ci_ignores_undefined_users():
    # NaN = undefined for that user (e.g. AUC without negatives): left out of every mean
    got = bootstrap_ci(np.array([1.0, np.nan, 3.0]), n_resamples=200)
    assert got["mean"] == 2.0 and 1.0 <= got["ci_low"] <= got["ci_high"] <= 3.0


def test_paired_bootstrap_clear_difference():
    rng = np.random.default_rng(0)
    b = rng.random(500)
    a = b + 0.05 + rng.normal(scale=0.05, size=500)
    res = paired_bootstrap(a, b, n_resamples=1000, seed=0)
    assert res["delta"] == pytest.approx((a - b).mean())
    assert res["ci_low"] > 0
    assert res["p_value"] == pytest.approx(1 / 1001)  # no centred resample reaches |delta|


def test_paired_bootstrap_identical_and_null():
    x = np.random.default_rng(0).random(300)
    same = paired_bootstrap(x, x.copy())
    assert same["delta"] == 0 and same["p_value"] == 1.0 and same["ci_low"] == same["ci_high"] == 0
    rng = np.random.default_rng(5)
    noise = paired_bootstrap(x, x + rng.normal(scale=0.1, size=300) - 0.0, seed=1)
    assert noise["p_value"] > 0.05 and noise["ci_low"] < 0 < noise["ci_high"]
    assert paired_bootstrap(x, x[::-1], seed=1) == paired_bootstrap(x, x[::-1], seed=1)


def test_paired_bootstrap_length_mismatch():
    with pytest.raises(DataValidationError, match="same users"):
        paired_bootstrap(np.ones(3), np.ones(4))


def test_holm_hand_example():
    # sorted: d .005, a .01, c .03, b .04 (m = 4)
    # stepped: 4 x .005 = .02, 3 x .01 = .03, 2 x .03 = .06, 1 x .04 = .04
    # running max: .02, .03, .06, .06
    got = holm_correction({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005})
    assert list(got) == ["a", "b", "c", "d"]
    assert got == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06, "d": 0.02})
    # capped at 1: y .5 x 2 = 1.0, then x max(1.0, .6 x 1) = 1.0
    assert holm_correction({"x": 0.6, "y": 0.5}) == {"x": 1.0, "y": 1.0}
    assert holm_correction({"only": 0.2}) == {"only": 0.2}
    assert holm_correction({}) == {}
    with pytest.raises(DataValidationError, match=r"\[0, 1\]"):
        holm_correction({"x": 1.5})


@pytest.mark.parametrize("n", [0, -5, 2.5, True])
def test_bad_n_resamples(n):
    with pytest.raises(ConfigError, match="n_resamples"):
        bootstrap_ci(np.ones(5), n_resamples=n)
    with pytest.raises(ConfigError, match="n_resamples"):
        paired_bootstrap(np.ones(5), np.ones(5), n_resamples=n)


@pytest.mark.parametrize("c", [0, 1, -0.1, 1.5, "high"])
def test_bad_confidence(c):
    with pytest.raises(ConfigError, match="confidence"):
        bootstrap_ci(np.ones(5), confidence=c)


def test_empty_values():
    with pytest.raises(DataValidationError):
        bootstrap_ci(np.array([]))
