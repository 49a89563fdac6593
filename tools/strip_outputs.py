"""Strip outputs, execution counts and what a run adds to the metadata from notebooks.

Run before committing (`make sync-notebooks` runs it after `jupytext --sync`). Besides outputs, it resets
``language_info`` to ``{"name": "python"}`` and drops cell timing metadata (``execution``, ``ExecuteTime``),
which a kernel run in JupyterLab writes. A notebook with nothing to strip is left untouched, so its timestamp
(which `jupytext --sync` compares with the paired .py's) does not change.
"""
import sys
from pathlib import Path

import nbformat

RUN_CELL_METADATA = ("execution", "ExecuteTime")

paths = [Path(p) for p in sys.argv[1:]] or sorted(Path("notebooks").rglob("*.ipynb"))
for p in paths:
    nb = nbformat.read(p, as_version=4)
    changed = nb.metadata.get("language_info", {"name": "python"}) != {"name": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for c in nb.cells:
        for key in RUN_CELL_METADATA:
            changed |= c.metadata.pop(key, None) is not None
        if c.cell_type == "code" and (c.outputs or c.execution_count is not None):
            c.outputs, c.execution_count, changed = [], None, True
    if changed:
        nbformat.write(nb, p)
        print("stripped", p)
