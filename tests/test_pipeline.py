"""The shared notebook steps on the synthetic data: embeddings, rankings, metrics.json.

Uses the real bundled BERT (offline) on ~50 short item texts, so it runs in seconds.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rec_helpers import pipeline
from rec_helpers.errors import ConfigError

BASELINES = ["pop", "zero_shot", "cd_ridge"]


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def run(make_run, tmp_path):
    return make_run(tmp_path / "run", encoder={"cache_dir": str(tmp_path / "cache")},
                    transfer={"methods": BASELINES}, evaluation={"n_resamples": 50})


def test_embeddings_shapes_order_and_cold_users_without_target_vector(run):
    emb = pipeline.ensure_embeddings(run, show_progress=False)
    split = pipeline.ensure_split(run)
    assert emb.item_vectors.shape == (len(split.items), 384) and emb.item_vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb.item_vectors, axis=1), 1.0, atol=1e-5)
    assert list(emb.item_ids) == split.items["item"].tolist()
    assert list(emb.users) == split.users["user"].tolist()
    roles = split.users["role"].to_numpy()
    assert not emb.U_t[roles != "warm"].any(), "cold users must have no target interest vector"
    assert emb.U_t[roles == "warm"].any(axis=1).all()
    assert emb.U_s.any(axis=1).all()
    saved = run.run.read_parquet("embeddings/items.parquet")
    assert saved["item"].tolist() == split.items["item"].tolist()
    assert run.run.manifest["embeddings"]["dim"] == 384


def test_embeddings_rerun_hits_the_cache(make_run, tmp_path):
    cache = str(tmp_path / "cache")
    first = pipeline.ensure_embeddings(make_run(tmp_path / "a", encoder={"cache_dir": cache}), show_progress=False)
    second = pipeline.ensure_embeddings(make_run(tmp_path / "b", encoder={"cache_dir": cache}), show_progress=False)
    assert first.info["cache_hit"] is False and second.info["cache_hit"] is True
    np.testing.assert_array_equal(first.item_vectors, second.item_vectors)


def test_cold_users_target_data_never_reaches_embeddings_or_training_files(make_run, tmp_path, perturbed_target_csv):
    """Change every cold user's target interactions (same positives, other ratings and times):
    item vectors, both interest matrices and every training file stay byte-identical."""
    cache = str(tmp_path / "cache")
    a = make_run(tmp_path / "a", encoder={"cache_dir": cache})
    pipeline.ensure_embeddings(a, show_progress=False)
    changed = perturbed_target_csv(a)

    b = make_run(tmp_path / "b", encoder={"cache_dir": cache}, data={"interactions": str(changed)})
    pipeline.ensure_embeddings(b, show_progress=False)
    same = ["embeddings/items.npy", "embeddings/U_s.npy", "embeddings/U_t.npy",
            "split/source.parquet", "split/target_train.parquet", "split/users.parquet"]
    for rel in same:
        assert a.run.file(rel).read_bytes() == b.run.file(rel).read_bytes(), rel
    assert a.run.file("split/target_test.parquet").read_bytes() != b.run.file("split/target_test.parquet").read_bytes()


def test_rankings_cover_cold_test_users_and_exclude_nothing_they_never_saw(run):
    methods = pipeline.ensure_methods(run, progress=False)
    assert set(methods) == set(BASELINES) | {"zero_shot__random"}   # zero-shot reads text: its control too
    split = pipeline.ensure_split(run)
    cold_test = set(split.users.loc[split.users["role"] == "cold_test", "user"])
    target_items = set(split.items.loc[split.items["domain"] == "target", "item"])
    for name in BASELINES:
        r = run.run.read_parquet(f"rankings/{name}.parquet")
        assert list(r.columns) == ["user", "item", "rank", "score"]
        assert set(r["user"]) == cold_test
        assert set(r["item"]) <= target_items
        assert r.groupby("user")["rank"].apply(lambda s: list(s) == list(range(1, len(s) + 1))).all()
        warm = run.run.read_parquet(f"rankings/warm/{name}.parquet")
        seen = set(map(tuple, split.target_train[["user", "item"]].to_numpy()))
        assert not seen & set(map(tuple, warm[["user", "item"]].to_numpy())), "training items must be excluded"
        assert json.loads(run.run.file(f"models/{name}/history.json").read_text())["params"] is not None


def test_same_seed_same_rankings_bytes(make_run, tmp_path):
    files = []
    for name in ("a", "b"):
        ctx = make_run(tmp_path / name, encoder={"cache_dir": str(tmp_path / "cache")}, transfer={"methods": BASELINES})
        pipeline.ensure_methods(ctx, progress=False)
        files.append({m: ctx.run.file(f"rankings/{m}.parquet").read_bytes() for m in BASELINES})
    assert files[0] == files[1]


def test_metrics_json_schema(run):
    pipeline.ensure_methods(run, progress=False)
    pipeline.evaluate_run(run)
    m = run.run.read_json("metrics.json")
    assert {"dataset", "split", "seed", "k", "methods", "comparisons", "timings"} <= set(m)
    assert m["k"] == [5, 10, 20] and m["split"] == "genre" and m["seed"] == 42
    for name in BASELINES:
        s = m["methods"][name]["cold_test"]["ndcg@10"]
        assert set(s) == {"mean", "ci_low", "ci_high"} and s["ci_low"] <= s["mean"] <= s["ci_high"]
        assert "warm" in m["methods"][name]
    assert m["comparisons"]["pop"]["vs"] == "cd_ridge" and "delta_ndcg@10" in m["comparisons"]["pop"]
    assert "cd_ridge" not in m["comparisons"]


def test_unknown_method_is_named(run):
    with pytest.raises(ConfigError, match="unknown method 'adaptor'"):
        pipeline.ensure_methods(run, ["adaptor"])


def test_evaluate_before_rankings_says_what_to_run(run):
    from rec_helpers.errors import RunFolderError
    with pytest.raises(RunFolderError, match="transfer notebooks"):
        pipeline.evaluate_run(run)



def test_default_run_folder_changes_with_any_parameter(synthetic_overrides, tmp_path, monkeypatch):
    """run_dir=None names the folder after every parameter, so changing e.g. the VAE size in class
    starts a new folder instead of colliding with models fitted under other parameters."""
    import shutil

    from rec_helpers.paths import project_root

    (tmp_path / "configs").mkdir()
    shutil.copy(project_root() / "configs" / "default.yaml", tmp_path / "configs" / "default.yaml")
    monkeypatch.setenv("REC_SUITE_ROOT", str(tmp_path))
    a = pipeline.start(None, None, "", synthetic_overrides).run.path
    b = pipeline.start(None, None, "", {**synthetic_overrides, "transfer": {"vae": {"latent_dim": 32}}}).run.path
    c = pipeline.start(None, None, "", synthetic_overrides).run.path
    assert a != b and a == c
    assert a.parent == tmp_path / "runs"


def test_text_control_replaces_vectors_only(run):
    """The control: other vectors, same shapes, deterministic by seed, cold users' u_t still zero."""
    bert = pipeline.ensure_embeddings(run, show_progress=False)
    ctl = pipeline.control_embeddings(run)
    again = pipeline.control_embeddings(run)
    assert ctl.item_vectors.shape == bert.item_vectors.shape and ctl.item_vectors.dtype == np.float32
    assert ctl.U_s.shape == bert.U_s.shape and ctl.U_t.shape == bert.U_t.shape
    np.testing.assert_allclose(np.linalg.norm(ctl.item_vectors, axis=1), 1.0, atol=1e-5)
    assert np.abs(ctl.item_vectors @ bert.item_vectors.T).max() < 0.5   # unrelated to the text
    np.testing.assert_array_equal(ctl.item_vectors, again.item_vectors)
    np.testing.assert_array_equal(ctl.U_s, again.U_s)
    roles = pipeline.ensure_split(run).users["role"].to_numpy()
    assert not ctl.U_t[roles != "warm"].any() and ctl.U_t[roles == "warm"].any(axis=1).all()
    other = pipeline.random_unit_vectors(len(bert.item_ids), 384, run.seed + 1)
    assert not np.array_equal(other, ctl.item_vectors)
    data, cdata = pipeline.transfer_data(run), pipeline.transfer_data(run, control=True)
    for name in ("X_source", "X_target_train", "X_target_valid", "target_seen"):
        assert (getattr(data, name) != getattr(cdata, name)).nnz == 0, name
    from rec_helpers.transfer.data import INTERACTION_FIELDS
    assert all(getattr(cdata, f) is getattr(data, f) for f in INTERACTION_FIELDS)  # shared, not copies
    assert not np.array_equal(cdata.E_target, data.E_target) and not np.array_equal(cdata.U_s, data.U_s)


