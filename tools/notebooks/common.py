"""Cells every notebook shares: the parameters cell and the opening of section 2."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from nbbuild import code, md, params, write  # noqa: E402,F401

PARAMETERS = params('''
# Parameters: papermill and `rec-suite run` replace this cell's values.
run_dir = None                   # None -> runs/notebooks-<profile>-<hash>: one folder per parameter set
config = "configs/default.yaml"  # a YAML path (relative to the project root) or a resolved dict
profile = None                   # None reads $REC_SUITE_PROFILE; "smoke" runs on ML-100K in seconds
''')

START = code('''
ctx = pipeline.start(run_dir, config, profile)
cfg = ctx.config
print(f"run folder: {ctx.run.path}")
print(f"dataset: {cfg['data']['dataset']}, split: {cfg['split']['kind']}, seed: {cfg['seed']}, profile: {cfg['profile']}")
''')


def opening(imports: str, parameters_note: str = "") -> list:
    """Sections 1 and 2 of every notebook: the imports, the parameters cell and the start cell."""
    note = f"\n\n{parameters_note}" if parameters_note else ""
    return [md("## 1. Imports"), code(imports), md("## 2. Parameters" + note), PARAMETERS, START]
