"""Exceptions with messages that name the problem and the fix."""
from __future__ import annotations


class RecHelpersError(ValueError):
    """Base class of every error this package raises on bad input."""


class DataValidationError(RecHelpersError):
    """Input data breaks the schema or value rules (missing column, bad rating, ...)."""


class FetchError(RecHelpersError):
    """A dataset could not be fetched or verified."""


class ConfigError(RecHelpersError):
    """A parameter or config file is invalid."""


class CacheError(RecHelpersError):
    """A cache file is corrupt or unreadable."""


class RunFolderError(RecHelpersError):
    """A run folder is missing an artifact or would be overwritten."""


class RunInterrupted(RecHelpersError):
    """Ctrl-C during ``rec-suite run`` / ``compare``: names the notebook and where the partial run is."""


def require_columns(frame, columns, what: str, fix: str = "rename the columns to the tidy schema "
                    "(rec_helpers.constants)") -> None:
    """Raise :class:`DataValidationError` naming the ``columns`` that ``frame`` (called ``what``) lacks;
    ``fix`` may name ``{first}``, the first missing column."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(f"{what} is missing column(s) {missing}; it has {list(frame.columns)}. "
                                  f"Fix: {fix.replace('{first}', str(missing[0]))}.")
