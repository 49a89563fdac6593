"""Fitting several transfer methods side by side, in worker processes (``transfer.n_jobs``).

A fit runs on ``transfer.threads`` CPU threads (torch and BLAS; 1 by default, so that a model does not
depend on the machine's core count). On 2 cores one such fit alone is only 1.25x slower than on 2 threads,
so fits run side by side, one per core: two VAE fits on ML-1M take 19.1 s at once against 23.2 s one
after the other on 2 threads (14.4 s alone on one). Each worker fits one method at a time, saves it (config JSON +
safetensors, :meth:`~rec_helpers.transfer.base.TransferMethod.save`) into the folder it is given,
and returns its fit seconds; the notebook's process loads it from there and writes the rankings
and the run folder as for a fit of its own (:mod:`rec_helpers.pipeline`), so a model fitted in a
worker is the model a fit in the notebook gives (same parameters, seed and threads).

Workers are started with "spawn" (a fresh interpreter: forking a process whose OpenMP threads
have run can hang the child) and ignore Ctrl-C: the notebook's process stops them. A worker that
dies (out of memory, say) fails its fit with ``BrokenProcessPool`` instead of leaving it waiting. On
an error or Ctrl-C the workers are ended at once (SIGTERM) and any half-written model folder they
leave (``atomic_path``'s hidden ``.<name>.*.tmp``) is removed.
"""
from __future__ import annotations

import os
import shutil
import signal
import time
from concurrent.futures import Future, ProcessPoolExecutor, wait as wait_for
from pathlib import Path
from typing import Any, Mapping

MAX_AUTO_JOBS = 4  # "auto" uses one worker per core up to this many (each holds a copy of the data)


def cpu_count() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def resolve_n_jobs(n_jobs: int | str | None, threads: int | None = 1, device: str = "cpu") -> int:
    """Worker processes for ``transfer.n_jobs``: 1 when fits use every core (``threads`` None: a
    worker's fit would then not be the in-process fit) or a GPU (one device, no gain from sharing it);
    else an integer ≥ 1 as given, and for "auto" (or None) one per ``threads`` cores, at most
    :data:`MAX_AUTO_JOBS`."""
    if threads is None or device == "cuda":
        return 1
    if n_jobs not in (None, "auto"):
        return int(n_jobs)
    return max(1, min(MAX_AUTO_JOBS, cpu_count() // max(1, int(threads))))


def _worker_start() -> None:
    """In each worker: Ctrl-C is the notebook process's to handle (it ends the workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def fit_and_save(name: str, params: Mapping[str, Any], data, out_dir: str) -> float:
    """Fit ``name`` with ``params`` on ``data``, save it into ``out_dir`` (written atomically) and
    return the fit's seconds. Runs in a worker process."""
    from .runfolder import atomic_path
    from .transfer.registry import make_method

    method = make_method(name, **params)
    t0 = time.perf_counter()
    method.fit(data)
    seconds = time.perf_counter() - t0
    with atomic_path(Path(out_dir)) as tmp:
        method.save(tmp)
    return seconds


class FitPool:
    """``n_jobs`` worker processes that fit methods (:func:`fit_and_save`); a context manager that
    waits for its fits on a normal exit and stops the workers at once on an error or Ctrl-C."""

    def __init__(self, n_jobs: int) -> None:
        import multiprocessing

        self.executor = ProcessPoolExecutor(int(n_jobs), mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_worker_start)
        self.out_dirs: list[Path] = []

    def submit(self, name: str, params: Mapping[str, Any], data, out_dir: str | Path) -> Future:
        """Queue one fit; ``.result()`` waits for it and returns its seconds (or raises its error)."""
        self.out_dirs.append(Path(out_dir))
        return self.executor.submit(fit_and_save, name, dict(params), data, str(out_dir))

    def __enter__(self) -> "FitPool":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.executor.shutdown(wait=True)
            return
        # the executor has no public way to stop a running task: end its processes (SIGTERM)
        processes = list(getattr(self.executor, "_processes", {}).values())
        self.executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=10)
        for out in self.out_dirs:  # a worker ended mid-save leaves atomic_path's box beside its folder
            for box in out.parent.glob(f".{out.name}.*.tmp"):
                shutil.rmtree(box, ignore_errors=True)


def wait(result: Future, what: str, progress: bool = True) -> float:
    """A worker's fit seconds, waiting for it with a progress line (``progress``) when it is not done yet."""
    if progress and not result.done():
        from tqdm.auto import tqdm

        with tqdm(desc=f"{what} (fitting in a worker process)", bar_format="{desc}: {elapsed}", leave=False) as bar:
            while not result.done():
                wait_for([result], timeout=0.5)
                bar.refresh()
    return float(result.result())
