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
# # Exercise 4 · VAE: the reparameterisation trick and the KL term
#
# **Learning goals.** After this exercise you can
#
# 1. sample $z = \mu + \sigma \odot \varepsilon$ with $\sigma = \exp(\tfrac12 \log\sigma^2)$ (the reparameterisation trick),
# 2. compute $\mathrm{KL}(\mathcal N(\mu, \sigma^2) \,\|\, \mathcal N(0, I))$ per user,
# 3. explain what the KL term does in the VAE's loss and why β caps it.
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
# The VAE encodes a user's source positives into a Gaussian $q(z \mid x_s) = \mathcal N(\mu, \mathrm{diag}\,\sigma^2)$ and
# decodes $z$ into a softmax over the target items. The encoder outputs $\mu$ and **logvar** $= \log \sigma^2$
# (a log keeps $\sigma^2$ positive).
#
# **Reparameterisation.** Instead of sampling $z$ directly, draw $\varepsilon \sim \mathcal N(0, I)$ and compute
#
# $$z = \mu + \sigma \odot \varepsilon, \qquad \sigma = \exp\!\big(\tfrac12\,\mathrm{logvar}\big)$$
#
# The randomness sits in ε, so gradients flow through μ and σ.
#
# **KL term** (per user, summed over the latent dimensions j):
#
# $$\mathrm{KL}\big(\mathcal N(\mu, \sigma^2)\,\|\,\mathcal N(0, I)\big) = -\tfrac12 \sum_j \big(1 + \mathrm{logvar}_j - \mu_j^2 - \exp(\mathrm{logvar}_j)\big)$$
#
# It is ≥ 0 and equals 0 only when μ = 0 and logvar = 0. The loss is $-\log p(x_t \mid z) + \beta\,\mathrm{KL}$, with β
# annealed up to a cap (0.2 in Mult-VAE) so the KL does not wipe out the user's signal.
#
# **Here we use numpy**, rows are users: `mu`, `logvar`, `eps` have shape `(n, L)`; `kl_divergence` returns shape
# `(n,)`. The suite's torch version is `rec_helpers.transfer.vae` (its `kl_normal` also averages over users).

# %% [markdown]
# ## 3. Your turn
#
# Write both functions with numpy. Use the `eps` you are given — do not draw new noise.

# %% tags=["todo"]
# TODO: implement the reparameterisation and the KL term (numpy, one user per row)
def reparameterise(mu: np.ndarray, logvar: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """z = mu + sigma * eps, sigma = exp(0.5 * logvar); all arrays (n, L)."""
    raise NotImplementedError("TODO: compute sigma from logvar, then z = mu + sigma * eps")


def kl_divergence(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(N(mu, sigma^2) || N(0, I)) per row: -0.5 * sum_j (1 + logvar - mu^2 - exp(logvar)), shape (n,)."""
    raise NotImplementedError("TODO: sum the KL formula over the latent dimensions (axis=1)")


# %% [markdown]
# ## 4. Check your answer
#
# Run this cell after every change to your function.

# %% tags=["check"]
from rec_helpers.exercises import check_vae

result = check_vae(reparameterise, kl_divergence)

# %% [markdown]
# ## 5. Explore: samples and the KL
#
# Many samples of $z$ for one user have mean ≈ μ and standard deviation ≈ σ. The KL grows as μ moves away from 0
# and as σ moves away from 1 in either direction.

# %%
if result.passed:
    rng = np.random.default_rng(0)
    mu, logvar = np.array([[1.0, -2.0]]), np.array([[0.0, np.log(0.25)]])
    n = 100_000
    z = reparameterise(np.repeat(mu, n, axis=0), np.repeat(logvar, n, axis=0), rng.normal(size=(n, 2)))
    print("sample mean:", z.mean(axis=0).round(3), " mu:", mu[0])
    print("sample std: ", z.std(axis=0).round(3), " sigma:", np.exp(0.5 * logvar[0]))
    for m, s in [(0.0, 1.0), (1.0, 1.0), (0.0, 0.5), (0.0, 2.0)]:
        kl = kl_divergence(np.array([[m]]), np.array([[2 * np.log(s)]]))[0]
        print(f"mu = {m}, sigma = {s}: KL = {kl + 0.0:.3f}")  # + 0.0 prints -0.0 as 0.0
else:
    print("Pass the check above first, then run this cell again.")

# %% [markdown]
# ## 6. What you should now understand
#
# - logvar is $\log \sigma^2$, so $\sigma = \exp(\tfrac12\,\mathrm{logvar})$ and $\sigma^2 = \exp(\mathrm{logvar})$.
# - The reparameterisation $z = \mu + \sigma \odot \varepsilon$ moves the randomness into ε, so the encoder can be trained
#   by gradient descent.
# - The KL term, one value per user, pulls $q(z \mid x_s)$ towards $\mathcal N(0, I)$; it is never negative, and β
#   (annealed, capped) sets how hard it pulls.
