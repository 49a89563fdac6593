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
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import scipy.sparse as sp
from IPython.display import HTML, Markdown, display

from .constants import COL_ITEM, COL_RANK, COL_RATING, COL_TIMESTAMP, COL_TITLE, COL_USER
from .errors import ConfigError, DataValidationError
from .feedback import DEFAULT_ETA
from .privacy import report_salt

ENV_HEADLESS = "REC_SUITE_HEADLESS"
HIT = "✔"
HIT_STYLE = "background-color: #d9f2d9"
ALPHA_STEP = 0.05


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


# --------------------------------------------------------------------------- inputs
@dataclass(repr=False)
class ClassroomInputs:
    """Everything the views read: the run's TransferData, frames, fitted methods and saved rankings.

    ``truth``: cold_test users' hidden target positives (``split.target_test``): used only to
    mark hits ✔ and to measure, never to rank. ``salt``: user ids are shown pseudonymised
    (salted hash, :mod:`rec_helpers.privacy`) when set.
    """

    data: Any                                   # rec_helpers.transfer.data.TransferData
    items: pd.DataFrame                         # item, title[, genres]
    source: pd.DataFrame                        # source interactions: user, item, rating, timestamp
    truth: pd.DataFrame                         # cold_test hidden target positives: user, item[, rating, timestamp]
    methods: dict = field(default_factory=dict)  # name -> fitted TransferMethod
    rankings: dict = field(default_factory=dict)  # name -> saved cold_test ranking frame
    threshold: float = 4.0
    salt: str | None = None
    seed: int = 42

    @classmethod
    def from_context(cls, ctx, methods: Sequence[str] | None = None, progress: bool = False) -> "ClassroomInputs":
        """Inputs of a run folder. ``methods``: fitted (or reloaded) with ``pipeline.ensure_method``;
        default: the configured methods whose rankings are already saved."""
        from . import pipeline

        cfg = ctx.config
        if methods is None:
            methods = [m for m in cfg["transfer"]["methods"] if ctx.run.has(f"rankings/{m}.parquet")]
        cache = ctx.cache.setdefault("classroom_methods", {})
        for m in methods:
            if m not in cache:
                cache[m] = pipeline.ensure_method(ctx, m, progress=progress)
        split = pipeline.ensure_split(ctx)
        return cls(data=pipeline.transfer_data(ctx), items=split.items, source=split.source, truth=split.target_test,
                   methods={m: cache[m] for m in methods}, rankings=pipeline.read_rankings(ctx.run, list(methods)),
                   threshold=float(cfg["data"]["positive_threshold"]),
                   salt=report_salt(cfg), seed=int(cfg["seed"]))

    # helpers ---------------------------------------------------------------------
    @property
    def titles(self) -> dict:
        if "_titles" not in self.__dict__:
            self.__dict__["_titles"] = dict(zip(self.items[COL_ITEM], self.items[COL_TITLE]))
        return self.__dict__["_titles"]

    def title(self, item) -> str:
        return str(self.titles.get(item, item))

    def display_id(self, user) -> str:
        """The id shown on screen: the salted pseudonym when ``salt`` is set."""
        if self.salt is None:
            return str(user)
        from .privacy import pseudonymise

        return str(pseudonymise([user], self.salt)[0])

    def hidden(self, user) -> set:
        """The user's hidden target positives (for ✔ marks and measuring only)."""
        return set(self.truth.loc[self.truth[COL_USER] == user, COL_ITEM])

    def cold_users(self) -> list:
        """cold_test users with hidden positives, in data order."""
        have = set(self.truth[COL_USER])
        return [u for u in self.data.user_ids[self.data.cold_test_idx] if u in have]

    def default_user(self, min_hidden: int = 10):
        """A seeded pick among cold_test users with ≥ ``min_hidden`` hidden positives (any cold user if none)."""
        users = self.cold_users()
        if not users:
            raise DataValidationError("no cold_test user with hidden target positives to show.")
        counts = self.truth.groupby(COL_USER).size()
        rich = [u for u in users if counts.get(u, 0) >= min_hidden] or users
        return rich[int(np.random.default_rng(self.seed).integers(len(rich)))]

    def user_choices(self, users: Sequence) -> dict[str, Any]:
        """Shown id → real id (the dropdown shows pseudonyms when ``salt`` is set)."""
        return {self.display_id(u): u for u in users}


