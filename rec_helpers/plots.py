"""plotly charts used by the notebooks (each returns a ``go.Figure``; the notebook shows it)."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio

from .constants import COL_DOMAIN, COL_RATING, COL_ROLE, COL_USER

TEMPLATE = "plotly_white"


def setup_notebook() -> None:
    """Show figures as plotly's mimetype (``application/vnd.plotly.v1+json``): the figure's JSON only.

    JupyterLab (and Notebook 7, VS Code) draw it with their plotly renderer, offline; the HTML
    report turns each figure into a ``Plotly.newPlot`` call with plotly.js loaded once per page
    from ``report/assets/`` (``rec_helpers.suite.plotly_outputs_to_html``). No output embeds
    plotly.js (4.8 MB) or asks a CDN for it.
    """
    pio.renderers.default = "plotly_mimetype"
    pio.templates.default = TEMPLATE


def ratings_per_domain(source: pd.DataFrame, target: pd.DataFrame) -> go.Figure:
    """Histogram of ratings in each domain."""
    df = pd.concat([source.assign(domain="source"), target.assign(domain="target")])
    counts = df.groupby([COL_DOMAIN, COL_RATING]).size().rename("count").reset_index()
    return px.bar(counts, x=COL_RATING, y="count", color=COL_DOMAIN, barmode="group",
                  title="Ratings per domain", labels={COL_RATING: "rating", "count": "interactions"})


def user_activity(source: pd.DataFrame, target: pd.DataFrame) -> go.Figure:
    """Distribution of interactions per user in each domain (log x)."""
    df = pd.concat([source.groupby(COL_USER).size().rename("n").to_frame().assign(domain="source"),
                    target.groupby(COL_USER).size().rename("n").to_frame().assign(domain="target")])
    fig = px.histogram(df, x="n", color=COL_DOMAIN, barmode="overlay", nbins=60, log_x=False,
                       title="Interactions per user", labels={"n": "interactions of one user"})
    fig.update_traces(opacity=0.6)
    return fig


def user_overlap(counts: dict) -> go.Figure:
    """Bar chart of users by where they have positives (source only, target only, both, roles)."""
    df = pd.DataFrame({"group": list(counts), "users": list(counts.values())})
    return px.bar(df, x="group", y="users", text="users", title="Users across domains")


def role_sizes(users: pd.DataFrame) -> go.Figure:
    """How the overlapping users are divided into warm, cold_valid and cold_test."""
    df = users[COL_ROLE].value_counts().rename_axis(COL_ROLE).rename("users").reset_index()
    return px.pie(df, names=COL_ROLE, values="users", title="User roles", hole=0.4)


def training_curves(history: dict, title: str = "") -> go.Figure:
    """Training loss and cold_valid NDCG@10 per epoch (two y axes), the chosen epoch marked."""
    from plotly.subplots import make_subplots

    loss, valid = history.get("loss", []), history.get("valid_ndcg@10", [])
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=list(range(1, len(loss) + 1)), y=loss, name="training loss", mode="lines+markers"),
                  secondary_y=False)
    if valid:
        fig.add_trace(go.Scatter(x=list(range(1, len(valid) + 1)), y=valid, name="cold_valid NDCG@10",
                                 mode="lines+markers"), secondary_y=True)
    if history.get("best_epoch"):
        fig.add_vline(x=history["best_epoch"], line_dash="dot", annotation_text="kept (early stopping)")
    fig.update_layout(title=title or "Training curve", xaxis_title="epoch")
    fig.update_yaxes(title_text="loss", secondary_y=False)
    fig.update_yaxes(title_text="NDCG@10 (cold_valid)", secondary_y=True)
    return fig


def curve(x: list, y: list, title: str, x_title: str, y_title: str, mark_x=None) -> go.Figure:
    """A single line (e.g. cold_valid NDCG@10 against α), optionally marking one x."""
    fig = px.line(x=x, y=y, markers=True, title=title, labels={"x": x_title, "y": y_title})
    if mark_x is not None:
        fig.add_vline(x=mark_x, line_dash="dot", annotation_text=f"chosen: {mark_x}")
    return fig
