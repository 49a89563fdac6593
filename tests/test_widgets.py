"""Classroom views on synthetic data (no BERT): Fusion.score_at, the static fallbacks, the live widgets."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from IPython.utils.capture import capture_output

from rec_helpers import simulation, widgets
from rec_helpers.errors import ConfigError
from rec_helpers.transfer.data import make_synthetic_data
from rec_helpers.transfer.ranking import mask_seen, ndcg_at_k
from rec_helpers.transfer.registry import make_method

SMALL = dict(hidden=16, out_dim=8, epochs=3, patience=2, batch_size=32, progress=False, device="cpu", seed=0)


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic_data(n_users=80, n_source=30, n_target=40, dim=16, seed=3,
                               interactions_per_user=(10, 14), return_test=True)


@pytest.fixture(scope="module")
def ci(synthetic) -> widgets.ClassroomInputs:
    data, test = synthetic
    models = {"pop": make_method("pop").fit(data), "zero_shot": make_method("zero_shot").fit(data),
               "fusion": make_method("fusion", **SMALL).fit(data), "adapter": make_method("adapter", **SMALL).fit(data)}
    cold = data.user_ids[data.cold_test_idx]
    rankings = {m: f.recommend(data, cold, k=15) for m, f in models.items()}
    rows, cols = data.X_source.nonzero()
    source = pd.DataFrame({"user": data.user_ids[rows], "item": data.source_item_ids[cols], "rating": 5.0,
                           "timestamp": np.arange(len(rows))})
    ids = np.concatenate([data.source_item_ids, data.target_item_ids])
    items = pd.DataFrame({"item": ids, "title": [f"Movie {i}" for i in ids], "genres": ""})
    return widgets.ClassroomInputs(data=data, items=items, source=source, truth=test, models=models,
                                   rankings=rankings, salt="test-salt", seed=0)


# --------------------------------------------------------------------------- Fusion.score_at
def test_score_at_equals_a_fixed_alpha_fit(synthetic):
    data, _ = synthetic
    idx = data.cold_test_idx
    fixed = make_method("fusion", mode="fixed", alpha=0.3, **SMALL).fit(data)
    np.testing.assert_array_equal(fixed.score_at(data, idx, 0.3), fixed.score(data, idx))
    np.testing.assert_array_equal(fixed.score_at(data, idx, 0.7), fixed.score_at(data, idx, 0.7))  # deterministic
    assert not np.allclose(fixed.score_at(data, idx, 0.0), fixed.score_at(data, idx, 1.0))


def test_score_at_restores_state_and_validates(ci):
    data, fusion = ci.data, ci.models["fusion"]
    idx = data.cold_valid_idx
    before, alpha = fusion.score(data, idx), fusion.alpha_
    np.testing.assert_array_equal(fusion.score_at(data, idx, alpha), before)
    fusion.score_at(data, idx, 0.95)
    assert fusion.alpha_ == alpha and fusion.module_.transfer.mode == "tuned"
    np.testing.assert_array_equal(fusion.score(data, idx), before)
    for bad in (-0.1, 1.5, float("nan"), "x", None):
        with pytest.raises(ConfigError, match="alpha"):
            fusion.score_at(data, idx, bad)


def test_score_at_in_learned_mode_bypasses_the_gate_and_restores_it(synthetic):
    data, _ = synthetic
    learned = make_method("fusion", mode="learned", **SMALL).fit(data)
    idx = data.cold_test_idx
    before = learned.score(data, idx)
    a = learned.score_at(data, idx, 0.4)
    fixed_path = learned.score_at(data, idx, 0.4)
    np.testing.assert_array_equal(a, fixed_path)
    assert learned.module_.transfer.mode == "learned"
    np.testing.assert_array_equal(learned.score(data, idx), before)


def test_alpha_curve_matches_the_tuner(ci):
    fusion, data = ci.models["fusion"], ci.data
    curve = simulation.alpha_curve(fusion, data, step=0.1, progress=False)
    assert list(curve.index) == [round(0.1 * i, 2) for i in range(11)]
    for a, v in fusion.history_["alpha_curve"].items():
        assert curve.loc[round(float(a), 2)] == pytest.approx(v)


# --------------------------------------------------------------------------- static fallbacks
@pytest.fixture
def headless(monkeypatch):
    monkeypatch.setenv(widgets.ENV_HEADLESS, "1")


def _shown(c) -> bool:
    return bool(c.outputs) or bool(c.stdout.strip())


def test_user_explorer_static(ci, headless):
    with capture_output() as c:
        v = widgets.user_explorer(ci)
    assert v.widget is None and _shown(c)
    top = v.tables["top"]
    assert list(top.columns) == ["pop", "zero_shot", "fusion", "adapter"] and len(top) == 10
    assert "hits" in v.figures
    user = ci.default_user()
    hits = v.tables["hits"]
    assert (hits["hits@10"] == top.apply(lambda col: col.str.startswith(widgets.HIT).sum())).all()
    assert ci.display_id(user) != str(user) and len(ci.display_id(user)) == 16  # pseudonymised


def test_alpha_slider_static(ci, headless):
    with capture_output() as c:
        v = widgets.alpha_slider(ci)
    assert v.widget is None and _shown(c)
    assert "curve" in v.figures and len(v.tables["curve"]) == 21
    assert v.tables["top"].shape[1] in (2, 3)


def test_feedback_loop_static(ci, headless):
    with capture_output() as c:
        v = widgets.feedback_loop(ci)
    assert v.widget is None and _shown(c)
    h = v.tables["history"]
    assert h["action"].tolist()[:1] == ["start"] and (h["action"] == "dislike").sum() <= 2
    assert 1 <= (h["action"] == "like").sum() <= 3
    assert "drift" in v.figures


def test_cold_start_simulator_static(ci, headless):
    with capture_output() as c:
        v = widgets.cold_start_simulator(ci, n_users=10, max_k=2)
    assert v.widget is None and _shown(c)
    curve = v.tables["curve"]
    assert list(curve.index) == [0, 1, 2]
    assert {"fusion", "adapter", "pop (no target input)"} <= set(curve.columns)
    sim = v.data["simulation"]
    # k = 0 is the unchanged method: the curve's first point is fusion's plain NDCG@10 on those users
    idx = ci.data.users_to_idx(sim.users)
    s = mask_seen(ci.models["fusion"].score(ci.data, idx), ci.data.target_seen[idx])
    rel = sim.scores(sim.users, 0, "fusion")[1]
    assert curve.loc[0, "fusion"] == pytest.approx(ndcg_at_k(s, rel, 10))
    # revealed items are excluded from the lists and from the relevant set
    s2, rel2 = sim.scores(sim.users, 2, "pop")
    for r, u in enumerate(sim.users):
        cols = [ci.data.target_item_index[i] for i in sim.order[u][:2]]
        assert np.isneginf(s2[r, cols]).all() and rel2[r, cols].sum() == 0


# --------------------------------------------------------------------------- live widgets
def test_widgets_are_interactive_without_headless(ci, monkeypatch):
    import ipywidgets as w

    monkeypatch.delenv(widgets.ENV_HEADLESS, raising=False)
    with capture_output():
        views = {"explorer": widgets.user_explorer(ci), "alpha": widgets.alpha_slider(ci),
                 "feedback": widgets.feedback_loop(ci),
                 "cold": widgets.cold_start_simulator(ci, n_users=10, max_k=2)}
    for name, v in views.items():
        assert isinstance(v.widget, w.Widget), name

    # the α slider re-renders the user's list
    with capture_output():
        slider = views["alpha"].widget.children[1]
        slider.value = 0.0
    assert isinstance(slider, w.FloatSlider)
    assert views["alpha"].tables["top"]["rank"].tolist()[:1] == [1]

    # a like button updates the session
    fb = views["feedback"]
    rows = fb.widget.children[2]
    with capture_output():
        rows.children[0].children[0].click()
    assert fb.data["session"].history["action"].tolist() == ["start", "like"]

    # the k slider of the simulator
    with capture_output():
        views["cold"].widget.children[1].value = 2
    assert len(views["cold"].tables["user"]) == 4


def test_choice_view_static_and_live(monkeypatch):
    seen = []
    monkeypatch.setenv(widgets.ENV_HEADLESS, "1")
    widgets.choice_view(seen.append, ["a", "b"], "b")
    assert seen == ["b"]
    with capture_output():
        widgets.choice_view(seen.append, ["a", "b"], "a", interactive=True)
    assert seen == ["b", "a"]


def test_classroom_inputs_show_methods_not_their_controls(make_run, tmp_path, monkeypatch):
    """Notebook 08 passes every fitted model, text controls included; the widgets keep the methods."""
    from rec_helpers import pipeline

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    ctx = make_run(tmp_path / "run", encoder={"cache_dir": str(tmp_path / "cache")},
                   transfer={"methods": ["pop", "cd_ridge", "zero_shot"]}, evaluation={"n_resamples": 20})
    models = pipeline.ensure_methods(ctx, progress=False)
    assert "zero_shot__random" in models
    inputs = widgets.ClassroomInputs.from_context(ctx, list(models))
    assert list(inputs.models) == ["pop", "cd_ridge", "zero_shot"] and set(inputs.rankings) == set(inputs.models)
