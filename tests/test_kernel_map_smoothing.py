"""The kernel map's source-side smoothing: k = ((cos(x) + w·cos(x S)) / (1 + w))^p with S = EASE of warm source rows."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from rec_helpers.errors import ConfigError
from rec_helpers.interest import l2_normalise
from rec_helpers.transfer import baselines, make_method, make_synthetic_data
from rec_helpers.transfer.registry import load_method


@pytest.fixture(scope="module")
def data():
    return make_synthetic_data(seed=4)


def ease(x: sp.csr_matrix, lam: float) -> np.ndarray:
    """EASE (Steck 2019) written out: B = I − P diag(1/diag P), P = (XᵀX + λI)⁻¹, zero diagonal."""
    p = np.linalg.inv((x.T @ x).toarray() + lam * np.eye(x.shape[1]))
    b = np.eye(x.shape[1]) - p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


def test_smoothed_map_equals_the_formula_by_hand(data):
    lam_s, w, lam = 20.0, 0.7, 3.0
    m = make_method("kernel_map", smoothing=lam_s, smoothing_weight=w, l2_grid=(lam,)).fit(data)
    warm = data.warm_idx
    s = ease(data.source_matrix("both", warm).astype(np.float64), lam_s).astype(np.float32)
    np.testing.assert_array_equal(m.arrays_["S"], s)
    assert m.history_["smoothing"] == {"l2": lam_s, "weight": w, "columns": 2 * data.n_source}

    def kernel(idx):
        x = data.source_matrix("both", idx).astype(np.float64)
        xw = data.source_matrix("both", warm).astype(np.float64)
        cos = (l2_normalise(x) @ l2_normalise(xw).T).toarray()
        s64 = s.astype(np.float64)
        cos_s = l2_normalise(np.asarray(x @ s64)) @ l2_normalise(np.asarray(xw @ s64)).T
        return ((cos + w * cos_s) / (1 + w)) ** 2

    y = (data.X_target_train[warm] + 0.25 * data.target_seen[warm]).toarray()
    a = np.linalg.solve(kernel(warm) + lam * np.eye(len(warm)), y)
    np.testing.assert_allclose(m.arrays_["A"], a, rtol=1e-4, atol=1e-6)
    idx = data.cold_valid_idx
    np.testing.assert_allclose(m.score(data, idx), kernel(idx) @ a, rtol=1e-4, atol=1e-5)


def test_smoothing_off_is_the_plain_map_and_on_changes_it(data):
    plain = make_method("kernel_map").fit(data)
    off = make_method("kernel_map", smoothing=None, smoothing_weight=3.0).fit(data)
    idx = np.arange(data.n_users)
    np.testing.assert_array_equal(off.score(data, idx), plain.score(data, idx))
    assert off.history_["smoothing"] == "off" and "S" not in off.arrays_
    on = make_method("kernel_map", smoothing=20.0).fit(data)
    assert not np.allclose(on.score(data, idx), plain.score(data, idx))
    again = make_method("kernel_map", smoothing=20.0).fit(data)  # deterministic
    np.testing.assert_array_equal(again.score(data, idx), on.score(data, idx))


def test_smoothing_reads_warm_users_only(data):
    """S and the whole fitted map stay the same when cold-start users' source rows change."""
    rng = np.random.default_rng(0)
    cold = np.setdiff1d(np.arange(data.n_users), data.warm_idx)
    cold_test = data.cold_test_idx
    x_all = data.X_source_all.tolil()
    x_pos = data.X_source.tolil()
    for u in cold_test:
        cols = rng.choice(data.n_source, 5, replace=False)
        x_all[u, :] = 0
        x_pos[u, :] = 0
        x_all[u, cols] = 1
        x_pos[u, cols[:2]] = 1
    other = dataclasses.replace(data, X_source_all=x_all.tocsr(), X_source=x_pos.tocsr())
    assert len(cold) > len(cold_test) > 0
    a = make_method("kernel_map", smoothing=20.0).fit(data)
    b = make_method("kernel_map", smoothing=20.0).fit(other)
    assert set(a.arrays_) == set(b.arrays_)
    for key in a.arrays_:
        np.testing.assert_array_equal(a.arrays_[key], b.arrays_[key])


@pytest.mark.parametrize("kwargs", [{"smoothing_weight": 2.0}, {"user_feature_weight": 0.5}])
def test_smoothed_map_saves_and_loads(data, tmp_path, kwargs):
    m = make_method("kernel_map", smoothing=20.0, **kwargs).fit(data)
    again = load_method(m.save(tmp_path / "km"))
    assert again.get_params() == m.get_params()
    idx = np.arange(data.n_users)
    np.testing.assert_array_equal(again.score(data, idx), m.score(data, idx))


@pytest.mark.parametrize("kwargs", [{}, {"user_feature_weight": 0.5}])
def test_smoothed_nystrom_with_every_warm_user_equals_exact(data, kwargs):
    exact = make_method("kernel_map", smoothing=20.0, **kwargs).fit(data)
    full = make_method("kernel_map", smoothing=20.0, landmarks=10 ** 6, **kwargs)
    full._force_nystrom = True
    full.fit(data)
    assert full.meta_["l2"] == exact.meta_["l2"]
    idx = np.arange(data.n_users)
    np.testing.assert_allclose(full.score(data, idx), exact.score(data, idx), rtol=1e-3, atol=1e-4)


def test_too_wide_a_source_side_fits_without_smoothing_and_says_so(data, monkeypatch):
    monkeypatch.setattr(baselines, "SMOOTHING_MAX_COLUMNS", 2 * data.n_source - 1)
    with pytest.warns(UserWarning, match="smoothing: null"):
        m = make_method("kernel_map", smoothing=20.0).fit(data)
    assert m.history_["smoothing"].startswith("off:") and "S" not in m.arrays_
    idx = np.arange(data.n_users)
    np.testing.assert_array_equal(m.score(data, idx), make_method("kernel_map").fit(data).score(data, idx))


@pytest.mark.parametrize("kwargs", [{"smoothing": 0.0}, {"smoothing": -1.0}, {"smoothing_weight": 0.0},
                                    {"smoothing_weight": -0.5}])
def test_bad_smoothing_parameters_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        make_method("kernel_map", **kwargs)


def test_smoothing_within_the_limit_fits_without_a_warning(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = make_method("kernel_map", smoothing=20.0).fit(data)
    assert "S" in m.arrays_


def test_a_refit_without_smoothing_drops_the_smoothed_rows(data):
    m = make_method("kernel_map", smoothing=20.0).fit(data)
    m.score(data, data.cold_valid_idx)
    assert m._smoothed is not None
    m.smoothing = None
    m.fit(data)
    assert m._smoothed is None and "S" not in m.arrays_
    idx = np.arange(data.n_users)
    np.testing.assert_array_equal(m.score(data, idx), make_method("kernel_map").fit(data).score(data, idx))
