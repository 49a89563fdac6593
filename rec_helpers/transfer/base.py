"""The estimator interface shared by every transfer method (scikit-learn style).

``fit(data) -> self``, ``score(data, user_idx) -> (n, n_target)``, ``recommend(data, users, k)``,
``get_params()``, a JSON-serialisable ``history_`` and ``save(path)`` (``registry.load_method(path)``)
(config JSON + tensors in safetensors; no pickle anywhere).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import json
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from safetensors.torch import save_file

from ..constants import COL_ITEM, COL_RANK, COL_SCORE, COL_USER, DEFAULT_TOP_N, HEADLINE_K
from ..errors import ConfigError, DataValidationError
from ..runfolder import to_jsonable
from .data import INTERACTION_FIELDS, TransferData
from .layers import ridge_map
from .ranking import mask_seen, ndcg_per_user, top_k, user_chunks

CONFIG_FILE = "config.json"
STATE_FILE = "state.safetensors"
STATE_REF_FILE = "state.ref.json"  # a run folder's pointer to the state in the model cache


_BLAS = None  # threadpoolctl's controller of the loaded BLAS libraries (found once: a scan costs 2.5 ms)


@contextlib.contextmanager
def compute_threads(n: int | None) -> Iterator[None]:
    """Run the block on ``n`` CPU threads for torch and for numpy/scipy's BLAS (None: leave both as they
    are); restore both after.

    Why fits and scores fix it (``threads``, default 1): a product split over another number of threads
    sums in another order, and a few hundred training steps carry those last-bit differences into visibly
    different models (adapter scores up to 2.4 apart between 1 and 2 torch threads on ML-1M; a closed
    form's scores 1e-10 apart, enough to swap two tied items). With a fixed number, a seed gives the
    same model and rankings on a 2-core laptop and on a 16-core server of the same kind (other CPU
    instruction sets or BLAS builds can still round differently), and fits can run side by side in
    worker processes (pipeline, ``transfer.n_jobs``) without competing for threads. The BLAS libraries
    are those loaded at the first call (numpy's and scipy's)."""
    global _BLAS
    if n is None:
        yield
        return
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS before the scan)
    from threadpoolctl import ThreadpoolController

    if _BLAS is None:
        _BLAS = ThreadpoolController().select(user_api="blas")
    prev = torch.get_num_threads()
    if prev != int(n):
        torch.set_num_threads(int(n))
    try:
        with _BLAS.limit(limits=int(n)):
            yield
    finally:
        if torch.get_num_threads() != prev:
            torch.set_num_threads(prev)


def on_threads(fn: Callable) -> Callable:
    """Decorator for a method's ``fit`` and ``score``: run them under :func:`compute_threads` of the
    estimator's ``threads``."""
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        with compute_threads(getattr(self, "threads", None)):
            return fn(self, *args, **kwargs)
    return wrapper


def check_threads(threads: int | None) -> int | None:
    """``threads`` as an int ≥ 1 or None; else a :class:`ConfigError`."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise ConfigError(f"threads={threads!r} must be an integer >= 1 or None (every core).")
    check_range("threads", threads, 1)
    return int(threads)


def check_choice(name: str, value: Any, allowed: Sequence) -> None:
    """Raise :class:`ConfigError` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not valid; choose one of {list(allowed)}.")


def check_range(name: str, value: float, lo: float | None = None, hi: float | None = None,
                *, lo_open: bool = False) -> None:
    """Raise :class:`ConfigError` unless lo ≤ value ≤ hi (lo < value when ``lo_open``)."""
    ok = True
    if lo is not None:
        ok &= value > lo if lo_open else value >= lo
    if hi is not None:
        ok &= value <= hi
    if not ok:
        lo_s = "-inf" if lo is None else lo
        hi_s = "inf" if hi is None else hi
        bracket = "(" if lo_open else "["
        raise ConfigError(
            f"{name}={value!r} is outside {bracket}{lo_s}, {hi_s}]; pick a value in that range.")


def check_grid(name: str, grid: Sequence[float], lo: float = 0.0, hi: float | None = None) -> tuple[float, ...]:
    """A non-empty grid of floats in [lo, hi], as a tuple; else a :class:`ConfigError`."""
    values = tuple(float(v) for v in grid)
    if not values:
        raise ConfigError(f"{name} is empty; pass values in [{lo}, {'inf' if hi is None else hi}], e.g. (0, 0.5, 1).")
    for v in values:
        check_range(f"{name} value", v, lo, hi)
    return values


# Early stopping and tuning score at most this many cold_valid users (a fixed seeded sample, the
# same in every call); smaller cold_valid sets (ML-1M has about 400) are used whole.
VALID_MAX_USERS = 3000


def valid_users(data: TransferData) -> np.ndarray:
    """The cold_valid users that :func:`valid_ndcg` scores (all, or a seeded sample of VALID_MAX_USERS)."""
    idx = data.cold_valid_idx
    if len(idx) <= VALID_MAX_USERS:
        return idx
    return np.sort(np.random.default_rng(0).choice(idx, VALID_MAX_USERS, replace=False))


def valid_ndcg(method: "TransferMethod", data: TransferData, k: int = HEADLINE_K) -> float | None:
    """NDCG@k of ``method`` on cold_valid users (full catalogue, seen items excluded; at most
    :data:`VALID_MAX_USERS` of them, see :func:`valid_users`).

    Returns None when there are no cold_valid positives (then nothing is tuned).
    """
    return valid_ndcg_of(lambda part: method.score(data, part), data, k)


def valid_ndcg_of(score: Callable[[np.ndarray], np.ndarray], data: TransferData,
                  k: int = HEADLINE_K) -> float | None:
    """:func:`valid_ndcg` of the scores ``score(user_idx)`` gives the cold_valid users (a block at a time)."""
    idx = valid_users(data)
    rel = data.X_target_valid[idx]
    if len(idx) == 0 or rel.nnz == 0:
        return None
    values = np.concatenate([ndcg_per_user(mask_seen(score(part), data.target_seen[part]),
                                           data.X_target_valid[part], k) for part in user_chunks(idx)])
    return float(np.mean(values[~np.isnan(values)]))


def scan_grid(grid: Sequence, set_value, evaluate, state: tuple[Callable, Callable] | None = None,
              ) -> tuple[Any, dict[str, float | None], float | None]:
    """Set each grid value and evaluate it on cold_valid; leave the best one set (the first on ties).
    ``state`` = (get, put): what ``set_value`` builds is kept (``get()``) for the best value so far and
    put back at the end (``put``) instead of being built again (a closed form's map costs seconds).
    Returns (best value, {str(value): score}, best score or None)."""
    curve, best, best_v, kept = {}, -np.inf, grid[0], None
    for v in grid:
        set_value(v)
        curve[str(v)] = score = evaluate()
        if score is not None and score > best:
            best, best_v = score, v
            kept = state[0]() if state is not None else None
    if kept is not None:
        state[1](kept)
    else:
        set_value(best_v)
    return best_v, curve, None if best == -np.inf else float(best)


MAPPED = "mapped"   # the new-item rule that maps an item's vector to its ID parameters (new_item_parameters)
MAPPED_L2 = 1.0     # its ridge penalty, on standardised item vectors (unit RMS norm)


def check_bias_rule(rule: object) -> None:
    """A new item's bias rule is ``"mean"``, ``"mapped"`` or a quantile in [0, 1]; else ConfigError."""
    if isinstance(rule, str):
        check_choice("bias", rule, ("mean", MAPPED))
    else:
        check_range("bias quantile", float(rule), 0, 1)


def new_item_parameters(z_items: np.ndarray, embeddings: np.ndarray | None, biases: np.ndarray,
                        z_new: np.ndarray, rule: str | float = "mean", fit_items: np.ndarray | None = None,
                        l2: float = MAPPED_L2) -> tuple[np.ndarray | None, np.ndarray]:
    """The ID-indexed parameters of items a model never saw: (free item embeddings or None, biases).

    ``z_items`` / ``z_new``: the model's standardised vectors of its catalogue / of the new items;
    ``embeddings``, ``biases``: its fitted free item embeddings (None when it has none) and item biases.

    - ``"mean"`` or a quantile: no embedding (0, the mean of its random start) and one bias for every new
      item (:func:`unseen_item_bias`);
    - ``"mapped"``: a ridge map from the item vector to [embedding | bias], fitted on the catalogue
      rows ``fit_items`` (default: all; calibration leaves its pseudo-new items out), applied to
      ``z_new``. Why: a constant bias ranks every new item as one and the same average item; the map
      gives each one the ID parameters that old items with similar text learned.
    """
    check_bias_rule(rule)
    n_new = len(z_new)
    if rule != MAPPED:
        return None, np.full(n_new, unseen_item_bias(biases, rule), dtype=np.float32)
    rows = slice(None) if fit_items is None else np.asarray(fit_items, dtype=np.int64)
    y = np.asarray(biases, dtype=np.float64)[:, None]
    if embeddings is not None:
        y = np.hstack([np.asarray(embeddings, dtype=np.float64), y])
    w, mx, my = ridge_map(np.asarray(z_items)[rows], y[rows], l2, dtype=np.float64)
    pred = ((np.asarray(z_new, dtype=np.float64) - mx) @ w + my).astype(np.float32)
    return (pred[:, :-1] if embeddings is not None else None), pred[:, -1]


def unseen_item_bias(biases: np.ndarray, rule: str | float = "mean") -> float:
    """The bias given to an item the model never saw: ``"mean"`` of the fitted item biases
    (default: a new item is treated as an average item), or a quantile in [0, 1] of them
    (e.g. 0.25: a more cautious prior for an item nobody has rated yet)."""
    b = np.asarray(biases, dtype=np.float64).ravel()
    if b.size == 0:
        return 0.0
    if isinstance(rule, str):
        check_choice("bias", rule, ("mean",))  # ("mapped" gives each item its own: new_item_parameters)
        return float(b.mean())
    check_range("bias quantile", float(rule), 0, 1)
    return float(np.quantile(b, float(rule)))


def item_matrix(item_vectors: np.ndarray, dim: int) -> np.ndarray:
    """``item_vectors`` as a float32 (n, dim) array, or DataValidationError naming the fix."""
    v = np.atleast_2d(np.asarray(item_vectors, dtype=np.float32))
    if v.ndim != 2 or v.shape[1] != dim:
        raise DataValidationError(
            f"item_vectors has shape {np.shape(item_vectors)}; expected (n_items, {dim}): one "
            "BERT vector per item, from the same encoder as the training items.")
    return v


# Scores kept by a ``shared_scores`` block: at most this many bytes (on ML-1M the kernel map, the VAE and its control
# keep their scores of 3,572 users, 32 MB each; a larger catalogue keeps what fits and scores the rest again)
SHARED_SCORES_BYTES = 256 * 2**20
_SHARED: dict | None = None  # the open block: {"names", "budget", "entries": {key: (refs, scores)}}


@contextlib.contextmanager
def shared_scores(names: Sequence[str], max_bytes: int = SHARED_SCORES_BYTES) -> Iterator[None]:
    """Inside the block, the scores that a method named in ``names`` gives a block of users (through
    :meth:`TransferMethod.shared_score`) are kept, read-only, and handed to the next caller that asks the
    same fitted model for the same users of the same data. Why: score fusion ranks exactly the users its
    components have just ranked (``pipeline.ensure_methods``), and the kernel map's scores cost 1.5 s per
    3,572 users on ML-1M; the run scored them three times (the kernel map, score fusion, its control).
    A model refitted in the block is a new fit (its fitted attributes are new objects) and is scored
    again. Not re-entrant: an inner block keeps the outer one's entries."""
    global _SHARED
    if _SHARED is not None or not names:
        yield
        return
    _SHARED = {"names": frozenset(names), "budget": int(max_bytes), "entries": {}}
    try:
        yield
    finally:
        _SHARED = None


def _fitted_state(model: "TransferMethod") -> tuple:
    """The fitted attributes (trailing underscore) of ``model``: a refit replaces them with new objects."""
    return tuple(v for k, v in sorted(vars(model).items()) if k.endswith("_") and not k.startswith("_"))


class TransferMethod:
    """Base class: subclasses implement ``fit``, ``score`` and the state hooks."""

    name: ClassVar[str] = "base"
    TRAINING: ClassVar[type | None] = None  # a dataclass of parameters taken as **training

    def __init__(self) -> None:
        self.history_: dict[str, Any] = {}
        self.meta_: dict[str, Any] = {}  # fitted sizes and chosen values needed to reload

    # --------------------------------------------------------------- params
    @classmethod
    def param_names(cls) -> list[str]:
        """The constructor's named parameters, then the fields of its ``TRAINING`` config (``**training``)."""
        sig = inspect.signature(cls.__init__).parameters.values()
        own = [p.name for p in sig if p.name != "self" and p.kind is not p.VAR_KEYWORD]
        return own + [f.name for f in dataclasses.fields(cls.TRAINING)] if cls.TRAINING else own

    def get_params(self) -> dict[str, Any]:
        """Constructor parameters, as passed (scikit-learn style)."""
        return {p: to_jsonable(getattr(self, p)) for p in self.param_names()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # --------------------------------------------------------------- interface
    def fit(self, data: TransferData) -> "TransferMethod":
        raise NotImplementedError

    def score(self, data: TransferData, user_idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def shared_score(self, data: TransferData, user_idx: np.ndarray) -> np.ndarray:
        """:meth:`score`, or, inside a :func:`shared_scores` block that names this method, the scores it
        already gave these users of this data since its last fit (read-only; the same array). For a method
        that reads no BERT vectors, "this data" is its interaction objects (:data:`~.data.INTERACTION_FIELDS`)."""
        shared = _SHARED
        if shared is None or self.name not in shared["names"]:
            return self.score(data, user_idx)
        idx = np.asarray(user_idx, dtype=np.int64)
        # a method that reads no text scores a text control's data as the run's: the same interaction objects
        read = (data,) if self.reads_text else tuple(getattr(data, f) for f in INTERACTION_FIELDS)
        key = (id(self), tuple(map(id, read)), idx.tobytes())
        refs = (self, *read, *_fitted_state(self))
        entry = shared["entries"].get(key)
        if entry is not None and len(entry[0]) == len(refs) and all(a is b for a, b in zip(entry[0], refs)):
            return entry[1]
        if entry is not None:  # a stale entry (an earlier fit of this model) gives its bytes and references back
            del shared["entries"][key]
            shared["budget"] += entry[1].nbytes
        scores = self.score(data, idx)
        if scores.nbytes <= shared["budget"]:
            scores.setflags(write=False)
            shared["entries"][key] = (refs, scores)
            shared["budget"] -= scores.nbytes
        return scores

    @property
    def reads_text(self) -> bool:
        """Whether the method reads BERT vectors (item or interest vectors).

        Such a method gets a text control in every run: the same method refitted with the
        vectors replaced by seeded random unit vectors (``<name>__random``).
        """
        return False

    # --------------------------------------------------------------- unseen items
    @property
    def can_score_items(self) -> bool:
        """Whether :meth:`score_items` can score items the model never saw (from their vectors).

        False for ID-only methods (Pop, CD-ridge, EMCDR, the VAE with its ID decoder): their
        parameters are indexed by the training catalogue, so a new item has no score at all.
        """
        return False

    def score_items(self, data: TransferData, user_idx: np.ndarray, item_vectors: np.ndarray,
                    bias: str | float = "mean", fit_items: np.ndarray | None = None) -> np.ndarray:
        """Scores (len(user_idx) × len(item_vectors)) of arbitrary items given only their BERT vectors.

        For items outside the catalogue the model was fitted on (e.g. newly added items):
        every ID-indexed term is unknown there, so text-aware methods use the vector path,
        with the free item embedding and the item bias set by ``bias`` ("mean", a quantile:
        embedding 0 and one bias; "mapped": both mapped from the vector, fitted on the catalogue
        rows ``fit_items``; see :func:`new_item_parameters`; ignored by methods without them).
        ``data`` is the data the model was fitted on. ID-only methods raise ConfigError.
        """
        raise ConfigError(
            f"{type(self).__name__} is ID-only: it has no score for an item it never saw in "
            "training. Use a text-aware method (zero_shot, fusion or adapter with item_text=True, vae "
            "with text_decoder=True) to score new items.")

    @property
    def is_fitted(self) -> bool:
        return bool(self.meta_)

    def _check_fitted(self, data: TransferData | None = None) -> None:
        if not self.is_fitted:
            raise ConfigError(f"{type(self).__name__} is not fitted yet; call .fit(data) first.")
        n = self.meta_.get("n_target")
        if data is not None and n is not None and n != data.n_target:
            raise DataValidationError(
                f"the model was fitted on {n} target items but data has {data.n_target}; "
                "score with the TransferData it was fitted on."
            )

    @staticmethod
    def _check_train_data(data: TransferData) -> None:
        if len(data.warm_idx) == 0 or data.X_target_train.nnz == 0:
            raise DataValidationError(
                "no warm users with target positives: fit needs warm users' target_train."
            )

    def recommend(self, data: TransferData, users: Sequence,
                  k: int = DEFAULT_TOP_N) -> pd.DataFrame:
        """Top-k target items per user: columns user, item, rank (1..k), score.

        Items in ``data.target_seen`` are excluded (score set to -inf); ties are broken
        by item index, so the ranking is deterministic.
        """
        if int(k) < 1:
            raise ConfigError(f"k={k!r} must be ≥ 1.")
        users = list(users)
        idx = data.users_to_idx(users)
        tops, top_scores = [], []
        for part in user_chunks(idx):  # bounded memory: SCORE_CHUNK users at a time
            # scores are float32: ranking them in float32 gives the same order as in float64 (the
            # cast is exact) at half the memory traffic; the kept scores are reported as float64
            scores = mask_seen(self.shared_score(data, part), data.target_seen[part], dtype=np.float32)
            tops.append(top_k(scores, k))
            top_scores.append(np.take_along_axis(scores, tops[-1], axis=1).astype(np.float64))
        top, top_scores = np.concatenate(tops), np.concatenate(top_scores)
        frame = pd.DataFrame({
            COL_USER: np.repeat(np.asarray(users, dtype=object), top.shape[1]),
            COL_ITEM: data.target_item_ids[top.ravel()],
            COL_RANK: np.tile(np.arange(1, top.shape[1] + 1), len(users)),
            COL_SCORE: top_scores.ravel(),
        })
        return frame[np.isfinite(frame[COL_SCORE])].reset_index(drop=True)

    def history_json(self) -> str:
        """``history_`` as a JSON string."""
        return json.dumps(to_jsonable(self.history_))

    # --------------------------------------------------------------- persistence
    def _state(self) -> dict[str, torch.Tensor]:
        """Arrays needed to score after reload (override)."""
        return {}

    def _restore(self, state: dict[str, torch.Tensor]) -> None:
        """Inverse of :meth:`_state`, called after ``meta_`` is set (override)."""

    def save(self, path: str | Path) -> Path:
        """Write ``config.json`` (method, params, meta, history) and ``state.safetensors``."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = {"method": self.name, "params": self.get_params(),
                  "meta": to_jsonable(self.meta_), "history": to_jsonable(self.history_)}
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        state = {k: v.detach().cpu().contiguous() for k, v in self._state().items()}
        save_file(state, str(path / STATE_FILE))
        return path
