"""Tests of rec_helpers.encoder.BertEncoder on the bundled all-MiniLM-L6-v2 (offline)."""
from __future__ import annotations

import numpy as np
import pytest

from rec_helpers import constants
from rec_helpers.encoder import BertEncoder, model_dir_fingerprint, resolve_model_path
from rec_helpers.errors import ConfigError, DataValidationError

TEXTS = [
    "Toy Story (1995). Genres: Animation, Children's, Comedy.",
    "Heat (1995). Genres: Action, Crime, Thriller.",
    "A very long title about a man, his dog, a boat and the sea that goes on and on (1999). Genres: Drama.",
    "Jaws (1975). Genres: Action, Horror.",
    "Fargo (1996). Genres: Crime, Drama, Thriller.",
]


@pytest.fixture(scope="module")
def offline():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield


@pytest.fixture(scope="module")
def mean_encoder(offline) -> BertEncoder:
    return BertEncoder(constants.DEFAULT_MODEL, pooling="mean", batch_size=2)


@pytest.fixture(scope="module")
def cls_encoder(offline) -> BertEncoder:
    return BertEncoder(constants.DEFAULT_MODEL, pooling="cls", batch_size=2)


def test_encode_shape_dtype_and_unit_norm(mean_encoder):
    vectors = mean_encoder.encode(TEXTS, show_progress=False)
    assert vectors.shape == (len(TEXTS), 384) == (len(TEXTS), mean_encoder.dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_batch_order_is_restored(mean_encoder):
    together = mean_encoder.encode(TEXTS, show_progress=False)  # batches of 2, length-sorted
    one_by_one = np.vstack([mean_encoder.encode([t], show_progress=False) for t in TEXTS])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_cls_and_mean_pooling_differ(mean_encoder, cls_encoder):
    mean = mean_encoder.encode(TEXTS[:2], show_progress=False)
    cls = cls_encoder.encode(TEXTS[:2], show_progress=False)
    assert not np.allclose(mean, cls, atol=1e-3)
    np.testing.assert_allclose(np.linalg.norm(cls, axis=1), 1.0, atol=1e-5)


def test_similar_texts_are_closer(mean_encoder):
    a, b, c = mean_encoder.encode(
        ["a funny animated movie for kids", "a cartoon comedy for children", "a brutal war documentary"],
        show_progress=False,
    )
    assert a @ b > a @ c


def test_matches_sentence_transformers(mean_encoder):
    st = pytest.importorskip("sentence_transformers")
    model = st.SentenceTransformer(mean_encoder.path, device="cpu")
    model.max_seq_length = mean_encoder.max_length
    theirs = model.encode(TEXTS, batch_size=2, normalize_embeddings=True, show_progress_bar=False)
    ours = mean_encoder.encode(TEXTS, show_progress=False)
    assert (np.sum(ours * theirs, axis=1) > 0.999).all()


def test_identity_properties(mean_encoder):
    assert mean_encoder.model_name == constants.DEFAULT_MODEL
    fp = mean_encoder.fingerprint
    assert fp.startswith(constants.DEFAULT_MODEL + ":") and len(fp.split(":")[1]) == 16
    assert mean_encoder.fingerprint == fp  # stable and cached


def test_tokenize_and_token_states(mean_encoder):
    tokens = mean_encoder.tokenize("Toy Story (1995)")
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]" and "toy" in tokens
    tokens2, states = mean_encoder.token_states("Toy Story (1995)")
    assert tokens2 == tokens and states.shape == (len(tokens), mean_encoder.dim)


def test_truncation_at_max_length(offline):
    enc = BertEncoder(max_length=8)
    assert len(enc.tokenize(" ".join(["word"] * 50))) == 8
    assert enc.encode([" ".join(["word"] * 50)], show_progress=False).shape == (1, 384)


def test_resolve_model_path():
    path = resolve_model_path(constants.DEFAULT_MODEL)
    assert path.endswith("model")
    assert resolve_model_path("bert-base-uncased") == "bert-base-uncased"  # hub ids pass through


def test_local_path_loads_offline(offline, mean_encoder):
    enc = BertEncoder(mean_encoder.path)
    np.testing.assert_allclose(
        enc.encode(TEXTS[:2], show_progress=False), mean_encoder.encode(TEXTS[:2], show_progress=False), atol=1e-5
    )
    assert enc.fingerprint.split(":")[1] == mean_encoder.fingerprint.split(":")[1]


def test_missing_model_path_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        BertEncoder(str(tmp_path / "no_such_model"))
    with pytest.raises(ConfigError, match="config.json"):
        BertEncoder(str(tmp_path))  # exists, but is not a model folder


def test_unloadable_model_folder_is_config_error(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ConfigError, match="could not load"):
        BertEncoder(str(tmp_path))


@pytest.mark.parametrize("kwargs, match", [
    ({"pooling": "max"}, "unknown pooling"),
    ({"max_length": 0}, "max_length"),
    ({"max_length": -5}, "max_length"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_parameters_are_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        BertEncoder(**kwargs)


@pytest.mark.parametrize("texts, match", [
    ([], "empty"),
    (["ok", ""], "empty or not strings"),
    (["ok", "   "], "empty or not strings"),
    (["ok", None], "empty or not strings"),
    (["ok", 3], "empty or not strings"),
    ("just one string", "wrap it"),
])
def test_bad_texts_are_data_errors(mean_encoder, texts, match):
    with pytest.raises(DataValidationError, match=match):
        mean_encoder.encode(texts, show_progress=False)


def test_fingerprint_follows_file_bytes(tmp_path):
    (tmp_path / "config.json").write_text('{"hidden_size": 4}')
    (tmp_path / "model.safetensors").write_bytes(b"weights-v1")
    first = model_dir_fingerprint(tmp_path)
    assert model_dir_fingerprint(tmp_path) == first
    (tmp_path / "model.safetensors").write_bytes(b"weights-v2-longer")  # other size: robust to coarse mtimes
    assert model_dir_fingerprint(tmp_path) != first
    second = model_dir_fingerprint(tmp_path)
    (tmp_path / "config.json").write_text('{"hidden_size": 128}')
    assert model_dir_fingerprint(tmp_path) != second


def test_max_length_beyond_model_limit(offline):
    with pytest.raises(ConfigError, match="512"):
        BertEncoder(max_length=10_000)
