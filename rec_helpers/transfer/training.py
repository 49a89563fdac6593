"""The one training loop (with early stopping) used by every trained model, and its helpers.

``TorchMethod`` adds the shared torch plumbing: seeds, device, the loop, batched scoring
and state_dict persistence. Early stopping watches NDCG@10 on cold_valid users.
"""
from __future__ import annotations

import contextlib
import sys
import time
from typing import Callable, Iterator

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from ..constants import DEFAULT_SEED, DEFAULT_THREADS
from ..errors import ConfigError
from .base import (TransferMethod, check_choice, check_range, check_threads, compute_threads, item_matrix,
                   new_item_parameters, valid_ndcg)
from .data import TransferData

LossFn = Callable[[np.ndarray, int], torch.Tensor]  # (batch user indices, global step) -> loss
DEVICES = ("auto", "cpu", "cuda")
SCORE_BATCH = 2048  # users per forward pass when scoring
# Source rows wider than this are fed as sparse tensors (same model, cost ∝ non-zeros); ML-1M's
# 1,822 columns stay dense, so its numbers do not move.
SPARSE_INPUT_WIDTH = 16_384
# Models with this many parameters or more step with the fused AdamW kernel (one pass over each
# tensor) instead of the per-tensor loop (about a dozen passes): 0.025 s against 0.22 s a step for
# a 20.5M-parameter VAE at 10⁵ items on 2 cores. The same update up to rounding; ML-1M's models
# (at most 1.6M parameters) stay on the loop, so their figures do not move.
FUSED_ADAMW_MIN_PARAMS = 4_000_000


def _set_deterministic(mode: bool, warn_only: bool) -> None:
    """torch.use_deterministic_algorithms without its import of torch._inductor (2.4 s, once per process,
    to set a flag of the compiler that eager fits never use); the public call when that is not possible."""
    if "torch._inductor.config" not in sys.modules and hasattr(torch._C, "_set_deterministic_algorithms"):
        torch._C._set_deterministic_algorithms(mode, warn_only=warn_only)
    else:
        torch.use_deterministic_algorithms(mode, warn_only=warn_only)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch for the block and turn on deterministic algorithms; restore both after."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    prev = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        _set_deterministic(True, warn_only=True)
        try:
            yield
        finally:
            _set_deterministic(prev, warn_only=prev_warn)


def resolve_device(device: str) -> torch.device:
    """``"auto"`` → cuda when available, else cpu."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device='cuda' but no GPU is visible; use device='auto' or 'cpu'.")
    return torch.device(device)


def multinomial_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Full-softmax cross-entropy −Σ_i x_ui log softmax(s_u)_i, averaged over users."""
    return -(F.log_softmax(logits, dim=1) * x).sum(dim=1).mean()


def multinomial_nll_rows(logits: torch.Tensor, x: sp.csr_matrix) -> torch.Tensor:
    """:func:`multinomial_nll` with the targets as sparse rows: the same loss, written as
    Σ_i x_ui · (logsumexp(s_u) − s_ui), which reads the logits only at the non-zeros of x.

    Why: the sampled softmax of a wide catalogue (the ``large`` profile) scores 1,024 users × about
    22,000 items a step at 10⁵ items; the dense form materialises x, log_softmax and their product at
    that size (and their gradients), each a fresh 90 MB array. Used for the sampled softmax only, so
    the full-softmax fits (ML-1M's) keep their exact arithmetic."""
    coo = x.tocoo()
    dev = logits.device
    rows = torch.as_tensor(coo.row, dtype=torch.long, device=dev)
    cols = torch.as_tensor(coo.col, dtype=torch.long, device=dev)
    values = torch.as_tensor(coo.data, dtype=logits.dtype, device=dev)
    mass = torch.zeros(logits.shape[0], dtype=logits.dtype, device=dev).index_add_(0, rows, values)
    picked = (logits[rows, cols] * values).sum()
    return ((mass * torch.logsumexp(logits, dim=1)).sum() - picked) / max(1, logits.shape[0])


