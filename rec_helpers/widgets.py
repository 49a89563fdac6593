"""Interactive views for the classroom, each with a static fallback.

In JupyterLab a view is an ipywidgets control. Headless (papermill, nbval, the HTML
report) no frontend can draw widgets, so the same view is rendered statically for a
default choice. ``$REC_SUITE_HEADLESS=1`` (set by ``rec-suite run`` and ``make test``) or
``interactive=False`` selects the static path.
"""
from __future__ import annotations

import os
from typing import Callable, Sequence

from IPython.display import display

ENV_HEADLESS = "REC_SUITE_HEADLESS"


def is_headless() -> bool:
    """True when no widget frontend is expected (papermill, nbval, CI)."""
    return os.environ.get(ENV_HEADLESS, "") not in ("", "0", "false")


def choice_view(render: Callable[[object], None], options: Sequence, default, description: str = "pick",
                interactive: bool | None = None) -> None:
    """Render ``render(default)`` statically, and in a live notebook a dropdown that re-renders on change."""
    if interactive is None:
        interactive = not is_headless()
    if not interactive:
        render(default)
        return
    import ipywidgets as w

    out = w.Output()
    box = w.Combobox(options=[str(o) for o in options], value=str(default), description=description,
                     ensure_option=True, layout=w.Layout(width="60%"))

    def _update(change=None):
        out.clear_output(wait=True)
        with out:
            render(box.value)

    box.observe(lambda ch: _update() if ch["name"] == "value" and ch["new"] in box.options else None, names="value")
    display(w.VBox([box, out]))
    _update()
