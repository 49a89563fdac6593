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
# # 00 · Quickstart: carry a user's interest from one domain to another
#
# **Learning goals.** In about five minutes of reading (the notebook itself runs in seconds on the smoke profile
# and in about a minute on ML-1M, on 2 CPU cores) you will
#
# 1. split MovieLens by genre into a **source** domain (action, thrillers, …) and a **target** domain
#    (comedy, drama, …), and hide the target history of **cold-start** users,
# 2. turn every movie into a vector with BERT,
# 3. carry one cold user's interest into the target domain three ways: **fusion**, an **adapter** and a **VAE**,
# 4. compare their top 5 for that user and a mini-leaderboard on all cold-start test users.
#
# Every step is one call to the same helpers the full notebooks use (`rec_helpers.pipeline`), and every result is
# saved in the run folder, so notebooks 01–08 reuse it instead of computing it again.

# %% [markdown]
# ## 1. Imports

# %%
import time

import numpy as np
import pandas as pd
import plotly.express as px
from IPython.display import Markdown, display

from rec_helpers import explore, metrics, pipeline, plots
from rec_helpers.privacy import pseudonymise, report_salt

plots.setup_notebook()
t_start = time.perf_counter()

# %% [markdown]
# ## 2. Parameters
#
# With `profile = "smoke"` (or `$REC_SUITE_PROFILE=smoke`) the data is ML-100K and everything runs in seconds.

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

# %% [markdown]
# ## 3. Load and split the data
#
# Positives are ratings ≥ 4. Movies whose genres are all in the source group form the source catalogue, those
# whose genres are all in the target group the target catalogue (movies in both are dropped). Users with enough
# positives on both sides are divided by a seed into **warm** (they train the models), **cold_valid** (for
# choosing hyper-parameters) and **cold_test** (for the final numbers): cold users' target history is hidden
# from every fitting step.

# %%
split = pipeline.ensure_split(ctx)
print(f"{len(split.items)} movies: " + ", ".join(f"{n} {d}" for d, n in split.items["domain"].value_counts().items()))
split.users["role"].value_counts().rename("users").to_frame().T

# %% [markdown]
# ## 4. Encode every movie with BERT
#
# Each movie becomes a text such as *"Toy Story (1995). Genres: Animation, Children's, Comedy."*, and
# $e_i = \text{pool}(\text{BERT}(\text{text}_i))$, L2-normalised. A user's interest in a domain, $u_d$, is the
# weighted mean of the vectors of the movies they liked there. The vectors are cached on disk, so the second run
# is instant.

# %%
emb = pipeline.ensure_embeddings(ctx)
print(f"{emb.item_vectors.shape[0]} item vectors of dimension {emb.item_vectors.shape[1]} "
      f"({'from the cache' if emb.info.get('cache_hit') else 'encoded now'}, model {emb.info['model']})")
split.items[["title", "domain", "text"]].head(3)

# %% [markdown]
# ## 5. One cold-start user
#
# We know what they liked in the source domain; their target history is hidden. (User ids are shown
# pseudonymised, a salted hash, when `report.pseudonymise` is on.)

# %%
threshold = cfg["data"]["positive_threshold"]
cold_users = np.sort(split.users.loc[split.users["role"] == "cold_test", "user"].to_numpy())
n_hidden = split.target_test.groupby("user").size()
user = next((u for u in np.random.default_rng(ctx.seed).permutation(cold_users) if n_hidden.get(u, 0) >= 10),
            cold_users[0])
salt = report_salt(cfg)
shown = pseudonymise([user], salt)[0] if salt else user
display(Markdown(f"**user {shown}**: most recent source positives ({n_hidden.get(user, 0)} target positives hidden)"))
explore.user_profile(user, split.source, split.items, threshold, n=8)

