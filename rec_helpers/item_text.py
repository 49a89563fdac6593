"""Item text: one sentence per movie, the input BERT encodes.

``build_item_texts`` fills a template such as ``"{title} ({year}). Genres: {genres}."``::

    Toy Story (1995). Genres: Animation, Children's, Comedy.

Missing fields:

* missing ``year`` -> the ``" ({year})"`` group (with the space before it) is removed, so
  ``"Toy Story. Genres: ..."``; a ``{year}`` used outside parentheses becomes ``"unknown"``;
* missing / empty ``genres`` (or MovieLens' ``"(no genres listed)"``) -> ``"unknown"``, so
  ``"Genres: unknown."``;
* missing / blank ``title`` -> ``DataValidationError`` naming the items (a text without a
  title says nothing about the movie: fix the data instead).
"""
from __future__ import annotations

import re
import string

import pandas as pd

from . import constants
from .errors import ConfigError, DataValidationError, require_columns

TEMPLATE_FIELDS = ("title", "year", "genres", "item")
UNKNOWN = "unknown"
_NO_GENRES = {"", "(no genres listed)"}
_YEAR_GROUP = re.compile(r"\s*\(\{year\}\)")


def template_fields(template: str) -> list[str]:
    """Placeholders used by ``template``; ``ConfigError`` for any not in ``TEMPLATE_FIELDS``."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as err:
        raise ConfigError(f"item template {template!r} is malformed ({err}). Fix: balance the braces.") from err
    unknown = sorted({f for f in fields if f not in TEMPLATE_FIELDS})
    if unknown or "" in fields:
        bad = unknown or ["{} (empty)"]
        allowed = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
        raise ConfigError(
            f"item template {template!r} uses unknown placeholder(s) {bad}. "
            f"Fix: use only {allowed}."
        )
    return fields


def format_genres(genres: object) -> str:
    """``"Animation|Children's|Comedy"`` -> ``"Animation, Children's, Comedy"``; missing -> ``"unknown"``."""
    if _is_missing(genres):
        return UNKNOWN
    parts = [g.strip() for g in str(genres).split(constants.GENRE_SEP)]
    parts = [g for g in parts if g and g not in _NO_GENRES]
    return ", ".join(parts) if parts else UNKNOWN


def format_year(year: object) -> str | None:
    """``1995`` / ``1995.0`` -> ``"1995"``; missing -> ``None``."""
    if _is_missing(year):
        return None
    try:
        return str(int(float(year)))
    except (TypeError, ValueError):
        return str(year).strip() or None


def build_item_texts(
    items: pd.DataFrame, template: str = constants.DEFAULT_ITEM_TEMPLATE
) -> pd.Series:
    """One text per row of ``items`` (columns item, title, year, genres), index-aligned with it."""
    fields = template_fields(template)
    require_columns(items, sorted(set(fields)), "the items frame (for the template)",
                    "pass the items table with columns item, title, year, genres")
    if constants.COL_TITLE in fields:
        _check_titles(items)
    no_year_template = _YEAR_GROUP.sub("", template)
    columns = sorted(set(fields))
    rows = items[columns].to_dict("records") if columns else [{}] * len(items)
    texts = [_render(template, no_year_template, row, fields) for row in rows]
    return pd.Series(texts, index=items.index, name=constants.COL_TEXT, dtype=object)


def _render(template: str, no_year_template: str, row: dict, fields: list[str]) -> str:
    values = {}
    if constants.COL_TITLE in fields:
        values["title"] = str(row[constants.COL_TITLE]).strip()
    if constants.COL_GENRES in fields:
        values["genres"] = format_genres(row[constants.COL_GENRES])
    if constants.COL_ITEM in fields:
        values["item"] = str(row[constants.COL_ITEM])
    if constants.COL_YEAR in fields:
        year = format_year(row[constants.COL_YEAR])
        if year is None:
            template, year = no_year_template, UNKNOWN
        values["year"] = year
    return template.format(**values)


def _check_titles(items: pd.DataFrame) -> None:
    titles = items[constants.COL_TITLE]
    bad = titles.isna() | (titles.astype("string").str.strip() == "").fillna(True)
    if bad.any():
        ids = items.loc[bad, constants.COL_ITEM] if constants.COL_ITEM in items else items.index[bad]
        shown = list(map(str, list(ids)[:10]))
        raise DataValidationError(
            f"{int(bad.sum())} item(s) have no title (items {shown}{' ...' if bad.sum() > 10 else ''}). "
            "Fix: fill in their titles or drop those items before building texts."
        )


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


__all__ = ["TEMPLATE_FIELDS", "build_item_texts", "format_genres", "format_year", "template_fields"]
