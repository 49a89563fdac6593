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
    # the same gradients: the first layer's weight and bias, and u_s's norm, through (μ, log σ²)
    model.module_.eval()
    grads = []
    for sparse_width in (10 ** 9, 0):
        monkeypatch.setattr(training, "SPARSE_INPUT_WIDTH", sparse_width)
        model.module_.zero_grad()
        mu, logvar = model.module_.encode(*model._inputs(data, idx[:40]))
        ((mu ** 2).sum() + logvar.sum()).backward()
        grads.append({n: p.grad.clone() for n, p in model.module_.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and any(k.startswith("encoder.0") for k in grads[0])
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-5)
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


def test_sparse_linear_equals_the_dense_product_and_its_gradient(monkeypatch):
    import scipy.sparse as sp
    import torch

    from rec_helpers.transfer import training
    from rec_helpers.transfer.training import rows_tensor, sparse_linear

    rng = np.random.default_rng(0)
    x = sp.random(7, 40, density=0.2, random_state=1, format="csr", dtype=np.float32)
    x = sp.csr_matrix(sp.diags((np.arange(7) != 3).astype(np.float32)) @ x)  # row 3 empty
    x.eliminate_zeros()
    x.sort_indices()
    weight = torch.tensor(rng.normal(size=(5, 40)), dtype=torch.float32, requires_grad=True)
    coo = torch.sparse_coo_tensor(np.vstack(x.nonzero()), x.data, x.shape,
                                  check_invariants=True)  # built without rows_tensor
    out = sparse_linear(coo, weight)
    (out ** 2).sum().backward()
    got_grad, weight.grad = weight.grad.clone(), None
    dense = torch.as_tensor(x.toarray())
    ref = dense @ weight.T
    (ref ** 2).sum().backward()
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(got_grad, weight.grad)
    assert torch.equal(out[3], torch.zeros(5))
    monkeypatch.setattr(training, "SPARSE_INPUT_WIDTH", 0)
    order = np.concatenate([np.arange(lo, hi)[::-1] for lo, hi in zip(x.indptr[:-1], x.indptr[1:])])
    unsorted = sp.csr_matrix((x.data[order], x.indices[order], x.indptr), shape=x.shape)  # columns reversed
    assert not unsorted.has_sorted_indices
    # duplicates: row 0's first entry stored twice (x2 in all), so the matrix is not canonical
    dup_idx = np.insert(x.indices, 0, x.indices[0])
    dup_data = np.insert(x.data, 0, x.data[0])
    duplicated = sp.csr_matrix((dup_data, dup_idx, np.r_[0, x.indptr[1:] + 1]), shape=x.shape)
    dup_dense = dense.clone()
    dup_dense[0, x.indices[0]] *= 2
    for rows, want in ((x, dense), (unsorted, dense), (duplicated, dup_dense)):
        before = (rows.indices.copy(), rows.data.copy())
        t = rows_tensor(rows, torch.device("cpu"))
        assert t.is_coalesced()  # canonical rows: no sort before the product
        # the flag is true, not just set: the same indices and values as torch's own coalescing
        ref = want.to_sparse()
        assert torch.equal(t.indices(), ref.indices()) and torch.equal(t.values(), ref.values())
        torch.testing.assert_close(sparse_linear(t, weight.detach()), want @ weight.detach().T)
        # the caller's matrix is left as it was (sum_duplicates works in place)
        assert np.array_equal(rows.indices, before[0]) and np.array_equal(rows.data, before[1])


def test_multinomial_nll_rows_equals_the_dense_loss_and_its_gradient():
    import scipy.sparse as sp
    import torch

    from rec_helpers.transfer.training import multinomial_nll, multinomial_nll_rows

    x = sp.random(6, 30, density=0.15, random_state=3, format="csr", dtype=np.float32)
    x.data[:] = np.where(np.arange(x.nnz) % 2, 1.0, 2.0)  # weights other than 1 as well
    x = sp.csr_matrix(sp.diags((np.arange(6) != 2).astype(np.float32)) @ x)  # user 2: no positives, adds nothing
    x.eliminate_zeros()
    logits = torch.tensor(np.random.default_rng(1).normal(size=(6, 30)) * 3, dtype=torch.float32,
                          requires_grad=True)
    loss = multinomial_nll_rows(logits, x)
    loss.backward()
    grad, logits.grad = logits.grad.clone(), None
    ref = multinomial_nll(logits, torch.as_tensor(x.toarray()))
    ref.backward()
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(grad, logits.grad)


@pytest.mark.parametrize("name", ["fusion", "adapter"])
def test_two_tower_sparse_id_channel_equals_dense(name, monkeypatch):
    from rec_helpers.transfer import training

    data = make_synthetic_data(seed=6)
    model = make_method(name, epochs=2, progress=False).fit(data)
    idx = np.arange(len(data.user_ids))
    dense = model.score(data, idx)
    monkeypatch.setattr(training, "SPARSE_INPUT_WIDTH", 0)
    assert model._id_rows(data, idx[:3]).is_sparse
    model._item_cache = None
    np.testing.assert_allclose(model.score(data, idx), dense, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["vae", "fusion"])
def test_fused_adamw_above_the_size_threshold_trains_the_same_model(name, monkeypatch):
    import torch

    from rec_helpers.transfer import training

    data = make_synthetic_data(seed=6)
    flags = []
    original = torch.optim.AdamW

    def spy(params, **kw):
        flags.append(kw.get("fused"))
        return original(params, **kw)

    monkeypatch.setattr(torch.optim, "AdamW", spy)
    loop = make_method(name, epochs=3, progress=False).fit(data)  # synthetic models: far below the threshold
    monkeypatch.setattr(training, "FUSED_ADAMW_MIN_PARAMS", 1)
    fused = make_method(name, epochs=3, progress=False).fit(data)
    assert flags == [None, True]
    # the same updates up to rounding: the loss curves agree to 1e-4 and so do the cold_valid curves
    np.testing.assert_allclose(fused.history_["loss"], loop.history_["loss"], rtol=1e-4)
    np.testing.assert_allclose(fused.history_["valid_ndcg@10"], loop.history_["valid_ndcg@10"], atol=0.01)
    # one step from the same state and gradient: the same parameters to float32 rounding
    torch.manual_seed(0)
    a = torch.nn.Linear(50, 30)
    b = torch.nn.Linear(50, 30)
    b.load_state_dict(a.state_dict())
    opts = [original(m.parameters(), lr=1e-3, weight_decay=1e-4, fused=f) for m, f in ((a, None), (b, True))]
    for _ in range(5):
        grads = [torch.randn_like(p) for p in a.parameters()]
        for m, opt in zip((a, b), opts):
            for p, g in zip(m.parameters(), grads):
                p.grad = g.clone()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_standardise_scores_is_the_plain_formula_bit_for_bit():
    from rec_helpers.transfer.score_fusion import standardise_scores

    rng = np.random.default_rng(2)
    s = rng.normal(size=(9, 50)).astype(np.float32) * 4 + 1
    s[4] = 2.5  # a constant row
    before = s.copy()
    s64 = s.astype(np.float64)
    centred = s64 - s64.mean(axis=1, keepdims=True)
    sd = centred.std(axis=1, keepdims=True)
    expected = np.divide(centred, sd, out=np.zeros_like(centred), where=sd > 0)
    got = standardise_scores(s)
    np.testing.assert_array_equal(got, expected)
    assert not got[4].any() and np.array_equal(s, before)  # the input is not modified
    # a row holding a NaN or an inf becomes 0, as the plain formula makes it; the others are unchanged
    s[6, 3], s[7, 0] = np.nan, np.inf
    got = standardise_scores(s)
    assert not got[6].any() and not got[7].any() and np.isfinite(got).all()
    np.testing.assert_array_equal(np.delete(got, [6, 7], axis=0), np.delete(expected, [6, 7], axis=0))


def test_nystrom_kernel_map_scores_in_float32_close_to_float64():
    data = make_synthetic_data(seed=4)
    m = make_method("kernel_map", landmarks=len(data.warm_idx) // 3).fit(data)
    idx = np.arange(len(data.user_ids))
    exact64 = m._kernel(data, idx) @ m.arrays_["A"].astype(np.float64)
    got = m.score(data, idx)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, exact64, rtol=1e-5, atol=1e-6)
    # the float32 product ran, not the float64 one rounded at the end
    k = m._kernel(data, idx)
    np.testing.assert_array_equal(got, k.astype(np.float32) @ m.arrays_["A"])
    assert not np.array_equal(got, exact64.astype(np.float32))
    # the exact map keeps its float64 product
    exact = make_method("kernel_map").fit(data)
    assert exact.meta_["landmarks"] is None
    np.testing.assert_array_equal(
        exact.score(data, idx), (exact._kernel(data, idx) @ exact.arrays_["A"].astype(np.float64)).astype(np.float32))


def test_score_fusion_alpha_scan_leaves_its_cached_scores_untouched():
    data = make_synthetic_data(seed=5)
    comps = {name: make_method(name).fit(data) for name in ("cd_ridge", "emcdr")}
    fused = make_method("score_fusion", components=["cd_ridge", "emcdr"]).fit(data, fitted=comps)
    idx = data.cold_valid_idx
    fresh = {}
    for a in (0.2, 0.7):
        fused.meta_["alpha"] = a
        fresh[a] = fused.score(data, idx)
    fused._scan_cache = {}  # as during fit: the pair is cached at the first α and reused at the next
    try:
        for a in (0.2, 0.7, 0.2):
            fused.meta_["alpha"] = a
            np.testing.assert_array_equal(fused.score(data, idx), fresh[a])
    finally:
        fused._scan_cache = None


def test_make_adamw_falls_back_where_this_torch_has_no_fused_kernel(monkeypatch):
    import torch

    from rec_helpers.transfer.training import make_adamw

    module = torch.nn.Linear(4, 3)
    assert make_adamw(module, lr=1e-3, weight_decay=0.0, fused=True).defaults["fused"] is True
    assert not make_adamw(module, lr=1e-3, weight_decay=0.0, fused=False).defaults["fused"]
    original = torch.optim.AdamW

    def old_torch(params, **kw):  # torch < 2.4 on CPU
        if kw.get("fused"):
            raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of "
                               "supported devices: ['cuda']")
        return original(params, **kw)

    monkeypatch.setattr(torch.optim, "AdamW", old_torch)
    opt = make_adamw(module, lr=1e-3, weight_decay=0.0, fused=True)
    assert not opt.defaults["fused"] and opt.defaults["lr"] == 1e-3


