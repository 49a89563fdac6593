"""Committed notebooks follow the template and carry no outputs (outputs stay out of the diff)."""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_suite_has_notebooks():
    assert SUITE, "notebooks/NN_*.ipynb not found"
    assert SUITE[0].name.startswith(("00_", "01_"))


@pytest.mark.parametrize("path", SUITE + sorted((ROOT / "notebooks").glob("exercises/**/*.ipynb")), ids=lambda p: p.name)
def test_no_outputs_committed(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; strip them (python tools/strip_outputs.py)"


@pytest.mark.parametrize("path", SUITE, ids=lambda p: p.name)
def test_template(path):
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters' (papermill needs exactly one)"
    names = {t.id for stmt in ast.parse(tagged[0].source).body if isinstance(stmt, ast.Assign) for t in stmt.targets}
    assert {"run_dir", "config", "profile"} <= names, f"{path.name}: parameters cell defines {names}"
    assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# "), "first cell: a title"
    assert "learning goals" in cells[0].source.lower(), f"{path.name}: the title cell states learning goals"
    md = [c.source for c in cells if c.cell_type == "markdown"]
    assert any(s.startswith("## 1. Imports") for s in md), f"{path.name}: section '## 1. Imports' comes first"
    first_code = next(c for c in cells if c.cell_type == "code")
    assert "import" in first_code.source, f"{path.name}: the first code cell holds the imports"
    assert "what you should now understand" in md[-1].lower(), f"{path.name}: closing summary cell missing"
    assert nb.metadata.kernelspec.name == "python3"


def test_environment_yml_matches_make_setup():
    """conda and the pip path install the same things: torch==2.13.0 then the package with [dev,scale]."""
    env = (ROOT / "environment.yml").read_text()
    make = (ROOT / "Makefile").read_text()
    assert "torch==2.13.0" in env and "-e .[dev,scale]" in env
    assert 'pip install -q "torch==2.13.0"' in make and 'pip install -q -e ".[dev,scale]"' in make
    assert make.index("torch==2.13.0") < make.index('-e ".[dev,scale]"'), "torch must be installed first"
