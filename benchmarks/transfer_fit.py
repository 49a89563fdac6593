"""Fit time of every method on the real split (default: ML-1M genre split), 2 CPU cores.

Builds (or reuses, from the caches) the split and BERT vectors in a temporary run folder,
then fits each method once and prints wall time, CPU time, epochs and cold_valid NDCG@10.
Target: fusion + adapter + vae together <= 5 min (the transfer notebooks' budget).

``--suite`` instead times the run's own transfer step as ``make report`` runs it
(:func:`pipeline.ensure_methods`: every configured method and its text control, model
cache off) and prints each fit and the total (issue 10's target: <= 60 s on ML-1M).

    python benchmarks/transfer_fit.py [--profile smoke] [--methods fusion adapter vae]
    python benchmarks/transfer_fit.py --suite
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
    ap.add_argument("--suite", action="store_true", help="time the whole transfer step (methods + controls)")
    args = ap.parse_args()
    if args.suite:
        return suite_step(args)
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


def suite_step(args: argparse.Namespace) -> None:
    """The transfer step of the suite (every method + its control), fitted from scratch."""
    with tempfile.TemporaryDirectory() as tmp:
        ctx = pipeline.start(tmp, args.config, args.profile, overrides={"transfer": {"model_cache": False}})
        pipeline.transfer_data(ctx), pipeline.transfer_data(ctx, control=True)  # data built outside the clock
        t = time.perf_counter()
        pipeline.ensure_methods(ctx, progress=False)
        wall = time.perf_counter() - t
        entries = ctx.run.manifest["methods"]
        fits = {k: v["fit_seconds"] for k, v in entries.items()}
        for key, s in sorted(fits.items(), key=lambda kv: -kv[1]):
            print(f"{key:22s} {s:7.1f} s fit {entries[key]['rank_seconds']:6.1f} s rankings")
        controls = sum(s for k, s in fits.items() if pipeline.is_control(k))
        print(f"fit total {sum(fits.values()):.1f} s (methods {sum(fits.values()) - controls:.1f}, "
              f"controls {controls:.1f}; with n_jobs > 1 the trained ones overlap); rankings "
              f"{sum(v['rank_seconds'] for v in entries.values()):.1f} s; step wall with rankings {wall:.1f} s; "
              "target <= 60 s")


if __name__ == "__main__":
    main()