def _page_aligned_after_import(env: dict) -> str:
    import subprocess
    import sys

    code = ("import os, rec_helpers, torch; t = torch.empty(4 << 20, dtype=torch.uint8); "
            "print(os.environ['THP_MEM_ALLOC_ENABLE'], t.data_ptr() % 4096 == 0)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_importing_rec_helpers_first_puts_large_tensors_on_huge_pages():
    """rec_helpers sets THP_MEM_ALLOC_ENABLE before torch starts: a 4 MB tensor then takes torch's
    huge-page path (page-aligned, then madvised); a user's own setting (0) wins and leaves the ordinary
    64-byte alignment (glibc's mmap header makes such a pointer 64 mod 4096)."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    assert _page_aligned_after_import(env) == "1 True"
    assert _page_aligned_after_import({**env, "THP_MEM_ALLOC_ENABLE": "0"}) == "0 False"


@pytest.mark.parametrize("nystrom", [False, True])
def test_kernel_map_scan_equals_a_fit_at_each_l2(nystrom):
    """The λ scan scores cold_valid without forming A(λ): each point of its curve equals the cold_valid NDCG@10
    of a model fitted at that λ alone, and the chosen λ's model is the one kept (exact and Nyström paths)."""
    data = make_synthetic_data(seed=4)
    grid = (0.3, 1.0, 3.0, 10.0)

    def fit(l2_grid):
        m = make_method("kernel_map", l2_grid=l2_grid, landmarks=len(data.warm_idx) // 2 if nystrom else 3000)
        return m.fit(data)

    scan = fit(grid)
    assert (scan.meta_["landmarks"] is not None) == nystrom
    for l2 in grid:
        assert scan.history_["valid_curve"][str(l2)] == pytest.approx(valid_ndcg(fit((l2,)), data), abs=1e-6)
    assert scan.history_["best_valid_ndcg@10"] == max(scan.history_["valid_curve"].values())
    assert scan.history_["best_valid_ndcg@10"] == pytest.approx(valid_ndcg(scan, data), abs=1e-6)
    np.testing.assert_array_equal(scan.arrays_["A"], fit((scan.meta_["l2"],)).arrays_["A"])
