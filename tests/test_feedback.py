"""FeedbackSession maths on hand-made vectors: like/dislike updates, re-ranking, history and drift."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from rec_helpers.errors import ConfigError, DataValidationError
from rec_helpers.feedback import FeedbackSession, normalise, start_vector

# a = x axis, b = y axis, c in between (closer to b)
E = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
IDS = ["a", "b", "c"]


def session(eta: float = 2.0, **kw) -> FeedbackSession:
    return FeedbackSession(E, IDS, np.array([1.0, 0.0]), eta=eta, k=3, titles={"a": "A", "b": "B", "c": "C"}, **kw)


def test_start_ranks_by_cosine():
    s = session()
    rec = s.recommend()
    assert rec["item"].tolist() == ["a", "c", "b"]
    assert rec["title"].tolist() == ["A", "C", "B"]
    np.testing.assert_allclose(rec["score"], [1.0, 0.6, 0.0])
    assert rec["rank"].tolist() == [1, 2, 3]


def test_like_moves_towards_item_by_eta_then_renormalises():
    s = session(eta=2.0)
    s.like("b")
    expected = np.array([1.0, 2.0]) / np.sqrt(5.0)  # normalise(u + 2·e_b)
    np.testing.assert_allclose(s.u, expected)
    assert np.isclose(np.linalg.norm(s.u), 1.0)
    # re-ranked: c (0.983) > b (0.894) > a (0.447); b is rated, so it leaves the list
    assert s.recommend()["item"].tolist() == ["c", "a"]
    assert s.ranks().tolist() == [3, 2, 1]


def test_dislike_moves_away_from_item():
    s = session(eta=0.5)
    s.dislike("c")
    expected = normalise(np.array([1.0, 0.0]) - 0.5 * E[2])
    np.testing.assert_allclose(s.u, expected)
    assert s.u @ E[2] < 0.6  # less similar to the disliked item than at the start


def test_history_rows_and_values():
    s = session(eta=2.0)
    s.like("b")
    s.dislike("c")
    h = s.history
    assert h["step"].tolist() == [0, 1, 2]
    assert h["action"].tolist() == ["start", "like", "dislike"]
    assert h["item"].tolist()[1:] == ["b", "c"] and h["title"].tolist()[1:] == ["B", "C"]
    row = h.iloc[1]
    assert row["item_rank_before"] == 3 and row["item_rank_after"] == 2
    assert np.isclose(row["cos_to_start"], 1 / np.sqrt(5.0))
    assert np.isclose(row["cos_to_previous"], 1 / np.sqrt(5.0))
    assert h.iloc[0]["kept_from_start"] == 3
    u2 = normalise(np.array([1.0, 2.0]) / np.sqrt(5.0) - 2.0 * E[2])
    assert np.isclose(h.iloc[2]["cos_to_start"], u2[0])


def test_drift_tracks_the_starting_top_k():
    s = session(eta=2.0)
    s.like("b")
    d = s.drift()
    assert len(d) == 2 * 3  # steps × starting top-k items
    start = d[d["step"] == 0].sort_values("start_rank")
    assert start["item"].tolist() == ["a", "c", "b"] and start["rank"].tolist() == [1, 2, 3]
    after = d[d["step"] == 1].set_index("item")["rank"].to_dict()
    assert after == {"a": 3, "b": 2, "c": 1}
    np.testing.assert_allclose(d.groupby("step")["cos_to_start"].first(), [1.0, 1 / np.sqrt(5.0)])
    fig = s.drift_figure()
    assert isinstance(fig, go.Figure) and len(fig.data) == 1 + 3


def test_reset_and_recommend_at():
    s = session(eta=2.0)
    first = s.recommend()
    s.like("b")
    assert s.recommend_at(0)["item"].tolist() == first["item"].tolist()
    assert s.recommend_at(1)["item"].tolist() == s.recommend()["item"].tolist()
    s.reset()
    np.testing.assert_allclose(s.u, [1.0, 0.0])
    assert len(s.history) == 1 and not s.rated


def test_keep_rated_items_and_exclusions():
    s = session(eta=2.0, drop_rated=False, exclude=["a"])
    assert s.recommend()["item"].tolist() == ["c", "b"]  # a is excluded (already seen)
    s.like("b")
    assert s.recommend()["item"].tolist() == ["c", "b"]  # rated items stay when drop_rated=False


def test_bad_inputs_are_named():
    with pytest.raises(ConfigError, match="eta"):
        session(eta=0.0)
    with pytest.raises(DataValidationError, match="zero"):
        FeedbackSession(E, IDS, np.zeros(2))
    with pytest.raises(DataValidationError, match="unknown item"):
        session().like("zzz")
    with pytest.raises(DataValidationError, match="shape"):
        FeedbackSession(E, IDS[:2], np.array([1.0, 0.0]))


def test_start_vector_is_the_fusion_blend():
    u_s, prior = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    np.testing.assert_allclose(start_vector(u_s, prior, 1.0), [1.0, 0.0])
    np.testing.assert_allclose(start_vector(u_s, prior, 0.5), normalise(np.array([0.5, 1.0])))
    with pytest.raises(ConfigError):
        start_vector(u_s, prior, 1.5)
