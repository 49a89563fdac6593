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
# # 08 · Classroom: play with transfer
#
# **Learning goals.** After this notebook you can
#
# 1. look at any cold-start user and see what each method recommends to them, and which of those they really liked,
# 2. give feedback yourself: like and dislike recommendations, watch the interest vector drift and the list move,
# 3. see how much a few target-domain ratings help a cold-start user, method by method,
# 4. explain why ids leave the suite only as salted pseudonyms, and what an unsalted hash would give away.
#
# In JupyterLab every section is a widget. Run headless (papermill, nbval, the HTML report), each widget shows a
# static version for a default choice instead: tables and plotly figures.

# %% [markdown]
# ## 1. Imports

# %%
import hashlib
import time

import pandas as pd
from IPython.display import Markdown, display

from rec_helpers import pipeline, plots, widgets
from rec_helpers.errors import ConfigError
from rec_helpers.privacy import pseudonymise, pseudonymise_frame, report_salt

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
# ## 3. The run's methods
#
# Every configured method is fitted (or reloaded from the run folder when notebooks 03–06 already did it), and its
# saved cold_test rankings are read back. `ClassroomInputs` bundles what the widgets read: the transfer data, the
# frames, the fitted methods and the saved rankings.

# %%
models = pipeline.ensure_methods(ctx)
ci = widgets.ClassroomInputs.from_context(ctx, list(models))
print(f"methods: {', '.join(ci.models)}; {len(ci.cold_users())} cold_test users; "
      f"ids shown {'pseudonymised' if ci.salt else 'as they are'}")

# %% [markdown]
# ## 4. User explorer
#
# Pick a cold_test user: first the source movies they liked most recently, then each
# method's top 10 target movies side by side (from the rankings saved in the run folder), with ✔ on the movies
# that are in their **hidden** target positives, and the hits per method.

# %%
explorer = widgets.user_explorer(ci)

# %% [markdown]
# ## 5. Feedback loop
#
# Start from the user's transferred interest and give feedback. Recommendations are the target movies with the
# highest cosine $\langle u_t, e_i \rangle$; every click updates
#
# $$\text{like}: u_t \leftarrow \frac{u_t + \eta\, e_i}{\lVert u_t + \eta\, e_i \rVert} \qquad
#   \text{dislike}: u_t \leftarrow \frac{u_t - \eta\, e_i}{\lVert u_t - \eta\, e_i \rVert}$$
#
# and ranks again (rated movies leave the list). **Start vector:** the fusion blend applied to the BERT vectors,
# $u_t^{(0)} = \text{normalise}(\alpha\,u_s + (1-\alpha)\,\bar u_t)$ with the fusion α tuned in notebook 04 and the
# warm users' mean $\bar u_t$ as the cold user's missing target interest. (Fusion's own blend lives inside its
# scorer's standardised space, where a cosine with $e_i$ means nothing; the same formula in BERT space does.)
# The drift plot shows how far $u_t$ moved from where it started and how the ranks of the starting top 10 changed.
# Headless, a scripted user likes three of their hidden positives and dislikes two wrong movies.

# %%
feedback = widgets.feedback_loop(ci)

# %% [markdown]
# ## 6. Cold-start simulator
#
# What if a cold user rates a few target movies? For about 100 cold_test users we reveal k = 0 … 10 of their
# hidden target positives (earliest first) and measure each method's NDCG@10 on the **remaining** hidden
# positives (revealed movies are excluded from the list).
#
# - **fusion** and the **adapter** take the revealed movies through their $u_t$ input: the weighted mean of the
#   revealed movies' BERT vectors (`interest.mean_interest_vectors`), no refitting;
# - **zero-shot** takes them as likes: the feedback update above, starting from $u_s$;
# - **Pop** (and ID-based baselines such as CD-ridge, EMCDR or the VAE, whose inputs are source behaviour only)
#   cannot use target ratings without refitting: they only drop the revealed movies.
#
# Read the curves against Pop: the remaining positives get harder as the earliest (often most popular) ones are
# revealed, so every curve can fall. If fusion or the adapter fall *below* Pop once real $u_t$ arrives, that is
# an honest finding, not a bug: both were trained with warm users' inputs built as at cold time
# (`warm_input_rate = 0`), so their scorers never saw a real $u_t$ of a few movies. Try refitting one with
# `warm_input_rate: 0.5` in the config and run this section again.

