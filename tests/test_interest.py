"""Tests of rec_helpers.interest against small hand-computed examples."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rec_helpers import constants
from rec_helpers.errors import ConfigError, DataValidationError
from rec_helpers.interest import (
    WEIGHT_EPS, centred_weights, mean_interest_vectors, text_interest_vectors, user_history_texts,
)

DAY = 86_400
ITEM_IDS = ["i1", "i2", "i3"]
ITEM_VECTORS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=np.float32)
USERS = ["a", "b", "c", "z"]


def interactions() -> pd.DataFrame:
    """a: 5,4,3 (mean 4) -> positives i1 (w=2), i2 (w=1); b: no positives; c: one 5; z: absent."""
    return pd.DataFrame({
        "user": ["a", "a", "a", "b", "b", "c"],
        "item": ["i1", "i2", "i3", "i1", "i3", "i2"],
        "rating": [5.0, 4.0, 3.0, 2.0, 1.0, 5.0],
        "timestamp": [0, 10 * DAY, 10 * DAY, 0, DAY, 5 * DAY],
    })


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def test_hand_computed_without_decay():
    got = mean_interest_vectors(interactions(), ITEM_IDS, ITEM_VECTORS, USERS)
    assert got.shape == (4, 2) and got.dtype == np.float32
    np.testing.assert_allclose(got[0], unit([2 / 3, 1 / 3]), atol=1e-6)  # (2 e1 + 1 e2) / 3
    np.testing.assert_allclose(got[1], 0.0)  # b: no positives -> zero row
    np.testing.assert_allclose(got[2], [0.0, 1.0], atol=1e-6)  # c: only e2
    np.testing.assert_allclose(got[3], 0.0)  # z: no interactions -> zero row


def test_hand_computed_with_decay():
    # a's latest interaction is day 10; i1 is 10 days old -> decay 0.5 -> w = 2 * 0.5 = 1 = w(i2)
    got = mean_interest_vectors(interactions(), ITEM_IDS, ITEM_VECTORS, USERS, half_life_days=10)
    np.testing.assert_allclose(got[0], unit([1, 1]), atol=1e-6)
    np.testing.assert_allclose(got[2], [0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(got[1], 0.0)


def test_datetime_timestamps_match_unix_seconds():
    frame = interactions()
    as_dates = frame.assign(timestamp=pd.to_datetime(frame["timestamp"], unit="s"))
    np.testing.assert_allclose(
        mean_interest_vectors(as_dates, ITEM_IDS, ITEM_VECTORS, USERS, half_life_days=3),
        mean_interest_vectors(frame, ITEM_IDS, ITEM_VECTORS, USERS, half_life_days=3),
        atol=1e-6,
    )


def test_threshold_and_user_order():
    got = mean_interest_vectors(interactions(), ITEM_IDS, ITEM_VECTORS, ["c", "a"], positive_threshold=5)
    np.testing.assert_allclose(got[0], [0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(got[1], [1.0, 0.0], atol=1e-6)  # only the 5 counts


def test_weights_are_clipped_at_epsilon():
    ratings = np.array([4.0] + [5.0] * 99)  # mean 4.99 -> 1 + (4 - 4.99) = 0.01
    weights = centred_weights(np.zeros(100, dtype=np.int64), ratings, 1)
    assert weights[0] == WEIGHT_EPS and weights[1] == pytest.approx(1.01)


def test_unknown_item_is_an_error():
    frame = pd.concat([interactions(), pd.DataFrame({"user": ["a"], "item": ["i9"], "rating": [5.0],
                                                     "timestamp": [0]})])
    with pytest.raises(DataValidationError, match="i9"):
        mean_interest_vectors(frame, ITEM_IDS, ITEM_VECTORS, USERS)


@pytest.mark.parametrize("kwargs, error", [
    ({"half_life_days": 0}, ConfigError),
    ({"users": ["a", "a"]}, DataValidationError),
    ({"item_vectors": ITEM_VECTORS[:2]}, DataValidationError),
    ({"col_rating": "stars"}, DataValidationError),
])
def test_bad_inputs(kwargs, error):
    args = {"item_vectors": ITEM_VECTORS, "users": USERS, **kwargs}
    with pytest.raises(error):
        mean_interest_vectors(interactions(), ITEM_IDS, **args)


# --- text interest vectors -------------------------------------------------------------------

ITEMS = pd.DataFrame({"item": ITEM_IDS, "title": ["Toy Story", "Heat", "Jumanji"]})


def test_history_texts_newest_first_and_capped():
    texts = user_history_texts(interactions(), ITEMS, USERS)
    assert texts.loc["a"] == "Heat; Toy Story"  # i2 (day 10) before i1 (day 0); i3 is not positive
    assert texts.loc["b"] == "" and texts.loc["z"] == "" and texts.loc["c"] == "Heat"
    assert user_history_texts(interactions(), ITEMS, ["a"], n_recent=1).tolist() == ["Heat"]


@pytest.fixture(scope="module")
def encoder():
    from rec_helpers.encoder import BertEncoder

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        yield BertEncoder(constants.DEFAULT_MODEL)


def test_text_interest_vectors(encoder):
    got = text_interest_vectors(interactions(), ITEMS, encoder, USERS, show_progress=False)
    assert got.shape == (4, encoder.dim) and got.dtype == np.float32
    expected = encoder.encode(["Heat; Toy Story", "Heat"], show_progress=False)
    np.testing.assert_allclose(got[[0, 2]], expected, atol=1e-5)
    assert not got[[1, 3]].any()  # no positives -> zero rows
