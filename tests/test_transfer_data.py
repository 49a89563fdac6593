"""TransferData: construction, validation and the cold-data guarantees."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rec_helpers.constants import ROLE_COLD_TEST, ROLE_COLD_VALID, ROLE_WARM
from rec_helpers.errors import DataValidationError
from rec_helpers.transfer import TransferData, make_synthetic_data, mask_seen, ndcg_at_k, top_k


def tiny_frames():
    """Time-split style frames: item "b" is in both catalogues."""
    items = pd.DataFrame({"item": ["a", "b", "c", "d"],
                          "domain": ["source", "both", "target", "target"]})
    users = pd.DataFrame({"user": ["w1", "w2", "v1", "t1"],
                          "role": [ROLE_WARM, ROLE_WARM, ROLE_COLD_VALID, ROLE_COLD_TEST]})
    source = pd.DataFrame({"user": ["w1", "w2", "v1", "t1", "t1"],
                           "item": ["a", "b", "a", "b", "a"],
                           "rating": [5.0, 4.0, 2.0, 5.0, 4.0], "timestamp": 0})
    target_train = pd.DataFrame({"user": ["w1", "w1", "w2"], "item": ["c", "d", "c"],
                                 "rating": [5.0, 1.0, 4.0], "timestamp": 1})
    target_valid = pd.DataFrame({"user": ["v1"], "item": ["d"], "rating": [5.0], "timestamp": 2})
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(4, 3)).astype(np.float32)
    u_s = rng.normal(size=(4, 3)).astype(np.float32)
    u_t = np.zeros((4, 3), np.float32)
    u_t[:2] = rng.normal(size=(2, 3))
    return dict(items=items, users=users, source=source, target_train=target_train,
                target_valid=target_valid, item_ids=items["item"].to_numpy(), item_vectors=vecs,
                U_s=u_s, U_t=u_t)


def test_from_frames_builds_matrices():
    data = TransferData.from_frames(**tiny_frames())
    assert list(data.source_item_ids) == ["a", "b"]
    assert list(data.target_item_ids) == ["b", "c", "d"]
    assert data.X_source.toarray().tolist() == [[1, 0], [0, 1], [0, 0], [1, 1]]
    assert data.X_source_all.toarray()[2].tolist() == [1, 0]  # rated 2: seen, not positive
    # rating 1 on "d" is not a positive but is seen
    assert data.X_target_train.toarray().tolist() == [[0, 1, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0]]
    seen = data.target_seen.toarray()
    assert seen[0].tolist() == [0, 1, 1]
    # the "both" item from the source history is excluded at ranking, for cold users too
    assert seen[1].tolist() == [1, 1, 0] and seen[3].tolist() == [1, 0, 0]
    assert data.X_target_valid.toarray()[2].tolist() == [0, 0, 1]
    assert data.warm_idx.tolist() == [0, 1] and data.cold_test_idx.tolist() == [3]
    assert data.E_target.shape == (3, 3) and data.dim == 3


@pytest.mark.parametrize("change, message", [
    (lambda f: f["target_train"].__setitem__("user", ["w1", "w1", "t1"]), "target_train"),
    (lambda f: f["target_valid"].__setitem__("user", ["t1"]), "target_valid"),
    (lambda f: f["U_t"].__setitem__(3, 1.0), "leaks"),
    (lambda f: f["source"].__setitem__("item", ["a", "b", "a", "b", "c"]), "source catalogue"),
    (lambda f: f.__setitem__("items", f["items"].drop(columns="domain")), "domain"),
    (lambda f: f.__setitem__("U_s", f["U_s"][:3]), "shape"),
    (lambda f: f["users"].__setitem__("role", ["warm", "warm", "cold", "cold_test"]), "role"),
])
def test_from_frames_rejects_bad_input(change, message):
    frames = tiny_frames()
    change(frames)
    with pytest.raises(DataValidationError, match=message):
        TransferData.from_frames(**frames)


def test_synthetic_data_hides_cold_targets():
    data, test = make_synthetic_data(return_test=True)
    assert data.n_users == 60 and data.n_source == 40 and data.n_target == 50 and data.dim == 16
    cold = np.concatenate([data.cold_valid_idx, data.cold_test_idx])
    assert data.X_target_train[cold].nnz == 0 and data.target_seen[cold].nnz == 0
    assert np.all(data.U_t[cold] == 0)
    assert data.X_target_valid[data.cold_test_idx].nnz == 0
    assert data.X_target_valid[data.warm_idx].nnz == 0
    assert set(test["user"]) <= set(data.user_ids[data.cold_test_idx])
    assert np.allclose(np.linalg.norm(data.E_target, axis=1), 1.0, atol=1e-5)


def test_users_to_idx_unknown_user():
    data = make_synthetic_data()
    with pytest.raises(DataValidationError, match="unknown user"):
        data.users_to_idx(["nobody"])


def test_ndcg_and_top_k():
    scores = np.array([[3.0, 2.0, 2.0, 1.0], [0.0, 0.0, 0.0, 5.0]])
    assert top_k(scores, 3).tolist() == [[0, 1, 2], [3, 0, 1]]  # ties → lower index first
    import scipy.sparse as sp
    rel = sp.csr_matrix(np.array([[0, 1, 0, 0], [0, 0, 0, 0]]))
    # one relevant item at rank 2: DCG = 1/log2(3), IDCG = 1; row 2 has no relevant items
    assert ndcg_at_k(scores, rel, 10) == pytest.approx(1 / np.log2(3))
    masked = mask_seen(scores, sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0]])))
    assert masked[0, 0] == -np.inf and ndcg_at_k(masked, rel, 10) == pytest.approx(1.0)


def test_top_k_matches_full_stable_sort():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n, rows = int(rng.integers(20, 200)), int(rng.integers(1, 6))
        k = int(rng.integers(1, n + 1))
        scores = rng.integers(0, int(rng.integers(2, 50)), size=(rows, n)).astype(float)
        scores[rng.random((rows, n)) < rng.random()] = -np.inf
        expected = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(top_k(scores, k), expected)
