"""Adapters inside BERT (peft LoRA) and whitening: tiny, offline, seconds."""
from __future__ import annotations

import numpy as np
import pytest

from rec_helpers import constants, finetune, pipeline, whitening
from rec_helpers.encoder import BertEncoder
from rec_helpers.errors import ConfigError

pytestmark = pytest.mark.slow  # fine-tunes BERT: `make test` only, not `make test-fast`

TEXTS = [f"Movie {i} ({1990 + i}). Genres: {g}." for i, g in
         enumerate(["Comedy", "Drama", "Romance", "Comedy, Drama", "Animation", "Musical", "Drama, Romance", "Fantasy"])]
TINY = {"steps": 3, "batch_size": 4, "max_seconds": 60}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def encoder():
    return BertEncoder(constants.DEFAULT_MODEL, batch_size=4)


@pytest.fixture(scope="module")
def trained(encoder, tmp_path_factory):
    rng = np.random.default_rng(0)
    pairs = np.stack([rng.integers(0, 6, 30), rng.integers(0, len(TEXTS), 30)], axis=1)
    users = rng.normal(size=(6, 384)).astype(np.float32)
    out = tmp_path_factory.mktemp("lora") / "adapter"
    hist = finetune.train_lora(encoder, TEXTS, pairs, users, out, TINY, seed=1, progress=False)
    return out, hist, pairs, users


def test_lora_saves_adapter_weights_only(trained):
    out, hist, _, _ = trained
    assert finetune.is_adapter_dir(out) and hist["steps_run"] == 3 and len(hist["loss"]) == 3
    assert (out / "adapter_model.safetensors").stat().st_size < 1_000_000   # not a copy of the 90 MB model
    assert not list(out.glob("*.bin")) and not list(out.glob("*.pt"))


def test_lora_encoder_changes_vectors_and_fingerprint(encoder, trained):
    tuned = finetune.LoraEncoder(constants.DEFAULT_MODEL, trained[0], batch_size=4)
    frozen, adapted = encoder.encode(TEXTS, show_progress=False), tuned.encode(TEXTS, show_progress=False)
    assert adapted.shape == frozen.shape
    np.testing.assert_allclose(np.linalg.norm(adapted, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(adapted, frozen, atol=1e-4)
    assert tuned.fingerprint.startswith(encoder.fingerprint + "+lora:")


def test_lora_deterministic_by_seed(encoder, trained, tmp_path):
    out, hist, pairs, users = trained
    again = finetune.train_lora(encoder, TEXTS, pairs, users, tmp_path / "again", TINY, seed=1, progress=False)
    assert again["loss"] == hist["loss"]
    assert (tmp_path / "again" / "adapter_model.safetensors").read_bytes() == (out / "adapter_model.safetensors").read_bytes()


@pytest.mark.parametrize("params, message", [
    ({"steps": 0}, "steps"), ({"lr": -1}, "lr"), ({"r": 1.5}, "r"), ({"target_modules": []}, "target_modules"),
    ({"rank": 8}, "no parameter"),
])
def test_bad_finetune_params(params, message):
    with pytest.raises(ConfigError, match=message):
        finetune.check_params(params)


def test_finetune_in_pipeline_cached_and_blind_to_cold_targets(make_run, tmp_path, perturbed_target_csv):
    """The pipeline trains once (cache by fingerprint), copies only the adapter into the run, and
    the adapter does not change when cold users' target ratings change."""
    enc = {"cache_dir": str(tmp_path / "cache"), "finetune": {"enabled": True, **TINY}}
    a = pipeline.ensure_embeddings(make_run(tmp_path / "a", encoder=enc), show_progress=False)
    assert a.info["finetune"]["cache_hit"] is False and a.info["finetune"]["steps_run"] == 3
    b_ctx = make_run(tmp_path / "b", encoder=enc)
    b = pipeline.ensure_embeddings(b_ctx, show_progress=False)
    assert b.info["finetune"]["cache_hit"] is True
    np.testing.assert_array_equal(a.item_vectors, b.item_vectors)
    assert b_ctx.run.has("embeddings/lora/adapter_model.safetensors")
    changed = perturbed_target_csv(b_ctx)
    c = pipeline.ensure_embeddings(make_run(tmp_path / "c", encoder=enc, data={"interactions": str(changed)}),
                                   show_progress=False)
    assert c.info["finetune"]["key"] == a.info["finetune"]["key"] and c.info["finetune"]["cache_hit"] is True
    frozen = pipeline.ensure_embeddings(make_run(tmp_path / "d", encoder={"cache_dir": str(tmp_path / "cache")}),
                                        show_progress=False)
    assert not np.allclose(frozen.item_vectors, a.item_vectors, atol=1e-4)


def test_whitening_removes_anisotropy():
    rng = np.random.default_rng(0)
    common = rng.normal(size=16)
    x = rng.normal(size=(300, 16)) * np.linspace(0.2, 3, 16) + 4 * common
    assert whitening.mean_cosine(x) > 0.5
    for kind in ("zca", "pca"):
        w = whitening.whiten(x, kind)
        assert w.shape == x.shape and w.dtype == np.float32
        assert abs(whitening.mean_cosine(w)) < 0.05
        np.testing.assert_allclose(np.linalg.norm(w, axis=1), 1.0, atol=1e-5)
    with pytest.raises(ConfigError, match="whitening kind"):
        whitening.whiten(x, "bert")


def test_whiten_option_in_pipeline(make_run, tmp_path):
    enc = {"cache_dir": str(tmp_path / "cache")}
    raw = pipeline.ensure_embeddings(make_run(tmp_path / "a", encoder=enc), show_progress=False)
    white = pipeline.ensure_embeddings(make_run(tmp_path / "b", encoder={**enc, "whiten": "zca"}), show_progress=False)
    assert white.info["mean_cosine"] < raw.info["mean_cosine"] and raw.info["mean_cosine_raw"] > 0.1
    assert white.item_vectors.shape == raw.item_vectors.shape
    with pytest.raises(ConfigError, match="encoder.whiten"):
        make_run(tmp_path / "c", encoder={**enc, "whiten": "yes"})


def test_no_time_cap_by_default_so_the_adapter_depends_on_steps_only():
    from rec_helpers.finetune import DEFAULTS, check_params

    assert DEFAULTS["max_seconds"] is None and check_params({})["max_seconds"] is None
    assert check_params({"max_seconds": 30})["max_seconds"] == 30
    with pytest.raises(ConfigError, match="max_seconds"):
        check_params({"max_seconds": 0})
