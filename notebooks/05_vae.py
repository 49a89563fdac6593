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
# # 05 · VAE: a latent user that generates target behaviour
#
# **Learning goals.** After this notebook you can
#
# 1. write the Mult-VAE objective: encoder $q(z \mid x_s) = \mathcal N(\mu, \operatorname{diag}\sigma^2)$,
#    reparameterisation $z = \mu + \sigma \odot \varepsilon$, decoder $p(x_t \mid z) = \operatorname{softmax}(Wz + b)$,
# 2. explain the loss $-\log p(x_t \mid z) + \beta\,\mathrm{KL}(q \,\|\, \mathcal N(0, I))$ and why β is annealed to a cap (0.2),
#    and compute the sample $z$, the NLL and the KL of one batch by hand,
# 3. see the text-aware decoder option $W = P E_t$ that can score items never seen in training,
# 4. read the latent space of cold-start users.
#
# **Intuition.** Instead of mapping one vector to another, the VAE compresses a user's source behaviour (which
# source movies they liked, plus their BERT interest vector $u_s$) into a small latent code $z$, and learns to
# generate their target positives from it. A cold-start user is encoded from source behaviour alone.

# %% [markdown]
# ## 1. Imports

# %%
import numpy as np
import pandas as pd
import plotly.express as px
import torch
from scipy.special import logsumexp

from rec_helpers import explore, pipeline, plots
from rec_helpers.transfer.training import multinomial_nll
from rec_helpers.transfer.vae import kl_normal

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
data = pipeline.transfer_data(ctx)
split = pipeline.ensure_split(ctx)
print(f"{data.n_users} users, {data.n_source} source items, {data.n_target} target items")

# %% [markdown]
# ## 3. Fit
#
# The same training loop as the adapter and fusion; β rises linearly to its cap over the first steps.

# %%
vae = pipeline.ensure_method(ctx, "vae")
print(vae)
print(f"fit in {ctx.run.manifest['methods']['vae']['fit_seconds']:.1f} s, best epoch {vae.history_.get('best_epoch')}")
plots.training_curves(vae.history_, "VAE: loss (reconstruction + β·KL) and cold_valid NDCG@10").show()

# %% [markdown]
# ## 4. The reparameterisation trick and the loss, by hand
#
# One batch of warm users through the fitted model. The encoder gives $\mu$ and $\log\sigma^2$; a sample is
# $z = \mu + \sigma \odot \varepsilon$ with $\varepsilon \sim \mathcal N(0, I)$ drawn *outside* the network, so the
# gradient reaches $\mu$ and $\sigma$ through a plain sum and product. The decoder's logits give the multinomial
# negative log-likelihood of the user's target positives $x_t$, and the loss adds β times the KL divergence
#
# $$-\sum_i x_{ti} \log \operatorname{softmax}(Wz + b)_i \; + \; \beta \cdot \tfrac12 \sum_k
#   \left(\sigma_k^2 + \mu_k^2 - 1 - \log \sigma_k^2\right),$$
#
# both averaged over the users of the batch (β here is the KL weight at its cap, `beta_cap`).

# %%
model = vae.module_.eval()
dev = next(model.parameters()).device
tensor = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32), device=dev)
idx = data.warm_idx[:64]
with torch.no_grad():
    mu, logvar = model.encode(tensor(data.source_matrix(vae.source_input, idx).toarray()), tensor(data.U_s[idx]))
eps = np.random.default_rng(ctx.seed).standard_normal(mu.shape)
z = mu.cpu().numpy() + np.exp(0.5 * logvar.cpu().numpy()) * eps          # z = μ + σ ⊙ ε
with torch.no_grad():
    logits = model.decode(tensor(z), tensor(data.E_target)).cpu().numpy().astype(np.float64)
x_t = data.X_target_train[idx].toarray()
log_softmax = logits - logsumexp(logits, axis=1, keepdims=True)
nll = -(x_t * log_softmax).sum(axis=1).mean()
mu_, lv = mu.cpu().numpy().astype(np.float64), logvar.cpu().numpy().astype(np.float64)
kl = 0.5 * (np.exp(lv) + mu_**2 - 1 - lv).sum(axis=1).mean()
np.testing.assert_allclose(nll, multinomial_nll(tensor(logits), tensor(x_t)).item(), rtol=1e-4)
np.testing.assert_allclose(kl, kl_normal(mu, logvar).item(), rtol=1e-4)
print(f"batch of {len(idx)} warm users: NLL {nll:.2f} + β·KL = {nll:.2f} + {vae.beta_cap}·{kl:.2f} = "
      f"{nll + vae.beta_cap * kl:.2f} (the library's multinomial_nll and kl_normal agree)")

# %% [markdown]
# ## 5. What did it learn? The latent space
#
# The latent means $\mu$ of cold_test users, projected to 2-D, coloured by each user's favourite source genre
# (the genre most frequent among their source positives). Users with similar source taste sit together.

# %%
mu = vae.latent(data, data.cold_test_idx)
users = data.user_ids[data.cold_test_idx]
pos = split.source[split.source["rating"] >= cfg["data"]["positive_threshold"]]
genres = pos.merge(split.items[["item", "genres"]], on="item").assign(genre=lambda d: d["genres"].str.split("|"))
genres = genres.explode("genre")
genres = genres[genres["genre"].isin(cfg["split"]["source_genres"])]
favourite = genres.groupby("user")["genre"].agg(lambda s: s.value_counts().index[0]).reindex(users).fillna("none")
coords = explore.project_2d(mu, "pca")
fig = pd.DataFrame({"x": coords[:, 0], "y": coords[:, 1], "favourite source genre": favourite.to_numpy()})
px.scatter(fig, x="x", y="y", color="favourite source genre", opacity=0.7,
           title="VAE latent means of cold_test users (PCA)").show()

# %% [markdown]
# ## 6. Cold_valid check against Pop and zero-shot BERT

# %%
baselines = pipeline.ensure_methods(ctx, ["pop", "zero_shot"], progress=False)
pipeline.valid_report(ctx, {**baselines, "vae": vae})

# %% [markdown]
# ## 7. What you should now understand
#
# - The VAE learns a distribution over latent users; the reparameterisation trick makes sampling differentiable.
# - β trades reconstruction against staying close to the prior; annealing avoids collapsing $q$ early on.
# - With the text-aware decoder, item scores come from projected BERT vectors, so new items can be scored (in the
#   default run that orders new items among themselves but puts none in a top 20: 06 §8).
#
# **Further reading.** Kingma & Welling, *Auto-Encoding Variational Bayes* (ICLR 2014); Liang et al.,
# *Variational Autoencoders for Collaborative Filtering* (WWW 2018); Salah et al., *Towards Source-Aligned
# Variational Models for Cross-Domain Recommendation* (RecSys 2021).
