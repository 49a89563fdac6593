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
# # 09 · Does the text earn its place? Frozen, whitened and fine-tuned BERT against random vectors
#
# **Learning goals.** After this notebook you can
#
# 1. measure the **anisotropy** of sentence vectors (the mean cosine between random item pairs) and say why it
#    hurts an interest vector that is a mean of item vectors,
# 2. write **whitening** $\hat e = \operatorname{normalise}((e - \mu)\,U\Lambda^{-1/2}U^\top)$ in a few lines,
# 3. explain **LoRA adapters inside BERT**: $W' = W + \tfrac{\alpha}{r} B A$ with rank $r \ll d$, trained on warm
#    users' target positives while the 22M base weights stay frozen,
# 4. judge every variant against its **control**: the same method fitted on random unit vectors of the same shape.
#
# **Intuition.** Random vectors are nearly orthogonal, so they behave like item IDs: a mean of them still says
# *which* items a user chose. BERT vectors say what the items are *about*, but they all lean one way, so a mean of
# them blurs the choice. The text earns its place only where it beats that control.

# %% [markdown]
# ## 1. Imports

# %%
import numpy as np
import pandas as pd
import plotly.express as px

from rec_helpers import pipeline, plots, text_variants, whitening

plots.setup_notebook()

# %% [markdown]
# ## 2. Parameters

# %% tags=["parameters"]
# Parameters: papermill and `rec-suite run` replace this cell's values.
run_dir = None                   # None -> runs/notebooks-<profile>-<hash>: one folder per parameter set
config = "configs/default.yaml"  # a YAML path (relative to the project root) or a resolved dict
profile = None                   # None reads $REC_SUITE_PROFILE; "smoke" runs on ML-100K in seconds
method = "adapter"               # the transfer method fitted on every variant (and on the control)

# %%
ctx = pipeline.start(run_dir, config, profile)
cfg = ctx.config
print(f"run folder: {ctx.run.display_path}")
print(f"dataset: {cfg['data']['dataset']}, split: {cfg['split']['kind']}, seed: {cfg['seed']}, profile: {cfg['profile']}")

# %% [markdown]
# ## 3. Anisotropy
#
# $\text{anisotropy} = \mathbb E_{i \ne j}\,\cos(e_i, e_j)$ over random item pairs: about 0 for random unit vectors.

# %%
emb = pipeline.ensure_embeddings(ctx)
E = emb.item_vectors.astype(np.float64)
rng = np.random.default_rng(0)
i, j = rng.integers(0, len(E), 20000), rng.integers(0, len(E), 20000)
keep = i != j
unit = E / np.linalg.norm(E, axis=1, keepdims=True)
by_hand = float(np.mean(np.sum(unit[i[keep]] * unit[j[keep]], axis=1)))
assert np.isclose(by_hand, whitening.mean_cosine(E, seed=0))
R = pipeline.random_unit_vectors(len(E), E.shape[1], ctx.seed)
print(f"mean cosine: BERT {by_hand:.3f}, random {whitening.mean_cosine(R):.3f}")

# %% [markdown]
# ## 4. Whitening, by hand and by the library
#
# $\mu = \operatorname{mean}(E)$, $\Sigma = \operatorname{cov}(E) = U \Lambda U^\top$, $W = U\Lambda^{-1/2}U^\top$ (ZCA),
# $\hat e = \operatorname{normalise}((e - \mu) W)$. It uses the item texts only, no interactions.

# %%
mu = E.mean(axis=0)
lam, U = np.linalg.eigh(np.cov(E - mu, rowvar=False))
W = U / np.sqrt(np.maximum(lam, 0) + 1e-6) @ U.T
white = (E - mu) @ W
white /= np.linalg.norm(white, axis=1, keepdims=True)
np.testing.assert_allclose(white, whitening.whiten(E, "zca"), atol=1e-4)
print(f"mean cosine after whitening: {whitening.mean_cosine(white):.4f}")

# %% [markdown]
# ## 5. Three encoder variants, one control
#
# For each variant the same split feeds the same method with the same seed; only the item vectors (and the
# interest vectors built from them) change. The fine-tuned variant trains LoRA adapters ($r = 8$ on the query and
# value projections) with a two-tower InfoNCE loss on warm users' target positives — never a cold user's target
# data — for a fixed number of steps (`encoder.finetune.steps`), and is cached by fingerprint, so a second run skips it.
# Δ = BERT − random on cold_test NDCG@10, with a paired bootstrap CI and Holm's p over the three variants.

# %%
table = text_variants.compare_text_variants(ctx, method)
table.round(4)

# %%
fig = px.bar(table.reset_index(), x="variant", y="delta",
             error_y=table["ci_high"] - table["delta"], error_y_minus=table["delta"] - table["ci_low"],
             title=f"{method}: BERT − random control, cold_test NDCG@10 (95% paired CI)")
fig.add_hline(y=0, line_dash="dot")
fig.show()
for name, row in table.iterrows():
    verdict = ("text wins" if row.delta > 0 else "control wins") if row.p_holm < 0.05 else "no significant difference"
    print(f"{name:>10}: BERT {row.bert:.4f} vs random {row.random:.4f} (Δ {row.delta:+.4f}, Holm p {row.p_holm:.3g}): {verdict}")

# %% [markdown]
# ## 6. What you should now understand
#
# - A control with the same shape as the BERT vectors separates what the *text* adds from what any item
#   identifier would add.
# - Mean-pooled sentence vectors are anisotropic; whitening removes the shared direction with a few lines of
#   linear algebra and no interactions.
# - LoRA trains a few ten-thousand weights inside BERT, so a CPU can adapt the item text tower to what target
#   users like; only the adapter weights are saved.
# - Read the verdicts above as they come: where the control wins, the text does not yet earn its place.
#
# **Further reading.** Su et al., *Whitening Sentence Representations* (2021); Hu et al., *LoRA* (ICLR 2022);
# Hou et al., *UniSRec* (KDD 2022), which whitens text vectors with a learned layer.
