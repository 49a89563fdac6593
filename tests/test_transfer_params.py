"""Bad parameters raise clear ConfigErrors; the registry lists what is valid."""
from __future__ import annotations

import pytest

from rec_helpers.errors import ConfigError
from rec_helpers.transfer import METHODS, make_method, make_synthetic_data


@pytest.mark.parametrize("name, params, message", [
    ("fusion", {"alpha": 1.5}, "alpha"),
    ("fusion", {"alpha": -0.1}, "alpha"),
    ("fusion", {"alpha_grid": [0.0, 2.0]}, "alpha_grid"),
    ("fusion", {"mode": "magic"}, "mode"),
    ("adapter", {"bottleneck": 0}, "bottleneck"),
    ("adapter", {"bottleneck": -3}, "bottleneck"),
    ("adapter", {"gate": "matrix"}, "gate"),
    ("adapter", {"fill": "zeros"}, "fill"),
    ("vae", {"beta_cap": -0.1}, "beta_cap"),
    ("vae", {"lr": 0}, "lr"),
    ("vae", {"patience_updates": -1}, "patience_updates"),
    ("cd_ridge", {"l2_grid": [0.0]}, "l2_grid"),
    ("emcdr", {"rank": 0}, "rank"),
    ("fusion", {"nonsense": 1}, "no parameter"),
    ("cd_ridge", {"source_input": "ratings"}, "source_input"),
    ("cd_ridge_all", {"l2_grid": []}, "l2_grid"),
    ("kernel_map", {"power": 0}, "power"),
    ("kernel_map", {"l2_grid": [0.0, 1.0]}, "l2_grid"),
    ("kernel_map", {"target_all_weight": -1}, "target_all_weight"),
    ("kernel_map", {"source_input": "none"}, "source_input"),
    ("score_fusion", {"components": ["vae"]}, "exactly two"),
    ("score_fusion", {"components": ["vae", "vae"]}, "exactly two"),
    ("score_fusion", {"components": ["vae", "svd"]}, "not a transfer method"),
    ("score_fusion", {"components": ["vae", "score_fusion"]}, "not a transfer method"),
    ("score_fusion", {"component_params": {"adapter": {}}}, "not in components"),
    ("score_fusion", {"component_params": {"vae": {"latent_dim": 0}}}, "latent_dim"),
    ("score_fusion", {"alpha_grid": [0.5, 1.5]}, "alpha_grid"),
    ("fusion", {"id_input": "ids"}, "id_input"),
    ("adapter", {"whiten": -0.5}, "whiten"),
    ("fusion", {"item_init": -0.1}, "item_init"),
    ("adapter", {"item_text": False, "item_embedding": False}, "item_text"),
])
def test_bad_params(name, params, message):
    with pytest.raises(ConfigError, match=message):
        make_method(name, **params)


def test_unknown_method_lists_valid_names():
    with pytest.raises(ConfigError) as err:
        make_method("svd++")
    names = {"pop", "zero_shot", "emcdr", "cd_ridge", "cd_ridge_all", "cd_ridge_features", "kernel_map", "fusion", "adapter",
             "vae", "score_fusion"}
    for name in names:
        assert name in str(err.value)
    assert set(METHODS) == names


def test_unfitted_use_raises():
    with pytest.raises(ConfigError, match="fit"):
        make_method("vae").score(make_synthetic_data(), [0])
