"""No cold-start user's target behaviour reaches any training artifact (in memory and on disk)."""
from __future__ import annotations

import pandas as pd
import pytest

from rec_helpers import pipeline
from rec_helpers.config import load_config
from rec_helpers.datasets import load_custom
from rec_helpers.preprocess import clean
from rec_helpers.splits import SPLIT_FILES, genre_domains, make_split, split_by_genre, split_by_time

THRESHOLD = 4.0
TRAINING_FILES = ("source", "target_train")          # what a model may fit on


def pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(df["user"].astype(str), df["item"].astype(str)))


def original_target(inter: pd.DataFrame, items: pd.DataFrame, split_cfg: dict) -> pd.DataFrame:
    """All cleaned target-side interactions (every rating, not only positives), recomputed
    independently of ``make_split``'s bookkeeping."""
    if split_cfg["kind"] == "genre":
        dom = genre_domains(items, split_cfg["source_genres"], split_cfg["target_genres"], split_cfg["overlap"])
        return split_by_genre(inter, dom)[1]
    return split_by_time(inter, split_cfg["time_source_frac"])[1]


def assert_no_leak(frames: dict[str, pd.DataFrame], target_all: pd.DataFrame) -> None:
    users = frames["users"]
    role = dict(zip(users["user"], users["role"]))
    cold_valid = {u for u, r in role.items() if r == "cold_valid"}
    cold_test = {u for u, r in role.items() if r == "cold_test"}
    warm = {u for u, r in role.items() if r == "warm"}
    assert cold_valid and cold_test and warm
    cold_target = target_all[target_all["user"].isin(cold_valid | cold_test)]
    hidden = pairs(cold_target)
    n_non_pos = int((cold_target["rating"] < THRESHOLD).sum())
    assert n_non_pos > 0                                        # the check covers non-positives too

    # 1. no hidden (user, item) in any training artifact, nor in the warm evaluation set
    for name in (*TRAINING_FILES, "target_warm_test"):
        assert not pairs(frames[name]) & hidden, f"{name} leaks cold users' target interactions"
    # 2. target_train (and the warm test) hold warm users only
    assert set(frames["target_train"]["user"]) == warm
    assert set(frames["target_warm_test"]["user"]) <= warm
    # 3. the hidden positives are exactly the cold users' target positives, by role
    pos = cold_target[cold_target["rating"] >= THRESHOLD]
    assert set(frames["target_valid"]["user"]) == cold_valid
    assert set(frames["target_test"]["user"]) == cold_test
    assert pairs(frames["target_valid"]) == pairs(pos[pos["user"].isin(cold_valid)])
    assert pairs(frames["target_test"]) == pairs(pos[pos["user"].isin(cold_test)])
    assert not pairs(frames["target_valid"]) & pairs(frames["target_test"])
    # 4. the warm users' target rows are all accounted for: train + warm test, nothing else
    warm_target = target_all[target_all["user"].isin(warm)]
    assert pairs(frames["target_train"]) | pairs(frames["target_warm_test"]) == pairs(warm_target)
    assert len(frames["target_train"]) + len(frames["target_warm_test"]) == len(warm_target)
    # 5. the items and users tables carry no interactions
    assert set(frames["items"].columns) >= {"item", "domain"} and "user" not in frames["items"].columns
    assert list(frames["users"].columns)[:2] == ["user", "role"]
    assert set(frames["users"].columns[2:]) <= {"gender", "age", "occupation"}  # the user features, if any


@pytest.mark.parametrize("kind", ["genre", "time"])
def test_make_split_hides_cold_users_target_interactions(synthetic_dataset, kind):
    cfg = load_config(None, "", {"split": {"kind": kind}})
    d = synthetic_dataset
    inter, _ = clean(d.interactions, d.items, cfg["data"], cfg["seed"])
    s = make_split(inter, d.items, cfg["split"], cfg["seed"], THRESHOLD)
    assert_no_leak(s.frames(), original_target(inter, d.items, cfg["split"]))


def test_split_files_on_disk_hide_cold_users_target_interactions(tmp_path, make_run, synthetic_csv):
    ctx = make_run(tmp_path / "run", split={"cold_test_frac": 0.3, "cold_valid_frac": 0.2})
    pipeline.ensure_split(ctx)
    folder = ctx.run.path / "split"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.parquet" for n in SPLIT_FILES)
    frames = {n: pd.read_parquet(folder / f"{n}.parquet") for n in SPLIT_FILES}
    cfg = ctx.config
    ds = load_custom(synthetic_csv["interactions"], synthetic_csv["items"])
    inter, _ = clean(ds.interactions, ds.items, cfg["data"], cfg["seed"])
    assert_no_leak(frames, original_target(inter, ds.items, cfg["split"]))
    roles = frames["users"]["role"].value_counts().to_dict()
    n = len(frames["users"])
    assert roles == {"cold_test": round(0.3 * n), "cold_valid": round(0.2 * n),
                     "warm": n - round(0.3 * n) - round(0.2 * n)}


def test_split_read_back_from_disk_equals_the_built_split(tmp_path, make_run):
    ctx = make_run(tmp_path / "run")
    built = pipeline.ensure_split(ctx)
    read = pipeline.ensure_split(make_run(tmp_path / "run"))          # a second notebook, same folder
    loaded = pipeline.load_split(ctx.run.path)
    for name in SPLIT_FILES:
        pd.testing.assert_frame_equal(read.frames()[name], built.frames()[name], obj=name)
        pd.testing.assert_frame_equal(loaded.frames()[name], read.frames()[name], obj=name)
    assert read.stats == built.stats
