"""The run folder: every artifact of one run, written atomically, read back without pickle.

Layout (``runs/<name>/``)::

    manifest.json              parameters, data source + sha256, counts, versions, timings
    split/items.parquet        item, domain, title, text, genres
    split/users.parquet        user, role (+ gender, age, occupation: the user features, when the data has them)
    split/source.parquet       user, item, rating, timestamp  (and target_train, target_valid,
                               target_test, target_warm_test)
    embeddings/ rankings/ models/ notebooks/ report/   (later steps)

Each file is written to a temporary name in its folder and moved into place with
``os.replace`` (:func:`atomic_path`), so a crash never leaves a half-written artifact behind.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from .errors import RunFolderError

MANIFEST = "manifest.json"
PRODUCED_BY = {  # which notebook writes which folder, for "missing artifact" errors
    "split": "01_preprocessing.ipynb (rec_helpers.pipeline.ensure_split)",
    "embeddings": "02_bert_encoding.ipynb (rec_helpers.pipeline.ensure_embeddings)",
    "rankings": "the transfer notebooks 03-05 (rec_helpers.pipeline.ensure_methods)",
}


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """The package's one atomic writer: yield a fresh path beside ``path`` (nothing there yet: write
    a file or build a folder at it); only if the block succeeds is a file fsync'd and the result
    moved onto ``path``, replacing what was there. A crash never leaves a half-written file or
    folder under ``path``'s name; files get the usual (umask) permissions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    box = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp = box / path.name
    try:
        yield tmp
        if tmp.is_file():
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(box, ignore_errors=True)


def to_jsonable(obj: Any) -> Any:
    """The package's one JSON sanitiser: numpy scalars/arrays, tuples and paths as plain JSON types,
    NaN and ±inf as ``None`` (null), recursively; dict keys become strings."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (np.ndarray, np.generic)):
        return to_jsonable(obj.tolist())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return str(obj) if isinstance(obj, Path) else obj


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(to_jsonable(obj), indent=2) + "\n")
    return Path(path)


def write_parquet(path: str | os.PathLike, df: pd.DataFrame) -> Path:
    """Write ``df`` (index dropped) as Parquet, atomically; same data gives the same bytes.

    Float columns with many distinct values (scores) use the byte-stream-split encoding: it
    compresses them ~12% better than the dictionary, which only pays for few values (ratings).
    """
    df = df.reset_index(drop=True)
    floats = [str(c) for c in df.columns
              if pd.api.types.is_float_dtype(df[c]) and df[c].nunique() > max(1024, len(df) // 16)]
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False, engine="pyarrow", compression="zstd",
                      use_dictionary=[str(c) for c in df.columns if str(c) not in floats],
                      use_byte_stream_split=floats or False)
    return Path(path)


def write_npy(path: str | os.PathLike, arr: np.ndarray) -> Path:
    """Write an array as ``.npy`` (no pickle), atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(arr), allow_pickle=False)
    return Path(path)


def read_parquet(path: str | os.PathLike) -> pd.DataFrame:
    """Read a Parquet artifact; a corrupt or truncated file raises :class:`RunFolderError` naming it."""
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError; ArrowIOError an OSError
        if isinstance(e, FileNotFoundError):
            raise
        step = next((s for k, s in PRODUCED_BY.items() if f"/{k}/" in Path(path).as_posix()), "the step that wrote it")
        raise RunFolderError(f"{path} is corrupt or truncated and cannot be read ({type(e).__name__}: {e}). "
                             f"Fix: delete it and rerun {step} with the same run_dir.") from e


class Layout:
    """Every path inside a run folder, relative to it, in one place: ``split(name)``,
    ``embedding(name)``, ``model(key)`` (a method or its control ``<name>__random``) and
    ``ranking(key, population)`` (cold_test at the top of ``rankings/``, others in a subfolder)."""

    MANIFEST, METRICS, NEW_ITEMS, TEXT_VARIANTS = ("manifest.json", "metrics.json", "scenarios/new_items.json",
                                                   "text_variants.json")
    LORA = "embeddings/lora"
    EMBEDDING_FILES = ("items.npy", "items.parquet", "users.parquet", "U_s.npy", "U_t.npy")
    split = staticmethod(lambda name: f"split/{name}.parquet")
    embedding = staticmethod(lambda name: f"embeddings/{name}")
    model = staticmethod(lambda key: f"models/{key}")
    ranking = staticmethod(lambda key, population="cold_test": f"rankings/{key}.parquet" if population == "cold_test"
                           else f"rankings/{population}/{key}.parquet")


