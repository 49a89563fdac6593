"""Issue 13: bounded-memory scoring and the scalable solvers give the same answers as the exact paths."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rec_helpers.transfer import make_method, make_synthetic_data, ranking, valid_ndcg


@pytest.mark.parametrize("method", ["pop", "cd_ridge", "emcdr"])
def test_chunked_scoring_equals_one_block(method, monkeypatch):
    data = make_synthetic_data(seed=5)
    model = make_method(method).fit(data)
    users = list(data.user_ids[data.cold_valid_idx]) + list(data.user_ids[data.warm_idx[:7]])
    monkeypatch.setattr(ranking, "SCORE_CHUNK", 10 ** 9)
    whole, whole_ndcg = model.recommend(data, users, k=15), valid_ndcg(model, data)
    monkeypatch.setattr(ranking, "SCORE_CHUNK", 3)  # many chunks, the last one short
    assert len(list(ranking.user_chunks(np.arange(len(users))))) > 3
    pd.testing.assert_frame_equal(model.recommend(data, users, k=15), whole)
    assert valid_ndcg(model, data) == whole_ndcg
