"""The shared training loop's early stopping: ``patience`` epochs and ``patience_updates`` updates."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rec_helpers.transfer.training import train_loop


def _run(curve: list[float], *, n_train: int, batch_size: int, patience: int, patience_updates: int) -> dict:
    """Train a one-weight module for len(curve) epochs at most; epoch e's cold_valid score is curve[e]."""
    module = nn.Linear(1, 1)
    scores = iter(curve)

    def loss_fn(batch: np.ndarray, step: int) -> torch.Tensor:
        return module(torch.ones(len(batch), 1)).pow(2).mean()

    return train_loop(module, loss_fn, np.arange(n_train), lambda: next(scores), epochs=len(curve),
                      batch_size=batch_size, lr=1e-3, weight_decay=0.0, patience=patience, seed=0,
                      progress=False, patience_updates=patience_updates)


# the best epoch is the 2nd; every later epoch is worse
CURVE = [0.1, 0.5, 0.4, 0.3, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]


@pytest.mark.parametrize("n_train, batch_size, patience_updates, epochs_run", [
    (10, 5, 0, 5),      # 2 updates an epoch: 3 epochs without gain stop it at epoch 5
    (10, 5, 6, 5),      # 3 epochs are 6 updates: the update rule asks for no more
    (10, 5, 10, 7),     # 10 updates without gain need 5 epochs of 2 updates: stop at epoch 7
    (30, 5, 10, 5),     # 6 updates an epoch: 3 epochs (18 updates) already exceed 10
    (10, 5, 1000, 12),  # never met: runs every epoch, then restores the best
])
def test_patience_counts_epochs_and_updates(n_train, batch_size, patience_updates, epochs_run):
    hist = _run(CURVE, n_train=n_train, batch_size=batch_size, patience=3, patience_updates=patience_updates)
    assert hist["epochs_run"] == epochs_run
    assert hist["best_epoch"] == 2
    assert hist["stopped_early"] == (epochs_run < len(CURVE))


@pytest.mark.parametrize("patience_updates, epochs_run", [(0, 2), (10**6, 4)])
def test_the_vae_passes_patience_updates_to_the_loop(monkeypatch, patience_updates, epochs_run):
    """A flat cold_valid curve: patience 1 alone stops after epoch 2; with many updates required it runs all 4."""
    from rec_helpers.transfer import VAE, make_synthetic_data

    monkeypatch.setattr(VAE, "_valid_metric", lambda self, data: 0.5)
    vae = VAE(hidden=8, latent_dim=4, epochs=4, patience=1, patience_updates=patience_updates, progress=False)
    assert vae.fit(make_synthetic_data()).history_["epochs_run"] == epochs_run
