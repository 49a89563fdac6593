"""Collate one or more run folders (datasets, splits, cold_test fractions, methods) into one comparison."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from .constants import HEADLINE
from .errors import ConfigError, RunFolderError
from .paths import resolve
from .runfolder import LAYOUT, RunFolder


def parse_runs(runs) -> list[str]:
    """The run folders of 07's ``runs`` parameter, as a list of strings.

    Accepts a list (the suite runner, ``pipeline``) or the string papermill's ``-p runs '...'``
    passes: JSON or YAML (``'["runs/a", "runs/b"]'``, ``'[runs/a, runs/b]'``), or a single folder
    (``runs/a``). ``None``, ``""`` and ``[]`` mean "no runs" (07 then reports on its own run).
    """
    import yaml

    if runs is None:
        return []
    if isinstance(runs, (str, bytes)):
        text = runs.decode() if isinstance(runs, bytes) else runs
        if not text.strip():
            return []
        try:
            runs = yaml.safe_load(text)  # JSON is YAML too
        except yaml.YAMLError as e:
            raise ConfigError(f"runs={text!r} is neither a list nor a run folder ({e}). "
                              """Fix: pass a list, e.g. -p runs '["runs/a", "runs/b"]'.""") from e
        if isinstance(runs, str):
            runs = [runs]
    if isinstance(runs, (os.PathLike,)):
        runs = [runs]
    if not isinstance(runs, (list, tuple)):
        raise ConfigError(f"runs must be a list of run folders, got {runs!r}. "
                          """Fix: e.g. -p runs '["runs/a", "runs/b"]'.""")
    out = []
    for r in runs:
        if not isinstance(r, (str, os.PathLike)) or not str(r).strip():
            raise ConfigError(f"runs holds {r!r}, which is not a run folder path. "
                              """Fix: e.g. -p runs '["runs/a", "runs/b"]'.""")
        out.append(os.fspath(r))
    return out


def locate_run(run_dir: str | os.PathLike) -> Path:
    """A run folder path: absolute as given; relative from the current folder when a folder is there
    (``rec-suite compare`` runs 07 in the comparison folder with ``runs`` relative to it), else from
    the project root."""
    p = Path(run_dir).expanduser()
    if not p.is_absolute() and (Path.cwd() / p).is_dir():
        return (Path.cwd() / p).resolve()
    return resolve(p)


def require_run(run_dir: str | os.PathLike) -> Path:
    """A finished run folder (with ``metrics.json``), resolved; a clear error when it is not one."""
    p = locate_run(run_dir)
    if not p.is_dir():
        hint = " (it is still being built or failed: its name ends in .partial)" if p.name.endswith(".partial") else ""
        raise RunFolderError(f"{run_dir} is not a run folder: {p} does not exist{hint}. "
                             "Fix: pass finished run folders, e.g. runs/default-20260101-120000.")
    if not (p / LAYOUT.METRICS).is_file():
        raise RunFolderError(f"{run_dir} has no metrics.json, so it cannot be compared; run 06_evaluation.ipynb for it "
                             "first (or the whole suite with rec-suite run).")
    return p


def report_runs(runs=None, run_dir=None, config=None, profile=None) -> list[str]:
    """What notebook 07 reports on, as absolute paths: the finished run folders of ``runs`` when given
    (nothing is built, no run folder is created), else its own run, evaluated first if needed."""
    named = parse_runs(runs)
    if named:
        return [str(require_run(r)) for r in named]
    from . import pipeline

    ctx = pipeline.start(run_dir, config, profile)
    if not ctx.run.has(LAYOUT.METRICS):   # standalone use: evaluate this run first
        pipeline.ensure_methods(ctx)
        pipeline.evaluate_run(ctx)
    return [str(ctx.run.path)]


def run_discussion(run_dir: str | os.PathLike) -> str:
    """The generated "what the numbers say" of one run, against the reference its own config names."""
    from .leaderboard import discussion

    run = RunFolder(resolve(run_dir))
    reference = run.manifest.get("config", {}).get("evaluation", {}).get("reference") or "cd_ridge"
    return discussion(read_metrics(run_dir), reference)


def read_metrics(run_dir: str | os.PathLike) -> dict:
    """A run's ``metrics.json`` (relative paths resolve against the project root)."""
    run = RunFolder(resolve(run_dir))
    if not run.has(LAYOUT.METRICS):
        raise RunFolderError(f"{run.path} has no metrics.json; run 06_evaluation.ipynb for it first "
                             "(or the whole suite with rec-suite run).")
    return run.read_json(LAYOUT.METRICS)


