"""Comparing runs: 07's ``runs`` parameter in every form, ``rec-suite compare`` on two small smoke runs,
and path hygiene of an exported report (no absolute local path, no ``.partial``)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from rec_helpers.cli import main as cli_main
from rec_helpers.errors import ConfigError, RunFolderError
from rec_helpers.paths import project_root
from rec_helpers.report import parse_runs, require_run
from rec_helpers.suite import compare_runs, execute_notebook, run_suite

pytestmark = pytest.mark.notebook  # runs notebooks / a kernel: `make test` only, not `make test-fast`

# Two small smoke runs: ML-100K, only the notebooks that make metrics.json (01 builds the split, 07 fits
# the methods it needs and evaluates), two quick methods, few resamples.
SMALL = {"transfer": {"methods": ["pop", "cd_ridge"]}, "evaluation": {"n_resamples": 50}}


@pytest.mark.parametrize("given, expected", [
    (["runs/a", "runs/b"], ["runs/a", "runs/b"]),
    (("runs/a",), ["runs/a"]),
    ('["runs/a", "runs/b"]', ["runs/a", "runs/b"]),       # papermill -p runs '["runs/a", "runs/b"]'
    ("[runs/a, runs/b]", ["runs/a", "runs/b"]),            # YAML flow list
    ("runs/a", ["runs/a"]),                                # one folder
    (Path("runs/a"), ["runs/a"]),
    (None, []), ("", []), ("  ", []), ([], []), ("[]", []),
])
def test_parse_runs_accepts_a_list_or_its_json_yaml_text(given, expected):
    assert parse_runs(given) == expected


@pytest.mark.parametrize("given, phrase", [
    ('["runs/a", "runs/b"', r"is neither a list nor a run folder"),
    ("{a: 1}", r"runs must be a list of run folders"),
    ([1, 2], r"runs holds 1, which is not a run folder path"),
    (["runs/a", ""], r"runs holds '', which is not a run folder path"),
    (42, r"runs must be a list of run folders, got 42"),
])
def test_parse_runs_refuses_other_forms_by_name(given, phrase):
    with pytest.raises(ConfigError, match=phrase):
        parse_runs(given)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    runs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("REC_SUITE_PROFILE", raising=False)
        for name, seed in (("smoke-a", 42), ("smoke-b", 7)):
            runs[name] = run_suite(None, out=root / name, profile="smoke", overrides={**SMALL, "seed": seed},
                                   notebooks=["01", "07"]).run_dir
    return root, runs


LOCAL = re.compile(r"(?<![\w.])/(?:tmp|home|root|Users|var|private|work)/")


def local_paths(text: str, *folders: Path) -> list[str]:
    """Absolute local paths (and build folders) that a shared report must not show."""
    found = [f for f in map(str, folders) if f in text]
    found += sorted(set(LOCAL.findall(text)))
    return found + ([".partial"] if ".partial" in text else [])


def test_report_of_a_smoke_run_shows_no_local_path(two_runs):
    root, runs = two_runs
    out = runs["smoke-a"]
    pages = sorted((out / "report").glob("*.html")) + sorted((out / "notebooks").glob("*.ipynb"))
    assert len(pages) >= 5
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not local_paths(text, project_root(), root, out), (page.name, local_paths(text, project_root(), root))
    nb = nbformat.read(out / "notebooks" / "01_preprocessing.ipynb", as_version=4)
    shown = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "run folder: smoke-a" in shown                  # named by its final name, not smoke-a.partial


def test_report_ships_plotly_and_mathjax_once_and_references_them_relatively(two_runs):
    _, runs = two_runs
    report = runs["smoke-a"] / "report"
    bundles = sorted(p.name for p in (report / "assets").glob("plotly*.min.js"))
    # the full plotly.js, or the fetched cartesian bundle when every chart of the run is a cartesian trace
    assert len(bundles) == 1 and (report / "assets" / bundles[0]).stat().st_size > 1_000_000, bundles
    assert (report / "assets" / "mathjax" / "MathJax.js").is_file()
    assert (report / "assets" / "mathjax" / "config" / "local" / "rec-suite.js").is_file()
    assert not (report / "assets" / "mathjax" / "extensions" / "a11y").exists()
    html = (report / "07_report.html").read_text()
    assert html.count(f'src="assets/{bundles[0]}"') == 1       # loaded once per page, by a relative URL
    assert "Plotly.newPlot" in html and not re.search(r"<script[^>]*\ssrc=[\"']?(https?:)?//", html)
    assert 'src="assets/mathjax/MathJax.js?config=' in html
    assert len(html) < 200_000                                   # no embedded plotly.js, no inline lab CSS
    css = sorted((report / "assets").glob("nbconvert-*.css"))
    assert len(css) == 1 and css[0].stat().st_size > 100_000     # nbconvert's stylesheet, once for all pages
    for page in report.glob("0*.html"):
        head = page.read_text().split("</head>")[0]
        assert f'<link rel="stylesheet" href="assets/{css[0].name}">' in head and "<style" not in head, page.name
    for nb_path in (runs["smoke-a"] / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(nb_path, as_version=4)
        outs = [o for c in nb.cells for o in c.get("outputs", [])]
        assert not any("plotly.min.js" in json.dumps(o) or "Plotly.newPlot" in json.dumps(o) for o in outs)
    figs = [o for c in nbformat.read(runs["smoke-a"] / "notebooks" / "07_report.ipynb", as_version=4).cells
            for o in c.get("outputs", []) if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figs) == 2                                        # JupyterLab draws these (jupyterlab-plotly)


def test_rec_suite_compare_exports_the_comparison(two_runs, capsys, snapshot_files):
    root, runs = two_runs
    before = {n: snapshot_files(p) for n, p in runs.items()}
    out = root / "cmp"
    rc = cli_main(["compare", str(runs["smoke-a"]), str(runs["smoke-b"]), "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert f"Report:    {out / 'index.html'}" in printed and "Compared:  " in printed
    assert sorted(p.name for p in out.iterdir()) == ["07_report.ipynb", "assets", "index.html"]
    assert not out.with_name("cmp.partial").exists()
    html = (out / "index.html").read_text()
    for name in ("smoke-a", "smoke-b"):
        assert html.count(name) >= 2, name                      # table columns and one discussion per run
    assert "Plotly.newPlot" in html and re.search(r'src="assets/plotly(-cartesian)?\.min\.js"', html)
    assert not local_paths(html, project_root(), root)
    assert {n: snapshot_files(p) for n, p in runs.items()} == before   # the compared runs are untouched
    assert cli_main(["compare", str(runs["smoke-a"]), "--out", str(out)]) == 2          # never overwritten
    assert "already exists" in capsys.readouterr().err


def test_compare_refuses_what_is_not_a_finished_run(two_runs, tmp_path):
    root, runs = two_runs
    with pytest.raises(RunFolderError, match=r"is not a run folder: .* does not exist"):
        compare_runs([runs["smoke-a"], tmp_path / "nope"], tmp_path / "cmp")
    (tmp_path / "half").mkdir()
    with pytest.raises(RunFolderError, match=r"has no metrics\.json"):
        require_run(tmp_path / "half")
    assert not (tmp_path / "cmp").exists() and not (tmp_path / "cmp.partial").exists()


def test_07_with_runs_as_papermill_text_builds_nothing(two_runs, tmp_path):
    """``papermill 07_report.ipynb cmp.ipynb -p runs '["a", "b"]'`` passes a string: 07 parses it and
    only reads the two runs; no default run folder (a full ML-1M build) is started."""
    root, runs = two_runs
    runs_dir = project_root() / "runs"
    before = sorted(runs_dir.iterdir()) if runs_dir.is_dir() else []
    text = json.dumps([str(runs["smoke-a"]), str(runs["smoke-b"])])
    nb = project_root() / "notebooks" / "07_report.ipynb"
    execute_notebook(nb, tmp_path / "cmp.ipynb", {"runs": text}, nb.parent)
    after = sorted(runs_dir.iterdir()) if runs_dir.is_dir() else []
    assert after == before
    out = nbformat.read(tmp_path / "cmp.ipynb", as_version=4)
    shown = json.dumps([o for c in out.cells for o in c.get("outputs", [])])
    assert "smoke-a" in shown and "smoke-b" in shown
