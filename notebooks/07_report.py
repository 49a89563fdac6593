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
# # 07 · Report: one or more runs side by side
#
# **Learning goals.** After this notebook you can
#
# 1. collate several run folders (datasets, splits, cold_test fractions, methods) into one comparison,
# 2. read each method's cold-start NDCG@10 and Recall@10 with confidence intervals across runs,
# 3. produce a shareable HTML report with pseudonymised user ids.
#
# Run it on its own with papermill, e.g.
# `papermill notebooks/07_report.ipynb cmp.ipynb -p runs '["runs/default-A", "runs/time-B"]'`, or as
# `rec-suite compare runs/default-A runs/time-B --out cmp` (which also exports the HTML). Given `runs`, it only
# reads those finished run folders (nothing is built); with `runs = []` it reports on its own run folder.

# %% [markdown]
# ## 1. Imports

# %%
import pandas as pd
from IPython.display import Markdown, display

from rec_helpers import plots, report

plots.setup_notebook()

# %% [markdown]
# ## 2. Parameters
#
# `runs` lists finished run folders to compare (a list, or the JSON/YAML string `papermill -p runs '[...]'` passes);
# empty means this run only.

# %% tags=["parameters"]
# Parameters: papermill and `rec-suite run` replace this cell's values.
run_dir = None                   # None -> runs/notebooks-<profile>-<hash>: one folder per parameter set
config = "configs/default.yaml"  # a YAML path (relative to the project root) or a resolved dict
profile = None                   # None reads $REC_SUITE_PROFILE; "smoke" runs on ML-100K in seconds
runs = []                        # finished run folders to collate, e.g. ["runs/default-A", "runs/time-B"]

# %%
run_dirs = report.report_runs(runs, run_dir, config, profile)   # runs given: read only; else this run, evaluated
pd.DataFrame([report.run_summary(d) for d in run_dirs]).drop(columns="path")

# %% [markdown]
# ## 3. Cold-start results across runs

# %%
tidy = report.collate(run_dirs, "cold_test")
display(Markdown("**NDCG@10** (mean [95% CI])"))
display(report.comparison_table(tidy, "ndcg@10"))
display(Markdown("**Recall@10**"))
display(report.comparison_table(tidy, "recall@10"))

# %%
report.comparison_chart(tidy, "ndcg@10").show()
report.comparison_chart(tidy, "recall@20").show()

# %% [markdown]
# ## 4. What each run says
#
# Written from each run's `metrics.json`.

# %%
for d in run_dirs:   # each run against the reference its own config names
    display(Markdown(f"### {report.run_summary(d)['run']}\n\n" + report.run_discussion(d)))

# %% [markdown]
# ## 5. Privacy
#
# Reports and exported rankings name users by a salted hash (`report.pseudonymise`, on by default), never by
# their dataset id. A MovieLens id space is small: an unsalted hash could be reversed by hashing every id, so the
# salt (`report.salt`) must stay private if the real mapping matters. Aggregates (means over hundreds of users)
# carry no user id at all.

# %% [markdown]
# ## 6. What you should now understand
#
# - A run folder holds everything needed to rebuild its numbers; the report only reads `metrics.json` and
#   `manifest.json`.
# - Comparisons across runs (datasets, splits, cold_test fractions) are only fair on the same protocol: full ranking, cold_test users,
#   the same metrics with their CIs.
#
# **Further reading.** papermill's documentation on parameterising notebooks; Zhu et al., *PTUPCDR* (WSDM 2022)
# for cold-start comparisons with 20/50/80% cold_test users.
