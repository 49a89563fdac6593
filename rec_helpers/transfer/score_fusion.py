"""Score-level fusion: s(u, i) = α·z_A(u, i) + (1 − α)·z_B(u, i) of two fitted transfer methods.

Vector fusion (:mod:`~rec_helpers.transfer.fusion`) mixes two *interest vectors* before
scoring; score-level fusion mixes two methods' *scores* after scoring. Each method's
scores are standardised per user over the target catalogue,
z(u, ·) = (s(u, ·) − mean_i s(u, i)) / sd_i s(u, i), so that α weighs rankings rather than
arbitrary score scales (a softmax logit and a ridge prediction differ by orders of
magnitude). α is chosen from ``alpha_grid`` by NDCG@10 on cold_valid; the whole
α → NDCG@10 curve is kept in ``history_["alpha_curve"]``. cold_test is never read.

The components are built from their names and parameters (``component_params``) and
fitted with the same seed, or passed in already fitted (``fit(data, fitted=...)``, as the
pipeline does to reuse the leaderboard's models). Persistence: every component's
config in ``meta_`` and its tensors in the same safetensors file, prefixed ``c<k>.``.
"""
from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from ..constants import DEFAULT_SEED, DEFAULT_THREADS
from ..errors import ConfigError
from ..runfolder import to_jsonable
from .base import TransferMethod, check_grid, check_threads, on_threads, scan_grid, valid_ndcg, valid_ndcg_of
from .data import TransferData
from .fusion import DEFAULT_ALPHA_GRID

DEFAULT_COMPONENTS = ("vae", "kernel_map")


