"""Source/target domains, user roles and the hidden target data of cold-start users.

Two settings (SPEC §3):

* **genre split** (default): an item is *source* if its genres fall only in the source
  group, *target* if only in the target group; items in both are dropped (or given to
  one side by ``overlap``), so the two catalogues are disjoint.
* **time split**: a user's earlier behaviour is the source, the later the target; every
  item is in both catalogues (``domain == "both"``).

Users with at least ``min_source_positives`` and ``min_target_positives`` positives are
the overlapping users; a seed divides them into ``cold_test``, ``cold_valid`` and
``warm``. Cold users' target interactions are hidden: only their positives are kept, in
``target_test`` / ``target_valid``, for evaluation and tuning.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .constants import (
    BOTH, COL_DOMAIN, COL_GENRES, COL_ITEM, COL_RATING, COL_ROLE, COL_TIMESTAMP, COL_USER, GENRE_SEP,
    ROLE_COLD_TEST, ROLE_COLD_VALID, ROLE_WARM, SOURCE, SOURCE_GENRES, TARGET, TARGET_GENRES, USER_FEATURE_COLUMNS,
)
from .errors import ConfigError, DataValidationError

OVERLAP_RULES = ("drop", SOURCE, TARGET)
SPLIT_FILES = ("items", "users", "source", "target_train", "target_valid", "target_test", "target_warm_test")
INTERACTION_COLS = [COL_USER, COL_ITEM, COL_RATING, COL_TIMESTAMP]


@dataclass
class Split:
    """Every frame of ``runs/<name>/split/`` plus counts for the manifest."""

    items: pd.DataFrame            # item, domain, title, text, genres
    users: pd.DataFrame            # user, role (+ the user features the data has: gender, age, occupation)
    source: pd.DataFrame           # all role users' source interactions
    target_train: pd.DataFrame     # warm users' target interactions minus target_warm_test
    target_valid: pd.DataFrame     # cold_valid users' hidden target positives
    target_test: pd.DataFrame      # cold_test users' hidden target positives
    target_warm_test: pd.DataFrame # warm users' latest target positives (secondary evaluation)
    stats: dict = field(default_factory=dict)

    def frames(self) -> dict[str, pd.DataFrame]:
        """The frames by file name (without ``.parquet``)."""
        return {name: getattr(self, name) for name in SPLIT_FILES}


def _check_fraction(name: str, value: float, upper_open: bool = True) -> float:
    value = float(value)
    if not 0.0 <= value < 1.0 if upper_open else not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be in [0, 1), got {value}")
    return value


def genre_domains(
    items: pd.DataFrame,
    source_genres: Sequence[str] = SOURCE_GENRES,
    target_genres: Sequence[str] = TARGET_GENRES,
    overlap: str = "drop",
) -> pd.DataFrame:
    """Add a ``domain`` column from genres; drop items in neither group (and in both, by default)."""
    if overlap not in OVERLAP_RULES:
        raise ConfigError(f"unknown overlap rule {overlap!r}; choose one of {OVERLAP_RULES}")
    shared = set(source_genres) & set(target_genres)
    if shared:
        raise ConfigError(f"genres {sorted(shared)} are in both groups; a genre belongs to one domain")
    g = items[COL_GENRES].fillna("").str.split(GENRE_SEP)
    in_s = g.map(lambda gs: bool(set(gs) & set(source_genres)))
    in_t = g.map(lambda gs: bool(set(gs) & set(target_genres)))
    domain = np.select([in_s & ~in_t, in_t & ~in_s, in_s & in_t], [SOURCE, TARGET, BOTH], default="none")
    out = items.assign(**{COL_DOMAIN: domain})
    if overlap == "drop":
        out = out[out[COL_DOMAIN].isin([SOURCE, TARGET])]
    else:
        out = out[out[COL_DOMAIN] != "none"].copy()
        out.loc[out[COL_DOMAIN] == BOTH, COL_DOMAIN] = overlap
    return out.reset_index(drop=True)


def item_genres(items: pd.DataFrame) -> list[str]:
    """Every genre name used in an item table, sorted."""
    names = items[COL_GENRES].fillna("").astype(str).str.split(GENRE_SEP).explode().str.strip()
    return sorted(set(names[names != ""]))


def check_genres_exist(items: pd.DataFrame, source_genres: Sequence[str], target_genres: Sequence[str]) -> None:
    """DataValidationError for genre names of the split that the data does not know: when none of a
    group's names occurs in the item table, or an unknown name looks like a misspelt known one
    (``Sci-fi`` for ``Sci-Fi``). Absent names that resemble nothing are allowed (a subset of MovieLens)."""
    import difflib

    from .validation import check_genre_names

    known = item_genres(items)
    listed = set(source_genres) | set(target_genres)
    for key, names in (("source_genres", source_genres), ("target_genres", target_genres)):
        unknown = [g for g in names if g not in known]
        typos = [g for g in unknown if set(difflib.get_close_matches(g, known, n=1)) - listed]
        if len(unknown) == len(list(names)) or typos:
            check_genre_names(typos or unknown, known, key, error=DataValidationError)


def check_domains_nonempty(items: pd.DataFrame, dom_items: pd.DataFrame, overlap: str) -> None:
    """DataValidationError when the genre split leaves the source or the target catalogue empty."""
    for side, key in ((SOURCE, "source_genres"), (TARGET, "target_genres")):
        if not (dom_items[COL_DOMAIN] == side).any():
            raise DataValidationError(
                f"the {side} domain is empty: no item of the {len(items):,} items has a genre of split.{key} "
                f"without also having one of the other group (split.overlap: {overlap}; "
                f"{len(dom_items):,} items were kept, all in the other domain). Fix: move genres into split.{key}, "
                f"or set split.overlap: {side} to give items of both groups to the {side} domain.")


def check_threshold_reached(source: pd.DataFrame, target: pd.DataFrame, threshold: float) -> None:
    """DataValidationError when no rating of a domain reaches the positive threshold (nothing counts as a like)."""
    for side, df in ((SOURCE, source), (TARGET, target)):
        if len(df) == 0:
            raise DataValidationError(f"the {side} domain has no interactions: nobody rated a {side} item. "
                                      "Fix: check the genre groups (split.source_genres / target_genres).")
        top = float(df[COL_RATING].max())
        if top < threshold:
            raise DataValidationError(
                f"no {side} rating reaches data.positive_threshold {threshold}: the highest {side} rating is "
                f"{top:g}, so no user likes any {side} item. Fix: lower data.positive_threshold (and check "
                "data.rating_scale matches your ratings).")


def split_by_genre(inter: pd.DataFrame, items: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Source and target interactions: each row follows its item's domain."""
    dom = inter[COL_ITEM].map(items.set_index(COL_ITEM)[COL_DOMAIN])
    return inter[dom == SOURCE].reset_index(drop=True), inter[dom == TARGET].reset_index(drop=True)


