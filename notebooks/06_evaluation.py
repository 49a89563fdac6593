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
# # 06 · Evaluation: does transferred interest help cold-start users?
#
# **Learning goals.** After this notebook you can
#
# 1. evaluate rankings over the **full** target catalogue (training items excluded, no sampled negatives),
# 2. read Precision, Recall, F1, HR, NDCG, MRR and MAP at K, with 95% bootstrap confidence intervals over users,
# 3. tell a real difference between two methods from noise with a paired bootstrap and Holm's correction,
# 4. see where transfer helps (by source-history length and item popularity) and where it does not.
#
# The headline population is **cold_test**: users whose target history was hidden from every fitting step.

# %% [markdown]
# ## 1. Imports

# %%
import json

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from rec_helpers import explore, leaderboard, pipeline, plots, scenarios
from rec_helpers.evaluation import evaluate_methods, history_size_buckets, popularity_buckets, restrict_to_buckets
from rec_helpers.privacy import pseudonymise, report_salt

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

# %% [markdown]
# ## 3. Rankings of every method
#
# The transfer notebooks (03–05) fitted fusion, the adapter and the VAE; the baselines (Pop, zero-shot BERT,
# EMCDR, CD-ridge) are fitted here if they are not in the run folder yet. Each method ranks the whole target
# catalogue for every cold_test user and keeps the top 100.

# %%
models = pipeline.ensure_methods(ctx)
split, emb = pipeline.ensure_split(ctx), pipeline.ensure_embeddings(ctx)
pd.Series({m: ctx.run.manifest["methods"][m]["fit_seconds"] for m in models}, name="fit seconds").round(2).to_frame().T

# %% [markdown]
# ## 4. Metrics
#
# For a user with relevant (hidden) target positives $R$ and a ranked list $L$, with $\mathrm{hit}_r = 1$ if the
# item at rank $r$ is in $R$:
#
# | metric | at K |
# |---|---|
# | Precision | $\frac{1}{K}\sum_{r \le K} \mathrm{hit}_r$ |
# | Recall | $\frac{1}{\lvert R\rvert}\sum_{r \le K} \mathrm{hit}_r$ (hits over all relevant items, so it can stay below 1 at small K) |
# | HR | $\mathbb{1}[\sum_{r\le K} \mathrm{hit}_r > 0]$ |
# | NDCG | $\frac{\sum_{r\le K} \mathrm{hit}_r / \log_2(r+1)}{\sum_{r \le \min(K, \lvert R\rvert)} 1/\log_2(r+1)}$ |
# | MRR | $1/r_{\text{first hit}}$ within K |
# | MAP | $\frac{1}{\min(K,\lvert R\rvert)}\sum_{r\le K} \mathrm{hit}_r\,P@r$ |
#
# plus AUC over the full catalogue, catalogue coverage, novelty $-\log_2 p_i$ and intra-list diversity (1 − BERT
# cosine). Every mean comes with a 95% percentile-bootstrap CI over users.

# %%
results = pipeline.evaluate_run(ctx)
metrics = ctx.run.read_json("metrics.json")
print(f"metrics.json: {len(metrics['methods'])} methods, users: {metrics['n_users']}, "
      f"{metrics['n_resamples']} resamples, evaluated in {metrics['timings']['evaluation']:.2f} s")

# %% [markdown]
# ## 5. Leaderboard (cold_test)
#
# ★ marks the best method on NDCG@10; ≈ marks methods **not significantly different** from it (paired bootstrap
# over users, Holm-adjusted p ≥ 0.05).

# %%
cold = results["cold_test"]
leaderboard.leaderboard(cold, n_resamples=cfg["evaluation"]["n_resamples"], seed=ctx.seed)

# %%
leaderboard.bar_with_ci(cold, "ndcg@10", "cold_test NDCG@10 (95% CI)").show()
leaderboard.metric_vs_k(cold, "ndcg", "cold_test NDCG@K").show()
leaderboard.metric_vs_k(cold, "recall", "cold_test Recall@K").show()

# %% [markdown]
# Beyond accuracy: coverage of the catalogue, novelty and diversity of the top 10.

# %%
extra = [m for m in ("auc", "coverage@10", "novelty@10", "ild@10") if m in next(iter(cold["metrics"].values()))]
pd.DataFrame({m: {x: cold["metrics"][m][x]["mean"] for x in extra} for m in cold["metrics"]}).T.round(4)

