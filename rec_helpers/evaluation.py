"""The evaluation layer: every metric of every method, with bootstrap CIs and paired tests.

``evaluate_methods`` is the one call the notebooks make. It validates each ranking once,
builds its hit matrix once, derives all ranking metrics at all cutoffs from it (plus the
optional beyond-accuracy metrics), and resamples the evaluated users (those of
``rating_true``) with one shared resample matrix, so that per-method CIs and the paired
comparisons against a reference method use the same draws.

The metric functions themselves live in ``rec_helpers.metrics`` and the resampling in
``rec_helpers.bootstrap``; both are re-exported here.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_N_RESAMPLES,
    bootstrap_ci,
    bootstrap_means,
    check_confidence,
    check_n_resamples,
    holm_correction,
    paired_bootstrap,
    paired_from_boot,
    percentile_interval,
    resample_counts,
)
from .constants import BASELINES, COL_ITEM, COL_RANK, COL_USER, DEFAULT_K, TRANSFER_METHODS
from .errors import ConfigError, DataValidationError
from .metrics import (
    RANKING_METRICS,
    HitMatrix,
    Truth,
    auc,
    auc_values,
    catalog_coverage,
    check_k,
    check_ks,
    check_rankings,
    coverage_from,
    encode_truth,
    f1_at_k,
    headline_metric,
    hit_matrix,
    hit_matrix_from,
    hit_ratio_at_k,
    ild_from,
    intra_list_diversity,
    map_at_k,
    metric_label,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    novelty_from,
    precision_at_k,
    ranking_metrics,
    ranking_values,
    recall_at_k,
    _check_popularity,
    _lookup_per_user,
    _unit_vectors,
)

__all__ = [
    "RANKING_METRICS", "HitMatrix", "hit_matrix", "ranking_metrics", "ranking_values", "metric_label",
    "precision_at_k", "recall_at_k", "f1_at_k", "hit_ratio_at_k", "ndcg_at_k", "mrr_at_k", "map_at_k",
    "auc", "catalog_coverage", "novelty", "intra_list_diversity",
    "bootstrap_ci", "paired_bootstrap", "holm_correction", "resample_counts",
    "evaluate_methods", "summary_frame", "comparison_frame", "segment_metrics",
    "history_size_buckets", "popularity_buckets", "restrict_to_buckets",
]

POPULARITY_LABELS = ("head", "torso", "tail")


# --- evaluate_methods ----------------------------------------------------------------------
def _per_user_table(
    truth: Truth,
    rating_pred: pd.DataFrame,
    ks: tuple[int, ...],
    cols: tuple[str, str, str],
    extras: dict,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-user metric columns of one method, and its point-only metrics (coverage@k)."""
    col_user, col_item, col_rank = cols
    ranks = check_rankings(rating_pred, col_user, col_item, col_rank)
    width = None if "n_candidates" in extras else max(ks)  # AUC needs every ranked position
    hm = hit_matrix_from(truth, rating_pred, ranks, width, col_user, col_item)
    columns = ranking_values(hm, ks)
    if "n_candidates" in extras:
        columns["auc"] = auc_values(hm, extras["n_candidates"])
    # Beyond-accuracy metrics describe the lists shown to the evaluated users only.
    evaluated = rating_pred[col_user].isin(truth.users).to_numpy()
    pred, ranks = rating_pred.loc[evaluated], ranks[evaluated]
    if "item_popularity" in extras:
        by_k = novelty_from(
            truth.users, pred, ranks, ks, extras["item_popularity"], extras["n_train_users"], col_user, col_item
        )
        columns.update({metric_label("novelty", k): by_k[k][0] for k in ks})
    if "unit_vectors" in extras:
        for k in ks:
            columns[metric_label("ild", k)] = ild_from(
                truth.users, pred, ranks, k, extras["unit_vectors"], extras["item_ids"], col_user, col_item
            )
    point = {}
    if "catalog_size" in extras:
        point = {metric_label("coverage", k): coverage_from(pred, ranks, k, extras["catalog_size"], col_item) for k in ks}
    return pd.DataFrame(columns, index=hm.users), point


