"""Run the notebooks in numeric order with papermill and export an HTML report.

Every notebook gets the same parameters: ``run_dir`` (the run folder) and ``config``
(the resolved parameter set). The run is built in ``<out>.partial`` and moved to
``<out>`` only when every notebook succeeded, so an earlier run is never harmed and a
failed one is left, clearly named, for debugging.
"""
from __future__ import annotations

import html
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from .config import load_config, to_yaml
from .errors import RecHelpersError, RunFolderError, RunInterrupted
from .paths import project_root, resolve
from .pipeline import package_versions
from .runfolder import RunFolder, atomic_path

NOTEBOOK_PATTERN = re.compile(r"^\d{2}_.+\.ipynb$")


class NotebookFailed(RecHelpersError):
    """A notebook of the suite raised; the message names the notebook, cell and error."""


@dataclass
class SuiteResult:
    run_dir: Path
    report: Path
    timings: dict


def discover_notebooks(notebooks_dir: str | os.PathLike | None = None, only: Sequence[str] | None = None) -> list[Path]:
    """The suite's notebooks (``NN_name.ipynb``) in numeric order; ``only`` filters by prefix or name."""
    nb_dir = Path(notebooks_dir) if notebooks_dir else project_root() / "notebooks"
    found = sorted(p for p in nb_dir.glob("*.ipynb") if NOTEBOOK_PATTERN.match(p.name))
    if only:
        found = [p for p in found if any(p.name.startswith(o) or p.stem == o for o in only)]
    if not found:
        raise RunFolderError(f"no notebooks named NN_*.ipynb in {nb_dir}" + (f" matching {list(only)}" if only else ""))
    return found


def _failure_message(nb: Path, err: Exception, out_nb: Path) -> str:
    ename = getattr(err, "ename", type(err).__name__)
    evalue = getattr(err, "evalue", str(err))
    cell = getattr(err, "exec_count", None)
    where = f"cell [{cell}]" if cell is not None else "a cell"
    return (f"notebook {nb.name} failed in {where}: {ename}: {evalue}\n"
            f"The executed notebook, with the traceback, is at {out_nb}")


ASSETS = "assets"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
# MathJax 2 from the jupyter-server-mathjax wheel, only what the report uses: TeX input, the HTML-CSS
# output with the STIX-Web fonts (the only fonts the wheel ships), the extensions but not a11y (3.7 MB).
MATHJAX_PARTS = ("LICENSE", "MathJax.js", "config", "extensions", "jax/input", "jax/element",
                 "jax/output/HTML-CSS", "fonts/HTML-CSS/STIX-Web", "localization/en")
MATHJAX_SKIP = ("a11y",)
MATHJAX_LOCAL_CONFIG = """// rec-suite: render every formula with the STIX-Web fonts bundled beside this file.
// MathJax's defaults ask for the TeX fonts (jax/output/HTML-CSS/fonts/TeX/fontdata.js, fonts/HTML-CSS/TeX/otf),
// which the jupyter-server-mathjax wheel does not ship: primes and accents then fail with "Math Processing
// Error", and the fast preview and the (hidden) assistive MathML request .otf files that are not there.
(function () {
  var woff = MathJax.Ajax.fileURL("[MathJax]/fonts/HTML-CSS/STIX-Web/woff/");
  function face(family, file, weight) {
    var f = {"font-family": family, src: "url('" + woff + file + ".woff') format('woff')"};
    if (weight) f["font-weight"] = weight;
    return f;
  }
  MathJax.Hub.Config({
    "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
    SVG: {font: "STIX-Web"},
    "fast-preview": {disabled: true},
    menuSettings: {CHTMLpreview: false},
    NativeMML: {styles: {
      "@font-face /*1*/": face("MathJax_Caligraphic-WEB", "STIXMathJax_Script-Regular"),
      "@font-face /*2*/": face("MathJax_Caligraphic-WEB", "STIXMathJax_Script-BoldItalic", "bold"),
      "@font-face /*3*/": face("MathJax_AMS-WEB", "STIXMathJax_DoubleStruck-Regular"),
      "@font-face /*4*/": face("MathJax_Script-WEB", "STIXMathJax_Script-Regular"),
      "@font-face /*5*/": face("MathJax_Fraktur-WEB", "STIXMathJax_Fraktur-Regular"),
      "@font-face /*6*/": face("MathJax_Fraktur-WEB", "STIXMathJax_Fraktur-Bold", "bold")
    }}
  });
})();
MathJax.Ajax.loadComplete("[MathJax]/config/local/rec-suite.js");
"""
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe,local/rec-suite"


