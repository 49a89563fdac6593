"""Content-addressed on-disk cache of text embeddings.

The key is ``sha256(model fingerprint, pooling, max_length, every text)``, so changing the
model weights, pooling, truncation length or a single character of any text (e.g. a new
item template) gives a new file. Each entry is two files in ``cache_dir``:

* ``<key>.npy``  -- the float32 array, written with ``np.save(..., allow_pickle=False)``;
* ``<key>.json`` -- a sidecar with shape, dtype and sha256 of the array bytes.

Both are written atomically (``runfolder.atomic_path``: temp file, fsync, ``os.replace``); the
sidecar is written last, so it doubles as the "entry complete" marker. On load, a missing
sidecar, an unreadable / truncated ``.npy``, or a shape / dtype / checksum mismatch is
reported with ``warnings.warn`` (naming the file) and the entry is rebuilt. Nothing is
ever pickled. A relative ``cache_dir`` is taken relative to the project root (see
``rec_helpers.paths.resolve``), so notebooks in ``notebooks/`` share ``data/cache/embeddings``.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .errors import CacheError
from .paths import resolve
from .runfolder import atomic_path

if TYPE_CHECKING:  # pragma: no cover
    from .encoder import BertEncoder

DEFAULT_CACHE_DIR = "data/cache/embeddings"
# Texts encoded per block when streaming: each finished block is flushed to a memory-mapped
# ``<key>.partial.npy`` and recorded in ``<key>.partial.json``, so an interrupted encoding resumes at
# the first unfinished block. A catalogue of at most one block is encoded in one call, exactly as before.
STREAM_BLOCK = 16_384
CACHE_FORMAT_VERSION = 1  # bump when the on-disk layout or the key recipe changes


def cache_key(fingerprint: str, pooling: str, max_length: int, texts: Sequence[str]) -> str:
    """sha256 hex digest over the model fingerprint, pooling, max_length and all texts (in order)."""
    digest = hashlib.sha256()
    header = {"v": CACHE_FORMAT_VERSION, "model": fingerprint, "pooling": pooling,
              "max_length": int(max_length), "n": len(texts)}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for text in texts:
        data = str(text).encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))  # length prefix: no concatenation clashes
        digest.update(data)
    return digest.hexdigest()


def array_sha256(array: np.ndarray) -> str:
    """sha256 of the raw C-ordered bytes of ``array``."""
    return hashlib.sha256(np.ascontiguousarray(array).data).hexdigest()


def encode_cached(
    encoder: "BertEncoder",
    texts: Sequence[str],
    cache_dir: str | os.PathLike = DEFAULT_CACHE_DIR,
    show_progress: bool = True,
    engine: str = "local",
    ray_settings: dict | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """``encoder.encode(texts)``, read from / written to the on-disk cache.

    ``engine="local"`` encodes here (streaming above :data:`STREAM_BLOCK` texts); ``"ray"`` on Ray
    Data actors (:func:`rec_helpers.ray_engine.ray_encode`, ``ray_settings``: the config's ``ray``).

    Returns ``(embeddings, info)`` with info ``{"key", "path", "hit", "seconds", "rebuilt_corrupt"}``.
    """
    start = time.perf_counter()
    texts = list(texts)
    key = cache_key(encoder.fingerprint, encoder.pooling, encoder.max_length, texts)
    partial = resolve(cache_dir) / f"{key}.partial.npy"

    def build() -> np.ndarray:
        if engine == "ray":
            from .ray_engine import ray_encode

            return ray_encode(encoder, texts, ray_settings, show_progress)
        if len(texts) > STREAM_BLOCK:
            return encode_streaming(encoder, texts, partial, show_progress)
        return encoder.encode(texts, show_progress=show_progress)

    return cached_array(
        key,
        build,
        cache_dir=cache_dir,
        expected_rows=len(texts),
        start=start,
    )


def encode_streaming(encoder: "BertEncoder", texts: Sequence[str], partial: Path,
                     show_progress: bool = True, block: int | None = None) -> np.ndarray:
    """Encode ``texts`` block by block into the memory-mapped ``partial`` (.npy) and resume after an
    interruption: blocks recorded in ``partial``'s ``.json`` sidecar are not encoded again. Peak memory
    is one block's tokens and activations, not the catalogue's. Returns the array (in memory); the
    partial files are removed once it is complete."""
    from tqdm.auto import tqdm

    block = block or STREAM_BLOCK
    progress = partial.with_suffix(".json")
    shape = [len(texts), int(encoder.dim)]
    done: set[int] = set()
    try:
        state = json.loads(progress.read_text())
        if state.get("shape") == shape and state.get("block") == block and partial.is_file():
            done = set(state["done"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # no usable record: start afresh
    partial.parent.mkdir(parents=True, exist_ok=True)
    out = np.lib.format.open_memmap(partial, mode="r+" if done else "w+", dtype=np.float32, shape=tuple(shape))
    starts = range(0, len(texts), block)
    for begin in tqdm(starts, desc="BERT encode (blocks)", unit="block", disable=not show_progress,
                      initial=len(done), total=len(starts)):
        if begin in done:
            continue
        out[begin:begin + block] = encoder.encode(texts[begin:begin + block], show_progress=False)
        out.flush()
        done.add(begin)
        _atomic_write(progress, lambda fh: fh.write(json.dumps({"shape": shape, "block": block,
                                                                "done": sorted(done)}).encode()))
    array = np.array(out)
    del out
    partial.unlink(missing_ok=True)
    progress.unlink(missing_ok=True)
    return array


def cached_array(
    key: str,
    build: Callable[[], np.ndarray],
    cache_dir: str | os.PathLike = DEFAULT_CACHE_DIR,
    expected_rows: int | None = None,
    start: float | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Load the float32 array stored under ``key``, or ``build()`` it and store it (see module docstring)."""
    start = time.perf_counter() if start is None else start
    folder = resolve(cache_dir)
    npy_path, meta_path = folder / f"{key}.npy", folder / f"{key}.json"
    array, problem = _load_entry(npy_path, meta_path, expected_rows)
    hit = array is not None
    if not hit:
        if problem is not None:
            warnings.warn(f"embedding cache entry {npy_path} is unusable ({problem}); rebuilding it.",
                          RuntimeWarning, stacklevel=3)
        array = np.ascontiguousarray(build(), dtype=np.float32)
        _store_entry(array, npy_path, meta_path)
    info = {
        "key": key,
        "path": str(npy_path),
        "hit": hit,
        "seconds": time.perf_counter() - start,
        "rebuilt_corrupt": problem is not None,
    }
    return array, info


def _load_entry(
    npy_path: Path, meta_path: Path, expected_rows: int | None
) -> tuple[np.ndarray | None, str | None]:
    """(array, None) on a valid hit; (None, None) on a clean miss; (None, reason) if corrupt."""
    if not npy_path.exists() and not meta_path.exists():
        return None, None
    try:
        meta = json.loads(meta_path.read_text())
        array = np.load(npy_path, allow_pickle=False)
    except FileNotFoundError as err:
        return None, f"missing file {Path(err.filename).name}"
    except (OSError, ValueError, EOFError) as err:
        return None, f"unreadable: {err}"
    problem = _check_entry(array, meta, expected_rows)
    return (array, None) if problem is None else (None, problem)


def _check_entry(array: np.ndarray, meta: dict, expected_rows: int | None) -> str | None:
    if list(array.shape) != list(meta.get("shape", [])):
        return f"shape {array.shape} != recorded {meta.get('shape')}"
    if str(array.dtype) != meta.get("dtype"):
        return f"dtype {array.dtype} != recorded {meta.get('dtype')}"
    if expected_rows is not None and array.shape[0] != expected_rows:
        return f"{array.shape[0]} rows for {expected_rows} texts"
    if array_sha256(array) != meta.get("sha256"):
        return "checksum mismatch"
    return None


def _store_entry(array: np.ndarray, npy_path: Path, meta_path: Path) -> None:
    npy_path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"shape": list(array.shape), "dtype": str(array.dtype), "sha256": array_sha256(array),
            "format_version": CACHE_FORMAT_VERSION}
    _atomic_write(npy_path, lambda fh: np.save(fh, array, allow_pickle=False))
    _atomic_write(meta_path, lambda fh: fh.write(json.dumps(meta, indent=1).encode()))


def _atomic_write(path: Path, write: Callable[[Any], Any]) -> None:
    """``write(file handle)`` through :func:`~rec_helpers.runfolder.atomic_path`; CacheError naming the fix."""
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            write(fh)
    except OSError as err:
        raise CacheError(f"could not write cache file {path}: {err}. Fix: check that "
                         "cache_dir is writable and the disk is not full.") from err


__all__ = ["DEFAULT_CACHE_DIR", "STREAM_BLOCK", "array_sha256", "cache_key", "cached_array", "encode_cached",
           "encode_streaming"]
