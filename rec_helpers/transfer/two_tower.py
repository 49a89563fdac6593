"""The two-tower scorer and the base class of the methods that score through it.

Scorer: s(u, i) = ⟨f(u) + W_id x̃_s, g(e_i)⟩ + b_i with f(u) = W u + MLP(u) (user tower on the
interest vector), g(e_i) = W' ê_i + MLP'(ê_i) + v_i (item tower on the standardised BERT vector
plus a free item embedding v_i, drawn from N(0, ``item_init``²) at the start) and an item bias b_i
initialised at log-popularity. W_id x̃_s is
the **ID channel** (``id_input``): a learned embedding per source item, summed over the user's
L2-normalised source row x̃_s (its positives and its rated-at-all marks), so the text towers only
have to add what the item IDs do not already say. Trained with full softmax cross-entropy over
the target catalogue (or BCE with sampled negatives).

``InterestMethod`` (fusion, adapter) turns (u_s, u_t) into one interest vector u' with a
subclass-specific transfer module, then scores u' with the two-tower scorer.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Iterator

import numpy as np
import torch
from torch import nn

from ..constants import DEFAULT_SEED, DEFAULT_THREADS
from ..errors import ConfigError
from ..interest import l2_normalise
from .base import check_choice, check_range, on_threads
from .data import SOURCE_INPUTS, TransferData
from .layers import Standardize, Tower, ridge_map
from .training import (
    SCORE_BATCH, LossFn, TorchMethod, multinomial_nll, multinomial_nll_rows, rows_tensor, sampled_bce,
    softmax_sample, sparse_linear,
)

LOSSES = ("softmax", "bce")
FILLS = ("prior", "mapped")
N_FEATURES = 2  # log1p(#source positives), log1p(#target positives)


class TwoTowerScorer(nn.Module):
    """s(u, i) = ⟨f(u), g(e_i)⟩ + b_i over the whole item catalogue at once."""

    def __init__(self, dim: int, n_items: int, hidden: int = 256, out_dim: int = 64,
                 item_embedding: bool = True, dropout: float = 0.0, whiten: float | None = None,
                 item_init: float = 0.0, item_text: bool = True) -> None:
        super().__init__()
        self.user_tower = Tower(dim, hidden, out_dim, dropout)
        self.item_norm = Standardize(dim, whiten)
        # item_text False: g(e_i) = v_i, the free item embedding alone (no item tower)
        self.item_tower = Tower(dim, hidden, out_dim) if item_text else None
        # v_i ~ N(0, item_init²) (torch's seeded generator); 0: all zeros
        self.item_emb = nn.Parameter(torch.randn(n_items, out_dim) * item_init) if item_embedding else None
        self.item_bias = nn.Parameter(torch.zeros(n_items))

    def item_factors(self, items: torch.Tensor, subset: np.ndarray | None = None,
                     normed: bool = False) -> torch.Tensor:
        """g(e_i) for every catalogue item (n_items × out_dim), or for the items ``subset`` indexes
        (``items`` then holds only their vectors); ``normed``: ``items`` are already standardised."""
        if self.item_tower is None:  # the item side without text: the free item embeddings only
            return self.item_emb if subset is None else self.item_emb[subset]
        g = self.item_tower(items if normed else self.item_norm(items))
        if self.item_emb is None:
            return g
        return g + (self.item_emb if subset is None else self.item_emb[subset])

    def forward(self, u: torch.Tensor, items: torch.Tensor, factors: torch.Tensor | None = None,
                subset: np.ndarray | None = None, user_id: torch.Tensor | None = None,
                normed: bool = False) -> torch.Tensor:
        """Scores (n_users × n_items); precomputed ``factors`` = g(E) skip the item tower;
        ``subset``: score only those catalogue items (sampled softmax; ``items`` holds their vectors);
        ``user_id``: the ID channel's term (n_users × out_dim), added to f(u); ``normed``: ``items``
        are already standardised (training standardises the fixed item vectors once per fit)."""
        g = self.item_factors(items, subset, normed) if factors is None else factors
        f = self.user_tower(u) if user_id is None else self.user_tower(u) + user_id
        return f @ g.T + (self.item_bias if subset is None else self.item_bias[subset])


class ColdFill(nn.Module):
    """Stand-in for a missing u_t: warm prior mean ("prior") or ridge map of u_s ("mapped")."""

    def __init__(self, dim: int, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.register_buffer("prior", torch.zeros(dim))
        if mode == "mapped":
            self.register_buffer("weight", torch.zeros(dim, dim))
            self.register_buffer("mean_s", torch.zeros(dim))

    def forward(self, z_s: torch.Tensor) -> torch.Tensor:
        if self.mode == "mapped":
            return (z_s - self.mean_s) @ self.weight + self.prior
        return self.prior.expand_as(z_s)


class InterestModel(nn.Module):
    """norm → fill missing u_t → transfer(u_s, u_t, features) → two-tower scorer (+ the ID channel)."""

    def __init__(self, dim: int, n_items: int, transfer: nn.Module, fill: str, hidden: int,
                 out_dim: int, item_embedding: bool, dropout: float, whiten: float | None = None,
                 id_width: int = 0, item_init: float = 0.0, item_text: bool = True) -> None:
        super().__init__()
        self.norm = Standardize(dim, whiten)
        self.fill = ColdFill(dim, fill)
        self.transfer = transfer
        self.scorer = TwoTowerScorer(dim, n_items, hidden, out_dim, item_embedding, dropout, whiten, item_init,
                                     item_text)
        self.register_buffer("feat_mean", torch.zeros(N_FEATURES))
        self.register_buffer("feat_std", torch.ones(N_FEATURES))
        # the ID channel W_id (one out_dim embedding per source column), zero at the start
        self.id_weight = nn.Parameter(torch.zeros(out_dim, id_width)) if id_width else None

    def interest(self, u_s: torch.Tensor, u_t: torch.Tensor, counts: torch.Tensor,
                 present: torch.Tensor) -> torch.Tensor:
        """u' for a batch; rows with ``present`` False use the cold fill instead of u_t."""
        return self.transfer(*self.transfer_inputs(u_s, u_t, counts, present))

    def transfer_inputs(self, u_s, u_t, counts, present) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(z_s, z_t, φ): the standardised interests (z_t = the cold fill where u_t is absent) and the
        features that the transfer module maps to u'."""
        z_s = self.norm(u_s)
        z_t = torch.where(present[:, None], self.norm(u_t), self.fill(z_s))
        return z_s, z_t, self.features(counts, present)

    def features(self, counts: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """φ = standardised (log(1+#source pos), log(1+#target pos)); #target = 0 when absent."""
        counts = torch.stack([counts[:, 0], counts[:, 1] * present], dim=1)
        return (torch.log1p(counts) - self.feat_mean) / self.feat_std

    def id_term(self, x_id: torch.Tensor | None) -> torch.Tensor | None:
        """W_id x̃_s for a batch of normalised source rows (dense or sparse); None without the ID channel."""
        if self.id_weight is None or x_id is None:
            return None
        return sparse_linear(x_id, self.id_weight) if x_id.is_sparse else x_id @ self.id_weight.T

    def user_factors(self, u_s, u_t, counts, present, x_id=None) -> torch.Tensor:
        """f(u') + W_id x̃_s: what meets the item factors g(e_i) in the score."""
        f = self.scorer.user_tower(self.interest(u_s, u_t, counts, present))
        extra = self.id_term(x_id)
        return f if extra is None else f + extra

    def forward(self, u_s, u_t, counts, present, items, factors=None, subset=None, x_id=None,
                normed=False) -> torch.Tensor:
        return self.scorer(self.interest(u_s, u_t, counts, present), items, factors, subset,
                           self.id_term(x_id), normed)


@dataclasses.dataclass(frozen=True)
class InterestTraining:
    """The trainer parameters (and defaults) of fusion and the adapter: keywords of both constructors."""

    fill: str = "prior"
    map_l2: float = 10.0
    warm_input_rate: float = 0.0
    hidden: int = 256
    out_dim: int = 64
    item_embedding: bool = True
    # The free item embeddings v_i start at N(0, item_init²), not at 0. Why: a fit is only a few hundred
    # Adam steps (early stopping on cold_valid), too few for v_i to grow from 0, so with zeros the text
    # tower had to act as the item ID, and random vectors (the text control) are better IDs than BERT
    # vectors. Chosen on cold_valid NDCG@10 (3 seeds, benchmarks/two_tower_grid.py, batch 256): adapter
    # 0.4962 against 0.4880 with zeros, fusion 0.5023 against 0.4968 (0.2: 0.4948 / 0.5003).
    item_init: float = 0.1
    # The item side reads the item's BERT vector (the item tower g(ê_i) + v_i) or, when False, only its free
    # embedding v_i: the text then enters through the users' interest vectors alone, and the method cannot
    # score an item it never saw (new items). See default.yaml for where each is chosen.
    item_text: bool = True
    dropout: float = 0.0
    loss: str = "softmax"
    n_negatives: int = 100
    epochs: int = 60
    batch_size: int | None = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5
    seed: int = DEFAULT_SEED
    device: str = "auto"
    threads: int | None = DEFAULT_THREADS  # CPU threads of fit and score (base.compute_threads); None: as they are
    progress: bool = True
    softmax_items: int | None = None  # sampled softmax over this many uniform items + positives (None: all)
    id_input: str | None = "both"  # the ID channel's source rows (data.SOURCE_INPUTS); None: no ID channel
    whiten: float | None = 0.01    # ZCA shrinkage of the interest and item vectors (layers.Standardize); None: off


class InterestMethod(TorchMethod):
    """Base of fusion and adapter: builds u' from (u_s, u_t) and scores it with the two tower.

    Cold users (and, in training, warm users simulated as cold) get u_t = ``fill``:
    "prior" (mean u_t of warm users, the default) or "mapped" (ridge map u_s → u_t fitted
    on warm users). Training simulates the cold situation: each warm user keeps their own
    u_t only with probability ``warm_input_rate`` (default 0: always cold-like), because
    a u_t built from the very positives being predicted would be a leak the model learns
    to lean on. At scoring time a user with training target positives uses their own u_t.
    """

    TRAINING = InterestTraining

    def __init__(self, **training) -> None:
        t = InterestTraining(**training)
        super().__init__(epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, weight_decay=t.weight_decay,
                         patience=t.patience, seed=t.seed, device=t.device, progress=t.progress,
                         softmax_items=t.softmax_items, threads=t.threads)
        check_range("hidden", t.hidden, 1)
        check_range("out_dim", t.out_dim, 1)
        check_range("item_init", t.item_init, 0)
        check_range("dropout", t.dropout, 0, 1)
        check_choice("loss", t.loss, LOSSES)
        check_range("n_negatives", t.n_negatives, 1)
        check_choice("fill", t.fill, FILLS)
        check_range("map_l2", t.map_l2, 0)
        check_range("warm_input_rate", t.warm_input_rate, 0, 1)
        if t.id_input is not None:
            check_choice("id_input", t.id_input, SOURCE_INPUTS)
        if t.whiten is not None:
            check_range("whiten", t.whiten, 0)
        self.id_input, self.whiten = t.id_input, None if t.whiten is None else float(t.whiten)
        self.hidden, self.out_dim = int(t.hidden), int(t.out_dim)
        if not t.item_text and not t.item_embedding:
            raise ConfigError("item_text=False with item_embedding=False leaves the item side empty: "
                              "keep item_embedding=True (the free item embeddings) or set item_text=True.")
        self.item_embedding, self.item_init = bool(t.item_embedding), float(t.item_init)
        self.item_text = bool(t.item_text)
        self.dropout, self.loss, self.n_negatives = float(t.dropout), t.loss, int(t.n_negatives)
        self.fill, self.map_l2, self.warm_input_rate = t.fill, float(t.map_l2), float(t.warm_input_rate)
        self._item_cache: torch.Tensor | None = None
        self._user_cache: dict[bytes, tuple[torch.Tensor, ...]] | None = None

    # subclass hook --------------------------------------------------------------------
    def _transfer_module(self) -> nn.Module:
        """nn.Module mapping (z_s, z_t, feats) → u' (in the standardised interest space)."""
        raise NotImplementedError

    # TorchMethod hooks ----------------------------------------------------------------
    def _prepare(self, data: TransferData) -> None:
        width = 0 if self.id_input is None else data.source_matrix(self.id_input, data.warm_idx[:1]).shape[1]
        self.meta_ = {"n_target": data.n_target, "dim": data.dim, "id_width": int(width)}

    def _build(self) -> nn.Module:
        return InterestModel(self.meta_["dim"], self.meta_["n_target"], self._transfer_module(),
                             self.fill, self.hidden, self.out_dim, self.item_embedding,
                             self.dropout, self.whiten, int(self.meta_.get("id_width", 0)), self.item_init,
                             self.item_text)

    def _id_rows(self, data: TransferData, idx: np.ndarray) -> torch.Tensor | None:
        """The ID channel's input x̃_s for users ``idx``: their L2-normalised source rows (None when off)."""
        if self.id_input is None:
            return None
        x = data.source_matrix(self.id_input, np.asarray(idx, dtype=np.int64)).astype(np.float32)
        return rows_tensor(l2_normalise(x), self.torch_device)

    @torch.no_grad()
    def _initialise(self, data: TransferData) -> None:
        """Fit the fixed parts from warm users: standardisation, cold fill, feature stats, b_i."""
        model = self.module_
        warm = data.warm_idx
        model.norm.fit(np.vstack([data.U_s, data.U_t[warm]]))
        model.scorer.item_norm.fit(data.E_target)
        dev = self.torch_device
        z_s = model.norm(self._tensor(data.U_s[warm])).cpu().numpy()
        z_t = model.norm(self._tensor(data.U_t[warm])).cpu().numpy()
        model.fill.prior.copy_(torch.as_tensor(z_t.mean(axis=0), device=dev))
        if self.fill == "mapped":
            w, mx, _ = ridge_map(z_s, z_t, self.map_l2)
            model.fill.weight.copy_(torch.as_tensor(w, device=dev))
            model.fill.mean_s.copy_(torch.as_tensor(mx, device=dev))
        logc = np.log1p(self._counts(data, warm))
        model.feat_mean.copy_(torch.as_tensor(logc.mean(axis=0), device=dev))
        model.feat_std.copy_(torch.as_tensor(np.maximum(logc.std(axis=0), 1e-6), device=dev))
        pop = np.asarray(data.X_target_train[warm].sum(axis=0)).ravel()
        logp = np.log(pop + 1.0)
        model.scorer.item_bias.copy_(torch.as_tensor(logp - logp.mean(), device=dev))

    @staticmethod
    def _counts(data: TransferData, idx: np.ndarray) -> np.ndarray:
        return np.stack([data.n_source_pos[idx], data.n_target_pos[idx]], axis=1).astype(np.float32)

    def _inputs(self, data: TransferData, idx: np.ndarray) -> tuple[torch.Tensor, ...]:
        return (self._tensor(data.U_s[idx]), self._tensor(data.U_t[idx]),
                self._tensor(self._counts(data, idx)))

    def _loss_fn(self, data: TransferData) -> LossFn:
        model = self.module_
        with torch.no_grad():  # the standardisation is fixed during training: apply it once
            items = model.scorer.item_norm(self._tensor(data.E_target))

        def loss_fn(batch: np.ndarray, step: int) -> torch.Tensor:
            u_s, u_t, counts = self._inputs(data, batch)
            present = torch.rand(len(batch), device=u_s.device) < self.warm_input_rate
            x = data.X_target_train[batch]
            subset = softmax_sample(x, data.n_target, self.softmax_items)
            x_id = self._id_rows(data, batch)
            if subset is None:
                logits = model(u_s, u_t, counts, present, items, x_id=x_id, normed=True)
            else:
                logits = model(u_s, u_t, counts, present, items[subset], subset=subset, x_id=x_id, normed=True)
                x = x[:, subset]
                if self.loss == "softmax":
                    return multinomial_nll_rows(logits, x)
            x = self._tensor(x.toarray())
            if self.loss == "softmax":
                return multinomial_nll(logits, x)
            return sampled_bce(logits, x, self.n_negatives)

        return loss_fn

    def _forward_scores(self, data: TransferData, idx: np.ndarray) -> torch.Tensor:
        if self._item_cache is None:
            return self.module_(*self._batch(data, idx), self._tensor(data.E_target), x_id=self._id_rows(data, idx))
        z_s, z_t, feats, id_term = self._user_parts(data, idx)
        return self.module_.scorer(self.module_.transfer(z_s, z_t, feats), None, self._item_cache, user_id=id_term)

    def _user_parts(self, data: TransferData, idx: np.ndarray) -> tuple[torch.Tensor, ...]:
        """(z_s, z_t, φ, W_id x̃_s) of users ``idx``: what does not depend on the transfer module's
        setting, kept for the block of :meth:`_cached_items` (fusion's α scan scores the same
        cold_valid users once per α; these parts were a third of each scan)."""
        key = np.asarray(idx, dtype=np.int64).tobytes()
        if key not in self._user_cache:
            parts = self.module_.transfer_inputs(*self._batch(data, idx))
            self._user_cache[key] = (*parts, self.module_.id_term(self._id_rows(data, idx)))
        return self._user_cache[key]

    @contextlib.contextmanager
    def _cached_items(self, data: TransferData) -> Iterator[None]:
        """Compute g(E) once for a block of evaluations (eval mode, weights fixed), and each scored
        user's inputs once (:meth:`_user_parts`); re-entrant."""
        if self._item_cache is not None:
            yield
            return
        with torch.no_grad():
            self._item_cache = self.module_.scorer.item_factors(self._tensor(data.E_target))
        self._user_cache = {}
        try:
            yield
        finally:
            self._item_cache, self._user_cache = None, None

    def _valid_metric(self, data: TransferData) -> float | None:
        with self._cached_items(data):
            return self._valid_metric_cached(data)

    def _valid_metric_cached(self, data: TransferData) -> float | None:
        """NDCG@10 on cold_valid with g(E) cached (fusion overrides it to scan α)."""
        return super()._valid_metric(data)

    def _batch(self, data: TransferData, user_idx: np.ndarray) -> tuple[torch.Tensor, ...]:
        """(u_s, u_t, counts, present) for scoring: users with target positives keep u_t."""
        u_s, u_t, counts = self._inputs(data, np.asarray(user_idx, dtype=np.int64))
        return u_s, u_t, counts, counts[:, 1] > 0

    @torch.no_grad()
    def interest_vectors(self, data: TransferData, user_idx: np.ndarray) -> np.ndarray:
        """The transferred interest u' (standardised space) fed to the scorer, for plotting."""
        self._check_fitted(data)
        self.module_.eval()
        return self.module_.interest(*self._batch(data, user_idx)).cpu().numpy()

    @property
    def reads_text(self) -> bool:
        return True

    # --- items never seen in training (new items) ---------------------------------------
    @property
    def can_score_items(self) -> bool:
        """Only an item side that reads text (``item_text``) can score an item outside the catalogue."""
        return self.item_text

    @on_threads
    @torch.no_grad()
    def score_items(self, data: TransferData, user_idx: np.ndarray, item_vectors: np.ndarray,
                    bias: str | float = "mean", fit_items: np.ndarray | None = None) -> np.ndarray:
        """⟨f(u') + W_id x̃_s, g_text(v) + v_new⟩ + b_new for items known only by their BERT vectors v.

        g_text(v) = item tower on the standardised vector; (v_new, b_new) = the free item embedding
        and bias of an item the model never saw, by the ``bias`` rule (see
        :func:`~rec_helpers.transfer.base.new_item_parameters`): "mean" or a quantile (v_new = 0,
        the mean of its random start; one bias for all), or "mapped" (both mapped from ê, fitted on the
        catalogue rows ``fit_items``). ``data`` is the data the model was fitted on (user inputs
        come from it). Shape (len(user_idx), len(item_vectors)).
        """
        if not self.item_text:
            raise ConfigError(f"{type(self).__name__} was fitted with item_text=False: it knows its items by their "
                              "IDs only and has no score for an item it never saw. Fit it with item_text=True "
                              "(the item tower on the BERT vectors) to score new items.")
        self._check_fitted(data)
        model = self.module_.eval()
        scorer = model.scorer
        z, v_new, b = self._new_item_terms(data, item_vectors, scorer.item_norm, scorer.item_emb,
                                           scorer.item_bias, bias, fit_items)
        g = scorer.item_tower(z) if v_new is None else scorer.item_tower(z) + v_new
        idx = np.asarray(user_idx, dtype=np.int64)
        parts = [idx[lo:lo + SCORE_BATCH] for lo in range(0, len(idx), SCORE_BATCH)]
        out = [(model.user_factors(*self._batch(data, p), self._id_rows(data, p)) @ g.T + b).float().cpu().numpy()
               for p in parts]
        return np.concatenate(out) if out else np.zeros((0, len(z)), np.float32)
