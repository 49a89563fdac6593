"""User features (gender, age, occupation): from the dataset's user table into the split, TransferData, the kernel
map (k = k_source + γ·(f_u·f_v)^p) and CD-ridge (user features) (x = [positives | rated at all | c·f]). The kernel
map's save/load and Nyström checks with user features are in test_kernel_map_smoothing.py."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from rec_helpers.errors import ConfigError, DataValidationError
from rec_helpers.interest import l2_normalise
from rec_helpers.splits import attach_user_features
from rec_helpers.transfer import make_method, make_synthetic_data
from rec_helpers.transfer.registry import load_method


@pytest.fixture(scope="module")
def data():
    return make_synthetic_data(seed=4)


@pytest.fixture(scope="module")
def bare(data):
    """The same data without user features (custom data)."""
    return dataclasses.replace(data, user_features=None)


def test_attach_user_features_keeps_the_known_columns_as_text():
    roles = pd.DataFrame({"user": ["1", "2", "3"], "role": ["warm", "cold_test", "warm"]})
    table = pd.DataFrame({"user": [3, 1, 9], "age": [25.0, 1.0, 18.0], "gender": ["M", "F", "M"],
                          "zip_code": ["1", "2", "3"]})
    out = attach_user_features(roles, table)
    assert list(out.columns) == ["user", "role", "gender", "age"]  # zip codes are not a feature
    assert out["gender"].tolist() == ["F", "", "M"] and out["age"].tolist() == ["1", "", "25"]
    assert attach_user_features(roles, pd.DataFrame({"user": ["1"]})) is roles
    assert attach_user_features(roles, None) is roles


def test_ages_in_years_fall_into_movielens_1m_age_groups():
    roles = pd.DataFrame({"user": list("abcdefg"), "role": "warm"})
    table = pd.DataFrame({"user": list("abcdefg"), "age": ["7", "18", "24", "34", "49", "55", "73"],
                          "occupation": ["10.0", "2.0", "x", "1", "1", "1", "1"]})
    out = attach_user_features(roles, table)
    assert out["age"].tolist() == ["1", "18", "18", "25", "45", "50", "56"]
    assert out["occupation"].tolist() == ["10.0", "2.0", "x", "1", "1", "1", "1"]  # not all numbers: kept as text
    ml1m = attach_user_features(roles, table.assign(age=["1", "18", "25", "35", "45", "50", "56"]))
    assert ml1m["age"].tolist() == ["1", "18", "25", "35", "45", "50", "56"]  # ML-1M's codes are their own groups


def test_transfer_data_one_hot_encodes_the_features(data):
    f = data.user_features
    assert f.shape[0] == data.n_users and f.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(f, axis=1), 1.0, rtol=1e-6)
    # three features, one category each: three equal entries per row
    assert ((f > 0).sum(axis=1) == 3).all()
    again = make_synthetic_data(seed=4)
    np.testing.assert_array_equal(again.user_features, f)
    assert len(data.user_feature_names) == f.shape[1] and "gender=F" in data.user_feature_names


def test_unknown_feature_values_get_no_column():
    from rec_helpers.transfer.data import TransferData

    d = make_synthetic_data(seed=1)
    frames = pd.DataFrame({"user": d.user_ids, "role": d.roles, "gender": ["F", ""] * (d.n_users // 2)})
    items = pd.DataFrame({"item": np.concatenate([d.source_item_ids, d.target_item_ids]),
                          "domain": ["source"] * d.n_source + ["target"] * d.n_target})
    empty = pd.DataFrame({"user": [], "item": [], "rating": []})
    vectors = np.vstack([d.E_source, d.E_target])
    out = TransferData.from_frames(items, frames, empty, empty, empty[["user", "item"]], items["item"], vectors,
                                   d.U_s, np.zeros_like(d.U_t))
    assert out.user_features.shape == (d.n_users, 1) and out.user_feature_names == ("gender=F",)
    np.testing.assert_array_equal(out.user_features[:, 0], [1.0, 0.0] * (d.n_users // 2))
    none = TransferData.from_frames(items, frames.assign(gender=""), empty, empty, empty[["user", "item"]],
                                    items["item"], vectors, d.U_s, np.zeros_like(d.U_t))
    assert none.user_features is None and none.user_feature_names == ()


def kernel_by_hand(data, idx, gamma, lam):
    """The plain kernel map plus γ·(f_u·f_v)², written out."""
    warm = data.warm_idx
    x = l2_normalise(data.source_matrix("both").astype(np.float64))
    f = data.user_features.astype(np.float64)

    def k(rows):
        return (x[rows] @ x[warm].T).toarray() ** 2 + gamma * (f[rows] @ f[warm].T) ** 2

    y = (data.X_target_train[warm] + 0.25 * data.target_seen[warm]).toarray()
    a = np.linalg.solve(k(warm) + lam * np.eye(len(warm)), y)
    return k(idx) @ a


def test_kernel_map_with_user_features_equals_the_formula_by_hand(data):
    m = make_method("kernel_map", user_feature_weight=0.5, l2_grid=(3.0,)).fit(data)
    assert m.history_["user_features"] == {"weight": 0.5, "columns": list(data.user_feature_names)}
    idx = data.cold_test_idx
    np.testing.assert_allclose(m.score(data, idx), kernel_by_hand(data, idx, 0.5, 3.0), rtol=1e-4, atol=1e-5)


def test_user_features_change_the_kernel_map_and_off_is_the_plain_map(data):
    idx = np.arange(data.n_users)
    plain = make_method("kernel_map").fit(data)
    off = make_method("kernel_map", user_feature_weight=0.0).fit(data)
    assert off.history_["user_features"] == "off" and "w_feat" not in off.arrays_
    np.testing.assert_array_equal(off.score(data, idx), plain.score(data, idx))
    on = make_method("kernel_map", user_feature_weight=0.5).fit(data)
    assert not np.allclose(on.score(data, idx), plain.score(data, idx))
    again = make_method("kernel_map", user_feature_weight=0.5).fit(data)
    np.testing.assert_array_equal(again.score(data, idx), on.score(data, idx))


@pytest.mark.parametrize("name, kwargs", [("kernel_map", {"user_feature_weight": 0.5, "smoothing": 20.0}),
                                          ("cd_ridge_features", {})])
def test_maps_never_read_cold_test_users_features_when_fitting(data, name, kwargs):
    """Every fitted array stays the same when cold_test users' features change (they still score with theirs).
    (cold_valid users' features, like their source rows, are read to choose λ on cold_valid.)"""
    f = data.user_features.copy()
    cold = data.cold_test_idx
    f[cold] = f[cold][::-1]
    f[cold[:1]] = 0.0
    other = dataclasses.replace(data, user_features=f)
    a, b = make_method(name, **kwargs).fit(data), make_method(name, **kwargs).fit(other)
    assert set(a.arrays_) == set(b.arrays_)
    for key in a.arrays_:
        np.testing.assert_array_equal(a.arrays_[key], b.arrays_[key])
    assert not np.allclose(a.score(data, cold), b.score(other, cold))


@pytest.mark.parametrize("name, kwargs, plain", [("kernel_map", {"user_feature_weight": 0.5}, "kernel_map"),
                                                 ("cd_ridge_features", {}, "cd_ridge_all")])
def test_without_user_features_a_map_fits_without_them_and_says_so(bare, name, kwargs, plain):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # custom data has none: a note in the history, not a warning every run
        m = make_method(name, **kwargs).fit(bare)
    assert m.history_["user_features"] == "off: the data has no user features"
    idx = np.arange(bare.n_users)
    np.testing.assert_array_equal(m.score(bare, idx), make_method(plain).fit(bare).score(bare, idx))


@pytest.mark.parametrize("name, kwargs", [("kernel_map", {"user_feature_weight": 0.5}), ("cd_ridge_features", {})])
def test_scoring_data_without_or_with_other_features_is_a_named_error(data, bare, name, kwargs):
    m = make_method(name, **kwargs).fit(data)
    with pytest.raises(DataValidationError, match="no .*columns in `users`"):
        m.score(bare, data.cold_test_idx)
    names = list(data.user_feature_names)
    renamed = dataclasses.replace(data, user_feature_names=tuple(names[1:] + names[:1]))  # same width, other columns
    with pytest.raises(DataValidationError, match="user-feature columns"):
        m.score(renamed, data.cold_test_idx)


def test_cd_ridge_features_appends_the_scaled_features(data):
    c, lam = 4.0, 10.0
    m = make_method("cd_ridge_features", user_feature_weight=c, l2_grid=(lam,)).fit(data)
    warm = data.warm_idx
    x = np.hstack([data.source_matrix("both").toarray(), c * data.user_features.astype(np.float64)])
    b = np.linalg.solve(x[warm].T @ x[warm] + lam * np.eye(x.shape[1]), x[warm].T @ data.X_target_train[warm].toarray())
    idx = data.cold_test_idx
    np.testing.assert_allclose(m.score(data, idx), x[idx] @ b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(m.score(data, idx), make_method("cd_ridge_all").fit(data).score(data, idx))


def test_cd_ridge_features_saves_and_loads_with_its_feature_columns(data, tmp_path):
    m = make_method("cd_ridge_features").fit(data)
    again = load_method(m.save(tmp_path / "cdf"))
    assert again.meta_["user_feature_names"] == list(data.user_feature_names)
    np.testing.assert_array_equal(again.score(data, data.cold_test_idx), m.score(data, data.cold_test_idx))


@pytest.mark.parametrize("name", ["kernel_map", "cd_ridge", "cd_ridge_features"])
def test_a_negative_user_feature_weight_is_a_config_error(name):
    with pytest.raises(ConfigError, match="user_feature_weight"):
        make_method(name, user_feature_weight=-0.1)


def test_the_pipeline_keeps_a_datasets_user_features(make_run, tmp_path, monkeypatch):
    """build_split carries the user table's features into split/users.parquet and the run's TransferData."""
    from rec_helpers import datasets, pipeline

    real = datasets.load_dataset

    def with_users(cfg):
        ds = real(cfg)
        users = sorted(ds.interactions["user"].unique())
        table = pd.DataFrame({"user": users, "gender": ["F", "M"] * (len(users) // 2) + ["F"] * (len(users) % 2),
                              "age": [str(18 + i % 40) for i in range(len(users))]})
        return dataclasses.replace(ds, users=table)

    monkeypatch.setattr(datasets, "load_dataset", with_users)
    ctx = make_run(tmp_path / "run")
    split = pipeline.ensure_split(ctx)
    assert {"gender", "age"} <= set(split.users.columns)
    assert set(split.users["age"]) <= {"18", "25", "35", "45", "50", "56"}
    on_disk = pipeline.load_split(ctx.run).users
    pd.testing.assert_frame_equal(on_disk.reset_index(drop=True), split.users.reset_index(drop=True))
    data = pipeline.transfer_data(ctx)
    assert data.user_features is not None and "gender=F" in data.user_feature_names
    km = make_method("kernel_map", user_feature_weight=0.2).fit(data)
    assert "w_feat" in km.arrays_


def test_a_missing_feature_value_is_unknown_for_that_feature_only():
    roles = pd.DataFrame({"user": ["1", "2"], "role": "warm"})
    out = attach_user_features(roles, pd.DataFrame({"user": ["1", "2"], "gender": ["F", None], "age": [25.0, None]}))
    assert out["gender"].tolist() == ["F", ""] and out["age"].tolist() == ["25", ""]
