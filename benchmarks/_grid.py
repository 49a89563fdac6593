"""Shared plumbing of the benchmark scripts: the grid scripts' command line, a temporary run on the configured
data (split and BERT vectors from the caches), and a method built as the run's config builds it."""
from __future__ import annotations

import argparse
import tempfile
from contextlib import contextmanager
from typing import Iterator

from rec_helpers import pipeline
from rec_helpers.transfer.registry import make_method


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


def configured_method(ctx: pipeline.Context, name: str, **override):
    """Method ``name`` with the run config's parameters and ``override`` on top (keys the method does not take,
    such as a seed for Pop, are dropped), without progress bars; not fitted."""
    accepted = make_method(name).param_names()
    params = {k: v for k, v in {**pipeline.method_params(ctx.config, name), **override}.items() if k in accepted}
    if "progress" in accepted:
        params["progress"] = False
    return make_method(name, **params)
