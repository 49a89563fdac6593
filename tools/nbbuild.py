"""Tiny helper to write notebooks from cell lists (outputs empty, stable metadata).

Usage in a generator: ``write("notebooks/01_x.ipynb", [md("# Title"), code("x = 1"), params("a = 1")])``.
"""
from __future__ import annotations

import nbformat

KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def md(src: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(src.strip("\n"))


def code(src: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(src.strip("\n"))


def params(src: str) -> nbformat.NotebookNode:
    c = code(src)
    c.metadata["tags"] = ["parameters"]
    return c


def write(path: str, cells: list) -> None:
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNEL,
                                                          "language_info": {"name": "python"}})
    for i, c in enumerate(nb.cells):  # deterministic ids keep diffs small
        c["id"] = f"c{i:02d}"
    nbformat.validate(nb)
    nbformat.write(nb, path)
