"""rec_helpers: the logic behind the cross-domain interest-transfer notebook suite.

Glossary: one name per concept, in the code and the notebooks.

- **source / target**: the domain a user's interest comes from / is carried to; an item of the
  time split in both catalogues has domain ``both`` (``constants.SOURCE``, ``TARGET``, ``BOTH``).
- **catalogue**: a domain's items (``catalog_coverage`` / ``catalog_size`` keep Microsoft
  Recommenders' spelling; metrics.json names the metric ``coverage@k``).
- **e_i**: an item's BERT vector. **u_s / u_t**: one user's source / target interest vector;
  **U_s / U_t**: every user's, as matrices (``Embeddings``, ``TransferData``, ``embeddings/U_s.npy``).
- **role**: warm, cold_valid or cold_test; ``split.cold_test_frac`` is the cold_test share.
- **population**: the users an evaluation covers, ``cold_test`` (headline) or ``warm``;
  a **segment** is a bucket of users inside a population (history size, item popularity).
- **method**: a registered name such as ``"fusion"``; **model**: a fitted method.
  ``pipeline.ensure_methods`` fits methods and returns their models.
- **α**: the weight of the source side in fusion (vectors or scores); **θ**: the adapter's gate;
  **β**: the VAE's KL weight only (never the cold_test share).
- **headline metric**: ``constants.HEADLINE`` (NDCG@10): reported first, compared, tuned on cold_valid.
- **text control**: a method refitted on random unit vectors instead of BERT's (``<method>__random``).
- Errors: a bad parameter raises ``ConfigError``, bad data ``DataValidationError``.
"""
from __future__ import annotations

__version__ = "0.1.0"
