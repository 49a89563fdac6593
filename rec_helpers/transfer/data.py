"""`TransferData`: everything a transfer method may see, as index maps and matrices.

Built once from tidy frames (:meth:`TransferData.from_frames`). Only warm users' target
interactions (training) and cold_valid users' target positives (tuning) are inputs; the
cold_test users' target data is never passed, so no method can read it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..constants import (
    COL_DOMAIN, COL_GENRES, COL_ITEM, COL_RATING, COL_ROLE, COL_TEXT, COL_TIMESTAMP,
    COL_TITLE, COL_USER, DEFAULT_POSITIVE_THRESHOLD, ROLE_COLD_TEST, ROLE_COLD_VALID,
    ROLE_WARM, ROLES, SOURCE, TARGET, BOTH, USER_FEATURE_COLUMNS,
)
from ..errors import ConfigError, DataValidationError, require_columns
from ..interest import l2_normalise

DOMAINS = (SOURCE, TARGET, BOTH)
# What a method reads of a user's source history (config: ``transfer.<method>.source_input``):
# "positives" (rating ≥ threshold, SPEC default), "all" (every rated item, any rating: the
# "rated at all" signal) or "both" (the two binary rows side by side).
SOURCE_INPUTS = ("positives", "all", "both")


def _lookup(values: pd.Series, index: dict, what: str, frame: str) -> np.ndarray:
    idx = values.map(index)
    if idx.isna().any():
        bad = values[idx.isna()].unique()[:5].tolist()
        raise DataValidationError(
            f"`{frame}` has {int(idx.isna().sum())} row(s) whose {what} is not allowed there, "
            f"e.g. {bad}. Filter `{frame}` to the right users/catalogue before building "
            "TransferData."
        )
    return idx.to_numpy(dtype=np.int64)


def _binary(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    m = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


# What a method that reads no BERT vectors reads: the users, the catalogues and the interaction matrices (a text
# control's data shares these very objects with the run's data; see pipeline.transfer_data)
INTERACTION_FIELDS = ("user_ids", "roles", "source_item_ids", "target_item_ids", "X_source", "X_source_all",
                      "X_target_train", "target_seen", "X_target_valid", "user_features", "user_feature_names")


@dataclass(repr=False)
class TransferData:
    """Users × items matrices and vectors shared by every transfer method.

    Rows follow ``user_ids`` (the order of ``users``); columns follow
    ``source_item_ids`` / ``target_item_ids`` (the order of ``items``).
    ``X_*`` are binary positive matrices (rating ≥ ``positive_threshold``);
    ``X_source_all`` marks every source interaction (any rating);
    ``target_seen`` marks every training interaction (any rating) to exclude at ranking.
    ``user_features`` (or None when the data has none) one-hot encodes the users' categorical
    :data:`~rec_helpers.constants.USER_FEATURE_COLUMNS` (MovieLens: gender, age group, occupation),
    each row L2-normalised, with one name per column in ``user_feature_names`` ("gender=F", "age=25", …);
    they are known for cold-start users too, as their source rows are.
    """

    user_ids: np.ndarray
    roles: np.ndarray
    source_item_ids: np.ndarray
    target_item_ids: np.ndarray
    E_source: np.ndarray
    E_target: np.ndarray
    U_s: np.ndarray
    U_t: np.ndarray
    X_source: sp.csr_matrix
    X_target_train: sp.csr_matrix
    target_seen: sp.csr_matrix
    X_target_valid: sp.csr_matrix
    X_source_all: sp.csr_matrix | None = None
    user_features: np.ndarray | None = None
    user_feature_names: tuple = ()
    positive_threshold: float = DEFAULT_POSITIVE_THRESHOLD
    user_index: dict = field(default_factory=dict, repr=False)
    target_item_index: dict = field(default_factory=dict, repr=False)
    source_item_index: dict = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"TransferData({self.summary()})"

    # ------------------------------------------------------------------ shapes / roles
    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_source(self) -> int:
        return len(self.source_item_ids)

    @property
    def n_target(self) -> int:
        return len(self.target_item_ids)

    @property
    def dim(self) -> int:
        return int(self.E_target.shape[1])

    def role_idx(self, role: str) -> np.ndarray:
        """Row indices of the users with ``role`` (sorted)."""
        return np.flatnonzero(self.roles == role)

    @property
    def warm_idx(self) -> np.ndarray:
        return self.role_idx(ROLE_WARM)

    @property
    def cold_valid_idx(self) -> np.ndarray:
        return self.role_idx(ROLE_COLD_VALID)

    @property
    def cold_test_idx(self) -> np.ndarray:
        return self.role_idx(ROLE_COLD_TEST)

    @cached_property
    def n_source_pos(self) -> np.ndarray:
        """Number of source positives per user."""
        return np.asarray(self.X_source.sum(axis=1)).ravel()

    @cached_property
    def n_target_pos(self) -> np.ndarray:
        """Number of training target positives per user (0 for cold users)."""
        return np.asarray(self.X_target_train.sum(axis=1)).ravel()

    def users_to_idx(self, users: Sequence) -> np.ndarray:
        """Map user ids to row indices; unknown ids raise :class:`DataValidationError`."""
        try:
            return np.array([self.user_index[u] for u in users], dtype=np.int64)
        except KeyError as exc:
            raise DataValidationError(
                f"unknown user {exc.args[0]!r}; pass ids from `data.user_ids`."
            ) from None

    def source_matrix(self, kind: str = "positives", idx: np.ndarray | None = None) -> sp.csr_matrix:
        """Users' source rows as one of :data:`SOURCE_INPUTS` (all users when ``idx`` is None).

        "both" is ``[positives | all]`` (2 × n_source columns): the rating signal and the
        "rated at all" signal side by side.
        """
        if kind not in SOURCE_INPUTS:
            raise ConfigError(f"source_input={kind!r} is not valid; choose one of {list(SOURCE_INPUTS)}.")
        rows = slice(None) if idx is None else np.asarray(idx, dtype=np.int64)
        if kind == "positives":
            return self.X_source[rows]
        if self.X_source_all is None:
            raise DataValidationError(
                f"source_input={kind!r} needs data.X_source_all (every rated source item); build "
                "the data with TransferData.from_frames or use source_input='positives'.")
        if kind == "all":
            return self.X_source_all[rows]
        return sp.hstack([self.X_source[rows], self.X_source_all[rows]], format="csr")

    def user_feature_rows(self, idx: np.ndarray, what: str) -> np.ndarray:
        """The users' feature rows (float64); a named error when the data has no user features."""
        if self.user_features is None:
            raise DataValidationError(
                f"{what} was fitted with user features, but this data has none (no {list(USER_FEATURE_COLUMNS)} "
                "columns in `users`). Fix: score it on the data it was fitted on (MovieLens data has user features; "
                "custom data has none), or refit it on this data.")
        return self.user_features[np.asarray(idx, dtype=np.int64)].astype(np.float64)

    def target_prior(self) -> np.ndarray:
        """Mean target interest u_t over warm users (the default stand-in for cold users)."""
        w = self.warm_idx
        if len(w) == 0:
            raise DataValidationError("no warm users: methods need warm users to train on.")
        return self.U_t[w].mean(axis=0).astype(np.float32)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frames(
        cls,
        items: pd.DataFrame,
        users: pd.DataFrame,
        source: pd.DataFrame,
        target_train: pd.DataFrame,
        target_valid: pd.DataFrame,
        item_ids: Sequence,
        item_vectors: np.ndarray,
        U_s: np.ndarray,
        U_t: np.ndarray,
        positive_threshold: float = DEFAULT_POSITIVE_THRESHOLD,
    ) -> "TransferData":
        """Validate the frames and build index maps, CSR matrices and vector blocks.

        ``items``: item, domain (source/target/both); ``users``: user, role and optionally the user features
        (:data:`~rec_helpers.constants.USER_FEATURE_COLUMNS`, text categories; "" = unknown);
        ``source``: all users' source interactions; ``target_train``: warm users only;
        ``target_valid``: cold_valid users only (a missing ``rating`` column means all
        rows are positives). ``item_vectors`` rows follow ``item_ids``; the user vector
        arrays ``U_s`` / ``U_t`` (every user's u_s / u_t) follow ``users`` and cold users' ``U_t`` rows must be zero.
        """
        require_columns(items, [COL_ITEM, COL_DOMAIN], "`items`")
        require_columns(users, [COL_USER, COL_ROLE], "`users`")
        for name, frame in (("source", source), ("target_train", target_train)):
            require_columns(frame, [COL_USER, COL_ITEM, COL_RATING], f"`{name}`")
        require_columns(target_valid, [COL_USER, COL_ITEM], "`target_valid`")

        bad_dom = sorted(set(items[COL_DOMAIN]) - set(DOMAINS))
        if bad_dom:
            raise DataValidationError(f"items.domain has {bad_dom}; allowed: {list(DOMAINS)}.")
        if items[COL_ITEM].duplicated().any():
            raise DataValidationError("items.item has duplicates; keep one row per item.")
        bad_role = sorted(set(users[COL_ROLE]) - set(ROLES))
        if bad_role:
            raise DataValidationError(f"users.role has {bad_role}; allowed: {list(ROLES)}.")
        if users[COL_USER].duplicated().any():
            raise DataValidationError("users.user has duplicates; keep one row per user.")

        user_ids = users[COL_USER].to_numpy()
        roles = users[COL_ROLE].astype(str).to_numpy()
        n_users = len(user_ids)
        user_index = {u: i for i, u in enumerate(user_ids)}

        item_ids = np.asarray(item_ids)
        vectors = np.asarray(item_vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(item_ids):
            raise DataValidationError(
                f"item_vectors has shape {vectors.shape} but item_ids has {len(item_ids)} ids; "
                "pass one vector row per id, in the same order."
            )
        vec_index = {k: i for i, k in enumerate(item_ids)}
        dom = items[COL_DOMAIN]
        src_items = items.loc[dom.isin([SOURCE, BOTH]), COL_ITEM].to_numpy()
        tgt_items = items.loc[dom.isin([TARGET, BOTH]), COL_ITEM].to_numpy()
        if len(src_items) == 0 or len(tgt_items) == 0:
            raise DataValidationError("both the source and the target catalogue need items.")
        missing = [i for i in np.concatenate([src_items, tgt_items]) if i not in vec_index]
        if missing:
            raise DataValidationError(
                f"{len(missing)} catalogue item(s) have no vector, e.g. {missing[:5]}; "
                "encode every item in `items` (item_ids/item_vectors)."
            )
        E_source = vectors[[vec_index[i] for i in src_items]]
        E_target = vectors[[vec_index[i] for i in tgt_items]]
        src_index = {k: i for i, k in enumerate(src_items)}
        tgt_index = {k: i for i, k in enumerate(tgt_items)}
        dim = vectors.shape[1]

        U_s, U_t = np.asarray(U_s, dtype=np.float32), np.asarray(U_t, dtype=np.float32)
        for name, arr in (("U_s", U_s), ("U_t", U_t)):
            if arr.shape != (n_users, dim):
                raise DataValidationError(
                    f"{name} has shape {arr.shape}; expected ({n_users}, {dim}): one row per "
                    "row of `users`, same width as the item vectors."
                )
        cold = roles != ROLE_WARM
        if np.abs(U_t[cold]).sum() > 0:
            raise DataValidationError(
                "U_t has non-zero rows for cold users: that leaks hidden target "
                "data. Build u_t from target_train only (zero rows for cold users)."
            )

        def users_with(frame: pd.DataFrame, name: str, allowed: set[str] | None) -> np.ndarray:
            rows = _lookup(frame[COL_USER], user_index, "user (not in `users`)", name)
            if allowed is not None and len(rows) and not np.isin(roles[rows], list(allowed)).all():
                found = sorted(set(roles[rows]) - allowed)
                raise DataValidationError(
                    f"`{name}` holds users with role(s) {found}; it may only hold "
                    f"{sorted(allowed)}. "
                    "Cold users' target data must stay hidden from fitting."
                )
            return rows

        thr = float(positive_threshold)
        s_rows = users_with(source, "source", None)
        s_cols = _lookup(source[COL_ITEM], src_index,
                         "item (not in the source catalogue)", "source")
        s_pos = source[COL_RATING].to_numpy() >= thr
        X_source = _binary(s_rows[s_pos], s_cols[s_pos], (n_users, len(src_items)))
        X_source_all = _binary(s_rows, s_cols, (n_users, len(src_items)))

        t_rows = users_with(target_train, "target_train", {ROLE_WARM})
        t_cols = _lookup(target_train[COL_ITEM], tgt_index,
                         "item (not in the target catalogue)", "target_train")
        t_pos = target_train[COL_RATING].to_numpy() >= thr
        X_target_train = _binary(t_rows[t_pos], t_cols[t_pos], (n_users, len(tgt_items)))
        seen_r, seen_c = [t_rows], [t_cols]
        # Time split: an item of the user's source history that is also in the target
        # catalogue ("both") is already consumed, so it is excluded at ranking too.
        in_tgt = source[COL_ITEM].map(tgt_index)
        ok = in_tgt.notna().to_numpy()
        if ok.any():
            seen_r.append(s_rows[ok])
            seen_c.append(in_tgt[ok].to_numpy(dtype=np.int64))
        target_seen = _binary(np.concatenate(seen_r), np.concatenate(seen_c),
                              (n_users, len(tgt_items)))

        v_rows = users_with(target_valid, "target_valid", {ROLE_COLD_VALID})
        v_cols = _lookup(target_valid[COL_ITEM], tgt_index,
                         "item (not in the target catalogue)", "target_valid")
        v_pos = (target_valid[COL_RATING].to_numpy() >= thr if COL_RATING in target_valid
                 else np.ones(len(target_valid), bool))
        X_target_valid = _binary(v_rows[v_pos], v_cols[v_pos], (n_users, len(tgt_items)))

        feature_cols = [c for c in USER_FEATURE_COLUMNS if c in users.columns]
        user_features, user_feature_names = None, ()
        if feature_cols:  # one-hot, categories in sorted order (deterministic); "" (unknown) gets no column
            codes = users[feature_cols].fillna("").astype(str).replace("", np.nan)
            onehot = pd.get_dummies(codes, prefix_sep="=", dtype=np.float64)
            if onehot.shape[1]:
                user_features = l2_normalise(onehot.to_numpy()).astype(np.float32)
                user_feature_names = tuple(onehot.columns)

        return cls(
            user_ids=user_ids, roles=roles, source_item_ids=src_items, target_item_ids=tgt_items,
            E_source=E_source, E_target=E_target, U_s=U_s, U_t=U_t, X_source=X_source,
            X_target_train=X_target_train, target_seen=target_seen, X_target_valid=X_target_valid,
            X_source_all=X_source_all, user_features=user_features, user_feature_names=user_feature_names,
            positive_threshold=thr, user_index=user_index,
            target_item_index=tgt_index,
            source_item_index=src_index,
        )

    def summary(self) -> dict:
        """Counts for a quick look (JSON-serialisable)."""
        return {
            "users": self.n_users, "warm": len(self.warm_idx),
            "cold_valid": len(self.cold_valid_idx), "cold_test": len(self.cold_test_idx),
            "source_items": self.n_source, "target_items": self.n_target, "dim": self.dim,
            "source_positives": int(self.X_source.nnz),
            "target_train_positives": int(self.X_target_train.nnz),
            "target_valid_positives": int(self.X_target_valid.nnz),
        }


# ---------------------------------------------------------------------- synthetic data
def make_synthetic_data(
    n_users: int = 60,
    n_source: int = 40,
    n_target: int = 50,
    dim: int = 16,
    seed: int = 0,
    *,
    n_topics: int = 6,
    noise: float = 0.5,
    interactions_per_user: tuple[int, int] = (8, 12),
    return_test: bool = False,
) -> TransferData | tuple[TransferData, pd.DataFrame]:
    """A small synthetic cross-domain data set where transfer is learnable.

    Users have a source taste p_u ~ N(0, I_k) and a target taste q_u = T p_u + noise·ε
    (a fixed linear map T plus noise), items have topic vectors, and BERT-like item
    vectors are a random projection of the topics plus noise, L2-normalised.
    Interactions are drawn ∝ softmax(taste·topic + popularity); rating = 4 or 5 when
    the affinity is high, else 1–3. Roles: 70% warm, 10% cold_valid, 20% cold_test. Users also get
    gender, age and occupation features, the first two noisy functions of the target taste.
    With ``return_test=True`` also returns the cold_test users' target positives
    (a frame for evaluation only; it is not part of the returned data).
    """
    rng = np.random.default_rng(seed)
    k = n_topics
    a_src = rng.normal(size=(n_source, k))
    a_tgt = rng.normal(size=(n_target, k))
    pop_src = rng.normal(scale=1.0, size=n_source)
    pop_tgt = rng.normal(scale=1.0, size=n_target)
    proj = rng.normal(size=(k, dim))

    def text_vec(a: np.ndarray) -> np.ndarray:
        v = a @ proj + 0.5 * rng.normal(size=(len(a), dim))
        return l2_normalise(v).astype(np.float32)

    e_src, e_tgt = text_vec(a_src), text_vec(a_tgt)
    p = rng.normal(size=(n_users, k))
    T = np.linalg.qr(rng.normal(size=(k, k)))[0]
    q = p @ T + noise * rng.normal(size=(n_users, k))

    def interactions(taste, topics, pop, ids, n_cat) -> pd.DataFrame:
        rows = []
        lo, hi = interactions_per_user
        for u in range(n_users):
            aff = taste[u] @ topics.T / np.sqrt(k) * 1.5
            logits = aff + pop
            prob = np.exp(logits - logits.max())
            n = min(int(rng.integers(lo, hi + 1)), n_cat)
            chosen = rng.choice(n_cat, size=n, replace=False, p=prob / prob.sum())
            good = aff[chosen] + 0.3 * rng.normal(size=n) > np.median(aff)
            rating = np.where(good, rng.integers(4, 6, size=n), rng.integers(1, 4, size=n))
            ts = np.sort(rng.integers(0, 10**6, size=n))
            rows.append(pd.DataFrame({COL_USER: f"u{u}", COL_ITEM: ids[chosen],
                                      COL_RATING: rating.astype(float), COL_TIMESTAMP: ts}))
        return pd.concat(rows, ignore_index=True)

    src_ids = np.array([f"s{i}" for i in range(n_source)], dtype=object)
    tgt_ids = np.array([f"t{i}" for i in range(n_target)], dtype=object)
    source = interactions(p, a_src, pop_src, src_ids, n_source)
    target = interactions(q, a_tgt, pop_tgt, tgt_ids, n_target)

    user_ids = np.array([f"u{u}" for u in range(n_users)], dtype=object)
    order = rng.permutation(n_users)
    n_test, n_valid = int(round(0.2 * n_users)), int(round(0.1 * n_users))
    role = np.full(n_users, ROLE_WARM, dtype=object)
    role[order[:n_test]] = ROLE_COLD_TEST
    role[order[n_test:n_test + n_valid]] = ROLE_COLD_VALID
    # user features that say a little about the target taste, as demographics do (drawn last: every other
    # array of the data is the same as without them)
    gender = np.where(q[:, 0] + rng.normal(size=n_users) > 0, "F", "M")
    age = np.array(["18", "25", "35", "45"])[np.digitize(q[:, 1] + rng.normal(size=n_users), [-0.7, 0.0, 0.7])]
    occupation = rng.integers(0, 5, size=n_users).astype(str)
    users = pd.DataFrame({COL_USER: user_ids, COL_ROLE: role, "gender": gender, "age": age, "occupation": occupation})
    role_of = dict(zip(user_ids, role))
    t_role = target[COL_USER].map(role_of)
    positive = target[COL_RATING] >= DEFAULT_POSITIVE_THRESHOLD
    target_train = target[t_role == ROLE_WARM].reset_index(drop=True)
    target_valid = target[(t_role == ROLE_COLD_VALID) & positive].reset_index(drop=True)
    target_test = target[(t_role == ROLE_COLD_TEST) & positive].reset_index(drop=True)

    items = pd.DataFrame({
        COL_ITEM: np.concatenate([src_ids, tgt_ids]),
        COL_DOMAIN: [SOURCE] * n_source + [TARGET] * n_target,
        COL_TITLE: np.concatenate([src_ids, tgt_ids]),
        COL_TEXT: np.concatenate([src_ids, tgt_ids]),
        COL_GENRES: "",
    })
    item_ids = items[COL_ITEM].to_numpy()
    item_vectors = np.vstack([e_src, e_tgt])
    vec_of = dict(zip(item_ids, item_vectors))
    uidx = {u: i for i, u in enumerate(user_ids)}

    def mean_vectors(frame: pd.DataFrame) -> np.ndarray:
        out = np.zeros((n_users, dim), np.float32)
        pos = frame[frame[COL_RATING] >= DEFAULT_POSITIVE_THRESHOLD]
        for u, grp in pos.groupby(COL_USER):
            out[uidx[u]] = np.mean([vec_of[i] for i in grp[COL_ITEM]], axis=0)
        return out

    data = TransferData.from_frames(
        items, users, source, target_train, target_valid, item_ids, item_vectors,
        mean_vectors(source), mean_vectors(target_train),
    )
    return (data, target_test) if return_test else data
