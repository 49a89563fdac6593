"""shared_scores: inside the block a named method's scores of a block of users are computed once (same fitted
model, same data, same users) and handed out read-only; refits, other data, other users, unnamed methods and
arrays over the byte budget are scored again; score fusion's rankings are those it gives outside the block."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from rec_helpers.transfer import make_method, make_synthetic_data
from rec_helpers.transfer import base
from rec_helpers.transfer.base import shared_scores

VAE = dict(epochs=4, patience=2, hidden=32, latent_dim=8, progress=False)


@pytest.fixture(scope="module")
def data():
    return make_synthetic_data()


@pytest.fixture(scope="module")
def models(data):
    km = make_method("kernel_map").fit(data)
    vae = make_method("vae", **VAE).fit(data)
    sf = make_method("score_fusion", component_params={"vae": {k: v for k, v in VAE.items() if k != "progress"}},
                     progress=False).fit(data, fitted={"vae": vae, "kernel_map": km})
    return km, vae, sf


def test_scores_are_shared_inside_the_block_only(data, models):
    km, _, _ = models
    idx = data.cold_test_idx
    assert km.shared_score(data, idx) is not km.shared_score(data, idx)  # no block: scored each time
    with shared_scores(["kernel_map"]):
        first = km.shared_score(data, idx)
        assert km.shared_score(data, idx) is first
        assert not first.flags.writeable
        np.testing.assert_array_equal(first, km.score(data, idx))
        assert km.shared_score(data, idx[:-1]) is not first                       # other users
        other = dataclasses.replace(data, X_target_train=data.X_target_train.copy())
        assert km.shared_score(other, idx) is not first                            # other interactions
        # the kernel map reads no text: data with other vectors but the same interaction objects (a text
        # control's) is scored as the run's; the VAE reads text, so its control data is scored again
        control = dataclasses.replace(data, U_s=np.random.default_rng(0).normal(size=data.U_s.shape),
                                      E_target=np.random.default_rng(1).normal(size=data.E_target.shape))
        assert km.shared_score(control, idx) is first
    assert base._SHARED is None
    assert km.shared_score(data, idx) is not first                                 # the block is closed


def test_unnamed_methods_refits_and_the_byte_budget_are_scored_again(data, models):
    km, vae, _ = models
    idx = data.cold_test_idx
    with shared_scores(["kernel_map"]):
        assert vae.shared_score(data, idx) is not vae.shared_score(data, idx)     # not named
        before = km.shared_score(data, idx)
        refit = make_method("kernel_map").fit(data)
        assert refit.shared_score(data, idx) is not before                         # another model
        km_again = make_method("kernel_map").fit(data)
        cached = km_again.shared_score(data, idx)
        km_again.fit(data)                                                         # refitted in the block
        assert km_again.shared_score(data, idx) is not cached
    with shared_scores(["kernel_map"], max_bytes=16):
        assert km.shared_score(data, idx) is not km.shared_score(data, idx)       # over the budget


def test_text_methods_score_control_data_again(data, models):
    _, vae, _ = models
    idx = data.cold_test_idx
    control = dataclasses.replace(data, U_s=np.random.default_rng(0).normal(size=data.U_s.shape).astype(np.float32))
    with shared_scores(["vae"]):
        mine = vae.shared_score(data, idx)
        theirs = vae.shared_score(control, idx)
        assert theirs is not mine and not np.array_equal(theirs, mine)
        assert vae.shared_score(control, idx) is theirs


def test_nested_blocks_keep_the_outer_one(data, models):
    km, _, _ = models
    with shared_scores(["kernel_map"]):
        outer = km.shared_score(data, data.cold_test_idx)
        with shared_scores(["vae"]):
            assert km.shared_score(data, data.cold_test_idx) is outer
        assert base._SHARED is not None


def test_score_fusion_ranks_the_same_inside_the_block(data, models):
    km, vae, sf = models
    users = data.user_ids[np.concatenate([data.cold_test_idx, data.warm_idx])]
    expected = sf.recommend(data, users, k=20)
    with shared_scores(["vae", "kernel_map"]):
        km.recommend(data, users, k=20)
        vae.recommend(data, users, k=20)
        calls = {"n": 0}
        original = type(km).score

        def counted(self, d, idx):
            calls["n"] += 1
            return original(self, d, idx)

        type(km).score = counted
        try:
            got = sf.recommend(data, users, k=20)
        finally:
            type(km).score = original
    pd.testing.assert_frame_equal(got, expected)
    assert calls["n"] == 0  # every block of users came from the kernel map's own ranking


def test_a_refit_gives_the_stale_entrys_bytes_back(data):
    """A model refitted in the block replaces its stale entry: the budget counts only live scores."""
    km = make_method("kernel_map").fit(data)
    idx = data.cold_test_idx
    size = km.score(data, idx).nbytes
    with shared_scores(["kernel_map"], max_bytes=size):
        first = km.shared_score(data, idx)
        assert base._SHARED["budget"] == 0 and len(base._SHARED["entries"]) == 1
        km.fit(data)
        second = km.shared_score(data, idx)
        assert second is not first and km.shared_score(data, idx) is second     # kept: the old bytes came back
        assert base._SHARED["budget"] == 0 and len(base._SHARED["entries"]) == 1
