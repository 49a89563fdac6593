"""Bad input: every case raises the package's own error, whose message names the problem and the fix,
and no bad input harms an earlier run folder."""
from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from rec_helpers import pipeline
from rec_helpers.config import load_config
from rec_helpers.datasets import load_custom, load_movielens
from rec_helpers.errors import ConfigError, DataValidationError, FetchError, RecHelpersError, RunFolderError
from rec_helpers.fetch import fetch_wheel
from rec_helpers.runfolder import RunFolder
from rec_helpers.splits import assign_roles, genre_domains, make_split, split_by_time, split_warm_by_time
from rec_helpers.validation import validate_interactions, validate_items

GOOD_INTER = "user,item,rating,timestamp\n1,10,4,100\n2,11,5,200\n"
GOOD_ITEMS = "item,title,genres\n10,Heat,Action\n11,Fargo,Crime\n"


def write(folder: Path, name: str, text: str | bytes) -> Path:
    p = folder / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def custom(tmp: Path, inter: str | bytes = GOOD_INTER, items: str | bytes = GOOD_ITEMS,
           inter_name: str = "inter.csv", items_name: str = "items.csv", **kw):
    return load_custom(write(tmp, inter_name, inter), write(tmp, items_name, items), **kw)


def yaml_file(tmp: Path, text: str) -> Path:
    return write(tmp, "cfg.yaml", text)


def tiny_split_inputs():
    inter = pd.DataFrame({"user": ["a"] * 4, "item": ["s", "t", "s2", "t2"], "rating": [5.0] * 4,
                          "timestamp": [1, 2, 3, 4]})
    items = pd.DataFrame({"item": ["s", "t", "s2", "t2"], "title": list("STUV"),
                          "genres": ["Action", "Comedy", "Horror", "Drama"]})
    return inter, items