def test_text_control_in_rankings_and_metrics(make_run, tmp_path):
    methods = ["pop", "cd_ridge", "zero_shot", "kernel_map", "vae", "score_fusion"]
    ctx = make_run(tmp_path / "run", encoder={"cache_dir": str(tmp_path / "cache")}, evaluation={"n_resamples": 50},
                   transfer={"methods": methods, "vae": {"epochs": 3, "hidden": 16, "latent_dim": 4}})
    fitted = pipeline.ensure_methods(ctx, progress=False)
    assert set(fitted) == set(methods) | {"zero_shot__random", "vae__random", "score_fusion__random"}
    for name in ("zero_shot", "vae", "score_fusion"):
        assert ctx.run.has(f"rankings/{name}__random.parquet") and ctx.run.has(f"rankings/warm/{name}__random.parquet")
    assert not ctx.run.has("rankings/kernel_map__random.parquet")   # reads no text: no control
    # score fusion reused the run's own fits of its components (and their controls for its control): the very
    # models that were just ranked, whose kept scores gave its rankings (the same as scored afresh)
    assert fitted["score_fusion"].models_[0].get_params() == fitted["vae"].get_params()
    assert fitted["score_fusion"].models_[0] is fitted["vae"] and fitted["score_fusion"].models_[1] is fitted["kernel_map"]
    assert fitted["score_fusion__random"].models_[0] is fitted["vae__random"]
    assert fitted["score_fusion__random"].models_[1] is fitted["kernel_map"]
    cold = pipeline.transfer_data(ctx).user_ids[pipeline.transfer_data(ctx).cold_test_idx]
    top_n = int(ctx.config["evaluation"]["top_n"])
    for key, control in (("score_fusion", False), ("score_fusion__random", True)):
        again = fitted[key].recommend(pipeline.transfer_data(ctx, control=control), cold, k=top_n)
        saved = ctx.run.read_parquet(f"rankings/{key}.parquet")
        np.testing.assert_array_equal(saved["item"].to_numpy(), again["item"].to_numpy())
        np.testing.assert_array_equal(saved["score"].to_numpy(), again["score"].to_numpy())
    pipeline.evaluate_run(ctx)
    m = ctx.run.read_json("metrics.json")
    assert set(m["text_control"]) == {"zero_shot", "vae", "score_fusion"}
    for name, row in m["text_control"].items():
        assert row["bert"] == m["methods"][name]["cold_test"]["ndcg@10"]["mean"]
        assert row["random"] == m["methods"][f"{name}__random"]["cold_test"]["ndcg@10"]["mean"]
        assert row["delta_ndcg@10"] == pytest.approx(row["bert"] - row["random"])
        assert row["ci_low"] <= row["delta_ndcg@10"] <= row["ci_high"] and 0 <= row["p_value"] <= 1