def _extras(
    truth: Truth, n_candidates, catalog_size, item_popularity, n_train_users, item_vectors, item_ids
) -> dict:
    """Check and prepare the optional inputs of the beyond-accuracy metrics."""
    extras: dict = {}
    if n_candidates is not None:
        extras["n_candidates"] = _lookup_per_user(n_candidates, truth.users, "n_candidates")
    if catalog_size is not None:
        extras["catalog_size"] = check_k(catalog_size, "catalog_size")
    if (item_popularity is None) != (n_train_users is None):
        raise DataValidationError("novelty needs both item_popularity and n_train_users. Fix: pass both or neither.")
    if item_popularity is not None:
        _check_popularity(item_popularity, n_train_users)
        extras["item_popularity"], extras["n_train_users"] = pd.Series(item_popularity), int(n_train_users)
    if (item_vectors is None) != (item_ids is None):
        raise DataValidationError("intra-list diversity needs both item_vectors and item_ids. Fix: pass both or neither.")
    if item_vectors is not None:
        extras["unit_vectors"], extras["item_ids"] = _unit_vectors(item_vectors, item_ids)
    return extras


def evaluate_methods(
    rating_true: pd.DataFrame,
    rankings: Mapping[str, pd.DataFrame],
    ks: Sequence[int] = DEFAULT_K,
    n_resamples: int = DEFAULT_N_RESAMPLES,
    seed: int = 0,
    reference: str | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    compare_on: Sequence[str] | None = None,
    controls: Mapping[str, str] | None = None,
    n_candidates: Mapping | pd.Series | int | None = None,
    catalog_size: int | None = None,
    item_popularity: pd.Series | None = None,
    n_train_users: int | None = None,
    item_vectors: np.ndarray | None = None,
    item_ids: Sequence | None = None,
    col_user: str = COL_USER,
    col_item: str = COL_ITEM,
    col_rank: str = COL_RANK,
) -> dict:
    """Evaluate several rankings on the users of ``rating_true`` with bootstrap CIs.

    Per method, for every metric m (``precision|recall|f1|hr|ndcg|mrr|map @k`` for k in ``ks``;
    ``auc`` with ``n_candidates``; ``novelty@k`` with ``item_popularity`` and ``n_train_users``;
    ``ild@k`` with ``item_vectors`` and ``item_ids``): mean over users and the percentile
    bootstrap CI. Users without a list are undefined (NaN) for novelty/ILD and left out of their
    means (which are means of per-user means). ``coverage@k`` (with ``catalog_size``) is not a
    mean over users: point value, CI reported as NaN. Every method is resampled on the same
    ``n_resamples`` user draws.

    With ``reference``, every other method is compared with it on each metric of
    ``compare_on`` (default: the headline metric, ``metrics.headline_metric(ks)``):
    delta = mean(m_method - m_reference), paired CI, shifted-bootstrap p-value and its Holm
    adjustment over all comparisons of the call.

    With ``controls`` ({method: its control method}, e.g. ``{"vae": "vae__random"}``), each
    method is also compared with its own control the same way (``"controls"`` in the result,
    Holm over those comparisons).

    Returns ``{"n_users", "ks", "metrics": {method: {metric: {mean, ci_low, ci_high}}},
    "comparisons": {method: {metric: {delta, ci_low, ci_high, p_value, p_holm}}},
    "controls": {method: {metric: {...}}}, "per_user": {method: DataFrame users x metrics}}``.
    """
    ks = check_ks(ks)
    n_resamples = check_n_resamples(n_resamples)
    confidence = check_confidence(confidence)
    if not isinstance(rankings, Mapping) or not rankings:
        raise DataValidationError("rankings must be a non-empty dict {method name: ranking DataFrame}.")
    if reference is not None and reference not in rankings:
        raise DataValidationError(f"reference {reference!r} is not one of the methods {list(rankings)}.")
    controls = dict(controls or {})
    unknown = sorted({n for pair in controls.items() for n in pair} - set(rankings))
    if unknown:
        raise DataValidationError(f"controls name {unknown}, which have no ranking; methods: {list(rankings)}.")
    truth = encode_truth(rating_true, col_user, col_item)
    extras = _extras(truth, n_candidates, catalog_size, item_popularity, n_train_users, item_vectors, item_ids)

    per_user, point = {}, {}
    for name, pred in rankings.items():
        try:
            per_user[name], point[name] = _per_user_table(truth, pred, ks, (col_user, col_item, col_rank), extras)
        except DataValidationError as err:
            raise DataValidationError(f"ranking of method {name!r}: {err}") from err

    counts = resample_counts(len(truth.users), n_resamples, seed)
    metrics = {name: _summarise(table, counts, confidence) for name, table in per_user.items()}
    for name, values in point.items():
        metrics[name].update({m: {"mean": v, "ci_low": np.nan, "ci_high": np.nan} for m, v in values.items()})

    comparisons: dict = {}
    compare_on = _compare_on(compare_on, ks, next(iter(per_user.values())).columns)
    if reference is not None:
        comparisons = _compare(per_user, reference, compare_on, counts, confidence)
    control_results = _compare_pairs(per_user, controls, compare_on, counts, confidence) if controls else {}
    return {"n_users": len(truth.users), "ks": ks, "metrics": metrics, "comparisons": comparisons,
            "controls": control_results, "per_user": per_user}


