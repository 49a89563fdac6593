"""Pseudonymous user ids for anything exported for sharing (SPEC §6).

``pseudonymise(ids, salt)`` maps each id to the first 16 hex characters of
``sha256(salt + ":" + str(id))``: stable for one salt, different for another, and not
reversible without the salt. The salt is required: MovieLens has a few thousand user ids,
so an unsalted hash is undone by hashing every candidate id and looking the result up.
Ids are hashed as text, so ``1`` and ``"1"`` get the same pseudonym.

Keep the salt out of the shared files (an environment variable or a private config);
anyone who has it can rebuild the mapping.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
import pandas as pd

from .constants import COL_USER
from .errors import ConfigError, DataValidationError

PSEUDONYM_LENGTH = 16  # hex characters = 64 bits: no collision expected below ~10^9 ids


def _check_salt(salt: object) -> str:
    if not isinstance(salt, str) or not salt.strip():
        raise ConfigError(
            "a salt is required: an unsalted hash of a small id space can be reversed by hashing "
            f"every id (got salt={salt!r}). Fix: pass a secret string, e.g. from an environment variable."
        )
    return salt


def pseudonym(value: object, salt: str) -> str:
    """``sha256(salt + ":" + str(value))``, first 16 hex characters."""
    digest = hashlib.sha256(f"{salt}:{value}".encode("utf-8")).hexdigest()
    return digest[:PSEUDONYM_LENGTH]


def pseudonymise(ids: Sequence | pd.Series | np.ndarray, salt: str) -> pd.Series | np.ndarray:
    """Salted pseudonyms of ``ids``: a Series (same index and name) for a Series, else an array of str."""
    salt = _check_salt(salt)
    values = ids.to_numpy(dtype=object) if isinstance(ids, pd.Series) else np.asarray(list(ids), dtype=object)
    if pd.isna(values).any():
        raise DataValidationError(
            f"{int(pd.isna(values).sum())} id(s) are missing (NaN/None); a missing id has no pseudonym. "
            "Fix: drop those rows first."
        )
    # One hash per distinct id: user ids repeat across many interaction rows.
    uniques, inverse = np.unique(values.astype(str), return_inverse=True)
    hashed = np.array([pseudonym(u, salt) for u in uniques], dtype=object)[inverse.reshape(-1)]
    if isinstance(ids, pd.Series):
        return pd.Series(hashed, index=ids.index, name=ids.name, dtype=str)
    return hashed.astype(str)


def pseudonymise_frame(df: pd.DataFrame, salt: str, col: str = COL_USER) -> pd.DataFrame:
    """A copy of ``df`` with column ``col`` replaced by its salted pseudonyms; other columns untouched."""
    salt = _check_salt(salt)
    if col not in df.columns:
        raise DataValidationError(f"column {col!r} not found; the frame has {list(df.columns)}. Fix: pass col=...")
    out = df.copy()
    out[col] = pseudonymise(df[col], salt)
    return out


_SESSION_SALT: str | None = None


def report_salt(cfg) -> str | None:
    """The salt for ids shown in reports, or ``None`` when ``report.pseudonymise`` is off.

    ``report.salt`` if the config sets one (keep such a config private), else
    ``$REC_SUITE_SALT``, else a random salt made once per process and never written
    anywhere: pseudonyms are then stable within one run and unlinkable across runs.
    """
    import os
    import secrets

    global _SESSION_SALT
    rep = cfg.get("report", {})
    if not rep.get("pseudonymise", True):
        return None
    salt = rep.get("salt") or os.environ.get("REC_SUITE_SALT")
    if salt:
        return _check_salt(salt)
    if _SESSION_SALT is None:
        _SESSION_SALT = secrets.token_hex(16)
    return _SESSION_SALT