def _resolve(inputs, methods: Sequence[str] | None = None) -> ClassroomInputs:
    if isinstance(inputs, ClassroomInputs):
        return inputs
    if hasattr(inputs, "config") and hasattr(inputs, "run"):  # a pipeline.Context
        return ClassroomInputs.from_context(inputs, methods)
    raise ConfigError(f"expected ClassroomInputs or a notebook Context, got {type(inputs).__name__}.")


def _mark(titles: Sequence[str], hits: Sequence[bool]) -> list[str]:
    return [f"{HIT} {t}" if h else t for t, h in zip(titles, hits)]


def _style_hits(df: pd.DataFrame):
    """A Styler colouring cells that start with ✔ (plain frame when jinja2 is missing)."""
    try:
        return df.style.map(lambda v: HIT_STYLE if isinstance(v, str) and v.startswith(HIT) else "").format(precision=3)
    except Exception:  # pragma: no cover - styling is cosmetic
        return df


def _top_items(scores: np.ndarray, seen_row, k: int) -> np.ndarray:
    from .transfer.ranking import mask_seen, top_k

    s = mask_seen(scores[None, :] if scores.ndim == 1 else scores, seen_row)
    top = top_k(s, k)[0]
    return top[np.isfinite(s[0, top])]


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

    ci = _resolve(inputs, methods)
    methods = [m for m in (methods or list(ci.rankings)) if m in ci.rankings]
    if not methods:
        raise DataValidationError("no saved rankings to explore; run pipeline.ensure_rankings(ctx) first.")
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
def alpha_grid(step: float = ALPHA_STEP) -> np.ndarray:
    """α values 0, step, …, 1 (rounded to 2 decimals)."""
    if not 0 < step <= 1:
        raise ConfigError(f"step={step!r} must be in (0, 1], e.g. 0.05.")
    n = int(round(1.0 / step))
    return np.round(np.linspace(0.0, 1.0, n + 1), 2)


def alpha_curve(fusion, data, step: float = ALPHA_STEP, k: int = 10, progress: bool = True) -> pd.Series:
    """cold_valid NDCG@k (full catalogue, seen items excluded) at every α of :func:`alpha_grid`.

    Uses :meth:`Fusion.score_at` and the NDCG the tuner uses, so at the tuned α it matches
    ``history_["alpha_curve"]``.
    """
    from tqdm.auto import tqdm

    from .transfer.ranking import mask_seen, ndcg_at_k

    idx = data.cold_valid_idx
    rel, seen = data.X_target_valid[idx], data.target_seen[idx]
    grid = alpha_grid(step)
    values = [ndcg_at_k(mask_seen(fusion.score_at(data, idx, a), seen), rel, k)
              for a in tqdm(grid, desc="α curve", disable=not progress, leave=False)]
    return pd.Series(values, index=pd.Index([round(float(a), 2) for a in grid], name="alpha"),
                     name=f"cold_valid ndcg@{k}")


def _at(curve: pd.Series, alpha: float) -> float:
    """The curve's value at the grid α nearest to ``alpha``."""
    return float(curve.iloc[int(np.abs(curve.index.to_numpy(dtype=float) - float(alpha)).argmin())])


def _tuned_alpha(fusion, data) -> float:
    a = fusion.alpha_
    if a is None:  # learned gate: the mean α of cold_valid users
        a = float(np.mean(fusion.alpha_values(data, data.cold_valid_idx)))
    return float(a)