# %% [markdown]
# ### Secondary: warm users (their latest 20% target positives)

# %%
leaderboard.leaderboard(results["warm"], n_resamples=cfg["evaluation"]["n_resamples"], seed=ctx.seed)

# %% [markdown]
# ## 6. Where does transfer help?
#
# **By source-history length.** Users with a longer source history give the transfer more to work with.
# **By item popularity.** Relevant items split into head (top 20% by training popularity), torso and tail (bottom
# 50%); a method that only learns popularity fails on the tail.

# %%
buckets = history_size_buckets(split.source[split.source["rating"] >= cfg["data"]["positive_threshold"]],
                               users=cold["per_user"]["pop"].index, n_bins=3)
seg = leaderboard.segment_frame(cold, buckets, "ndcg@10", n_resamples=200, seed=ctx.seed)
leaderboard.segment_chart(seg, "cold_test NDCG@10 by source-history length").show()

# %%
data = pipeline.transfer_data(ctx)
pop_counts = pd.Series(np.asarray(data.X_target_train.sum(0)).ravel(), index=data.target_item_ids)
pb = popularity_buckets(pop_counts)
rankings = pipeline.read_rankings(ctx.run, list(models))
rows = []
for label in ("head", "torso", "tail"):
    truth = restrict_to_buckets(split.target_test, pb, label)
    r = evaluate_methods(truth, rankings, ks=(20,), n_resamples=200, seed=ctx.seed)
    rows += [{"segment": label, "method": m, "metric": "recall@20", "n_users": r["n_users"], **r["metrics"][m]["recall@20"]}
             for m in rankings]
leaderboard.segment_chart(pd.DataFrame(rows), "cold_test Recall@20 by popularity of the relevant items").show()

# %% [markdown]
# ## 7. Three users, explained
#
# For three cold_test users: their top source movies, each method's top 5 target movies (✔ = in their hidden
# target positives), and which of their source movies each recommendation is closest to by BERT similarity.
# User ids are pseudonymised (salted hash) when `report.pseudonymise` is on.

# %%
threshold = cfg["data"]["positive_threshold"]
rng = np.random.default_rng(ctx.seed)
cold_users = np.sort(split.users.loc[split.users["role"] == "cold_test", "user"].to_numpy())
examples = rng.choice(cold_users, size=min(3, len(cold_users)), replace=False)
show_methods = {m: rankings[m] for m in ("pop", "cd_ridge", "fusion", "adapter", "vae") if m in rankings}
for u in examples:
    shown = pseudonymise([u], salt)[0] if (salt := report_salt(cfg)) else u
    display(Markdown(f"**user {shown}**: recent source positives"))
    display(explore.user_profile(u, split.source, split.items, threshold, n=5))
    recs = explore.explain_recommendations(u, show_methods, split.items, emb.item_ids, emb.item_vectors,
                                           split.source, split.target_test, threshold, n=5)
    recs["recommended"] = recs["recommended"] + " " + recs["hit"]
    display(recs.pivot(index="rank", columns="method", values="recommended")[list(show_methods)])
    best = [m for m in ("vae", "fusion", "adapter") if m in show_methods][:1]
    if best:
        display(Markdown(f"why {best[0]} recommended these (closest liked source movies, BERT cosine):"))
        display(recs.loc[recs["method"] == best[0], ["rank", "recommended", "because you liked"]].set_index("rank"))

