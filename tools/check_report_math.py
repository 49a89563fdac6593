"""Render report pages in headless Chromium and fail on formulas or charts that did not render.

    python tools/check_report_math.py runs/<name>/report                 # every *.html, as file://
    python tools/check_report_math.py runs/<name>/report --http          # also served from 127.0.0.1
    python tools/check_report_math.py runs/<name>/report/03_adapter.html --screenshots /tmp/shots

For each page it loads the page (file://, and over a local HTTP server with ``--http``), lets MathJax and
plotly.js run (a virtual-time budget), dumps the DOM and checks:

* no "Math Processing Error" (MathJax failing, e.g. on a prime when its font data is missing),
* every formula became MathJax output (no raw ``$...$`` left where MathJax ran),
* every plotly chart was drawn (each ``plotly-graph-div`` holds an ``svg.main-svg``),
* over HTTP, no request for a file that is not there (a 404 other than favicon.ico).

Needs Chromium (``apt-get install chromium``; ``--chromium PATH`` or ``$CHROMIUM`` elsewhere). Exit status 0
when every page passes, 1 otherwise, 2 when Chromium is missing. No network is used.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def find_chromium(explicit: str | None = None) -> str | None:
    for c in (explicit, os.environ.get("CHROMIUM"), *CANDIDATES, shutil.which("chromium")):
        if c and Path(c).is_file():
            return c
    return None


def chromium(binary: str, url: str, *args: str, budget_ms: int = 20000, timeout: int = 180) -> str:
    with tempfile.TemporaryDirectory(prefix="rec-suite-chromium-") as profile:
        cmd = [binary, *FLAGS, f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}", *args, url]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return res.stdout


def check_dom(dom: str) -> list[str]:
    """Problems found in a rendered page's DOM (empty when it rendered completely)."""
    problems = []
    n_err = dom.count("Math Processing Error")
    if n_err:
        problems.append(f"{n_err} formula(s) show 'Math Processing Error'")
    if "MathJax.js" in dom:
        body = dom.split("<body", 1)[-1]
        text = re.sub(r"<(script|style)\b.*?</\1>", "", body, flags=re.S)
        text = re.sub(r"<[^>]+>", "", text)
        raw = re.findall(r"(?<![\\$\w])\$[^$\n]*\\[a-zA-Z]+[^$\n]*\$", text)
        if raw:
            problems.append(f"{len(raw)} formula(s) left as raw TeX, e.g. {raw[0][:60]!r}")
    charts = len(re.findall(r'class="plotly-graph-div', dom))
    drawn = len(re.findall(r'class="main-svg"', dom))
    if charts and drawn < charts:
        problems.append(f"{charts} plotly chart(s) but only {drawn} main-svg drawn")
    return problems


class _Quiet(http.server.SimpleHTTPRequestHandler):
    missing: list

    def log_message(self, fmt, *args):  # keep stderr clean; remember 404s
        if len(args) > 1 and str(args[1]) == "404" and "favicon.ico" not in str(args[0]):
            self.missing.append(str(args[0]))


def serve(folder: Path):
    """A local HTTP server on 127.0.0.1 for ``folder``; returns (server, base URL, list of 404s)."""
    missing: list = []
    handler = functools.partial(type("H", (_Quiet,), {"missing": missing}), directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}", missing


def check_pages(pages: list[Path], binary: str, http_too: bool = False, screenshots: Path | None = None,
                width: int = 1200, height: int = 1600) -> dict[str, list[str]]:
    """``{"<page> (file|http)": [problems]}`` for every page."""
    results: dict[str, list[str]] = {}
    root = Path(os.path.commonpath([p.parent.resolve() for p in pages]))
    server = None
    try:
        if http_too:
            server, base, missing = serve(root)
        for page in pages:
            page = page.resolve()
            urls = [("file", page.as_uri())]
            if server is not None:
                urls.append(("http", f"{base}/{page.relative_to(root).as_posix()}"))
            for how, url in urls:
                if server is not None:
                    missing.clear()
                problems = check_dom(chromium(binary, url, "--dump-dom"))
                if how == "http" and missing:
                    problems.append(f"{len(missing)} request(s) for missing files, e.g. {missing[0]}")
                if screenshots is not None:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    shot = screenshots / f"{page.stem}-{how}.png"
                    chromium(binary, url, f"--screenshot={shot}", f"--window-size={width},{height}")
                results[f"{page.name} ({how})"] = problems
    finally:
        if server is not None:
            server.shutdown()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", help="report folders or HTML pages")
    p.add_argument("--http", action="store_true", help="also load every page from a local HTTP server")
    p.add_argument("--screenshots", type=Path, default=None, help="folder for a PNG of each page")
    p.add_argument("--height", type=int, default=1600, help="screenshot height in pixels")
    p.add_argument("--chromium", default=None, help="Chromium binary (default: /usr/bin/chromium, $CHROMIUM)")
    args = p.parse_args(argv)
    binary = find_chromium(args.chromium)
    if binary is None:
        print("check_report_math: Chromium not found (apt-get install chromium, or --chromium PATH)", file=sys.stderr)
        return 2
    pages = []
    for path in map(Path, args.paths):
        pages += sorted(path.glob("*.html")) if path.is_dir() else [path]
    pages = [pg for pg in pages if pg.name != "index.html" or len(pages) == 1]
    if not pages:
        print("check_report_math: no HTML pages given", file=sys.stderr)
        return 2
    results = check_pages(pages, binary, args.http, args.screenshots, height=args.height)
    bad = {k: v for k, v in results.items() if v}
    for k, v in results.items():
        print(f"{'FAIL' if v else 'ok  '} {k}" + (": " + "; ".join(v) if v else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