def test_text_control_switch_off(make_run, tmp_path):
    ctx = make_run(tmp_path / "run", encoder={"cache_dir": str(tmp_path / "cache")},
                   transfer={"methods": ["pop", "zero_shot"]},
                   evaluation={"n_resamples": 20, "text_control": False, "reference": None})
    assert set(pipeline.ensure_methods(ctx, progress=False)) == {"pop", "zero_shot"}
    pipeline.evaluate_run(ctx)
    assert ctx.run.read_json("metrics.json")["text_control"] == {}


@pytest.mark.slow  # fits every method twice
def test_perturbing_cold_test_changes_no_fitted_artifact(make_run, tmp_path, perturbed_target_csv):
    """cold_test is never read before the final evaluation: change every cold_test user's target
    ratings and times (positives stay positives, so roles stay the same) and every fitted model
    (with its cold_valid choices) and every ranking, controls included, stays byte-identical."""
    from rec_helpers.transfer.registry import METHODS

    fast = {"epochs": 3, "patience": 2}
    transfer = {"methods": sorted(METHODS), "fusion": fast, "adapter": fast,
                "vae": {**fast, "hidden": 16, "latent_dim": 4}}
    cache = str(tmp_path / "cache")
    a = make_run(tmp_path / "a", encoder={"cache_dir": cache}, transfer=transfer)
    changed = perturbed_target_csv(a, ("cold_test",))
    b = make_run(tmp_path / "b", encoder={"cache_dir": cache}, transfer=transfer, data={"interactions": str(changed)})
    fitted = [set(pipeline.ensure_methods(ctx, progress=False)) for ctx in (a, b)]
    assert fitted[0] == fitted[1] and any(n.endswith("__random") for n in fitted[0])
    assert a.run.file("split/target_test.parquet").read_bytes() != b.run.file("split/target_test.parquet").read_bytes()
    for name in sorted(fitted[0]):
        for rel in (f"models/{name}/state.safetensors", f"rankings/{name}.parquet", f"rankings/warm/{name}.parquet"):
            assert a.run.file(rel).read_bytes() == b.run.file(rel).read_bytes(), rel
        choices = [{k: v for k, v in ctx.run.read_json(f"models/{name}/history.json").items()
                    if "seconds" not in k} for ctx in (a, b)]
        assert choices[0] == choices[1], name