def alpha_top(ci: ClassroomInputs, user, alpha: float, k: int = 10) -> pd.DataFrame:
    """One user's top-k under fusion with α = ``alpha``: rank, title, score, ✔ for hidden positives."""
    fusion, data = ci.methods["fusion"], ci.data
    i = data.users_to_idx([user])
    scores = fusion.score_at(data, i, alpha)
    top = _top_items(scores, data.target_seen[i], k)
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
    ci = _resolve(inputs, ["fusion"])
    if "fusion" not in ci.methods:
        raise DataValidationError("alpha_slider needs a fitted fusion method (pipeline.ensure_method(ctx, 'fusion')).")
    data = ci.data
    fusion = ci.methods["fusion"]
    curve = alpha_curve(fusion, data, step, 10)
    tuned = _tuned_alpha(fusion, data)
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
def feedback_session(inputs, user, eta: float | None = None, k: int = 10):
    """A :class:`~rec_helpers.feedback.FeedbackSession` for ``user`` starting from the transferred vector.

    Start: normalise(α·u_s + (1−α)·ū_t) in BERT space, ū_t = the user's own u_t when they have target
    training positives, else the warm prior (what fusion uses for cold users); α = the fitted fusion's
    α (its gate's α in "learned" mode), α = 1 (zero-shot u_s) without a fitted fusion.
    """
    from .feedback import DEFAULT_ETA, FeedbackSession, start_vector

    ci = _resolve(inputs, ["fusion"])
    data = ci.data
    i = int(data.users_to_idx([user])[0])
    u_t = data.U_t[i] if np.any(data.U_t[i]) else data.target_prior()
    fusion = ci.methods.get("fusion")
    if fusion is not None:
        alpha = fusion.alpha_ if fusion.alpha_ is not None else float(fusion.alpha_values(data, np.array([i]))[0])
    else:
        alpha = 1.0
    seen = data.target_item_ids[data.target_seen[i].indices]
    s = FeedbackSession(data.E_target, data.target_item_ids, start_vector(data.U_s[i], u_t, alpha),
                        eta=DEFAULT_ETA if eta is None else eta, exclude=seen, titles=ci.titles, k=k)
    s.start_alpha = float(alpha)
    return s


def simulate_feedback(session, hidden: set, n_likes: int = 3, n_dislikes: int = 2) -> None:
    """Like the ``n_likes`` best-ranked hidden positives (one at a time), then dislike the top-ranked
    non-positive of the list ``n_dislikes`` times: a scripted user for the static view."""
    for _ in range(n_likes):
        ranks = session.ranks()
        cand = [h for h in hidden if h in session.index and h not in session.rated
                and not session.excluded[session.index[h]]]
        if not cand:
            break
        session.like(min(cand, key=lambda h: (ranks[session.index[h]], str(h))))
    for _ in range(n_dislikes):
        wrong = [it for it in session.recommend()[COL_ITEM] if it not in hidden]
        if not wrong:
            break
        session.dislike(wrong[0])


def _marked_list(ci: ClassroomInputs, frame: pd.DataFrame, hidden: set) -> np.ndarray:
    return np.array(_mark(frame[COL_TITLE].tolist(), [i in hidden for i in frame[COL_ITEM]]), dtype=object)