def standardise_scores(scores: np.ndarray) -> np.ndarray:
    """Per-row z-scores: (s − row mean) / row sd (rows with sd 0, or with a NaN or inf, become 0)."""
    # in place on one float64 copy (the same arithmetic as (s − mean) / sd, bit for bit): a 2,048-user
    # chunk at 10⁵ items is 1 GB in float64, and every temporary array of that size costs its page faults
    s = np.array(scores, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # inf − inf in a row with an inf: that row becomes 0 below
        s -= s.mean(axis=1, keepdims=True)
        sd = s.std(axis=1, keepdims=True)
    ok = sd > 0  # False for sd 0 and for a NaN sd (a row holding a NaN or an inf)
    np.divide(s, sd, out=s, where=ok)
    s[~ok[:, 0]] = 0.0  # such a row is not divided, and may hold tiny residues or NaNs: make it 0
    return s


class ScoreFusion(TransferMethod):
    """α·z(score_A) + (1 − α)·z(score_B), α tuned on cold_valid (fusion at the score level)."""

    name = "score_fusion"

    def __init__(self, components: Sequence[str] = DEFAULT_COMPONENTS,
                 component_params: Mapping[str, Mapping[str, Any]] | None = None,
                 alpha_grid: Sequence[float] = DEFAULT_ALPHA_GRID, seed: int = DEFAULT_SEED,
                 device: str = "auto", progress: bool = True, threads: int | None = DEFAULT_THREADS) -> None:
        super().__init__()
        from .registry import METHODS  # late import: registry imports us

        comps = [str(c) for c in components]
        if len(comps) != 2 or comps[0] == comps[1]:
            raise ConfigError(f"components={comps!r}: score fusion mixes exactly two different "
                              "methods, e.g. ['vae', 'kernel_map'].")
        for c in comps:
            if c not in METHODS or c == self.name:
                raise ConfigError(f"component {c!r} is not a transfer method; valid: "
                                  f"{sorted(m for m in METHODS if m != self.name)}.")
        params = {str(k): dict(v or {}) for k, v in (component_params or {}).items()}
        extra = sorted(set(params) - set(comps))
        if extra:
            raise ConfigError(f"component_params has {extra}, which are not in components {comps}.")
        self.components, self.component_params = tuple(comps), params
        self.alpha_grid, self.seed, self.device = check_grid("alpha_grid", alpha_grid, 0, 1), int(seed), device
        self.progress, self.threads = bool(progress), check_threads(threads)
        self.models_: list[TransferMethod] = []
        self._scan_cache: dict | None = None
        self._check_component_params()

    def _component_kwargs(self, name: str) -> dict:
        from .registry import METHODS

        kwargs = dict(self.component_params.get(name, {}))
        accepted = METHODS[name].param_names()
        for key, value in (("seed", self.seed), ("device", self.device), ("progress", self.progress),
                           ("threads", self.threads)):
            if key in accepted:
                kwargs.setdefault(key, value)
        return kwargs

    def _check_component_params(self) -> None:
        from .registry import make_method

        # builds (not fits) each one: bad parameters fail now, not after minutes of fitting
        self._reads_text = any(make_method(name, **self._component_kwargs(name)).reads_text
                               for name in self.components)

    @property
    def reads_text(self) -> bool:
        return self._reads_text

    # ------------------------------------------------------------------ fit / score
    @on_threads
    def fit(self, data: TransferData,
            fitted: Mapping[str, TransferMethod] | None = None) -> "ScoreFusion":
        """Fit (or take from ``fitted``) both components, then choose α on cold_valid."""
        from .registry import make_method

        self._check_train_data(data)
        start = time.perf_counter()
        fitted = dict(fitted or {})
        self.models_ = []
        for name in self.components:
            model = fitted.get(name)
            if model is None:
                model = make_method(name, **self._component_kwargs(name)).fit(data)
            elif model.name != name:
                raise ConfigError(f"fitted[{name!r}] is a {model.name!r} model.")
            self.models_.append(model)
        self.meta_ = {"n_target": data.n_target, "alpha": self.alpha_grid[0],
                      "components": [{"method": m.name, "params": to_jsonable(m.get_params()),
                                      "meta": to_jsonable(m.meta_)} for m in self.models_]}
        self.history_ = {"components": list(self.components)}
        self._scan_cache = {}  # the components' z-scores of the cold_valid users, computed once for every α
        try:
            best_a, curve, best = scan_grid(self.alpha_grid, lambda a: self.meta_.__setitem__("alpha", float(a)),
                                            lambda: valid_ndcg(self, data))
        finally:
            self._scan_cache = None
        self.history_.update({
            "alpha": float(best_a), "alpha_curve": curve, "best_valid_ndcg@10": best,
            "component_valid_ndcg@10": {m.name: valid_ndcg_of(lambda part, m=m: m.shared_score(data, part), data)
                                        for m in self.models_},
            "params": self.get_params(), "fit_seconds": time.perf_counter() - start})
        return self

    @property
    def alpha_(self) -> float:
        """The weight α of the first component chosen on cold_valid."""
        self._check_fitted()
        return float(self.meta_["alpha"])

    @on_threads
    def score(self, data: TransferData, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted(data)
        a = float(self.meta_["alpha"])
        key = np.asarray(user_idx, dtype=np.int64).tobytes()
        pair = self._scan_cache.get(key) if self._scan_cache is not None else None
        if pair is None:
            pair = tuple(standardise_scores(m.shared_score(data, user_idx)) for m in self.models_)
            if self._scan_cache is not None:
                self._scan_cache[key] = pair
        first, second = pair
        mixed = first * a  # = a·first + (1 − a)·second, with one temporary less at full size
        mixed += second * (1.0 - a)
        return mixed.astype(np.float32)

    @property
    def can_score_items(self) -> bool:
        return bool(self.models_) and all(m.can_score_items for m in self.models_)

    @on_threads
    def score_items(self, data: TransferData, user_idx: np.ndarray, item_vectors: np.ndarray,
                    bias: str | float = "mean") -> np.ndarray:
        """Both components' text scores of new items, each standardised with that component's
        catalogue statistics (so old and new items stay on one scale), mixed with α."""
        if not self.can_score_items:
            return super().score_items(data, user_idx, item_vectors, bias)
        a = float(self.meta_["alpha"])
        out = []
        for m in self.models_:
            s = np.asarray(m.score(data, user_idx), dtype=np.float64)
            new = np.asarray(m.score_items(data, user_idx, item_vectors, bias), dtype=np.float64)
            mean, sd = s.mean(axis=1, keepdims=True), s.std(axis=1, keepdims=True)
            out.append(np.divide(new - mean, sd, out=np.zeros_like(new), where=sd > 0))
        return (a * out[0] + (1.0 - a) * out[1]).astype(np.float32)

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict[str, torch.Tensor]:
        return {f"c{k}.{key}": v for k, m in enumerate(self.models_) for key, v in m._state().items()}

    def _restore(self, state: dict[str, torch.Tensor]) -> None:
        from .registry import METHODS

        self.models_ = []
        for k, spec in enumerate(self.meta_["components"]):
            model = METHODS[spec["method"]](**spec["params"])
            model.meta_ = spec["meta"]
            prefix = f"c{k}."
            model._restore({key[len(prefix):]: v for key, v in state.items() if key.startswith(prefix)})
            self.models_.append(model)
