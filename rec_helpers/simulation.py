"""The logic behind the classroom views, no UI: their inputs, the α curve, feedback sessions and
the cold-start simulation. :mod:`rec_helpers.widgets` only presents what these compute.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .constants import COL_ITEM, COL_RATING, COL_TIMESTAMP, COL_TITLE, COL_USER
from .errors import ConfigError, DataValidationError
from .feedback import DEFAULT_ETA, FeedbackSession, start_vector
from .interest import l2_normalise, mean_interest_vectors
from .privacy import report_salt
from .runfolder import LAYOUT

ALPHA_STEP = 0.05


# --------------------------------------------------------------------------- inputs
@dataclass(repr=False)
class ClassroomInputs:
    """Everything the views read: the run's TransferData, frames, fitted models and saved rankings.

    ``truth``: cold_test users' hidden target positives (``split.target_test``): used only to
    mark hits ✔ and to measure, never to rank. ``salt``: user ids are shown pseudonymised
    (salted hash, :mod:`rec_helpers.privacy`) when set.
    """

    data: Any                                   # rec_helpers.transfer.data.TransferData
    items: pd.DataFrame                         # item, title[, genres]
    source: pd.DataFrame                        # source interactions: user, item, rating, timestamp
    truth: pd.DataFrame                         # cold_test hidden target positives: user, item[, rating, timestamp]
    models: dict = field(default_factory=dict)   # name -> fitted TransferMethod
    rankings: dict = field(default_factory=dict)  # name -> saved cold_test ranking frame
    threshold: float = 4.0
    salt: str | None = None
    seed: int = 42

    @classmethod
    def from_context(cls, ctx, methods: Sequence[str] | None = None, progress: bool = False) -> "ClassroomInputs":
        """Inputs of a run folder. ``methods``: fitted (or reloaded) with ``pipeline.ensure_method``;
        default: the configured methods whose rankings are already saved."""
        from . import pipeline

        cfg = ctx.config
        if methods is None:
            methods = [m for m in cfg["transfer"]["methods"] if ctx.run.has(LAYOUT.ranking(m))]
        methods = [m for m in methods if not pipeline.is_control(m)]  # the widgets show methods, not their controls
        cache = ctx.cache.setdefault("classroom_methods", {})
        for m in methods:
            if m not in cache:
                cache[m] = pipeline.ensure_method(ctx, m, progress=progress)
        split = pipeline.ensure_split(ctx)
        return cls(data=pipeline.transfer_data(ctx), items=split.items, source=split.source, truth=split.target_test,
                   models={m: cache[m] for m in methods}, rankings=pipeline.read_rankings(ctx.run, list(methods)),
                   threshold=float(cfg["data"]["positive_threshold"]),
                   salt=report_salt(cfg), seed=int(cfg["seed"]))

    # helpers ---------------------------------------------------------------------
    @property
    def titles(self) -> dict:
        if "_titles" not in self.__dict__:
            self.__dict__["_titles"] = dict(zip(self.items[COL_ITEM], self.items[COL_TITLE]))
        return self.__dict__["_titles"]

    def title(self, item) -> str:
        return str(self.titles.get(item, item))

    def display_id(self, user) -> str:
        """The id shown on screen: the salted pseudonym when ``salt`` is set."""
        if self.salt is None:
            return str(user)
        from .privacy import pseudonymise

        return str(pseudonymise([user], self.salt)[0])

    def hidden(self, user) -> set:
        """The user's hidden target positives (for ✔ marks and measuring only)."""
        return set(self.truth.loc[self.truth[COL_USER] == user, COL_ITEM])

    def cold_users(self) -> list:
        """cold_test users with hidden positives, in data order."""
        have = set(self.truth[COL_USER])
        return [u for u in self.data.user_ids[self.data.cold_test_idx] if u in have]

    def default_user(self, min_hidden: int = 10):
        """A seeded pick among cold_test users with ≥ ``min_hidden`` hidden positives (any cold user if none)."""
        users = self.cold_users()
        if not users:
            raise DataValidationError("no cold_test user with hidden target positives to show.")
        counts = self.truth.groupby(COL_USER).size()
        rich = [u for u in users if counts.get(u, 0) >= min_hidden] or users
        return rich[int(np.random.default_rng(self.seed).integers(len(rich)))]

    def user_choices(self, users: Sequence) -> dict[str, Any]:
        """Shown id → real id (the dropdown shows pseudonyms when ``salt`` is set)."""
        return {self.display_id(u): u for u in users}