def _copy_atomically(dest: Path, fill) -> None:
    """Build ``dest`` in a temporary sibling with ``fill(tmp)`` and move it into place (once)."""
    if not dest.exists():
        with atomic_path(dest) as tmp:
            fill(tmp)


def figure_trace_types(notebooks: Sequence[Path]) -> set[str]:
    """The plotly trace types (``scatter``, ``bar``…) of every chart output of ``notebooks``."""
    import nbformat

    types = set()
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
                fig = out.get("data", {}).get(PLOTLY_MIME)
                if fig is not None:
                    types.update(t.get("type", "scatter") for t in fig.get("data", []))
    return types


def plotly_bundle(trace_types: set[str] | None) -> tuple[Path, str]:
    """The plotly.js file for charts of ``trace_types`` and its name in ``assets/``: the fetched cartesian
    bundle (1.5 MB, :func:`rec_helpers.fetch.fetch_chart_bundle`) when it is there, unchanged (sha256),
    of the plotly.js version the plotly package bundles, and draws every type; else the package's full
    plotly.min.js (4.7 MB). ``None`` (types unknown) always gives the full bundle."""
    import plotly
    from plotly.offline import get_plotlyjs_version

    from .constants import PLOTLY_CARTESIAN as spec
    from .fetch import chart_bundle_path, sha256_file

    full = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    partial = chart_bundle_path()
    if (trace_types is not None and set(trace_types) <= set(spec["traces"])
            and get_plotlyjs_version() == spec["version"] and partial.is_file()
            and sha256_file(partial) == spec["sha256"]):
        return partial, "plotly-cartesian.min.js"
    return full, "plotly.min.js"


def bundle_assets(folder: Path, trace_types: set[str] | None = None) -> dict:
    """Copy plotly.js and MathJax once into ``folder/assets`` so every page of the report loads them
    by a relative URL, offline, also after the run folder is zipped and moved. ``trace_types``: the
    charts' trace types (:func:`figure_trace_types`), which may allow the smaller cartesian bundle
    (:func:`plotly_bundle`). Returns the URLs (relative to ``folder``) the pages use:
    ``{"plotly": ..., "mathjax": ... or None}``."""
    assets = folder / ASSETS
    assets.mkdir(parents=True, exist_ok=True)
    plotly_js, plotly_name = plotly_bundle(trace_types)
    _copy_atomically(assets / plotly_name, lambda tmp: shutil.copy2(plotly_js, tmp))
    urls = {"plotly": f"{ASSETS}/{plotly_name}", "mathjax": None}
    try:
        import jupyter_server_mathjax
    except ImportError:
        return urls
    static = Path(jupyter_server_mathjax.__file__).parent / "static"

    def fill(tmp: Path) -> None:
        tmp.mkdir(parents=True)
        for part in MATHJAX_PARTS:
            src, dst = static / part, tmp / part
            dst.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*MATHJAX_SKIP))
            elif src.is_file():
                shutil.copy2(src, dst)
        (tmp / "config" / "local").mkdir(parents=True, exist_ok=True)
        (tmp / "config" / "local" / "rec-suite.js").write_text(MATHJAX_LOCAL_CONFIG)

    _copy_atomically(assets / "mathjax", fill)
    urls["mathjax"] = f"{ASSETS}/mathjax/MathJax.js?config={MATHJAX_CONFIG}"
    return urls


