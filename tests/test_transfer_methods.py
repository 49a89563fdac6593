"""Every transfer method and baseline: shapes, ranking, determinism, persistence, isolation."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from rec_helpers.transfer import (
    METHODS, TRANSFER_METHODS, TransferData, load_method, make_method,
    make_synthetic_data,
)

FAST = {"fusion": dict(epochs=6, patience=3, progress=False),
        "adapter": dict(epochs=6, patience=3, progress=False),
        "vae": dict(epochs=6, patience=3, hidden=32, latent_dim=8, progress=False)}
FAST["score_fusion"] = dict(component_params={"vae": {k: v for k, v in FAST["vae"].items() if k != "progress"}},
                            progress=False)


def build(name: str, **extra):
    return make_method(name, **{**FAST.get(name, {}), **extra})


@pytest.fixture(scope="module")
def data() -> TransferData:
    return make_synthetic_data()


@pytest.fixture(scope="module")
def fitted(data):
    return {name: build(name).fit(data) for name in METHODS}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_fit_score_shapes_and_history(name, data, fitted):
    model = fitted[name]
    idx = np.arange(data.n_users)
    scores = model.score(data, idx)
    assert scores.shape == (data.n_users, data.n_target)
    assert np.isfinite(scores).all()
    json.dumps(model.history_)  # serialisable as is
    assert model.get_params() == make_method(name, **model.get_params()).get_params()


@pytest.mark.parametrize("name", sorted(METHODS))
def test_recommend_excludes_seen_and_ranks(name, data, fitted):
    users = list(data.user_ids[data.warm_idx[:5]]) + list(data.user_ids[data.cold_test_idx[:3]])
    recs = fitted[name].recommend(data, users, k=7)
    assert list(recs.columns) == ["user", "item", "rank", "score"]
    for user, grp in recs.groupby("user", sort=False):
        assert grp["rank"].tolist() == list(range(1, 8))
        assert grp["score"].is_monotonic_decreasing
        row = data.user_index[user]
        seen = set(data.target_item_ids[data.target_seen[row].indices])
        assert not seen & set(grp["item"])


def test_pop_ties_broken_by_item_index(data, fitted):
    recs = fitted["pop"].recommend(data, [data.user_ids[data.cold_test_idx[0]]], k=data.n_target)
    pos = recs["item"].map(data.target_item_index).to_numpy()
    scores = recs["score"].to_numpy()
    same = scores[1:] == scores[:-1]
    assert same.any() and np.all(pos[1:][same] > pos[:-1][same])


@pytest.mark.parametrize("name", sorted(METHODS))
def test_determinism(name, data, fitted):
    again = build(name).fit(data)
    idx = np.arange(data.n_users)
    np.testing.assert_array_equal(fitted[name].score(data, idx), again.score(data, idx))


@pytest.mark.parametrize("name", sorted(METHODS))
def test_save_load_round_trip(name, data, fitted, tmp_path):
    path = fitted[name].save(tmp_path / name)
    assert not list(path.glob("*.pkl")) and not list(path.glob("*.pt"))
    loaded = load_method(path)
    assert type(loaded) is type(fitted[name])
    idx = np.arange(data.n_users)
    np.testing.assert_array_equal(fitted[name].score(data, idx), loaded.score(data, idx))
    assert loaded.get_params() == fitted[name].get_params()


def _with_valid(data: TransferData, frame: pd.DataFrame) -> TransferData:
    """Same data with another cold_valid target frame (everything else untouched)."""
    import scipy.sparse as sp
    rows = frame["user"].map(data.user_index).to_numpy()
    cols = frame["item"].map(data.target_item_index).to_numpy()
    x = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                      shape=data.X_target_valid.shape)
    x.data[:] = 1.0
    return dataclasses.replace(data, X_target_valid=x)


@pytest.mark.parametrize("name", ["fusion", "adapter", "vae"])
def test_cold_valid_only_selects(name, data):
    """Cold users' target data reaches a fit only through selection on cold_valid.

    Replacing the cold_valid positives by random ones can change which epoch/α is chosen,
    but the training trajectory (loss curve) itself must not change.
    """
    rng = np.random.default_rng(1)
    users = data.user_ids[data.cold_valid_idx]
    fake = pd.DataFrame({"user": np.repeat(users, 5),
                         "item": rng.choice(data.target_item_ids, size=5 * len(users))})
    other = _with_valid(data, fake.drop_duplicates())
    a = build(name, patience=100).fit(data).history_
    b = build(name, patience=100).fit(other).history_
    assert a["loss"] == b["loss"]
    assert a["valid_ndcg@10"] != b["valid_ndcg@10"]


@pytest.mark.parametrize("name", ["pop", "zero_shot"])
def test_untuned_baselines_ignore_cold_valid(name, data):
    other = _with_valid(data, pd.DataFrame({"user": data.user_ids[data.cold_valid_idx[:1]],
                                            "item": data.target_item_ids[:1]}))
    idx = data.cold_test_idx
    np.testing.assert_array_equal(make_method(name).fit(data).score(data, idx),
                                  make_method(name).fit(other).score(data, idx))


@pytest.mark.parametrize("name, l2", [("cd_ridge", 10.0), ("kernel_map", 3.0)])
def test_closed_form_with_single_lambda_ignores_cold_valid(name, l2, data):
    other = _with_valid(data, pd.DataFrame({"user": data.user_ids[data.cold_valid_idx[:1]],
                                            "item": data.target_item_ids[:1]}))
    idx = data.cold_test_idx
    a = make_method(name, l2_grid=[l2]).fit(data).score(data, idx)
    b = make_method(name, l2_grid=[l2]).fit(other).score(data, idx)
    np.testing.assert_array_equal(a, b)


def test_fusion_modes_and_alpha_curve(data, fitted):
    tuned = fitted["fusion"]
    curve = tuned.history_["alpha_curve"]
    assert len(curve) == 11 and tuned.alpha_ in [float(a) for a in curve]
    assert np.all(tuned.alpha_values(data, data.cold_test_idx) == tuned.alpha_)
    fixed = build("fusion", mode="fixed", alpha=0.3).fit(data)
    assert fixed.alpha_ == pytest.approx(0.3) and "alpha_curve" not in fixed.history_
    learned = build("fusion", mode="learned", fill="mapped").fit(data)
    alphas = learned.alpha_values(data, np.arange(data.n_users))
    assert alphas.shape == (data.n_users,) and np.all((alphas > 0) & (alphas < 1))
    assert learned.alpha_ is None and 0 < learned.history_["alpha_mean_cold_valid"] < 1


@pytest.mark.parametrize("gate, shape", [("scalar", (1,)), ("vector", (16,)), ("user", None)])
def test_adapter_gates(gate, shape, data):
    model = build("adapter", gate=gate, bottleneck=4).fit(data)
    theta = model.theta_
    assert (theta is None) if shape is None else theta.shape == shape
    values = model.gate_values(data, data.cold_test_idx)
    assert values.shape == (len(data.cold_test_idx), 16 if gate == "vector" else 1)
    assert np.all((values > 0) & (values < 1))
    assert model.interest_vectors(data, data.cold_test_idx).shape == (len(data.cold_test_idx), 16)


def test_vae_options_and_latent(data, fitted):
    assert fitted["vae"].latent(data, data.cold_test_idx).shape == (len(data.cold_test_idx), 8)
    text = build("vae", text_decoder=True, use_interest=False).fit(data)
    assert text.score(data, data.cold_test_idx).shape == (len(data.cold_test_idx), data.n_target)
    assert build("vae").beta(0) == 0.0 and build("vae", anneal_steps=10).beta(100) == 0.2


@pytest.mark.parametrize("name, params", [
    ("adapter", {"loss": "bce", "n_negatives": 10}),
    ("fusion", {"mode": "learned", "warm_input_rate": 0.5}),
    ("vae", {"source_input": "both"}),
    ("vae", {"source_input": "all", "use_interest": False}),
])
def test_options_fit(name, params, data):
    model = build(name, **params).fit(data)
    assert np.isfinite(model.score(data, np.arange(data.n_users))).all()


def test_score_on_other_catalogue_raises(data, fitted):
    from rec_helpers.errors import DataValidationError
    other = make_synthetic_data(n_target=30)
    with pytest.raises(DataValidationError, match="target items"):
        fitted["vae"].score(other, np.arange(3))


@pytest.mark.slow  # trains every method to convergence
def test_learned_methods_beat_pop_on_cold_users():
    """Target taste is a noisy map of source taste, so transfer must beat popularity."""
    import scipy.sparse as sp
    from rec_helpers.transfer import mask_seen, ndcg_at_k

    data, test = make_synthetic_data(n_users=400, n_source=60, n_target=80, seed=0,
                                     return_test=True)
    rows = test["user"].map(data.user_index).to_numpy()
    cols = test["item"].map(data.target_item_index).to_numpy()
    rel = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=data.X_target_valid.shape)
    idx = data.cold_test_idx

    def cold_ndcg(name: str, **params) -> float:
        model = make_method(name, **params).fit(data)
        return ndcg_at_k(mask_seen(model.score(data, idx), data.target_seen[idx]), rel[idx], 10)

    pop = cold_ndcg("pop")
    assert cold_ndcg("zero_shot") < pop  # the synthetic map rotates taste: no free lunch
    for name in ("cd_ridge", "cd_ridge_all", "kernel_map", "emcdr", "fusion", "adapter", "vae"):
        params = {"progress": False, "epochs": 30} if name in TRANSFER_METHODS else {}
        assert cold_ndcg(name, **params) > pop + 0.05, name


# --- richer inputs, the kernel map and score-level fusion (issue: beat the linear baseline) ---
def test_source_inputs(data):
    pos, every = data.source_matrix("positives"), data.source_matrix("all")
    both = data.source_matrix("both", data.warm_idx)
    assert both.shape == (len(data.warm_idx), 2 * data.n_source)
    np.testing.assert_array_equal(both[:, :data.n_source].toarray(), pos[data.warm_idx].toarray())
    np.testing.assert_array_equal(both[:, data.n_source:].toarray(), every[data.warm_idx].toarray())
    assert every.nnz > pos.nnz  # low ratings are "rated at all" but not positives


def test_cd_ridge_all_is_cd_ridge_on_both_inputs(data, fitted):
    ref = make_method("cd_ridge", source_input="both", l2_grid=(1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0,
                                                                 3000.0)).fit(data)
    idx = np.arange(data.n_users)
    np.testing.assert_array_equal(fitted["cd_ridge_all"].score(data, idx), ref.score(data, idx))
    assert not np.array_equal(fitted["cd_ridge_all"].score(data, idx), fitted["cd_ridge"].score(data, idx))


def test_kernel_map_is_kernel_ridge(data):
    """score = k(u, W) (K_WW + λI)⁻¹ Y_W, written out densely."""
    model = make_method("kernel_map", l2_grid=[2.0], power=3, target_all_weight=0.5).fit(data)
    x = data.source_matrix("both").toarray().astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    w = data.warm_idx
    k = (x @ x[w].T) ** 3
    y = data.X_target_train[w].toarray() + 0.5 * data.target_seen[w].toarray()
    expected = k @ np.linalg.solve(k[w] + 2.0 * np.eye(len(w)), y)
    np.testing.assert_allclose(model.score(data, np.arange(data.n_users)), expected, rtol=1e-4, atol=1e-5)


def test_score_fusion_mixes_standardised_scores(data, fitted):
    from rec_helpers.transfer.score_fusion import standardise_scores
    model = fitted["score_fusion"]
    curve = model.history_["alpha_curve"]
    assert len(curve) == 11 and model.alpha_ in [float(a) for a in curve]
    assert curve[str(max(curve, key=lambda a: curve[a] or -1))] == model.history_["best_valid_ndcg@10"]
    vae, km = model.models_
    idx = data.cold_test_idx
    a = model.alpha_
    expected = a * standardise_scores(vae.score(data, idx)) + (1 - a) * standardise_scores(km.score(data, idx))
    np.testing.assert_allclose(model.score(data, idx), expected, rtol=1e-5, atol=1e-5)


def test_score_fusion_reuses_fitted_components(data, fitted):
    model = build("score_fusion").fit(data, fitted={"vae": fitted["vae"], "kernel_map": fitted["kernel_map"]})
    assert model.models_[0] is fitted["vae"] and model.models_[1] is fitted["kernel_map"]
    with pytest.raises(Exception, match="is a 'cd_ridge' model"):
        build("score_fusion").fit(data, fitted={"vae": fitted["cd_ridge"]})


def test_score_fusion_cold_valid_only_chooses_alpha(data):
    """Other cold_valid positives may change α, never the components' fits."""
    rng = np.random.default_rng(3)
    users = data.user_ids[data.cold_valid_idx]
    fake = pd.DataFrame({"user": np.repeat(users, 5), "item": rng.choice(data.target_item_ids, 5 * len(users))})
    other = _with_valid(data, fake.drop_duplicates())
    kw = dict(components=["cd_ridge", "kernel_map"], component_params={"cd_ridge": {"l2_grid": [10.0]},
                                                                       "kernel_map": {"l2_grid": [3.0]}})
    a, b = build("score_fusion", **kw).fit(data), build("score_fusion", **kw).fit(other)
    idx = data.cold_test_idx
    for ma, mb in zip(a.models_, b.models_):
        np.testing.assert_array_equal(ma.score(data, idx), mb.score(data, idx))
    assert a.history_["alpha_curve"] != b.history_["alpha_curve"]