def classroom_inputs(inputs, methods: Sequence[str] | None = None) -> ClassroomInputs:
    """``inputs`` itself, or the :class:`ClassroomInputs` of a notebook ``Context``."""
    if isinstance(inputs, ClassroomInputs):
        return inputs
    if hasattr(inputs, "config") and hasattr(inputs, "run"):  # a pipeline.Context
        return ClassroomInputs.from_context(inputs, methods)
    raise ConfigError(f"expected ClassroomInputs or a notebook Context, got {type(inputs).__name__}.")


def top_items(scores: np.ndarray, seen_row, k: int) -> np.ndarray:
    """Indices of the k best items of one score row, seen items left out."""
    from .transfer.ranking import mask_seen, top_k

    s = mask_seen(scores[None, :] if scores.ndim == 1 else scores, seen_row)
    top = top_k(s, k)[0]
    return top[np.isfinite(s[0, top])]


# --------------------------------------------------------------------------- α curve
def alpha_grid(step: float = ALPHA_STEP) -> np.ndarray:
    """α values 0, step, …, 1 (rounded to 2 decimals)."""
    if not 0 < step <= 1:
        raise ConfigError(f"step={step!r} must be in (0, 1], e.g. 0.05.")
    n = int(round(1.0 / step))
    return np.round(np.linspace(0.0, 1.0, n + 1), 2)


def alpha_curve(fusion, data, step: float = ALPHA_STEP, k: int = 10, progress: bool = True) -> pd.Series:
    """cold_valid NDCG@k (full catalogue, seen items excluded) at every α of :func:`alpha_grid`.

    Uses :meth:`Fusion.score_at` and the NDCG the tuner uses, so at the tuned α it matches
    ``history_["alpha_curve"]``.
    """
    from tqdm.auto import tqdm

    from .transfer.ranking import mask_seen, ndcg_at_k

    idx = data.cold_valid_idx
    rel, seen = data.X_target_valid[idx], data.target_seen[idx]
    grid = alpha_grid(step)
    values = [ndcg_at_k(mask_seen(fusion.score_at(data, idx, a), seen), rel, k)
              for a in tqdm(grid, desc="α curve", disable=not progress, leave=False)]
    return pd.Series(values, index=pd.Index([round(float(a), 2) for a in grid], name="alpha"),
                     name=f"cold_valid ndcg@{k}")


def tuned_alpha(fusion, data) -> float:
    """Fusion's fitted α (its gate's mean α on cold_valid in "learned" mode)."""
    a = fusion.alpha_
    if a is None:  # learned gate: the mean α of cold_valid users
        a = float(np.mean(fusion.alpha_values(data, data.cold_valid_idx)))
    return float(a)


# --------------------------------------------------------------------------- feedback
def feedback_session(inputs, user, eta: float | None = None, k: int = 10):
    """A :class:`~rec_helpers.feedback.FeedbackSession` for ``user`` starting from the transferred vector.

    Start: normalise(α·u_s + (1−α)·ū_t) in BERT space, ū_t = the user's own u_t when they have target
    training positives, else the warm prior (what fusion uses for cold users); α = the fitted fusion's
    α (its gate's α in "learned" mode), α = 1 (zero-shot u_s) without a fitted fusion.
    """
    ci = classroom_inputs(inputs, ["fusion"])
    data = ci.data
    i = int(data.users_to_idx([user])[0])
    u_t = data.U_t[i] if np.any(data.U_t[i]) else data.target_prior()
    fusion = ci.models.get("fusion")
    if fusion is not None:
        alpha = fusion.alpha_ if fusion.alpha_ is not None else float(fusion.alpha_values(data, np.array([i]))[0])
    else:
        alpha = 1.0
    seen = data.target_item_ids[data.target_seen[i].indices]
    s = FeedbackSession(data.E_target, data.target_item_ids, start_vector(data.U_s[i], u_t, alpha),
                        eta=DEFAULT_ETA if eta is None else eta, exclude=seen, titles=ci.titles, k=k)
    s.start_alpha = float(alpha)
    return s


