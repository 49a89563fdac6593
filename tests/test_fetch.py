"""rec_helpers.fetch without network: fake wheels, fake downloaders, sha256 checks."""
from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from rec_helpers import fetch
from rec_helpers.constants import WHEELS
from rec_helpers.errors import FetchError
from rec_helpers.fetch import MARKER, fetch_wheel, sha256_file, wheel_info

WHEEL_FILE = WHEELS["recbole"]["filename"]
DATASET_FILES = [f"recbole/dataset_example/ml-100k/ml-100k.{ext}" for ext in ("inter", "item", "user")]


class CopyDownloader:
    """A stand-in for ``pip download``: copies a prepared wheel into the downloads folder."""

    def __init__(self, wheel: Path, filename: str = WHEEL_FILE):
        self.wheel, self.filename, self.calls = wheel, filename, []

    def __call__(self, requirement: str, dest: Path) -> None:
        self.calls.append((requirement, Path(dest)))
        shutil.copyfile(self.wheel, Path(dest) / self.filename)


@pytest.fixture
def fake_wheel(tmp_path, make_fake_wheel) -> Path:
    return make_fake_wheel(tmp_path / "src" / WHEEL_FILE)


def test_sha256_file_matches_hashlib(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"abc")
    assert sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_fetch_unpacks_only_dataset_example_and_writes_marker(tmp_path, fake_wheel):
    data = tmp_path / "data"
    dl = CopyDownloader(fake_wheel)
    out = fetch_wheel("recbole", data, expected_sha256=sha256_file(fake_wheel), downloader=dl)

    assert out == data / "raw" / "recbole"
    assert dl.calls == [("recbole==1.2.1", data / "downloads")]
    for rel in DATASET_FILES:
        assert (out / rel).is_file(), rel
    inter = (out / DATASET_FILES[0]).read_text().splitlines()
    assert inter[0] == "user_id:token\titem_id:token\trating:float\ttimestamp:float"
    assert not (out / "recbole" / "__init__.py").exists()          # only dataset_example/ is unpacked
    assert not any(".tmp" in p.name for p in (data / "raw").iterdir())
    marker = json.loads((out / MARKER).read_text())
    assert marker["sha256"] == sha256_file(fake_wheel)
    assert marker["wheel"] == WHEEL_FILE
    assert sorted(marker["files"]) == sorted(DATASET_FILES)
    assert wheel_info("recbole", data) == {"wheel": WHEEL_FILE, "sha256": sha256_file(fake_wheel)}


def test_fetch_is_idempotent_and_offline_the_second_time(tmp_path, fake_wheel):
    data = tmp_path / "data"
    dl = CopyDownloader(fake_wheel)
    sha = sha256_file(fake_wheel)
    first = fetch_wheel("recbole", data, expected_sha256=sha, downloader=dl)
    before = (first / DATASET_FILES[0]).stat().st_mtime_ns

    def no_network(requirement, dest):
        raise AssertionError("the downloader must not be called once the unpack is verified")

    second = fetch_wheel("recbole", data, expected_sha256=sha, downloader=no_network)
    assert second == first
    assert len(dl.calls) == 1
    assert (first / DATASET_FILES[0]).stat().st_mtime_ns == before   # not unpacked again


def test_downloaded_wheel_is_reused_without_downloading_again(tmp_path, fake_wheel):
    """A wheel already in downloads/ (copied there by hand, offline) is verified and used."""
    data = tmp_path / "data"
    (data / "downloads").mkdir(parents=True)
    shutil.copyfile(fake_wheel, data / "downloads" / WHEEL_FILE)
    dl = CopyDownloader(fake_wheel)
    out = fetch_wheel("recbole", data, expected_sha256=sha256_file(fake_wheel), downloader=dl)
    assert dl.calls == []
    assert (out / DATASET_FILES[1]).is_file()


def test_wheel_path_is_used_as_is(tmp_path, fake_wheel):
    data = tmp_path / "data"
    out = fetch_wheel("recbole", data, wheel_path=fake_wheel, expected_sha256=sha256_file(fake_wheel),
                      downloader=CopyDownloader(Path("/nonexistent")))
    assert (out / DATASET_FILES[2]).read_text().startswith("user_id:token\tage:token")


def test_broken_marker_triggers_a_fresh_unpack(tmp_path, fake_wheel):
    data = tmp_path / "data"
    sha = sha256_file(fake_wheel)
    out = fetch_wheel("recbole", data, expected_sha256=sha, downloader=CopyDownloader(fake_wheel))
    (out / DATASET_FILES[0]).unlink()                 # a file the marker lists went missing
    out = fetch_wheel("recbole", data, expected_sha256=sha, downloader=CopyDownloader(fake_wheel))
    assert (out / DATASET_FILES[0]).is_file()
    (out / MARKER).write_text("{not json")
    out = fetch_wheel("recbole", data, expected_sha256=sha, downloader=CopyDownloader(fake_wheel))
    assert json.loads((out / MARKER).read_text())["sha256"] == sha


