"""Fit time of every method on the real split (default: ML-1M genre split), 2 CPU cores.

Builds (or reuses, from the caches) the split and BERT vectors in a temporary run folder,
then fits each method once and prints wall time, CPU time, epochs and cold_valid NDCG@10.
Target: fusion + adapter + vae together <= 5 min (the transfer notebooks' budget).

    python benchmarks/transfer_fit.py [--profile smoke] [--methods fusion adapter vae]
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time

import torch

from rec_helpers import pipeline
from rec_helpers.transfer.base import valid_ndcg
from rec_helpers.transfer.registry import make_method


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/default.yaml")
    ap.add_argument("--profile", default="")
    ap.add_argument("--methods", nargs="+", default=["pop", "zero_shot", "cd_ridge", "emcdr", "fusion", "adapter", "vae"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ctx = pipeline.start(tmp, args.config, args.profile)
        t = time.perf_counter()
        data = pipeline.transfer_data(ctx)
        print(f"data: {data.summary()} ({time.perf_counter() - t:.1f} s, torch threads {torch.get_num_threads()})")
        total = 0.0
        print(f"{'method':10s} {'wall s':>8s} {'cpu s':>8s} {'epochs':>7s} {'valid NDCG@10':>14s}")
        for name in args.methods:
            params = pipeline.method_params(ctx.config, name)
            if "progress" in make_method(name).param_names():
                params["progress"] = False
            t, c = time.perf_counter(), time.process_time()
            m = make_method(name, **params).fit(data)
            wall = time.perf_counter() - t
            total += wall if name in ("fusion", "adapter", "vae") else 0.0
            print(f"{name:10s} {wall:8.1f} {time.process_time() - c:8.1f} {str(m.history_.get('epochs_run', '-')):>7s} "
                  f"{valid_ndcg(m, data):14.4f}")
        print(f"fusion + adapter + vae: {total:.1f} s (budget 300 s); "
              f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