def test_model_cache_reuses_a_fit_only_for_identical_data_params_and_code(make_run, tmp_path):
    """A second run with the same data and parameters loads the cached model (no fit) and writes
    byte-identical rankings; other parameters or other data miss the cache."""
    enc = {"cache_dir": str(tmp_path / "cache" / "embeddings")}
    names = ["cd_ridge", "kernel_map", "vae"]
    transfer = {"model_cache": True, "methods": names, "vae": {"epochs": 3, "hidden": 16, "latent_dim": 4}}
    runs = [make_run(tmp_path / n, encoder=enc, transfer=transfer, evaluation={"text_control": False}) for n in "ab"]
    for ctx in runs:
        pipeline.ensure_methods(ctx, progress=False)
    hits = [{n: ctx.run.manifest["methods"][n]["model_cache_hit"] for n in names} for ctx in runs]
    assert hits == [dict.fromkeys(names, False), dict.fromkeys(names, True)]
    assert runs[1].run.manifest["methods"]["vae"]["fit_seconds"] == 0.0
    for n in names:
        assert runs[0].run.file(f"rankings/{n}.parquet").read_bytes() == runs[1].run.file(f"rankings/{n}.parquet").read_bytes()
    assert len(list((tmp_path / "cache" / "models").iterdir())) == 3
    c = make_run(tmp_path / "c", encoder=enc, evaluation={"text_control": False},
                 transfer={**transfer, "vae": {"epochs": 3, "hidden": 16, "latent_dim": 5}})
    pipeline.ensure_methods(c, ["vae"], progress=False)
    assert c.run.manifest["methods"]["vae"]["model_cache_hit"] is False
    d = make_run(tmp_path / "d", encoder=enc, evaluation={"text_control": False}, seed=7, transfer=transfer)
    pipeline.ensure_methods(d, ["cd_ridge"], progress=False)   # another seed: another split, other data
    assert d.run.manifest["methods"]["cd_ridge"]["model_cache_hit"] is False