def test_sha256_mismatch_names_both_hashes_and_moves_the_download_aside(tmp_path, fake_wheel):
    data = tmp_path / "data"
    expected = "0" * 64
    actual = sha256_file(fake_wheel)
    with pytest.raises(FetchError) as ei:
        fetch_wheel("recbole", data, expected_sha256=expected, downloader=CopyDownloader(fake_wheel))
    msg = str(ei.value)
    assert "sha256 mismatch" in msg and expected in msg and actual in msg
    assert "fetch again" in msg                                      # the fix
    downloads = data / "downloads"
    assert not (downloads / WHEEL_FILE).exists()
    bad = downloads / (WHEEL_FILE + ".bad-sha256")
    assert bad.is_file() and sha256_file(bad) == actual
    assert bad.name in msg
    assert not (data / "raw" / "recbole" / MARKER).exists()       # nothing unpacked


def test_sha256_mismatch_of_a_given_wheel_path_keeps_the_users_file(tmp_path, fake_wheel):
    with pytest.raises(FetchError, match="expected " + "1" * 64):
        fetch_wheel("recbole", tmp_path / "data", wheel_path=fake_wheel, expected_sha256="1" * 64)
    assert fake_wheel.is_file()                                    # the user's own file is not moved


def test_the_real_wheel_sha256_is_the_default(tmp_path, fake_wheel):
    """Without expected_sha256 the constants' sha256 is required, so a fake wheel is refused."""
    with pytest.raises(FetchError) as ei:
        fetch_wheel("recbole", tmp_path / "data", downloader=CopyDownloader(fake_wheel))
    assert WHEELS["recbole"]["sha256"] in str(ei.value)


def test_downloader_that_fails_raises_fetch_error(tmp_path):
    def failing(requirement, dest):
        raise FetchError("`pip download` failed (exit 1): no network. Fix: check that PyPI is reachable")

    with pytest.raises(FetchError, match="PyPI is reachable"):
        fetch_wheel("recbole", tmp_path / "data", expected_sha256="0" * 64, downloader=failing)
    assert not (tmp_path / "data" / "raw" / "recbole").exists()


def test_downloader_that_produces_nothing_raises_fetch_error_with_the_manual_command(tmp_path):
    calls = []
    with pytest.raises(FetchError) as ei:
        fetch_wheel("recbole", tmp_path / "data", expected_sha256="0" * 64,
                    downloader=lambda req, dest: calls.append(req))
    msg = str(ei.value)
    assert calls == ["recbole==1.2.1"]
    assert "is missing" in msg and "pip download --no-deps recbole==1.2.1" in msg


def test_pip_download_failure_becomes_fetch_error(tmp_path, monkeypatch):
    """The default downloader: a failing ``pip download`` is reported with its stderr and a fix."""
    seen = {}

    def fake_run(cmd, capture_output, text):
        seen["cmd"] = cmd
        return subprocess.CompletedProcess(cmd, 1, stdout="", stderr="ERROR: Could not find a version")

    monkeypatch.setattr(fetch.subprocess, "run", fake_run)
    with pytest.raises(FetchError) as ei:
        fetch_wheel("recbole", tmp_path / "data", expected_sha256="0" * 64)
    msg = str(ei.value)
    assert "exit 1" in msg and "Could not find a version" in msg and "PyPI is reachable" in msg
    assert seen["cmd"][3:5] == ["download", "--no-deps"] and "recbole==1.2.1" in seen["cmd"]


def test_wheel_without_dataset_example_raises(tmp_path, make_fake_wheel):
    wheel = make_fake_wheel(tmp_path / "src" / WHEEL_FILE, with_dataset=False)
    with pytest.raises(FetchError, match="no dataset_example/ folder"):
        fetch_wheel("recbole", tmp_path / "data", expected_sha256=sha256_file(wheel),
                    downloader=CopyDownloader(wheel))
    raw = tmp_path / "data" / "raw"
    assert not (raw / "recbole").exists()
    assert list(raw.iterdir()) == []                                # the temporary folder is gone


def test_not_a_zip_raises(tmp_path):
    wheel = tmp_path / "src" / WHEEL_FILE
    wheel.parent.mkdir()
    wheel.write_bytes(b"this is not a zip file")
    with pytest.raises(FetchError, match="not a valid zip"):
        fetch_wheel("recbole", tmp_path / "data", expected_sha256=sha256_file(wheel),
                    downloader=CopyDownloader(wheel))


def test_path_traversal_member_is_rejected(tmp_path, make_fake_wheel):
    evil = "recbole/dataset_example/../../../../evil.txt"
    wheel = make_fake_wheel(tmp_path / "src" / WHEEL_FILE, members={evil: "pwned"})
    with zipfile.ZipFile(wheel) as zf:
        assert evil in zf.namelist()
    data = tmp_path / "data"
    with pytest.raises(FetchError, match="unsafe path"):
        fetch_wheel("recbole", data, expected_sha256=sha256_file(wheel), downloader=CopyDownloader(wheel))
    assert not list(tmp_path.rglob("evil.txt"))
    assert not (data / "raw" / "recbole").exists()


