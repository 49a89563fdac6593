"""Small torch building blocks shared by the trained methods."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Standardize(nn.Module):
    """Fixed affine map y = (x − m) / c with m the mean row and c the RMS norm of x − m.

    The statistics are buffers (saved with the model), so rows come out centred with
    unit norm on average: BERT mean vectors differ from each other only slightly.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(()))

    @torch.no_grad()
    def fit(self, x: np.ndarray) -> "Standardize":
        x = np.asarray(x, dtype=np.float64)
        m = x.mean(axis=0)
        c = np.sqrt(((x - m) ** 2).sum(axis=1).mean())
        self.mean.copy_(torch.as_tensor(m, dtype=torch.float32))
        self.scale.fill_(float(c) if c > 0 else 1.0)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.scale


class Tower(nn.Module):
    """t(x) = W x + W₂ GELU(W₁ x): a linear map plus a one-hidden-layer residual MLP."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)
        self.mlp = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_dim, hidden), nn.GELU(),
                                 nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + self.mlp(x)


def ridge_map(x: np.ndarray, y: np.ndarray, l2: float,
              dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form ridge y ≈ (x − m_x) W + m_y with W = (XᵀX + λI)⁻¹ Xᵀ Y on centred X, Y."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mx, my = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - mx, y - my
    w = np.linalg.solve(xc.T @ xc + l2 * np.eye(x.shape[1]), xc.T @ yc)
    return w.astype(dtype), mx.astype(dtype), my.astype(dtype)
