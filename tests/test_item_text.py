"""Tests of rec_helpers.item_text.build_item_texts."""
from __future__ import annotations

import pandas as pd
import pytest

from rec_helpers.errors import ConfigError, DataValidationError
from rec_helpers.item_text import build_item_texts, format_genres


def make_items(**overrides) -> pd.DataFrame:
    data = {
        "item": ["1", "2", "3"],
        "title": ["Toy Story", "Heat", "Jumanji"],
        "year": pd.array([1995, 1995, 1995], dtype="Int64"),
        "genres": ["Animation|Children's|Comedy", "Action|Crime|Thriller", "Adventure|Children's|Fantasy"],
    }
    data.update(overrides)
    return pd.DataFrame(data, index=[10, 20, 30])


def test_default_template():
    texts = build_item_texts(make_items())
    assert texts.loc[10] == "Toy Story (1995). Genres: Animation, Children's, Comedy."
    assert texts.loc[20] == "Heat (1995). Genres: Action, Crime, Thriller."
    assert list(texts.index) == [10, 20, 30]


def test_missing_year_drops_the_bracket_cleanly():
    items = make_items(year=pd.array([None, 1995, None], dtype="Int64"))
    texts = build_item_texts(items)
    assert texts.loc[10] == "Toy Story. Genres: Animation, Children's, Comedy."
    assert texts.loc[20] == "Heat (1995). Genres: Action, Crime, Thriller."


def test_missing_year_outside_brackets_becomes_unknown():
    items = make_items(year=pd.array([None, 1995, 1995], dtype="Int64"))
    assert build_item_texts(items, "{title}, released {year}").loc[10] == "Toy Story, released unknown"


def test_missing_or_empty_genres_become_unknown():
    items = make_items(genres=[None, "", "(no genres listed)"])
    texts = build_item_texts(items)
    assert set(texts) == {"Toy Story (1995). Genres: unknown.", "Heat (1995). Genres: unknown.",
                          "Jumanji (1995). Genres: unknown."}


def test_missing_title_names_the_items():
    items = make_items(title=["Toy Story", None, "  "])
    with pytest.raises(DataValidationError, match=r"2 item\(s\) have no title.*'2'.*'3'"):
        build_item_texts(items)


def test_custom_template_with_item_field():
    texts = build_item_texts(make_items(), "[{item}] {title} | {genres}")
    assert texts.loc[30] == "[3] Jumanji | Adventure, Children's, Fantasy"


def test_unknown_placeholder_lists_allowed_fields():
    with pytest.raises(ConfigError, match=r"\['plot'\].*\{title\}, \{year\}, \{genres\}, \{item\}"):
        build_item_texts(make_items(), "{title}: {plot}")
    with pytest.raises(ConfigError):
        build_item_texts(make_items(), "{title} {}")


def test_missing_column_is_reported():
    with pytest.raises(DataValidationError, match="genres"):
        build_item_texts(make_items().drop(columns="genres"))


def test_format_genres_strips_and_joins():
    assert format_genres(" Drama | Romance ") == "Drama, Romance"
    assert format_genres(float("nan")) == "unknown"


def test_template_change_changes_text():
    items = make_items()
    assert (build_item_texts(items) != build_item_texts(items, "{title}. Genres: {genres}.")).all()
