"""Collate one or more run folders (datasets, splits, β, methods) into one comparison."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from .errors import RunFolderError
from .paths import resolve
from .runfolder import RunFolder


def read_metrics(run_dir: str | os.PathLike) -> dict:
    """A run's ``metrics.json`` (relative paths resolve against the project root)."""
    run = RunFolder(resolve(run_dir))
    if not run.has("metrics.json"):
        raise RunFolderError(f"{run.path} has no metrics.json; run 06_evaluation.ipynb for it first "
                             "(or the whole suite with rec-suite run).")
    return run.read_json("metrics.json")


def run_summary(run_dir: str | os.PathLike) -> dict:
    """Who/what/how long of one run, from its ``manifest.json`` and ``metrics.json``."""
    run = RunFolder(resolve(run_dir))
    m, man = read_metrics(run_dir), run.manifest
    cfg = man.get("config", {})
    name = run.path.name.removesuffix(".partial")  # the suite runner renames it when the run succeeds
    return {"run": name, "path": str(run.path), "dataset": m["dataset"], "split": m["split"],
            "beta": cfg.get("split", {}).get("cold_test_frac"), "seed": m["seed"],
            "cold_test users": m["n_users"].get("cold_test"), "methods": len(m["methods"]),
            "suite seconds": man.get("timings", {}).get("suite_total")}


def collate(run_dirs: Sequence[str | os.PathLike], segment: str = "cold_test") -> pd.DataFrame:
    """Tidy rows (run, dataset, split, beta, method, metric, mean, ci_low, ci_high) over runs."""
    rows = []
    for d in run_dirs:
        s = run_summary(d)
        metrics = read_metrics(d)
        for method, by_seg in metrics["methods"].items():
            for metric, v in by_seg.get(segment, {}).items():
                rows.append({"run": s["run"], "dataset": s["dataset"], "split": s["split"], "beta": s["beta"],
                             "method": method, "metric": metric, "mean": v["mean"],
                             "ci_low": v["ci_low"], "ci_high": v["ci_high"]})
    if not rows:
        raise RunFolderError(f"no {segment} metrics in {list(map(str, run_dirs))}")
    return pd.DataFrame(rows)


def comparison_table(tidy: pd.DataFrame, metric: str = "ndcg@10") -> pd.DataFrame:
    """Methods × runs: ``mean [ci_low, ci_high]`` of one metric."""
    t = tidy[tidy.metric == metric].copy()
    t["cell"] = t.apply(lambda r: f"{r['mean']:.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}]"
                        if pd.notna(r["ci_low"]) else f"{r['mean']:.4f}", axis=1)
    order = t.groupby("method")["mean"].mean().sort_values(ascending=False).index
    return t.pivot(index="method", columns="run", values="cell").loc[order]


def comparison_chart(tidy: pd.DataFrame, metric: str = "ndcg@10") -> go.Figure:
    """Grouped bars of one metric, method by run, with CI error bars."""
    t = tidy[tidy.metric == metric]
    fig = px.bar(t, x="method", y="mean", color="run", barmode="group",
                 error_y=t["ci_high"] - t["mean"], error_y_minus=t["mean"] - t["ci_low"],
                 title=f"{metric} on cold_test users across runs (95% CI)")
    fig.update_layout(yaxis_title=metric)
    return fig


def export_rankings(run_dir: str | os.PathLike, salt: str | None, out: str | os.PathLike | None = None,
                    segment: str = "cold_test") -> list[Path]:
    """Copy a run's rankings for sharing: user ids replaced by salted pseudonyms (``salt=None``
    keeps raw ids, for private use). Written atomically to ``<run>/export/`` (or ``out``); the
    run's own rankings are never modified."""
    from .privacy import pseudonymise_frame
    from .runfolder import read_parquet, write_parquet

    run = RunFolder(resolve(run_dir))
    sub = "rankings" if segment == "cold_test" else "rankings/warm"
    files = sorted(run.file(sub).glob("*.parquet")) if run.file(sub).is_dir() else []
    if not files:
        raise RunFolderError(f"{run.file(sub)} holds no rankings; run the transfer notebooks (or rec-suite run) first.")
    dest = Path(out) if out else run.file("export")
    written = []
    for f in files:
        df = read_parquet(f)
        df = pseudonymise_frame(df, salt) if salt else df
        written.append(write_parquet(dest / f"{segment}_{f.name}", df))
    return written
