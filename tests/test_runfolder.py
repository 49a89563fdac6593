"""rec_helpers.runfolder and the split step's caching: atomic writes, clear errors, reproducible bytes."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rec_helpers import pipeline
from rec_helpers.errors import RunFolderError
from rec_helpers.runfolder import MANIFEST, RunFolder, atomic_path, write_json, write_npy, write_parquet
from rec_helpers.splits import SPLIT_FILES


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


# --- atomic writes ----------------------------------------------------------------------------
def test_atomic_writes_leave_no_temp_files(tmp_path):
    write_json(tmp_path / "a" / "x.json", {"n": np.int64(3), "f": np.float32(0.5), "arr": np.arange(2),
                                           "p": tmp_path})
    write_parquet(tmp_path / "a" / "x.parquet", pd.DataFrame({"u": ["a"], "v": [1]}, index=[7]))
    write_npy(tmp_path / "a" / "x.npy", np.eye(2, dtype="float32")[:, ::-1])
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["x.json", "x.npy", "x.parquet"]
    assert json.loads((tmp_path / "a" / "x.json").read_text()) == {"n": 3, "f": 0.5, "arr": [0, 1],
                                                                   "p": str(tmp_path)}
    back = pd.read_parquet(tmp_path / "a" / "x.parquet")
    assert back.index.tolist() == [0] and back["u"].tolist() == ["a"]
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "x.npy"), [[0, 1], [1, 0]])


def test_exception_inside_atomic_path_keeps_the_old_file(tmp_path):
    target = tmp_path / "data.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="crash"):
        with atomic_path(target) as tmp:
            assert tmp.parent.parent == tmp_path and tmp != target
            tmp.write_text("half-writ")
            raise RuntimeError("crash")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.json"]


def test_atomic_path_builds_a_folder_in_place_of_the_old_one(tmp_path):
    target = tmp_path / "model"
    (target / "old").mkdir(parents=True)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            (tmp / "half").mkdir(parents=True)
            raise RuntimeError("crash")
    assert [p.name for p in target.iterdir()] == ["old"]
    with atomic_path(target) as tmp:
        (tmp / "new").mkdir(parents=True)
    assert [p.name for p in target.iterdir()] == ["new"] and sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_write_json_writes_nan_as_null(tmp_path):
    write_json(tmp_path / "m.json", {"a": float("nan"), "b": [np.float32(np.inf), (1, 2)], 3: np.array(0.5)})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": None, "b": [None, [1, 2]], "3": 0.5}


def test_atomic_path_gives_the_file_normal_permissions(tmp_path):
    write_json(tmp_path / "x.json", {})
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_write_json_that_cannot_serialise_keeps_the_old_file(tmp_path):
    write_json(tmp_path / "m.json", {"a": 1})
    with pytest.raises(TypeError, match="not JSON serializable"):
        write_json(tmp_path / "m.json", {"a": object()})
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1}
    assert leftovers(tmp_path) == []


def test_same_frame_gives_the_same_parquet_bytes(tmp_path):
    df = pd.DataFrame({"user": ["b", "a"], "rating": np.array([1.0, 2.5], dtype="float32")})
    write_parquet(tmp_path / "1.parquet", df)
    write_parquet(tmp_path / "2.parquet", df.copy())
    assert (tmp_path / "1.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()


# --- the RunFolder ----------------------------------------------------------------------------
def test_scores_use_byte_stream_split_and_read_back_exactly(tmp_path):
    """Many-valued float columns (scores) are written with BYTE_STREAM_SPLIT, few-valued ones (ratings)
    and the other columns with the dictionary; every value reads back exactly."""
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    n = 5000
    df = pd.DataFrame({"user": np.repeat([f"u{i}" for i in range(50)], 100), "rank": np.tile(np.arange(1, 101), 50),
                       "score": rng.standard_normal(n).astype(np.float32).astype(np.float64),
                       "rating": rng.integers(1, 6, n).astype(np.float64)})
    write_parquet(tmp_path / "r.parquet", df)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r.parquet"), df)
    meta = pq.ParquetFile(tmp_path / "r.parquet").metadata.row_group(0)
    enc = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(meta.num_columns)}
    assert "BYTE_STREAM_SPLIT" in enc["score"]
    assert all("BYTE_STREAM_SPLIT" not in enc[c] for c in ("user", "rank", "rating"))
    assert any("DICTIONARY" in e for e in enc["rating"])


def test_create_refuses_an_existing_folder_when_asked(tmp_path):
    run = RunFolder.create(tmp_path / "r")
    assert json.loads(run.file(MANIFEST).read_text()) == {}
    run.update_manifest(a=1)
    with pytest.raises(RunFolderError, match=r"already exists.*never overwritten.*Fix: choose another"):
        RunFolder.create(tmp_path / "r", exist_ok=False)
    assert RunFolder.create(tmp_path / "r").manifest == {"a": 1}       # exist_ok=True keeps the manifest
    assert RunFolder.create(tmp_path / "new", exist_ok=False).manifest == {}


@pytest.mark.parametrize("rel, producer", [
    ("split/source.parquet", "01_preprocessing.ipynb"),
    ("embeddings/items.npy", "02_bert_encoding.ipynb"),
    ("rankings/adapter.parquet", "transfer notebooks 03-05"),
    ("metrics.json", "an earlier notebook"),
])
def test_require_names_the_producing_notebook(tmp_path, rel, producer):
    run = RunFolder.create(tmp_path / "r")
    with pytest.raises(RunFolderError) as ei:
        run.require(rel)
    msg = str(ei.value)
    assert f"{rel} is missing" in msg and producer in msg and "same run_dir" in msg
    with pytest.raises(RunFolderError, match="01_preprocessing"):
        run.read_parquet("split/users.parquet")


def test_npy_round_trip_and_corrupt_npy(tmp_path):
    run = RunFolder.create(tmp_path / "r")
    arr = np.arange(12, dtype="float32").reshape(3, 4)
    run.write_npy("embeddings/x.npy", arr)
    np.testing.assert_array_equal(run.read_npy("embeddings/x.npy"), arr)
    run.file("embeddings/garbage.npy").write_bytes(b"definitely not numpy")
    with pytest.raises(RunFolderError, match=r"garbage\.npy is corrupt or truncated.*delete it and rerun"):
        run.read_npy("embeddings/garbage.npy")
    full = run.file("embeddings/x.npy").read_bytes()
    run.file("embeddings/truncated.npy").write_bytes(full[: len(full) - 10])
    with pytest.raises(RunFolderError, match="truncated"):
        run.read_npy("embeddings/truncated.npy")


def test_object_arrays_are_never_written_or_read_with_pickle(tmp_path):
    run = RunFolder.create(tmp_path / "r")
    with pytest.raises(ValueError, match="allow_pickle"):
        run.write_npy("x.npy", np.array([{"a": 1}], dtype=object))
    assert not run.has("x.npy") and leftovers(run.path) == []
    np.save(run.file("pickled.npy"), np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(RunFolderError, match="pickled.npy"):
        run.read_npy("pickled.npy")


def test_corrupt_json_is_a_run_folder_error(tmp_path):
    run = RunFolder.create(tmp_path / "r")
    run.file("metrics.json").write_text("{broken")
    with pytest.raises(RunFolderError, match=r"metrics\.json is not valid JSON.*rerun"):
        run.read_json("metrics.json")


def test_manifest_update_merges_one_level_deep(tmp_path):
    run = RunFolder.create(tmp_path / "r")
    run.update_manifest(config={"seed": 1, "data": {"dataset": "a"}}, steps={"split": {"config_hash": "x"}})
    run.update_manifest(config={"data": {"source": "b"}}, steps={"embed": {"config_hash": "y"}}, note="hi")
    run.record_timing("split", 1.23456)
    run.record_timing("embed", 2)
    m = json.loads(run.file(MANIFEST).read_text())
    assert m == {
        "config": {"seed": 1, "data": {"source": "b"}},            # nested dicts are replaced, not merged
        "steps": {"split": {"config_hash": "x"}, "embed": {"config_hash": "y"}},
        "note": "hi",
        "timings": {"split": 1.235, "embed": 2.0},
    }
    run.update_manifest(note={"now": "a dict"})
    assert run.manifest["note"] == {"now": "a dict"}
    assert leftovers(run.path) == []


# --- the split step: reproducible bytes and no overwrite --------------------------------------
def test_same_seed_gives_byte_identical_split_files(tmp_path, make_run, snapshot_files):
    a = make_run(tmp_path / "a")
    b = make_run(tmp_path / "b")
    pipeline.ensure_split(a)
    pipeline.ensure_split(b)
    fa = {k: v for k, v in snapshot_files(a.run.path).items() if k.startswith("split/")}
    fb = {k: v for k, v in snapshot_files(b.run.path).items() if k.startswith("split/")}
    assert sorted(fa) == sorted(f"split/{n}.parquet" for n in SPLIT_FILES)
    assert fa == fb
    assert a.run.manifest["split"] == b.run.manifest["split"]
    assert a.run.manifest["steps"] == b.run.manifest["steps"]
    c = make_run(tmp_path / "c", seed=7)
    pipeline.ensure_split(c)
    assert c.run.file("split/users.parquet").read_bytes() != fa["split/users.parquet"]
    assert leftovers(tmp_path) == []


def test_ensure_split_records_manifest(tmp_path, make_run):
    ctx = make_run(tmp_path / "r")
    split = pipeline.ensure_split(ctx)
    m = ctx.run.manifest
    assert m["config"]["data"]["source"] == "custom" and m["config"]["profile"] is None
    assert m["data"]["dataset"] == "synthetic"
    assert m["data"]["raw"] == {"interactions": 1000, "users": 40, "items": 56, "rated_items": 56}
    assert m["data"]["cleaning"]["after_k_core"] == 1000
    assert m["split"] == split.stats and m["split"]["n_overlapping_users"] == 36
    assert "split" in m["timings"] and m["packages"]["pandas"] == pd.__version__
    texts = split.items.set_index("item")["text"]
    assert texts["s00"] == "Movie S0, The (1980). Genres: Action."


def test_ensure_split_with_other_parameters_raises_and_leaves_files(tmp_path, make_run, snapshot_files):
    ctx = make_run(tmp_path / "r")
    pipeline.ensure_split(ctx)
    before = snapshot_files(ctx.run.path)
    for extra in ({"seed": 1}, {"split": {"cold_test_frac": 0.5}}, {"encoder": {"template": "{title}"}},
                  {"data": {"positive_threshold": 3.0}}):
        other = make_run(tmp_path / "r", **extra)
        with pytest.raises(RunFolderError) as ei:
            pipeline.ensure_split(other)
        msg = str(ei.value)
        assert "already holds a 'split' step built with other parameters" in msg
        assert "Fix: pass a new run_dir" in msg
        assert snapshot_files(ctx.run.path) == before, extra
    # parameters outside the split's sections (e.g. evaluation) reuse the cached split
    same = make_run(tmp_path / "r", evaluation={"n_resamples": 10})
    assert len(pipeline.ensure_split(same).users) == 36
    assert snapshot_files(ctx.run.path) == before


def test_start_with_run_dir_none_names_the_folder_by_parameters(tmp_path, monkeypatch, make_run):
    monkeypatch.setenv("REC_SUITE_ROOT", str(tmp_path))
    (tmp_path / "configs").mkdir()
    src = Path(__file__).resolve().parents[1] / "configs" / "default.yaml"
    (tmp_path / "configs" / "default.yaml").write_text(src.read_text())
    one = make_run(None)
    two = make_run(None)
    three = make_run(None, seed=5)
    assert one.run.path == two.run.path
    assert one.run.path.parent == tmp_path / "runs"
    assert one.run.path.name.startswith("notebooks-default-")
    assert three.run.path != one.run.path
