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
    ("cd_ridge", {"l2_grid": [0.0]}, "l2_grid"),
    ("emcdr", {"rank": 0}, "rank"),
    ("fusion", {"nonsense": 1}, "no parameter"),
])
def test_bad_params(name, params, message):
    with pytest.raises(ConfigError, match=message):
        make_method(name, **params)


def test_unknown_method_lists_valid_names():
    with pytest.raises(ConfigError) as err:
        make_method("svd++")
    for name in ("pop", "zero_shot", "emcdr", "cd_ridge", "fusion", "adapter", "vae"):
        assert name in str(err.value)
    assert set(METHODS) == {"pop", "zero_shot", "emcdr", "cd_ridge", "fusion", "adapter", "vae"}


def test_unfitted_use_raises():
    with pytest.raises(ConfigError, match="fit"):
        make_method("vae").score(make_synthetic_data(), [0])
