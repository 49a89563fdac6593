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
from .errors import RecHelpersError, RunFolderError
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


MATHJAX_PARTS = ("MathJax.js", "config", "jax", "fonts", "extensions")


def bundle_mathjax(report_dir: Path) -> str | None:
    """Copy MathJax 2 (from the ``jupyter-server-mathjax`` wheel) next to the report so formulas
    render offline; return the URL the HTML should load, or None to keep nbconvert's CDN default."""
    try:
        import jupyter_server_mathjax
    except ImportError:
        return None
    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    dest = report_dir / "mathjax"
    if not (dest / "MathJax.js").is_file():
        tmp = report_dir / ".mathjax.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for part in MATHJAX_PARTS:
            src = static / part
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp / part)
        os.replace(tmp, dest)
    return "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"


def export_html(executed: Sequence[Path], report_dir: Path, run: RunFolder, cfg: Mapping,
                name: str | None = None) -> Path:
    """HTML of each executed notebook plus ``report/index.html`` linking them."""
    import nbformat
    from nbconvert import HTMLExporter

    report_dir.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(exclude_input_prompt=True, exclude_output_prompt=True)
    mathjax = bundle_mathjax(report_dir)
    if mathjax:
        exporter.mathjax_url = mathjax
    rows = []
    timings = run.manifest.get("timings", {})
    for nb_path in executed:
        body, _ = exporter.from_notebook_node(nbformat.read(nb_path, as_version=4))
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
<body><h1>Cross-domain interest transfer: run <code>{html.escape(name or run.path.name)}</code></h1>
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


def _point_at(nb_path: Path, partial: Path, final: Path) -> None:
    """Make a saved notebook's injected ``run_dir`` name the final run folder, not ``.partial``."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = cell.source.replace(repr(str(partial)), repr(str(final))).replace(
                f'"{partial}"', f'"{final}"')
    with atomic_path(nb_path) as tmp:
        nbformat.write(nb, tmp)


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
    import papermill as pm
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
            with _headless():  # widgets render their static fallback
                pm.execute_notebook(str(nb), str(out_nb), parameters={"run_dir": str(run.path), "config": cfg},
                                    kernel_name=kernel_name, cwd=str(nb_dir), progress_bar=False,
                                    log_output=log_output, report_mode=False)
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
        _point_at(out_nb, run.path, final)
    export_html(executed, run.file("report"), run, cfg, name=final.name)
    os.replace(partial, final)
    run = RunFolder(final)
    return SuiteResult(final, run.file("report/index.html"), run.manifest.get("timings", {}))
