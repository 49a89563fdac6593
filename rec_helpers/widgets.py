"""Interactive views for the classroom, each with a static fallback.

In JupyterLab a view is an ipywidgets control. Headless (papermill, nbval, the HTML
report) no frontend can draw widgets, so the same view is rendered statically for a
default choice. ``$REC_SUITE_HEADLESS=1`` (set by ``rec-suite run`` and ``make test``) or
``interactive=False`` selects the static path.

Views (each takes a :class:`ClassroomInputs` or a notebook ``Context`` and returns a
:class:`View` that has already been displayed):

- :func:`user_explorer`: one user's source positives and every method's saved top 10, hits ✔;
- :func:`alpha_slider`: fusion's α → a user's top 10 and the cold_valid NDCG@10;
- :func:`feedback_loop`: like / dislike buttons that move the interest vector (SPEC §5);
- :func:`cold_start_simulator`: reveal k of a cold user's target positives, watch NDCG@10.

They only present: what they show is computed in :mod:`rec_helpers.simulation`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import scipy.sparse as sp
from IPython.display import HTML, Markdown, display

from .constants import COL_ITEM, COL_RANK, COL_TITLE, COL_USER
from .errors import DataValidationError
from .feedback import DEFAULT_ETA
from .simulation import (ALPHA_STEP, COLD_START_METHODS, ClassroomInputs, ColdStartSimulation, alpha_curve,
                         classroom_inputs, feedback_session, simulate_feedback, top_items, tuned_alpha)

ENV_HEADLESS = "REC_SUITE_HEADLESS"
HIT = "✔"
HIT_STYLE = "background-color: #d9f2d9"


def is_headless() -> bool:
    """True when no widget frontend is expected (papermill, nbval, CI)."""
    return os.environ.get(ENV_HEADLESS, "") not in ("", "0", "false")


def _interactive(interactive: bool | None) -> bool:
    return (not is_headless()) if interactive is None else bool(interactive)


def _choice_box(render: Callable[[object], None], options: Sequence, default, description: str):
    """A Combobox over ``options`` above an Output that shows ``render(value)``; returns the VBox."""
    import ipywidgets as w

    out = w.Output()
    box = w.Combobox(options=[str(o) for o in options], value=str(default), description=description,
                     ensure_option=True, layout=w.Layout(width="60%"))

    def _update(change=None):
        out.clear_output(wait=True)
        with out:
            render(box.value)

    box.observe(lambda ch: _update() if ch["name"] == "value" and ch["new"] in box.options else None, names="value")
    _update()
    return w.VBox([box, out])


def choice_view(render: Callable[[object], None], options: Sequence, default, description: str = "pick",
                interactive: bool | None = None) -> None:
    """Render ``render(default)`` statically, and in a live notebook a dropdown that re-renders on change."""
    if not _interactive(interactive):
        render(default)
        return
    display(_choice_box(render, options, default, description))


@dataclass(repr=False)
class View:
    """What a view showed: the live widget (None when static), its figures and tables.

    It is displayed when built; displaying it again (a notebook cell's last line) shows nothing.
    """

    widget: Any = None
    figures: dict = field(default_factory=dict)
    tables: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)

    def _ipython_display_(self) -> None:  # already displayed by the function that built it
        return None

    def __repr__(self) -> str:
        kind = "interactive" if self.widget is not None else "static"
        return f"View({kind}, figures={list(self.figures)}, tables={list(self.tables)})"


def _mark(titles: Sequence[str], hits: Sequence[bool]) -> list[str]:
    return [f"{HIT} {t}" if h else t for t, h in zip(titles, hits)]


def _style_hits(df: pd.DataFrame):
    """A Styler colouring cells that start with ✔ (plain frame when jinja2 is missing)."""
    try:
        return df.style.map(lambda v: HIT_STYLE if isinstance(v, str) and v.startswith(HIT) else "").format(precision=3)
    except Exception:  # pragma: no cover - styling is cosmetic
        return df


# --------------------------------------------------------------------------- user explorer
def explorer_table(ci: ClassroomInputs, user, k: int = 10, methods: Sequence[str] | None = None) -> pd.DataFrame:
    """Rank 1..k × method: each method's saved top-k titles for ``user``, hits marked ✔."""
    hidden = ci.hidden(user)
    cols = {}
    for m in (methods or list(ci.rankings)):
        r = ci.rankings[m]
        top = r[r[COL_USER] == user].nsmallest(k, COL_RANK)
        cols[m] = pd.Series(_mark([ci.title(i) for i in top[COL_ITEM]], [i in hidden for i in top[COL_ITEM]]),
                            index=top[COL_RANK].to_numpy())
    out = pd.DataFrame(cols).reindex(range(1, k + 1)).fillna("")
    out.index.name = COL_RANK
    return out


def explorer_hits(ci: ClassroomInputs, user, k: int = 10, methods: Sequence[str] | None = None) -> pd.DataFrame:
    """hits@k and NDCG@k of each method's saved ranking for one user (the project's metrics)."""
    from .metrics import ndcg_at_k

    truth = ci.truth[ci.truth[COL_USER] == user][[COL_USER, COL_ITEM]]
    rows = []
    for m in (methods or list(ci.rankings)):
        r = ci.rankings[m]
        mine = r[r[COL_USER] == user]
        top = mine.nsmallest(k, COL_RANK)
        hits = int(top[COL_ITEM].isin(truth[COL_ITEM]).sum())
        nd = ndcg_at_k(truth, mine, k=k) if len(truth) and len(mine) else float("nan")
        rows.append({"method": m, f"hits@{k}": hits, f"ndcg@{k}": round(float(nd), 4)})
    return pd.DataFrame(rows).set_index("method")


def user_explorer(inputs, methods: Sequence[str] | None = None, user=None, k: int = 10, n_recent: int = 10,
                  interactive: bool | None = None) -> View:
    """Pick a cold_test user → their recent source positives and each method's saved top-k, hits ✔.

    Rankings are the ones saved in the run folder (``pipeline.read_rankings``); ✔ marks an item of the
    user's hidden target positives. Ids are pseudonymised when ``report.pseudonymise`` is on.
    """
    from .explore import user_profile

    ci = classroom_inputs(inputs, methods)
    methods = [m for m in (methods or list(ci.rankings)) if m in ci.rankings]
    if not methods:
        raise DataValidationError("no saved rankings to explore; run pipeline.ensure_methods(ctx) first.")
    choices = ci.user_choices(ci.cold_users())
    view = View()
    user = ci.default_user() if user is None else user

    def render(shown) -> None:
        u = choices.get(str(shown), shown)
        hidden = ci.hidden(u)
        prof = user_profile(u, ci.source, ci.items, ci.threshold, n=n_recent)
        table = explorer_table(ci, u, k, methods)
        hits = explorer_hits(ci, u, k, methods)
        display(Markdown(f"**user {ci.display_id(u)}**: {len(prof)} most recent source positives shown; "
                         f"{len(hidden)} hidden target positives ({HIT} = recommended and in them)"))
        display(prof)
        display(_style_hits(table))
        fig = go.Figure(go.Bar(x=hits.index, y=hits[f"hits@{k}"], text=hits[f"ndcg@{k}"].map(lambda v: f"NDCG {v:.3f}"),
                               textposition="outside"))
        fig.update_layout(title=f"Hits in the top {k} for user {ci.display_id(u)}", yaxis_title=f"hits@{k}",
                          height=360, yaxis_range=[0, max(1, hits[f'hits@{k}'].max()) * 1.25])
        fig.show()
        view.tables.update(profile=prof, top=table, hits=hits)
        view.figures["hits"] = fig

    if _interactive(interactive):
        view.widget = _choice_box(render, list(choices), ci.display_id(user), "user")
        display(view.widget)
    else:
        render(user)
    return view


# --------------------------------------------------------------------------- α slider
def _at(curve: pd.Series, alpha: float) -> float:
    """The curve's value at the grid α nearest to ``alpha``."""
    return float(curve.iloc[int(np.abs(curve.index.to_numpy(dtype=float) - float(alpha)).argmin())])


def alpha_top(ci: ClassroomInputs, user, alpha: float, k: int = 10) -> pd.DataFrame:
    """One user's top-k under fusion with α = ``alpha``: rank, title, score, ✔ for hidden positives."""
    fusion, data = ci.models["fusion"], ci.data
    i = data.users_to_idx([user])
    scores = fusion.score_at(data, i, alpha)
    top = top_items(scores, data.target_seen[i], k)
    ids = data.target_item_ids[top]
    hidden = ci.hidden(user)
    return pd.DataFrame({COL_RANK: np.arange(1, len(top) + 1),
                         COL_TITLE: _mark([ci.title(t) for t in ids], [t in hidden for t in ids]),
                         "score": np.round(scores[0, top], 3), COL_ITEM: ids})


def _alpha_figure(curve: pd.Series, tuned: float, current: float | None = None) -> go.Figure:
    fig = go.Figure(go.Scatter(x=curve.index, y=curve.values, mode="lines+markers", name="cold_valid NDCG@10"))
    fig.add_vline(x=tuned, line_dash="dot", annotation_text=f"tuned α = {tuned:.2f}",
                  annotation_position="bottom right")
    if current is not None:
        fig.add_trace(go.Scatter(x=[current], y=[_at(curve, current)], mode="markers", name="slider",
                                 marker={"size": 16, "color": "crimson", "symbol": "diamond"}))
    fig.update_layout(title="Fusion: cold_valid NDCG@10 against α  (α = 1: source only, α = 0: target prior only)",
                      xaxis_title="α", yaxis_title=curve.name, height=380, showlegend=False)
    return fig


def alpha_slider(inputs, user=None, k: int = 10, step: float = ALPHA_STEP, interactive: bool | None = None) -> View:
    """A FloatSlider over α ∈ [0, 1] for fusion: a cold user's top-k and the cold_valid NDCG@10 at that α.

    The curve is computed once for every ``step`` (cached); a user's list is scored live. Static
    fallback: the curve and the top-k at α = 0, the tuned α and α = 1, side by side.
    """
    ci = classroom_inputs(inputs, ["fusion"])
    if "fusion" not in ci.models:
        raise DataValidationError("alpha_slider needs a fitted fusion method (pipeline.ensure_method(ctx, 'fusion')).")
    data = ci.data
    fusion = ci.models["fusion"]
    curve = alpha_curve(fusion, data, step, 10)
    tuned = tuned_alpha(fusion, data)
    tuned_r = float(np.round(round(tuned / step) * step, 2))
    user = ci.default_user() if user is None else user
    view = View(figures={}, tables={"curve": curve.to_frame()}, data={"tuned_alpha": tuned})

    if not _interactive(interactive):
        fig = _alpha_figure(curve, tuned)
        fig.show()
        alphas = list(dict.fromkeys((0.0, tuned, 1.0)))
        cols = {f"α = {a:.2f}" + (" (tuned)" if a == tuned else ""):
                pd.Series(alpha_top(ci, user, a, k)[COL_TITLE].to_numpy()) for a in alphas}
        table = pd.DataFrame(cols).fillna("")
        table.index = pd.RangeIndex(1, len(table) + 1, name=COL_RANK)
        display(Markdown(f"**user {ci.display_id(user)}**: top {k} at three values of α "
                         f"({HIT} = in their hidden target positives). cold_valid NDCG@10: "
                         + ", ".join(f"α={a:.2f}: {_at(curve, a):.4f}" for a in alphas)))
        display(_style_hits(table))
        view.figures["curve"] = fig
        view.tables["top"] = table
        return view

    import ipywidgets as w

    choices = ci.user_choices(ci.cold_users())
    slider = w.FloatSlider(value=tuned_r, min=0.0, max=1.0, step=step, description="α", readout_format=".2f",
                           continuous_update=False, layout=w.Layout(width="60%"))
    box = w.Combobox(options=list(choices), value=ci.display_id(user), description="user", ensure_option=True,
                     layout=w.Layout(width="60%"))
    out = w.Output()
    base_cache: dict = {}

    def render(change=None) -> None:
        a = float(round(slider.value, 2))
        u = choices.get(box.value)
        if u is None:
            return
        if u not in base_cache:
            base_cache[u] = alpha_top(ci, u, tuned, k)
        top = alpha_top(ci, u, a, k)
        base_rank = dict(zip(base_cache[u][COL_ITEM], base_cache[u][COL_RANK]))
        top["at tuned α"] = [("new" if it not in base_rank else
                              ("=" if base_rank[it] == r else f"{base_rank[it]} → {r}"))
                             for it, r in zip(top[COL_ITEM], top[COL_RANK])]
        out.clear_output(wait=True)
        with out:
            display(HTML(f"<b>α = {a:.2f}</b> → cold_valid NDCG@10 = <b>{_at(curve, a):.4f}</b> "
                         f"(tuned α = {tuned:.2f}: {_at(curve, tuned):.4f}). "
                         f"Top {k} of user {ci.display_id(u)}, {HIT} = in their hidden target positives:"))
            display(_style_hits(top.drop(columns=COL_ITEM).set_index(COL_RANK)))
            _alpha_figure(curve, tuned, a).show()
        view.tables["top"] = top

    slider.observe(render, names="value")
    box.observe(lambda ch: render() if ch["new"] in box.options else None, names="value")
    render()
    view.widget = w.VBox([w.HTML("Move α: 1 = trust the source interest only, 0 = the target prior only."),
                          slider, box, out])
    display(view.widget)
    return view


# --------------------------------------------------------------------------- feedback loop
def _marked_list(ci: ClassroomInputs, frame: pd.DataFrame, hidden: set) -> np.ndarray:
    return np.array(_mark(frame[COL_TITLE].tolist(), [i in hidden for i in frame[COL_ITEM]]), dtype=object)


def feedback_loop(inputs, user=None, eta: float | None = None, k: int = 10, interactive: bool | None = None) -> View:
    """Like / dislike buttons per recommended item: u_t ← normalise(u_t ± η·e_i), then rank again.

    The list is the top-k target items by cosine with u_t; the drift plot shows cos(u_t, start) and
    the ranks of the starting top-k items per step. Static fallback: a scripted user likes 3 of
    their hidden positives and dislikes 2 wrong items; before/after lists and the drift plot.
    """
    ci = classroom_inputs(inputs, ["fusion"])
    user = ci.default_user() if user is None else user
    view = View()

    if not _interactive(interactive):
        s = feedback_session(ci, user, eta, k)
        hidden = ci.hidden(user)
        before = s.recommend()
        simulate_feedback(s, hidden)
        after = s.recommend()
        rated = s.rated
        # a fair count: hidden positives in the top k among items the user has not rated yet
        before_unrated = [i for i in s.recommend_at(0, k + len(rated))[COL_ITEM] if i not in rated][:k]
        n_before, n_after = sum(i in hidden for i in before_unrated), sum(i in hidden for i in after[COL_ITEM])
        marks = {1: "▲ ", -1: "▼ "}
        table = pd.DataFrame({"before": [marks.get(rated.get(i), "") + t for i, t in
                                         zip(before[COL_ITEM], _marked_list(ci, before, hidden))],
                              "after": _marked_list(ci, after, hidden)},
                             index=pd.RangeIndex(1, len(before) + 1, name=COL_RANK))
        display(Markdown(f"**user {ci.display_id(user)}**, start α = {s.start_alpha:.2f}, η = {s.eta}: a scripted "
                         f"user likes the 3 best-ranked of their hidden positives (▲ when in the list), "
                         f"then dislikes 2 wrong items (▼). Hidden positives ({HIT}) in the top {k}, not counting rated items: "
                         f"**{n_before} before → {n_after} after**."))
        display(_style_hits(table))
        display(s.history.round(3))
        fig = s.drift_figure()
        fig.show()
        view.tables.update(lists=table, history=s.history)
        view.figures["drift"] = fig
        view.data.update(session=s, hits_before=n_before, hits_after=n_after)
        return view

    import ipywidgets as w

    choices = ci.user_choices(ci.cold_users())
    box = w.Combobox(options=list(choices), value=ci.display_id(user), description="user", ensure_option=True,
                     layout=w.Layout(width="60%"))
    eta_box = w.FloatSlider(value=DEFAULT_ETA if eta is None else eta, min=0.05, max=1.0, step=0.05, description="η",
                            continuous_update=False)
    reset = w.Button(description="reset", icon="undo")
    head, rows, out = w.HTML(), w.VBox(), w.Output()
    state: dict = {}

    def new_session(change=None) -> None:
        u = choices.get(box.value)
        if u is None:
            return
        state["user"], state["hidden"] = u, ci.hidden(u)
        state["session"] = feedback_session(ci, u, eta_box.value, k)
        view.data["session"] = state["session"]
        refresh()

    def act(item, like: bool) -> None:
        (state["session"].like if like else state["session"].dislike)(item)
        refresh()

    def refresh() -> None:
        s, hidden = state["session"], state["hidden"]
        rec = s.recommend()
        n_hit = sum(i in hidden for i in rec[COL_ITEM])
        head.value = (f"<b>user {ci.display_id(state['user'])}</b> · start α = {s.start_alpha:.2f} · η = {s.eta:.2f} · "
                      f"{len(s.history) - 1} feedback steps · hits in top {k}: {n_hit} ({HIT} = hidden positive)")
        children = []
        for _, r in rec.iterrows():
            it = r[COL_ITEM]
            up = w.Button(icon="thumbs-up", tooltip="like: u_t ← normalise(u_t + η·e_i)", button_style="success",
                          layout=w.Layout(width="40px"))
            down = w.Button(icon="thumbs-down", tooltip="dislike: u_t ← normalise(u_t − η·e_i)", button_style="danger",
                            layout=w.Layout(width="40px"))
            up.on_click(lambda _b, it=it: act(it, True))
            down.on_click(lambda _b, it=it: act(it, False))
            mark = f"{HIT} " if it in hidden else ""
            children.append(w.HBox([up, down, w.HTML(f"{r[COL_RANK]}. {mark}{r[COL_TITLE]} "
                                                     f"<span style='color:#888'>(cos {r['score']:.3f})</span>")]))
        rows.children = children
        out.clear_output(wait=True)
        with out:
            h = s.history
            display(h.round(3).tail(8))
            if len(h) > 1:
                s.drift_figure().show()

    box.observe(lambda ch: new_session() if ch["new"] in box.options else None, names="value")
    eta_box.observe(new_session, names="value")
    reset.on_click(lambda _b: new_session())
    new_session()
    view.widget = w.VBox([w.HBox([box, eta_box, reset]), head, rows, out])
    display(view.widget)
    return view


# --------------------------------------------------------------------------- cold-start simulator
def _simulation_figure(sim, mark_k: int | None = None, user=None) -> go.Figure:
    """Averaged NDCG@k against the number of revealed items (one line per method); with ``user``,
    that user's own curves as thin dashed lines in the same colours."""
    import plotly.express as px

    c = sim.curve()
    colours = dict(zip(c.columns, px.colors.qualitative.Plotly))
    fig = go.Figure()
    for m in c.columns:
        fig.add_trace(go.Scatter(x=c.index, y=c[m], mode="lines+markers", name=m, legendgroup=m,
                                 line={"color": colours[m],
                                       "dash": "solid" if "no target input" not in m else "dot"}))
    if user is not None:
        r = sim.run(progress=False)
        mine = r[r[COL_USER] == user]
        for m, g in mine.groupby("method", sort=False):
            fig.add_trace(go.Scatter(x=g["k"], y=g[f"ndcg@{sim.k}"], mode="lines", name=f"{m} (this user)",
                                     legendgroup=m, showlegend=False, opacity=0.5,
                                     line={"color": colours.get(m), "width": 1.5, "dash": "dash"}))
    if mark_k is not None:
        fig.add_vline(x=mark_k, line_dash="dot", annotation_text=f"k = {mark_k}")
    fig.update_layout(title=f"Cold start: NDCG@{sim.k} on the remaining hidden positives, "
                            f"mean of {len(sim.users)} cold_test users"
                            + (" (thin dashed: the selected user)" if user is not None else ""),
                      xaxis_title="target positives revealed (k, earliest first)", yaxis_title=f"NDCG@{sim.k}",
                      height=420, xaxis={"dtick": 1})
    return fig


def _simulation_lists(sim, user, k: int, n: int = 10) -> pd.DataFrame:
    """One user's top-n per method at k revealed, ✔ = a remaining hidden positive."""
    cols = {}
    rest = set(sim.order[user][k:])
    for m in sim.methods:
        s, _ = sim.scores([user], k, m)
        top = top_items(s[0], sp.csr_matrix((1, s.shape[1])), n)
        ids = sim.data.target_item_ids[top]
        cols[sim.label(m)] = pd.Series(_mark([sim.ci.title(i) for i in ids], [i in rest for i in ids]))
    out = pd.DataFrame(cols)
    out.index = pd.RangeIndex(1, len(out) + 1, name=COL_RANK)
    return out.fillna("")


def cold_start_simulator(inputs, methods: Sequence[str] = COLD_START_METHODS, n_users: int = 100, max_k: int = 10,
                         eta: float = DEFAULT_ETA, interactive: bool | None = None) -> View:
    """Reveal k = 0…``max_k`` hidden target positives of ~``n_users`` cold_test users and plot each method's
    NDCG@10 on the remaining ones (see :class:`ColdStartSimulation` for how each method uses them).

    Widget: an IntSlider for k and a user picker (revealed items, per-method lists); static fallback:
    the averaged curve and its table.
    """
    ci = classroom_inputs(inputs, [m for m in methods if m != "zero_shot"])
    sim = ColdStartSimulation(ci, methods, n_users=n_users, max_k=max_k, eta=eta)
    sim.run()
    curve = sim.curve()
    view = View(tables={"curve": curve}, data={"simulation": sim})
    note = ("Methods marked *(no target input)* only see source behaviour or ids: they cannot use the revealed "
            "target items without refitting, so they only drop them from the list. Fusion and the adapter take "
            "them through u_t; zero-shot takes them as likes.")
    if not _interactive(interactive):
        fig = _simulation_figure(sim)
        fig.show()
        display(Markdown(note))
        display(curve.round(4).T)
        view.figures["curve"] = fig
        return view

    import ipywidgets as w

    choices = ci.user_choices(sim.users)
    slider = w.IntSlider(value=0, min=0, max=sim.max_k, step=1, description="k revealed", continuous_update=False)
    box = w.Combobox(options=list(choices), value=next(iter(choices)), description="user", ensure_option=True,
                     layout=w.Layout(width="60%"))
    out = w.Output()

    def render(change=None) -> None:
        u = choices.get(box.value)
        if u is None:
            return
        k = int(slider.value)
        r = sim.run(progress=False)
        mine = r[(r[COL_USER] == u) & (r["k"] == k)].set_index("method")[f"ndcg@{sim.k}"]
        out.clear_output(wait=True)
        with out:
            _simulation_figure(sim, mark_k=k, user=u).show()
            shown = [ci.title(i) for i in sim.order[u][:k]]
            display(Markdown(f"**user {ci.display_id(u)}**, {k} revealed: " + ("; ".join(shown) if shown else "none")
                             + f" · NDCG@{sim.k} on the rest: "
                             + ", ".join(f"{m} {v:.3f}" for m, v in mine.items())))
            display(_style_hits(_simulation_lists(sim, u, k)))
        view.tables["user"] = mine

    slider.observe(render, names="value")
    box.observe(lambda ch: render() if ch["new"] in box.options else None, names="value")
    render()
    view.widget = w.VBox([w.HTML(note.replace("*(no target input)*", "<i>(no target input)</i>")), slider, box, out])
    display(view.widget)
    return view
