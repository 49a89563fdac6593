"""Every committed notebook is paired with a jupytext ``py:percent`` script, and the two are in sync.

The ``.py`` is the source you edit and review; the ``.ipynb`` (committed without outputs, see
test_notebooks_format.py) is what JupyterLab, papermill and nbval run. ``pair_problems`` is the one check,
used on the repository's notebooks and, in the last tests, on a deliberately desynchronised copy.
"""
from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb")) + sorted((NB_DIR / "exercises").glob("*.ipynb"))
FORMATS = "ipynb,py:percent"


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _key(cell) -> tuple[str, str, list[str]]:
    return cell.cell_type, cell.source, list(cell.metadata.get("tags", []))


def pair_problems(ipynb: Path) -> list[str]:
    """What is wrong with ``ipynb`` and its paired ``.py`` (cell types, sources, tags); [] when in sync."""
    script = ipynb.with_suffix(".py")
    fix = f"run `jupytext --sync {_shown(ipynb)}` (or `make sync-notebooks`): the newer of the two files wins"
    if not script.is_file():
        return [f"{_shown(ipynb)} has no paired {script.name}: run "
                f"`jupytext --set-formats {FORMATS} {_shown(ipynb)}` (or `make sync-notebooks`)"]
    nb = nbformat.read(ipynb, as_version=4)
    text = jupytext.read(script)
    problems = []
    if nb.metadata.get("jupytext", {}).get("formats") != FORMATS:
        problems.append(f"{_shown(ipynb)}: metadata jupytext.formats is "
                        f"{nb.metadata.get('jupytext', {}).get('formats')!r}, expected {FORMATS!r}; "
                        f"run `jupytext --set-formats {FORMATS} {_shown(ipynb)}`")
    fmt = text.metadata.get("jupytext", {}).get("text_representation", {}).get("format_name")
    if fmt != "percent":
        problems.append(f"{_shown(script)} is not in py:percent format (found {fmt!r}); "
                        f"run `jupytext --set-formats {FORMATS} {_shown(ipynb)}`")
    a, b = [_key(c) for c in nb.cells], [_key(c) for c in text.cells]
    if len(a) != len(b):
        problems.append(f"{_shown(ipynb)} has {len(a)} cells, {script.name} has {len(b)}; {fix}")
    for i, (x, y) in enumerate(zip(a, b)):
        if x == y:
            continue
        what = [name for name, u, v in zip(("cell type", "source", "tags"), x, y) if u != v]
        diff = "\n".join(difflib.unified_diff(x[1].splitlines(), y[1].splitlines(), _shown(ipynb), script.name,
                                              lineterm="", n=1))
        detail = "" if what == ["source"] else f" (ipynb: {x[0]} tags={x[2]}; py: {y[0]} tags={y[2]})"
        problems.append(f"{_shown(ipynb)} cell {i}: {' and '.join(what)} {'differs' if len(what) == 1 else 'differ'}"
                        f" from {script.name}{detail}; {fix}" + (f"\n{diff}" if diff else ""))
        break  # the first difference is enough to know what to do
    return problems


def test_notebooks_found():
    assert len([p for p in NOTEBOOKS if p.parent == NB_DIR]) >= 9
    assert len([p for p in NOTEBOOKS if p.parent.name == "exercises"]) >= 5


@pytest.mark.parametrize("ipynb", NOTEBOOKS, ids=lambda p: p.name)
def test_pair_in_sync(ipynb):
    problems = pair_problems(ipynb)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("folder", [NB_DIR, NB_DIR / "exercises"], ids=["suite", "exercises"])
def test_no_script_without_notebook(folder):
    """A .py next to the notebooks is a paired source (solutions/ holds plain modules and is not checked)."""
    orphans = [_shown(p) for p in sorted(folder.glob("*.py")) if not p.with_suffix(".ipynb").is_file()]
    assert not orphans, (f"{orphans} have no .ipynb: create it with `jupytext --set-formats {FORMATS} <file>.py` "
                         "or delete the script")


# --- the check can fail --------------------------------------------------------------------------------------
@pytest.fixture
def pair(tmp_path) -> Path:
    """A copy of 01_preprocessing's pair, in sync."""
    for suffix in (".ipynb", ".py"):
        shutil.copy(NB_DIR / f"01_preprocessing{suffix}", tmp_path / f"01_preprocessing{suffix}")
    ipynb = tmp_path / "01_preprocessing.ipynb"
    assert pair_problems(ipynb) == []
    return ipynb


def _edit_script(ipynb: Path, old: str, new: str) -> None:
    script = ipynb.with_suffix(".py")
    src = script.read_text(encoding="utf-8")
    assert src.count(old) == 1, old
    script.write_text(src.replace(old, new), encoding="utf-8")


def test_check_reports_an_edited_line(pair):
    _edit_script(pair, 'config = "configs/default.yaml"', 'config = "configs/other.yaml"')
    problems = pair_problems(pair)
    assert len(problems) == 1
    assert "01_preprocessing.ipynb cell" in problems[0] and "source" in problems[0]
    assert f"jupytext --sync {pair}" in problems[0] and 'configs/other.yaml' in problems[0]


def test_check_reports_a_lost_parameters_tag(pair):
    _edit_script(pair, '# %% tags=["parameters"]\n', "# %%\n")
    problems = pair_problems(pair)
    assert len(problems) == 1 and "tags" in problems[0] and "'parameters'" in problems[0]


def test_check_reports_an_added_cell(pair):
    script = pair.with_suffix(".py")
    script.write_text(script.read_text(encoding="utf-8") + "\n# %%\nprint('new')\n", encoding="utf-8")
    assert any("cells" in p and "jupytext --sync" in p for p in pair_problems(pair))


def test_check_reports_a_missing_script(pair):
    pair.with_suffix(".py").unlink()
    problems = pair_problems(pair)
    assert len(problems) == 1 and "no paired 01_preprocessing.py" in problems[0]
