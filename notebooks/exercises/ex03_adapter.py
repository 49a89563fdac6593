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
# # Exercise 3 · Adapter: a gated residual from source to target
#
# **Learning goals.** After this exercise you can
#
# 1. write the residual bottleneck $A(x) = x + \mathrm{relu}(x W_{down}) W_{up}$ with clear matrix shapes,
# 2. write the gate $u'_t = u_t + \theta \odot (A(u_s) - u_t)$ and say what θ = 0 and θ = 1 do,
# 3. explain why the residual and a zero-initialised $W_{up}$ make the adapter start as the identity.
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
# The adapter maps the source interest into the target-interest space and lets a gate θ decide how far to move:
#
# $$A(x) = x + \mathrm{relu}(x\,W_{down})\,W_{up}, \qquad u'_t = u_t + \theta \odot \big(A(u_s) - u_t\big)$$
#
# **Shapes (rows are users).**
#
# | array | shape | meaning |
# |---|---|---|
# | `u_s`, `u_t` | `(n, d)` | source and target interest, one user per row |
# | `W_down` | `(d, b)` | down-projection into a small bottleneck, b < d |
# | `W_up` | `(b, d)` | up-projection back to d dimensions |
# | `theta` | float, `(d,)` or `(n, 1)` | one gate, one per dimension, or one per user; values in [0, 1] |
#
# Because rows are users we multiply on the right: `x @ W_down` then `@ W_up`. (SPEC §4 writes $W_{down}\cdot x$
# for a column vector x — the same map, transposed.) `⊙` is element-wise: `theta * (...)`.
#
# * θ = 0 gives $u_t$ (ignore the source); θ = 1 gives $A(u_s)$ (replace by the mapped source interest).
# * The residual `x + …` means A only learns a *correction*: with $W_{up} = 0$, A is the identity.
#   The suite's adapter (`rec_helpers.transfer.adapter`) starts $W_{up}$ at zero and uses GELU instead of relu.

# %% [markdown]
# ## 3. Your turn
#
# Write `adapter_forward(u_s, u_t, W_down, W_up, theta)` with numpy (`np.maximum(z, 0)` is relu).

# %% tags=["todo"]
# TODO: implement the adapter u_t + theta * (A(u_s) - u_t), with A(x) = x + relu(x @ W_down) @ W_up
def adapter_forward(u_s: np.ndarray, u_t: np.ndarray, W_down: np.ndarray, W_up: np.ndarray,
                    theta) -> np.ndarray:
    """Gated residual adapter; u_s, u_t (n, d), W_down (d, b), W_up (b, d), theta scalar/(d,)/(n, 1)."""
    raise NotImplementedError("TODO: compute A(u_s), then gate the step from u_t towards it with theta")


# %% [markdown]
# ## 4. Check your answer
#
# Run this cell after every change to your function.

# %% tags=["check"]
from rec_helpers.exercises import check_adapter

result = check_adapter(adapter_forward)

# %% [markdown]
# ## 5. Explore: the gate walks from u_t to A(u_s)
#
# As θ grows from 0 to 1, the output moves on a straight line from $u_t$ to $A(u_s)$.

# %%
if result.passed:
    rng = np.random.default_rng(0)
    n, d, b = 3, 8, 2
    u_s, u_t = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    W_down, W_up = rng.normal(size=(d, b)), 0.1 * rng.normal(size=(b, d))
    a = adapter_forward(u_s, u_t, W_down, W_up, 1.0)  # theta = 1 gives A(u_s)
    for theta in (0.0, 0.25, 0.5, 0.75, 1.0):
        out = adapter_forward(u_s, u_t, W_down, W_up, theta)
        print(f"theta = {theta:.2f}: distance to u_t = {np.linalg.norm(out - u_t):.2f}, "
              f"to A(u_s) = {np.linalg.norm(out - a):.2f}")
    print("with W_up = 0, A is the identity:", np.allclose(adapter_forward(u_s, u_t, W_down, 0 * W_up, 1.0), u_s))
else:
    print("Pass the check above first, then run this cell again.")

# %% [markdown]
# ## 6. What you should now understand
#
# - $A(x) = x + \mathrm{relu}(x W_{down}) W_{up}$ is a residual bottleneck: it learns a small correction to x.
# - θ gates the **difference** $A(u_s) - u_t$: θ = 0 keeps $u_t$, θ = 1 takes $A(u_s)$, and θ can be one number,
#   one per dimension, or one per user.
# - With rows as users, matrices multiply on the right (`x @ W_down`); writing the shapes down avoids most bugs.
# - In the suite the adapter and θ are trained on warm users against their target behaviour, never on cold users.
