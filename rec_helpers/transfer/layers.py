"""Small torch building blocks shared by the trained methods."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


class Standardize(nn.Module):
    """Fixed affine map y = (x − m) W fitted on training rows (buffers, saved with the model).

    ``whiten=None``: W = I / c with c the RMS norm of x − m, so rows come out centred with unit
    norm on average (BERT mean vectors differ from each other only slightly).
    ``whiten=ε`` (a shrinkage ≥ 0): ZCA whitening, W = V diag(1 / √(λ + ε·λ̄)) Vᵀ / c for the
    covariance Σ = V diag(λ) Vᵀ of x (λ̄ its mean eigenvalue, c the RMS norm after whitening).
    Why: BERT vectors are anisotropic (mean cosine 0.44 between random MiniLM items), so with
    one global scale a few directions carry almost all of the input and the towers see a nearly
    low-rank signal; whitened, every direction of the text space counts (random vectors, already
    isotropic, are left about as they are). ε keeps near-empty directions from being blown up.
    """

    def __init__(self, dim: int, whiten: float | None = None) -> None:
        super().__init__()
        self.whiten = whiten
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(()))
        if whiten is not None:
            self.register_buffer("white", torch.eye(dim))

    @torch.no_grad()
    def fit(self, x: np.ndarray) -> "Standardize":
        x = np.asarray(x, dtype=np.float64)
        m = x.mean(axis=0)
        xc = x - m
        self.mean.copy_(torch.as_tensor(m, dtype=torch.float32))
        if self.whiten is not None:
            lam, v = np.linalg.eigh(xc.T @ xc / max(1, len(x)))
            lam = np.maximum(lam, 0.0)
            w = (v / np.sqrt(lam + self.whiten * lam.mean() + 1e-12)) @ v.T
            xc = xc @ w
            self.white.copy_(torch.as_tensor(w, dtype=torch.float32))
        c = np.sqrt((xc ** 2).sum(axis=1).mean())
        self.scale.fill_(float(c) if c > 0 else 1.0)
        return self

    def matrix(self) -> np.ndarray:
        """W of y = (x − m) W as a numpy array (dim × dim), for checking by hand."""
        w = self.white.cpu().numpy() if self.whiten is not None else np.eye(len(self.mean), dtype=np.float32)
        return w / float(self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x - self.mean
        return (x @ self.white if self.whiten is not None else x) / self.scale


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