def feedback_loop(inputs, user=None, eta: float | None = None, k: int = 10, interactive: bool | None = None) -> View:
    """Like / dislike buttons per recommended item: u_t ← normalise(u_t ± η·e_i), then rank again.

    The list is the top-k target items by cosine with u_t; the drift plot shows cos(u_t, start) and
    the ranks of the starting top-k items per step. Static fallback: a scripted user likes 3 of
    their hidden positives and dislikes 2 wrong items; before/after lists and the drift plot.
    """
    ci = _resolve(inputs, ["fusion"])
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
def ndcg_per_user(scores: np.ndarray, relevant: sp.csr_matrix, k: int = 10) -> np.ndarray:
    """NDCG@k per row (binary gain, log2 discount; NaN for rows without relevant items).

    Same definition as :func:`rec_helpers.transfer.ranking.ndcg_at_k`, whose value is the nan-mean of this.
    """
    from .transfer.ranking import top_k

    rel = sp.csr_matrix(relevant)
    n_rel = np.asarray(rel.sum(axis=1)).ravel()
    out = np.full(len(n_rel), np.nan)
    keep = n_rel > 0
    if not keep.any():
        return out
    top = top_k(scores[keep], k)
    hits = np.take_along_axis(rel[np.flatnonzero(keep)].toarray(), top, axis=1) > 0
    disc = 1.0 / np.log2(np.arange(2, top.shape[1] + 2))
    idcg = np.cumsum(disc)[np.minimum(n_rel[keep], top.shape[1]).astype(int) - 1]
    out[keep] = (hits * disc).sum(axis=1) / idcg
    return out


COLD_START_METHODS = ("fusion", "adapter", "zero_shot", "pop")


