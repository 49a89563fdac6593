"""Frozen, whitened and fine-tuned BERT vectors, each against the random-vector control.

For one transfer method, :func:`compare_text_variants` builds the run's data with each
encoder variant (the same split; only ``encoder`` settings change), fits the method on it,
fits the method once more on random unit vectors (the control: it does not depend on the
encoder, so one fit serves every variant), and evaluates all of them on cold_test with a
paired bootstrap of each variant against the control. Selection inside each fit uses
cold_valid only. The result is written to ``text_variants.json`` in the run folder.
"""
from __future__ import annotations

from typing import Mapping

import pandas as pd

from . import pipeline
from .config import deep_merge
from .constants import HEADLINE
from .evaluation import evaluate_methods
from .runfolder import LAYOUT
from .transfer.data import TransferData
from .transfer.registry import make_method

VARIANTS: dict[str, dict] = {
    "frozen": {},
    "whitened": {"whiten": "zca"},
    "fine-tuned": {"finetune": {"enabled": True}},
}
JSON_PATH = LAYOUT.TEXT_VARIANTS


def variant_data(ctx: pipeline.Context, encoder_overrides: Mapping) -> tuple[TransferData, dict]:
    """The run's TransferData with item and interest vectors from another encoder setting."""
    cfg = deep_merge(ctx.config, {"encoder": dict(encoder_overrides)})
    split = pipeline.ensure_split(ctx)
    emb = pipeline.compute_embeddings(cfg, split, show_progress=False, run=None)
    data = TransferData.from_frames(split.items, split.users, split.source, split.target_train, split.target_valid,
                                    emb.item_ids, emb.item_vectors, emb.U_s, emb.U_t,
                                    positive_threshold=float(cfg["data"]["positive_threshold"]))
    return data, emb.info


def compare_text_variants(ctx: pipeline.Context, method: str = "adapter",
                          variants: Mapping[str, Mapping] | None = None, progress: bool = False) -> pd.DataFrame:
    """One row per variant: cold_test NDCG@10 with BERT and with random vectors, Δ, CI, p, anisotropy."""
    variants = dict(VARIANTS if variants is None else variants)
    params = pipeline.method_params(ctx.config, method)
    if "progress" in make_method(method).param_names():
        params["progress"] = progress
    split = pipeline.ensure_split(ctx)
    rankings, infos = {}, {}
    cdata = pipeline.transfer_data(ctx, control=True)
    cold = cdata.user_ids[cdata.cold_test_idx]
    top_n = int(ctx.config["evaluation"]["top_n"])
    rankings["random"] = pipeline.fit_cached(ctx, make_method(method, **params), cdata).recommend(cdata, cold, k=top_n)
    for name, overrides in variants.items():
        data, infos[name] = variant_data(ctx, overrides)
        rankings[name] = pipeline.fit_cached(ctx, make_method(method, **params), data).recommend(data, cold, k=top_n)
    ev = ctx.config["evaluation"]
    result = evaluate_methods(split.target_test, rankings, ks=tuple(ev["ks"]), n_resamples=int(ev["n_resamples"]),
                              seed=ctx.seed, controls={name: "random" for name in variants})
    rows = []
    for name in variants:
        c = result["controls"][name][HEADLINE]
        tuned = infos[name].get("finetune") or {}
        rows.append({"variant": name, "method": method, "bert": result["metrics"][name][HEADLINE]["mean"],
                     "random": result["metrics"]["random"][HEADLINE]["mean"], "delta": c["delta"],
                     "ci_low": c["ci_low"], "ci_high": c["ci_high"], "p_holm": c["p_holm"],
                     "mean_cosine": infos[name]["mean_cosine"], "finetune_seconds": tuned.get("train_seconds"),
                     "finetune_cache_hit": tuned.get("cache_hit")})
    frame = pd.DataFrame(rows).set_index("variant")
    ctx.run.write_json(JSON_PATH, {"metric": HEADLINE, "users": int(result["n_users"]),
                                   "rows": frame.reset_index().to_dict(orient="records")})
    return frame
