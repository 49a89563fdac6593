"""Turn evaluation results into what an analyst reads: a leaderboard, charts and an honest summary."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from .bootstrap import holm_correction, paired_bootstrap
from .constants import HEADLINE, TRANSFER_METHODS
from .evaluation import segment_metrics



def text_verdict(delta: float, p_holm: float | None, alpha: float = 0.05) -> str:
    """'text wins' / 'control wins' (Holm p < alpha) or 'no significant difference'."""
    if p_holm is None or not np.isfinite(p_holm) or p_holm >= alpha:
        return "no significant difference"
    return "text wins" if delta > 0 else "control wins"


def best_and_ties(result: dict, metric: str = HEADLINE, n_resamples: int = 1000, seed: int = 0,
                  alpha: float = 0.05) -> tuple[str, dict[str, float]]:
    """The best method on ``metric`` and Holm-adjusted paired-bootstrap p-values of the others against it."""
    means = {m: v[metric]["mean"] for m, v in result["metrics"].items()}
    best = max(means, key=lambda m: (means[m], m))
    per = result["per_user"]
    raw = {m: paired_bootstrap(per[best][metric].to_numpy(), per[m][metric].to_numpy(), n_resamples, seed)["p_value"]
           for m in per if m != best}
    return best, holm_correction(raw) if raw else {}


def leaderboard(result: dict, metrics: Sequence[str] = (HEADLINE, "recall@10", "hr@10", "mrr@10", "map@10", "auc"),
                n_resamples: int = 1000, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """One row per method: ``mean [ci_low, ci_high]`` per metric, sorted by NDCG@10.

    ``mark``: ★ the best on NDCG@10, ≈ not significantly different from it (paired bootstrap,
    Holm-adjusted p ≥ ``alpha``). With text controls in ``result["controls"]``, the column
    ``text − control`` gives each text method's NDCG@10 difference to its ``<method>__random``
    control, its CI, Holm p and the verdict.
    """
    metrics = [m for m in metrics if m in next(iter(result["metrics"].values()))]
    best, p = best_and_ties(result, HEADLINE, n_resamples, seed, alpha)
    rows = []
    for method, by in result["metrics"].items():
        row = {"method": method, "mark": "★" if method == best else ("≈" if p.get(method, 0) >= alpha else "")}
        for m in metrics:
            s = by[m]
            row[m] = (f"{s['mean']:.4f}" if not np.isfinite(s["ci_low"])
                      else f"{s['mean']:.4f} [{s['ci_low']:.4f}, {s['ci_high']:.4f}]")
        row["_sort"] = by[HEADLINE]["mean"]
        row["p vs best (Holm)"] = "" if method == best else f"{p[method]:.3g}"
        c = result.get("controls", {}).get(method, {}).get(HEADLINE)
        if result.get("controls"):
            row["text − control"] = "" if c is None else (
                f"{c['delta']:+.4f} [{c['ci_low']:+.4f}, {c['ci_high']:+.4f}], p={c['p_holm']:.3g}: "
                f"{text_verdict(c['delta'], c['p_holm'], alpha)}")
        rows.append(row)
    return pd.DataFrame(rows).sort_values("_sort", ascending=False).drop(columns="_sort").set_index("method")


def tidy(result: dict) -> pd.DataFrame:
    """method, metric, k, mean, ci_low, ci_high for every @k metric."""
    rows = []
    for method, by in result["metrics"].items():
        for name, s in by.items():
            base, _, k = name.partition("@")
            rows.append({"method": method, "metric": base, "k": int(k) if k.isdigit() else None, **s})
    return pd.DataFrame(rows)


def bar_with_ci(result: dict, metric: str = HEADLINE, title: str = "") -> go.Figure:
    """Bars of one metric per method with 95% CI error bars."""
    df = tidy(result)
    base, _, k = metric.partition("@")
    df = df[(df.metric == base) & ((df.k == int(k)) if k else df.k.isna())].sort_values("mean", ascending=False)
    fig = px.bar(df, x="method", y="mean", error_y=df["ci_high"] - df["mean"], error_y_minus=df["mean"] - df["ci_low"],
                 color="method", title=title or f"{metric} with 95% bootstrap CI")
    fig.update_layout(showlegend=False, yaxis_title=metric)
    return fig


def metric_vs_k(result: dict, metric: str = "ndcg", title: str = "") -> go.Figure:
    """A metric against K, one line per method, CI as error bars."""
    df = tidy(result)
    df = df[(df.metric == metric) & df.k.notna()].sort_values("k")
    return px.line(df, x="k", y="mean", color="method", markers=True,
                   error_y=df["ci_high"] - df["mean"], error_y_minus=df["mean"] - df["ci_low"],
                   title=title or f"{metric}@K against K", labels={"mean": metric, "k": "K"})


def segment_frame(result: dict, segment: pd.Series, metric: str = HEADLINE, n_resamples: int = 200,
                  seed: int = 0) -> pd.DataFrame:
    """Per method and segment: users, mean and CI of ``metric``."""
    rows = []
    for method, per in result["per_user"].items():
        seg = segment_metrics(per[[metric]], segment, n_resamples=n_resamples, seed=seed).reset_index()
        rows.append(seg.assign(method=method))
    return pd.concat(rows, ignore_index=True)


def segment_chart(frame: pd.DataFrame, title: str) -> go.Figure:
    """Grouped bars of a segment frame (from :func:`segment_frame`)."""
    fig = px.bar(frame, x="segment", y="mean", color="method", barmode="group", title=title,
                 error_y=frame["ci_high"] - frame["mean"], error_y_minus=frame["mean"] - frame["ci_low"],
                 hover_data=["n_users"])
    fig.update_layout(yaxis_title=frame["metric"].iloc[0])
    return fig


def discussion(metrics: Mapping, reference: str = "cd_ridge", population: str = "cold_test",
               metric: str = HEADLINE) -> str:
    """Markdown written from the numbers of ``metrics.json``: where transfer helps and where it does not."""
    by = {m: v[population][metric] for m, v in metrics["methods"].items() if population in v and metric in v[population]}
    if not by:
        return f"No {metric} results for {population}."
    order = sorted(by, key=lambda m: -by[m]["mean"])
    lines = [f"**{population}, {metric}** ({metrics['n_users'][population]} users, 95% bootstrap CIs): "
             + ", ".join(f"{m} {by[m]['mean']:.3f}" for m in order) + "."]
    comps = metrics.get("comparisons", {})
    pop = by.get("pop", {}).get("mean")
    ref = by.get(reference, {}).get("mean")
    for m in [m for m in TRANSFER_METHODS if m in by]:
        s = by[m]["mean"]
        parts = [f"- **{m}** scores {s:.3f}"]
        if pop is not None:
            parts.append(f"{'above' if s > pop else 'below'} Pop ({pop:.3f}, {100 * (s - pop) / pop:+.1f}%)")
        c = comps.get(m)
        if ref is not None and c and c.get("p_holm") is not None:
            sig = c["p_holm"] < 0.05
            verdict = ("significantly " if sig else "not significantly ") + ("better than" if s > ref else "worse than")
            parts.append(f"{verdict} {reference} ({ref:.3f}; Δ = {c[f'delta_{metric}']:+.3f}, "
                         f"CI [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}], Holm p = {c['p_holm']:.3g})")
        lines.append(", ".join(parts) + ".")
    best_t = max((m for m in TRANSFER_METHODS if m in by), key=lambda m: by[m]["mean"], default=None)
    if best_t and ref is not None:
        if by[best_t]["mean"] >= ref:
            c = comps.get(best_t, {})
            sig = c.get("p_holm") is not None and c["p_holm"] < 0.05
            lines.append(f"\nThe best transfer method, **{best_t}**, reaches {by[best_t]['mean'] / ref:.3f}× the "
                         f"{reference} baseline ({'significant' if sig else 'not significant'} after Holm).")
        else:
            lines.append(f"\n**The best transfer method, {best_t}, loses to {reference}** by "
                         f"{ref - by[best_t]['mean']:.3f} {metric} ({100 * (by[best_t]['mean'] - ref) / ref:+.1f}%): "
                         "on this split, a linear item-to-item map from source to target positives is hard to beat.")
    vs_base = metrics.get("best_vs_baseline") or {}  # cold_test, headline metric
    if population == "cold_test" and f"delta_{metric}" in vs_base and vs_base["vs"] != reference:
        b, d = by[vs_base["vs"]], vs_base[f"delta_{metric}"]
        verdict = ("no significant difference" if vs_base["p_value"] >= 0.05
                   else "significantly better" if d > 0 else "significantly worse")
        lines.append(f"The strongest baseline in this run is **{vs_base['vs']}**, not {reference}: {b['mean']:.3f} "
                     f"[{b['ci_low']:.3f}, {b['ci_high']:.3f}]. {vs_base['method']} − {vs_base['vs']} = {d:+.3f} "
                     f"(CI [{vs_base['ci_low']:+.3f}, {vs_base['ci_high']:+.3f}], p = {vs_base['p_value']:.3g}, paired "
                     f"bootstrap; both were picked by their means here, and p is not corrected for that): {verdict}.")
    controls = metrics.get("text_control") or {}
    if controls:
        lines.append("\n**Does the text help?** Each method that reads BERT vectors was refitted with random unit "
                     "vectors of the same shape (its control, `<method>__random`):")
        for m, c in controls.items():
            verdict = text_verdict(c[f"delta_{metric}"], c.get("p_holm"))
            lines.append(f"- **{m}**: BERT {c['bert']:.3f} vs random {c['random']:.3f} "
                         f"(Δ = {c[f'delta_{metric}']:+.3f}, CI [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}], "
                         f"Holm p = {c['p_holm']:.3g}): {verdict}.")
        losers = [m for m, c in controls.items() if text_verdict(c[f"delta_{metric}"], c.get("p_holm")) == "control wins"]
        if losers:
            lines.append(f"For {', '.join(losers)} the random vectors do significantly better: there the BERT "
                         "vectors act as a worse item ID, and the text does not earn its place.")
    zs = by.get("zero_shot", {}).get("mean")
    if zs is not None and pop is not None and zs < pop:
        lines.append(f"Zero-shot BERT ({zs:.3f}) is below Pop: cosine between a source interest vector and target "
                     "item texts alone does not carry the interest across; the learned maps do.")
    return "\n".join(lines)
