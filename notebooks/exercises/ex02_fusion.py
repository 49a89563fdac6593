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
# # Exercise 2 · Fusion: mixing source and target interest
#
# **Learning goals.** After this exercise you can
#
# 1. write fusion $u''_t = \alpha\,u_s + (1-\alpha)\,u_t$ for one user and for a batch of users,
# 2. explain what α = 0, α = 1 and values in between mean for a user's recommendations,
# 3. say what the suite uses as $u_t$ for a cold-start user, who has no target history.
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


# %% [markdown]
# ## 2. Theory
#
# Each user has an interest vector per domain, built from BERT vectors of the items they liked: $u_s$ in the
# source domain (e.g. action films), $u_t$ in the target domain (e.g. comedies). **Fusion** mixes them:
#
# $$u''_t = \alpha\, u_s + (1 - \alpha)\, u_t, \qquad \alpha \in [0, 1]$$
#
# * $\alpha = 1$: trust only the source interest; $\alpha = 0$: only the target interest.
# * The two weights add up to 1, so $u''_t$ lies on the segment between $u_s$ and $u_t$.
# * A **cold-start** user has no $u_t$; the suite fills it with the warm users' mean target interest
#   (the prior), and tunes α on the cold_valid users — never on cold_test.
#
# **Shapes.** `u_s` and `u_t` are numpy arrays: one vector `(d,)`, or a batch `(n, d)` with **one user per row**.
# `alpha` is a float. Numpy broadcasting makes one expression work for both shapes.

# %% [markdown]
# ## 3. Your turn
#
# Write `fuse(u_s, u_t, alpha)`. Do not change `u_s` or `u_t` in place. *Bonus (optional):* raise a
# `ValueError` when `alpha` is outside [0, 1].

# %% tags=["todo"]
# TODO: implement fusion u'' = alpha * u_s + (1 - alpha) * u_t (works for (d,) and (n, d) arrays)
def fuse(u_s: np.ndarray, u_t: np.ndarray, alpha: float) -> np.ndarray:
    """alpha * u_s + (1 - alpha) * u_t, row by row."""
    raise NotImplementedError("TODO: return the alpha-weighted mix of u_s and u_t")


# %% [markdown]
# ## 4. Check your answer
#
# Run this cell after every change to your function.

# %% tags=["check"]
from rec_helpers.exercises import check_fusion

result = check_fusion(fuse)


# %% [markdown]
# ## 5. Explore: how α moves the fused interest
#
# Two toy unit vectors, one "action" and one "comedy" interest. The cosine tells how close the fused vector is
# to each; a ranking by cosine follows the same drift.

# %%
def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


if result.passed:
    u_s = np.array([1.0, 0.2, 0.0])  # source interest: action
    u_t = np.array([0.0, 0.3, 1.0])  # target interest: comedy
    for alpha in (0.0, 0.25, 0.5, 0.75, 1.0):
        fused = fuse(u_s, u_t, alpha)
        print(f"alpha = {alpha:.2f}: cos(fused, u_s) = {cosine(fused, u_s):.2f}, "
              f"cos(fused, u_t) = {cosine(fused, u_t):.2f}")
else:
    print("Pass the check above first, then run this cell again.")

# %% [markdown]
# ## 6. What you should now understand
#
# - Fusion is a weighted average: α is how much we trust the source domain's interest for the target domain.
# - Written with arrays, one line serves one user or a whole batch (one user per row).
# - A cold-start user's missing $u_t$ must be filled (prior or a mapped vector), and α is chosen on cold_valid,
#   never on cold_test. The suite can also learn α per user from history lengths (`rec_helpers.transfer.fusion`).
