"""Cross-domain interest transfer: data container, methods (fusion, adapter, VAE) and baselines.

>>> from rec_helpers.transfer import make_synthetic_data, make_method
>>> data = make_synthetic_data()
>>> model = make_method("cd_ridge").fit(data)
>>> recs = model.recommend(data, data.user_ids[data.cold_valid_idx], k=10)
"""
from __future__ import annotations

from .adapter import Adapter
from .base import TransferMethod, valid_ndcg
from .baselines import EMCDR, CDRidge, CDRidgeAll, CDRidgeFeatures, KernelMap, Pop, ZeroShot
from .data import TransferData, make_synthetic_data
from .fusion import Fusion
from .score_fusion import ScoreFusion
from .ranking import mask_seen, metric_at_k, ndcg_at_k, top_k
from .registry import (
    BASELINES, METHODS, TRANSFER_METHODS, load_method, make_method,
)
from .two_tower import TwoTowerScorer
from .vae import VAE

__all__ = [
    "Adapter", "BASELINES", "CDRidge", "CDRidgeAll", "CDRidgeFeatures", "EMCDR", "Fusion", "KernelMap", "METHODS",
    "Pop", "ScoreFusion", "TRANSFER_METHODS",
    "TransferData", "TransferMethod", "TwoTowerScorer", "VAE", "ZeroShot", "load_method",
    "make_method", "make_synthetic_data", "mask_seen", "metric_at_k", "ndcg_at_k", "top_k", "valid_ndcg",
]
