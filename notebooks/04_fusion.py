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
# # 04 · Fusion: blend source interest with what the target already knows
#
# **Learning goals.** After this notebook you can
#
# 1. write fusion $u'' = \alpha\,u_s + (1-\alpha)\,u_t$ and say what α = 0 and α = 1 mean,
# 2. explain what a cold-start user uses for the missing $u_t$ (the target prior, or a map of $u_s$) and why,
# 3. read the α curve: cold_valid NDCG@10 for every α, and the α that was chosen from it, and compute the blend
#    yourself from the fitted model,
# 4. move α yourself and watch one user's list and the validation score change,
# 5. blend two fitted methods at the **score level** (per-user z-scores) and say when that beats vector fusion,
# 6. compare fusion with Pop and zero-shot BERT on cold_valid.
#
# **Intuition.** $u_s$ says what a user liked in the *source* domain (action, thrillers, …); $u_t$ says what
# they liked in the *target* domain (comedy, drama, …). Fusion is the simplest possible transfer: a weighted
# average of the two. With α = 1 only the source interest counts; with α = 0 only the target side does. For a
# cold-start user the target side is unknown, so α decides how much to trust the source interest over a safe
# default: "what target users like on average". The blend is then scored against every target item by the
# two-tower scorer $s(u, i) = \langle f(u'') + W_{\text{id}}\tilde x_s, g(e_i) \rangle + b_i$. The term
# $W_{\text{id}}\tilde x_s$ is the **ID channel**: one learned vector per source item, summed over the user's
# L2-normalised source history $\tilde x_s$ (`id_input`, default `"both"`: positives and rated-at-all marks). It
# carries what item IDs alone say, so the text side only has to add to it; `id_input=None` switches it off, and
# the random-vector control (notebook 06) shows whether the text adds anything at all.

# %% [markdown]
# ## 1. Imports

# %%
import time

import numpy as np
import pandas as pd
import plotly.express as px
from IPython.display import display

from rec_helpers import pipeline, plots, widgets
from rec_helpers.transfer.layers import ridge_map
from rec_helpers.transfer.registry import make_method

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
# ## 3. A cold user has no $u_t$: what goes in its place?
#
# Cold users' target history is hidden, so their $u_t$ is a zero row. Fusion fills it with one of
#
# - **target prior** (`fill="prior"`, the default): the mean $u_t$ of the warm users, $\bar u_t$. It carries no
#   personal information: the personal part comes only from $\alpha\,u_s$, and $(1-\alpha)\,\bar u_t$ pulls the
#   vector towards what target users like on average (a popularity-like anchor);
# - **mapped** (`fill="mapped"`): a ridge regression $u_s \mapsto u_t$ fitted on warm users, so the stand-in is
#   personal too (this is already a small transfer method of its own).
#
# The cell below measures how good each stand-in is on warm users (half used to fit the map, the other half to
# check): the cosine between the stand-in and the user's real $u_t$. The default is the prior, because it is
# simple, cannot overfit, and the learned scorer after the blend does the rest; switch with
# `transfer: {fusion: {fill: mapped}}` in the config.

