"""plotly charts used by the notebooks (each returns a ``go.Figure``; the notebook shows it)."""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio

from .constants import COL_DOMAIN, COL_ITEM, COL_RATING, COL_ROLE, COL_USER

TEMPLATE = "plotly_white"


def setup_notebook() -> None:
    """Render plotly in JupyterLab (mimetype) and in exported HTML (embedded plotly.js, works offline)."""
    pio.renderers.default = "plotly_mimetype+notebook"
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
