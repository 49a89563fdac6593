"""Schema and value checks for interactions and items, with errors that say what to fix."""
from __future__ import annotations

from typing import Iterable

import pandas as pd

from .constants import COL_GENRES, COL_ITEM, COL_RATING, COL_TIMESTAMP, COL_TITLE, COL_USER
from .errors import DataValidationError

INTERACTION_COLUMNS = (COL_USER, COL_ITEM, COL_RATING, COL_TIMESTAMP)
ITEM_COLUMNS = (COL_ITEM, COL_TITLE, COL_GENRES)


def _examples(rows: pd.DataFrame | pd.Series, n: int = 3) -> str:
    return ", ".join(f"row {i}: {v!r}" for i, v in list(rows.items())[:n])


def id_strings(s: pd.Series) -> pd.Series:
    """Ids as strings; a float column of whole numbers (a numeric id column with a gap) becomes ``"12"``, not ``"12.0"``."""
    if pd.api.types.is_float_dtype(s) and (s.dropna() % 1 == 0).all():
        s = s.astype("Int64")
    return s.astype(str).where(s.notna(), pd.NA).astype(str)


def require_columns(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise if ``df`` lacks any of ``columns``; name them and suggest a column mapping."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataValidationError(
            f"{what} is missing column(s) {missing}; it has {list(df.columns)}. "
            f"Fix: rename your columns or pass a column mapping, e.g. "
            f"columns={{'your_name': '{missing[0]}'}}."
        )


def require_nonempty(df: pd.DataFrame, what: str) -> None:
    """Raise if ``df`` has no rows."""
    if len(df) == 0:
        raise DataValidationError(f"{what} is empty (0 rows). Fix: check the file path and its contents.")


def validate_interactions(
    df: pd.DataFrame, rating_scale: tuple[float, float] | None = (1, 5), what: str = "interactions"
) -> pd.DataFrame:
    """Check an interactions frame and return it with canonical dtypes.

    Rules: columns ``user, item, rating, timestamp`` present; at least one row; rating and
    timestamp numeric (missing values are allowed here and removed, counted, in cleaning);
    ratings inside ``rating_scale`` (inclusive) when it is given.
    """
    require_columns(df, INTERACTION_COLUMNS, what)
    require_nonempty(df, what)
    out = df[list(INTERACTION_COLUMNS)].copy()
    for col in (COL_RATING, COL_TIMESTAMP):
        num = pd.to_numeric(out[col], errors="coerce")
        bad = out[col][num.isna() & out[col].notna()]
        if len(bad):
            raise DataValidationError(
                f"{what}: column '{col}' must be numeric, but {len(bad)} value(s) are not "
                f"({_examples(bad)}). Fix: clean or drop those rows, or map the right column to '{col}'."
            )
        out[col] = num
    if rating_scale is not None:
        lo, hi = rating_scale
        r = out[COL_RATING]
        bad = r[(r < lo) | (r > hi)]
        if len(bad):
            raise DataValidationError(
                f"{what}: {len(bad)} rating(s) fall outside the declared scale [{lo}, {hi}] "
                f"({_examples(bad)}). Fix: pass the right rating_scale, or rescale the ratings."
            )
    out[COL_USER] = id_strings(out[COL_USER])  # missing ids stay missing (pandas "str" dtype)
    out[COL_ITEM] = id_strings(out[COL_ITEM])
    ts = out[COL_TIMESTAMP]
    if ts.notna().all() and (ts % 1 == 0).all():
        out[COL_TIMESTAMP] = ts.astype("int64")
    out[COL_RATING] = out[COL_RATING].astype("float32")
    return out


def validate_items(df: pd.DataFrame, what: str = "items") -> pd.DataFrame:
    """Check an items frame (``item, title, genres`` and optional ``year``).

    Rules: the columns are present; at least one row; no missing item id or title;
    an item id that repeats must repeat with identical title and genres (exact duplicate
    rows are collapsed), otherwise the conflict is reported.
    """
    require_columns(df, ITEM_COLUMNS, what)
    require_nonempty(df, what)
    cols = [c for c in ("item", "title", "year", "genres") if c in df.columns]
    out = df[cols].copy()
    if "year" not in out.columns:
        out["year"] = pd.NA
    if out[COL_ITEM].isna().any():
        raise DataValidationError(f"{what}: {int(out[COL_ITEM].isna().sum())} row(s) have no item id. "
                                  "Fix: drop them or fill the id column.")
    out[COL_ITEM] = id_strings(out[COL_ITEM])
    no_title = out[out[COL_TITLE].isna() | (out[COL_TITLE].astype(str).str.strip() == "")]
    if len(no_title):
        raise DataValidationError(
            f"{what}: {len(no_title)} item(s) have an empty title (e.g. {no_title[COL_ITEM].head(3).tolist()}); "
            "item text is built from titles. Fix: fill the titles or drop those items.")
    out[COL_GENRES] = out[COL_GENRES].fillna("").astype(str)
    out = out.drop_duplicates()
    dup = out[out.duplicated(COL_ITEM, keep=False)]
    if len(dup):
        ids = dup[COL_ITEM].unique()[:3].tolist()
        raise DataValidationError(
            f"{what}: {dup[COL_ITEM].nunique()} item id(s) appear with conflicting title/genres "
            f"(e.g. {ids}). Fix: make item ids unique, or deduplicate the item table first."
        )
    out["year"] = pd.to_numeric(out["year"], errors="coerce").astype("Int64")
    out[COL_TITLE] = out[COL_TITLE].astype(str)
    return out[[COL_ITEM, COL_TITLE, "year", COL_GENRES]].reset_index(drop=True)