def test_a_cached_model_keeps_its_rankings_for_the_same_users(make_run, tmp_path, monkeypatch):
    """A warm run copies the rankings kept beside a cached model (it re-scores nobody) and gets the
    bytes a fresh ranking gives; other users (another warm sample) are ranked afresh and kept too."""
    from rec_helpers.transfer.base import TransferMethod

    enc = {"cache_dir": str(tmp_path / "cache" / "embeddings")}
    transfer = {"model_cache": True, "methods": ["cd_ridge", "vae"], "vae": {"epochs": 2, "hidden": 16, "latent_dim": 4}}
    ev = {"text_control": False}
    a = make_run(tmp_path / "a", encoder=enc, transfer=transfer, evaluation=ev)
    pipeline.ensure_methods(a, progress=False)
    kept = sorted((tmp_path / "cache" / "models").glob("*/rankings/*.parquet"))
    assert len(kept) == 4   # cold_test and warm lists of two models

    def no_scoring(self, *args, **kwargs):
        raise AssertionError("a warm run re-ranked users whose rankings the model cache keeps")

    monkeypatch.setattr(TransferMethod, "recommend", no_scoring)
    b = make_run(tmp_path / "b", encoder=enc, transfer=transfer, evaluation=ev)
    pipeline.ensure_methods(b, progress=False)
    for name in ("cd_ridge", "vae"):
        for rel in (f"rankings/{name}.parquet", f"rankings/warm/{name}.parquet"):
            assert a.run.file(rel).read_bytes() == b.run.file(rel).read_bytes(), rel
    n_warm = len(pipeline.transfer_data(a).warm_idx)
    c = make_run(tmp_path / "c", encoder=enc, transfer=transfer, evaluation={**ev, "warm_max_users": n_warm // 2})
    with pytest.raises(AssertionError, match="re-ranked"):   # the same models, other warm users
        pipeline.ensure_methods(c, ["cd_ridge"], progress=False)
    monkeypatch.undo()
    pipeline.ensure_methods(c, ["cd_ridge"], progress=False)
    assert len(pd.read_parquet(c.run.file("rankings/warm/cd_ridge.parquet"))["user"].unique()) == n_warm // 2
    assert len(sorted((tmp_path / "cache" / "models").glob("*/rankings/*.parquet"))) == 5
    # a change to the code that writes the lists (outside the model cache's key) re-ranks
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pipeline.py", "runfolder.py"):
        (src / name).write_text(Path(pipeline.__file__).with_name(name).read_text() + "\n# changed\n")
    (src / "transfer").symlink_to(Path(pipeline.__file__).with_name("transfer"))   # the model cache still hits
    monkeypatch.setattr(pipeline, "__file__", str(src / "pipeline.py"))
    monkeypatch.setattr(TransferMethod, "recommend", no_scoring)
    d = make_run(tmp_path / "d", encoder=enc, transfer=transfer, evaluation=ev)
    with pytest.raises(AssertionError, match="re-ranked"):
        pipeline.ensure_methods(d, ["cd_ridge"], progress=False)
    assert d.run.manifest.get("methods", {}).get("cd_ridge") is None
    assert pipeline.model_cache_dir(d, "cd_ridge", pipeline.method_params(d.config, "cd_ridge"),
                                    pipeline.transfer_data(d)).is_dir()   # the model itself was cached


def test_run_folder_points_at_the_cached_model_state(make_run, tmp_path):
    """transfer.model_store: reference (default) keeps the state in the model cache and a checked
    pointer in the run; the model reloads from it; a changed cache entry is a named error; copy keeps
    the state's bytes in the run."""
    from rec_helpers.errors import RunFolderError
    from rec_helpers.transfer.registry import load_method

    enc = {"cache_dir": str(tmp_path / "cache" / "embeddings")}
    transfer = {"model_cache": True, "methods": ["cd_ridge", "vae"], "vae": {"epochs": 2, "hidden": 16, "latent_dim": 4}}
    a = make_run(tmp_path / "a", encoder=enc, transfer=transfer, evaluation={"text_control": False})
    fitted = pipeline.ensure_methods(a, progress=False)
    data = pipeline.transfer_data(a)
    cold = data.user_ids[data.cold_test_idx]
    for name in ("cd_ridge", "vae"):
        folder = a.run.file(f"models/{name}")
        assert not (folder / "state.safetensors").exists() and (folder / "state.ref.json").is_file()
        ref = a.run.read_json(f"models/{name}/state.ref.json")
        assert not Path(ref["cache_dir"]).is_absolute() or ref["cache_dir"] == str(tmp_path / "cache" / "models")
        again = load_method(folder)
        pd.testing.assert_frame_equal(again.recommend(data, cold, k=10), fitted[name].recommend(data, cold, k=10))
    # the warm (secondary) lists keep ranks only; the cold_test lists keep their scores
    assert list(a.run.read_parquet("rankings/warm/vae.parquet").columns) == ["user", "item", "rank"]
    assert list(a.run.read_parquet("rankings/vae.parquet").columns) == ["user", "item", "rank", "score"]
    # reloading inside the run (a later notebook) goes through the pointer too
    assert pipeline.ensure_method(a, "cd_ridge", progress=False).recommend(data, cold, k=10).equals(
        fitted["cd_ridge"].recommend(data, cold, k=10))
    b = make_run(tmp_path / "b", encoder=enc, transfer={**transfer, "model_store": "copy"},
                 evaluation={"text_control": False})
    pipeline.ensure_methods(b, progress=False)
    ref = a.run.read_json("models/vae/state.ref.json")
    cached_state = tmp_path / "cache" / "models" / ref["entry"] / "state.safetensors"
    assert b.run.file("models/vae/state.safetensors").read_bytes() == cached_state.read_bytes()
    assert not b.run.file("models/vae/state.ref.json").exists()
    cached_state.write_bytes(cached_state.read_bytes()[:-1] + b" ")   # the cache entry changes
    with pytest.raises(RunFolderError, match="model_store: copy"):
        load_method(a.run.file("models/vae"))
    with pytest.raises(ConfigError, match="model_store"):
        make_run(tmp_path / "c", encoder=enc, transfer={**transfer, "model_store": "refrence"})


def test_warm_evaluation_on_a_seeded_sample(make_run, tmp_path):
    """evaluation.warm_max_users ranks and evaluates a fixed sample of warm users; cold_test stays whole."""
    ctx = make_run(tmp_path / "run", encoder={"cache_dir": str(tmp_path / "cache")}, transfer={"methods": ["pop"]},
                   evaluation={"n_resamples": 20, "text_control": False, "reference": None, "warm_max_users": 5})
    pipeline.ensure_methods(ctx, progress=False)
    data = pipeline.transfer_data(ctx)
    assert len(data.warm_idx) > 5
    warm = ctx.run.read_parquet("rankings/warm/pop.parquet")["user"].unique()
    sample = pipeline.warm_eval_users(ctx, data)
    assert len(sample) == 5 and set(warm) == set(sample) and set(sample) <= set(data.user_ids[data.warm_idx])
    cold = ctx.run.read_parquet("rankings/pop.parquet")["user"].nunique()
    assert cold == len(data.cold_test_idx)
    pipeline.evaluate_run(ctx)
    m = ctx.run.read_json("metrics.json")
    assert m["n_users"]["warm"] <= 5 and m["n_users"]["cold_test"] == len(data.cold_test_idx)


def test_score_fusion_rankings_reuse_the_kernel_maps_scores(make_run, tmp_path, monkeypatch):
    """Inside ensure_methods the kernel map is scored for its own rankings (cold_test, warm) and once for the
    cold_valid users of score fusion's α scan; score fusion's rankings and its control's reuse those scores
    (8 calls without the sharing: + its control's scan and the two rankings of each)."""
    from rec_helpers.transfer.baselines import KernelMap

    calls = []
    original = KernelMap.score

    def counted(self, data, user_idx):
        calls.append(len(user_idx))
        return original(self, data, user_idx)

    monkeypatch.setattr(KernelMap, "score", counted)
    ctx = make_run(tmp_path / "run", encoder={"cache_dir": str(tmp_path / "cache")},
                   transfer={"methods": ["kernel_map", "vae", "score_fusion"], "model_cache": False,
                             "vae": {"epochs": 3, "hidden": 16, "latent_dim": 4}},
                   evaluation={"reference": None})
    fitted = pipeline.ensure_methods(ctx, progress=False)
    assert set(fitted) == {"kernel_map", "vae", "score_fusion", "vae__random", "score_fusion__random"}
    assert len(calls) == 3, calls


def test_data_fingerprints_are_forgotten_with_their_data(make_run, tmp_path):
    """The model cache's data fingerprints are keyed by id(data): one is dropped when its data is freed, so a
    later object with the same id cannot inherit it."""
    import dataclasses
    import gc

    ctx = make_run(tmp_path / "run", encoder={"cache_dir": str(tmp_path / "cache")}, transfer={"model_cache": True})
    data = dataclasses.replace(pipeline.transfer_data(ctx))
    key = id(data)
    assert pipeline.model_cache_dir(ctx, "pop", {}, data) is not None
    assert key in ctx.cache["data_fingerprint"]
    del data
    gc.collect()
    assert key not in ctx.cache["data_fingerprint"]


def test_model_cache_keys_a_fit_by_its_full_parameters(make_run, tmp_path, monkeypatch):
    """The run's partial config parameters and a model's full get_params() name the same cache entry (a
    method's text control: under its own key), progress is no part of it, another value is another entry;
    and fit_cached reuses a leaderboard fit instead of refitting it (the new-item scenario's ceiling)."""
    from rec_helpers.transfer.registry import METHODS, make_method

    ctx = make_run(tmp_path / "run", encoder={"cache_dir": str(tmp_path / "cache" / "emb")},
                   transfer={"model_cache": True, "methods": ["cd_ridge", "kernel_map"]},
                   evaluation={"text_control": False})
    data = pipeline.transfer_data(ctx)
    for name in ("kernel_map", "vae", "score_fusion", "cd_ridge"):
        partial = pipeline.method_params(ctx.config, name)
        full = make_method(name, **partial).get_params()
        assert set(partial) < set(full)  # the config names fewer parameters than the model has
        assert pipeline.model_cache_dir(ctx, name, partial, data) == pipeline.model_cache_dir(ctx, name, full, data)
        control = name + pipeline.CONTROL_SUFFIX
        assert pipeline.model_cache_dir(ctx, control, partial, data) == pipeline.model_cache_dir(ctx, control, full, data)
        assert pipeline.model_cache_dir(ctx, control, partial, data) != pipeline.model_cache_dir(ctx, name, partial, data)
    vae = pipeline.method_params(ctx.config, "vae")
    assert (pipeline.model_cache_dir(ctx, "vae", {**vae, "progress": True}, data)
            == pipeline.model_cache_dir(ctx, "vae", {**vae, "progress": False}, data))
    assert (pipeline.model_cache_dir(ctx, "vae", {**vae, "seed": 7}, data)
            != pipeline.model_cache_dir(ctx, "vae", vae, data))
    pipeline.ensure_methods(ctx, ["kernel_map"], progress=False)

    def no_fit(self, data):
        raise AssertionError("refitted a model that is in the cache")

    monkeypatch.setattr(METHODS["kernel_map"], "fit", no_fit)
    fresh = make_method("kernel_map", **make_method("kernel_map", **pipeline.method_params(ctx.config, "kernel_map"))
                        .get_params())
    reused = pipeline.fit_cached(ctx, fresh, data)
    assert reused.is_fitted and reused is not fresh
    with pytest.raises(AssertionError, match="refitted"):
        pipeline.fit_cached(ctx, make_method("kernel_map", l2_grid=(5.0,)), data)