# %%
t0 = time.perf_counter()
simulator = widgets.cold_start_simulator(ci)
print(f"simulated {len(simulator.data['simulation'].users)} users in {time.perf_counter() - t0:.1f} s")

# %% [markdown]
# ## 7. Privacy: what leaves the suite, and why ids are pseudonymised
#
# **What is shared?** The report (HTML), `metrics.json` and exported rankings. Metrics are averages over users;
# rankings and per-user examples name users, so `report.pseudonymise: true` (the default) replaces every user id
# in them by a *pseudonym*: the first 16 hex characters of `sha256(salt + ":" + id)`.
#
# **What is not shared?** The raw ratings, the run folder's `split/` files, and the **salt**. Keep the salt out of
# the shared files (an environment variable or a private config): whoever has it can rebuild the mapping.
#
# **Why a salt? Is a hash not enough?** No. A hash is one-way only when the input cannot be guessed. MovieLens has a
# few thousand user ids, so anyone can hash every candidate id and look the result up. The cell below does exactly
# that to an unsalted hash.
#
# **Is a pseudonym anonymous?** No. The same user gets the same pseudonym everywhere (that is the point: results stay
# joinable), and a user's list of liked movies can itself identify them (Narayanan & Shmatikov, 2008). Pseudonyms
# stop casual re-identification by id; they are not a licence to publish behaviour data.

# %%
split = pipeline.ensure_split(ctx)
all_ids = split.users["user"].astype(str).tolist()
secret_user = all_ids[len(all_ids) // 2]
leaked = hashlib.sha256(secret_user.encode()).hexdigest()[:16]      # an unsalted "anonymised" id
t0 = time.perf_counter()
lookup = {hashlib.sha256(u.encode()).hexdigest()[:16]: u for u in all_ids}  # the attacker hashes every id
print(f"unsalted hash {leaked} -> user {lookup[leaked]!r}, recovered in {1000 * (time.perf_counter() - t0):.1f} ms "
      f"by hashing all {len(all_ids)} ids")
salted = pseudonymise([secret_user], report_salt(cfg) or "demo-salt")[0]
print(f"salted pseudonym {salted} -> in the attacker's table: {salted in lookup}")
try:
    pseudonymise([secret_user], "")
except ConfigError as err:
    print(f"an empty salt is refused: {err}")

# %% [markdown]
# A rankings frame as it is exported: the same rows, the user column replaced by pseudonyms.

# %%
name = "fusion" if "fusion" in ci.rankings else next(iter(ci.rankings))
raw = ci.rankings[name].head(6)
shared = pseudonymise_frame(raw, report_salt(cfg) or "demo-salt")
display(pd.concat({"in the run folder": raw[["user", "item", "rank"]], "exported": shared[["user", "item", "rank"]]},
                  axis=1))
other = pseudonymise_frame(raw, "another-salt")["user"].iloc[0]
print(f"another salt gives another pseudonym for the same user: {shared['user'].iloc[0]} vs {other}")

# %% [markdown]
# ## 8. What you should now understand
#
# - Looking at single users makes the leaderboard concrete: which methods find the movies a user really liked.
# - A feedback loop is a small vector update, $u_t \leftarrow \text{normalise}(u_t \pm \eta e_i)$; the list
#   reacts immediately and the interest drifts away from where transfer put it.
# - A few target ratings can help or hurt depending on whether the model was trained to use them: the simulator
#   shows it honestly, method by method, against Pop.
# - Exported ids are salted pseudonyms: an unsalted hash of a small id space is reversible in milliseconds, and a
#   pseudonym is still not anonymity.
#
# **Further reading.** He, Parra & Verbert, *Interactive recommender systems: a survey of the state of the art*
# (Expert Systems with Applications, 2016); Rocchio, *Relevance feedback in information retrieval* (1971);
# Narayanan & Shmatikov, *Robust De-anonymization of Large Sparse Datasets* (IEEE S&P 2008); the UK ICO's
# guidance on anonymisation and pseudonymisation.