# %%
data = pipeline.transfer_data(ctx)
warm = data.warm_idx
rng = np.random.default_rng(ctx.seed)
half = rng.permutation(warm)
fit_idx, check_idx = half[: len(half) // 2], half[len(half) // 2:]

def cosine(a, b):
    return (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)

truth_ut = data.U_t[check_idx]
prior = np.tile(data.U_t[fit_idx].mean(0), (len(check_idx), 1))
w, mean_s, mean_t = ridge_map(data.U_s[fit_idx], data.U_t[fit_idx], 10.0)
mapped = (data.U_s[check_idx] - mean_s) @ w + mean_t
pd.DataFrame({"stand-in for u_t": ["target prior (warm mean)", "mapped (ridge u_s -> u_t)", "u_s itself"],
              "mean cosine to the real u_t": [cosine(prior, truth_ut).mean(), cosine(mapped, truth_ut).mean(),
                                              cosine(data.U_s[check_idx], truth_ut).mean()]}).round(4)

# %% [markdown]
# ## 4. Fit
#
# The default mode is **tuned**: one scorer is trained with a random α ∈ [0, 1] drawn per user and step, so it
# works for any α; after training, α is chosen on **cold_valid** (never cold_test) from a grid. Warm users are
# trained with the input a cold user gets ($u_s$ plus the prior), so training matches the cold-start situation.

# %%
fusion = pipeline.ensure_method(ctx, "fusion")
print(fusion)
print(f"fit in {ctx.run.manifest['methods']['fusion']['fit_seconds']:.1f} s, best epoch {fusion.history_.get('best_epoch')}, "
      f"chosen α = {fusion.history_.get('alpha')}")
plots.training_curves(fusion.history_, "Fusion: training loss and cold_valid NDCG@10 (best α per epoch)").show()

# %% [markdown]
# ## 5. The α curve
#
# For every α of the grid, the same trained scorer ranks the full target catalogue for the cold_valid users
# (items they have seen excluded); the α with the best NDCG@10 is kept. A curve that peaks in the middle says that
# both the source interest and the prior help; a peak at α = 1 would say the prior only adds noise.

# %%
curve = fusion.history_.get("alpha_curve")
if curve:
    alphas = [float(a) for a in curve]
    plots.curve(alphas, list(curve.values()), "Fusion: cold_valid NDCG@10 against α", "α", "NDCG@10 (cold_valid)",
                mark_x=fusion.history_.get("alpha")).show()
else:
    print(f"mode={fusion.mode!r}: α is not tuned on a grid (fixed α = {fusion.alpha}, or learned per user below).")

# %% [markdown]
# **The blend as code.** Inside the model both vectors are whitened first, $z = (u - m)\,W$. BERT vectors are
# anisotropic (notebook 09: a mean cosine of about 0.4 between random items), so with one global scale a few
# directions would carry almost all of the signal. ZCA whitening with shrinkage ε (`whiten`, default 0.01) rescales
# every direction of the covariance $\Sigma = V \mathrm{diag}(\lambda) V^\top$ to about the same size:
#
# $$W = V\,\mathrm{diag}\!\left(\frac{1}{\sqrt{\lambda + \varepsilon\bar\lambda}}\right) V^\top \Big/ c,$$
#
# with $c$ the RMS norm of the whitened rows, fitted on the source interest vectors and warm users' target ones.
# A cold user's $z_t$ is the target prior (or the ridge map of $z_s$). Then $u'' = \alpha z_s + (1 - \alpha) z_t$
# with the chosen α. Below, $W$ by hand from the eigendecomposition, then the blend: numpy on the fitted model's
# buffers gives the vectors the scorer receives.

# %%
m = fusion.module_
arr = lambda t: t.detach().cpu().numpy()                  # torch tensor -> numpy
if fusion.whiten is not None:
    rows = np.vstack([data.U_s, data.U_t[data.warm_idx]]).astype(np.float64)
    xc = rows - rows.mean(0)
    lam, V = np.linalg.eigh(xc.T @ xc / len(rows))
    lam = np.maximum(lam, 0)
    W = (V / np.sqrt(lam + fusion.whiten * lam.mean() + 1e-12)) @ V.T
    W /= np.sqrt(((xc @ W) ** 2).sum(1).mean())           # c: unit RMS norm after whitening
    np.testing.assert_allclose(W, m.norm.matrix(), rtol=1e-3, atol=1e-3 * np.abs(W).max())
    print(f"W by hand = m.norm.matrix(); eigenvalues of Σ span {lam.max() / max(lam.min(), 1e-12):.1e}x")
idx = data.cold_test_idx[:5]
z_s = (data.U_s[idx] - arr(m.norm.mean)) @ m.norm.matrix()  # z = (u - m) W
z_t = (z_s - arr(m.fill.mean_s)) @ arr(m.fill.weight) + arr(m.fill.prior) if fusion.fill == "mapped" else arr(m.fill.prior)
alpha = fusion.alpha_ if fusion.alpha_ is not None else fusion.alpha_values(data, idx)[:, None]  # learned: per user
u_fused = alpha * z_s + (1 - alpha) * z_t
np.testing.assert_allclose(u_fused, fusion.interest_vectors(data, idx), rtol=1e-5, atol=1e-6)
print(f"u'' of {len(idx)} cold users by hand = fusion.interest_vectors (α = {np.mean(alpha):.2f})")

# %% [markdown]
# ## 6. Move α yourself
#
# Drag the slider (or focus it and use the arrow keys). Above the slider's list: the cold_valid NDCG@10 at that α,
# computed live with `Fusion.score_at` (cached per step of 0.05); below, one cold_test user's top 10 with ✔ on the
# items that are in their hidden target positives, and how each item moved compared with the tuned α.
# When the notebook runs headless (papermill, the HTML report) you see the static version instead: the curve,
# and the user's top 10 at α = 0, the tuned α and α = 1.

# %%
view = widgets.alpha_slider(ctx)

# %% [markdown]
# ## 7. Fusion at the score level
#
# Vector fusion blends two *interest vectors* before one scorer. **Score fusion** (method `score_fusion`) blends
# two fitted *methods* after scoring: here the VAE (05) and the kernel map (a kernel ridge map of the source
# history onto target items). Their scores live on different scales (a softmax logit, a ridge prediction), so each
# is first standardised per user over the target catalogue,
#
# $$z(s)_{ui} = \frac{s_{ui} - \operatorname{mean}_j s_{uj}}{\operatorname{sd}_j s_{uj}}, \qquad
#   s_{ui} = \alpha\, z(s_A)_{ui} + (1 - \alpha)\, z(s_B)_{ui},$$
#
# and α is chosen on cold_valid, as for vector fusion. The two components are the run's own fitted models.

# %%
score_fusion = pipeline.ensure_method(ctx, "score_fusion")    # fits its components first when needed
first, second = score_fusion.models_
idx = data.cold_valid_idx[:50]

def z(s):                                                    # per-user z-scores over the catalogue
    s = np.asarray(s, dtype=np.float64)
    return (s - s.mean(axis=1, keepdims=True)) / s.std(axis=1, keepdims=True)

a = score_fusion.alpha_
blend = a * z(first.score(data, idx)) + (1 - a) * z(second.score(data, idx))
np.testing.assert_allclose(blend, score_fusion.score(data, idx), rtol=1e-4, atol=1e-4)
print(f"score fusion = {a:.2f}·z({first.name}) + {1 - a:.2f}·z({second.name}): same scores as score_fusion.score")

# %%
sf_curve = score_fusion.history_["alpha_curve"]
plots.curve([float(a) for a in sf_curve], list(sf_curve.values()),
            f"Score fusion: cold_valid NDCG@10 against α (α = 1: {first.name} only, α = 0: {second.name} only)",
            "α", "NDCG@10 (cold_valid)", mark_x=score_fusion.alpha_).show()
pipeline.valid_report(ctx, {"fusion (vectors)": fusion, "score_fusion": score_fusion,
                            first.name: first, second.name: second})

# %% [markdown]
# **When does score fusion beat vector fusion?** When the two things it blends are *different models that are each
# good and make different mistakes*: the VAE learns from which source items a user rated, the kernel map from how
# similar their source history is to other users'. If the α curve peaks strictly inside (0, 1), the blend beats both
# ends, i.e. both components. Vector fusion cannot combine model families: it mixes two points of one BERT space and
# needs one scorer trained for the mix. Score fusion costs two fitted models and one α per run (not per user); per-user
# z-scores make the scales comparable but assume each model's scores are spread alike over the catalogue. When one
# component is much weaker, α moves to the end of the strong one and nothing is gained.

# %% [markdown]
# **The kernel map, by hand.** It predicts a cold-start user's target scores from the warm users whose source
# history looks like theirs: $s_u = k(u, W)\,A$ with $A = (K_{WW} + \lambda I)^{-1} Y_W$. Two users who rated
# *Alien* and *Aliens* share no item, so the plain cosine calls them strangers; the map therefore also compares
# *smoothed* rows $\tilde x = x S$, where $S$ is EASE's item–item model of the warm users' source rows,
#
# $$S = I - P\,\operatorname{diag}(1/\operatorname{diag} P),\quad P = (X_W^\top X_W + \lambda_s I)^{-1},\qquad
#   k(u, v) = \Big(\frac{\cos(x_u, x_v) + w \cos(\tilde x_u, \tilde x_v)}{1 + w}\Big)^2$$
#
# ($\lambda_s$ = `transfer.kernel_map.smoothing`, chosen on cold_valid with `benchmarks/kernel_map_grid.py`). When the
# data has **user features** (MovieLens: gender, age group, occupation; one-hot, each row $f_u$ L2-normalised), the
# kernel also adds $\gamma\,(f_u^\top f_v)^2$: two users of the same age group and occupation then look a little
# alike even when their histories do not, and cold-start users have these features too ($\gamma$ =
# `transfer.kernel_map.user_feature_weight`, chosen on cold_valid with `benchmarks/user_features_grid.py`). The
# lines below build $S$ and the scores of a few cold_valid users and check them against the fitted map.

# %%
km = next((m for m in score_fusion.models_ if m.name == "kernel_map"), None)
if km is None or km.smoothing is None or "S" not in km.arrays_ or km.meta_["landmarks"] is not None:
    print("the kernel map here is not the exact smoothed map (see transfer.kernel_map): nothing to check by hand")
else:
    warm, users = data.warm_idx, data.cold_valid_idx[:20]
    x_w = data.source_matrix("both", warm).astype(np.float64)            # [positives | rated at all]
    P = np.linalg.inv((x_w.T @ x_w).toarray() + km.smoothing * np.eye(x_w.shape[1]))
    S = np.eye(x_w.shape[1]) - P / np.diag(P)                            # EASE, then a zero diagonal
    np.fill_diagonal(S, 0.0)
    S = S.astype(np.float32).astype(np.float64)                          # the map stores S in float32

    def unit(m):
        m = np.asarray(m.todense() if hasattr(m, "todense") else m)
        return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-300)

    x_u = data.source_matrix("both", users).astype(np.float64)
    w = km.smoothing_weight
    k = ((unit(x_u) @ unit(x_w).T + w * unit(x_u @ S) @ unit(x_w @ S).T) / (1 + w)) ** km.power
    if "w_feat" in km.arrays_:                                           # + γ·(f_u·f_v)^2 on the user features
        f_u, f_w = (data.user_features[i].astype(np.float64) for i in (users, warm))
        k = k + km.user_feature_weight * (f_u @ f_w.T) ** km.power
    np.testing.assert_allclose(S, km.arrays_["S"], atol=1e-6)
    np.testing.assert_allclose(k @ km.arrays_["A"].astype(np.float64), km.score(data, users), rtol=1e-4, atol=1e-5)
    feats = f"γ = {km.user_feature_weight:g} on the user features" if "w_feat" in km.arrays_ else "no user features"
    print(f"S ({S.shape[0]} × {S.shape[1]} source columns, λ_s = {km.smoothing:g}; {feats}) and the scores of "
          f"{len(users)} cold_valid users by hand = the fitted kernel map's")

