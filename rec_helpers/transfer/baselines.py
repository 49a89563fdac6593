"""Baselines and closed-form maps: Pop, zero-shot BERT, CD-ridge (positives / all ratings / all ratings and user
features), EMCDR and the kernel map (numpy / scipy, closed forms)."""
from __future__ import annotations

import time
import warnings
from typing import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import svds

from ..constants import DEFAULT_SEED, DEFAULT_THREADS
from ..errors import ConfigError, DataValidationError
from ..interest import l2_normalise
from .base import (
    TransferMethod, check_choice, check_grid, check_range, check_threads, on_threads, scan_grid, valid_ndcg,
    valid_ndcg_of,
)
from .data import SOURCE_INPUTS, TransferData
from .layers import ridge_map
from .ranking import user_chunks

DEFAULT_RIDGE_GRID = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
RIDGE_SOLVERS = ("auto", "exact", "low_rank")
# "auto" keeps the exact solver while its dense matrices stay small: the n_s × n_s Gram matrix
# (eigh is cubic in n_s) and the n_s × n_t map B. Beyond either limit it switches to low rank.
EXACT_MAX_SOURCE_COLUMNS = 4_096
EXACT_MAX_MAP_CELLS = 50_000_000  # n_s × n_t entries of B (400 MB in float64)
SMOOTHING_MAX_COLUMNS = 8_192  # the kernel map's source-side S is width × width (256 MB in float32 at this limit)
DEFAULT_MAP_GRID = (0.1, 1.0, 10.0, 100.0)


def _user_feature_basis(data: TransferData, idx: np.ndarray, weight: float,
                       history: dict) -> np.ndarray | None:
    """The ``idx`` users' feature rows (float32) that a map with ``user_feature_weight=weight`` fits on, or None:
    off (weight 0), or the data has no user features (custom data has none; the default config's weights are
    then moot, so this is a note in ``history["user_features"]``, not a warning)."""
    if weight == 0:
        history["user_features"] = "off"
        return None
    if data.user_features is None:
        history["user_features"] = "off: the data has no user features"
        return None
    rows = data.user_features[np.asarray(idx, dtype=np.int64)]
    history["user_features"] = {"weight": float(weight), "columns": list(data.user_feature_names)}
    return rows.astype(np.float32)


def _checked_feature_rows(data: TransferData, idx: np.ndarray, names: Sequence[str], what: str) -> np.ndarray:
    """The users' feature rows for scoring, checked against the feature columns the map was fitted with."""
    rows = data.user_feature_rows(idx, what)
    if list(data.user_feature_names) != list(names):
        raise DataValidationError(
            f"{what} was fitted on the user-feature columns {list(names)[:6]}… ({len(names)}) but this data has "
            f"{list(data.user_feature_names)[:6]}… ({len(data.user_feature_names)}). Fix: score it on the data it "
            "was fitted on (the same split), or refit it.")
    return rows


class ArrayMethod(TransferMethod):
    """A method whose fitted state is a dict of float64 numpy arrays (saved with safetensors).

    Scores are computed in float64 and returned as float32, so a reloaded model (whose
    arrays sit at other memory addresses, hence other BLAS code paths) scores identically.
    """

    def __init__(self, threads: int | None = DEFAULT_THREADS) -> None:
        super().__init__()
        self.threads = check_threads(threads)  # CPU threads of fit and score (base.compute_threads)
        self.arrays_: dict[str, np.ndarray] = {}

    def _state(self) -> dict[str, torch.Tensor]:
        # arrays keep their dtype (float64 unless a method stores a large one as float32/int)
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.arrays_.items()}

    def _restore(self, state: dict[str, torch.Tensor]) -> None:
        self.arrays_ = {k: np.array(v.numpy(), copy=True) for k, v in state.items()}

    def _tune(self, data: TransferData, grid: Sequence[float], set_value, evaluate=None) -> float:
        """Pick the grid value with the best cold_valid NDCG@10 (first one on ties); ``evaluate()`` scores the
        value just set (default: :func:`valid_ndcg` of the method as it stands)."""
        best_v, self.history_["valid_curve"], self.history_["best_valid_ndcg@10"] = scan_grid(
            grid, set_value, evaluate or (lambda: valid_ndcg(self, data)),
            state=(lambda: dict(self.arrays_), lambda arrays: setattr(self, "arrays_", arrays)))
        return best_v

    def _record(self, key: str, chosen: float, start: float) -> "ArrayMethod":
        """Record the chosen ``key`` in ``meta_`` and ``history_`` with the fit's parameters and seconds."""
        self.meta_[key] = chosen
        self.history_.update({key: chosen, "params": self.get_params(),
                              "fit_seconds": time.perf_counter() - start})
        return self

    def _tune_and_record(self, data: TransferData, key: str, grid: Sequence[float], set_value,
                         start: float) -> "ArrayMethod":
        """Tune ``key`` on cold_valid (see :meth:`_tune`), then record it (:meth:`_record`)."""
        return self._record(key, self._tune(data, grid, set_value), start)