def test_reads_text_flags(fitted):
    reads = {name for name, m in fitted.items() if m.reads_text}
    assert reads == {"zero_shot", "fusion", "adapter", "vae", "score_fusion"}
    assert not build("vae", use_interest=False).reads_text
    assert not make_method("score_fusion", components=["cd_ridge", "kernel_map"]).reads_text


# --- whitening and the ID channel of the two-tower methods (issue: make BERT earn its place) ---
def test_standardize_whitening_is_zca():
    """whiten=ε: (x − m) W has covariance ≈ I·const along every direction (ε small), W symmetric;
    whiten=None keeps the old map, one global scale."""
    import torch
    from rec_helpers.transfer.layers import Standardize

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 8)) @ np.diag([5.0, 3, 1, 1, 0.5, 0.2, 0.1, 0.05]) + 2.0
    white = Standardize(8, whiten=0.0).fit(x)
    z = white(torch.as_tensor(x, dtype=torch.float32)).numpy().astype(np.float64)
    cov = np.cov(z.T, bias=True)
    np.testing.assert_allclose(cov, np.eye(8) * cov.trace() / 8, atol=1e-4)
    np.testing.assert_allclose((z ** 2).sum(1).mean(), 1.0, rtol=1e-4)  # unit RMS norm
    w = white.matrix()
    np.testing.assert_allclose(w, w.T, atol=1e-6)                       # ZCA, not PCA
    np.testing.assert_allclose(z, (x - x.mean(0)) @ w, rtol=1e-4, atol=1e-5)
    plain = Standardize(8).fit(x)
    np.testing.assert_allclose(plain.matrix(), np.eye(8) / float(plain.scale), rtol=1e-6)
    shrunk = Standardize(8, whiten=1.0).fit(x)
    zs = shrunk(torch.as_tensor(x, dtype=torch.float32)).numpy()
    ev = np.linalg.eigvalsh(np.cov(zs.T))
    assert ev.max() / ev.min() > 2  # shrinkage keeps part of the original spread