def _summarise(table: pd.DataFrame, counts: np.ndarray, confidence: float) -> dict[str, dict[str, float]]:
    """{metric: {mean, ci_low, ci_high}} of each column, all columns resampled in one product."""
    v = table.to_numpy(dtype=np.float64)
    low, high = percentile_interval(bootstrap_means(v, counts), confidence)
    defined = ~np.isnan(v)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(defined, v, 0.0).sum(axis=0) / defined.sum(axis=0)
    return {
        c: {"mean": float(mean[j]), "ci_low": float(low[j]), "ci_high": float(high[j])}
        for j, c in enumerate(table.columns)
    }


def _compare_on(compare_on: Sequence[str] | None, ks: tuple[int, ...], available: pd.Index) -> list[str]:
    if compare_on is None:
        return [headline_metric(ks)]
    compare_on = [compare_on] if isinstance(compare_on, str) else list(compare_on)
    unknown = [m for m in compare_on if m not in available]
    if unknown:
        raise DataValidationError(f"cannot compare on {unknown}: not computed. Available: {list(available)}.")
    return compare_on


def _compare(
    per_user: dict[str, pd.DataFrame], reference: str, compare_on: list[str], counts: np.ndarray, confidence: float
) -> dict:
    """Paired bootstrap of every method against ``reference``, Holm over all (method, metric) pairs."""
    pairs = {name: reference for name in per_user if name != reference}
    return _compare_pairs(per_user, pairs, compare_on, counts, confidence)


def _compare_pairs(
    per_user: dict[str, pd.DataFrame], pairs: Mapping[str, str], compare_on: list[str], counts: np.ndarray,
    confidence: float,
) -> dict:
    """Paired bootstrap of each ``method`` against ``pairs[method]``, Holm over all (method, metric) pairs."""
    out: dict = {}
    for name, other in pairs.items():
        diff = (per_user[name][compare_on].to_numpy(dtype=np.float64)
                - per_user[other][compare_on].to_numpy(dtype=np.float64))
        boot = bootstrap_means(diff, counts)
        out[name] = {m: paired_from_boot(diff[:, j][~np.isnan(diff[:, j])], boot[:, j], confidence)
                     for j, m in enumerate(compare_on)}
    flat = {(name, m): res["p_value"] for name, r in out.items() for m, res in r.items()}
    adjusted = holm_correction({f"{n}\x00{m}": p for (n, m), p in flat.items()})
    for (name, m) in flat:
        out[name][m]["p_holm"] = adjusted[f"{name}\x00{m}"]
    return out


def summary_frame(result: dict) -> pd.DataFrame:
    """``evaluate_methods`` metrics as a tidy frame: method, metric, mean, ci_low, ci_high."""
    rows = [
        {"method": method, "metric": metric, **stats}
        for method, by_metric in result["metrics"].items()
        for metric, stats in by_metric.items()
    ]
    return pd.DataFrame(rows, columns=["method", "metric", "mean", "ci_low", "ci_high"])


def comparison_frame(result: dict) -> pd.DataFrame:
    """``evaluate_methods`` comparisons as a tidy frame: method, metric, delta, CI, p_value, p_holm."""
    rows = [
        {"method": method, "metric": metric, **stats}
        for method, by_metric in result["comparisons"].items()
        for metric, stats in by_metric.items()
    ]
    return pd.DataFrame(rows, columns=["method", "metric", "delta", "ci_low", "ci_high", "p_value", "p_holm"])


