"""How each pipeline stage grows with the catalogue: time and peak memory at 10⁴, 10⁵ (, 10⁶) items.

Generates a synthetic custom dataset per size (a long-tailed item popularity, users with a few
favourite themes that span both domains, movie-like titles with a year and genres), then runs the
suite's own pipeline on it, stage by stage, in one run folder per size:

    split      load, clean and split (pipeline.ensure_split)
    encode     BERT item vectors into an empty embedding cache (streamed in blocks)
    interest   interest vectors u_s and u_t, written to the run (pipeline.ensure_embeddings)
    <method>   fit + cold_test and warm rankings, in chunks (pipeline.ensure_method); fit time apart
    evaluate   every metric with bootstrap CIs on cold_test and warm users (pipeline.evaluate_run)

It prints one table (seconds and peak resident memory in GiB per stage and size) and the fitted
growth exponent of each stage (slope of log time on log items). Text controls and the model cache
are off (each method is fitted once); the config is the ``large`` profile (sampled softmax, α scanned
once after training, shorter patience; see configs/default.yaml). Peak memory is the process's resident set, sampled every 50 ms.
A re-run in the same workdir starts from an empty run folder, and from an empty embedding cache when
``encode`` is timed, so that it times the work and not the caches.

    python benchmarks/scale.py --items 10000 100000 [--interactions-per-item 100]
        [--stages split encode interest pop cd_ridge evaluate] [--methods ...] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from rec_helpers import pipeline
from rec_helpers.embedding_cache import encode_cached

SOURCE_GENRES = ["Action", "Adventure", "Sci-Fi", "Thriller", "Crime", "War", "Western", "Horror", "Film-Noir", "Mystery"]
TARGET_GENRES = ["Comedy", "Drama", "Romance", "Children's", "Animation", "Musical", "Documentary", "Fantasy"]
ADJECTIVES = ("Last Dark Silent Golden Broken Hidden Lost Wild Secret Frozen Burning Endless Crimson Quiet Little "
              "Lonely Brave Final Distant Electric Strange Sweet Bitter Midnight Northern Savage Gentle Eternal "
              "Hollow Shining").split()
NOUNS = ("Night River Road City Heart Dream Summer Storm Kingdom Garden Stranger Island Letter Mirror Song "
         "Promise Horizon Empire Shadow Harbor Winter Journey Frontier Station Orchard Ghost Detective Voyage "
         "Circus Planet Diary Bridge Carnival Machine Valley Legacy Melody Lantern Tide Canyon").split()
METHODS = ["pop", "zero_shot", "cd_ridge", "cd_ridge_all", "emcdr", "kernel_map", "fusion", "adapter", "vae", "score_fusion"]


def make_catalogue(n_items: int, n_interactions: int, seed: int = 0, n_themes: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(interactions, items) in the tidy schema: Zipf-like item popularity, log-normal user activity,
    users who favour 3 of ``n_themes`` themes (each theme has source and target items), ratings that
    are higher on favoured themes, timestamps over three years."""
    rng = np.random.default_rng(seed)
    in_source = rng.random(n_items) < 0.4
    theme = rng.integers(0, n_themes, n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    popularity = popularity[rng.permutation(n_items)]
    wanted, n_interactions = n_interactions, int(n_interactions * 1.45)  # ~30 % are repeats, dropped below
    n_users = max(50, wanted // 130)
    activity = rng.lognormal(0.0, 0.8, n_users)
    per_user = np.maximum(20, np.round(activity / activity.sum() * n_interactions)).astype(np.int64)
    user = np.repeat(np.arange(n_users), per_user)
    favourites = np.stack([rng.choice(n_themes, 3, replace=False) for _ in range(n_users)])
    draw_theme = favourites[user, rng.integers(0, 3, len(user))]
    item = np.empty(len(user), dtype=np.int64)
    off_taste = rng.random(len(user)) < 0.3
    item[off_taste] = rng.choice(n_items, int(off_taste.sum()), p=popularity / popularity.sum())
    for t in range(n_themes):
        rows = np.flatnonzero(~off_taste & (draw_theme == t))
        members = np.flatnonzero(theme == t)
        p = popularity[members] / popularity[members].sum()
        item[rows] = members[rng.choice(len(members), len(rows), p=p)]
    liked = (favourites[user] == theme[item][:, None]).any(axis=1)
    rating = np.clip(np.round(3.2 + 1.1 * liked + rng.normal(0, 1.0, len(user))), 1, 5)
    inter = pd.DataFrame({"user": user, "item": item, "rating": rating,
                          "timestamp": rng.integers(1_500_000_000, 1_594_000_000, len(user))})
    inter = inter.drop_duplicates(["user", "item"])
    if len(inter) > wanted:
        inter = inter.iloc[np.sort(rng.choice(len(inter), wanted, replace=False))]
    inter = inter.reset_index(drop=True)
    inter["user"], inter["item"] = "u" + inter["user"].astype(str), "i" + inter["item"].astype(str)
    genres = np.where(in_source[:, None], np.array(SOURCE_GENRES)[rng.integers(0, len(SOURCE_GENRES), (n_items, 2))],
                      np.array(TARGET_GENRES)[rng.integers(0, len(TARGET_GENRES), (n_items, 2))])
    titles = [f"The {ADJECTIVES[a]} {NOUNS[b]}" + (f" {NOUNS[c]}" if c < len(NOUNS) // 3 else "")
              for a, b, c in zip(rng.integers(0, len(ADJECTIVES), n_items), rng.integers(0, len(NOUNS), n_items),
                                 rng.integers(0, len(NOUNS), n_items))]
    items = pd.DataFrame({"item": "i" + pd.Series(np.arange(n_items)).astype(str), "title": titles,
                          "year": rng.integers(1950, 2021, n_items),
                          "genres": ["|".join(dict.fromkeys(g)) for g in genres]})
    return inter, items


class PeakMemory:
    """Peak resident memory (GiB) of this process while the block runs (sampled every 50 ms)."""

    def __enter__(self) -> "PeakMemory":
        self.proc, self.peak, self._stop = psutil.Process(), 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.05)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def gib(self) -> float:
        return self.peak / 2 ** 30


def machine_reference(seconds: float = 3.0) -> dict:
    """This machine's speed today, so that runs on different days can be compared: float32 matmul
    GFLOP/s (torch, 1,024 × 1,024 × 4,096) and the GB/s of a 256 MB copy into a fresh array (numpy;
    includes the page faults that big temporaries pay). The same code ran 1.3-2.5x slower on some days."""
    import torch

    a, b = torch.randn(1024, 4096), torch.randn(4096, 1024)
    a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds / 2:
        a @ b
        n += 1
    gflops = n * 2 * 1024 * 4096 * 1024 / (time.perf_counter() - t0) / 1e9
    x = np.ones(2 ** 25)  # 256 MB of float64
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds / 2:
        y = x * 1.0
        n += 1
    del y
    return {"matmul_gflops": round(gflops, 1), "copy_gb_s": round(n * 2 * x.nbytes / (time.perf_counter() - t0) / 1e9, 2),
            "torch_threads": torch.get_num_threads()}


def run_size(n_items: int, per_item: int, stages: list[str], methods: list[str], workdir: Path, seed: int,
             profile: str) -> list[dict]:
    rows: list[dict] = []
    folder = workdir / f"items-{n_items}"
    # a re-run in the same workdir must time the work, not the caches: the run folder (which pipeline.start
    # would resume, finished methods included) and, when encode is timed, the embedding cache start empty
    shutil.rmtree(folder / "run", ignore_errors=True)
    if "encode" in stages:
        shutil.rmtree(folder / "embedding-cache", ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    inter, items = make_catalogue(n_items, n_items * per_item, seed)
    inter.to_parquet(folder / "interactions.parquet")
    items.to_parquet(folder / "items.parquet")
    print(f"[{n_items} items] generated {len(inter):,} interactions, {inter['user'].nunique():,} users "
          f"in {time.perf_counter() - t:.0f} s", flush=True)
    del inter
    overrides = {
        "data": {"dataset": f"synthetic-{n_items}", "source": "custom", "interactions": str(folder / "interactions.parquet"),
                 "items": str(folder / "items.parquet")},
        "split": {"kind": "genre", "source_genres": SOURCE_GENRES, "target_genres": TARGET_GENRES},
        "encoder": {"cache_dir": str(folder / "embedding-cache")},
        "transfer": {"methods": methods, "model_cache": False},
        "evaluation": {"text_control": False, "reference": "cd_ridge" if "cd_ridge" in methods else None},
    }
    ctx = pipeline.start(folder / "run", None, profile, overrides)

    def stage(name: str, fn) -> None:
        if name not in stages:
            return
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            extra = fn() or {}
            seconds = time.perf_counter() - t0
        rows.append({"items": n_items, "stage": name, "seconds": round(seconds, 1), "peak_gib": round(mem.gib, 2), **extra})
        print(json.dumps(rows[-1]), flush=True)

    def split():
        s = pipeline.ensure_split(ctx)
        return {"users": len(s.users), "interactions": len(s.source) + len(s.target_train) + len(s.target_valid)
                + len(s.target_test) + len(s.target_warm_test), "target_items": int((s.items["domain"] == "target").sum())}

    def encode():
        s = pipeline.ensure_split(ctx)
        _, info = encode_cached(pipeline.make_encoder(ctx.config), s.items["text"].tolist(),
                                cache_dir=ctx.config["encoder"]["cache_dir"], show_progress=False)
        return {"cache_hit": info["hit"]}

    stage("split", split)
    stage("encode", encode)
    stage("interest", lambda: pipeline.ensure_embeddings(ctx, show_progress=False) and None)
    for name in methods:
        def fit_and_rank(name=name):
            pipeline.ensure_method(ctx, name, progress=False)
            rec = ctx.run.manifest.get("methods", {}).get(name, {})
            return {"fit_seconds": rec.get("fit_seconds"), "rank_seconds": rec.get("rank_seconds")}
        stage(name, fit_and_rank)
    stage("evaluate", lambda: pipeline.evaluate_run(ctx, [m for m in methods]) and None)
    return rows


def exponents(table: pd.DataFrame) -> pd.Series:
    """Slope of log(seconds) on log(items) per stage (least squares over the sizes measured)."""
    out = {}
    for stage, g in table.groupby("stage", sort=False):
        g = g[g["seconds"] > 0]
        if g["items"].nunique() >= 2:
            out[stage] = float(np.polyfit(np.log(g["items"]), np.log(g["seconds"]), 1)[0])
    return pd.Series(out, name="exponent")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", nargs="+", type=int, default=[10_000, 100_000])
    ap.add_argument("--interactions-per-item", type=int, default=100, help="10⁵ items → 10⁷ raw interactions")
    ap.add_argument("--stages", nargs="+", default=None, help="default: every stage")
    ap.add_argument("--methods", nargs="+", default=METHODS)
    ap.add_argument("--workdir", default="data/scale")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="large", help="config profile (default: large; '' = the defaults)")
    args = ap.parse_args()
    stages = args.stages or ["split", "encode", "interest", *args.methods, "evaluate"]
    # the run's config needs >= 1 method even when only split/encode/interest are timed (stage() skips the rest)
    methods = [m for m in args.methods if m in stages] or args.methods
    print("machine reference:", json.dumps(machine_reference()), flush=True)
    rows = []
    for n in args.items:
        t = time.perf_counter()
        size_rows = run_size(n, args.interactions_per_item, stages, methods, Path(args.workdir), args.seed, args.profile)
        total = time.perf_counter() - t
        peak = max((r["peak_gib"] for r in size_rows), default=math.nan)
        print(f"[{n} items] pipeline total {total:.0f} s (with data generation), peak {peak:.2f} GiB", flush=True)
        rows += size_rows
    table = pd.DataFrame(rows)
    os.makedirs(args.workdir, exist_ok=True)
    table.to_csv(Path(args.workdir) / "scale.csv", index=False)
    seconds = table.pivot(index="stage", columns="items", values="seconds").add_prefix("s @ ")
    peak = table.pivot(index="stage", columns="items", values="peak_gib").add_prefix("GiB @ ")
    wide = seconds.join(peak).join(exponents(table))
    wide = wide.reindex([s for s in stages if s in wide.index])
    pd.set_option("display.width", 200)
    print("\nseconds and peak resident memory (GiB) per stage; exponent: d log(seconds) / d log(items)")
    print(wide.round(2).to_string())
    totals = table.groupby("items")[["seconds"]].sum().join(table.groupby("items")["peak_gib"].max())
    print("\nwhole pipeline (sum of stages, without data generation):")
    print(totals.round(2).to_string())
    print("machine reference at the end:", json.dumps(machine_reference()), flush=True)


if __name__ == "__main__":
    main()