def test_id_channel_learns_and_can_be_switched_off(data):
    """id_input: a (out_dim × width) weight, zero at the start, trained; None: no such weight.
    The ID term enters every score: zeroing it changes the scores."""
    import torch
    on = build("fusion", seed=3).fit(data)
    off = build("fusion", seed=3, id_input=None).fit(data)
    width = data.source_matrix("both", data.warm_idx[:1]).shape[1]
    assert on.module_.id_weight.shape == (on.out_dim, width)
    assert float(on.module_.id_weight.detach().abs().sum()) > 0           # it learned something
    assert off.module_.id_weight is None and off.meta_["id_width"] == 0
    idx = data.cold_test_idx
    before = on.score(data, idx)
    with torch.no_grad():
        keep = on.module_.id_weight.clone()
        on.module_.id_weight.zero_()
    try:
        assert not np.allclose(before, on.score(data, idx))
    finally:
        with torch.no_grad():
            on.module_.id_weight.copy_(keep)
    np.testing.assert_array_equal(before, on.score(data, idx))
    positives = build("adapter", seed=3, id_input="positives").fit(data)
    assert positives.module_.id_weight.shape[1] == data.n_source


def test_item_embeddings_start_random_by_seed(data):
    """item_init: the free item embeddings start at N(0, item_init²), drawn from the fit's seeded
    generator (the same seed, the same start and the same fit); item_init 0 starts them at zero."""
    import torch
    from rec_helpers.transfer.training import seeded

    def start(seed: int, std: float) -> np.ndarray:
        m = build("adapter", seed=seed, item_init=std)
        with seeded(seed):
            m._prepare(data)
            return m._build().scorer.item_emb.detach().numpy()

    emb = start(1, 0.3)
    assert emb.shape == (data.n_target, build("adapter").out_dim)
    assert abs(float(emb.std()) - 0.3) < 0.05 and abs(float(emb.mean())) < 0.05
    np.testing.assert_array_equal(emb, start(1, 0.3))
    assert not np.array_equal(emb, start(2, 0.3))
    assert not start(1, 0.0).any()
    a, b = build("fusion", seed=6, item_init=0.2).fit(data), build("fusion", seed=6, item_init=0.2).fit(data)
    np.testing.assert_array_equal(a.score(data, data.cold_test_idx), b.score(data, data.cold_test_idx))
    zero = build("fusion", seed=6, item_init=0.0).fit(data)
    assert not np.array_equal(a.score(data, data.cold_test_idx), zero.score(data, data.cold_test_idx))
    assert isinstance(a.module_.scorer.item_emb, torch.nn.Parameter)


