"""Scenarios beyond the main protocol. New items: who can recommend an item nobody has rated yet?

The new-item scenario (issue 5)
-------------------------------
1. **Pick the new items** (:func:`new_items`): a seeded random sample of ``frac`` of the
   *eligible* target items. Eligible = in the target catalogue and with at least one
   positive (rating ≥ threshold) among **all** users' target interactions of the run's split
   (target_train, target_warm_test, target_valid, target_test). The rule looks at no user's
   role and no method's output: it only drops catalogue items nobody ever liked, which could
   never be a hit anyway. (Given a :class:`TransferData`, which holds no cold_test data, the
   eligible items are those with a positive in target_train or target_valid.)
2. **Go back to before they existed** (:func:`without_items`): the new items leave the target
   catalogue and every training input (target_train positives and seen-marks, target_valid
   used for tuning/early stopping, and the warm users' target interest u_t, recomputed
   without them). The source side is unchanged. Every method is fitted on this data.
3. **Score the full catalogue** (old + new items) for cold_test users
   (:func:`full_catalogue_scores`). Old items get the fitted model's scores. A new item gets
   what the method can know about an item it never saw — its BERT vector only:

   - zero_shot: cos(u_s, e_new), exactly as for an old item;
   - fusion, adapter (two-tower): ⟨f(u'), g(e_new)⟩ + b_new with the item tower on the vector,
     the free item embedding at 0 (the mean of its random start) and b_new = the **mean** of the fitted
     item biases (a new item is treated as an average item; see ``bias``; ``bias="calibrated"``
     picks the mean, a quantile or "mapped" on cold_valid with pseudo-new items,
     :func:`calibrate_new_item_bias`; "mapped": the item embedding and bias are mapped from the
     vector by a ridge fitted on the old items, :func:`~rec_helpers.transfer.base.new_item_parameters`);
     Both are fitted with the item tower on (``item_text=True``) here, whatever the run's config says
     (the default adapter knows its items by their IDs only);
   - vae: fitted with the **text-aware decoder** (W = P·E_t) here, whatever the run's config
     says; a new item scores μ(x_s, u_s)·P ê_new + b_new (item embedding 0, mean bias);
   - pop, cd_ridge, emcdr (and a VAE with the ID decoder): ID-only. Their parameters are
     indexed by training items, so a new item has no score at all: −inf, never ranked.
4. **Measure**, on the cold_test users with ≥ 1 new item among their hidden target positives
   (full ranking, training items excluded, top ``k``):

   - ``new_recall@k`` = |top-k ∩ relevant new items| / |relevant new items|;
   - ``new_share@k`` = (new items in the top k) / k, to compare with the new items' share of
     the catalogue (in ``info``);
   - ``ndcg@10`` on all hidden positives (old and new), binary gain, log2 discount;
   - ``shelf_recall@k``: new_recall@k when only the new items are ranked (a "new arrivals"
     shelf): it asks whether a method orders new items by the user's taste, apart from how
     they compete with established items (random order: k / n_new in expectation);

   each a mean over users with a 95% percentile bootstrap CI (same resamples for every
   method, :func:`rec_helpers.bootstrap.bootstrap_ci`).
5. **The ceiling** (:func:`id_ceiling`): the best ID-only method refitted *with* the new items'
   interactions. Its recall@k minus the same method's without them (the headroom) is what the new
   items' real interactions add to that model: a reference for what the text is asked to find from
   BERT vectors alone, not a bound on it (a text-aware method is another model).

Entry points: :func:`new_item_scenario` (a pipeline context; writes
``scenarios/new_items.json``) and :func:`run_new_item_scenario` (any TransferData + truth).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .bootstrap import DEFAULT_N_RESAMPLES, bootstrap_ci
from .constants import (BOTH, COL_DOMAIN, COL_ITEM, COL_RANK, COL_RATING, COL_SCORE, COL_USER, DEFAULT_POSITIVE_THRESHOLD,
                        DEFAULT_SEED, TARGET)
from .errors import ConfigError, DataValidationError
from .interest import l2_normalise
from .metrics import check_k, ndcg_at_k, recall_at_k
from .runfolder import LAYOUT
from .transfer.base import MAPPED, TransferMethod, check_bias_rule, scan_grid
from .transfer.data import TransferData
from .transfer.ranking import mask_seen, metric_at_k, top_k

DEFAULT_METHODS = ("pop", "cd_ridge", "cd_ridge_all", "cd_ridge_features", "kernel_map", "emcdr", "zero_shot", "fusion",
                   "adapter", "vae")
NDCG_K = 10
RESULT_COLUMNS = ["method", "metric", "mean", "ci_low", "ci_high", "n_users"]
JSON_PATH = LAYOUT.NEW_ITEMS
SCORING = {  # how a new item is scored, by method (written to scenarios/new_items.json)
    "zero_shot": "cos(u_s, e_i) for old and new items alike (text only)",
    "fusion": "old: fitted two-tower; new: <f(u''), g(e_new)> + mean item bias (item embedding 0)",
    "adapter": "old: fitted two-tower; new: <f(u'), g(e_new)> + mean item bias (item embedding 0)",
    "vae": "old: fitted text decoder; new: mu(x_s, u_s) . P e_new + mean item bias (item embedding 0)",
    "text": "old: fitted model; new: from the BERT vector only (no item embedding, mean item bias)",
    "id_only": "ID-only: no score for an item never seen in training (never ranked)",
}


# --- 1. which items are new ----------------------------------------------------------------
def check_frac(frac: object) -> float:
    """``frac`` as a float, or ConfigError unless 0 < frac < 1."""
    if isinstance(frac, (bool, np.bool_)):
        frac = float("nan")
    try:
        value = float(frac)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise ConfigError(f"frac={frac!r} must lie strictly between 0 and 1 (the share of target items "
                          "held out as new), e.g. frac=0.1.")
    return value


def _positive_items(frame: pd.DataFrame, threshold: float) -> set:
    if COL_RATING in frame.columns:
        frame = frame[frame[COL_RATING] >= threshold]
    return set(frame[COL_ITEM])


def eligible_items(data_or_split, positive_threshold: float | None = None) -> np.ndarray:
    """Target-catalogue items with ≥ 1 positive among all users' target interactions (catalogue order).

    A :class:`~rec_helpers.splits.Split` gives its every target frame (target_train,
    target_warm_test, target_valid, target_test); a :class:`TransferData` only knows
    target_train and target_valid positives.
    """
    if isinstance(data_or_split, TransferData):
        data = data_or_split
        liked = np.asarray((data.X_target_train + data.X_target_valid).sum(axis=0)).ravel() > 0
        return data.target_item_ids[liked]
    if not all(hasattr(data_or_split, a) for a in ("items", "target_train", "target_test")):
        raise DataValidationError(f"new_items needs a TransferData or a Split, got {type(data_or_split).__name__}.")
    split = data_or_split
    thr = DEFAULT_POSITIVE_THRESHOLD if positive_threshold is None else float(positive_threshold)
    catalogue = split.items.loc[split.items[COL_DOMAIN].isin([TARGET, BOTH]), COL_ITEM].to_numpy()
    liked = set()
    for name in ("target_train", "target_warm_test", "target_valid", "target_test"):
        frame = getattr(split, name, None)
        if frame is not None:
            liked |= _positive_items(frame, thr)
    return catalogue[np.isin(catalogue, list(liked))]


def new_items(data_or_split, frac: float = 0.1, seed: int = DEFAULT_SEED,
              positive_threshold: float | None = None) -> np.ndarray:
    """A seeded random ``frac`` of the eligible target items (see :func:`eligible_items`), catalogue order.

    round(frac · n_eligible) items, at least 1 and at most n_eligible − 1; the same data, frac
    and seed always give the same items.
    """
    frac = check_frac(frac)
    pool = eligible_items(data_or_split, positive_threshold)
    if len(pool) < 2:
        raise DataValidationError(f"only {len(pool)} target item(s) have a positive: nothing to hold out as new.")
    n = int(min(max(1, round(frac * len(pool))), len(pool) - 1))
    pick = np.random.default_rng(int(seed)).choice(len(pool), size=n, replace=False)
    return pool[np.sort(pick)]


# --- 2. the data before the new items existed ------------------------------------------------
def _new_mask(data: TransferData, item_ids: Sequence) -> np.ndarray:
    ids = list(item_ids)
    unknown = [i for i in ids if i not in data.target_item_index]
    if unknown:
        raise DataValidationError(f"{len(unknown)} new item(s) are not in the target catalogue, e.g. {unknown[:3]}.")
    mask = np.zeros(data.n_target, bool)
    mask[[data.target_item_index[i] for i in ids]] = True
    if mask.all() or not mask.any():
        raise DataValidationError("hold out at least one and fewer than all target items.")
    return mask


def without_items(data: TransferData, item_ids: Sequence, U_t: np.ndarray | None = None) -> TransferData:
    """``data`` as it was before ``item_ids`` existed: out of the target catalogue and of every
    training input (target_train, target_seen, target_valid, u_t); the source side unchanged.

    ``U_t``: the warm users' u_t rebuilt without the new items (the pipeline passes the
    run's own interest vectors). Without it, the rows of users who had a positive on a new
    item are recomputed as the plain mean of their remaining positives' vectors (L2-normalised;
    TransferData keeps no ratings for the centred weights), the other rows are kept as they are.
    """
    new = _new_mask(data, item_ids)
    keep = np.flatnonzero(~new)
    X_train = data.X_target_train[:, keep].tocsr()
    if U_t is None:
        U_t = data.U_t.copy()
        touched = np.flatnonzero(np.asarray(data.X_target_train[:, np.flatnonzero(new)].sum(axis=1)).ravel() > 0)
        if len(touched):
            x = X_train[touched].astype(np.float64)
            mean = np.asarray(x @ data.E_target[keep].astype(np.float64)) / np.maximum(
                np.asarray(x.sum(axis=1)), 1.0)
            U_t[touched] = l2_normalise(mean).astype(np.float32)
    else:
        U_t = np.asarray(U_t, dtype=np.float32)
        if U_t.shape != data.U_t.shape:
            raise DataValidationError(f"U_t has shape {U_t.shape}; expected {data.U_t.shape}.")
    ids = data.target_item_ids[keep]
    return dataclasses.replace(
        data, target_item_ids=ids, E_target=data.E_target[keep], U_t=U_t, X_target_train=X_train,
        target_seen=data.target_seen[:, keep].tocsr(), X_target_valid=data.X_target_valid[:, keep].tocsr(),
        target_item_index={k: i for i, k in enumerate(ids)})


# --- 3. full-catalogue scores ----------------------------------------------------------------
def full_catalogue_scores(method: TransferMethod, before: TransferData, full: TransferData,
                          user_idx: np.ndarray, bias: str | float = "mean") -> np.ndarray:
    """Scores over ``full``'s target catalogue (old + new items), shape (len(user_idx), full.n_target).

    ``method`` is fitted on ``before`` (= :func:`without_items` of ``full``; same user rows).
    Old items: ``method.score``; new items: ``method.score_items`` on their BERT vectors, or
    −inf when the method is ID-only (``can_score_items`` False). Seen items are not masked here.
    """
    idx = np.asarray(user_idx, dtype=np.int64)
    old = np.array([full.target_item_index[i] for i in before.target_item_ids], dtype=np.int64)
    new = np.setdiff1d(np.arange(full.n_target), old)
    out = np.full((len(idx), full.n_target), -np.inf, dtype=np.float64)
    out[:, old] = method.score(before, idx)
    if len(new) and method.can_score_items:
        out[:, new] = method.score_items(before, idx, full.E_target[new], bias=bias)
    return out


# --- 3b. the new items' bias, chosen on cold_valid with pseudo-new items ------------------------
CALIBRATED = "calibrated"
CALIBRATION_GRID = ("mean", 0.5, 0.75, 0.9, 0.95, 0.99, 1.0, MAPPED)  # b_new: the mean or a quantile of the
# fitted biases, or (v_new, b_new) mapped from the item vector (transfer.base.new_item_parameters)


def calibrate_new_item_bias(model: TransferMethod, before: TransferData, frac: float = 0.1, seed: int = DEFAULT_SEED,
                            k: int = 20, grid: Sequence[str | float] = CALIBRATION_GRID,
                            ) -> tuple[str | float, dict[str, float | None]]:
    """The new-item bias rule of a fitted text-aware ``model``, chosen on cold_valid; no real new item is used.

    Pseudo-new items: a seeded ``frac`` of ``before``'s eligible items (all of them old), scored
    for cold_valid users through the text path (:meth:`score_items`, as a new item would be) while
    every other item keeps its fitted score. The rules: the mean or a quantile of the fitted biases
    (one bias for every new item), or "mapped" (each pseudo-new item's embedding and bias mapped
    from its vector by a ridge fitted on the *other* old items). The rule of ``grid`` with the best
    cold_valid Recall@k on all hidden positives wins (the first on ties). Why: with the mean item bias a new
    item competes as an average item against established ones and almost never reaches a top 20,
    although the model orders new items well among themselves (``shelf_recall``).
    Returns (rule, {str(rule): cold_valid recall@k}); ("mean", {}) for a method that ignores it.
    """
    if not model.can_score_items:
        return "mean", {}
    idx = before.cold_valid_idx
    truth = before.X_target_valid[idx].tocsr()
    has = np.diff(truth.indptr) > 0
    idx, truth = idx[has], truth[has]
    if not len(idx):
        return "mean", {}
    cols = np.array([before.target_item_index[i] for i in new_items(before, frac, seed + 1)], dtype=np.int64)
    scores = model.score(before, idx).astype(np.float64)
    others = np.setdiff1d(np.arange(before.n_target), cols)  # "mapped" learns from the other old items only
    state = {}

    def recall() -> float:
        s = scores.copy()
        s[:, cols] = model.score_items(before, idx, before.E_target[cols], bias=state["rule"], fit_items=others)
        return metric_at_k(mask_seen(s, before.target_seen[idx]), truth, k, "recall")

    rule, curve, _ = scan_grid(list(grid), lambda r: state.__setitem__("rule", r), recall)
    return rule, curve


# --- 4. metrics --------------------------------------------------------------------------------
def _ranking_frame(scores: np.ndarray, full: TransferData, users: list, width: int) -> pd.DataFrame:
    """Top-``width`` (user, item, rank, score) of masked scores; −inf items are never listed."""
    top = top_k(scores, width)
    top_scores = np.take_along_axis(scores, top, axis=1)
    pred = pd.DataFrame({COL_USER: np.repeat(np.asarray(users, dtype=object), top.shape[1]),
                         COL_ITEM: full.target_item_ids[top.ravel()],
                         COL_RANK: np.tile(np.arange(1, top.shape[1] + 1), len(users)),
                         COL_SCORE: top_scores.ravel()})
    return pred[np.isfinite(pred[COL_SCORE])].reset_index(drop=True)


def per_user_metrics(scores: np.ndarray, full: TransferData, users: Sequence, truth: pd.DataFrame,
                     new_ids: Sequence, k: int = 20) -> pd.DataFrame:
    """Per user (index = users), from masked full-catalogue scores (rows follow ``users``):

    - ``new_recall@k``: relevant new items in the top k / relevant new items;
    - ``new_share@k``: new items in the top k / k;
    - ``ndcg@10`` and ``recall@k``: on all hidden positives (old and new);
    - ``shelf_recall@k``: the same recall when only the new items are ranked (a "new arrivals"
      shelf): does the method order new items by the user's taste, whatever the old items score?
      Random order gives k / n_new in expectation.

    Seen items and items a method cannot score are −inf and never listed. Recall and NDCG come
    from :mod:`rec_helpers.metrics` (the leaderboard's definitions).
    """
    users = list(users)
    new_set = set(new_ids)
    pred = _ranking_frame(scores, full, users, max(int(k), NDCG_K))
    truth = truth[truth[COL_USER].isin(users)]
    truth_new = truth[truth[COL_ITEM].isin(new_set)]
    recall = recall_at_k(truth_new, pred, k=k, per_user=True)
    recall_all = recall_at_k(truth, pred, k=k, per_user=True)
    ndcg = ndcg_at_k(truth, pred, k=NDCG_K, per_user=True)
    top_k_pred = pred[pred[COL_RANK] <= k]
    share = top_k_pred[COL_ITEM].isin(new_set).groupby(top_k_pred[COL_USER]).sum() / k
    shelf_scores = np.full_like(scores, -np.inf)
    new_cols = [full.target_item_index[i] for i in new_ids]
    shelf_scores[:, new_cols] = scores[:, new_cols]
    shelf = recall_at_k(truth_new, _ranking_frame(shelf_scores, full, users, int(k)), k=k, per_user=True)
    index = pd.Index(users, name=COL_USER)
    return pd.DataFrame({f"new_recall@{k}": recall.reindex(index), f"new_share@{k}": share.reindex(index).fillna(0.0),
                         f"ndcg@{NDCG_K}": ndcg.reindex(index), f"recall@{k}": recall_all.reindex(index),
                         f"shelf_recall@{k}": shelf.reindex(index)}, index=index)


def summarise(per_user: Mapping[str, pd.DataFrame], n_resamples: int = DEFAULT_N_RESAMPLES,
              seed: int = 0) -> pd.DataFrame:
    """Tidy frame (method, metric, mean, ci_low, ci_high, n_users): 95% bootstrap CIs over users."""
    rows = []
    for method, table in per_user.items():
        for metric in table.columns:
            values = table[metric].to_numpy(dtype=np.float64)
            ci = bootstrap_ci(values, n_resamples=n_resamples, seed=seed)
            rows.append({"method": method, "metric": metric, **ci, "n_users": int(np.isfinite(values).sum())})
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def figure(frame: pd.DataFrame, references: Mapping[str, tuple[float, str]] | None = None,
           title: str = "New items unseen in training: who can still recommend them?",
           can_score: Mapping[str, bool] | None = None) -> go.Figure:
    """One panel per metric, one bar per method with its 95% bootstrap CI.

    ``references``: metric → (value, label) drawn as a dotted line in that panel (e.g. the new
    items' share of the catalogue, the random-order shelf recall). ``can_score``: method →
    whether it can score new items (ID-only methods are drawn in grey).
    """
    from plotly.subplots import make_subplots

    metrics = list(dict.fromkeys(frame["metric"]))
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics, horizontal_spacing=0.06)
    for col, metric in enumerate(metrics, start=1):
        grp = frame[frame["metric"] == metric]
        colours = ["#9e9e9e" if can_score is not None and not can_score.get(m, True) else "#1f77b4"
                   for m in grp["method"]]
        fig.add_trace(go.Bar(
            x=grp["method"], y=grp["mean"], name=metric, marker_color=colours, showlegend=False,
            error_y=dict(type="data", array=(grp["ci_high"] - grp["mean"]).to_numpy(),
                         arrayminus=(grp["mean"] - grp["ci_low"]).to_numpy()),
            customdata=grp[["ci_low", "ci_high", "n_users"]].to_numpy(),
            hovertemplate="%{x}<br>" + metric + " = %{y:.4f} [%{customdata[0]:.4f}, %{customdata[1]:.4f}]"
                          "<br>users: %{customdata[2]}<extra></extra>"), row=1, col=col)
        if references and metric in references:
            value, label = references[metric]
            fig.add_hline(y=value, line_dash="dot", annotation_text=label, annotation_position="top left",
                          row=1, col=col)
    fig.update_yaxes(title_text="mean over users (95% bootstrap CI)", row=1, col=1)
    fig.update_layout(title=title + " (grey: ID-only, cannot score a new item)" if can_score else title,
                      height=420, width=max(900, 300 * len(metrics)))
    return fig


# --- the scenario --------------------------------------------------------------------------------
def run_new_item_scenario(data: TransferData, truth: pd.DataFrame, new_ids: Sequence,
                          models: Mapping[str, TransferMethod], k: int = 20,
                          U_t: np.ndarray | None = None, n_resamples: int = DEFAULT_N_RESAMPLES,
                          seed: int = 0, bias: str | float = "mean", show_progress: bool = False,
                          fit: Callable[[TransferMethod, TransferData], TransferMethod] | None = None,
                          ceiling: bool = True,
                          ) -> tuple[pd.DataFrame, go.Figure, dict]:
    """Fit every (unfitted) model of ``models`` on ``without_items(data, new_ids)`` and measure it on cold_test users.

    ``fit(model, data)`` fits one model (default ``model.fit(data)``; a run passes
    :func:`rec_helpers.pipeline.fit_cached`, so a repeated run reuses its fits).

    ``truth``: the cold_test users' hidden target positives (user, item). Every cold_test user
    with a hidden positive is evaluated on all of them, old and new items alike (``ndcg@10``,
    ``recall@k``); ``new_recall@k`` and ``shelf_recall@k`` are means over the users with ≥ 1 new
    item among them (NaN for the others). ``info["text_vs_id"]``: the best text-aware method
    against the best ID-only one on ``recall@k`` (paired bootstrap). ``info["ceiling"]`` (``ceiling=True``):
    :func:`id_ceiling`, that ID-only method refitted *with* the new items' interactions, a reference
    for what those interactions add to it (not a method of the scenario, and not a bound on text).
    Returns the tidy frame, the figure and an info dict (counts, seconds per method, which methods can
    score new items).
    """
    k = check_k(k)
    if not models:
        raise ConfigError("models is empty; pass at least one, e.g. {'pop': make_method('pop')}.")
    if bias != CALIBRATED:
        check_bias_rule(bias)  # a bad bias rule fails here, before any fit
    label = {"mean": "mean item bias", MAPPED: "item embedding and bias mapped from the vector",
             CALIBRATED: "item bias chosen on cold_valid (pseudo-new items)"}
    bias_label = label.get(bias) if isinstance(bias, str) else f"{float(bias):g}-quantile item bias"
    new_ids = list(new_ids)
    rules, calibration = {}, {}
    if bias == CALIBRATED:  # as many pseudo-new items as there are new ones
        pseudo_frac = min(0.5, len(new_ids) / max(1, len(eligible_items(data))))
    new_mask = _new_mask(data, new_ids)
    before = without_items(data, new_ids, U_t)
    cold = data.user_ids[data.cold_test_idx]
    truth = truth[truth[COL_USER].isin(set(cold)) & truth[COL_ITEM].isin(data.target_item_index)]
    with_new = set(truth.loc[truth[COL_ITEM].isin(set(new_ids)), COL_USER])
    has_truth = set(truth[COL_USER])
    users = [u for u in cold if u in has_truth]
    if not with_new:
        raise DataValidationError("no cold_test user has a new item among their hidden target positives; "
                                  "raise frac or use another seed.")
    idx = data.users_to_idx(users)
    seen = data.target_seen[idx]
    per_user, seconds, can_score = {}, {}, {}
    names = list(models)
    bar = None
    if show_progress:
        from tqdm.auto import tqdm
        bar = tqdm(names, desc="new-item scenario")
    for name in names:
        if bar is not None:
            bar.set_postfix_str(name)
        t0 = time.perf_counter()
        model = fit(models[name], before) if fit is not None else models[name].fit(before)
        rules[name] = bias
        if bias == CALIBRATED:
            rules[name], calibration[name] = calibrate_new_item_bias(model, before, pseudo_frac, seed, k)
        scores = mask_seen(full_catalogue_scores(model, before, data, idx, rules[name]), seen)
        per_user[name] = per_user_metrics(scores, data, users, truth, new_ids, k)
        seconds[name] = round(time.perf_counter() - t0, 3)
        can_score[name] = bool(model.can_score_items)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    frame = summarise(per_user, n_resamples=n_resamples, seed=seed)
    text_vs_id = _text_vs_id(per_user, can_score, f"recall@{k}", n_resamples, seed)
    n_new_pos = int(truth[COL_ITEM].isin(set(new_ids)).sum())
    info = {
        "n_new_items": int(new_mask.sum()), "n_target_items": int(data.n_target),
        "catalogue_share_new": float(new_mask.mean()), "k": k, "ndcg_k": NDCG_K,
        "shelf_random_recall": float(min(1.0, k / new_mask.sum())),
        "n_cold_test_users": int(len(cold)), "users_evaluated": len(users),
        "users_with_new_positives": len(with_new),
        "text_vs_id": text_vs_id,
        "ceiling": (id_ceiling(models[text_vs_id["id_only"]], data, truth, new_ids, users, per_user[text_vs_id["id_only"]],
                               k, n_resamples, seed, fit, label=text_vs_id["id_only"])
                    if ceiling and text_vs_id else None),
        "hidden_positives_on_new_items": n_new_pos,
        "hidden_positive_share_new": float(n_new_pos / max(1, len(truth))),
        "training_positives_removed": int(data.X_target_train.nnz - before.X_target_train.nnz),
        "can_score_new_items": can_score,
        "scoring": {n: (SCORING.get(n, SCORING["text"]).replace("mean item bias", bias_label) if can_score[n]
                        else SCORING["id_only"]) for n in names},
        "new_item_bias": bias, "new_item_bias_rules": rules, "bias_calibration": calibration,
        "seconds": seconds, "n_resamples": int(n_resamples), "seed": int(seed),
        "fitted": {n: models[n].get_params() for n in names},
    }
    return frame, scenario_figure(frame, info), info


def id_ceiling(model: TransferMethod, data: TransferData, truth: pd.DataFrame, new_ids: Sequence, users: Sequence,
               id_only: pd.DataFrame, k: int = 20, n_resamples: int = DEFAULT_N_RESAMPLES, seed: int = 0,
               fit: Callable[[TransferMethod, TransferData], TransferMethod] | None = None,
               label: str | None = None) -> dict:
    """The ID-only ``model`` refitted on ``data`` *with* the new items' interactions (the same method and
    parameters), measured like the scenario's methods on the same ``users``.

    It knows what the warm users did with the new items, which no method in the scenario may know, so it is a
    reference, not a competitor: ``headroom`` (the paired bootstrap of its ``recall@k`` against ``id_only``, the
    same method's per-user metrics without the new items, rows in the same user order) is what the new items'
    real interactions add to this model. A text-aware method is another model, so this does not bound what
    text can do; it measures how much there is to find. ``fit(model, data)`` as in :func:`run_new_item_scenario`
    (a run passes its model cache, which keys a fit by the method's full parameters: the ceiling reuses the
    run's own fit of that method when the parameters match). ``label``: the method's name in the scenario
    (default: ``model.name``).
    """
    from .bootstrap import paired_bootstrap
    from .transfer.registry import make_method

    model = make_method(model.name, **model.get_params())  # a fresh copy: ``model`` stays fitted without them
    model = fit(model, data) if fit is not None else model.fit(data)
    idx = data.users_to_idx(list(users))
    scores = mask_seen(model.score(data, idx).astype(np.float64), data.target_seen[idx])
    metrics = per_user_metrics(scores, data, users, truth, new_ids, k)
    if not metrics.index.equals(id_only.index):
        raise DataValidationError("id_only must hold the same users, in the same order, as `users`.")
    means = {m: float(metrics[m].mean()) for m in (f"recall@{k}", f"ndcg@{NDCG_K}", f"new_recall@{k}", f"new_share@{k}")}
    headroom = paired_bootstrap(metrics[f"recall@{k}"].to_numpy(), id_only[f"recall@{k}"].to_numpy(), n_resamples, seed)
    return {"method": label or model.name,
            "rule": "refitted with the new items' interactions (a reference, not a method)",
            **means, "headroom": {"metric": f"recall@{k}", **headroom}}


def _text_vs_id(per_user: Mapping[str, pd.DataFrame], can_score: Mapping[str, bool], metric: str,
                n_resamples: int, seed: int) -> dict | None:
    """The best text-aware method against the best ID-only one on ``metric`` (paired bootstrap)."""
    from .bootstrap import paired_bootstrap

    means = {m: float(t[metric].mean()) for m, t in per_user.items()}
    text = [m for m in means if can_score[m]]
    ids = [m for m in means if not can_score[m]]
    if not text or not ids:
        return None
    a, b = max(text, key=means.get), max(ids, key=means.get)
    res = paired_bootstrap(per_user[a][metric].to_numpy(), per_user[b][metric].to_numpy(), n_resamples, seed)
    return {"metric": metric, "text": a, "id_only": b, "text_mean": means[a], "id_mean": means[b], **res}


def scenario_figure(frame: pd.DataFrame, info: Mapping) -> go.Figure:
    """:func:`figure` with the scenario's reference lines (catalogue share, random shelf recall)."""
    k, n_new = info["k"], info["n_new_items"]
    refs = {f"new_share@{k}": (info["catalogue_share_new"], f"catalogue share {info['catalogue_share_new']:.1%}"),
            f"shelf_recall@{k}": (min(1.0, k / n_new), f"random order {min(1.0, k / n_new):.3f}")}
    held = f"{info['frac']:.0%} of target items" if "frac" in info else f"{n_new} target items"
    return figure(frame, refs, f"New items ({held}, unseen in training): who can still recommend them?",
                  info.get("can_score_new_items"))


def new_item_scenario(ctx, frac: float = 0.1, methods: Sequence[str] = DEFAULT_METHODS, k: int = 20,
                      show_progress: bool = True, seed: int | None = None, bias: str | float = "mean",
                      ceiling: bool = True) -> tuple[pd.DataFrame, go.Figure, dict]:
    """The new-item scenario on a pipeline run (see the module docstring); writes ``scenarios/new_items.json``.

    Methods use the run's parameters (``pipeline.method_params``) with ``progress=False``;
    the VAE is fitted with ``text_decoder=True`` and fusion and the adapter with ``item_text=True`` (an ID
    decoder or an item side without text cannot score a new item).
    Warm users' u_t is rebuilt without the new items with the run's ``interest`` settings.
    ``seed`` (default: the run's seed) draws the new items; ``bias`` is the item bias of a new
    item in the two-tower and VAE scores ("mean" of the fitted biases, a quantile in [0, 1], or
    "calibrated": chosen per method on cold_valid, :func:`calibrate_new_item_bias`).
    Returns (frame, figure, info); takes ~40 s on ML-1M on 2 quiet CPU cores.
    """
    from . import pipeline
    from .transfer.registry import make_method

    frac = check_frac(frac)
    k = check_k(k)
    names = list(methods)
    if not names:
        raise ConfigError("methods is empty; name at least one, e.g. ('pop', 'zero_shot').")
    params = {n: pipeline.method_params(ctx.config, n) for n in names}  # ConfigError on unknown names
    t_start = time.perf_counter()
    seed = ctx.seed if seed is None else int(seed)
    threshold = float(ctx.config["data"]["positive_threshold"])
    split, emb = pipeline.ensure_split(ctx), pipeline.ensure_embeddings(ctx, show_progress=False)
    data = pipeline.transfer_data(ctx)
    pool = eligible_items(split, threshold)
    new_ids = new_items(split, frac, seed, threshold)
    gone = set(new_ids)
    train_before = split.target_train[~split.target_train[COL_ITEM].isin(gone)]
    u_t = pipeline.interest_vectors(ctx.config, train_before, split.items, emb.item_ids, emb.item_vectors,
                                    emb.users, show_progress=False)
    if not np.array_equal(emb.users, data.user_ids):  # both follow split/users.parquet; guard anyway
        row = {u: r for r, u in enumerate(emb.users)}
        u_t = u_t[[row[u] for u in data.user_ids]]
    u_t[data.roles != "warm"] = 0.0  # target_train holds warm users only; keep cold rows exactly zero
    models = {}
    for n in names:
        p = dict(params[n])
        if n == "vae":
            p["text_decoder"] = True
        if n in ("fusion", "adapter"):
            p["item_text"] = True  # the item tower on the BERT vector, whatever the run's config says
        if "progress" in make_method(n).param_names():
            p["progress"] = False
        models[n] = make_method(n, **p)
    frame, fig, info = run_new_item_scenario(
        data, split.target_test, new_ids, models, k=k, U_t=u_t,
        n_resamples=int(ctx.config["evaluation"]["n_resamples"]), seed=ctx.seed, bias=bias,
        show_progress=show_progress, fit=lambda model, d: pipeline.fit_cached(ctx, model, d), ceiling=ceiling)
    info = {"frac": frac, "item_seed": seed, "n_eligible_items": int(len(pool)), **info,
            "rule": "seeded random frac of the target items with >= 1 positive among all users' target "
                    "interactions of the split; removed from the target catalogue, target_train, "
                    "target_valid and warm users' u_t before fitting",
            "vae_text_decoder": "vae" in names, "total_seconds": round(time.perf_counter() - t_start, 3),
            "new_items": [str(i) for i in new_ids]}
    ctx.run.write_json(JSON_PATH, {"info": info, "results": frame.to_dict(orient="records")})
    return frame, scenario_figure(frame, info), info