def sampled_bce(logits: torch.Tensor, x: torch.Tensor, n_negatives: int) -> torch.Tensor:
    """BCE on positives plus ``n_negatives`` uniformly sampled non-positives per user.

    loss = −Σ_{i∈pos} log σ(s_ui) − Σ_{j∈neg} log(1 − σ(s_uj)), averaged over users.
    """
    rate = min(1.0, n_negatives / max(1, x.shape[1]))
    neg = (torch.rand(x.shape, device=x.device) < rate) & (x <= 0)
    pos_term = F.softplus(-logits) * (x > 0)
    neg_term = F.softplus(logits) * neg
    return (pos_term + neg_term).sum(dim=1).mean()


def softmax_sample(x: sp.csr_matrix, n_items: int, size: int | None) -> np.ndarray | None:
    """The target items one sampled-softmax step scores: every positive of the batch (rows of ``x``)
    plus ``size`` uniform draws from the catalogue (torch's seeded generator), sorted. None (the
    whole catalogue, the exact softmax) when ``size`` is None or not below ``n_items``.

    Why: a full softmax costs the item side over the whole catalogue in every batch; at 10⁵ items
    that is most of the training time. The sampled softmax keeps the positives and a uniform
    sample of negatives (no logQ correction is needed for uniform draws beyond a constant)."""
    if size is None or size >= n_items:
        return None
    draws = torch.randint(n_items, (int(size),)).numpy()
    return np.union1d(np.unique(x.indices), draws)


def rows_tensor(x: sp.csr_matrix, device: torch.device) -> torch.Tensor:
    """A batch of sparse rows (float32) as a dense tensor, or as a sparse COO tensor when wider than
    :data:`SPARSE_INPUT_WIDTH` columns (a wide source catalogue: cost ∝ non-zeros)."""
    if x.shape[1] > SPARSE_INPUT_WIDTH:
        x = sp.csr_matrix(x)  # shares the caller's arrays when x is CSR already
        if not x.has_canonical_format:
            x = x.copy()  # sum_duplicates works in place: never reorder the caller's matrix
            x.sum_duplicates()  # canonical CSR: rows in order, sorted unique columns = a coalesced COO
        coo = x.tocoo()
        return torch.sparse_coo_tensor(np.vstack([coo.row, coo.col]), coo.data.astype(np.float32), coo.shape,
                                       device=device, check_invariants=False, is_coalesced=True)
    return torch.as_tensor(x.toarray(), dtype=torch.float32, device=device)


def sparse_linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """x @ weight.T for a sparse COO batch ``x`` (n × in, rows in order, as :func:`rows_tensor` builds
    them) and a dense ``weight`` (out × in, nn.Linear's layout), by ``F.embedding_bag`` over the rows.

    Why not ``torch.sparse.mm(x, weight.T)``: on 2 CPU cores it is 7x slower, forward and backward,
    for a 1,024 × 80,000 batch of 520 non-zeros a row and a 256-wide weight (2.1 s against 0.28 s,
    measured 3 Dec 2026); the transposed copy of the weight that embedding_bag reads costs less than
    sparse.mm's own work on a weight in the wrong layout. Same sums, so the same values."""
    x = x.coalesce() if not x.is_coalesced() else x
    (rows, cols), values = x.indices(), x.values()
    offsets = torch.searchsorted(rows, torch.arange(x.shape[0], device=rows.device))
    return F.embedding_bag(cols, weight.T.contiguous(), offsets, mode="sum", per_sample_weights=values)


def make_adamw(module: nn.Module, lr: float, weight_decay: float, fused: bool) -> torch.optim.AdamW:
    """AdamW over ``module``'s parameters, with the fused kernel when ``fused`` and this torch has it
    for the parameters' device (CPU since torch 2.4); otherwise the per-tensor loop, the same update."""
    if fused:
        try:
            return torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
        except RuntimeError:  # torch < 2.4 on CPU: "fused=True requires ... supported devices"
            pass
    return torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)