def test_item_side_without_text(data, tmp_path):
    """item_text=False: the item factors are the free item embeddings alone (no item tower), so the item
    vectors no longer move any score while the users' interest vectors still do; deterministic by seed;
    the method cannot score new items; item_text=True keeps the item tower."""
    from rec_helpers.errors import ConfigError

    m = build("adapter", seed=3, item_text=False).fit(data)
    assert m.module_.scorer.item_tower is None and build("adapter", seed=3).fit(data).module_.scorer.item_tower is not None
    idx = data.cold_test_idx
    scores = m.score(data, idx)
    assert scores.shape == (len(idx), data.n_target) and np.isfinite(scores).all()
    np.testing.assert_array_equal(scores, build("adapter", seed=3, item_text=False).fit(data).score(data, idx))
    other_items = dataclasses.replace(data, E_target=np.random.default_rng(0).normal(size=data.E_target.shape))
    np.testing.assert_array_equal(scores, m.score(other_items, idx))
    other_users = dataclasses.replace(data, U_s=np.random.default_rng(1).normal(size=data.U_s.shape))
    assert not np.allclose(scores, m.score(other_users, idx))
    assert m.reads_text and not m.can_score_items
    with pytest.raises(ConfigError, match="item_text=True"):
        m.score_items(data, idx[:3], data.E_target[:2])
    reloaded = load_method(m.save(tmp_path / "adapter"))
    assert reloaded.module_.scorer.item_tower is None
    np.testing.assert_array_equal(scores, reloaded.score(data, idx))


