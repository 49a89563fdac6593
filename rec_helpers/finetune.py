"""Adapters inside BERT: LoRA on the item text tower, trained on warm users' target behaviour.

The frozen encoder gives every item a vector from its text alone. Here the encoder itself
learns what target-domain users like, parameter-efficiently (``peft`` LoRA on the attention
projections; the 22M base weights stay frozen, about 74k adapter weights train):

    item tower   g(i) = normalise((normalise(mean-pool(BERT+LoRA(text_i))) − m) / s)
                 with m, s the per-dimension mean and sd of the frozen item vectors (fixed): the
                 frozen vectors share one direction (mean cosine ≈ 0.44 on ML-1M), and without
                 this standardisation the contrastive loss collapses them further (0.98 seen)
    user tower   f(u) = normalise(W z_s(u) + b),   z_s = standardised frozen source interest u_s
    loss         InfoNCE over a batch of warm (user, target positive) pairs:
                 −log softmax_j(⟨f(u), g(j)⟩ / τ)[i] with the batch's items as negatives.

Only warm users' ``target_train`` positives are read (never a cold user's target data).
Training runs ``steps`` steps (an optional ``max_seconds`` cap makes it machine-dependent), and the result is cached
by fingerprint (base model, parameters, training pairs, texts), so a warm run skips it. Only
the adapter weights are saved (``adapter_model.safetensors`` + ``adapter_config.json``,
a few hundred KB), never a copy of the model. :class:`LoraEncoder` then encodes every item
with the adapter merged in, as another encoder variant for the existing methods.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .encoder import BertEncoder, _masked_mean
from .errors import ConfigError, DataValidationError
from .runfolder import atomic_path, to_jsonable

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors", "item_head.safetensors")
DEFAULTS: dict[str, Any] = {"r": 8, "alpha": 16, "target_modules": ["query", "value"], "steps": 40,
                            "batch_size": 64, "lr": 1e-3, "temperature": 0.05, "max_seconds": None}


def check_params(params: dict) -> dict:
    """``DEFAULTS`` updated with ``params``; ConfigError naming any unknown or out-of-range value."""
    unknown = sorted(set(params) - set(DEFAULTS) - {"enabled"})
    if unknown:
        raise ConfigError(f"encoder.finetune has no parameter(s) {unknown}; valid: {sorted(DEFAULTS)} and 'enabled'.")
    out = {**DEFAULTS, **{k: v for k, v in params.items() if k != "enabled"}}
    for key in ("r", "alpha", "steps", "batch_size"):
        if isinstance(out[key], bool) or not isinstance(out[key], int) or out[key] < 1:
            raise ConfigError(f"encoder.finetune.{key} must be an integer >= 1, got {out[key]!r}")
    for key in ("lr", "temperature", "max_seconds"):
        if key == "max_seconds" and out[key] is None:
            continue  # no time cap: the fixed number of steps decides, so the adapter is the same on any machine
        if isinstance(out[key], bool) or not isinstance(out[key], (int, float)) or out[key] <= 0:
            raise ConfigError(f"encoder.finetune.{key} must be a number > 0, got {out[key]!r}")
    if not out["target_modules"] or not all(isinstance(m, str) for m in out["target_modules"]):
        raise ConfigError("encoder.finetune.target_modules must name the layers to adapt, e.g. ['query', 'value']")
    return out


def _sha(*arrays: Any) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(json.dumps(a, sort_keys=True).encode() if not isinstance(a, np.ndarray)
                 else np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def adapter_key(encoder: BertEncoder, params: dict, texts: Sequence[str], pairs: np.ndarray,
                user_vectors: np.ndarray, seed: int) -> str:
    """The fingerprint of one fine-tuning: base model, parameters, texts, training pairs and inputs."""
    return _sha(encoder.fingerprint, encoder.pooling, encoder.max_length, params, list(texts), seed,
                np.asarray(pairs, dtype=np.int64), np.asarray(user_vectors, dtype=np.float32))[:20]


def _base_model(encoder: BertEncoder):
    """A fresh float32 copy of the encoder's model (peft edits the modules it wraps)."""
    from transformers import AutoModel

    kwargs = {"local_files_only": True} if encoder.is_local else {}
    return AutoModel.from_pretrained(encoder.path, **kwargs).to(device=encoder.device, dtype=torch.float32)


def _standardise(pooled: torch.Tensor, head: dict[str, torch.Tensor]) -> torch.Tensor:
    unit = torch.nn.functional.normalize(pooled, dim=1)
    return torch.nn.functional.normalize((unit - head["mean"]) / head["scale"], dim=1)


