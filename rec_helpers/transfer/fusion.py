"""Fusion: u'' = α·u_s + (1−α)·u_t, scored by the two-tower scorer.

Cold users have no u_t: it is filled with the warm users' mean u_t ("prior", default) or a
ridge map of u_s ("mapped"); see :class:`~rec_helpers.transfer.two_tower.InterestMethod`.
Training uses that same cold-time construction for warm users against their target
positives, so the scorer learns from inputs shaped like the ones it sees for cold users.

Modes of α:
- ``fixed``: α = ``alpha`` in training and scoring.
- ``tuned`` (default): one scorer is trained with α ~ U(0, 1) drawn per user and step (so it
  works for any α); then α is picked from ``alpha_grid`` by NDCG@10 on cold_valid, and the
  whole α → NDCG@10 curve is kept in ``history_["alpha_curve"]``. Early stopping watches
  the best α of the grid after each epoch.
- ``learned``: α_u = σ(w·φ_u + b) per user from standardised log history lengths
  φ_u = (log(1+|source positives|), log(1+|target positives|)), trained end-to-end.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..errors import ConfigError
from .base import check_choice, check_grid, check_range, scan_grid
from .data import TransferData
from .two_tower import N_FEATURES, InterestMethod

FUSION_MODES = ("fixed", "tuned", "learned")
DEFAULT_ALPHA_GRID = tuple(round(a, 2) for a in np.linspace(0.0, 1.0, 11))


class FusionTransfer(nn.Module):
    """u'' = α ⊙ z_s + (1 − α) ⊙ z_t with α per row (see the module docstring for the modes)."""

    def __init__(self, mode: str, alpha: float, n_features: int = N_FEATURES) -> None:
        super().__init__()
        self.mode = mode
        self.register_buffer("alpha", torch.tensor(float(alpha)))
        if mode == "learned":
            self.gate = nn.Linear(n_features, 1)
            nn.init.zeros_(self.gate.weight)
            a = min(max(alpha, 1e-3), 1 - 1e-3)
            nn.init.constant_(self.gate.bias, float(np.log(a / (1 - a))))

    def alphas(self, feats: torch.Tensor) -> torch.Tensor:
        """α per row, shape (n, 1)."""
        n = feats.shape[0]
        if self.mode == "learned":
            return torch.sigmoid(self.gate(feats))
        if self.mode == "tuned" and self.training:
            return torch.rand(n, 1, device=feats.device)
        return self.alpha.expand(n, 1)

    def forward(self, z_s: torch.Tensor, z_t: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        a = self.alphas(feats)
        return a * z_s + (1.0 - a) * z_t


class Fusion(InterestMethod):
    """Fusion u'' = α·u_s + (1−α)·u_t; α fixed, tuned on cold_valid, or learned per user."""

    name = "fusion"

    def __init__(self, mode: str = "tuned", alpha: float = 0.5,
                 alpha_grid: Sequence[float] = DEFAULT_ALPHA_GRID, alpha_scan: str = "epoch", **training) -> None:
        """``training``: the trainer parameters of :class:`~.two_tower.InterestTraining`.
        ``alpha_scan`` (mode "tuned"): "epoch" scores every α after each epoch for early stopping;
        "end" trains at ``alpha`` and scans the grid once after training (len(grid)× cheaper
        validation, for large catalogues)."""
        super().__init__(**training)
        check_choice("mode", mode, FUSION_MODES)
        check_choice("alpha_scan", alpha_scan, ("epoch", "end"))
        self.alpha_scan = alpha_scan
        check_range("alpha", alpha, 0, 1)
        self.mode, self.alpha, self.alpha_grid = mode, float(alpha), check_grid("alpha_grid", alpha_grid, 0, 1)

    def _transfer_module(self) -> nn.Module:
        alpha = self.meta_.get("alpha", self.alpha)
        return FusionTransfer(self.mode, alpha)

    # --- α tuned on cold_valid ----------------------------------------------------------
    def _alpha_scan(self, data: TransferData):
        """scan_grid over α on cold_valid NDCG@10 (same trained scorer); leaves the best α set."""
        with self._cached_items(data):
            return scan_grid(self.alpha_grid, self.module_.transfer.alpha.fill_,
                             lambda: InterestMethod._valid_metric_cached(self, data))

    def _valid_metric_cached(self, data: TransferData) -> float | None:
        if self.mode != "tuned" or self.alpha_scan == "end":
            return super()._valid_metric_cached(data)
        keep = float(self.module_.transfer.alpha)  # training goes on with its own α
        best = self._alpha_scan(data)[2]
        self.module_.transfer.alpha.fill_(keep)
        return best

    def _after_training(self, data: TransferData) -> None:
        if self.mode == "learned":
            alphas = self.alpha_values(data, data.cold_valid_idx)
            self.history_["alpha_mean_cold_valid"] = float(alphas.mean()) if len(alphas) else None
            return
        chosen = self.alpha
        if self.mode == "tuned":
            best_a, self.history_["alpha_curve"], best = self._alpha_scan(data)
            chosen = self.alpha if best is None else best_a
        self.module_.transfer.alpha.fill_(chosen)
        self.meta_["alpha"] = float(chosen)
        self.history_["alpha"] = float(chosen)

    @property
    def alpha_(self) -> float | None:
        """The α used at scoring time (fixed/tuned modes); None for "learned" (see alpha_values)."""
        self._check_fitted()
        if self.mode == "learned":
            return None
        return float(self.meta_.get("alpha", float(self.module_.transfer.alpha)))  # the grid value, not its float32

    @torch.no_grad()
    def alpha_values(self, data: TransferData, user_idx: np.ndarray) -> np.ndarray:
        """α per user (constant unless mode="learned"), for plotting."""
        self._check_fitted(data)
        self.module_.eval()
        _, _, counts, present = self._batch(data, user_idx)
        feats = self.module_.features(counts, present)
        return self.module_.transfer.alphas(feats).squeeze(1).cpu().numpy()

    @torch.no_grad()
    def score_at(self, data: TransferData, user_idx: np.ndarray, alpha: float) -> np.ndarray:
        """Scores over the target catalogue (len(user_idx) × n_target) with α overridden for this call.

        Same path as :meth:`score` with every user's α set to ``alpha`` (also in "learned"
        mode, whose gate is bypassed); the fitted α and mode are restored afterwards, so
        the call has no side effect and the same inputs give the same scores.
        """
        try:
            value = float(alpha)
        except (TypeError, ValueError):
            raise ConfigError(f"alpha={alpha!r} is not a number; pick a value in [0, 1].") from None
        check_range("alpha", value, 0, 1)
        self._check_fitted(data)
        transfer = self.module_.transfer
        keep_alpha, keep_mode = transfer.alpha.clone(), transfer.mode
        try:
            transfer.mode = "fixed"
            transfer.alpha.fill_(value)
            return self.score(data, user_idx)
        finally:
            transfer.mode = keep_mode
            transfer.alpha.copy_(keep_alpha)