def test_id_channel_reads_only_the_source_side(data):
    """Cold users' scores depend on their source rows, never on their hidden target rows."""
    import scipy.sparse as sp
    model = build("fusion", seed=4).fit(data)
    idx = data.cold_test_idx
    x = model._id_rows(data, idx)
    dense = x.to_dense().numpy() if x.is_sparse else x.numpy()
    src = data.source_matrix("both", idx).toarray()
    expected = src / np.maximum(np.linalg.norm(src, axis=1, keepdims=True), 1e-12)
    np.testing.assert_allclose(dense, expected, rtol=1e-6, atol=1e-7)
    assert sp.issparse(data.source_matrix("both", idx))


def test_new_item_scores_include_the_id_channel(data):
    """score_items on the catalogue's own vectors = score without the free item embeddings."""
    import torch
    model = build("fusion", seed=5).fit(data)
    idx = data.cold_test_idx
    emb = model.module_.scorer.item_emb
    with torch.no_grad():
        keep = emb.clone()
        emb.zero_()
        bias = model.module_.scorer.item_bias
        keep_b = bias.clone()
        bias.fill_(float(bias.mean()))
    try:
        model._item_cache = None
        full = model.score(data, idx)
    finally:
        with torch.no_grad():
            emb.copy_(keep)
            bias.copy_(keep_b)
    new = model.score_items(data, idx, data.E_target)
    np.testing.assert_allclose(new, full, rtol=1e-4, atol=1e-4)


