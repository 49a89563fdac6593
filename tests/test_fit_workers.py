"""Fits in worker processes (transfer.n_jobs) give the models and rankings of fits in the notebook's
process, and fits on a fixed number of torch threads (transfer.threads) leave torch's setting alone."""
from __future__ import annotations

import json

import pytest
import torch

from rec_helpers import fit_workers, pipeline
from rec_helpers.errors import ConfigError
from rec_helpers.transfer import make_method, make_synthetic_data

TRAINED = {"methods": ["pop", "cd_ridge", "fusion", "adapter", "vae"], "fusion": {"epochs": 3}, "adapter": {"epochs": 3},
           "vae": {"epochs": 3, "hidden": 16, "latent_dim": 4}}


def test_n_jobs_auto_is_one_worker_per_core_with_a_cap(monkeypatch):
    monkeypatch.setattr(fit_workers, "cpu_count", lambda: 2)
    assert fit_workers.resolve_n_jobs("auto") == 2
    assert fit_workers.resolve_n_jobs(None, threads=2) == 1
    assert fit_workers.resolve_n_jobs("auto", threads=None) == 1      # fits on every core: one at a time
    assert fit_workers.resolve_n_jobs("auto", device="cuda") == 1
    assert fit_workers.resolve_n_jobs(3) == 3
    assert fit_workers.resolve_n_jobs(3, threads=None) == 1            # a worker's fit would not be the in-process fit
    monkeypatch.setattr(fit_workers, "cpu_count", lambda: 64)
    assert fit_workers.resolve_n_jobs("auto") == fit_workers.MAX_AUTO_JOBS


def test_a_fit_runs_on_its_threads_and_restores_the_settings():
    """Inside fit, torch and BLAS run on the method's ``threads``; after it (also when it raises) torch's
    and BLAS's own settings are back."""
    from threadpoolctl import threadpool_info

    data = make_synthetic_data(seed=2)
    blas_before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    torch_before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = []
        model = make_method("adapter", epochs=2, threads=1, progress=False)
        original = model._loss_fn

        def spy(d):
            seen.append((torch.get_num_threads(), {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}))
            return original(d)

        model._loss_fn = spy
        model.fit(data)
        assert seen == [(1, {1})]
        assert torch.get_num_threads() == 2

        def boom(d):
            raise RuntimeError("boom")

        failing = make_method("vae", epochs=2, threads=1, progress=False)
        failing._loss_fn = boom
        with pytest.raises(RuntimeError, match="boom"):
            failing.fit(data)
        assert torch.get_num_threads() == 2
        assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == blas_before
    finally:
        torch.set_num_threads(torch_before)
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ConfigError, match="threads"):
            make_method("vae", threads=bad)


@pytest.mark.parametrize("cache", [False, True])
def test_workers_give_the_rankings_of_fits_in_process(make_run, tmp_path, cache, monkeypatch):
    """n_jobs 2 (every trained method and its text control in 2 worker processes) writes the same
    ranking bytes as n_jobs 1, records real fits (not cache hits), and with the model cache on leaves
    the models there for the next run."""
    submitted = []

    class Spy(fit_workers.FitPool):
        def submit(self, name, params, data, out_dir):
            submitted.append((name, params["threads"]))
            return super().submit(name, params, data, out_dir)

    monkeypatch.setattr(fit_workers, "FitPool", Spy)
    enc = {"cache_dir": str(tmp_path / "cache" / "embeddings")}
    runs = {}
    for n_jobs in (1, 2):
        ctx = make_run(tmp_path / f"n{n_jobs}", encoder=enc,
                       transfer={**TRAINED, "n_jobs": n_jobs, "model_cache": cache and n_jobs == 2})
        pipeline.ensure_methods(ctx, progress=False)
        runs[n_jobs] = ctx
    keys = ["pop", "cd_ridge", "fusion", "adapter", "vae", "fusion__random", "adapter__random", "vae__random"]
    for key in keys:
        for population in ("cold_test", "warm"):
            rel = pipeline.LAYOUT.ranking(key, population)
            assert runs[1].run.file(rel).read_bytes() == runs[2].run.file(rel).read_bytes(), (key, population)
        params = [json.loads(r.run.file(f"models/{key}/config.json").read_text())["params"] for r in runs.values()]
        assert params[0] == params[1], key  # as configured (progress too), wherever it was fitted
        entry = runs[2].run.manifest["methods"][key]
        assert entry["model_cache_hit"] is False
        assert key in ("pop", "cd_ridge") or entry["fit_seconds"] > 0
    assert sorted(submitted) == sorted([(n, 1) for n in ("fusion", "adapter", "vae")] * 2)  # closed forms stay here
    assert pipeline.WORKER_FITS not in runs[2].cache
    if cache:
        again = make_run(tmp_path / "again", encoder=enc, transfer={**TRAINED, "n_jobs": 2, "model_cache": True})
        pipeline.ensure_methods(again, progress=False)
        assert len(submitted) == 6  # every model came from the cache: no worker started
        assert all(again.run.manifest["methods"][k]["model_cache_hit"] for k in keys)


def test_a_worker_error_reaches_the_caller(tmp_path):
    """A fit that fails in a worker raises its own error where its result is asked for; nothing is saved."""
    data = make_synthetic_data(seed=1)
    with fit_workers.FitPool(2) as pool:
        bad = pool.submit("vae", {"epochs": 1, "progress": False, "lr": -1.0}, data, tmp_path / "vae")
        with pytest.raises(ConfigError, match="lr"):
            fit_workers.wait(bad, "vae", progress=False)
    assert not (tmp_path / "vae").exists()
