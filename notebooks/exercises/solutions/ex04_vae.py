"""Solution of ex04: the VAE's reparameterisation and KL term (numpy; rows = users)."""
import numpy as np


def reparameterise(mu: np.ndarray, logvar: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """z = mu + σ·eps with σ = exp(0.5·logvar)."""
    return mu + np.exp(0.5 * logvar) * eps


def kl_divergence(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """KL(N(mu, σ²) ‖ N(0, I)) per row: −0.5·Σ_j (1 + logvar − mu² − exp(logvar)), shape (n,)."""
    return -0.5 * np.sum(1.0 + logvar - mu**2 - np.exp(logvar), axis=1)