def test_vae_dropout_on_non_zeros_is_inverted_dropout():
    """dropout_nonzeros: zeros stay zero, kept entries are scaled by 1/(1−p), about 1−p of the
    non-zeros survive, seeded draws repeat, eval mode and p = 0 are the identity, p = 1 drops all."""
    import torch

    from rec_helpers.transfer.vae import dropout_nonzeros

    g = torch.Generator().manual_seed(0)
    x = (torch.rand(200, 300, generator=g) < 0.05).float() * torch.rand(200, 300, generator=g)
    torch.manual_seed(3)
    out = dropout_nonzeros(x, 0.5)
    torch.manual_seed(3)
    assert torch.equal(out, dropout_nonzeros(x, 0.5))
    nz = x != 0
    assert torch.all(out[~nz] == 0)
    kept = out[nz] != 0
    assert torch.allclose(out[nz][kept], 2.0 * x[nz][kept])
    assert abs(kept.float().mean().item() - 0.5) < 0.05
    assert dropout_nonzeros(x, 0.5, training=False) is x and dropout_nonzeros(x, 0.0) is x
    assert torch.all(dropout_nonzeros(x, 1.0) == 0)


def test_cached_user_parts_give_the_uncached_scores(data, fitted):
    """Scores inside _cached_items (g(E) and each user's inputs kept for fusion's α scan) equal the
    plain forward pass bit for bit, for every α, and the caches are gone afterwards."""
    model = fitted["fusion"]
    idx = data.cold_valid_idx
    plain = {a: model.score_at(data, idx, a) for a in (0.0, 0.4, 1.0)}
    with model._cached_items(data):
        for a, expected in plain.items():
            model.module_.transfer.alpha.fill_(a)
            np.testing.assert_array_equal(model.score(data, idx), expected)
        assert len(model._user_cache) == 1
    model.module_.transfer.alpha.fill_(model.alpha_)
    assert model._item_cache is None and model._user_cache is None


def test_scan_grid_keeps_the_best_state_instead_of_rebuilding_it():
    """scan_grid leaves the best grid value set (the first on ties); with ``state`` it puts back what was
    built for it instead of building it again; a closed form chooses the same λ and map either way."""
    from rec_helpers.transfer.base import scan_grid

    built, current = [], {}
    scores = {1: 0.2, 2: 0.5, 3: 0.5, 4: 0.1}

    def set_value(v):
        built.append(v)
        current["v"], current["obj"] = v, object()

    best, curve, score = scan_grid([1, 2, 3, 4], set_value, lambda: scores[current["v"]])
    assert (best, score, current["v"], built) == (2, 0.5, 2, [1, 2, 3, 4, 2])
    built.clear()
    objects = {}

    def set_and_remember(v):
        set_value(v)
        objects[v] = current["obj"]

    best, curve, score = scan_grid([1, 2, 3, 4], set_and_remember, lambda: scores[current["v"]],
                                   state=(lambda: current["obj"], lambda obj: current.__setitem__("obj", obj)))
    assert built == [1, 2, 3, 4] and best == 2 and curve == {"1": 0.2, "2": 0.5, "3": 0.5, "4": 0.1}
    assert current["obj"] is objects[2]  # the state built for the best value (2, not the tie 3 or the last 4)
    data = make_synthetic_data(seed=4)
    model = build("cd_ridge").fit(data)
    chosen = model.meta_["l2"]
    fresh = build("cd_ridge", l2_grid=[chosen]).fit(data)
    np.testing.assert_array_equal(model.score(data, data.cold_test_idx), fresh.score(data, data.cold_test_idx))
