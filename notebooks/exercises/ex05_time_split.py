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
# # Exercise 5 · A time split, and why a random split leaks the future
#
# **Learning goals.** After this exercise you can
#
# 1. split each user's interactions by time: their earliest share is the source, the rest the target,
# 2. tell a per-user split from one global cut, and floor(n · frac) from rounding,
# 3. explain why a global random shuffle leaks future behaviour into training.
#
# **How this works.** Read the theory, then fill in the cell marked `# TODO`: replace the line
# `raise NotImplementedError(...)` with your code. Run the check cell below it. It prints **✓ PASSED**,
# or **✗ NOT YET** with the input that failed, the expected and your value, and a hint about the likely
# mistake. Change your code, re-run both cells, repeat. The check never stops the notebook
# (`strict=True` makes it raise instead); the solution is in `solutions/` — try first!

# %% [markdown]
# ## 1. Imports

# %% tags=["imports"]
import numpy as np
import pandas as pd

from rec_helpers.exercises import example_interactions

# %% [markdown]
# ## 2. Theory
#
# In the **time split** setting (SPEC §3) the source is a user's earlier behaviour and the target their later
# behaviour: we ask whether past interest predicts future interest. For each user $u$ with $n_u$ interactions,
# sorted by timestamp:
#
# $$\text{source}_u = \text{the first } \lfloor n_u \cdot \mathit{frac} \rfloor \text{ interactions}, \qquad \text{target}_u = \text{the rest}$$
#
# * The cut is made **per user**: every user keeps their own earliest share. One global cut over all rows would put
#   all of an early user's rows in source and all of a late user's rows in target.
# * Round **down**: a user with 7 interactions and frac = 0.5 has 3 source rows; a user with 1 interaction has none.
# * The input is **not** in time order, so sort by timestamp first.
#
# The input frame has columns `user, item, rating, timestamp`. Here is the toy log the check starts with:

# %%
example_interactions()


# %% [markdown]
# ## 3. Your turn
#
# Write `time_split(interactions, frac=0.5)` returning `(source, target)`, two DataFrames with the same columns.
# Useful pandas: `sort_values([...])`, `groupby("user").cumcount()` (0, 1, 2, … within each user) and
# `groupby("user")["item"].transform("size")` (the user's row count on every row). Do not modify the input.

# %% tags=["todo"]
# TODO: implement a per-user time split
def time_split(interactions: pd.DataFrame, frac: float = 0.5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per user, the earliest floor(n_user * frac) interactions are the source, the rest the target."""
    raise NotImplementedError("TODO: sort by time, number each user's rows, and cut each user at floor(n * frac)")


# %% [markdown]
# ## 4. Check your answer
#
# Run this cell after every change to your function.

# %% tags=["check"]
from rec_helpers.exercises import check_time_split

result = check_time_split(time_split)

# %% [markdown]
# ## 5. Why not a random shuffle?
#
# The cell below splits the toy log with one global random shuffle instead, and looks for users whose source
# holds a row that is **later** than one of their target rows.

# %%
log = example_interactions()
shuffled = log.sample(frac=1.0, random_state=0)
source, target = shuffled.iloc[: len(log) // 2], shuffled.iloc[len(log) // 2 :]
latest_source = source.groupby("user")["timestamp"].max()
earliest_target = target.groupby("user")["timestamp"].min()
print(pd.DataFrame({"latest source row": latest_source, "earliest target row": earliest_target}))
print("users with a source row after a target row:",
      list(latest_source.index[latest_source > earliest_target.reindex(latest_source.index)]))

# %% [markdown]
# ### Question
#
# A classmate builds source and target differently: they shuffle ALL interactions at random (one global shuffle, ignoring time) and put the first half into source, the rest into target. Why does this leak future behaviour into what the model learns from?
#
# - **A.** The shuffle changes some of the ratings, so the model is trained on wrong labels.
# - **B.** A user's source can then hold rows from after their target rows, so the model learns from the future it must predict and the offline score is too optimistic.
# - **C.** Some users end up with no target rows, and dropping them from the evaluation is the leak.
# - **D.** Nothing leaks as long as the random seed is fixed, because the split is then reproducible.
#
# Put one letter in `answer` and run the check.

# %% tags=["todo-answer"]
# TODO: your answer, one letter
answer = ""

# %% tags=["check"]
from rec_helpers.exercises import check_leakage_answer

answer_result = check_leakage_answer(answer)

# %% [markdown]
# ## 6. What you should now understand
#
# - A time split is made per user: sort each user's rows by time and keep the earliest ⌊n · frac⌋ as the source.
# - A global cut mixes users up, and rounding up instead of down shifts one row per user.
# - A random split lets the source contain behaviour from after the target, so a model learns the future it is
#   asked to predict and the offline score is too optimistic. The suite's `rec_helpers.splits.split_by_time` and
#   the warm users' time-ordered hold-out both follow time for this reason.