class Pop(ArrayMethod):
    """score(u, i) = number of warm users with a training positive on target item i."""

    name = "pop"

    def __init__(self, threads: int | None = DEFAULT_THREADS) -> None:
        super().__init__(threads)

    @on_threads
    def fit(self, data: TransferData) -> "Pop":
        self._check_train_data(data)
        counts = np.asarray(data.X_target_train[data.warm_idx].sum(axis=0)).ravel()
        self.arrays_ = {"counts": counts.astype(np.float64)}
        self.meta_ = {"n_target": data.n_target}
        self.history_ = {"params": {}, "valid_ndcg@10": valid_ndcg(self, data)}
        return self

    @on_threads
    def score(self, data: TransferData, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted(data)
        return np.tile(self.arrays_["counts"].astype(np.float32), (len(user_idx), 1))


class ZeroShot(TransferMethod):
    """score(u, i) = cos(u_s, e_i) over target items; no training (zero vectors score 0)."""

    name = "zero_shot"

    def __init__(self, threads: int | None = DEFAULT_THREADS) -> None:
        super().__init__()
        self.threads = check_threads(threads)

    @property
    def reads_text(self) -> bool:
        return True

    @on_threads
    def fit(self, data: TransferData) -> "ZeroShot":
        self.meta_ = {"n_target": data.n_target}
        self.history_ = {"params": {}, "valid_ndcg@10": valid_ndcg(self, data)}
        return self

    @on_threads
    def score(self, data: TransferData, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted(data)
        u = l2_normalise(data.U_s[np.asarray(user_idx, dtype=np.int64)].astype(np.float64))
        return (u @ l2_normalise(data.E_target.astype(np.float64)).T).astype(np.float32)

    @property
    def can_score_items(self) -> bool:
        return True

    @on_threads
    def score_items(self, data: TransferData, user_idx: np.ndarray, item_vectors: np.ndarray,
                    bias: str | float = "mean", fit_items: np.ndarray | None = None) -> np.ndarray:
        """cos(u_s, v) for any item vectors v (text only: a new item scores like an old one;
        there is no item parameter, so ``bias`` and ``fit_items`` are ignored)."""
        self._check_fitted()
        u = l2_normalise(data.U_s[np.asarray(user_idx, dtype=np.int64)].astype(np.float64))
        e = l2_normalise(np.atleast_2d(np.asarray(item_vectors, dtype=np.float64)))
        return (u @ e.T).astype(np.float32)


class CDRidge(ArrayMethod):
    """B = (XsᵀXs + λI)⁻¹ XsᵀXt on warm users; score = x_s·B; λ tuned on cold_valid NDCG@10.

    ``source_input`` picks x_s (see :data:`~rec_helpers.transfer.data.SOURCE_INPUTS`); the
    reference CD-ridge reads source positives only, as SPEC §4 defines it. ``user_feature_weight`` c > 0
    appends c × the user's feature row (``TransferData.user_features``) to x_s (0: off, the reference).

    ``solver``: "exact" (one eigh of the Gram matrix serves every λ), "low_rank" (a seeded
    randomized SVD Xs ≈ U S Vᵀ of rank ``rank``: B ≈ V diag(s/(s²+λ)) UᵀXt, stored as the
    factors V and Q = diag(s/(s²+λ)) UᵀXt, so no n_s × n_s or n_s × n_t matrix is ever formed),
    or "auto" (exact up to :data:`EXACT_MAX_SOURCE_COLUMNS` source columns and
    :data:`EXACT_MAX_MAP_CELLS` map entries, else low rank).
    """

    name = "cd_ridge"

    def __init__(self, l2_grid: Sequence[float] = DEFAULT_RIDGE_GRID,
                 source_input: str = "positives", solver: str = "auto", rank: int = 512,
                 user_feature_weight: float = 0.0,
                 seed: int = DEFAULT_SEED, threads: int | None = DEFAULT_THREADS) -> None:
        super().__init__(threads)
        self.l2_grid = check_grid("l2_grid", l2_grid)
        if min(self.l2_grid) <= 0:
            raise ConfigError("l2_grid values must be > 0 (λ = 0 makes XsᵀXs singular).")
        check_choice("source_input", source_input, SOURCE_INPUTS)
        check_choice("solver", solver, RIDGE_SOLVERS)
        check_range("rank", rank, 0, lo_open=True)
        check_range("user_feature_weight", user_feature_weight, 0)
        self.source_input, self.solver, self.rank, self.seed = source_input, solver, int(rank), int(seed)
        self.user_feature_weight = float(user_feature_weight)

    def _inputs(self, data: TransferData, idx: np.ndarray) -> sp.csr_matrix:
        """x_s of the users, with c × their feature rows appended when the map was fitted with them."""
        x = data.source_matrix(self.source_input, idx).astype(np.float64)
        names = self.meta_.get("user_feature_names")
        if not names:
            return x
        f = _checked_feature_rows(data, idx, names, self.name)
        return sp.hstack([x, sp.csr_matrix(self.user_feature_weight * f)], format="csr")

    def chosen_solver(self, n_source: int, n_target: int) -> str:
        """The solver ``fit`` uses for these sizes (resolves "auto")."""
        if self.solver != "auto":
            return self.solver
        small = n_source <= EXACT_MAX_SOURCE_COLUMNS and n_source * n_target <= EXACT_MAX_MAP_CELLS
        return "exact" if small else "low_rank"

    @on_threads
    def fit(self, data: TransferData) -> "CDRidge":
        self._check_train_data(data)
        start = time.perf_counter()
        w = data.warm_idx
        self.history_ = {}
        feats = _user_feature_basis(data, w, self.user_feature_weight, self.history_)
        self.meta_ = {"n_target": data.n_target,
                      "user_feature_names": [] if feats is None else list(data.user_feature_names)}
        xs = self._inputs(data, w)
        xt = data.X_target_train[w].astype(np.float64)
        solver = self.chosen_solver(xs.shape[1], data.n_target)
        self.meta_["solver"] = solver
        if solver == "exact":
            lam, q = np.linalg.eigh((xs.T @ xs).toarray())  # B(λ) = Q diag(1/(Λ+λ)) Qᵀ XsᵀXt, every λ
            qtc = q.T @ (xs.T @ xt).toarray()

            def set_l2(l2: float) -> None:
                self.arrays_ = {"B": q @ (qtc / (lam + l2)[:, None])}
        else:
            from sklearn.utils.extmath import randomized_svd
            rank = max(1, min(self.rank, min(xs.shape)))
            u, s, vt = randomized_svd(xs, rank, n_iter=4, random_state=self.seed)
            utxt = np.asarray((xt.T @ u).T)  # r × n_t, from the sparse target rows

            def set_l2(l2: float) -> None:
                self.arrays_ = {"V": np.ascontiguousarray(vt.T), "Q": (s / (s ** 2 + l2))[:, None] * utxt}

        return self._tune_and_record(data, "l2", self.l2_grid, set_l2, start)

    @on_threads
    def score(self, data: TransferData, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted(data)
        x_s = self._inputs(data, user_idx)
        if "B" in self.arrays_:
            return np.asarray(x_s @ self.arrays_["B"]).astype(np.float32)
        return (np.asarray(x_s @ self.arrays_["V"]) @ self.arrays_["Q"]).astype(np.float32)


class CDRidgeAll(CDRidge):
    """CD-ridge given every source rating: x_s = [positives | rated at all] (``source_input="both"``).

    The baseline for methods that read all source ratings, so the leaderboard compares
    methods given the same inputs. Its λ grid reaches higher (twice the columns, more
    co-occurrence mass), still chosen on cold_valid.
    """

    name = "cd_ridge_all"

    def __init__(self, l2_grid: Sequence[float] = DEFAULT_RIDGE_GRID + (3000.0,),
                 source_input: str = "both", solver: str = "auto", rank: int = 512,
                 seed: int = DEFAULT_SEED, threads: int | None = DEFAULT_THREADS) -> None:
        super().__init__(l2_grid=l2_grid, source_input=source_input, solver=solver, rank=rank, seed=seed,
                         threads=threads)


class CDRidgeFeatures(CDRidge):
    """CD-ridge given every source rating and the user features: x_s = [positives | rated at all | c·f_u].

    The same-input baseline of the kernel map (and score fusion) when they read user features, so the
    leaderboard can tell what the features add to a linear map from what the nonlinear map adds. c
    (``user_feature_weight``) was chosen on cold_valid (``benchmarks/user_features_grid.py``); its λ grid is
    CD-ridge (all ratings)'s, chosen on cold_valid in ``fit``. Without user features in the data it is
    CD-ridge (all ratings), and says so in its history.
    """

    name = "cd_ridge_features"

    def __init__(self, l2_grid: Sequence[float] = DEFAULT_RIDGE_GRID + (3000.0,),
                 source_input: str = "both", solver: str = "auto", rank: int = 512,
                 user_feature_weight: float = 4.0,
                 seed: int = DEFAULT_SEED, threads: int | None = DEFAULT_THREADS) -> None:
        super().__init__(l2_grid=l2_grid, source_input=source_input, solver=solver, rank=rank,
                         user_feature_weight=user_feature_weight, seed=seed, threads=threads)


class KernelMap(ArrayMethod):
    """Kernel ridge map from source behaviour to target behaviour (a nonlinear CD-ridge).

    k(u, v) = cos(x_u, x_v)^p between users' source rows; on warm users W,
    A = (K_WW + λI)⁻¹ Y_W with Y = target positives + ``target_all_weight`` · every rated
    target item (the "watched it" signal); score(u) = k(u, W) A. λ is tuned on cold_valid.
    Stored in dual form: the warm users' L2-normalised source rows (sparse) and A (float32).

    ``smoothing`` (an EASE λ_s, or None: off) also compares users through their *smoothed* source
    rows x̃ = x S, where S is EASE's item–item model of the warm users' source rows,
    S = I − P diag(1/diag P) with P = (X_Wᵀ X_W + λ_s I)⁻¹ (zero diagonal): a user who rated
    "Alien" then looks a little like one who rated "Aliens". The kernel averages both cosines,
    k(u, v) = ((cos(x_u, x_v) + w · cos(x̃_u, x̃_v)) / (1 + w))^p with w = ``smoothing_weight``.
    S is width × width (width = source columns of ``source_input``); beyond
    ``SMOOTHING_MAX_COLUMNS`` it is not formed and the map fits without smoothing (recorded in
    ``history_["smoothing"]``, with a warning). The class default is off (the plain map); the run's config
    turns it on (``transfer.kernel_map.smoothing``, chosen with ``benchmarks/kernel_map_grid.py``).

    ``user_feature_weight`` γ > 0 adds a second kernel on the users' features (``TransferData.user_features``:
    MovieLens' gender, age group and occupation, one-hot, rows L2-normalised), in the same power:
    k(u, v) = k_source(u, v) + γ · (f_u · f_v)^p. Two users with the same features then look a little alike
    even when their source rows do not; the features are known for cold-start users too. Off (0) by default
    in the class; the run's config sets γ (``benchmarks/user_features_grid.py``). Without user features in
    the data the map fits without them and says so in ``history_["user_features"]``.

    Beyond ``landmarks`` warm users the W × W kernel is not formed: a seeded sample L of
    ``landmarks`` warm users spans the map (Nyström, subset of regressors),
    A = (K_LW K_WL + λ K_LL)⁻¹ K_LW Y_W and score(u) = k(u, L) A, built in chunks of warm users
    (one generalised eigh serves every λ). With L = W it is the exact solution.
    """

    name = "kernel_map"
    _force_nystrom = False  # tests: the Nyström path with every warm user as a landmark

    def __init__(self, power: int = 2, l2_grid: Sequence[float] = (1.0, 3.0, 10.0),
                 source_input: str = "both", target_all_weight: float = 0.25, landmarks: int = 3000,
                 smoothing: float | None = None, smoothing_weight: float = 1.0,
                 user_feature_weight: float = 0.0,
                 seed: int = DEFAULT_SEED, threads: int | None = DEFAULT_THREADS) -> None:
        super().__init__(threads)
        check_range("user_feature_weight", user_feature_weight, 0)
        self.user_feature_weight = float(user_feature_weight)
        if smoothing is not None:
            check_range("smoothing", smoothing, 0, lo_open=True)
        check_range("smoothing_weight", smoothing_weight, 0, lo_open=True)
        self.smoothing = None if smoothing is None else float(smoothing)
        self.smoothing_weight = float(smoothing_weight)
        self._smoothed = None  # (S, warm row data, the warm rows smoothed): see _smoothed_basis
        check_range("power", power, 1)
        self.power = int(power)
        self.l2_grid = check_grid("l2_grid", l2_grid)
        if min(self.l2_grid) <= 0:
            raise ConfigError("l2_grid values must be > 0 (λ = 0 makes K_WW singular).")
        check_choice("source_input", source_input, SOURCE_INPUTS)
        check_range("target_all_weight", target_all_weight, 0)
        check_range("landmarks", landmarks, 0, lo_open=True)
        self.source_input, self.target_all_weight = source_input, float(target_all_weight)
        self.landmarks, self.seed = int(landmarks), int(seed)

    def _rows(self, data: TransferData, idx) -> sp.csr_matrix:
        return l2_normalise(data.source_matrix(self.source_input, idx).astype(np.float64))

    def _basis_rows(self) -> sp.csr_matrix:
        a = self.arrays_
        return sp.csr_matrix((a["w_data"], a["w_indices"], a["w_indptr"]),
                             shape=(len(a["w_indptr"]) - 1, int(self.meta_["width"])))

    def _smoothed_basis(self) -> tuple[np.ndarray, np.ndarray]:
        """(S in float64, the stored (basis) users' smoothed rows x̃ = x S, L2-normalised), built once per
        fitted map (S is stored in float32; every product uses that rounded S, so a reloaded map scores alike)."""
        a = self.arrays_
        kept = self._smoothed
        if kept is None or kept[0] is not a["S"] or kept[1] is not a["w_data"]:
            s64 = a["S"].astype(np.float64)
            kept = (a["S"], a["w_data"], s64, l2_normalise(np.asarray(self._basis_rows() @ s64)))
            self._smoothed = kept
        return kept[2], kept[3]

    def _kernel(self, data: TransferData, idx) -> np.ndarray:
        rows = self._rows(data, idx)
        cos = (rows @ self._basis_rows().T).toarray()
        if "S" in self.arrays_:
            s64, basis = self._smoothed_basis()
            smooth = l2_normalise(np.asarray(rows @ s64))  # x̃ = x S from the normalised row: the same direction
            w = self.smoothing_weight
            cos = (cos + w * (smooth @ basis.T)) / (1.0 + w)
        k = cos ** self.power
        if "w_feat" in self.arrays_:
            f = _checked_feature_rows(data, idx, self.meta_["user_feature_names"], "the kernel map")
            k += self.user_feature_weight * (f @ self.arrays_["w_feat"].T.astype(np.float64)) ** self.power
        return k

    def _smoothing_model(self, data: TransferData) -> np.ndarray | None:
        """EASE's item–item model S of the warm users' source rows (float32), or None when off or too wide."""
        if self.smoothing is None:
            self.history_["smoothing"] = "off"
            return None
        x = data.source_matrix(self.source_input, data.warm_idx).astype(np.float64)
        if x.shape[1] > SMOOTHING_MAX_COLUMNS:
            note = (f"off: {x.shape[1]:,} source columns > {SMOOTHING_MAX_COLUMNS:,} (S would be "
                    f"{x.shape[1]:,} × {x.shape[1]:,}); set transfer.kernel_map.smoothing: null to silence this")
            warnings.warn(f"kernel_map smoothing {note}", stacklevel=4)  # fit's caller (fit → on_threads → here)
            self.history_["smoothing"] = note
            return None
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += self.smoothing
        p = np.linalg.inv(gram)
        s = -p / np.diag(p)[None, :]
        np.fill_diagonal(s, 0.0)
        self.history_["smoothing"] = {"l2": self.smoothing, "weight": self.smoothing_weight, "columns": int(x.shape[1])}
        return s.astype(np.float32)

    def _targets(self, data: TransferData, idx) -> sp.csr_matrix:
        y = data.X_target_train[idx].astype(np.float64)
        return y + self.target_all_weight * data.target_seen[idx] if self.target_all_weight else y

    @on_threads
    def fit(self, data: TransferData) -> "KernelMap":
        self._check_train_data(data)
        start = time.perf_counter()
        w = data.warm_idx
        nystrom = self._force_nystrom or len(w) > self.landmarks
        rng = np.random.default_rng(self.seed)
        basis = np.sort(rng.choice(w, min(self.landmarks, len(w)), replace=False)) if nystrom else w
        xb = self._rows(data, basis)
        self.meta_ = {"n_target": data.n_target, "width": int(xb.shape[1]), "landmarks": int(len(basis)) if nystrom else None}
        self.arrays_ = {"w_data": xb.data, "w_indices": xb.indices.astype(np.int64),
                        "w_indptr": xb.indptr.astype(np.int64)}
        self.history_, self._smoothed = {}, None
        smoothing = self._smoothing_model(data)
        if smoothing is not None:
            self.arrays_["S"] = smoothing
        feats = _user_feature_basis(data, basis, self.user_feature_weight, self.history_)
        if feats is not None:
            self.arrays_["w_feat"] = feats
            self.meta_["user_feature_names"] = list(data.user_feature_names)
        if nystrom:
            from scipy.linalg import eigh

            gram, cross = np.zeros((len(basis), len(basis))), np.zeros((data.n_target, len(basis)))
            for part in user_chunks(w):  # K_LW K_WL and K_LW Y, a chunk of warm users at a time
                k_part = self._kernel(data, part)
                gram += k_part.T @ k_part
                cross += np.asarray(self._targets(data, part).T @ k_part)
            k_ll = self._kernel(data, basis)
            jitter = 1e-8 * np.trace(k_ll) / len(basis)
            lam, q = eigh(gram, k_ll + jitter * np.eye(len(basis)))  # A(λ) = Q diag(1/(Λ+λ)) Qᵀ K_LW Y
            qty = q.T @ cross.T
        else:
            lam, q = np.linalg.eigh(self._kernel(data, w))  # A(λ) for every λ from one eigh
            qty = q.T @ self._targets(data, w).toarray()
        warm_rows = dict(self.arrays_)
        # The λ scan scores cold_valid as k(u, B) Q diag(1/(Λ+λ)) QᵀY, without forming A(λ) (basis × catalogue)
        # for every λ: that product cost 0.9 s a λ on ML-1M (17 GFLOP), the scan's rows 0.1 s; A is formed once,
        # for the chosen λ, exactly as before. (The exact map's scan reads A(λ) in float64, not rounded to float32
        # as stored; the chosen λ and the cold_valid curve on ML-1M are the same to the last digit.)
        kq: dict[bytes, np.ndarray] = {}
        # the Nyström map scores in float32 (see score): so does its scan, which also keeps a 2,048-user block of
        # scores at half the memory (0.8 GB at 10⁵ items)
        qty_scan = qty.astype(np.float32) if nystrom else qty

        def valid_scores(part: np.ndarray, l2: float) -> np.ndarray:
            key = part.tobytes()
            if key not in kq:
                kq[key] = self._kernel(data, part) @ q
            return (kq[key] / (lam + l2)).astype(qty_scan.dtype) @ qty_scan

        best = self._tune(data, self.l2_grid, lambda l2: self.meta_.__setitem__("l2", l2),
                          lambda: valid_ndcg_of(lambda part: valid_scores(part, self.meta_["l2"]), data))
        self.arrays_ = {**warm_rows, "A": (q @ (qty / (lam + best)[:, None])).astype(np.float32)}
        return self._record("l2", best, start)

    @on_threads
    def score(self, data: TransferData, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted(data)
        if self.meta_.get("landmarks") is not None:
            # The Nyström map (beyond `landmarks` warm users) scores in float32: at 10⁵ items the
            # float64 product, with its float64 copy of A, took 11.4 s per 2,048 users against 5.4 s,
            # and the two differ by at most 2.4e-7 on scores of order 1, far below the Nyström
            # approximation itself. The exact map (ML-1M) keeps its float64 product.
            return self._kernel(data, user_idx).astype(np.float32) @ self.arrays_["A"]
        return (self._kernel(data, user_idx) @ self.arrays_["A"].astype(np.float64)).astype(np.float32)


def _svd_factors(x: sp.csr_matrix, rank: int, seed: int) -> np.ndarray:
    """Right singular vectors V (n_items × rank) of a binary matrix, deterministic signs."""
    rank = max(1, min(rank, min(x.shape) - 1))
    v0 = np.random.default_rng(seed).random(min(x.shape))
    _, s, vt = svds(x.astype(np.float64), k=rank, v0=v0)
    v = vt[np.argsort(-s)].T
    signs = np.sign(v[np.abs(v).argmax(axis=0), np.arange(v.shape[1])])
    return v * np.where(signs == 0, 1.0, signs)


class EMCDR(ArrayMethod):
    """EMCDR with PureSVD factors: P_s = X_s V_s, P_t = X_t V_t, P̂_t = M(P_s), score = P̂_t V_tᵀ.

    V_s: top-``rank`` right singular vectors of all users' source positives; V_t: those of
    warm users' target positives. M is a linear ridge map fitted on warm users, its λ tuned
    on cold_valid NDCG@10. Users with training target positives keep their own P_t = X_t V_t.
    """

    name = "emcdr"

    def __init__(self, rank: int = 64, map_l2_grid: Sequence[float] = DEFAULT_MAP_GRID,
                 seed: int = DEFAULT_SEED, threads: int | None = DEFAULT_THREADS) -> None:
        super().__init__(threads)
        check_range("rank", rank, 0, lo_open=True)
        self.rank, self.map_l2_grid = int(rank), check_grid("map_l2_grid", map_l2_grid)
        self.seed = int(seed)

    @on_threads
    def fit(self, data: TransferData) -> "EMCDR":
        self._check_train_data(data)
        start = time.perf_counter()
        w = data.warm_idx
        v_s = _svd_factors(data.X_source, self.rank, self.seed)
        v_t = _svd_factors(data.X_target_train[w], self.rank, self.seed)
        p_s = np.asarray(data.X_source[w] @ v_s)
        p_t = np.asarray(data.X_target_train[w] @ v_t)
        self.meta_ = {"n_target": data.n_target}
        self.history_ = {}

        def set_l2(l2: float) -> None:
            m, mx, my = ridge_map(p_s, p_t, l2, dtype=np.float64)
            self.arrays_ = {"V_s": v_s, "V_t": v_t, "M": m, "mean_s": mx, "mean_t": my}

        return self._tune_and_record(data, "map_l2", self.map_l2_grid, set_l2, start)

    @on_threads
    def score(self, data: TransferData, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted(data)
        a = self.arrays_
        idx = np.asarray(user_idx, dtype=np.int64)
        p_s = np.asarray(data.X_source[idx].astype(np.float64) @ a["V_s"])
        p_t = (p_s - a["mean_s"]) @ a["M"] + a["mean_t"]
        own = data.n_target_pos[idx] > 0
        if own.any():
            p_t[own] = np.asarray(data.X_target_train[idx[own]].astype(np.float64) @ a["V_t"])
        return (p_t @ a["V_t"].T).astype(np.float32)