class ColdStartSimulation:
    """Reveal k = 0…``max_k`` of each sampled cold_test user's hidden target positives (earliest first)
    and measure NDCG@10 of each method on the REMAINING hidden positives.

    How each method uses the revealed items:
    - fusion / adapter (``InterestMethod``): as their u_t input, the weighted mean of the revealed items'
      BERT vectors (``interest.mean_interest_vectors``), with the revealed items counted as target
      training positives (the learned gates see the history length); no refitting;
    - ``zero_shot`` → "zero_shot + likes": start from u_s and apply the feedback update
      u ← normalise(u + η·e_i) for each revealed item, score by cosine (k = 0 is plain zero-shot);
    - every other method (Pop, CD-ridge, EMCDR, VAE: inputs are source behaviour or ids only) cannot
      use target items without refitting: its scores stay, only the revealed items are excluded.
    Revealed items are always excluded from the ranking.
    """

    def __init__(self, ci: ClassroomInputs, methods: Sequence[str] = COLD_START_METHODS, n_users: int = 100,
                 max_k: int = 10, k: int = 10, eta: float = DEFAULT_ETA, seed: int | None = None) -> None:
        from .transfer.two_tower import InterestMethod

        self.ci, self.data = ci, ci.data
        self.max_k, self.k, self.eta = int(max_k), int(k), float(eta)
        if self.max_k < 0:
            raise ConfigError(f"max_k={max_k!r} must be ≥ 0.")
        self.methods = [m for m in methods if m in ci.methods or m == "zero_shot"]
        if not self.methods:
            raise DataValidationError(f"none of {list(methods)} is fitted; fit them first (pipeline.ensure_method).")
        self.uses_target = {m: m == "zero_shot" or isinstance(ci.methods.get(m), InterestMethod) for m in self.methods}
        data = self.data
        truth = ci.truth[ci.truth[COL_ITEM].isin(list(data.target_item_index))]
        truth = truth[truth[COL_USER].isin(set(data.user_ids[data.cold_test_idx]))]
        sort_cols = [c for c in (COL_TIMESTAMP, COL_ITEM) if c in truth.columns]
        truth = truth.sort_values([COL_USER] + sort_cols, kind="stable")
        order = {u: g[COL_ITEM].tolist() for u, g in truth.groupby(COL_USER, sort=False)}
        rating = (truth.set_index([COL_USER, COL_ITEM])[COL_RATING] if COL_RATING in truth.columns else None)
        eligible = [u for u in data.user_ids[data.cold_test_idx] if len(order.get(u, ())) > self.max_k]
        if not eligible:
            raise DataValidationError(f"no cold_test user has more than max_k={self.max_k} hidden positives; "
                                      "lower max_k.")
        rng = np.random.default_rng(ci.seed if seed is None else seed)
        pick = rng.choice(len(eligible), size=min(int(n_users), len(eligible)), replace=False)
        self.users = [eligible[j] for j in sorted(pick)]
        self.order = {u: order[u] for u in self.users}
        self._rating = rating
        self.result: pd.DataFrame | None = None

    def label(self, m: str) -> str:
        if m == "zero_shot":
            return f"zero_shot + likes (η={self.eta:g})"
        return m if self.uses_target[m] else f"{m} (no target input)"

    # -------------------------------------------------------------- one step
    def _revealed(self, users: Sequence, k: int) -> pd.DataFrame:
        rows = [(u, it) for u in users for it in self.order[u][:k]]
        df = pd.DataFrame(rows, columns=[COL_USER, COL_ITEM])
        if self._rating is not None and len(df):
            df[COL_RATING] = self._rating.reindex(pd.MultiIndex.from_frame(df)).to_numpy(dtype=float)
        else:
            df[COL_RATING] = self.ci.threshold
        return df

    def _data_at(self, users: Sequence, k: int):
        """TransferData with the first k hidden positives of ``users`` revealed as target training data."""
        from .interest import mean_interest_vectors

        data = self.data
        if k == 0:
            return data
        rev = self._revealed(users, k)
        rows = data.users_to_idx(rev[COL_USER])
        cols = np.array([data.target_item_index[i] for i in rev[COL_ITEM]], dtype=np.int64)
        R = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(data.n_users, data.n_target))
        U_t = data.U_t.copy()
        idx = data.users_to_idx(users)
        U_t[idx] = mean_interest_vectors(rev, data.target_item_ids, data.E_target, list(users),
                                         positive_threshold=min(self.ci.threshold, float(rev[COL_RATING].min())))
        def plus(a):
            m = (sp.csr_matrix(a) + R).tocsr()
            m.data[:] = 1.0
            return m

        return dataclasses.replace(data, U_t=U_t, X_target_train=plus(data.X_target_train),
                                   target_seen=plus(data.target_seen))

    def scores(self, users: Sequence, k: int, method: str) -> tuple[np.ndarray, sp.csr_matrix]:
        """(scores with seen and revealed items at -inf, remaining-positives matrix) for ``users`` at k."""
        from .transfer.ranking import mask_seen

        data, dk = self.data, self._data_at(users, k)
        idx = data.users_to_idx(users)
        if method == "zero_shot":
            u = data.U_s[idx].astype(np.float64)
            u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
            E = data.E_target.astype(np.float64)
            E = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
            for j in range(k):
                step = np.stack([E[data.target_item_index[self.order[usr][j]]] for usr in users])
                u = u + self.eta * step
                u /= np.linalg.norm(u, axis=1, keepdims=True)
            s = u @ E.T
        else:
            m = self.ci.methods[method]
            s = m.score(dk if self.uses_target[method] else data, idx)
        s = mask_seen(s, dk.target_seen[idx])
        rem_rows, rem_cols = [], []
        for r, usr in enumerate(users):
            rest = self.order[usr][k:]
            rem_rows += [r] * len(rest)
            rem_cols += [data.target_item_index[i] for i in rest]
        rel = sp.csr_matrix((np.ones(len(rem_rows), np.float32), (rem_rows, rem_cols)),
                            shape=(len(users), data.n_target))
        return s, rel

    def run(self, progress: bool = True) -> pd.DataFrame:
        """Per user, method and k: NDCG@k on the remaining hidden positives (long frame, cached)."""
        from tqdm.auto import tqdm

        if self.result is not None:
            return self.result
        rows = []
        for k in tqdm(range(self.max_k + 1), desc="reveal k", disable=not progress, leave=False):
            for m in self.methods:
                s, rel = self.scores(self.users, k, m)
                vals = ndcg_per_user(s, rel, self.k)
                rows.append(pd.DataFrame({"method": self.label(m), "k": k, COL_USER: self.users,
                                          f"ndcg@{self.k}": vals}))
        self.result = pd.concat(rows, ignore_index=True)
        return self.result

    def curve(self) -> pd.DataFrame:
        """Mean NDCG@k over the sampled users: rows k, columns methods."""
        r = self.run(progress=False)
        return r.pivot_table(index="k", columns="method", values=f"ndcg@{self.k}", aggfunc="mean", sort=False)

    def figure(self, mark_k: int | None = None, user=None) -> go.Figure:
        """Averaged NDCG@k against the number of revealed items (one line per method); with ``user``,
        that user's own curves as thin dashed lines in the same colours."""
        import plotly.express as px

        c = self.curve()
        colours = dict(zip(c.columns, px.colors.qualitative.Plotly))
        fig = go.Figure()
        for m in c.columns:
            fig.add_trace(go.Scatter(x=c.index, y=c[m], mode="lines+markers", name=m, legendgroup=m,
                                     line={"color": colours[m],
                                           "dash": "solid" if "no target input" not in m else "dot"}))
        if user is not None:
            r = self.run(progress=False)
            mine = r[r[COL_USER] == user]
            for m, g in mine.groupby("method", sort=False):
                fig.add_trace(go.Scatter(x=g["k"], y=g[f"ndcg@{self.k}"], mode="lines", name=f"{m} (this user)",
                                         legendgroup=m, showlegend=False, opacity=0.5,
                                         line={"color": colours.get(m), "width": 1.5, "dash": "dash"}))
        if mark_k is not None:
            fig.add_vline(x=mark_k, line_dash="dot", annotation_text=f"k = {mark_k}")
        fig.update_layout(title=f"Cold start: NDCG@{self.k} on the remaining hidden positives, "
                                f"mean of {len(self.users)} cold_test users"
                                + (" (thin dashed: the selected user)" if user is not None else ""),
                          xaxis_title="target positives revealed (k, earliest first)", yaxis_title=f"NDCG@{self.k}",
                          height=420, xaxis={"dtick": 1})
        return fig

    def user_lists(self, user, k: int, n: int = 10) -> pd.DataFrame:
        """One user's top-n per method at k revealed, ✔ = a remaining hidden positive."""
        cols = {}
        rest = set(self.order[user][k:])
        for m in self.methods:
            s, _ = self.scores([user], k, m)
            top = _top_items(s[0], sp.csr_matrix((1, s.shape[1])), n)
            ids = self.data.target_item_ids[top]
            cols[self.label(m)] = pd.Series(_mark([self.ci.title(i) for i in ids], [i in rest for i in ids]))
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
    ci = _resolve(inputs, [m for m in methods if m != "zero_shot"])
    sim = ColdStartSimulation(ci, methods, n_users=n_users, max_k=max_k, eta=eta)
    sim.run()
    curve = sim.curve()
    view = View(tables={"curve": curve}, data={"simulation": sim})
    note = ("Methods marked *(no target input)* only see source behaviour or ids: they cannot use the revealed "
            "target items without refitting, so they only drop them from the list. Fusion and the adapter take "
            "them through u_t; zero-shot takes them as likes.")
    if not _interactive(interactive):
        fig = sim.figure()
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
            sim.figure(mark_k=k, user=u).show()
            shown = [ci.title(i) for i in sim.order[u][:k]]
            display(Markdown(f"**user {ci.display_id(u)}**, {k} revealed: " + ("; ".join(shown) if shown else "none")
                             + f" · NDCG@{sim.k} on the rest: "
                             + ", ".join(f"{m} {v:.3f}" for m, v in mine.items())))
            display(_style_hits(sim.user_lists(u, k)))
        view.tables["user"] = mine

    slider.observe(render, names="value")
    box.observe(lambda ch: render() if ch["new"] in box.options else None, names="value")
    render()
    view.widget = w.VBox([w.HTML(note.replace("*(no target input)*", "<i>(no target input)</i>")), slider, box, out])
    display(view.widget)
    return view
