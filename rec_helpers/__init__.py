"""rec_helpers: the logic behind the cross-domain interest-transfer notebook suite.

Glossary (one name per concept, in the code and the notebooks):

- **source / target**: the domain interest comes from / is carried to; a time-split item in both is ``both``.
- **catalogue**: a domain's items (``catalog_coverage`` / ``catalog_size`` keep Microsoft Recommenders'
  spelling; metrics.json says ``coverage@k``).
- **e_i**: an item's BERT vector; **u_s / u_t**: one user's source / target interest vector;
  **U_s / U_t**: every user's, as matrices (``Embeddings``, ``TransferData``, ``embeddings/U_s.npy``).
- **role**: warm, cold_valid or cold_test; ``split.cold_test_frac`` is the cold_test share.
- **population**: who an evaluation covers, ``cold_test`` (headline) or ``warm``; a **segment** is a
  bucket of users inside it (history size, item popularity).
- **method**: a registered name (``"fusion"``); **model**: a fitted one (``pipeline.ensure_methods``
  fits methods and returns models).
- **α**: the source side's weight in fusion (vectors or scores); **θ**: the adapter's gate; **β**: the
  VAE's KL weight only, never the cold_test share.
- **headline metric**: ``constants.HEADLINE`` (NDCG@10): reported first, compared, tuned on cold_valid.
- **text control**: a method refitted on random unit vectors instead of BERT's (``<method>__random``).
- A bad parameter raises ``ConfigError``, bad data ``DataValidationError``.
"""
from __future__ import annotations

import os as _os

__version__ = "0.1.0"

# Large torch tensors (>= 2 MB) on transparent huge pages: PyTorch's CPU allocator then page-aligns them
# and madvises them MADV_HUGEPAGE, so a fresh 80 MB gradient or logit block costs about 40 page faults
# instead of 20,000. Wide catalogues allocate such blocks every step (the 10^5-item benchmark spent 21 % of its
# CPU time in the kernel, 160 M minor faults); on 2 cores an 82 MB alloc + fill takes 23 ms instead of
# 59 ms. The arithmetic is unchanged. torch reads the variable once, at its first allocation, so it
# only takes effect when rec_helpers is imported before torch (the suite's kernels inherit it from
# ``rec-suite run``). Set THP_MEM_ALLOC_ENABLE=0 to opt out.
_os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