# %% [markdown]
# ## 6. Transfer the interest three ways
#
# - **Fusion**: $u'' = \alpha u_s + (1-\alpha)\bar u_t$, a blend of the source interest with the average target
#   interest ($\bar u_t$ stands in for the missing $u_t$), α chosen on cold_valid (notebook 04).
# - **Adapter**: $u' = \bar u_t + \theta \odot (A(u_s) - \bar u_t)$ with a small residual bottleneck $A$ that
#   moves source interest into the target space and a learned gate θ (notebook 03).
# - **VAE**: encode the user's source positives into a latent $z$ and decode a distribution over target movies
#   (notebook 05).
#
# Each is trained on warm users, early-stopped on cold_valid, and ranks the whole target catalogue for every
# cold_test user. **Pop** (target popularity) is the reference every method must beat. Each method that reads
# BERT vectors is also fitted on random vectors, its *text control* (`<method>__random`, notebook 06), and the
# trained fits run side by side, one per core (`transfer.n_jobs`).

# %%
models = pipeline.ensure_methods(ctx, ["pop", "fusion", "adapter", "vae"])
pd.Series({m: ctx.run.manifest["methods"][m]["fit_seconds"] for m in models}, name="fit seconds").round(1).to_frame().T

# %% [markdown]
# ## 7. Their top 5 for our user
#
# ✔ marks a movie that is in the user's hidden target positives. For fusion, "because you liked" names the user's
# source movie whose BERT vector is closest to each recommendation: where the transferred interest came from.

# %%
rankings = pipeline.read_rankings(ctx.run, list(models))
explained = explore.explain_recommendations(user, {m: rankings[m] for m in ("fusion", "adapter", "vae")}, split.items,
                                            emb.item_ids, emb.item_vectors, split.source, split.target_test,
                                            threshold, n=5, n_because=1)
display(explained.assign(recommended=np.where(explained["hit"] == "✔", "✔ " + explained["recommended"],
                                              explained["recommended"])).pivot(index="rank", columns="method",
                                                                               values="recommended"))
explained[explained["method"] == "fusion"].drop(columns="method").set_index("rank")

# %% [markdown]
# ## 8. Mini-leaderboard on every cold_test user
#
# NDCG@10 and Recall@10 (hits / number of hidden positives) over the full target catalogue, with the project's
# metrics. A `__random` row is the same method on random vectors: the gap to it is what the BERT text adds.
# Notebook 06 adds confidence intervals, significance tests and every baseline.

# %%
board = pd.DataFrame({m: {"ndcg@10": metrics.ndcg_at_k(split.target_test, r, k=10),
                          "recall@10": metrics.recall_at_k(split.target_test, r, k=10)} for m, r in rankings.items()}).T
board = board.sort_values("ndcg@10", ascending=False).round(4)
display(board)
px.bar(board.reset_index(names="method"), x="method", y="ndcg@10", color="method", text="ndcg@10",
       title=f"cold_test NDCG@10 ({split.target_test['user'].nunique()} users)").show()
print(f"quickstart done in {time.perf_counter() - t_start:.0f} s; run folder: {ctx.run.display_path}")

# %% [markdown]
# ## 9. Where to go next
#
# | notebook | what it adds |
# |---|---|
# | 01 preprocessing | the data, its cleaning and the split in detail |
# | 02 BERT encoding | item texts, pooling, the embedding cache, nearest neighbours across domains |
# | 03 adapter · 04 fusion · 05 VAE | each transfer method, its training curve and its knobs |
# | 06 evaluation | the full leaderboard with confidence intervals and paired tests |
# | 07 report | the analyst's report across runs |
# | 08 classroom | widgets: explore users, give feedback, simulate the cold start |

# %% [markdown]
# ## 10. What you should now understand
#
# - Cross-domain transfer carries a user's interest learned in one domain (source genres) into another (target
#   genres) for users whose target history is unknown.
# - BERT turns movies into vectors, so interests in both domains live in one space.
# - Fusion, the adapter and the VAE are three ways to carry the interest across; Pop is the bar to clear.
#
# **Further reading.** Zhu et al., *Cross-Domain Recommendation: Challenges, Progress, and Prospects* (IJCAI 2021);
# Reimers & Gurevych, *Sentence-BERT* (EMNLP 2019); Krichene & Rendle, *On Sampled Metrics for Item
# Recommendation* (KDD 2020).
