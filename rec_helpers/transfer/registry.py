"""Method registry: ``make_method(name, **params)`` and ``load_method(path)``."""
from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from ..constants import BASELINES, TRANSFER_METHODS  # noqa: F401 - re-exported by rec_helpers.transfer
from ..errors import ConfigError, RunFolderError
from ..fetch import sha256_file
from .adapter import Adapter
from .base import CONFIG_FILE, STATE_FILE, STATE_REF_FILE, TransferMethod
from .baselines import EMCDR, CDRidge, CDRidgeAll, CDRidgeFeatures, KernelMap, Pop, ZeroShot
from .fusion import Fusion
from .score_fusion import ScoreFusion
from .vae import VAE

METHODS: dict[str, type[TransferMethod]] = {
    cls.name: cls for cls in (Pop, ZeroShot, EMCDR, CDRidge, CDRidgeAll, CDRidgeFeatures, KernelMap, Fusion,
                              Adapter, VAE, ScoreFusion)
}


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


def load_method(path: str | Path, model_cache: str | Path | None = None) -> TransferMethod:
    """Rebuild any method saved with ``.save(path)`` (config JSON + safetensors; no pickle).

    A run folder may hold ``state.ref.json`` instead of the state (``transfer.model_store:
    reference``): the state is then read from the model cache (``model_cache``, else the cache
    folder named in the reference) after its sha256 is checked.
    """
    path = Path(path)
    state = path / STATE_FILE
    if (path / CONFIG_FILE).is_file() and not state.is_file() and (path / STATE_REF_FILE).is_file():
        state = resolve_state_ref(path, model_cache)
    if not (path / CONFIG_FILE).is_file() or not state.is_file():
        raise ConfigError(f"{path} is not a saved method: it needs {CONFIG_FILE} and {STATE_FILE} "
                          f"(or {STATE_REF_FILE}).")
    config = json.loads((path / CONFIG_FILE).read_text())
    if config.get("method") not in METHODS:
        raise ConfigError(f"{path} holds method {config.get('method')!r}; valid names: {sorted(METHODS)}.")
    obj = METHODS[config["method"]](**config["params"])
    obj.meta_, obj.history_ = config["meta"], config["history"]
    obj._restore(load_file(str(state)))
    return obj


def write_state_ref(saved: str | Path, cached: str | Path, cache_label: str) -> bool:
    """Replace ``saved``'s state file by a reference to the identical state in the model cache folder
    ``cached`` (named ``cache_label`` in the reference, e.g. ``data/cache/models``, so that no absolute
    path is written into a run folder). Returns False, keeping the copy, when the bytes differ."""
    saved, cached = Path(saved), Path(cached)
    digest = sha256_file(saved / STATE_FILE)
    if not (cached / STATE_FILE).is_file() or sha256_file(cached / STATE_FILE) != digest:
        return False
    ref = {"cache_dir": str(cache_label), "entry": cached.name, "sha256": digest,
           "bytes": (saved / STATE_FILE).stat().st_size}
    (saved / STATE_REF_FILE).write_text(json.dumps(ref, indent=2) + "\n")
    (saved / STATE_FILE).unlink()
    return True


def resolve_state_ref(path: str | Path, model_cache: str | Path | None = None) -> Path:
    """The cached state file that ``path/state.ref.json`` points to, checked by size and sha256.

    Raises :class:`RunFolderError` saying how to get it back when the cache entry is gone or changed.
    """
    from ..paths import resolve

    path = Path(path)
    ref = json.loads((path / STATE_REF_FILE).read_text())
    roots = [Path(model_cache)] if model_cache is not None else []
    roots.append(resolve(ref["cache_dir"]))
    for root in roots:
        state = root / ref["entry"] / STATE_FILE
        if state.is_file() and state.stat().st_size == ref["bytes"] and sha256_file(state) == ref["sha256"]:
            return state
    raise RunFolderError(
        f"{path.name}: its fitted state is kept in the model cache as {ref['entry']} "
        f"(sha256 {ref['sha256'][:12]}…), which is not in {[str(r) for r in roots]} or has changed. "
        "Fix: rerun the suite to refit it (the rankings and metrics in the run folder do not need it), "
        "or set transfer.model_store: copy to keep models inside run folders that are moved between machines.")
