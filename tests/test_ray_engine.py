"""Ray Data encoding (encoder.engine: ray) in local mode matches the local encoder to 1e-6."""
from __future__ import annotations

import time

import numpy as np
import pytest

from rec_helpers import constants
from rec_helpers.embedding_cache import encode_cached
from rec_helpers.encoder import BertEncoder
from rec_helpers.errors import ConfigError
from rec_helpers.ray_engine import check_settings

ray = pytest.importorskip("ray", reason="the [scale] extra (make test installs it)")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_local_mode_matches_local_encoder(local_ray, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    words = "space western noir heist comedy romance drama musical robot detective".split()
    texts = [f"{' '.join(words[i % 7:i % 7 + 1 + i % 4]).title()} {i} ({1950 + i % 70}). Genres: "
             f"{words[i % 10].title()}." for i in range(120)]
    encoder = BertEncoder(constants.DEFAULT_MODEL, batch_size=16)
    local = encoder.encode(texts, show_progress=False)
    t = time.perf_counter()
    remote, info = encode_cached(encoder, texts, cache_dir=tmp_path, show_progress=False, engine="ray",
                                 ray_settings={"num_actors": 2, "batch_rows": 25})  # 5 blocks, 2 actors
    print(f"Ray local mode: {time.perf_counter() - t:.1f} s for {len(texts)} texts")
    assert not info["hit"] and remote.shape == local.shape and remote.dtype == np.float32
    np.testing.assert_allclose(remote, local, atol=1e-6, rtol=0)
    assert np.abs(remote - local).max() < 1e-6
    cached, info2 = encode_cached(encoder, texts, cache_dir=tmp_path, engine="ray")  # the cache serves both
    assert info2["hit"] and info2["key"] == info["key"]
    np.testing.assert_array_equal(cached, remote)


@pytest.mark.parametrize("settings", [{"num_actors": 0}, {"batch_rows": "many"}, {"address": 5},
                                      {"num_gpus_per_actor": -1}, {"num_cpus": 1.5}])
def test_bad_ray_settings_are_named(settings):
    with pytest.raises(ConfigError, match="ray\\."):
        check_settings(settings)
