"""rec_helpers.suite.run_suite on two tiny notebooks (papermill, kernel "python3").

The runner is executed twice with papermill (one success, one failure) plus one
refused run, to keep this file at a few seconds per run.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from rec_helpers.cli import main as cli_main
from rec_helpers.errors import RunFolderError
from rec_helpers.paths import resolve_run_dir
from rec_helpers.suite import NotebookFailed, discover_notebooks, run_suite

pytestmark = pytest.mark.notebook  # runs notebooks / a kernel: `make test` only, not `make test-fast`

PARAMS = "run_dir = None\nconfig = None\nprofile = None\n"


def write_notebook(path: Path, *cells: str) -> Path:
    nb = new_notebook(cells=[new_markdown_cell(f"# {path.stem}"),
                             new_code_cell(PARAMS, metadata={"tags": ["parameters"]}),
                             *[new_code_cell(c) for c in cells]])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def writer_cell(name: str) -> str:
    return ("from pathlib import Path\n"
            f"Path(run_dir, {name!r}).write_text(f\"seed={{config['seed']}} profile={{config['profile']}}\")\n"
            f"print('wrote {name}')")


@pytest.fixture(scope="module")
def ok_suite(tmp_path_factory):
    """Two notebooks that each write a file into the run folder, run once by the suite runner."""
    root = tmp_path_factory.mktemp("suite_ok")
    nbs = root / "notebooks"
    nbs.mkdir()
    write_notebook(nbs / "01_first.ipynb", writer_cell("first.txt"))
    write_notebook(nbs / "02_second.ipynb", writer_cell("second.txt"))
    write_notebook(nbs / "helper.ipynb", "raise RuntimeError('not part of the suite')")   # not NN_*.ipynb
    out = root / "runs" / "r1"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("REC_SUITE_PROFILE", raising=False)
        result = run_suite(None, out=out, profile="", overrides={"seed": 11}, notebooks_dir=nbs)
    return {"root": root, "notebooks": nbs, "out": out, "result": result}


def test_suite_executes_notebooks_in_order_into_the_run_folder(ok_suite):
    out, res = ok_suite["out"], ok_suite["result"]
    assert res.run_dir == out and res.report == out / "report" / "index.html"
    assert sorted(p.name for p in (out / "notebooks").iterdir()) == ["01_first.ipynb", "02_second.ipynb"]
    assert (out / "first.txt").read_text() == "seed=11 profile=None"      # parameters reached the notebook
    assert (out / "second.txt").read_text() == "seed=11 profile=None"
    executed = nbformat.read(out / "notebooks" / "01_first.ipynb", as_version=4)
    outputs = [o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert any("wrote first.txt" in t for t in outputs)
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "run_dir = " in injected[0].source
    assert not (out.parent / "r1.partial").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["r1"]
    assert not list(out.rglob("*.tmp"))


def test_saved_notebooks_point_at_the_final_run_folder(ok_suite, monkeypatch):
    """Re-running a saved notebook must use this run, not the vanished ``r1.partial``: its run_dir is
    relative to the notebook's own folder (so it also survives moving the run folder) and names no
    absolute local path."""
    out = ok_suite["out"]
    for name in ("01_first.ipynb", "02_second.ipynb"):
        nb = nbformat.read(out / "notebooks" / name, as_version=4)
        cell = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
        line = next(ln for ln in cell.source.splitlines() if ln.startswith("run_dir = "))
        value = ast.literal_eval(line.split("=", 1)[1].split("#")[0].strip())
        assert not Path(value).is_absolute(), name
        monkeypatch.chdir(out / "notebooks")                            # where JupyterLab runs a saved notebook
        assert resolve_run_dir(value) == out.resolve(), name
        assert nb.metadata["papermill"]["parameters"]["run_dir"] == value
        assert str(out.parent) not in nbformat.writes(nb), name
    assert ".partial" not in (out / "report" / "01_first.html").read_text()


def test_suite_report_links_every_notebook(ok_suite):
    out = ok_suite["out"]
    index = (out / "report" / "index.html").read_text()
    for stem in ("01_first", "02_second"):
        assert f"href='{stem}.html'" in index and f"href='../notebooks/{stem}.ipynb'" in index
        assert (out / "report" / f"{stem}.html").is_file()
        assert "wrote" in (out / "report" / f"{stem}.html").read_text()
    assert "helper" not in index
    assert "seed 11" in index and 'href="../manifest.json"' in index


def test_suite_manifest_has_timings_per_notebook(ok_suite):
    out = ok_suite["out"]
    m = json.loads((out / "manifest.json").read_text())
    t = m["timings"]
    assert set(t) == {"notebook:01_first.ipynb", "notebook:02_second.ipynb", "suite_total"}
    assert all(v > 0 for v in t.values())
    assert t["suite_total"] >= t["notebook:01_first.ipynb"] + t["notebook:02_second.ipynb"] - 0.01
    assert ok_suite["result"].timings == t
    assert m["config"]["seed"] == 11 and m["config"]["resolved"] is True
    assert "papermill" in m["packages"]


def test_second_run_with_the_same_out_is_refused_and_harms_nothing(ok_suite, snapshot_files):
    out = ok_suite["out"]
    before = snapshot_files(out)
    with pytest.raises(RunFolderError, match=r"r1 already exists; an existing run is never overwritten"):
        run_suite(None, out=out, profile="", notebooks_dir=ok_suite["notebooks"])
    assert snapshot_files(out) == before
    assert not (out.parent / "r1.partial").exists()
    rc = cli_main(["run", "--out", str(out), "--profile", ""])           # same through the CLI: exit 2
    assert rc == 2
    assert snapshot_files(out) == before


def test_discover_notebooks_order_and_filter(ok_suite):
    nbs = ok_suite["notebooks"]
    assert [p.name for p in discover_notebooks(nbs)] == ["01_first.ipynb", "02_second.ipynb"]
    assert [p.name for p in discover_notebooks(nbs, ["02"])] == ["02_second.ipynb"]
    with pytest.raises(RunFolderError, match=r"no notebooks named NN_\*\.ipynb .* matching \['09'\]"):
        discover_notebooks(nbs, ["09"])


def test_failing_notebook_names_the_notebook_and_error_and_keeps_only_the_partial(tmp_path, monkeypatch):
    monkeypatch.delenv("REC_SUITE_PROFILE", raising=False)
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    write_notebook(nbs / "01_fine.ipynb", writer_cell("fine.txt"))
    write_notebook(nbs / "02_broken.ipynb", "raise ValueError('boom')", writer_cell("never.txt"))
    out = tmp_path / "runs" / "r2"
    with pytest.raises(NotebookFailed) as ei:
        run_suite(None, out=out, profile="", notebooks_dir=nbs)
    msg = str(ei.value)
    assert "02_broken.ipynb" in msg and "ValueError: boom" in msg
    assert "01_fine" not in msg.split("\n")[0]
    partial = tmp_path / "runs" / "r2.partial"
    assert str(partial) in msg
    assert not out.exists()
    assert partial.is_dir()
    assert (partial / "fine.txt").is_file() and not (partial / "never.txt").exists()
    failed_nb = partial / "notebooks" / "02_broken.ipynb"
    assert failed_nb.is_file() and "boom" in failed_nb.read_text()
    timings = json.loads((partial / "manifest.json").read_text())["timings"]
    assert set(timings) == {"notebook:01_fine.ipynb", "notebook:02_broken.ipynb"}
    assert not (partial / "report").exists()


@pytest.mark.parametrize("when", ["kernel-starting", "cell-running"])
def test_ctrl_c_ends_with_one_line_naming_the_notebook_and_the_partial_run(tmp_path, when):
    """A real Ctrl-C (SIGINT to the runner's process group, as a terminal sends it) while the kernel is
    still starting, or while a cell runs."""
    import os
    import signal
    import subprocess
    import sys
    import time

    if os.name != "posix":
        pytest.skip("process groups and SIGINT as on a POSIX terminal")
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    write_notebook(nbs / "01_slow.ipynb", "import time\nfrom pathlib import Path\n"
                   "Path(run_dir, 'cell-started').touch()\ntime.sleep(60)")
    out = tmp_path / "runs" / "r3"
    script = ("import sys\nfrom rec_helpers import cli, suite\n"
              f"suite.NOTEBOOKS_DIR_FOR_TEST = {str(nbs)!r}\n"
              "orig = suite.discover_notebooks\n"
              "suite.discover_notebooks = lambda d=None, only=None: orig(suite.NOTEBOOKS_DIR_FOR_TEST, only)\n"
              f"sys.exit(cli.main(['run', '--profile', '', '--out', {str(out)!r}]))\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("REC_SUITE_PROFILE", None)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 120
        partial = out.with_name("r3.partial")
        marker = partial / ("notebooks/01_slow.ipynb" if when == "kernel-starting" else "cell-started")
        while time.time() < deadline and not marker.is_file():
            time.sleep(0.05)
        assert marker.is_file(), f"{marker} never appeared"
        os.killpg(proc.pid, signal.SIGINT)                      # what Ctrl-C in a terminal does
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, (stdout, stderr)
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr                              # no traceback, no ZMQ noise
    assert "interrupted in 01_slow.ipynb" in lines[0] and str(out.with_name("r3.partial")) in lines[0]
    assert "Traceback" not in stdout + stderr and "without encryption" not in stdout + stderr
    assert not out.exists() and out.with_name("r3.partial").is_dir()


def test_kernels_are_not_started_over_plain_tcp(ok_suite, capfd, tmp_path, monkeypatch):
    """The 'Kernel is running over TCP without encryption' warning (once per notebook) is gone."""
    monkeypatch.delenv("REC_SUITE_PROFILE", raising=False)
    run_suite(None, out=tmp_path / "r4", profile="", notebooks_dir=ok_suite["notebooks"])
    captured = capfd.readouterr()
    assert "without encryption" not in captured.out + captured.err