def train_loop(
    module: nn.Module,
    loss_fn: LossFn,
    train_idx: np.ndarray,
    valid_fn: Callable[[], float | None] | None,
    *,
    epochs: int,
    batch_size: int | None,
    lr: float,
    weight_decay: float,
    patience: int,
    seed: int,
    progress: bool = True,
    desc: str = "fit",
    patience_updates: int = 0,
) -> dict:
    """Mini-batch AdamW over ``train_idx`` with early stopping on ``valid_fn()`` (higher = better).

    After each epoch ``valid_fn`` (NDCG@10 on cold_valid) is evaluated; training stops
    after ``patience`` epochs *and* at least ``patience_updates`` optimizer updates without
    improvement, and the best weights are restored. (With few training users an epoch is a
    couple of updates, so ``patience`` epochs alone can stop a model that is still learning.)
    Returns the history: per-epoch loss and validation curves, best epoch and timing.
    """
    rng = np.random.default_rng(seed)
    n_params = sum(p.numel() for p in module.parameters())
    opt = make_adamw(module, lr=lr, weight_decay=weight_decay, fused=n_params >= FUSED_ADAMW_MIN_PARAMS)
    bs = len(train_idx) if not batch_size else int(batch_size)
    hist: dict = {"loss": [], "valid_ndcg@10": [], "best_epoch": None,
                  "best_valid_ndcg@10": None, "epochs_run": 0, "stopped_early": False}
    best, best_state, bad, step, best_step = -np.inf, None, 0, 0, 0
    start = time.perf_counter()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=True)
    for epoch in bar:
        module.train()
        perm = rng.permutation(train_idx)
        total = 0.0
        for lo in range(0, len(perm), bs):
            batch = perm[lo:lo + bs]
            loss = loss_fn(batch, step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            total += float(loss.detach()) * len(batch)
        hist["loss"].append(total / max(1, len(perm)))
        hist["epochs_run"] = epoch + 1
        score = None
        if valid_fn is not None:
            module.eval()
            score = valid_fn()
        post = {"loss": f"{hist['loss'][-1]:.4g}"}
        if score is not None:
            hist["valid_ndcg@10"].append(float(score))
            post["ndcg@10"] = f"{score:.4f}"
            if score > best:
                best, bad, best_step = score, 0, step
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                hist["best_epoch"], hist["best_valid_ndcg@10"] = epoch + 1, float(score)
            else:
                bad += 1
                if bad >= patience and step - best_step >= patience_updates:
                    hist["stopped_early"] = True
                    bar.set_postfix(post)
                    break
        bar.set_postfix(post)
    bar.close()
    if best_state is not None:
        module.load_state_dict(best_state)
    else:
        hist["best_epoch"] = hist["epochs_run"]
    module.eval()
    hist["train_seconds"] = time.perf_counter() - start
    return hist


class TorchMethod(TransferMethod):
    """Shared torch plumbing: training hyper-parameters, seeding, device, batched scoring.

    Subclasses implement ``_prepare(data)`` (set ``meta_``), ``_build()`` (the ``nn.Module``
    from ``meta_``), ``_initialise(data)`` (fixed buffers), ``_loss_fn(data)`` and
    ``_forward_scores``; fit runs them in that order, then the shared :func:`train_loop`.
    """

    def __init__(self, *, epochs: int, batch_size: int | None, lr: float, weight_decay: float,
                 patience: int, seed: int = DEFAULT_SEED, device: str = "auto",
                 progress: bool = True, softmax_items: int | None = None,
                 threads: int | None = DEFAULT_THREADS, patience_updates: int = 0) -> None:
        super().__init__()
        self.threads = check_threads(threads)
        if softmax_items is not None:
            check_range("softmax_items", softmax_items, 1)
        self.softmax_items = None if softmax_items is None else int(softmax_items)
        check_range("epochs", epochs, 1)
        check_range("lr", lr, 0, lo_open=True)
        check_range("weight_decay", weight_decay, 0)
        check_range("patience", patience, 1)
        check_range("patience_updates", patience_updates, 0)
        if batch_size is not None:
            check_range("batch_size", batch_size, 1)
        check_choice("device", device, DEVICES)
        self.epochs, self.batch_size, self.lr = int(epochs), batch_size, float(lr)
        self.weight_decay, self.patience, self.seed = float(weight_decay), int(patience), int(seed)
        self.patience_updates = int(patience_updates)
        self.device, self.progress = device, bool(progress)
        self.module_: nn.Module | None = None

    # hooks -------------------------------------------------------------------------
    def _prepare(self, data: TransferData) -> None:
        """Set ``meta_`` (sizes, chosen values) and any fitted constants."""
        raise NotImplementedError

    def _build(self) -> nn.Module:
        raise NotImplementedError

    def _initialise(self, data: TransferData) -> None:
        """Set fixed buffers of the freshly built module from warm users (default: nothing)."""

    def _loss_fn(self, data: TransferData) -> LossFn:
        raise NotImplementedError

    def _forward_scores(self, data: TransferData, idx: np.ndarray) -> torch.Tensor:
        """Scores (len(idx) × n_target) with the module in eval mode."""
        raise NotImplementedError

    def _after_training(self, data: TransferData) -> None:
        """Post-fit tuning on cold_valid (e.g. choosing α); default: nothing."""

    def _valid_metric(self, data: TransferData) -> float | None:
        return valid_ndcg(self, data)

    # plumbing ----------------------------------------------------------------------
    @property
    def torch_device(self) -> torch.device:
        return resolve_device(self.device)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array, dtype=np.float32), device=self.torch_device)

    def fit(self, data: TransferData) -> "TorchMethod":
        """Train on warm users' target positives; early-stop on cold_valid NDCG@10."""
        self._check_train_data(data)
        start = time.perf_counter()
        self.history_ = {}
        with seeded(self.seed), compute_threads(self.threads):
            self._prepare(data)
            self.module_ = self._build().to(self.torch_device)
            self._initialise(data)
            hist = train_loop(
                self.module_, self._loss_fn(data), data.warm_idx,
                lambda: self._valid_metric(data),
                epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                weight_decay=self.weight_decay, patience=self.patience, seed=self.seed,
                progress=self.progress, desc=self.name, patience_updates=self.patience_updates,
            )
            self.history_.update(hist)
            self._after_training(data)
        self.history_["params"] = self.get_params()
        self.history_["fit_seconds"] = time.perf_counter() - start
        return self

    @torch.no_grad()
    def score(self, data: TransferData, user_idx: np.ndarray) -> np.ndarray:
        """Scores over the whole target catalogue, shape (len(user_idx), n_target)."""
        self._check_fitted(data)
        self.module_.eval()
        idx = np.asarray(user_idx, dtype=np.int64)
        with compute_threads(self.threads):  # the fit's threads: the same scores wherever they are computed
            out = [self._forward_scores(data, idx[lo:lo + SCORE_BATCH]).float().cpu().numpy()
                   for lo in range(0, len(idx), SCORE_BATCH)]
        return np.concatenate(out) if out else np.zeros((0, data.n_target), np.float32)

    @torch.no_grad()
    def _new_item_terms(self, data: TransferData, item_vectors: np.ndarray, norm: nn.Module,
                        embeddings: torch.Tensor | None, biases: torch.Tensor, rule: str | float,
                        fit_items: np.ndarray | None) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """For ``score_items`` of the two-tower and the VAE's text decoder: (ẑ, v_new, b_new) of items the
        model never saw, as tensors: their standardised vectors (``norm``), their free-embedding term
        (None unless ``rule`` is "mapped") and their biases, by :func:`~.base.new_item_parameters` over
        the model's fitted ``embeddings`` and ``biases``."""
        z = norm(self._tensor(item_matrix(item_vectors, self.meta_["dim"])))
        z_items = norm(self._tensor(data.E_target)).cpu().numpy()
        emb = None if embeddings is None else embeddings.detach().cpu().numpy()
        v_new, b = new_item_parameters(z_items, emb, biases.detach().cpu().numpy(), z.cpu().numpy(), rule, fit_items)
        return z, None if v_new is None else self._tensor(v_new), self._tensor(b)

    def _state(self) -> dict[str, torch.Tensor]:
        return dict(self.module_.state_dict())

    def _restore(self, state: dict[str, torch.Tensor]) -> None:
        self.module_ = self._build()
        self.module_.load_state_dict(state)
        self.module_.to(self.torch_device).eval()
