"""Strip outputs and execution counts from notebooks (run before committing)."""
import sys
from pathlib import Path

import nbformat

paths = [Path(p) for p in sys.argv[1:]] or sorted(Path("notebooks").rglob("*.ipynb"))
for p in paths:
    nb = nbformat.read(p, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code":
            c.outputs, c.execution_count = [], None
    nbformat.write(nb, p)
    print("stripped", p)
