"""The feedback loop of SPEC §5: like / dislike a recommended item, update the interest, rank again.

A :class:`FeedbackSession` holds one user's target interest vector u_t (unit length) and the
target items' BERT vectors e_i (unit length). Recommendations are the items with the highest
cosine ⟨u_t, e_i⟩. Feedback moves the vector:

    like(i):     u_t ← normalise(u_t + η·e_i)
    dislike(i):  u_t ← normalise(u_t − η·e_i)

and the list is ranked again. Every step is recorded in ``history`` (one row per step) so the
drift can be plotted: how far u_t moved from where it started (cosine) and how the ranks of the
starting top-k items changed.

Starting vector for a cold-start user (see :func:`start_vector`): the fusion formula applied to
the raw BERT vectors, u_start = normalise(α·u_s + (1−α)·ū_t), with ū_t the warm users' mean
target interest (the "target prior" fusion uses for cold users) and α the fusion method's tuned α;
α = 1 (pure u_s, i.e. zero-shot BERT) when no fitted fusion is at hand. The fusion *scorer*
works in its own standardised space, so its internal u'' cannot be compared with e_i by cosine;
the same blend in BERT space can.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .constants import COL_ITEM, COL_RANK, COL_SCORE, COL_TITLE
from .errors import ConfigError, DataValidationError
from .interest import l2_normalise

DEFAULT_ETA = 0.5
HISTORY_COLUMNS = ("step", "action", COL_ITEM, COL_TITLE, "item_rank_before", "item_rank_after",
                   "cos_to_start", "cos_to_previous", "new_in_top_k", "kept_from_start")


def normalise(v: np.ndarray) -> np.ndarray:
    """``v / ||v||`` as float64; raises on a zero vector (it has no direction)."""
    v = np.asarray(v, dtype=np.float64)
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n == 0.0:
        raise DataValidationError("the interest vector is zero (or not finite) and has no direction; "
                                  "start from a user with source positives, or lower η.")
    return v / n


def start_vector(u_s: np.ndarray, target_prior: np.ndarray | None = None, alpha: float = 1.0) -> np.ndarray:
    """u_start = normalise(α·u_s + (1−α)·ū_t): the fusion blend in BERT space (α = 1: zero-shot u_s)."""
    if not 0.0 <= float(alpha) <= 1.0:
        raise ConfigError(f"alpha={alpha!r} is outside [0, 1]; pick a value in that range.")
    u = float(alpha) * np.asarray(u_s, dtype=np.float64)
    if target_prior is not None and alpha < 1.0:
        u = u + (1.0 - float(alpha)) * np.asarray(target_prior, dtype=np.float64)
    return normalise(u)


class FeedbackSession:
    """One user's target interest vector under like/dislike feedback, with its history.

    ``item_vectors``: (n_items, d) target item vectors (rows are normalised here); ``item_ids``
    their ids; ``u_start`` the starting interest; ``exclude`` item ids never recommended (items
    the user already has); ``titles`` item id → title for display. With ``drop_rated`` (default)
    an item the user has already judged leaves the recommendation list, as a consumed item would.
    """

    def __init__(self, item_vectors: np.ndarray, item_ids: Iterable, u_start: np.ndarray,
                 eta: float = DEFAULT_ETA, exclude: Iterable = (), titles: Mapping | None = None,
                 k: int = 10, drop_rated: bool = True) -> None:
        E = np.asarray(item_vectors, dtype=np.float64)
        ids = np.asarray(list(item_ids), dtype=object)
        if E.ndim != 2 or len(E) != len(ids):
            raise DataValidationError(f"item_vectors has shape {E.shape} but there are {len(ids)} item ids; "
                                      "pass one vector row per id, in the same order.")
        if not np.isfinite(eta) or eta <= 0:
            raise ConfigError(f"eta={eta!r} must be > 0 (the step size of an update, e.g. 0.3).")
        if int(k) < 1:
            raise ConfigError(f"k={k!r} must be ≥ 1.")
        u0 = normalise(u_start)
        if u0.shape != (E.shape[1],):
            raise DataValidationError(f"u_start has shape {u0.shape}; expected ({E.shape[1]},) like the item vectors.")
        self.E = l2_normalise(E)
        self.item_ids = ids
        self.index = {it: i for i, it in enumerate(ids)}
        self.eta, self.k, self.drop_rated = float(eta), int(k), bool(drop_rated)
        self.titles = dict(titles or {})
        self.excluded = np.zeros(len(ids), bool)
        for it in exclude:
            if it in self.index:
                self.excluded[self.index[it]] = True
        self.u_start = u0
        self.reset()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Back to the starting vector, with an empty history."""
        self.u = self.u_start.copy()
        self.rated: dict = {}  # item id -> +1 (liked) / -1 (disliked)
        self.vectors = [self.u.copy()]
        self.start_top = self._top_idx(self.k)
        self.rank_trace = [self.ranks()[self.start_top]]
        self._rows = [self._row(0, "start", None, None, None, self.start_top)]

    def scores(self) -> np.ndarray:
        """Cosine ⟨u_t, e_i⟩ of every item (excluded items: -inf)."""
        s = self.E @ self.u
        return np.where(self.excluded, -np.inf, s)

    def ranks(self) -> np.ndarray:
        """Rank (1 = best) of every item by the current cosine, excluded items last; ties by item order."""
        order = np.argsort(-self.scores(), kind="stable")
        r = np.empty(len(order), np.int64)
        r[order] = np.arange(1, len(order) + 1)
        return r

    def _top_idx(self, k: int) -> np.ndarray:
        s = self.scores()
        if self.drop_rated and self.rated:
            s = s.copy()
            s[[self.index[i] for i in self.rated]] = -np.inf
        order = np.argsort(-s, kind="stable")
        return order[np.isfinite(s[order])][:k]

    # ------------------------------------------------------------------ API
    def recommend(self, k: int | None = None) -> pd.DataFrame:
        """The current top ``k`` (default ``self.k``): rank, item, title, score (cosine)."""
        top = self._top_idx(self.k if k is None else int(k))
        s = self.E[top] @ self.u
        return pd.DataFrame({COL_RANK: np.arange(1, len(top) + 1), COL_ITEM: self.item_ids[top],
                             COL_TITLE: [self.titles.get(i, str(i)) for i in self.item_ids[top]],
                             COL_SCORE: np.round(s, 4)})

    def recommend_at(self, step: int, k: int | None = None) -> pd.DataFrame:
        """The top ``k`` as it was after ``step`` feedback steps (0 = the start), like :meth:`recommend`."""
        if not 0 <= int(step) < len(self.vectors):
            raise ConfigError(f"step={step!r} is outside [0, {len(self.vectors) - 1}].")
        u = self.vectors[int(step)]
        s = np.where(self.excluded, -np.inf, self.E @ u)
        if self.drop_rated:
            for row in self._rows[1:int(step) + 1]:
                s[self.index[row[COL_ITEM]]] = -np.inf
        order = np.argsort(-s, kind="stable")
        top = order[np.isfinite(s[order])][:self.k if k is None else int(k)]
        return pd.DataFrame({COL_RANK: np.arange(1, len(top) + 1), COL_ITEM: self.item_ids[top],
                             COL_TITLE: [self.titles.get(i, str(i)) for i in self.item_ids[top]],
                             COL_SCORE: np.round(s[top], 4)})

    def like(self, item) -> pd.DataFrame:
        """u_t ← normalise(u_t + η·e_i); returns the new top k."""
        return self._update(item, +1)

    def dislike(self, item) -> pd.DataFrame:
        """u_t ← normalise(u_t − η·e_i); returns the new top k."""
        return self._update(item, -1)

    def _update(self, item, sign: int) -> pd.DataFrame:
        if item not in self.index:
            raise DataValidationError(f"unknown item {item!r}; pick one from the recommendation list.")
        i = self.index[item]
        before_rank = int(self.ranks()[i])
        prev_top = self._top_idx(self.k)
        self.u = normalise(self.u + sign * self.eta * self.E[i])
        self.rated[item] = sign
        self.vectors.append(self.u.copy())
        self.rank_trace.append(self.ranks()[self.start_top])
        step = len(self._rows)
        self._rows.append(self._row(step, "like" if sign > 0 else "dislike", item, before_rank,
                                    int(self.ranks()[i]), prev_top))
        return self.recommend()

    def _row(self, step: int, action: str, item, before, after, prev_top: np.ndarray) -> dict:
        top = self._top_idx(self.k)
        prev = self.vectors[-2] if len(self.vectors) > 1 else self.u
        return {"step": step, "action": action, COL_ITEM: item,
                COL_TITLE: None if item is None else self.titles.get(item, str(item)),
                "item_rank_before": before, "item_rank_after": after,
                "cos_to_start": float(self.u @ self.u_start), "cos_to_previous": float(self.u @ prev),
                "new_in_top_k": int(len(set(top) - set(prev_top))),
                "kept_from_start": int(len(set(top) & set(self.start_top)))}

    @property
    def history(self) -> pd.DataFrame:
        """One row per step (step 0 = start): action, item, the item's rank before/after, cosine of u_t
        to its start and to the previous step, items new in the top k, starting top-k items still in it."""
        return pd.DataFrame(self._rows, columns=list(HISTORY_COLUMNS))

    def drift(self) -> pd.DataFrame:
        """Long table per step and starting top-k item: its current rank, plus cos(u_t, u_start)."""
        cos = [float(v @ self.u_start) for v in self.vectors]
        rows = []
        for step, ranks in enumerate(self.rank_trace):
            for j, idx in enumerate(self.start_top):
                it = self.item_ids[idx]
                rows.append({"step": step, "cos_to_start": cos[step], COL_ITEM: it,
                             COL_TITLE: self.titles.get(it, str(it)), "start_rank": j + 1, COL_RANK: int(ranks[j])})
        return pd.DataFrame(rows)

    def drift_figure(self, title: str = "") -> go.Figure:
        """Two panels: cos(u_t, u_start) per step, and the rank of each starting top-k item per step."""
        from plotly.subplots import make_subplots

        h, d = self.history, self.drift()
        fig = make_subplots(rows=1, cols=2, column_widths=[0.4, 0.6],
                            subplot_titles=("cosine of u_t to its start", f"ranks of the starting top {self.k}"))
        labels = [f"{s}: {a}" + ("" if t is None else f" {str(t)[:18]}") for s, a, t in
                  zip(h["step"], h["action"], h[COL_TITLE])]
        fig.add_trace(go.Scatter(x=h["step"], y=h["cos_to_start"], mode="lines+markers", name="cos(u_t, start)",
                                 text=labels, hovertemplate="%{text}<br>cos %{y:.3f}<extra></extra>",
                                 showlegend=False), row=1, col=1)
        for (start_rank, t), g in d.groupby(["start_rank", COL_TITLE], sort=True):
            fig.add_trace(go.Scatter(x=g["step"], y=g[COL_RANK], mode="lines+markers",
                                     name=f"{start_rank}. {str(t)[:30]}",
                                     hovertemplate=f"{str(t)[:40]}<br>step %{{x}}: rank %{{y}}<extra></extra>"),
                          row=1, col=2)
        fig.update_xaxes(title_text="feedback step", dtick=1)
        fig.update_yaxes(title_text="cosine", row=1, col=1)
        fig.update_yaxes(title_text="rank (log)", type="log", autorange="reversed", row=1, col=2)
        fig.update_layout(title=title or "How the interest vector and the list drift with feedback", height=420,
                          legend={"font": {"size": 10}})
        return fig