# %% [markdown]
# ## 8. New items: who can recommend a movie nobody has rated yet?
#
# 10% of the target items (a seeded sample of items with at least one positive) are removed from **all** training:
# the catalogue, every interaction and the warm users' interest vectors, as if they were added today. Every method
# is refitted without them, then ranks the full catalogue (old + new) for cold_test users. ID-only methods (Pop,
# CD-ridge and its variants, EMCDR, the kernel map) have nothing to score a new item with. Text-aware methods score it from its BERT vector: zero-shot
# by cosine, fusion and the adapter through the item tower (no ID embedding), the VAE through its text-aware decoder
# $W = P E_t$ (here the adapter and the VAE are fitted in that text-aware form, whatever the run's config says). A new
# item's bias $b_{\text{new}}$ (`evaluation.new_item_bias`) is by default **calibrated**: the
# mean or a quantile of the fitted item biases (one bias for every new item), or *mapped* (the item's ID embedding
# and bias predicted from its vector, $[v_{\text{new}}, b_{\text{new}}] = \hat e_{\text{new}} W + c$, a ridge fitted on
# the old items), whichever gives the best cold_valid recall@20 when as many *old*
# items are scored through the text path as if they were new (pseudo-new items, left out of the ridge; no real new
# item is looked at). Every cold_test user is evaluated on **all** hidden positives, old and new items
# alike: *ndcg@10* and *recall@20*. *new_recall@20*: hidden new positives found in the top 20 (users with a new
# item among their positives); *new_share@20*: slots of the top 20 given to new items; *shelf_recall@20*: recall
# when only the new items are ranked (a "new arrivals" shelf; random order gives 20 / number of new items).
# The *ceiling* is not a method: the best ID-only method refitted **with** the new items' interactions. Its
# recall@20 minus the same method's without them (the headroom) is what the new items' real interactions add to that
# model: how much there is for the text to find (a reference, not a bound: a text-aware method is another model).

# %%
if cfg["evaluation"].get("new_item_frac", 0.1):
    scen, scen_fig, scen_info = scenarios.new_item_scenario(ctx, frac=cfg["evaluation"]["new_item_frac"],
                                                            bias=cfg["evaluation"].get("new_item_bias", "mean"))
    print(f"{scen_info['n_new_items']} new items; {scen_info['users_evaluated']} cold_test users evaluated, "
          f"{scen_info['users_with_new_positives']} with a new item among their positives")
    display(scen.pivot(index="method", columns="metric", values="mean").round(4))
    vs = scen_info["text_vs_id"]
    if vs:
        print(f"best text-aware ({vs['text']}) vs best ID-only ({vs['id_only']}) on {vs['metric']}: "
              f"Δ = {vs['delta']:+.4f} [{vs['ci_low']:+.4f}, {vs['ci_high']:+.4f}], p = {vs['p_value']:.3g}")
    ceil = scen_info["ceiling"]
    if ceil:  # a reference, not a method: it knows what the warm users did with the new items
        room = ceil["headroom"]
        print(f"ceiling: {ceil['method']} refitted WITH the new items' interactions: {room['metric']} "
              f"{ceil[room['metric']]:.4f}, new_{room['metric']} {ceil['new_' + room['metric']]:.4f}; "
              f"headroom over {ceil['method']} "
              f"without them Δ = {room['delta']:+.4f} [{room['ci_low']:+.4f}, {room['ci_high']:+.4f}]: what the new "
              f"items' real interactions add to that model, which the text would have to find from BERT vectors")
    for m, curve in scen_info["bias_calibration"].items():
        if curve:
            print(f"{m}: new-item bias {scen_info['new_item_bias_rules'][m]!r} chosen on cold_valid (pseudo-new "
                  f"items; recall@20 by rule: {', '.join(f'{r} {v:.4f}' for r, v in curve.items())})")
    scen_fig.show()
else:
    print("new-item scenario switched off (evaluation.new_item_frac = 0)")

# %% [markdown]
# ## 9. What the numbers say
#
# This cell is written from `metrics.json`, not by hand.

# %%
display(Markdown(leaderboard.discussion(metrics, reference=cfg["evaluation"]["reference"])))

# %% [markdown]
# ## 10. Results recorded

# %%
print(f"metrics.json of run {ctx.run.name}:")
print(json.dumps({m: round(v["cold_test"]["ndcg@10"]["mean"], 4) for m, v in metrics["methods"].items()}, indent=1))

# %% [markdown]
# ## 11. What you should now understand
#
# - Full-catalogue ranking with training items excluded is the honest protocol; sampled negatives inflate and
#   reorder results (Krichene & Rendle, KDD 2020).
# - A mean without a confidence interval is half a result; method differences need a *paired* test, and many
#   comparisons need a correction (Holm).
# - Transfer can beat popularity for cold-start users, and the segments show for whom.
#
# **Further reading.** Krichene & Rendle, *On Sampled Metrics for Item Recommendation* (KDD 2020);
# Efron & Tibshirani, *An Introduction to the Bootstrap* (1993); Man et al., *EMCDR* (IJCAI 2017);
# Zhu et al., *PTUPCDR* (WSDM 2022).