# %% [markdown]
# ## 8. A learned gate: α per user
#
# `mode="learned"` replaces the single α with a tiny gate $\alpha_u = \sigma(w^\top \varphi_u + b)$ on the user's
# standardised log history lengths $\varphi_u$ = (log(1 + #source positives), log(1 + #target positives)). A cold
# user has no target positives, so their α can only depend on how much source history they have. This is a short
# demonstration fit (a few epochs, same data); it is skipped on large data where it would take more than about
# 30 seconds.

# %%
small = data.n_users * data.n_target <= 2_000_000  # ML-100K: ~0.6M; ML-1M: ~8.9M (the fit takes minutes there)
if small:
    params = {**pipeline.method_params(cfg, "fusion"), "mode": "learned", "epochs": 15, "progress": True}
    t0 = time.perf_counter()
    learned = make_method("fusion", **params).fit(data)
    print(f"learned gate fitted in {time.perf_counter() - t0:.1f} s; "
          f"mean α on cold_valid = {learned.history_['alpha_mean_cold_valid']:.3f}")
    idx = np.concatenate([data.warm_idx, data.cold_valid_idx, data.cold_test_idx])
    frame = pd.DataFrame({"α": learned.alpha_values(data, idx), "source positives": data.n_source_pos[idx],
                          "target positives": data.n_target_pos[idx], "role": data.roles[idx]})
    px.scatter(frame, x="source positives", y="α", color="role", log_x=True, opacity=0.6,
               hover_data=["target positives"], title="Learned α per user against source-history length").show()
    display(frame.groupby("role")["α"].describe().round(3))
