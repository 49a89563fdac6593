"""Solution of ex02: fusion of source and target interest."""
import numpy as np


def fuse(u_s: np.ndarray, u_t: np.ndarray, alpha: float) -> np.ndarray:
    """u'' = α·u_s + (1 − α)·u_t, for one vector or an (n, d) batch (one user per row)."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return alpha * u_s + (1.0 - alpha) * u_t
