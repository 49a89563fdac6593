"""The new-item scenario: held-out items leave every training input; only text-aware methods rank them."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rec_helpers import pipeline
from rec_helpers import scenarios as sc
from rec_helpers.errors import ConfigError, DataValidationError
from rec_helpers.transfer import make_method, make_synthetic_data
from rec_helpers.transfer.ranking import mask_seen, top_k

ID_ONLY = ("pop", "cd_ridge", "emcdr")
TEXT = ("zero_shot", "fusion", "adapter", "vae")
FAST = {"fusion": dict(epochs=3, patience=2, progress=False, hidden=32, out_dim=16),
        "adapter": dict(epochs=3, patience=2, progress=False, hidden=32, out_dim=16, bottleneck=8),
        "vae": dict(epochs=3, patience=2, progress=False, hidden=32, latent_dim=8, text_decoder=True)}


def build(name: str, **extra):
    return make_method(name, **{**FAST.get(name, {}), **extra})


@pytest.fixture(scope="module")
def synth():
    data, test = make_synthetic_data(return_test=True)
    new = sc.new_items(data, 0.2, seed=1)
    return data, test, new, sc.without_items(data, new)


@pytest.fixture(scope="module")
def fitted(synth):
    _, _, _, before = synth
    return {n: build(n).fit(before) for n in ID_ONLY + TEXT}


# --- picking the new items -------------------------------------------------------------------
def test_new_items_are_a_seeded_fraction_of_the_liked_target_items(synth):
    data, _, new, _ = synth
    pool = sc.eligible_items(data)
    assert set(new) <= set(pool) <= set(data.target_item_ids)
    assert len(new) == round(0.2 * len(pool))
    assert list(new) == [i for i in data.target_item_ids if i in set(new)]  # catalogue order
    np.testing.assert_array_equal(new, sc.new_items(data, 0.2, seed=1))
    assert not np.array_equal(new, sc.new_items(data, 0.2, seed=2))


@pytest.mark.parametrize("frac", [0, 0.0, -0.1, 1, 1.0, 1.5, True, None, "a tenth", float("nan")])
def test_bad_frac_is_a_config_error(synth, frac):
    with pytest.raises(ConfigError, match="frac"):
        sc.new_items(synth[0], frac)


# --- the data before the items existed -------------------------------------------------------
def test_new_items_never_appear_in_any_training_input(synth):
    data, _, new, before = synth
    gone = set(new)
    assert not gone & set(before.target_item_ids) and not gone & set(before.target_item_index)
    assert before.n_target == data.n_target - len(new)
    for m in (before.X_target_train, before.target_seen, before.X_target_valid):
        assert m.shape == (data.n_users, before.n_target)
    keep = [data.target_item_index[i] for i in before.target_item_ids]
    np.testing.assert_array_equal(before.E_target, data.E_target[keep])
    np.testing.assert_array_equal(before.X_target_train.toarray(), data.X_target_train[:, keep].toarray())
    new_cols = [data.target_item_index[i] for i in new]
    assert data.X_target_train[:, new_cols].nnz > 0  # there was something to remove
    assert before.X_target_train.nnz == data.X_target_train.nnz - data.X_target_train[:, new_cols].nnz
    # source side unchanged
    assert (before.X_source != data.X_source).nnz == 0
    np.testing.assert_array_equal(before.U_s, data.U_s)


def test_target_interest_is_rebuilt_without_the_new_items(synth):
    data, _, new, before = synth
    new_cols = [data.target_item_index[i] for i in new]
    touched = np.asarray(data.X_target_train[:, new_cols].sum(axis=1)).ravel() > 0
    np.testing.assert_array_equal(before.U_t[~touched], data.U_t[~touched])
    for r in np.flatnonzero(touched)[:5]:
        x = before.X_target_train[r].toarray().ravel()
        if x.sum() == 0:
            assert not before.U_t[r].any()
            continue
        mean = x @ before.E_target / x.sum()
        np.testing.assert_allclose(before.U_t[r], mean / np.linalg.norm(mean), atol=1e-5)
    assert not before.U_t[data.roles != "warm"].any()


def test_without_items_rejects_unknown_or_all_items(synth):
    data = synth[0]
    with pytest.raises(DataValidationError, match="not in the target catalogue"):
        sc.without_items(data, ["no such item"])
    with pytest.raises(DataValidationError, match="fewer than all"):
        sc.without_items(data, list(data.target_item_ids))


# --- who can score / rank new items ----------------------------------------------------------
@pytest.mark.parametrize("name", ID_ONLY)
def test_id_only_methods_never_rank_a_new_item(synth, fitted, name):
    data, _, new, before = synth
    idx = data.cold_test_idx
    model = fitted[name]
    assert not model.can_score_items
    with pytest.raises(ConfigError, match="ID-only"):
        model.score_items(before, idx, data.E_target[:2])
    scores = mask_seen(sc.full_catalogue_scores(model, before, data, idx), data.target_seen[idx])
    new_cols = [data.target_item_index[i] for i in new]
    assert np.isneginf(scores[:, new_cols]).all()
    ranked = top_k(scores, data.n_target)  # the whole catalogue, in order
    finite = np.take_along_axis(np.isfinite(scores), ranked, axis=1)
    assert not np.isin(ranked[finite], new_cols).any()


@pytest.mark.parametrize("name", TEXT)
def test_text_aware_methods_rank_new_items(synth, fitted, name):
    data, _, new, before = synth
    idx = data.cold_test_idx
    model = fitted[name]
    assert model.can_score_items
    scores = sc.full_catalogue_scores(model, before, data, idx)
    assert np.isfinite(scores).all()
    new_cols = [data.target_item_index[i] for i in new]
    old_cols = [data.target_item_index[i] for i in before.target_item_ids]
    np.testing.assert_allclose(scores[:, old_cols], model.score(before, idx), rtol=1e-6)
    ranked = top_k(mask_seen(scores, data.target_seen[idx]), data.n_target)
    assert np.isin(ranked, new_cols).any(axis=1).all()  # every user's full ranking holds the new items


def test_vae_with_the_id_decoder_cannot_score_new_items(synth):
    data, _, _, before = synth
    vae = build("vae", text_decoder=False).fit(before)
    assert not vae.can_score_items
    with pytest.raises(ConfigError, match="ID-only"):
        vae.score_items(before, data.cold_test_idx, data.E_target[:3])


@pytest.mark.parametrize("name", ["fusion", "vae"])
def test_text_path_equals_the_model_minus_its_id_terms(name):
    """Without free item embeddings, score_items on old items = score − b_i + bias rule."""
    data = make_synthetic_data(seed=3)
    model = build(name, item_embedding=False).fit(data)
    idx = data.cold_test_idx
    bias = (model.module_.scorer.item_bias if name == "fusion" else model.module_.bias).detach().numpy()
    for rule, b_new in (("mean", bias.mean()), (0.25, np.quantile(bias, 0.25))):
        text = model.score_items(data, idx, data.E_target, bias=rule)
        np.testing.assert_allclose(text - b_new + bias, model.score(data, idx), atol=1e-5)
    with pytest.raises(DataValidationError, match="expected"):
        model.score_items(data, idx, np.zeros((2, data.dim + 1)))


def test_mapped_rule_is_a_ridge_from_vectors_to_id_parameters():
    """new_item_parameters("mapped"): recovers a linear vector → (embedding, bias) relation on unseen
    items, learns only from ``fit_items`` (other rows may change freely), and no map without embeddings
    maps the bias alone; "mean" gives no embedding and one bias; a bad rule raises ConfigError."""
    from rec_helpers.transfer.base import new_item_parameters

    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 12))
    w_true = rng.normal(size=(12, 5))
    y = z @ w_true + 0.3
    emb, bias = y[:, :4], y[:, 4]
    z_new = rng.normal(size=(7, 12))
    fit = np.arange(250)
    v_new, b_new = new_item_parameters(z, emb, bias, z_new, "mapped", fit_items=fit, l2=1e-6)
    np.testing.assert_allclose(np.hstack([v_new, b_new[:, None]]), z_new @ w_true + 0.3, atol=1e-4)
    emb2, bias2 = emb.copy(), bias.copy()
    emb2[250:], bias2[250:] = 99.0, -99.0  # rows outside fit_items: no influence
    v2, b2 = new_item_parameters(z, emb2, bias2, z_new, "mapped", fit_items=fit, l2=1e-6)
    np.testing.assert_array_equal(v2, v_new) and np.testing.assert_array_equal(b2, b_new)
    none, b_only = new_item_parameters(z, None, bias, z_new, "mapped", l2=1e-6)
    assert none is None and np.allclose(b_only, z_new @ w_true[:, 4] + 0.3, atol=1e-4)
    v0, b0 = new_item_parameters(z, emb, bias, z_new, "mean")
    assert v0 is None and np.allclose(b0, bias.mean())
    with pytest.raises(ConfigError, match="bias"):
        new_item_parameters(z, emb, bias, z_new, "median")


@pytest.mark.parametrize("name", ["fusion", "vae"])
def test_mapped_rule_scores_with_per_item_parameters(name, synth, fitted):
    """score_items(bias="mapped") = the "mean" text path plus the mapped embedding and bias: new items
    get different biases, and fit_items changes the map (calibration leaves its pseudo-new items out)."""
    _, _, new, before = synth
    model = fitted[name]
    full = synth[0]
    vecs = full.E_target[[full.target_item_index[i] for i in new]]
    idx = before.cold_test_idx[:20]
    mean = model.score_items(before, idx, vecs, bias="mean")
    mapped = model.score_items(before, idx, vecs, bias="mapped")
    assert mapped.shape == mean.shape and np.isfinite(mapped).all() and not np.allclose(mapped, mean)
    spread = (mapped - mean).std(axis=1)  # per-item parameters: the shift differs between items
    assert np.all(spread > 0)
    half = model.score_items(before, idx, vecs, bias="mapped", fit_items=np.arange(before.n_target // 2))
    assert not np.allclose(half, mapped)


def test_zero_shot_scores_items_by_cosine(synth):
    data = synth[0]
    model = make_method("zero_shot").fit(data)
    idx = data.cold_test_idx
    np.testing.assert_allclose(model.score_items(data, idx, data.E_target), model.score(data, idx), atol=1e-6)


# --- the scenario -----------------------------------------------------------------------------
def run_small(synth, names=("pop", "cd_ridge", "zero_shot", "vae"), **kw):
    data, test, new, _ = synth
    return sc.run_new_item_scenario(data, test, new, {n: build(n) for n in names}, k=10,
                                    n_resamples=200, seed=0, **kw)


def test_scenario_outputs_shape_and_id_only_zeros(synth):
    frame, fig, info = run_small(synth)
    assert list(frame.columns) == sc.RESULT_COLUMNS
    assert len(frame) == 4 * 5
    assert set(frame["metric"]) == {"new_recall@10", "new_share@10", "ndcg@10", "recall@10", "shelf_recall@10"}
    # every cold_test user is evaluated on all hidden positives; the new-item recalls only where a new item is hidden
    overall = frame[frame["metric"].isin(["ndcg@10", "recall@10", "new_share@10"])]
    assert (overall["n_users"] == info["users_evaluated"]).all() and info["users_evaluated"] > 0
    only_new = frame[frame["metric"].isin(["new_recall@10", "shelf_recall@10"])]
    assert (only_new["n_users"] == info["users_with_new_positives"]).all()
    assert 0 < info["users_with_new_positives"] < info["users_evaluated"]
    assert (frame["ci_low"] <= frame["mean"] + 1e-12).all() and (frame["mean"] <= frame["ci_high"] + 1e-12).all()
    vs = info["text_vs_id"]
    assert vs["text"] in ("zero_shot", "vae") and vs["id_only"] in ("pop", "cd_ridge") and vs["metric"] == "recall@10"
    assert vs["delta"] == pytest.approx(vs["text_mean"] - vs["id_mean"]) and 0 < vs["p_value"] <= 1
    new_rows = frame[~frame["metric"].isin(["ndcg@10", "recall@10"])].set_index(["method", "metric"])
    for m in ("pop", "cd_ridge"):
        assert (new_rows.loc[m, ["mean", "ci_low", "ci_high"]] == 0).all().all()
    assert new_rows.loc[("zero_shot", "new_share@10"), "mean"] > 0
    for m in ("zero_shot", "vae"):  # the shelf of new items is ranked by text-aware methods
        assert new_rows.loc[(m, "shelf_recall@10"), "mean"] > 0
    assert info["can_score_new_items"] == {"pop": False, "cd_ridge": False, "zero_shot": True, "vae": True}
    assert info["n_new_items"] == len(synth[2]) and set(info["seconds"]) == {"pop", "cd_ridge", "zero_shot", "vae"}
    assert len(fig.data) == 5  # one panel per metric
    json.dumps(info)


def test_ceiling_is_the_best_id_only_method_refitted_with_the_new_items(synth):
    """info["ceiling"]: the best ID-only method (by recall) fitted on the data *with* the new items,
    measured on the same users; its headroom is the paired difference against that method without them."""
    data, test, new, before = synth
    # a non-default grid, under another label: the refit must carry the parameters and report the label
    models = {"pop": build("pop"), "ridge10": build("cd_ridge", l2_grid=(10.0,)), "zero_shot": build("zero_shot")}
    frame, _, info = sc.run_new_item_scenario(data, test, new, models, k=10, n_resamples=200, seed=0)
    ceil, vs = info["ceiling"], info["text_vs_id"]
    assert vs["id_only"] == "ridge10" and ceil["method"] == "ridge10" and "reference" in ceil["rule"]
    assert set(frame["method"]) == {"pop", "ridge10", "zero_shot"}  # the ceiling is no method of the scenario
    # by hand: the same method and parameters fitted on the full data, full catalogue, seen items masked
    model = build("cd_ridge", l2_grid=(10.0,)).fit(data)
    assert model.get_params() == models["ridge10"].get_params()
    users = [u for u in data.user_ids[data.cold_test_idx] if u in set(test["user"])]
    idx = data.users_to_idx(users)
    hand = sc.per_user_metrics(mask_seen(model.score(data, idx).astype(np.float64), data.target_seen[idx]),
                               data, users, test, new, 10)
    assert ceil["recall@10"] == pytest.approx(hand["recall@10"].mean())
    assert ceil["new_recall@10"] == pytest.approx(hand["new_recall@10"].mean()) and ceil["new_recall@10"] > 0
    assert ceil["new_share@10"] > 0  # with their history, the ID-only model ranks new items
    other = build("cd_ridge").fit(data)  # the default grid gives another ceiling here: the parameters matter
    assert not np.allclose(other.score(data, idx), model.score(data, idx))
    without = frame[(frame["method"] == ceil["method"]) & (frame["metric"] == "recall@10")]["mean"].item()
    assert ceil["headroom"]["delta"] == pytest.approx(ceil["recall@10"] - without)
    assert 0 < ceil["headroom"]["p_value"] <= 1 and ceil["headroom"]["metric"] == "recall@10"
    json.dumps(info)
    # off on request, and absent without an ID-only method to compare with
    assert run_small(synth, names=("pop", "zero_shot"), ceiling=False)[2]["ceiling"] is None
    assert run_small(synth, names=("zero_shot",))[2]["ceiling"] is None


def test_scenario_is_deterministic(synth):
    a, _, _ = run_small(synth, names=("zero_shot", "vae"))
    b, _, _ = run_small(synth, names=("zero_shot", "vae"))
    pd.testing.assert_frame_equal(a, b)


def test_scenario_rejects_bad_inputs(synth):
    data, test, new, _ = synth
    with pytest.raises(ConfigError, match="empty"):
        sc.run_new_item_scenario(data, test, new, {})
    with pytest.raises(ConfigError, match="bias"):
        sc.run_new_item_scenario(data, test, new, {"pop": build("pop")}, bias="max")
    with pytest.raises(ConfigError, match="bias"):
        sc.run_new_item_scenario(data, test, new, {"pop": build("pop")}, bias=1.5)
    with pytest.raises(DataValidationError, match="no cold_test user"):
        sc.run_new_item_scenario(data, test.iloc[:0], new, {"pop": build("pop")})


def test_calibrated_bias_is_chosen_on_cold_valid_with_pseudo_new_items(synth, fitted):
    """The rule comes from the grid by cold_valid recall over pseudo-new (old) items: the same when
    cold_test targets change, a curve over the whole grid, and by hand for one rule."""
    _, _, _, before = synth
    model = fitted["fusion"]
    rule, curve = sc.calibrate_new_item_bias(model, before, 0.2, seed=3, k=10)
    assert list(curve) == [str(r) for r in sc.CALIBRATION_GRID] and rule in sc.CALIBRATION_GRID
    assert curve[str(rule)] == max(curve.values())
    assert len(set(curve.values())) > 1  # the rule matters for a two-tower model
    # by hand for the 0.9 quantile: pseudo-new columns get the text path, then recall@10 on cold_valid
    idx = before.cold_valid_idx
    truth = before.X_target_valid[idx].toarray() > 0
    idx, truth = idx[truth.any(1)], truth[truth.any(1)]
    cols = [before.target_item_index[i] for i in sc.new_items(before, 0.2, 4)]
    s = model.score(before, idx).astype(np.float64)
    s[:, cols] = model.score_items(before, idx, before.E_target[cols], bias=0.9)
    top = top_k(mask_seen(s, before.target_seen[idx]), 10)
    hand = np.mean(np.take_along_axis(truth, top, 1).sum(1) / truth.sum(1))
    assert curve["0.9"] == pytest.approx(hand)
    assert sc.calibrate_new_item_bias(fitted["cd_ridge"], before) == ("mean", {})  # ID-only: nothing to place


def test_scenario_with_calibrated_bias_records_rules(synth):
    data, test, new, _ = synth
    models = {"cd_ridge": build("cd_ridge"), "fusion": build("fusion")}
    frame, _, info = sc.run_new_item_scenario(data, test, new, models, k=10, bias="calibrated")
    assert info["new_item_bias"] == "calibrated" and set(info["new_item_bias_rules"]) == {"cd_ridge", "fusion"}
    assert info["new_item_bias_rules"]["fusion"] in sc.CALIBRATION_GRID and info["bias_calibration"]["fusion"]
    fixed, _, _ = sc.run_new_item_scenario(data, test, new, {"fusion": build("fusion")}, k=10,
                                           bias=info["new_item_bias_rules"]["fusion"])
    pd.testing.assert_frame_equal(frame[frame["method"] == "fusion"].reset_index(drop=True), fixed)
    assert "cold_valid" in info["scoring"]["fusion"]
    json.dumps(info)


# --- on a pipeline run -------------------------------------------------------------------------
@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_new_item_scenario_on_a_run_writes_json(make_run, tmp_path, offline):
    ctx = make_run(tmp_path / "run", encoder={"cache_dir": str(tmp_path / "cache")},
                   evaluation={"n_resamples": 100}, transfer={"vae": {"epochs": 2, "hidden": 16, "latent_dim": 4}})
    names = ("pop", "zero_shot", "vae")
    frame, fig, info = sc.new_item_scenario(ctx, frac=0.25, methods=names, k=5, show_progress=False)
    assert list(frame.columns) == sc.RESULT_COLUMNS and len(frame) == 3 * 5
    saved = json.loads(ctx.run.file(sc.JSON_PATH).read_text())
    pd.testing.assert_frame_equal(pd.DataFrame(saved["results"]), frame, check_dtype=False)
    split = pipeline.ensure_split(ctx)
    assert set(saved["info"]["new_items"]) <= set(split.items.loc[split.items["domain"] == "target", "item"])
    assert saved["info"]["vae_text_decoder"] is True and saved["info"]["fitted"]["vae"]["text_decoder"] is True
    assert saved["info"]["can_score_new_items"] == {"pop": False, "zero_shot": True, "vae": True}
    # the run's own steps are untouched: the scenario writes only scenarios/
    assert "method:vae" not in ctx.run.manifest.get("steps", {})
    with pytest.raises(ConfigError, match="frac"):
        sc.new_item_scenario(ctx, frac=1.0, show_progress=False)
    with pytest.raises(ConfigError, match="unknown method"):
        sc.new_item_scenario(ctx, methods=("pop", "nope"), show_progress=False)


def test_new_item_scenario_reuses_its_fits_from_the_model_cache(make_run, tmp_path, offline):
    """A second run on the same data loads the scenario's fits from the model cache: same results."""
    common = dict(encoder={"cache_dir": str(tmp_path / "cache" / "embeddings")}, evaluation={"n_resamples": 50},
                  transfer={"model_cache": True, "vae": {"epochs": 2, "hidden": 16, "latent_dim": 4}})
    names = ("pop", "vae")
    first, _, info1 = sc.new_item_scenario(make_run(tmp_path / "a", **common), frac=0.25, methods=names, k=5,
                                           show_progress=False)
    stored = sorted(p.name for p in (tmp_path / "cache" / "models").iterdir())
    # pop twice: without the new items, and with them (the ceiling, info["ceiling"])
    assert [s.split("-")[0] for s in stored] == ["pop", "pop", "vae"] and info1["ceiling"]["method"] == "pop"
    second, _, info2 = sc.new_item_scenario(make_run(tmp_path / "b", **common), frac=0.25, methods=names, k=5,
                                            show_progress=False)
    pd.testing.assert_frame_equal(first, second)
    assert sorted(p.name for p in (tmp_path / "cache" / "models").iterdir()) == stored  # nothing new was fitted