else:
    print(f"skipped: {data.n_users} users × {data.n_target} items is too large for a quick demonstration fit; "
          "set transfer.fusion.mode: learned in the config to fit it as the main fusion model.")

# %% [markdown]
# ## 9. Cold_valid check against Pop and zero-shot BERT
#
# (Final numbers on cold_test are in notebook 06.)

# %%
baselines = pipeline.ensure_methods(ctx, ["pop", "zero_shot"], progress=False)
pipeline.valid_report(ctx, {**baselines, "fusion": fusion})

# %% [markdown]
# ## 10. What you should now understand
#
# - Fusion $u'' = \alpha u_s + (1-\alpha) u_t$ is the simplest transfer: a blend, then a learned scorer.
# - A cold-start user has no $u_t$; the target prior (warm mean) or a map of $u_s$ stands in, and that choice is
#   documented in the method (`fill`).
# - α is chosen on cold_valid from the whole α curve; the curve shows how much the source interest is worth.
# - A learned gate can give each user their own α from how much history they have.
# - Score fusion blends two fitted methods' per-user z-scored scores, $\alpha z(s_A) + (1-\alpha) z(s_B)$; it helps
#   when the two are strong and complementary, which vector fusion (one BERT space, one scorer) cannot exploit.
#
# **Further reading.** Zhu et al., *Cross-Domain Recommendation: Challenges, Progress, and Prospects*
# (IJCAI 2021 survey); Man et al., *EMCDR* (IJCAI 2017); Zhu et al., *PTUPCDR:
# personalized transfer of user preferences* (WSDM 2022); Covington et al., *Deep Neural Networks for YouTube
# Recommendations* (RecSys 2016, two-tower scoring).