# (id, call(tmp_path), error type, regexes that must all occur in the message, case-insensitive)
CASES = [
    ("missing-column", lambda t: custom(t, inter="userId,item,rating,timestamp\n1,10,4,100\n"),
     DataValidationError, [r"missing column\(s\) \['user'\]", r"userId", r"column mapping"]),
    ("missing-timestamp", lambda t: custom(t, inter="user,item,rating\n1,10,4\n"),
     DataValidationError, [r"missing column\(s\) \['timestamp'\]", r"columns=\{'your_name': 'timestamp'\}"]),
    ("non-numeric-rating", lambda t: custom(t, inter="user,item,rating,timestamp\n1,10,4,100\n2,11,great,200\n"),
     DataValidationError, [r"'rating' must be numeric", r"1 value", r"'great'", r"fix: clean or drop"]),
    ("non-numeric-timestamp",
     lambda t: custom(t, inter="user,item,rating,timestamp\n1,10,4,2020-01-01\n"),
     DataValidationError, [r"'timestamp' must be numeric", r"2020-01-01", r"fix"]),
    ("rating-outside-scale", lambda t: custom(t, inter="user,item,rating,timestamp\n1,10,4,100\n2,11,9,200\n"),
     DataValidationError, [r"outside the declared scale \[1, 5\]", r"9", r"fix: pass the right rating_scale"]),
    ("rating-outside-custom-scale",
     lambda t: custom(t, inter="user,item,rating,timestamp\n1,10,0.5,100\n", rating_scale=(1, 10)),
     DataValidationError, [r"\[1, 10\]", r"rating_scale"]),
    ("empty-file", lambda t: custom(t, inter=b""),
     DataValidationError, [r"interactions file .*inter\.csv is empty \(0 bytes\)", r"fix: check the export"]),
    ("header-only-csv", lambda t: custom(t, inter="user,item,rating,timestamp\n"),
     DataValidationError, [r"interactions is empty \(0 rows\)", r"fix: check the file"]),
    ("blank-lines-only-csv", lambda t: custom(t, inter="\n\n"),
     DataValidationError, [r"no header or rows", r"fix"]),
    ("duplicate-item-conflicting-title",
     lambda t: custom(t, items="item,title,genres\n10,Heat,Action\n10,Heat 2,Action\n11,Fargo,Crime\n"),
     DataValidationError, [r"1 item id\(s\) appear with conflicting title/genres", r"'10'", r"fix: make item ids unique"]),
    ("empty-title", lambda t: custom(t, items='item,title,genres\n10,"",Action\n11,Fargo,Crime\n'),
     DataValidationError, [r"1 item\(s\) have an empty title", r"'10'", r"fix: fill the titles"]),
    ("whitespace-title", lambda t: validate_items(pd.DataFrame({"item": [1], "title": ["  "], "genres": ["x"]})),
     DataValidationError, [r"empty title", r"fix"]),
    ("missing-item-id", lambda t: validate_items(pd.DataFrame({"item": [None, "b"], "title": ["A", "B"],
                                                                 "genres": ["x", "y"]})),
     DataValidationError, [r"1 row\(s\) have no item id", r"fix"]),
    ("unknown-file-type", lambda t: custom(t, inter_name="inter.xlsx"),
     DataValidationError, [r"unknown type '\.xlsx'", r"use \.csv, \.tsv or \.parquet"]),
    ("missing-file", lambda t: load_custom(t / "nope.csv", write(t, "items.csv", GOOD_ITEMS)),
     DataValidationError, [r"nope\.csv does not exist", r"fix: check the path"]),
    ("empty-frame", lambda t: validate_interactions(pd.DataFrame(columns=["user", "item", "rating", "timestamp"])),
     DataValidationError, [r"empty \(0 rows\)", r"fix"]),
    ("unknown-dataset", lambda t: load_movielens("ml-20m", data_dir=t),
     DataValidationError, [r"unknown dataset 'ml-20m'", r"ml-1m", r"load_custom\(\)"]),
    ("unknown-source", lambda t: load_movielens("ml-1m", source="kaggle", data_dir=t),
     DataValidationError, [r"unknown source 'kaggle'", r"'wheel' or 'grouplens'"]),
    ("grouplens-without-path", lambda t: load_movielens("ml-1m", source="grouplens"),
     FetchError, [r"needs path=", r"official zip"]),
    ("grouplens-wrong-zip", lambda t: load_movielens(None, source="grouplens", path=_zip(t, {"x/readme.txt": "hi"})),
     DataValidationError, [r"neither the GroupLens ml-1m zip", r"fix: pass the unmodified zip"]),
    ("unknown-wheel", lambda t: fetch_wheel("torch", t),
     FetchError, [r"unknown wheel 'torch'", r"choose one of"]),
    ("unknown-config-key", lambda t: load_config(None, "", {"split": {"cold_tst_frac": 0.3}}),
     ConfigError, [r"unknown parameter 'split\.cold_tst_frac'", r"did you mean 'split\.cold_test_frac'\?"]),
    ("unknown-config-section", lambda t: load_config(None, "", {"spilt": {"kind": "time"}}),
     ConfigError, [r"unknown parameter 'spilt'", r"did you mean 'split'\?"]),
    ("unknown-key-in-yaml-file", lambda t: load_config(yaml_file(t, "data:\n  datset: ml-100k\n"), ""),
     ConfigError, [r"unknown parameter 'data\.datset'", r"did you mean 'data\.dataset'"]),
    ("cold-test-frac-above-1", lambda t: load_config(None, "", {"split": {"cold_test_frac": 1.5}}),
     ConfigError, [r"split\.cold_test_frac must be a number in \[0, 1\)", r"1\.5"]),
    ("cold-test-frac-negative", lambda t: load_config(None, "", {"split": {"cold_test_frac": -0.1}}),
     ConfigError, [r"split\.cold_test_frac must be a number in \[0, 1\)", r"-0\.1"]),
    ("cold-test-frac-equal-1", lambda t: assign_roles(["a", "b"], cold_test_frac=1.0),
     ConfigError, [r"cold_test_frac \(β\) must be in \[0, 1\)", r"1\.0"]),
    ("cold-fracs-sum-to-1-config",
     lambda t: load_config(None, "", {"split": {"cold_test_frac": 0.6, "cold_valid_frac": 0.4}}),
     ConfigError, [r"cold_test_frac \+ split\.cold_valid_frac must stay below 1", r"warm users"]),
    ("cold-fracs-sum-to-1-roles", lambda t: assign_roles(["a", "b"], 0.5, 0.5),
     ConfigError, [r"cold_test_frac \+ cold_valid_frac = 1\.0", r"keep the sum below 1"]),
    ("warm-test-frac", lambda t: split_warm_by_time(tiny_split_inputs()[0], 4.0, 1.0),
     ConfigError, [r"warm_test_frac must be in \[0, 1\)"]),
    ("time-source-frac", lambda t: split_by_time(tiny_split_inputs()[0], 2),
     ConfigError, [r"time source_frac must be in \[0, 1\)"]),
    ("unknown-split-kind", lambda t: make_split(*tiny_split_inputs(), {"kind": "random"}, 0, 4.0),
     ConfigError, [r"unknown split kind 'random'", r"use 'genre' or 'time'"]),
    ("unknown-overlap-rule", lambda t: genre_domains(tiny_split_inputs()[1], overlap="both"),
     ConfigError, [r"unknown overlap rule 'both'", r"choose one of .*'drop'"]),
    ("genre-in-both-groups", lambda t: genre_domains(tiny_split_inputs()[1], ["Action", "Drama"], ["Drama"]),
     ConfigError, [r"\['Drama'\] are in both groups", r"a genre belongs to one domain"]),
    ("no-overlapping-users", lambda t: make_split(*tiny_split_inputs(), {"min_source_positives": 3}, 0, 4.0),
     ConfigError, [r"no user has enough positives in both domains", r"lower min_source_positives"]),
    ("unknown-profile", lambda t: load_config(None, "smokey"),
     ConfigError, [r"unknown profile 'smokey'", r"\['smoke'\]"]),
    ("invalid-yaml", lambda t: load_config(yaml_file(t, "split:\n  kind: [genre\n"), ""),
     ConfigError, [r"cfg\.yaml is not valid YAML"]),
    ("yaml-not-a-mapping", lambda t: load_config(yaml_file(t, "- a\n- b\n"), ""),
     ConfigError, [r"must hold a mapping of sections", r"list"]),
    ("missing-config-file", lambda t: load_config(t / "nope.yaml", ""),
     ConfigError, [r"nope\.yaml does not exist", r"fix: pass a path such as configs/default\.yaml"]),
    ("seed-not-int", lambda t: load_config(None, "", {"seed": "42"}),
     ConfigError, [r"seed must be an integer", r"'42'"]),
    ("bad-ks", lambda t: load_config(None, "", {"evaluation": {"ks": [10, 0]}}),
     ConfigError, [r"evaluation\.ks must be positive integers", r"\[10, 0\]"]),
    ("run-artifact-missing", lambda t: RunFolder.create(t / "run").require("split/items.parquet"),
     RunFolderError, [r"items\.parquet is missing", r"01_preprocessing\.ipynb", r"run that first"]),
]


