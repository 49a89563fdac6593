"""Adapter: u' = u_t + θ ⊙ (A(u_s) − u_t), scored by the two-tower scorer.

A(x) = x + W_up·GELU(W_down·x) is a Houlsby-style residual bottleneck (W_up starts at zero,
so A starts as the identity). θ ∈ (0, 1) is a learned gate:
- ``scalar``: θ = σ(ρ), one number;
- ``vector``: θ = σ(ρ) ∈ (0, 1)^d, one gate per dimension;
- ``user``: θ_u = σ(w·[φ_u, u_s] + b), one number per user from the standardised log
  history lengths φ_u and the source interest.
Cold users' u_t is the warm prior (or the mapped u_s, ``fill="mapped"``). The adapter and
the scorer are trained end-to-end on warm users with the recommender's loss, with warm
users' inputs built as at cold time (see ``InterestMethod``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .base import check_choice, check_range
from .data import TransferData
from .two_tower import N_FEATURES, InterestMethod

GATES = ("scalar", "vector", "user")


class ResidualBottleneck(nn.Module):
    """A(x) = x + W_up·GELU(W_down·x), W_up initialised at zero (A starts as the identity)."""

    def __init__(self, dim: int, bottleneck: int) -> None:
        super().__init__()
        self.down = nn.Linear(dim, bottleneck)
        self.up = nn.Linear(bottleneck, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(nn.functional.gelu(self.down(x)))


class AdapterTransfer(nn.Module):
    """u' = z_t + θ ⊙ (A(z_s) − z_t) with θ from a scalar, vector or per-user gate."""

    def __init__(self, dim: int, bottleneck: int, gate: str, gate_init: float,
                 n_features: int = N_FEATURES) -> None:
        super().__init__()
        self.adapter = ResidualBottleneck(dim, bottleneck)
        self.gate_type = gate
        if gate == "user":
            self.gate = nn.Linear(n_features + dim, 1)
            nn.init.zeros_(self.gate.weight)
            nn.init.constant_(self.gate.bias, gate_init)
        else:
            self.rho = nn.Parameter(torch.full((1 if gate == "scalar" else dim,), float(gate_init)))

    def theta(self, z_s: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        """θ, shape (n, 1) for scalar/user gates or (n, d) for the vector gate."""
        if self.gate_type == "user":
            return torch.sigmoid(self.gate(torch.cat([feats, z_s], dim=1)))
        return torch.sigmoid(self.rho).expand(z_s.shape[0], -1)

    def forward(self, z_s: torch.Tensor, z_t: torch.Tensor, feats: torch.Tensor) -> torch.Tensor:
        return z_t + self.theta(z_s, feats) * (self.adapter(z_s) - z_t)


class Adapter(InterestMethod):
    """Adapter transfer u' = u_t + θ ⊙ (A(u_s) − u_t), trained end-to-end with the scorer."""

    name = "adapter"

    def __init__(self, bottleneck: int = 64, gate: str = "vector", gate_init: float = 0.0,
                 **training) -> None:
        """``training``: the trainer parameters of :class:`~.two_tower.InterestTraining`."""
        super().__init__(**training)
        check_range("bottleneck", bottleneck, 0, lo_open=True)
        check_choice("gate", gate, GATES)
        self.bottleneck, self.gate, self.gate_init = int(bottleneck), gate, float(gate_init)

    def _transfer_module(self) -> nn.Module:
        return AdapterTransfer(self.meta_["dim"], self.bottleneck, self.gate, self.gate_init)

    @property
    def theta_(self) -> np.ndarray | None:
        """Learned θ for the scalar (shape (1,)) or vector (shape (d,)) gate; None for "user"."""
        self._check_fitted()
        transfer = self.module_.transfer
        if self.gate == "user":
            return None
        return torch.sigmoid(transfer.rho).detach().cpu().numpy()

    @torch.no_grad()
    def gate_values(self, data: TransferData, user_idx: np.ndarray) -> np.ndarray:
        """θ per user: (n, 1) for scalar/user gates, (n, d) for the vector gate."""
        self._check_fitted(data)
        self.module_.eval()
        u_s, _, counts, present = self._batch(data, user_idx)
        model = self.module_
        return model.transfer.theta(model.norm(u_s), model.features(counts, present)).cpu().numpy()
