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
# # Exercise 1 · NDCG@k: how good is a ranked list?
#
# **Learning goals.** After this exercise you can
#
# 1. compute DCG@k, the ideal DCG and NDCG@k of one ranked list by hand and in code,
# 2. explain the log2(rank + 1) discount and why the ideal list has min(k, |relevant|) items,
# 3. connect your function to `rec_helpers.metrics.ndcg_at_k`, which scores every method in the suite's reports.
#
# **How this works.** Read the theory, then fill in the cell marked `# TODO`: replace the line
# `raise NotImplementedError(...)` with your code. Run the check cell below it. It prints **✓ PASSED**,
# or **✗ NOT YET** with the input that failed, the expected and your value, and a hint about the likely
# mistake. Change your code, re-run both cells, repeat. The check never stops the notebook
# (`strict=True` makes it raise instead); the solution is in `solutions/` — try first!

# %% [markdown]
# ## 1. Imports

# %% tags=["imports"]
import math

import pandas as pd

# %% [markdown]
# ## 2. Theory
#
# A method ranks the whole target catalogue for a user; `relevant` holds the items the user really liked
# (their held-out positives). With **binary gain** (an item is relevant or not) and ranks starting at 1:
#
# $$\mathrm{DCG@}k = \sum_{r=1}^{k} \frac{\mathbb{1}[\text{item at rank } r \in \text{relevant}]}{\log_2(r+1)}
# \qquad
# \mathrm{IDCG@}k = \sum_{r=1}^{\min(k,\,|\text{relevant}|)} \frac{1}{\log_2(r+1)}
# \qquad
# \mathrm{NDCG@}k = \frac{\mathrm{DCG@}k}{\mathrm{IDCG@}k}$$
#
# * The **discount** $1/\log_2(r+1)$ is 1 at rank 1, 0.63 at rank 2, 0.5 at rank 3: a hit near the top counts more.
# * The **ideal DCG** is the DCG of the best possible list, all relevant items on top. It has only
#   $\min(k, |\text{relevant}|)$ hits: with 2 relevant items a perfect list fills ranks 1–2, with 8 relevant
#   items and $k = 3$ it fills ranks 1–3. Dividing by it puts NDCG in $[0, 1]$, with 1 for a perfect list.
# * Convention: when `relevant` is empty, NDCG is **0.0**.
#
# **Worked example.** `ranked_items = ["a", "b", "c", "d"]`, `relevant = {"a", "c"}`, `k = 3`:
# DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5; IDCG = 1/log2(2) + 1/log2(3) = 1.631; NDCG = 1.5 / 1.631 = **0.920**.

# %%
# The discount of the first five ranks
for rank in range(1, 6):
    print(f"rank {rank}: 1 / log2({rank} + 1) = {1 / math.log2(rank + 1):.3f}")


# %% [markdown]
# ## 3. Your turn
#
# Write `ndcg_at_k(ranked_items, relevant, k)`: `ranked_items` is a list (best first), `relevant` a set,
# `k` the cutoff. Return a float. The list may be shorter than `k`.

# %% tags=["todo"]
# TODO: implement NDCG@k (binary gain, discount log2(rank + 1), ranks start at 1)
def ndcg_at_k(ranked_items: list, relevant: set, k: int) -> float:
    """NDCG@k of one ranked list; 0.0 when `relevant` is empty."""
    # 1. DCG: add 1 / log2(rank + 1) for every rank <= k whose item is in `relevant`
    # 2. IDCG: the same sum for a perfect list of min(k, len(relevant)) relevant items
    # 3. return DCG / IDCG
    raise NotImplementedError("TODO: compute DCG@k and the ideal DCG, and return their ratio")


# %% [markdown]
# ## 4. Check your answer
#
# Run this cell after every change to your function.

# %% tags=["check"]
from rec_helpers.exercises import check_ndcg

result = check_ndcg(ndcg_at_k)

# %% [markdown]
# ## 5. Explore: your function next to the project's metric
#
# The suite's reports use `rec_helpers.metrics.ndcg_at_k`, which works on whole frames of rankings
# (`user, item, rank`) and held-out positives (`user, item`). On one user both must agree. Then watch
# NDCG fall as the second hit moves down the list.

# %%
from rec_helpers.metrics import ndcg_at_k as project_ndcg_at_k

if result.passed:
    truth = pd.DataFrame({"user": ["u1", "u1"], "item": ["a", "c"]})
    ranking = pd.DataFrame({"user": "u1", "item": ["a", "b", "c", "d"], "rank": [1, 2, 3, 4]})
    print("yours:  ", round(ndcg_at_k(["a", "b", "c", "d"], {"a", "c"}, 3), 4))
    print("project:", round(project_ndcg_at_k(truth, ranking, k=3), 4))
    for position in range(2, 7):
        ranked = ["a"] + ["x"] * (position - 2) + ["c"] + ["y"] * (6 - position)
        print(f"second hit at rank {position}: NDCG@5 = {ndcg_at_k(ranked, {'a', 'c'}, 5):.3f}")
else:
    print("Pass the check above first, then run this cell again.")

# %% [markdown]
# ## 6. What you should now understand
#
# - NDCG@k rewards hits near the top: the discount 1/log2(rank + 1) is 1 at rank 1 and shrinks slowly.
# - The ideal DCG is the best a list could do, with min(k, |relevant|) hits, so NDCG lies in [0, 1].
# - The three classic slips: forgetting to normalise, an off-by-one in the discount, and an ideal list that is
#   longer than k or than the relevant set.
# - The suite ranks the **full** target catalogue (no sampled negatives) and reports NDCG@5/10/20 with
#   bootstrap confidence intervals (SPEC §3).