def run_summary(run_dir: str | os.PathLike) -> dict:
    """Who/what/how long of one run, from its ``manifest.json`` and ``metrics.json``."""
    run = RunFolder(resolve(run_dir))
    m, man = read_metrics(run_dir), run.manifest
    cfg = man.get("config", {})
    return {"run": run.name, "path": str(run.path), "dataset": m["dataset"], "split": m["split"],
            "cold_test_frac": cfg.get("split", {}).get("cold_test_frac"), "seed": m["seed"],
            "cold_test users": m["n_users"].get("cold_test"), "methods": len(m["methods"]),
            "suite seconds": man.get("timings", {}).get("suite_total")}


def collate(run_dirs: Sequence[str | os.PathLike], population: str = "cold_test") -> pd.DataFrame:
    """Tidy rows (run, dataset, split, cold_test_frac, method, metric, mean, ci_low, ci_high) over runs."""
    rows = []
    for d in run_dirs:
        s = run_summary(d)
        metrics = read_metrics(d)
        for method, by_pop in metrics["methods"].items():
            for metric, v in by_pop.get(population, {}).items():
                rows.append({"run": s["run"], "dataset": s["dataset"], "split": s["split"], "cold_test_frac": s["cold_test_frac"],
                             "method": method, "metric": metric, "mean": v["mean"],
                             "ci_low": v["ci_low"], "ci_high": v["ci_high"]})
    if not rows:
        raise RunFolderError(f"no {population} metrics in {list(map(str, run_dirs))}")
    return pd.DataFrame(rows)


def comparison_table(tidy: pd.DataFrame, metric: str = HEADLINE) -> pd.DataFrame:
    """Methods × runs: ``mean [ci_low, ci_high]`` of one metric."""
    t = tidy[tidy.metric == metric].copy()
    t["cell"] = t.apply(lambda r: f"{r['mean']:.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}]"
                        if pd.notna(r["ci_low"]) else f"{r['mean']:.4f}", axis=1)
    order = t.groupby("method")["mean"].mean().sort_values(ascending=False).index
    return t.pivot(index="method", columns="run", values="cell").loc[order]


def comparison_chart(tidy: pd.DataFrame, metric: str = HEADLINE) -> go.Figure:
    """Grouped bars of one metric, method by run, with CI error bars."""
    t = tidy[tidy.metric == metric]
    fig = px.bar(t, x="method", y="mean", color="run", barmode="group",
                 error_y=t["ci_high"] - t["mean"], error_y_minus=t["mean"] - t["ci_low"],
                 title=f"{metric} on cold_test users across runs (95% CI)")
    fig.update_layout(yaxis_title=metric)
    return fig


def export_rankings(run_dir: str | os.PathLike, salt: str | None, out: str | os.PathLike | None = None,
                    population: str = "cold_test") -> list[Path]:
    """Copy a run's rankings for sharing: user ids replaced by salted pseudonyms (``salt=None``
    keeps raw ids, for private use). Written atomically to ``<run>/export/`` (or ``out``); the
    run's own rankings are never modified."""
    from .privacy import pseudonymise_frame
    from .runfolder import read_parquet, write_parquet

    run = RunFolder(resolve(run_dir))
    sub = str(Path(LAYOUT.ranking("x", population)).parent)
    files = sorted(run.file(sub).glob("*.parquet")) if run.file(sub).is_dir() else []
    if not files:
        raise RunFolderError(f"{run.file(sub)} holds no rankings; run the transfer notebooks (or rec-suite run) first.")
    dest = Path(out) if out else run.file("export")
    written = []
    for f in files:
        df = read_parquet(f)
        df = pseudonymise_frame(df, salt) if salt else df
        written.append(write_parquet(dest / f"{population}_{f.name}", df))
    return written
