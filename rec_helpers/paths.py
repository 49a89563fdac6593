"""Where things live: the project root, the data folder and the runs folder."""
from __future__ import annotations

import os
from pathlib import Path

ENV_ROOT = "REC_SUITE_ROOT"


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The suite's root folder.

    ``$REC_SUITE_ROOT`` wins; otherwise walk up from ``start`` (default: the current
    folder, then this package's folder) to the first folder holding both
    ``pyproject.toml`` and ``notebooks/``. Falls back to the current folder.
    """
    if os.environ.get(ENV_ROOT):
        return Path(os.environ[ENV_ROOT]).resolve()
    starts = [Path(start)] if start else [Path.cwd(), Path(__file__).resolve().parent]
    for s in starts:
        for p in [s.resolve(), *s.resolve().parents]:
            if (p / "pyproject.toml").is_file() and (p / "notebooks").is_dir():
                return p
    return Path.cwd().resolve()


def resolve(path: str | os.PathLike, root: Path | None = None) -> Path:
    """``path`` itself if absolute, else relative to the project root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (root or project_root()) / p


def resolve_run_dir(run_dir: str | os.PathLike) -> Path:
    """A run folder: absolute as given; relative from the current folder when it names a run folder
    there (``".."`` in a notebook saved in ``<run>/notebooks/``: the run it belongs to, wherever that
    folder was moved), else relative to the project root, like every other path."""
    p = Path(run_dir).expanduser()
    if p.is_absolute():
        return p
    here = Path.cwd() / p
    if (here / "manifest.json").is_file():
        return here.resolve()
    if p.parts and p.parts[0] == "..":
        from .errors import RunFolderError

        raise RunFolderError(
            f"run_dir {str(run_dir)!r} names a run folder relative to the current folder ({Path.cwd()}), "
            "but there is none there. A notebook saved in a run folder uses run_dir='..': open it from that "
            "run's notebooks/ folder (papermill: --cwd <run>/notebooks), or pass run_dir explicitly.")
    return resolve(p)


def data_dir(root: Path | None = None) -> Path:
    """The data cache folder (``data/`` under the project root unless ``$REC_SUITE_DATA``)."""
    if os.environ.get("REC_SUITE_DATA"):
        return Path(os.environ["REC_SUITE_DATA"]).resolve()
    return (root or project_root()) / "data"
