"""Issue 13: bounded-memory scoring and the scalable solvers give the same answers as the exact paths."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rec_helpers.transfer import make_method, make_synthetic_data, ranking, valid_ndcg


@pytest.mark.parametrize("method", ["pop", "cd_ridge", "emcdr"])
def test_chunked_scoring_equals_one_block(method, monkeypatch):
    data = make_synthetic_data(seed=5)
    model = make_method(method).fit(data)
    users = list(data.user_ids[data.cold_valid_idx]) + list(data.user_ids[data.warm_idx[:7]])
    monkeypatch.setattr(ranking, "SCORE_CHUNK", 10 ** 9)
    whole, whole_ndcg = model.recommend(data, users, k=15), valid_ndcg(model, data)
    monkeypatch.setattr(ranking, "SCORE_CHUNK", 3)  # many chunks, the last one short
    assert len(list(ranking.user_chunks(np.arange(len(users))))) > 3
    pd.testing.assert_frame_equal(model.recommend(data, users, k=15), whole)
    assert valid_ndcg(model, data) == whole_ndcg


@pytest.mark.parametrize("name", ["cd_ridge", "cd_ridge_all"])
def test_low_rank_ridge_at_full_rank_equals_exact(name, tmp_path):
    from rec_helpers.transfer.registry import load_method

    data = make_synthetic_data(seed=2)
    exact = make_method(name, solver="exact").fit(data)
    full = make_method(name, solver="low_rank", rank=10 ** 6).fit(data)  # rank capped at min(shape)
    assert (exact.meta_["solver"], full.meta_["solver"]) == ("exact", "low_rank")
    assert "B" not in full.arrays_ and set(full.arrays_) == {"V", "Q"}
    idx = np.arange(len(data.user_ids))
    np.testing.assert_allclose(full.score(data, idx), exact.score(data, idx), rtol=1e-4, atol=1e-5)
    assert full.meta_["l2"] == exact.meta_["l2"]
    again = load_method(full.save(tmp_path / name))
    np.testing.assert_array_equal(again.score(data, idx), full.score(data, idx))


def test_ridge_solver_auto_switches_on_size(monkeypatch):
    from rec_helpers.transfer import baselines

    data = make_synthetic_data(seed=2)
    model = make_method("cd_ridge")
    assert model.chosen_solver(data.n_source, data.n_target) == "exact"
    monkeypatch.setattr(baselines, "EXACT_MAX_SOURCE_COLUMNS", data.n_source - 1)
    assert model.chosen_solver(data.n_source, data.n_target) == "low_rank"
    low = make_method("cd_ridge", rank=4).fit(data)
    assert low.meta_["solver"] == "low_rank" and low.arrays_["V"].shape == (data.n_source, 4)
    monkeypatch.setattr(baselines, "EXACT_MAX_SOURCE_COLUMNS", 10 ** 9)
    monkeypatch.setattr(baselines, "EXACT_MAX_MAP_CELLS", data.n_source * data.n_target - 1)
    assert model.chosen_solver(data.n_source, data.n_target) == "low_rank"


def test_nystrom_kernel_map_with_every_warm_user_equals_exact():
    data = make_synthetic_data(seed=4)
    exact = make_method("kernel_map").fit(data)
    assert exact.meta_["landmarks"] is None
    full = make_method("kernel_map", landmarks=10 ** 6)
    full._force_nystrom = True
    full.fit(data)
    assert full.meta_["landmarks"] == len(data.warm_idx) and full.meta_["l2"] == exact.meta_["l2"]
    idx = np.arange(len(data.user_ids))
    np.testing.assert_allclose(full.score(data, idx), exact.score(data, idx), rtol=1e-3, atol=1e-4)


def test_nystrom_kernel_map_switches_on_beyond_landmarks(tmp_path):
    from rec_helpers.transfer.registry import load_method

    data = make_synthetic_data(seed=4)
    m = make_method("kernel_map", landmarks=len(data.warm_idx) // 3).fit(data)
    assert m.meta_["landmarks"] == len(data.warm_idx) // 3
    assert m.arrays_["A"].shape == (len(data.warm_idx) // 3, data.n_target)
    assert m.history_["best_valid_ndcg@10"] > valid_ndcg(make_method("pop").fit(data), data)
    again = load_method(m.save(tmp_path / "km"))
    idx = np.arange(len(data.user_ids))
    np.testing.assert_array_equal(again.score(data, idx), m.score(data, idx))
