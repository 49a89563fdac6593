"""One parameter set for the whole suite: defaults ← YAML file ← profile ← overrides.

The defaults are ``rec_helpers/configs/default.yaml``, shipped inside the package and read with
:mod:`importlib.resources` (so they load from any folder); ``configs/default.yaml`` of the
project is a link to that one file.

``load_config`` validates section and key names (a typo gets a "did you mean" hint),
so a misspelt parameter never passes silently.
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Mapping

import yaml

from .errors import ConfigError
from .paths import project_root

ENV_PROFILE = "REC_SUITE_PROFILE"
FREE_FORM = {"transfer"}  # sections whose keys are method parameters, checked by the methods
RESERVED = {"profiles"}


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key written twice in one mapping: plain YAML keeps the last one
    silently, so the first setting would be lost without a word."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: merged keys may be overridden on purpose
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            repeated = key in seen
        except TypeError:  # an unhashable key: construct_mapping names that error itself
            continue
        if not repeated:
            seen[key] = key_node.start_mark.line
        else:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} is written twice in one mapping (lines {seen[key] + 1} and "
                f"{key_node.start_mark.line + 1}); YAML would keep only the second. Fix: delete one of them",
                key_node.start_mark)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def _load_yaml(text: str) -> object:
    """``yaml.safe_load`` that also refuses a key written twice in one mapping."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist. Fix: pass a path such as configs/default.yaml")
    try:
        data = _load_yaml(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {path} is not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, got {type(data).__name__}")
    return data


def defaults() -> dict:
    """The packaged defaults (``rec_helpers/configs/default.yaml``), from any working folder."""
    return _load_yaml(resources.files(__package__).joinpath("configs/default.yaml").read_text())


def deep_merge(base: Mapping, update: Mapping) -> dict:
    """A copy of ``base`` with ``update`` merged in, recursively for mappings."""
    out = copy.deepcopy(dict(base))
    for k, v in (update or {}).items():
        out[k] = deep_merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else copy.deepcopy(v)
    return out


def _check_keys(cfg: Mapping, ref: Mapping, where: str = "") -> None:
    for k, v in cfg.items():
        if k in RESERVED:
            continue
        if k not in ref:
            hint = difflib.get_close_matches(str(k), [str(r) for r in ref], n=1)
            raise ConfigError(f"unknown parameter {where + str(k)!r}"
                              + (f"; did you mean {where + hint[0]!r}?" if hint else f"; valid: {sorted(ref)}"))
        if isinstance(v, Mapping) and isinstance(ref[k], Mapping) and k not in FREE_FORM and ref[k]:
            _check_keys(v, ref[k], f"{where}{k}.")


def validate(cfg: Mapping) -> None:
    """Check every value before any work starts (see :func:`rec_helpers.validation.validate_config_values`)."""
    split, data = cfg["split"], cfg["data"]
    for key in ("cold_test_frac", "cold_valid_frac", "warm_test_frac", "time_source_frac"):
        v = split.get(key)
        if not isinstance(v, (int, float)) or not 0 <= v < 1:
            raise ConfigError(f"split.{key} must be a number in [0, 1), got {v!r}")
    if split["cold_test_frac"] + split["cold_valid_frac"] >= 1:
        raise ConfigError("split.cold_test_frac + split.cold_valid_frac must stay below 1 (warm users train the models)")
    for where, key, allowed in (("split", "kind", ("genre", "time")), ("split", "overlap", ("drop", "source", "target")),
                                ("interest", "method", ("mean", "text")), ("encoder", "pooling", ("mean", "cls")),
                                ("data", "source", ("wheel", "grouplens", "custom"))):
        if cfg[where].get(key) not in allowed:
            raise ConfigError(f"unknown {where}.{key} {cfg[where].get(key)!r}; choose one of {allowed}")
    if not isinstance(data.get("positive_threshold"), (int, float)):
        raise ConfigError(f"data.positive_threshold must be a number, got {data.get('positive_threshold')!r}")
    if not isinstance(cfg.get("seed"), int) or isinstance(cfg.get("seed"), bool):
        raise ConfigError(f"seed must be an integer, got {cfg.get('seed')!r}")
    ks = cfg["evaluation"]["ks"]
    if not isinstance(ks, (list, tuple)) or not ks or any(not isinstance(k, int) or k <= 0 for k in ks):
        raise ConfigError(f"evaluation.ks must be positive integers, got {ks!r}")
    from .validation import validate_config_values  # every other value, named by its key

    validate_config_values(cfg)


def load_config(
    config: str | os.PathLike | Mapping | None = None,
    profile: str | None = None,
    overrides: Mapping | None = None,
) -> dict:
    """Resolve a parameter set.

    ``config`` is a YAML path (relative to the project root or absolute), a mapping, or ``None``
    for the packaged defaults.
    ``profile`` names an entry of the file's ``profiles`` section; ``None`` reads
    ``$REC_SUITE_PROFILE`` (CI sets ``smoke``) and ``""`` means no profile. A mapping
    that is already resolved (it has ``"resolved": True``, as the suite runner passes)
    is only validated. The result has no ``profiles`` section and records ``profile``.
    """
    base = defaults()
    if isinstance(config, Mapping):
        if config.get("resolved"):
            cfg = deep_merge(base, config)
            cfg.pop("profiles", None)
            _check_keys(cfg, {**base, "profile": None, "resolved": None})
            validate(cfg)
            return cfg
        raw = dict(config)
    elif config is None:
        raw = base
    else:
        path = Path(config)
        raw = _read_yaml(path if path.is_absolute() or path.is_file() else project_root() / path)
    _check_keys(raw, base)
    profiles = {**base.get("profiles", {}), **raw.get("profiles", {})}
    if profile is None:
        profile = os.environ.get(ENV_PROFILE, "")
    cfg = deep_merge(base, raw)
    if profile:
        if profile not in profiles:
            raise ConfigError(f"unknown profile {profile!r}; this config defines {sorted(profiles)}")
        _check_keys(profiles[profile], base, f"profiles.{profile}.")
        cfg = deep_merge(cfg, profiles[profile])
    if overrides:
        _check_keys(overrides, base)
        cfg = deep_merge(cfg, overrides)
    cfg.pop("profiles", None)
    cfg["profile"] = profile or None
    cfg["resolved"] = True
    validate(cfg)
    return cfg


def config_hash(cfg: Mapping, sections: tuple[str, ...] | None = None) -> str:
    """A short sha256 of the given sections (all when None), for cache keys and run names."""
    part = {k: cfg[k] for k in (sections or sorted(cfg)) if k in cfg and k not in ("resolved", "profile", "name")}
    return hashlib.sha256(json.dumps(part, sort_keys=True, default=str).encode()).hexdigest()[:12]


def to_yaml(cfg: Mapping) -> str:
    """The config as YAML text (for manifests and reports)."""
    return yaml.safe_dump(dict(cfg), sort_keys=False)