def train_lora(encoder: BertEncoder, texts: Sequence[str], pairs: np.ndarray, user_vectors: np.ndarray,
               out_dir: str | Path, params: dict, seed: int = 0, progress: bool = True,
               frozen: np.ndarray | None = None) -> dict:
    """Fit LoRA adapters of ``encoder`` with the two-tower InfoNCE loss; save them into ``out_dir``.

    ``texts``: the items' texts; ``pairs``: (n, 2) int rows (user row, item row) of warm users'
    target positives; ``user_vectors``: frozen source interest vectors, one row per user row.
    ``frozen``: the frozen vectors of ``texts`` (for the fixed item head; encoded when None).
    Returns the history (loss per step, steps run, seconds).
    """
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import save_file

    p = check_params(params)
    pairs = np.asarray(pairs, dtype=np.int64)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or len(pairs) == 0:
        raise DataValidationError("fine-tuning needs warm users' target positives: pairs must be (n > 0, 2).")
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model = get_peft_model(_base_model(encoder), LoraConfig(
        r=p["r"], lora_alpha=p["alpha"], target_modules=list(p["target_modules"]), lora_dropout=0.0))
    ids = encoder.tokenizer(list(texts), truncation=True, max_length=encoder.max_length)["input_ids"]
    base = torch.as_tensor(np.asarray(encoder.encode(texts, show_progress=False) if frozen is None else frozen,
                                      dtype=np.float32), device=encoder.device)
    head = {"mean": base.mean(0), "scale": base.std(0).clamp(min=1e-6)}
    z = torch.as_tensor(np.asarray(user_vectors, dtype=np.float32), device=encoder.device)
    z = (z - z.mean(0)) / z.std(0).clamp(min=1e-6)
    user_tower = torch.nn.Linear(z.shape[1], encoder.dim).to(encoder.device)
    trainable = [w for w in model.parameters() if w.requires_grad] + list(user_tower.parameters())
    opt = torch.optim.AdamW(trainable, lr=float(p["lr"]))
    hist: dict = {"loss": [], "params": p, "n_pairs": int(len(pairs)), "stopped_by": "steps"}
    start = time.perf_counter()
    model.train()
    for _ in tqdm(range(p["steps"]), desc="LoRA fine-tune", disable=not progress):
        batch = pairs[rng.integers(0, len(pairs), p["batch_size"])]
        items, target = np.unique(batch[:, 1], return_inverse=True)
        input_ids, mask = encoder._pad([ids[i] for i in items])
        hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        g = _standardise(_masked_mean(hidden, mask), head)
        f = torch.nn.functional.normalize(user_tower(z[batch[:, 0]]), dim=1)
        loss = torch.nn.functional.cross_entropy(f @ g.T / p["temperature"],
                                                 torch.as_tensor(target, device=encoder.device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist["loss"].append(float(loss.detach()))
        if p["max_seconds"] is not None and time.perf_counter() - start > p["max_seconds"]:
            hist["stopped_by"] = "max_seconds"
            break
    hist.update(steps_run=len(hist["loss"]), train_seconds=time.perf_counter() - start)
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(str(tmp))  # adapter weights only (safetensors) + adapter_config.json
        save_file({k: v.detach().cpu().contiguous() for k, v in head.items()}, str(tmp / "item_head.safetensors"))
        (tmp / "history.json").write_text(json.dumps(to_jsonable(hist)))
    return hist


def is_adapter_dir(path: str | Path) -> bool:
    """Whether ``path`` holds a complete saved adapter."""
    return all((Path(path) / f).is_file() for f in ADAPTER_FILES)


class LoraEncoder(BertEncoder):
    """A :class:`BertEncoder` whose model has the LoRA adapter in ``adapter_dir`` merged in.

    Its fingerprint is the base fingerprint plus the adapter weights' hash, so the embedding
    cache keeps fine-tuned and frozen vectors apart.
    """

    def __init__(self, model: str, adapter_dir: str | Path, **kwargs: Any) -> None:
        if not is_adapter_dir(adapter_dir):
            raise ConfigError(f"{adapter_dir} is not a saved LoRA adapter: it needs {list(ADAPTER_FILES)}.")
        self.adapter_dir = Path(adapter_dir)
        super().__init__(model, **kwargs)

    def _load(self):
        from peft import PeftModel
        from safetensors.torch import load_file

        self._head = {k: v.to(self.device) for k, v in load_file(str(self.adapter_dir / "item_head.safetensors")).items()}
        tokenizer, model = super()._load()
        merged = PeftModel.from_pretrained(model, str(self.adapter_dir)).merge_and_unload()
        return tokenizer, merged.eval().to(device=self.device, dtype=torch.float32)

    def _encode_batch(self, batch_ids: list[list[int]]) -> torch.Tensor:
        """As trained: mean-pool, then the fixed item head (standardise, normalise)."""
        input_ids, mask = self._pad(batch_ids)
        hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        return _standardise(_masked_mean(hidden, mask), self._head)

    @property
    def fingerprint(self) -> str:
        weights = b"".join((self.adapter_dir / f).read_bytes() for f in ("adapter_model.safetensors",
                                                                        "item_head.safetensors"))
        return f"{super().fingerprint}+lora:{hashlib.sha256(weights).hexdigest()[:16]}"