def test_refetch_after_failed_unpack_keeps_previous_unpack(tmp_path, fake_wheel, make_fake_wheel):
    """A bad new wheel must not destroy a good earlier unpack (it is replaced atomically)."""
    data = tmp_path / "data"
    out = fetch_wheel("recbole", data, expected_sha256=sha256_file(fake_wheel),
                      downloader=CopyDownloader(fake_wheel))
    before = (out / DATASET_FILES[0]).read_bytes()
    empty = make_fake_wheel(tmp_path / "other" / WHEEL_FILE, with_dataset=False)
    with pytest.raises(FetchError):
        fetch_wheel("recbole", data, wheel_path=empty, expected_sha256=sha256_file(empty))
    assert (out / DATASET_FILES[0]).read_bytes() == before


def test_unknown_wheel_name(tmp_path):
    with pytest.raises(FetchError, match=r"unknown wheel 'pandas'.*recbole"):
        fetch_wheel("pandas", tmp_path)


def test_missing_wheel_path(tmp_path):
    with pytest.raises(FetchError, match="does not exist"):
        fetch_wheel("recbole", tmp_path / "data", wheel_path=tmp_path / "nope.whl")


# --- plotly.js's cartesian bundle (npm registry) ----------------------------------------------------------
@pytest.fixture
def fake_bundle(monkeypatch):
    """A fake npm tarball with its sha256s pinned in PLOTLY_CARTESIAN, and a counting downloader."""
    import hashlib
    import io
    import tarfile

    from rec_helpers.constants import PLOTLY_CARTESIAN

    js = b"/* plotly.js (cartesian - minified) v4.1.1 */ var Plotly = {};"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo(PLOTLY_CARTESIAN["member"])
        info.size = len(js)
        tar.addfile(info, io.BytesIO(js))
    blob = buf.getvalue()
    monkeypatch.setitem(PLOTLY_CARTESIAN, "tarball_sha256", hashlib.sha256(blob).hexdigest())
    monkeypatch.setitem(PLOTLY_CARTESIAN, "sha256", hashlib.sha256(js).hexdigest())
    calls = []

    def download(url: str) -> bytes:
        calls.append(url)
        return blob

    return js, blob, download, calls


def test_chart_bundle_is_fetched_once_and_checked(tmp_path, fake_bundle):
    js, _, download, calls = fake_bundle
    path = fetch.fetch_chart_bundle(tmp_path, downloader=download)
    assert path == tmp_path / "assets" / "plotly-cartesian-4.1.1.min.js" and path.read_bytes() == js
    assert calls == ["https://registry.npmjs.org/plotly.js-cartesian-dist-min/-/plotly.js-cartesian-dist-min-4.1.1.tgz"]
    assert fetch.fetch_chart_bundle(tmp_path, downloader=download) == path and len(calls) == 1   # offline now
    path.write_bytes(b"changed")                                  # a changed file is fetched again
    assert fetch.fetch_chart_bundle(tmp_path, downloader=download).read_bytes() == js and len(calls) == 2


def test_chart_bundle_with_another_checksum_or_no_network_keeps_nothing(tmp_path, fake_bundle):
    _, blob, _, _ = fake_bundle
    with pytest.raises(FetchError, match="differs from the pinned"):
        fetch.fetch_chart_bundle(tmp_path, downloader=lambda url: blob + b"x")

    def offline(url):
        raise OSError("Network is unreachable")

    with pytest.raises(FetchError, match="npm registry is reachable"):
        fetch.fetch_chart_bundle(tmp_path, downloader=offline)
    assert not (tmp_path / "assets" / "plotly-cartesian-4.1.1.min.js").exists()


def test_report_ships_the_cartesian_bundle_only_when_it_draws_every_chart(tmp_path, fake_bundle, monkeypatch):
    from plotly.offline import get_plotlyjs_version

    from rec_helpers import suite
    from rec_helpers.constants import PLOTLY_CARTESIAN

    _, _, download, _ = fake_bundle
    monkeypatch.setattr(fetch, "default_data_dir", lambda: tmp_path / "data")
    monkeypatch.setitem(PLOTLY_CARTESIAN, "version", get_plotlyjs_version())
    assert suite.plotly_bundle({"scatter", "bar"})[1] == "plotly.min.js"       # not fetched: the full bundle
    fetch.fetch_chart_bundle(downloader=download)
    assert suite.plotly_bundle({"scatter", "bar", "histogram", "pie"})[1] == "plotly-cartesian.min.js"
    assert suite.plotly_bundle({"scatter", "scattergl"})[1] == "plotly.min.js"  # WebGL: not in the bundle
    assert suite.plotly_bundle(None)[1] == "plotly.min.js"                     # types unknown
    urls = suite.bundle_assets(tmp_path / "report", {"bar"})
    assert urls["plotly"] == "assets/plotly-cartesian.min.js"
    assert (tmp_path / "report" / "assets" / "plotly-cartesian.min.js").is_file()
    monkeypatch.setitem(PLOTLY_CARTESIAN, "version", "0.0.1")                 # another plotly.js than the package's
    assert suite.plotly_bundle({"bar"})[1] == "plotly.min.js"