def simulate_feedback(session, hidden: set, n_likes: int = 3, n_dislikes: int = 2) -> None:
    """Like the ``n_likes`` best-ranked hidden positives (one at a time), then dislike the top-ranked
    non-positive of the list ``n_dislikes`` times: a scripted user for the static view."""
    for _ in range(n_likes):
        ranks = session.ranks()
        cand = [h for h in hidden if h in session.index and h not in session.rated
                and not session.excluded[session.index[h]]]
        if not cand:
            break
        session.like(min(cand, key=lambda h: (ranks[session.index[h]], str(h))))
    for _ in range(n_dislikes):
        wrong = [it for it in session.recommend()[COL_ITEM] if it not in hidden]
        if not wrong:
            break
        session.dislike(wrong[0])


# --------------------------------------------------------------------------- cold-start simulation
COLD_START_METHODS = ("fusion", "adapter", "zero_shot", "pop")


class ColdStartSimulation:
    """Reveal k = 0…``max_k`` of each sampled cold_test user's hidden target positives (earliest first)
    and measure NDCG@10 of each method on the REMAINING hidden positives.

    How each method uses the revealed items:
    - fusion / adapter (``InterestMethod``): as their u_t input, the weighted mean of the revealed items'
      BERT vectors (``interest.mean_interest_vectors``), with the revealed items counted as target
      training positives (the learned gates see the history length); no refitting;
    - ``zero_shot`` → "zero_shot + likes": start from u_s and apply the feedback update
      u ← normalise(u + η·e_i) for each revealed item, score by cosine (k = 0 is plain zero-shot);
    - every other method (Pop, CD-ridge, EMCDR, VAE: inputs are source behaviour or ids only) cannot
      use target items without refitting: its scores stay, only the revealed items are excluded.
    Revealed items are always excluded from the ranking.
    """

    def __init__(self, ci: ClassroomInputs, methods: Sequence[str] = COLD_START_METHODS, n_users: int = 100,
                 max_k: int = 10, k: int = 10, eta: float = DEFAULT_ETA, seed: int | None = None) -> None:
        from .transfer.two_tower import InterestMethod

        self.ci, self.data = ci, ci.data
        self.max_k, self.k, self.eta = int(max_k), int(k), float(eta)
        if self.max_k < 0:
            raise ConfigError(f"max_k={max_k!r} must be ≥ 0.")
        self.methods = [m for m in methods if m in ci.models or m == "zero_shot"]
        if not self.methods:
            raise DataValidationError(f"none of {list(methods)} is fitted; fit them first (pipeline.ensure_method).")
        self.uses_target = {m: m == "zero_shot" or isinstance(ci.models.get(m), InterestMethod) for m in self.methods}
        data = self.data
        truth = ci.truth[ci.truth[COL_ITEM].isin(list(data.target_item_index))]
        truth = truth[truth[COL_USER].isin(set(data.user_ids[data.cold_test_idx]))]
        sort_cols = [c for c in (COL_TIMESTAMP, COL_ITEM) if c in truth.columns]
        truth = truth.sort_values([COL_USER] + sort_cols, kind="stable")
        order = {u: g[COL_ITEM].tolist() for u, g in truth.groupby(COL_USER, sort=False)}
        rating = (truth.set_index([COL_USER, COL_ITEM])[COL_RATING] if COL_RATING in truth.columns else None)
        eligible = [u for u in data.user_ids[data.cold_test_idx] if len(order.get(u, ())) > self.max_k]
        if not eligible:
            raise DataValidationError(f"no cold_test user has more than max_k={self.max_k} hidden positives; "
                                      "lower max_k.")
        rng = np.random.default_rng(ci.seed if seed is None else seed)
        pick = rng.choice(len(eligible), size=min(int(n_users), len(eligible)), replace=False)
        self.users = [eligible[j] for j in sorted(pick)]
        self.order = {u: order[u] for u in self.users}
        self._rating = rating
        self.result: pd.DataFrame | None = None

    def label(self, m: str) -> str:
        if m == "zero_shot":
            return f"zero_shot + likes (η={self.eta:g})"
        return m if self.uses_target[m] else f"{m} (no target input)"

    # -------------------------------------------------------------- one step
    def _revealed(self, users: Sequence, k: int) -> pd.DataFrame:
        rows = [(u, it) for u in users for it in self.order[u][:k]]
        df = pd.DataFrame(rows, columns=[COL_USER, COL_ITEM])
        if self._rating is not None and len(df):
            df[COL_RATING] = self._rating.reindex(pd.MultiIndex.from_frame(df)).to_numpy(dtype=float)
        else:
            df[COL_RATING] = self.ci.threshold
        return df

    def _data_at(self, users: Sequence, k: int):
        """TransferData with the first k hidden positives of ``users`` revealed as target training data."""
        data = self.data
        if k == 0:
            return data
        rev = self._revealed(users, k)
        rows = data.users_to_idx(rev[COL_USER])
        cols = np.array([data.target_item_index[i] for i in rev[COL_ITEM]], dtype=np.int64)
        R = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(data.n_users, data.n_target))
        U_t = data.U_t.copy()
        idx = data.users_to_idx(users)
        U_t[idx] = mean_interest_vectors(rev, data.target_item_ids, data.E_target, list(users),
                                         positive_threshold=min(self.ci.threshold, float(rev[COL_RATING].min())))
        def plus(a):
            m = (sp.csr_matrix(a) + R).tocsr()
            m.data[:] = 1.0
            return m

        return dataclasses.replace(data, U_t=U_t, X_target_train=plus(data.X_target_train),
                                   target_seen=plus(data.target_seen))

    def scores(self, users: Sequence, k: int, method: str) -> tuple[np.ndarray, sp.csr_matrix]:
        """(scores with seen and revealed items at -inf, remaining-positives matrix) for ``users`` at k."""
        from .transfer.ranking import mask_seen

        data, dk = self.data, self._data_at(users, k)
        idx = data.users_to_idx(users)
        if method == "zero_shot":
            u = l2_normalise(data.U_s[idx].astype(np.float64))
            E = l2_normalise(data.E_target.astype(np.float64))
            for j in range(k):
                step = np.stack([E[data.target_item_index[self.order[usr][j]]] for usr in users])
                u = l2_normalise(u + self.eta * step)
            s = u @ E.T
        else:
            m = self.ci.models[method]
            s = m.score(dk if self.uses_target[method] else data, idx)
        s = mask_seen(s, dk.target_seen[idx])
        rem_rows, rem_cols = [], []
        for r, usr in enumerate(users):
            rest = self.order[usr][k:]
            rem_rows += [r] * len(rest)
            rem_cols += [data.target_item_index[i] for i in rest]
        rel = sp.csr_matrix((np.ones(len(rem_rows), np.float32), (rem_rows, rem_cols)),
                            shape=(len(users), data.n_target))
        return s, rel

    def run(self, progress: bool = True) -> pd.DataFrame:
        """Per user, method and k: NDCG@k on the remaining hidden positives (long frame, cached)."""
        from tqdm.auto import tqdm

        from .transfer.ranking import ndcg_per_user

        if self.result is not None:
            return self.result
        rows = []
        for k in tqdm(range(self.max_k + 1), desc="reveal k", disable=not progress, leave=False):
            for m in self.methods:
                s, rel = self.scores(self.users, k, m)
                vals = ndcg_per_user(s, rel, self.k)
                rows.append(pd.DataFrame({"method": self.label(m), "k": k, COL_USER: self.users,
                                          f"ndcg@{self.k}": vals}))
        self.result = pd.concat(rows, ignore_index=True)
        return self.result

    def curve(self) -> pd.DataFrame:
        """Mean NDCG@k over the sampled users: rows k, columns methods."""
        r = self.run(progress=False)
        return r.pivot_table(index="k", columns="method", values=f"ndcg@{self.k}", aggfunc="mean", sort=False)