def plotly_outputs_to_html(nb, plotly_url: str):
    """Give every plotly figure output (``application/vnd.plotly.v1+json``, what JupyterLab renders)
    an HTML version for the exported page: a div and a ``Plotly.newPlot`` call, with plotly.js
    loaded once per page from ``plotly_url``. ``nb`` is changed in place and returned."""
    import plotly.io as pio

    loaded = False
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            fig = out.get("data", {}).get(PLOTLY_MIME)
            if fig is None:
                continue
            html = pio.to_html(fig, include_plotlyjs=False, include_mathjax=False, full_html=False,
                               validate=False, config=fig.get("config"))
            if not loaded:
                html = f'<script src="{plotly_url}" charset="utf-8"></script>\n' + html
                loaded = True
            out["data"] = {"text/html": html, **{k: v for k, v in out["data"].items()
                                                 if k not in (PLOTLY_MIME, "text/html")}}
    return nb


# nbconvert's lab template, without its <script src> for require.js from a CDN: the report is offline, and
# with require.js on the page plotly.js would register as an AMD module instead of window.Plotly.
HTML_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
"""


def _shared_stylesheet(body: str, folder: Path) -> str:
    """Move the page's ``<style>`` blocks of ``<head>`` (nbconvert's JupyterLab CSS, ~260 kB and the same
    for every page) into ``folder/assets/nbconvert-<hash>.css``, written once, and link it."""
    import hashlib

    head_end = body.find("</head>")
    if head_end < 0:
        return body
    head = body[:head_end]
    blocks = re.findall(r"<style[^>]*>(.*?)</style>", head, flags=re.S)
    if not blocks:
        return body
    css = "\n".join(blocks)
    name = f"nbconvert-{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
    target = folder / ASSETS / name
    if not target.exists():
        with atomic_path(target) as tmp:
            tmp.write_text(css, encoding="utf-8")
    first = [True]

    def replace(_m):
        if first[0]:
            first[0] = False
            return f'<link rel="stylesheet" href="{ASSETS}/{name}">'
        return ""

    return re.sub(r"<style[^>]*>.*?</style>", replace, head, flags=re.S) + body[head_end:]


def notebook_html(nb_path: Path, urls: Mapping, folder: Path | None = None) -> str:
    """One executed notebook as an HTML page that loads plotly.js and MathJax from ``urls`` (nothing
    from the network: no require.js, no widget manager, no CDN MathJax); with ``folder`` (where the page
    goes), its stylesheet is shared with the other pages in ``folder/assets/``."""
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(extra_loaders=[jinja2.DictLoader({"rec_suite.html.j2": HTML_TEMPLATE})],
                            template_file="rec_suite.html.j2", exclude_input_prompt=True, exclude_output_prompt=True)
    if urls.get("mathjax"):
        exporter.mathjax_url = urls["mathjax"]
    nb = plotly_outputs_to_html(nbformat.read(nb_path, as_version=4), urls["plotly"])
    nb.metadata.pop("widgets", None)  # headless runs show static views; no widget manager from a CDN
    body, _ = exporter.from_notebook_node(nb)
    return body if folder is None else _shared_stylesheet(body, folder)


def export_html(executed: Sequence[Path], report_dir: Path, run: RunFolder, cfg: Mapping,
                name: str | None = None) -> Path:
    """HTML of each executed notebook plus ``report/index.html`` linking them; plotly.js and MathJax
    are shipped once, in ``report/assets/``."""
    report_dir.mkdir(parents=True, exist_ok=True)
    urls = bundle_assets(report_dir, figure_trace_types(executed))
    rows = []
    timings = run.manifest.get("timings", {})
    for nb_path in executed:
        body = notebook_html(nb_path, urls, report_dir)
        target = report_dir / f"{nb_path.stem}.html"
        with atomic_path(target) as tmp:
            tmp.write_text(body, encoding="utf-8")
        secs = timings.get(f"notebook:{nb_path.name}")
        rows.append(f"<tr><td><a href='{html.escape(target.name)}'>{html.escape(nb_path.stem)}</a></td>"
                    f"<td>{'' if secs is None else f'{secs:.1f} s'}</td>"
                    f"<td><a href='../notebooks/{html.escape(nb_path.name)}'>ipynb</a></td></tr>")
    split = run.manifest.get("split", {})
    index = f"""<!doctype html><html><head><meta charset="utf-8"><title>rec-suite report: {html.escape(str(cfg.get('name')))}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:left}}pre{{background:#f6f6f6;padding:1em;overflow:auto}}</style></head>
<body><h1>Cross-domain interest transfer: run <code>{html.escape(name or run.name)}</code></h1>
<p>Dataset <b>{html.escape(str(cfg['data']['dataset']))}</b>, {html.escape(str(cfg['split']['kind']))} split,
seed {cfg['seed']}, profile {html.escape(str(cfg.get('profile') or 'none'))}.
{split.get('n_source_items', '?')} source items, {split.get('n_target_items', '?')} target items,
{split.get('n_overlapping_users', '?')} overlapping users ({html.escape(str(split.get('roles', {})))}).</p>
<h2>Notebooks</h2><table><tr><th>notebook</th><th>time</th><th>executed</th></tr>{''.join(rows)}</table>
<h2>Parameters</h2><pre>{html.escape(to_yaml(cfg))}</pre>
<p>Machine-readable: <a href="../manifest.json">manifest.json</a>{' and <a href="../metrics.json">metrics.json</a>' if run.has('metrics.json') else ''}.</p>
</body></html>"""
    index_path = report_dir / "index.html"
    with atomic_path(index_path) as tmp:
        tmp.write_text(index, encoding="utf-8")
    return index_path


@contextmanager
def _headless():
    old = os.environ.get("REC_SUITE_HEADLESS")
    os.environ["REC_SUITE_HEADLESS"] = "1"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("REC_SUITE_HEADLESS", None)
        else:
            os.environ["REC_SUITE_HEADLESS"] = old


def _relativise(nb_path: Path, partial: Path, final: Path, nb_dir: Path) -> None:
    """Make a saved notebook name its run folder relatively and never by the build folder's name.

    The injected ``run_dir`` becomes ``".."`` (the run folder, seen from ``<run>/notebooks/``, so
    the notebook still works after the run folder is moved or zipped); papermill's metadata and
    every output lose the absolute ``….partial`` path (paths inside the run become relative to it,
    the folder itself is named by its final name) and the project root (paths become relative
    to it). Nothing of the local file system (home folder, temp folders) is left in the notebook
    or in the HTML made from it."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    root = project_root()

    def clean(text: str) -> str:
        for folder, name in ((partial, final.name), (final, final.name)):
            text = text.replace(f"{folder}{os.sep}", "").replace(str(folder), name)
        return text.replace(f"{root}{os.sep}", "").replace(str(root), ".")

    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            lines = cell.source.splitlines()
            cell.source = "\n".join(
                'run_dir = ".."  # this run folder, relative to this notebook (its notebooks/ folder)'
                if ln.startswith("run_dir = ") else ln for ln in lines)
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = clean(out["text"])
            for mime, value in out.get("data", {}).items():
                if isinstance(value, str) and (mime.startswith("text/") or mime == "application/javascript"):
                    out["data"][mime] = clean(value)
            if "traceback" in out:
                out["traceback"] = [clean(t) for t in out["traceback"]]
            if "evalue" in out:
                out["evalue"] = clean(out["evalue"])
    pm_meta = nb.metadata.get("papermill", {})
    if pm_meta:
        pm_meta.get("parameters", {})["run_dir"] = ".."
        pm_meta["input_path"] = os.path.relpath(nb_dir / nb_path.name, root) if str(nb_dir).startswith(str(root)) \
            else nb_path.name
        pm_meta["output_path"] = f"notebooks/{nb_path.name}"
        if pm_meta.get("exception") is None:
            pm_meta.pop("exception", None)
    with atomic_path(nb_path) as tmp:
        nbformat.write(nb, tmp)


SuiteInterrupted = RunInterrupted  # Ctrl-C during a run: names the notebook and where the partial run is


def _kernel_manager_class(folder: Path):
    """A kernel manager whose kernel does not talk plain TCP, so ipykernel has no reason to warn
    "Kernel is running over TCP without encryption" for every notebook: on POSIX the kernel's
    sockets are Unix sockets in ``folder`` (a private temp folder, no network port at all);
    elsewhere TCP with CurveZMQ encryption when pyzmq supports it."""
    import itertools

    import zmq
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    counter = itertools.count()
    if os.name == "posix":
        class IPCKernelManager(AsyncKernelManager):
            @default("transport")
            def _transport_default(self):
                return "ipc"

            @default("ip")
            def _ip_default(self):
                return str(folder / f"k{next(counter)}")

        return IPCKernelManager
    if zmq.has("curve"):
        class CurveKernelManager(AsyncKernelManager):
            @default("transport_encryption")
            def _transport_encryption_default(self):
                return "auto"

        return CurveKernelManager
    return AsyncKernelManager


def execute_notebook(nb: Path, out_nb: Path, parameters: Mapping, cwd: Path, kernel_name: str = "python3",
                     log_output: bool = False) -> None:
    """Run one notebook with papermill: headless widgets, kernel sockets not in plain TCP, and the
    kernel shut down whatever happens (also on Ctrl-C while it is still starting)."""
    import tempfile

    import papermill as pm

    with tempfile.TemporaryDirectory(prefix="rec-suite-") as ipc, _headless():
        km = _kernel_manager_class(Path(ipc))(kernel_name=kernel_name)
        try:
            pm.execute_notebook(str(nb), str(out_nb), parameters=dict(parameters), kernel_name=kernel_name,
                                cwd=str(cwd), progress_bar=False, log_output=log_output, report_mode=False, km=km)
        finally:
            if km.has_kernel:  # nbclient shuts it down after a normal run; not when interrupted while starting
                from jupyter_core.utils import run_sync

                try:
                    run_sync(km.shutdown_kernel)(now=True)
                except Exception:  # already gone
                    pass


def default_run_name(cfg: Mapping) -> str:
    return f"{cfg.get('name') or 'run'}-{time.strftime('%Y%m%d-%H%M%S')}"


def run_suite(
    config: str | os.PathLike | Mapping | None = None,
    out: str | os.PathLike | None = None,
    profile: str | None = None,
    overrides: Mapping | None = None,
    notebooks: Sequence[str] | None = None,
    notebooks_dir: str | os.PathLike | None = None,
    kernel_name: str = "python3",
    log_output: bool = False,
) -> SuiteResult:
    """Execute the suite's notebooks into a new run folder and export the report."""
    cfg = load_config(config, "" if profile is None and isinstance(config, Mapping) else profile, overrides)
    final = resolve(out) if out else project_root() / "runs" / default_run_name(cfg)
    if final.exists():
        raise RunFolderError(f"run folder {final} already exists; an existing run is never overwritten. "
                             "Fix: choose another --out (or omit it for a timestamped name).")
    nb_list = discover_notebooks(notebooks_dir, notebooks)
    partial = final.with_name(final.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)  # a leftover of an earlier failed attempt at this same name
    run = RunFolder.create(partial)
    run.update_manifest(config=cfg, packages=package_versions(), created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    nb_dir = nb_list[0].parent
    out_dir = run.file("notebooks")
    out_dir.mkdir(parents=True, exist_ok=True)
    executed, t_all = [], time.perf_counter()
    for nb in nb_list:
        out_nb = out_dir / nb.name
        t0 = time.perf_counter()
        print(f"[rec-suite] {nb.name} ...", flush=True)
        try:
            execute_notebook(nb, out_nb, {"run_dir": str(run.path), "config": cfg}, nb_dir, kernel_name, log_output)
        except KeyboardInterrupt:
            raise SuiteInterrupted(f"interrupted in {nb.name}; the partial run is kept at {run.path} "
                                   "(an existing run was not touched)") from None
        except Exception as err:  # papermill's PapermillExecutionError carries the cell's error
            run.record_timing(f"notebook:{nb.name}", time.perf_counter() - t0)
            raise NotebookFailed(_failure_message(nb, err, out_nb) +
                                 f"\nThe partial run is kept at {run.path}.") from err
        dt = time.perf_counter() - t0
        run.record_timing(f"notebook:{nb.name}", dt)
        print(f"[rec-suite] {nb.name} done in {dt:.1f} s", flush=True)
        executed.append(out_nb)
    run.record_timing("suite_total", time.perf_counter() - t_all)
    for out_nb in executed:
        _relativise(out_nb, run.path, final, nb_dir)
    export_html(executed, run.file("report"), run, cfg, name=final.name)
    os.replace(partial, final)
    run = RunFolder(final)
    return SuiteResult(final, run.file("report/index.html"), run.manifest.get("timings", {}))


# --- comparing runs ---------------------------------------------------------------------------
REPORT_NOTEBOOK = "07_report.ipynb"


@dataclass
class CompareResult:
    out: Path
    report: Path
    notebook: Path
    runs: list


def _shown_path(path: Path) -> str:
    """A run folder as the comparison shows it: relative to the project root when inside it."""
    root = project_root()
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def compare_runs(runs: Sequence[str | os.PathLike], out: str | os.PathLike,
                 notebooks_dir: str | os.PathLike | None = None, kernel_name: str = "python3") -> CompareResult:
    """Execute ``07_report`` on finished run folders and export its HTML into ``out``
    (``index.html``, the executed ``07_report.ipynb`` and ``assets/``), built in ``out.partial``
    and renamed when done. No data is loaded and no run folder is created or changed."""
    from .report import parse_runs, require_run

    run_dirs = [require_run(r) for r in parse_runs(runs)]
    if len(run_dirs) < 1:
        raise RunFolderError("name at least one run folder to compare, e.g. rec-suite compare runs/a runs/b --out cmp")
    final = resolve(out)
    if final.exists():
        raise RunFolderError(f"{final} already exists; an existing comparison is never overwritten. "
                             "Fix: choose another --out.")
    if any(final == d or d in final.parents for d in run_dirs):
        raise RunFolderError(f"--out {final} lies inside a compared run folder; choose a folder outside the runs.")
    nb = discover_notebooks(notebooks_dir, [REPORT_NOTEBOOK.split("_")[0]])[0]
    partial = final.with_name(final.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    try:
        partial.mkdir(parents=True)
    except OSError as e:
        raise RunFolderError(f"cannot create {partial}: {e.strerror or e}. Fix: choose a folder you can write to.") from e
    out_nb = partial / nb.name
    # 07 runs in the comparison folder and names the runs relative to it: the saved notebook and the HTML
    # show no absolute path, and the notebook still finds the runs after the .partial rename (same parent).
    relative = [os.path.relpath(d, partial) for d in run_dirs]
    try:
        execute_notebook(nb, out_nb, {"runs": relative}, partial, kernel_name)
    except KeyboardInterrupt:
        raise SuiteInterrupted(f"interrupted in {nb.name}; the partial comparison is kept at {partial}") from None
    except Exception as err:
        raise NotebookFailed(_failure_message(nb, err, out_nb) + f"\nThe partial comparison is kept at {partial}.") from err
    _relativise(out_nb, partial, final, nb.parent)
    urls = bundle_assets(partial, figure_trace_types([out_nb]))
    with atomic_path(partial / "index.html") as tmp:
        tmp.write_text(notebook_html(out_nb, urls, partial), encoding="utf-8")
    os.replace(partial, final)
    return CompareResult(final, final / "index.html", final / nb.name, [_shown_path(d) for d in run_dirs])
