"""Method registry: ``make_method(name, **params)`` and ``load_method(path)``."""
from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from ..errors import ConfigError
from .adapter import Adapter
from .base import CONFIG_FILE, STATE_FILE, TransferMethod
from .baselines import EMCDR, CDRidge, CDRidgeAll, KernelMap, Pop, ZeroShot
from .fusion import Fusion
from .score_fusion import ScoreFusion
from .vae import VAE

METHODS: dict[str, type[TransferMethod]] = {
    cls.name: cls for cls in (Pop, ZeroShot, EMCDR, CDRidge, CDRidgeAll, KernelMap, Fusion,
                              Adapter, VAE, ScoreFusion)
}
BASELINES = ("pop", "zero_shot", "emcdr", "cd_ridge", "cd_ridge_all", "kernel_map")
TRANSFER_METHODS = ("fusion", "adapter", "vae", "score_fusion")


def make_method(name: str, **params) -> TransferMethod:
    """Build a method by name, e.g. ``make_method("fusion", mode="tuned")``.

    Unknown names or parameters raise :class:`ConfigError` listing the valid ones.
    """
    cls = METHODS.get(name)
    if cls is None:
        raise ConfigError(f"unknown method {name!r}; valid names: {sorted(METHODS)}.")
    unknown = sorted(set(params) - set(cls.param_names()))
    if unknown:
        raise ConfigError(
            f"method {name!r} has no parameter(s) {unknown}; valid: {cls.param_names()}."
        )
    return cls(**params)


def load_method(path: str | Path) -> TransferMethod:
    """Rebuild any method saved with ``.save(path)`` (config JSON + safetensors; no pickle)."""
    path = Path(path)
    if not (path / CONFIG_FILE).is_file() or not (path / STATE_FILE).is_file():
        raise ConfigError(f"{path} is not a saved method: it needs {CONFIG_FILE} and {STATE_FILE}.")
    config = json.loads((path / CONFIG_FILE).read_text())
    if config.get("method") not in METHODS:
        raise ConfigError(f"{path} holds method {config.get('method')!r}; valid names: {sorted(METHODS)}.")
    obj = METHODS[config["method"]](**config["params"])
    obj.meta_, obj.history_ = config["meta"], config["history"]
    obj._restore(load_file(str(path / STATE_FILE)))
    return obj
