"""Formulas and charts of the exported HTML render offline: opened as a file and served over HTTP.

The rendering check needs Chromium (``/usr/bin/chromium``) and is skipped without it; the rest runs anywhere.
``tools/check_report_math.py`` runs the same check on a whole report folder.
"""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import nbformat
import plotly.express as px
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from rec_helpers.fetch import chart_bundle_path
from rec_helpers.suite import MATHJAX_CONFIG, PLOTLY_MIME, bundle_assets, notebook_html

pytestmark = pytest.mark.notebook  # renders pages in a browser: `make test` only, not `make test-fast`

ROOT = Path(__file__).resolve().parents[1]
FORMULAS = ("Fusion $u'' = \\alpha u_s + (1-\\alpha)\\bar u_t$, adapter $u_t' = u_t + \\theta \\odot (A(u_s) - u_t)$, "
            "$u' = \\bar u_t + \\theta \\odot (A(u_s) - \\bar u_t)$, $q(z \\mid x_s) = \\mathcal N(\\mu, \\sigma^2)$, "
            "$\\mathbb{1}[\\sum_{r\\le K} \\mathrm{hit}_r > 0]$ and\n\n"
            "$$\\mathrm{NDCG@K} = \\frac{1}{\\mathrm{IDCG}} \\sum_{r=1}^{K} \\frac{\\mathrm{rel}_r}{\\log_2(r+1)}$$")


def _tool():
    spec = importlib.util.spec_from_file_location("check_report_math", ROOT / "tools" / "check_report_math.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _make_page(folder: Path, trace_types: set[str] | None = None) -> Path:
    """An exported page with the report's hardest formulas (primes, a bar, script, blackboard bold) and a chart."""
    fig = px.line(x=[0, 0.5, 1], y=[0.1, 0.3, 0.2], title="α curve")
    out = new_output("display_data", data={PLOTLY_MIME: fig.to_plotly_json(), "text/plain": ["Figure"]})
    nb = new_notebook(cells=[new_markdown_cell("# Formulas\n\n" + FORMULAS), new_code_cell("fig.show()", outputs=[out])])
    nb_path = folder / "formulas.ipynb"
    nbformat.write(nb, nb_path)
    html = notebook_html(nb_path, bundle_assets(folder, trace_types))
    target = folder / "formulas.html"
    target.write_text(html, encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    return _make_page(tmp_path_factory.mktemp("report"))


def test_page_loads_local_mathjax_with_stix_fonts_and_plotly_once(page):
    html = page.read_text()
    assert f'src="assets/mathjax/MathJax.js?config={MATHJAX_CONFIG}"' in html
    assert html.count('src="assets/plotly.min.js"') == 1 and "Plotly.newPlot" in html
    assert not re.search(r"<script[^>]*\ssrc=[\"']?(https?:)?//", html)   # no script from the network
    assert "require.min.js" not in html
    local = (page.parent / "assets" / "mathjax" / "config" / "local" / "rec-suite.js").read_text()
    assert 'webFont: "STIX-Web"' in local and '"fast-preview": {disabled: true}' in local
    assert (page.parent / "assets" / "mathjax" / "jax" / "output" / "HTML-CSS" / "fonts" / "STIX-Web" / "fontdata.js").is_file()
    assert "u'' = \\alpha" in html                           # the markdown's TeX reaches the page unescaped


def test_check_finds_problems_in_a_dom():
    check = _tool().check_dom
    assert check('<span class="MathJax_Error">[Math Processing Error]</span>')
    assert check('<div class="plotly-graph-div"></div>')
    assert check('<script src="x/MathJax.js"></script><body><p>$u\\_t \\alpha$</p>') != []
    assert check('<body><div class="plotly-graph-div"><svg class="main-svg"></svg></div>') == []


@pytest.mark.skipif(_tool().find_chromium() is None, reason="needs Chromium (apt-get install chromium)")
def test_formulas_and_chart_render_as_file_and_over_http(page):
    results = _tool().check_pages([page], _tool().find_chromium(), http_too=True)
    assert set(results) == {"formulas.html (file)", "formulas.html (http)"}
    assert results == {k: [] for k in results}, results


@pytest.mark.skipif(_tool().find_chromium() is None, reason="needs Chromium (apt-get install chromium)")
@pytest.mark.skipif(not chart_bundle_path().is_file(), reason="the cartesian bundle is fetched by `rec-suite fetch`")
def test_chart_renders_with_the_cartesian_bundle(tmp_path_factory):
    """With every chart a cartesian trace, the page ships the 1.5 MB cartesian bundle, which draws it."""
    target = _make_page(tmp_path_factory.mktemp("cartesian"), {"scatter"})
    assert (target.parent / "assets" / "plotly-cartesian.min.js").is_file()
    assert not (target.parent / "assets" / "plotly.min.js").exists()
    assert target.read_text().count('src="assets/plotly-cartesian.min.js"') == 1
    results = _tool().check_pages([target], _tool().find_chromium(), http_too=True)
    assert results == {k: [] for k in results} and len(results) == 2, results