# --- segments ------------------------------------------------------------------------------
def segment_metrics(
    per_user: pd.DataFrame,
    segment: pd.Series,
    n_resamples: int = DEFAULT_N_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean and bootstrap CI of every per-user column within each segment.

    ``per_user``: users x metrics (e.g. ``result["per_user"][method]``); ``segment``: user -> label.
    Users without a label are left out. Returns rows (segment, metric) with columns
    ``n_users, mean, ci_low, ci_high``; resampling is within each segment.
    """
    n_resamples = check_n_resamples(n_resamples)
    confidence = check_confidence(confidence)
    if not isinstance(per_user, pd.DataFrame) or not isinstance(segment, pd.Series):
        raise DataValidationError("segment_metrics needs per_user as a DataFrame and segment as a Series user -> label.")
    labels = segment.reindex(per_user.index)
    if labels.notna().sum() == 0:
        raise DataValidationError(
            "no user of per_user has a segment label. Fix: index segment by the same user ids as per_user."
        )
    order = labels.cat.categories if isinstance(labels.dtype, pd.CategoricalDtype) else sorted(labels.dropna().unique())
    rows = []
    for label in order:
        table = per_user.loc[(labels == label).to_numpy()]
        if table.empty:
            continue
        stats = _summarise(table, resample_counts(len(table), n_resamples, seed), confidence)
        rows += [{"segment": label, "metric": m, "n_users": len(table), **s} for m, s in stats.items()]
    return pd.DataFrame(rows).set_index(["segment", "metric"])


def history_size_buckets(
    source_history: pd.DataFrame,
    users: Sequence | None = None,
    n_bins: int = 3,
    col_user: str = COL_USER,
) -> pd.Series:
    """Label each user by the quantile bin of their source-history size |S_u| (rows of ``source_history``).

    Bins are ``pd.qcut`` quantiles (equal-count where ties allow; repeated edges merge bins),
    labelled like ``"Q1: 5-12"``. ``users`` defaults to the users of ``source_history``; a
    listed user without history has size 0.
    """
    if not isinstance(source_history, pd.DataFrame) or col_user not in source_history.columns:
        raise DataValidationError(f"source_history must be a DataFrame with a '{col_user}' column.")
    n_bins = int(n_bins)
    if n_bins < 1:
        raise ConfigError(f"n_bins must be >= 1, got {n_bins}.")
    sizes = source_history.groupby(col_user).size()
    if users is not None:
        sizes = sizes.reindex(pd.Index(users), fill_value=0)
    codes, edges = pd.qcut(sizes, q=n_bins, labels=False, retbins=True, duplicates="drop")
    names = [f"Q{i + 1}: {int(np.floor(lo)) + (i > 0)}-{int(np.floor(hi))}" for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:]))]
    out = pd.Series(pd.Categorical.from_codes(codes.to_numpy(dtype=np.int64), categories=names, ordered=True),
                    index=sizes.index.rename(col_user), name="history_bucket")
    return out


def popularity_buckets(
    item_popularity: pd.Series,
    catalogue: Sequence | None = None,
    head_frac: float = 0.2,
    tail_frac: float = 0.5,
) -> pd.Series:
    """Label items head / torso / tail by training popularity (number of training users).

    Items sorted by popularity, most popular first (ties by item id): the first
    ceil(head_frac * n) are ``head``, the last ceil(tail_frac * n) are ``tail``, the rest
    ``torso``. ``catalogue`` adds items without training users (popularity 0).
    """
    if not (0 <= head_frac <= 1 and 0 <= tail_frac <= 1 and head_frac + tail_frac <= 1):
        raise ConfigError(
            f"head_frac and tail_frac must be in [0, 1] with sum <= 1, got {head_frac}, {tail_frac}."
        )
    pop = pd.Series(item_popularity, dtype=np.float64)
    if catalogue is not None:
        pop = pop.reindex(pd.Index(pd.unique(pd.Index(catalogue).append(pop.index))), fill_value=0.0)
    ordered = pop.rename_axis("item").reset_index(name="pop").sort_values(["pop", "item"], ascending=[False, True])
    n = len(ordered)
    n_head, n_tail = int(np.ceil(head_frac * n)), int(np.ceil(tail_frac * n))
    position = np.arange(n)
    labels = np.where(position < n_head, "head", np.where(position >= n - n_tail, "tail", "torso"))
    return pd.Series(pd.Categorical(labels, categories=POPULARITY_LABELS, ordered=True),
                     index=pd.Index(ordered["item"].to_numpy(), name=COL_ITEM), name="popularity_bucket").sort_index()


def restrict_to_buckets(
    rating_true: pd.DataFrame,
    buckets: pd.Series,
    keep: str | Sequence[str],
    missing_label: str = "tail",
    col_item: str = COL_ITEM,
) -> pd.DataFrame:
    """Rows of ``rating_true`` whose item's bucket is in ``keep`` (items absent from ``buckets``
    get ``missing_label``: no training user means tail). Users left with no row drop out."""
    if not isinstance(rating_true, pd.DataFrame) or col_item not in rating_true.columns:
        raise DataValidationError(f"rating_true must be a DataFrame with a '{col_item}' column.")
    keep = [keep] if isinstance(keep, str) else list(keep)
    labels = pd.Series(buckets).astype(object).reindex(rating_true[col_item].to_numpy()).fillna(missing_label)
    return rating_true.loc[labels.isin(keep).to_numpy()]


# --- the metrics.json document ------------------------------------------------------------------
def text_control_summary(result: Mapping, controls: Mapping[str, str], metric: str) -> dict:
    """``{method: {"bert", "random", "delta_<metric>", "ci_low", "ci_high", "p_value", "p_holm"}}``
    from an :func:`~rec_helpers.evaluation.evaluate_methods` result computed with ``controls``."""
    out = {}
    for m, c in controls.items():
        cmp_ = result["controls"][m][metric]
        out[m] = {"control": c, "bert": result["metrics"][m][metric]["mean"],
                  "random": result["metrics"][c][metric]["mean"], f"delta_{metric}": cmp_["delta"],
                  "ci_low": cmp_["ci_low"], "ci_high": cmp_["ci_high"], "p_value": cmp_["p_value"],
                  "p_holm": cmp_["p_holm"]}
    return out


def best_against_baseline(result: Mapping, metric: str, n_resamples: int = DEFAULT_N_RESAMPLES, seed: int = 0,
                          confidence: float = DEFAULT_CONFIDENCE) -> dict:
    """The best transfer method against the strongest baseline, paired over users on ``metric``.

    Both are picked by their means in ``result`` (an :func:`evaluate_methods` result), so the p-value is not
    corrected for that choice. Returns ``{"method", "vs", "delta_<metric>", "ci_low", "ci_high", "p_value"}``,
    or ``{}`` when the result lacks a transfer method or a baseline.
    """
    means = {m: v[metric]["mean"] for m, v in result["metrics"].items() if metric in v}
    transfer = [m for m in TRANSFER_METHODS if m in means]
    baselines = [m for m in BASELINES if m in means]
    if not transfer or not baselines:
        return {}
    best = max(transfer, key=lambda m: means[m])
    strongest = max(baselines, key=lambda m: means[m])
    a = result["per_user"][best][metric]
    b = result["per_user"][strongest][metric].reindex(a.index)
    r = paired_bootstrap(a.to_numpy(), b.to_numpy(), n_resamples, seed, confidence)
    return {"method": best, "vs": strongest, f"delta_{metric}": r["delta"], "ci_low": r["ci_low"],
            "ci_high": r["ci_high"], "p_value": r["p_value"]}


def metrics_document(results: Mapping[str, dict], names: Sequence[str], reference: str | None,
                     controls: Mapping[str, str], cfg: Mapping, timings: Mapping) -> dict:
    """The ``metrics.json`` schema (see README): run facts, every method by population, the paired
    comparisons with ``reference``, with each text control and of the best transfer method with the strongest
    baseline on the headline metric, timings.

    ``results``: :func:`evaluate_methods` results by population (``cold_test`` first, with ``controls``).
    """
    ecfg = cfg["evaluation"]
    main = headline_metric(ecfg["ks"])
    return {
        "dataset": cfg["data"]["dataset"], "split": cfg["split"]["kind"], "seed": int(cfg["seed"]),
        "k": list(ecfg["ks"]), "n_resamples": int(ecfg["n_resamples"]), "confidence": 0.95,
        "n_users": {p: int(r["n_users"]) for p, r in results.items()},
        "methods": {m: {p: r["metrics"][m] for p, r in results.items()} for m in names},
        "comparisons": {m: {"vs": reference, f"delta_{main}": c[main]["delta"], "ci_low": c[main]["ci_low"],
                            "ci_high": c[main]["ci_high"], "p_value": c[main]["p_value"], "p_holm": c[main]["p_holm"]}
                        for m, c in results["cold_test"]["comparisons"].items() if main in c},
        "text_control": text_control_summary(results["cold_test"], controls, main),
        "best_vs_baseline": best_against_baseline(results["cold_test"], main, int(ecfg["n_resamples"]),
                                                  int(cfg["seed"])),
        "timings": dict(timings),
    }
