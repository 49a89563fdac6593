"""Shared plumbing of the cold_valid grid scripts (``vae_grid.py``, ``kernel_map_grid.py``): their command line
and a temporary run on the configured data (split and BERT vectors from the caches)."""
from __future__ import annotations

import argparse
import tempfile
from contextlib import contextmanager
from typing import Iterator

from rec_helpers import pipeline


def grid_args(doc: str) -> argparse.Namespace:
    """``--config`` and ``--profile``, described by the script's docstring."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--profile", default="")
    return ap.parse_args()


@contextmanager
def temp_run_data(args: argparse.Namespace) -> Iterator[tuple[pipeline.Context, object]]:
    """(context, TransferData) of a run in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        ctx = pipeline.start(tmp, args.config, args.profile)
        yield ctx, pipeline.transfer_data(ctx)
