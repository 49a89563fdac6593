"""Look inside the vectors: nearest items, 2-D projections, one user's interest."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from .constants import COL_DOMAIN, COL_GENRES, COL_ITEM, COL_RATING, COL_TIMESTAMP, COL_TITLE, COL_USER, GENRE_SEP
from .errors import DataValidationError


def nearest_items(query: np.ndarray, vectors: np.ndarray, items: pd.DataFrame, k: int = 10,
                  mask: np.ndarray | None = None, exclude: Sequence[int] = ()) -> pd.DataFrame:
    """The ``k`` items whose vectors have the highest cosine with ``query`` (rows: unit vectors).

    ``mask`` keeps only some rows (e.g. one domain); ``exclude`` drops row positions (e.g. the query item).
    """
    sims = vectors @ np.asarray(query, dtype=vectors.dtype)
    allowed = np.ones(len(vectors), bool) if mask is None else np.asarray(mask, bool).copy()
    allowed[list(exclude)] = False
    sims = np.where(allowed, sims, -np.inf)
    k = min(k, int(allowed.sum()))
    top = np.argpartition(-sims, k - 1)[:k] if k else np.array([], int)
    top = top[np.lexsort((top, -sims[top]))]
    out = items.iloc[top][[COL_ITEM, COL_TITLE, COL_DOMAIN, COL_GENRES]].copy()
    out.insert(0, "cosine", sims[top].round(3))
    return out.reset_index(drop=True)


def neighbours_both_domains(item: str, vectors: np.ndarray, items: pd.DataFrame, k: int = 10) -> dict[str, pd.DataFrame]:
    """A movie's ``k`` nearest movies in its own domain and in the other domain(s)."""
    pos = np.flatnonzero(items[COL_ITEM].to_numpy() == item)
    if not len(pos):
        raise DataValidationError(f"unknown item {item!r}; pick one from items['item']")
    i = int(pos[0])
    dom = items[COL_DOMAIN].to_numpy()
    same = dom == dom[i]
    return {"same domain": nearest_items(vectors[i], vectors, items, k, same, [i]),
            "other domain": nearest_items(vectors[i], vectors, items, k, ~same if (~same).any() else same, [i])}


def project_2d(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """2-D coordinates of the rows: PCA (SVD of the centred matrix) or UMAP when installed."""
    if method == "umap":
        try:
            import umap  # type: ignore
        except ImportError as e:
            raise DataValidationError("method='umap' needs the umap-learn package; use method='pca'") from e
        return umap.UMAP(n_components=2, random_state=seed).fit_transform(vectors)
    if method != "pca":
        raise DataValidationError(f"unknown projection {method!r}; use 'pca' or 'umap'")
    x = vectors - vectors.mean(0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    coords = u[:, :2] * s[:2]
    return coords * np.sign(coords[np.abs(coords).argmax(0), [0, 1]])  # fix the sign: deterministic


def projection_figure(coords: np.ndarray, items: pd.DataFrame, color: str = COL_DOMAIN, title: str = "") -> go.Figure:
    """Scatter of item coordinates, coloured by domain or by first genre, titles on hover."""
    df = items[[COL_TITLE, COL_DOMAIN, COL_GENRES]].copy()
    df["first genre"] = df[COL_GENRES].str.split(GENRE_SEP).str[0]
    df["x"], df["y"] = coords[:, 0], coords[:, 1]
    fig = px.scatter(df, x="x", y="y", color=color, hover_name=COL_TITLE, hover_data=[COL_GENRES],
                     title=title or f"Item vectors in 2-D, coloured by {color}", opacity=0.7,
                     render_mode="svg")  # SVG, not WebGL: the report's small plotly.js bundle draws it
    fig.update_traces(marker={"size": 5})
    return fig


def user_profile(user: str, interactions: pd.DataFrame, items: pd.DataFrame, threshold: float, n: int = 10) -> pd.DataFrame:
    """A user's ``n`` most recent positives in one domain, with titles."""
    mine = interactions[(interactions[COL_USER] == user) & (interactions[COL_RATING] >= threshold)]
    mine = mine.sort_values(COL_TIMESTAMP, ascending=False).head(n)
    return mine.merge(items[[COL_ITEM, COL_TITLE, COL_GENRES]], on=COL_ITEM)[[COL_TITLE, COL_GENRES, COL_RATING]]


def explain_recommendations(user: str, rankings: dict, items: pd.DataFrame, item_ids: np.ndarray, vectors: np.ndarray,
                            source: pd.DataFrame, truth: pd.DataFrame, threshold: float, n: int = 5,
                            n_because: int = 2) -> pd.DataFrame:
    """Each method's top ``n`` for one user, with hits marked and the user's source positives
    closest (BERT cosine) to each recommended item: which part of the source interest it came from."""
    row_of = {it: i for i, it in enumerate(item_ids)}
    title = items.set_index(COL_ITEM)[COL_TITLE]
    liked = source[(source[COL_USER] == user) & (source[COL_RATING] >= threshold)][COL_ITEM].to_numpy()
    liked_rows = np.array([row_of[i] for i in liked], dtype=int)
    relevant = set(truth.loc[truth[COL_USER] == user, COL_ITEM])
    out = []
    for method, df in rankings.items():
        top = df[df[COL_USER] == user].nsmallest(n, "rank")
        for _, r in top.iterrows():
            sims = vectors[liked_rows] @ vectors[row_of[r[COL_ITEM]]] if len(liked_rows) else np.array([])
            near = liked[np.argsort(-sims)[:n_because]] if len(sims) else []
            out.append({"method": method, "rank": int(r["rank"]), "recommended": title.get(r[COL_ITEM], r[COL_ITEM]),
                        "hit": "✔" if r[COL_ITEM] in relevant else "",
                        "because you liked": "; ".join(f"{title.get(i, i)} ({s:.2f})" for i, s in
                                                       zip(near, np.sort(sims)[::-1][:n_because]))})
    return pd.DataFrame(out)
