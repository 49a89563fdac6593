"""Cross-domain interest transfer: data container, methods (fusion, adapter, VAE) and baselines.

>>> from rec_helpers.transfer import make_synthetic_data, make_method
>>> data = make_synthetic_data()
>>> model = make_method("cd_ridge").fit(data)
>>> recs = model.recommend(data, data.user_ids[data.cold_valid_idx], k=10)
"""
from __future__ import annotations

from rec_helpers.transfer.adapter import Adapter
from rec_helpers.transfer.base import TransferMethod, valid_ndcg
from rec_helpers.transfer.baselines import EMCDR, CDRidge, CDRidgeAll, KernelMap, Pop, ZeroShot
from rec_helpers.transfer.data import TransferData, make_synthetic_data
from rec_helpers.transfer.fusion import Fusion
from rec_helpers.transfer.score_fusion import ScoreFusion
from rec_helpers.transfer.ranking import mask_seen, ndcg_at_k, top_k
from rec_helpers.transfer.registry import (
    BASELINES, METHODS, TRANSFER_METHODS, load_method, make_method,
)
from rec_helpers.transfer.two_tower import TwoTowerScorer
from rec_helpers.transfer.vae import VAE

__all__ = [
    "Adapter", "BASELINES", "CDRidge", "CDRidgeAll", "EMCDR", "Fusion", "KernelMap", "METHODS",
    "Pop", "ScoreFusion", "TRANSFER_METHODS",
    "TransferData", "TransferMethod", "TwoTowerScorer", "VAE", "ZeroShot", "load_method",
    "make_method", "make_synthetic_data", "mask_seen", "ndcg_at_k", "top_k", "valid_ndcg",
]