def _zip(folder: Path, members: dict[str, str]) -> Path:
    p = folder / "some.zip"
    with zipfile.ZipFile(p, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    return p


def test_there_are_many_distinct_bad_input_cases():
    assert len({c[0] for c in CASES}) == len(CASES) >= 30


@pytest.mark.parametrize("case_id, call, error, patterns", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(tmp_path, case_id, call, error, patterns):
    with pytest.raises(error) as ei:
        call(tmp_path)
    assert isinstance(ei.value, RecHelpersError)                    # one base class, also a ValueError
    msg = str(ei.value)
    for pat in patterns:
        assert re.search(pat, msg, flags=re.IGNORECASE), f"{case_id}: {pat!r} not in message:\n{msg}"


# --- no earlier run is harmed -----------------------------------------------------------------
@pytest.fixture
def finished_run(tmp_path, make_run, snapshot_files):
    """A run folder holding a finished split, and the bytes of all its files."""
    ctx = make_run(tmp_path / "runs" / "good")
    pipeline.ensure_split(ctx)
    files = snapshot_files(ctx.run.path)
    assert {f"split/{n}.parquet" for n in ("items", "users", "source", "target_train", "target_test")} <= set(files)
    return ctx, files


def test_bad_config_on_an_existing_run_leaves_it_untouched(finished_run, make_run, snapshot_files):
    ctx, before = finished_run
    with pytest.raises(ConfigError, match="cold_test_frac"):
        make_run(ctx.run.path, split={"cold_test_frac": 1.2})
    with pytest.raises(ConfigError, match="did you mean 'split.overlap'"):
        make_run(ctx.run.path, split={"overlab": "source"})
    with pytest.raises(ConfigError, match="unknown profile"):
        pipeline.start(ctx.run.path, None, "no-such-profile")
    assert snapshot_files(ctx.run.path) == before


def test_other_split_parameters_on_an_existing_run_leave_it_untouched(finished_run, make_run, snapshot_files):
    """Other split parameters in the same run folder: refused, never overwritten."""
    ctx, before = finished_run
    bad = make_run(ctx.run.path, split={"cold_test_frac": 0.3})
    with pytest.raises(RunFolderError, match="other parameters") as ei:
        pipeline.ensure_split(bad)
    assert "new run_dir" in str(ei.value)
    assert snapshot_files(ctx.run.path) == before


def test_bad_data_in_a_new_run_leaves_the_earlier_run_untouched(finished_run, make_run, snapshot_files,
                                                                  synthetic_csv, tmp_path):
    ctx, before = finished_run
    bad_csv = tmp_path / "bad_inter.csv"
    text = synthetic_csv["interactions"].read_text().splitlines()
    bad_csv.write_text("\n".join(text[:3] + [text[3].rsplit(",", 2)[0] + ",lots,1000000000"] + text[4:]) + "\n")
    new = make_run(tmp_path / "runs" / "bad", data={"interactions": str(bad_csv)})
    with pytest.raises(DataValidationError, match="'rating' must be numeric"):
        pipeline.ensure_split(new)
    assert not (new.run.path / "split").exists()                   # nothing half-written
    with pytest.raises(ConfigError, match="unknown split.kind 'random'"):  # refused before any work
        pipeline.ensure_split(make_run(tmp_path / "runs" / "bad2", split={"kind": "random"}))
    assert not (tmp_path / "runs" / "bad2" / "split").exists()
    assert snapshot_files(ctx.run.path) == before
    again = pipeline.ensure_split(make_run(ctx.run.path))          # the good run still reads back
    assert len(again.users) == ctx.run.manifest["split"]["n_overlapping_users"]
