"""Tests of rec_helpers.embedding_cache: keys, hits, corruption detection and rebuilds."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rec_helpers import constants
from rec_helpers.embedding_cache import cache_key, encode_cached
from rec_helpers.encoder import BertEncoder
from rec_helpers.item_text import build_item_texts

TEXTS = [
    "Toy Story (1995). Genres: Animation, Children's, Comedy.",
    "Heat (1995). Genres: Action, Crime, Thriller.",
    "Jumanji (1995). Genres: Adventure, Children's, Fantasy.",
]


class CountingEncoder:
    """Stand-in with the attributes encode_cached uses; counts encode calls."""

    fingerprint, pooling, max_length, dim = "fake:0123456789abcdef", "mean", 64, 4

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts, show_progress=True):
        self.calls += 1
        rng = np.random.default_rng(len(texts))
        vectors = rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def encoder() -> BertEncoder:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield BertEncoder(constants.DEFAULT_MODEL)


def test_miss_then_hit_with_real_model(encoder, tmp_path):
    first, info1 = encode_cached(encoder, TEXTS, cache_dir=tmp_path, show_progress=False)
    second, info2 = encode_cached(encoder, TEXTS, cache_dir=tmp_path, show_progress=False)
    assert (info1["hit"], info2["hit"]) == (False, True)
    assert not info1["rebuilt_corrupt"] and not info2["rebuilt_corrupt"]
    assert info1["key"] == info2["key"] and info1["path"] == info2["path"]
    assert set(info1) == {"key", "path", "hit", "seconds", "rebuilt_corrupt"}
    np.testing.assert_array_equal(first, second)
    assert second.dtype == np.float32 and second.shape == (3, 384)
    sidecar = json.loads(Path(info1["path"]).with_suffix(".json").read_text())
    assert sidecar["shape"] == [3, 384] and sidecar["dtype"] == "float32" and len(sidecar["sha256"]) == 64
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave no temp files


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def _flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-16:] = b"\x7f" * 16  # same size, different numbers: only the checksum can tell
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("corrupt", [_truncate, _flip_bytes], ids=["truncated", "overwritten"])
def test_corrupt_file_is_warned_and_rebuilt_with_real_model(encoder, tmp_path, corrupt):
    original, info = encode_cached(encoder, TEXTS, cache_dir=tmp_path, show_progress=False)
    corrupt(Path(info["path"]))
    with pytest.warns(RuntimeWarning, match=Path(info["path"]).name):
        rebuilt, info2 = encode_cached(encoder, TEXTS, cache_dir=tmp_path, show_progress=False)
    assert info2["rebuilt_corrupt"] and not info2["hit"]
    np.testing.assert_allclose(rebuilt, original, atol=1e-6)
    again, info3 = encode_cached(encoder, TEXTS, cache_dir=tmp_path, show_progress=False)
    assert info3["hit"] and not info3["rebuilt_corrupt"]
    np.testing.assert_array_equal(again, rebuilt)


def _drop_sidecar(npy: Path) -> None:
    npy.with_suffix(".json").unlink()


def _drop_array(npy: Path) -> None:
    npy.unlink()


def _wrong_shape(npy: Path) -> None:
    meta_path = npy.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["shape"] = [meta["shape"][0] + 1, meta["shape"][1]]
    meta_path.write_text(json.dumps(meta))


def _garbage_sidecar(npy: Path) -> None:
    npy.with_suffix(".json").write_text("{not json")


def _not_an_npy(npy: Path) -> None:
    npy.write_bytes(b"hello, I am not numpy")


@pytest.mark.parametrize("corrupt", [_drop_sidecar, _drop_array, _wrong_shape, _garbage_sidecar, _not_an_npy])
def test_every_kind_of_damage_is_detected(tmp_path, corrupt):
    enc = CountingEncoder()
    original, info = encode_cached(enc, TEXTS, cache_dir=tmp_path)
    corrupt(Path(info["path"]))
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        rebuilt, info2 = encode_cached(enc, TEXTS, cache_dir=tmp_path)
    assert info2["rebuilt_corrupt"] and enc.calls == 2
    np.testing.assert_array_equal(rebuilt, original)


def test_hit_does_not_call_encode(tmp_path):
    enc = CountingEncoder()
    encode_cached(enc, TEXTS, cache_dir=tmp_path)
    _, info = encode_cached(enc, TEXTS, cache_dir=tmp_path)
    assert info["hit"] and enc.calls == 1


def test_cache_dir_is_created(tmp_path):
    _, info = encode_cached(CountingEncoder(), TEXTS, cache_dir=tmp_path / "a" / "b")
    assert Path(info["path"]).is_file()


def test_key_changes_with_every_input():
    base = cache_key("m:1", "mean", 64, TEXTS)
    assert cache_key("m:1", "mean", 64, list(TEXTS)) == base  # deterministic
    assert cache_key("m:2", "mean", 64, TEXTS) != base  # model fingerprint
    assert cache_key("m:1", "cls", 64, TEXTS) != base  # pooling
    assert cache_key("m:1", "mean", 32, TEXTS) != base  # max_length
    assert cache_key("m:1", "mean", 64, TEXTS[::-1]) != base  # order
    assert cache_key("m:1", "mean", 64, TEXTS[:2]) != base
    assert cache_key("m:1", "mean", 64, ["ab", "c"]) != cache_key("m:1", "mean", 64, ["a", "bc"])


def test_key_changes_with_template():
    items = pd.DataFrame({"item": ["1"], "title": ["Heat"], "year": pd.array([1995], dtype="Int64"),
                          "genres": ["Action|Crime"]})
    default = build_item_texts(items).tolist()
    other = build_item_texts(items, "{title}: {genres}").tolist()
    assert cache_key("m:1", "mean", 64, default) != cache_key("m:1", "mean", 64, other)


def test_key_uses_encoder_settings(encoder, tmp_path):
    _, info = encode_cached(CountingEncoder(), TEXTS, cache_dir=tmp_path)
    _, info_real = encode_cached(encoder, TEXTS, cache_dir=tmp_path, show_progress=False)
    assert info["key"] != info_real["key"]
    assert info_real["key"] == cache_key(encoder.fingerprint, "mean", 64, TEXTS)


def test_relative_cache_dir_is_under_project_root(tmp_path, monkeypatch):
    monkeypatch.setenv("REC_SUITE_ROOT", str(tmp_path))
    _, info = encode_cached(CountingEncoder(), TEXTS, cache_dir="data/cache/embeddings")
    assert Path(info["path"]).parent == tmp_path / "data" / "cache" / "embeddings"


class BlockEncoder:
    """Deterministic per text (a hash-seeded vector), counts the texts it encodes; can fail on a text."""

    fingerprint, pooling, max_length, dim = "fake:stream", "mean", 64, 8

    def __init__(self, fail_on: str | None = None) -> None:
        self.encoded, self.fail_on = 0, fail_on

    def encode(self, texts, show_progress=True):
        if self.fail_on in texts:
            raise KeyboardInterrupt("simulated interruption")
        self.encoded += len(texts)
        rows = [np.random.default_rng(abs(hash(t)) % 2 ** 32).normal(size=self.dim) for t in texts]
        return np.asarray(rows, dtype=np.float32)


def test_streaming_encoding_resumes_after_an_interruption(tmp_path, monkeypatch):
    from rec_helpers import embedding_cache

    monkeypatch.setattr(embedding_cache, "STREAM_BLOCK", 10)
    texts = [f"item {i}" for i in range(47)]  # 5 blocks, the last one short
    whole = BlockEncoder().encode(texts)
    broken = BlockEncoder(fail_on="item 31")  # dies inside the fourth block
    with pytest.raises(KeyboardInterrupt):
        encode_cached(broken, texts, cache_dir=tmp_path, show_progress=False)
    assert broken.encoded == 30 and len(list(tmp_path.glob("*.partial.npy"))) == 1
    assert not list(tmp_path.glob("*[0-9a-f].npy"))  # no complete entry was written
    again = BlockEncoder()
    vectors, info = encode_cached(again, texts, cache_dir=tmp_path, show_progress=False)
    assert again.encoded == 17  # only the unfinished blocks (31..39, 40..46) are encoded again
    np.testing.assert_array_equal(vectors, whole)
    assert not info["hit"] and not list(tmp_path.glob("*.partial.*"))
    assert encode_cached(BlockEncoder(), texts, cache_dir=tmp_path, show_progress=False)[1]["hit"]


def test_streaming_restarts_when_the_record_does_not_match(tmp_path):
    from rec_helpers.embedding_cache import encode_streaming

    texts = [f"t{i}" for i in range(25)]
    partial = tmp_path / "k.partial.npy"
    partial.with_suffix(".json").write_text(json.dumps({"shape": [99, 8], "block": 10, "done": [0, 10]}))
    enc = BlockEncoder()
    np.testing.assert_array_equal(encode_streaming(enc, texts, partial, False, block=10), enc.encode(texts))
    assert enc.encoded == 25 + 25  # everything was encoded (then once more for the comparison)