def split_by_time(inter: pd.DataFrame, source_frac: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, the earliest ``source_frac`` of interactions (by time) are the source, the rest the target."""
    source_frac = _check_fraction("time source_frac", source_frac)
    df = inter.sort_values([COL_USER, COL_TIMESTAMP, COL_ITEM], kind="stable")
    pos = df.groupby(COL_USER).cumcount()
    n = df.groupby(COL_USER)[COL_ITEM].transform("size")
    early = pos < np.floor(n * source_frac)
    return df[early].reset_index(drop=True), df[~early].reset_index(drop=True)


def overlapping_users(source: pd.DataFrame, target: pd.DataFrame, threshold: float,
                      min_source: int = 1, min_target: int = 1) -> np.ndarray:
    """Sorted users with at least ``min_source`` source and ``min_target`` target positives."""
    ns = source[source[COL_RATING] >= threshold].groupby(COL_USER).size()
    nt = target[target[COL_RATING] >= threshold].groupby(COL_USER).size()
    both = ns[ns >= min_source].index.intersection(nt[nt >= min_target].index)
    return np.sort(np.asarray(both, dtype=object)).astype(str)


def assign_roles(users: Sequence[str], cold_test_frac: float = 0.2, cold_valid_frac: float = 0.1,
                 seed: int = 42) -> pd.DataFrame:
    """Seeded roles: ``round(cold_test_frac·n)`` cold_test, ``round(cold_valid_frac·n)`` cold_valid, the rest warm."""
    cold_test_frac = _check_fraction("cold_test_frac", cold_test_frac)
    cold_valid_frac = _check_fraction("cold_valid_frac", cold_valid_frac)
    if cold_test_frac + cold_valid_frac >= 1:
        raise ConfigError(f"cold_test_frac + cold_valid_frac = {cold_test_frac + cold_valid_frac} leaves no warm "
                          "users to train on; keep the sum below 1")
    users = np.sort(np.asarray(users).astype(str))
    order = np.random.default_rng(seed).permutation(len(users))
    n_test, n_valid = round(cold_test_frac * len(users)), round(cold_valid_frac * len(users))
    roles = np.full(len(users), ROLE_WARM, dtype=object)
    roles[order[:n_test]] = ROLE_COLD_TEST
    roles[order[n_test:n_test + n_valid]] = ROLE_COLD_VALID
    return pd.DataFrame({COL_USER: users, COL_ROLE: roles.astype(str)})


def split_warm_by_time(target_warm: pd.DataFrame, threshold: float, test_frac: float = 0.2
                       ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hold out each warm user's latest ``ceil(test_frac·n_pos)`` positives (kept ≥ 1 in training)."""
    test_frac = _check_fraction("warm_test_frac", test_frac)
    df = target_warm.sort_values([COL_USER, COL_TIMESTAMP, COL_ITEM], kind="stable")
    is_pos = df[COL_RATING] >= threshold
    pos = df[is_pos]
    n_pos = pos.groupby(COL_USER)[COL_ITEM].transform("size")
    rank_from_end = pos.groupby(COL_USER).cumcount(ascending=False)
    n_test = np.minimum(np.ceil(n_pos * test_frac), n_pos - 1)
    test_idx = pos.index[rank_from_end < n_test]
    test = df.loc[test_idx]
    train = df.drop(index=test_idx)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    return df[INTERACTION_COLS].sort_values([COL_USER, COL_TIMESTAMP, COL_ITEM], kind="stable").reset_index(drop=True)


# MovieLens-1M's age groups (under 18, 18–24, 25–34, 35–44, 45–49, 50–55, 56+), named by their first age;
# ML-100K's ages in years are put into the same groups
AGE_GROUPS = (1, 18, 25, 35, 45, 50, 56)


def _feature_text(values: pd.Series, column: str) -> pd.Series:
    """A feature column as text categories ("" where unknown): ages as their age group, whole numbers without
    ".0" (the wheels store ML-1M's age and occupation codes as floats)."""
    out = pd.Series("", index=values.index, dtype=object)
    known = values.notna() & (values.astype(str).str.strip() != "")
    v = values[known]
    num = pd.to_numeric(v, errors="coerce")
    if len(v) and num.notna().all():
        if column == "age":
            num = pd.Series(np.asarray(AGE_GROUPS)[np.searchsorted(AGE_GROUPS, num.to_numpy(), side="right") - 1],
                            index=v.index)
        if (num == num.round()).all():
            out[known] = num.astype("int64").astype(str)
            return out
    out[known] = v.astype(str)
    return out


def attach_user_features(roles: pd.DataFrame, users: pd.DataFrame | None) -> pd.DataFrame:
    """``roles`` (user, role) with the :data:`USER_FEATURE_COLUMNS` that the dataset's user table has, as text
    categories ("" where a user has no row; ages as age groups, see :data:`AGE_GROUPS`); unchanged when it has
    none (custom data, a zip without users.dat)."""
    cols = [c for c in USER_FEATURE_COLUMNS if users is not None and c in users.columns]
    if not cols:
        return roles
    table = users[[COL_USER, *cols]].dropna(subset=[COL_USER]).drop_duplicates(COL_USER)
    table = table.assign(**{COL_USER: table[COL_USER].astype(str)},
                         **{c: _feature_text(table[c], c) for c in cols})
    out = roles.merge(table, on=COL_USER, how="left", validate="one_to_one")
    out[cols] = out[cols].fillna("").astype(str)  # the dtype a read-back Parquet column has
    return out


def make_split(inter: pd.DataFrame, items: pd.DataFrame, cfg: Mapping, seed: int,
               threshold: float) -> Split:
    """Build every split frame from cleaned interactions and items, as ``cfg`` (the ``split`` section) says."""
    kind = cfg.get("kind", "genre")
    if kind == "genre":
        src_genres, tgt_genres = cfg.get("source_genres", SOURCE_GENRES), cfg.get("target_genres", TARGET_GENRES)
        check_genres_exist(items, src_genres, tgt_genres)
        dom_items = genre_domains(items, src_genres, tgt_genres, cfg.get("overlap", "drop"))
        check_domains_nonempty(items, dom_items, cfg.get("overlap", "drop"))
        source, target = split_by_genre(inter, dom_items)
    elif kind == "time":
        dom_items = items.assign(**{COL_DOMAIN: BOTH})
        source, target = split_by_time(inter, cfg.get("time_source_frac", 0.5))
    else:
        raise ConfigError(f"unknown split kind {kind!r}; use 'genre' or 'time'")

    check_threshold_reached(source, target, threshold)
    n_any_overlap = len(overlapping_users(source, target, threshold, 1, 1))
    min_s, min_t = int(cfg.get("min_source_positives", 5)), int(cfg.get("min_target_positives", 5))
    users = overlapping_users(source, target, threshold, min_s, min_t)
    if len(users) == 0:
        best_s = int(source[source[COL_RATING] >= threshold].groupby(COL_USER).size().max())
        best_t = int(target[target[COL_RATING] >= threshold].groupby(COL_USER).size().max())
        raise ConfigError(
            f"no user has enough positives in both domains: split.min_source_positives={min_s} and "
            f"split.min_target_positives={min_t} are needed, but the most any user has is {best_s} source and "
            f"{best_t} target positives (rating >= {threshold}); {n_any_overlap} user(s) have at least one in "
            "both. Fix: lower min_source_positives / min_target_positives (or data.positive_threshold), "
            "or check the genre groups")
    roles = assign_roles(users, cfg.get("cold_test_frac", 0.2), cfg.get("cold_valid_frac", 0.1), seed)
    counts = roles[COL_ROLE].value_counts()
    for role, key in ((ROLE_COLD_TEST, "split.cold_test_frac"), (ROLE_WARM, "split.cold_test_frac + cold_valid_frac")):
        if counts.get(role, 0) == 0:
            raise DataValidationError(
                f"no {role} user: {len(users)} overlapping user(s) and {key} leave none "
                f"({ {r: int(n) for r, n in counts.items()} }). The transfer needs warm users to learn from and "
                "cold_test users to be evaluated on. Fix: use more data (or lower min_*_positives), or change "
                f"{key}.")
    role_of = roles.set_index(COL_USER)[COL_ROLE]
    source = source[source[COL_USER].isin(users)]
    target = target[target[COL_USER].isin(users)]
    t_role = target[COL_USER].map(role_of)
    t_pos = target[COL_RATING] >= threshold
    target_train, warm_test = split_warm_by_time(target[t_role == ROLE_WARM], threshold,
                                                 cfg.get("warm_test_frac", 0.2))
    split = Split(
        items=dom_items,
        users=roles,
        source=_sorted(source),
        target_train=_sorted(target_train),
        target_valid=_sorted(target[(t_role == ROLE_COLD_VALID) & t_pos]),
        target_test=_sorted(target[(t_role == ROLE_COLD_TEST) & t_pos]),
        target_warm_test=_sorted(warm_test),
    )
    split.stats = {
        "kind": kind,
        "n_source_items": int((dom_items[COL_DOMAIN].isin([SOURCE, BOTH])).sum()),
        "n_target_items": int((dom_items[COL_DOMAIN].isin([TARGET, BOTH])).sum()),
        "n_users_with_positives_in_both": n_any_overlap,
        "n_overlapping_users": int(len(users)),
        "roles": {r: int(n) for r, n in roles[COL_ROLE].value_counts().sort_index().items()},
        "rows": {name: int(len(df)) for name, df in split.frames().items()},
    }
    return split
