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


def test_vae_sparse_input_path_equals_dense(monkeypatch):
    import torch

    from rec_helpers.transfer import training

    data = make_synthetic_data(seed=6)
    model = make_method("vae", epochs=2, progress=False, source_input="both").fit(data)
    idx = np.arange(len(data.user_ids))
    dense = model.score(data, idx)
    monkeypatch.setattr(training, "SPARSE_INPUT_WIDTH", 0)
    assert model._inputs(data, idx[:3])[0].is_sparse
    np.testing.assert_allclose(model.score(data, idx), dense, rtol=1e-4, atol=1e-4)
    model.module_.train()  # dropout on the non-zeros: training-mode forward runs and differs by draw
    with torch.no_grad():
        mu, _ = model.module_.encode(*model._inputs(data, idx[:5]))
    assert mu.shape == (5, model.latent_dim) and torch.isfinite(mu).all()


@pytest.mark.parametrize("name", ["fusion", "adapter", "vae"])
def test_sampled_softmax_trains_on_a_subset(name):
    from rec_helpers.transfer.training import softmax_sample

    data = make_synthetic_data(seed=6)
    x = data.X_target_train[data.warm_idx[:16]]
    subset = softmax_sample(x, data.n_target, 5)
    assert set(np.unique(x.indices)) <= set(subset) and len(subset) < data.n_target
    assert softmax_sample(x, data.n_target, None) is None and softmax_sample(x, data.n_target, data.n_target) is None
    full = make_method(name, epochs=3, progress=False).fit(data)
    sampled = make_method(name, epochs=3, progress=False, softmax_items=8).fit(data)
    assert sampled.history_["loss"] != full.history_["loss"]  # a different objective was optimised
    assert sampled.history_["best_valid_ndcg@10"] > valid_ndcg(make_method("zero_shot").fit(data), data) - 0.05


def test_top_k_equals_a_stable_full_sort():
    """top_k (torch.topk k+1 fast path, exact candidate sort where the k-th value is tied) == a stable
    argsort of −scores: ties (the tied path), distinct normal scores (the fast path), −inf, float32."""
    rng = np.random.default_rng(0)
    for trial in range(200):
        n_rows, n = int(rng.integers(1, 30)), int(rng.integers(1, 300))
        s = rng.integers(0, 4 if trial % 4 == 0 else 1000, (n_rows, n)).astype(np.float64)
        if trial % 4 == 2:
            s[rng.random(s.shape) < 0.5] = -np.inf
        if trial % 4 == 3:
            s = rng.normal(size=(n_rows, n)).astype(np.float32)
        k = int(rng.integers(1, n + 3))
        expected = np.argsort(-s, axis=1, kind="stable")[:, :min(k, n)]
        np.testing.assert_array_equal(ranking.top_k(s, k), expected)


def test_valid_ndcg_scores_a_fixed_sample_of_large_cold_valid_sets(monkeypatch):
    from rec_helpers.transfer import base

    data = make_synthetic_data(seed=5)
    model = make_method("pop").fit(data)
    assert np.array_equal(base.valid_users(data), data.cold_valid_idx)  # small: every user
    monkeypatch.setattr(base, "VALID_MAX_USERS", len(data.cold_valid_idx) - 2)
    sample = base.valid_users(data)
    assert len(sample) == len(data.cold_valid_idx) - 2 and set(sample) <= set(data.cold_valid_idx)
    assert np.array_equal(sample, base.valid_users(data))  # the same users in every call
    assert valid_ndcg(model, data) == valid_ndcg(model, data)


def test_fusion_alpha_scanned_once_at_the_end():
    data = make_synthetic_data(seed=5)
    end = make_method("fusion", epochs=3, progress=False, alpha_scan="end").fit(data)
    curve = end.history_["alpha_curve"]
    assert len(curve) == len(end.alpha_grid) and len(end.history_["valid_ndcg@10"]) == 3
    assert end.alpha_ == float(max(curve, key=curve.get))
    with pytest.raises(Exception, match="alpha_scan"):
        make_method("fusion", alpha_scan="sometimes")


def test_score_fusion_scores_its_components_once_for_the_whole_alpha_scan():
    data = make_synthetic_data(seed=5)
    comps = {name: make_method(name).fit(data) for name in ("cd_ridge", "emcdr")}
    calls = []
    for model in comps.values():
        original = model.score
        model.score = lambda d, idx, original=original, name=model.name: calls.append(name) or original(d, idx)
    fused = make_method("score_fusion", components=["cd_ridge", "emcdr"]).fit(data, fitted=comps)
    n_chunks = len(list(ranking.user_chunks(data.cold_valid_idx)))
    # one scan over 11 α values + one component_valid_ndcg each: 2 calls per component, not 12
    assert calls.count("cd_ridge") == n_chunks + 1 and calls.count("emcdr") == n_chunks + 1
    assert len(fused.history_["alpha_curve"]) == len(fused.alpha_grid) > 2
    assert fused._scan_cache is None  # nothing is kept after fit