LAYOUT = Layout()


class RunFolder:
    """A run folder: atomic writers, readers that say which step makes a missing file."""

    layout = LAYOUT

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).resolve()

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def name(self) -> str:
        """The run's name: its folder's name, without the ``.partial`` the suite runner builds it under."""
        return self.path.name.removesuffix(".partial")

    @property
    def display_path(self) -> str:
        """How notebooks and reports name the run: relative to the project root when it lies inside
        it (``runs/smoke-20260101-120000``), else by its name; never an absolute local path."""
        from .paths import project_root

        try:
            return self.path.with_name(self.name).relative_to(project_root()).as_posix()
        except ValueError:
            return self.name

    @classmethod
    def create(cls, path: str | os.PathLike, exist_ok: bool = True) -> "RunFolder":
        """Make the folder (and a manifest). ``exist_ok=False`` refuses an existing run."""
        p = Path(path)
        if p.exists() and not exist_ok:
            raise RunFolderError(f"run folder {p} already exists; an existing run is never overwritten. "
                                 "Fix: choose another --out name (or delete that folder yourself).")
        try:
            p.mkdir(parents=True, exist_ok=True)
            run = cls(p)
            if not run.file(MANIFEST).exists():
                write_json(run.file(MANIFEST), {})
        except OSError as e:
            raise RunFolderError(f"cannot create the run folder {p}: {e.strerror or e}. "
                                 "Fix: choose a folder you can write to (--out / run_dir).") from e
        return run

    def file(self, rel: str) -> Path:
        """The absolute path of ``rel`` inside the run."""
        return self.path / rel

    def has(self, rel: str) -> bool:
        return self.file(rel).exists()

    def require(self, rel: str) -> Path:
        """The path of ``rel``; a clear error naming the producing step when it is missing."""
        p = self.file(rel)
        if not p.exists():
            step = PRODUCED_BY.get(rel.split("/")[0], "an earlier notebook")
            raise RunFolderError(f"{p} is missing. It is written by {step}; run that first with the same run_dir.")
        return p

    # --- readers / writers -------------------------------------------------------------
    def write_parquet(self, rel: str, df: pd.DataFrame) -> Path:
        return write_parquet(self.file(rel), df)

    def read_parquet(self, rel: str) -> pd.DataFrame:
        return read_parquet(self.require(rel))

    def write_json(self, rel: str, obj: Any) -> Path:
        return write_json(self.file(rel), obj)

    def read_json(self, rel: str) -> Any:
        p = self.require(rel)
        try:
            return json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise RunFolderError(f"{p} is not valid JSON ({e}); delete it and rerun the step that writes it.") from e

    def write_npy(self, rel: str, arr: np.ndarray) -> Path:
        return write_npy(self.file(rel), arr)

    def write_bytes(self, rel: str, data: bytes) -> Path:
        """Write raw bytes (e.g. a copied safetensors file), atomically."""
        with atomic_path(self.file(rel)) as tmp:
            tmp.write_bytes(data)
        return self.file(rel)

    def read_npy(self, rel: str) -> np.ndarray:
        p = self.require(rel)
        try:
            return np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise RunFolderError(f"{p} is corrupt or truncated ({e}); delete it and rerun the step that writes it.") from e

    # --- manifest ----------------------------------------------------------------------
    @property
    def manifest(self) -> dict:
        return self.read_json(MANIFEST) if self.has(MANIFEST) else {}

    def update_manifest(self, **sections: Any) -> dict:
        """Merge ``sections`` into ``manifest.json`` (dicts merge one level deep), atomically."""
        m = self.manifest
        for k, v in sections.items():
            m[k] = {**m[k], **v} if isinstance(v, Mapping) and isinstance(m.get(k), Mapping) else v
        write_json(self.file(MANIFEST), m)
        return m

    def record_timing(self, step: str, seconds: float) -> None:
        """Add ``step: seconds`` to the manifest's ``timings``."""
        self.update_manifest(timings={step: round(float(seconds), 3)})
