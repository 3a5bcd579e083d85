"""The project's `nmf` against scikit-learn's NMF: time per iteration, and wall time to scikit-learn's error.

For each (samples, features, rank), on the same float32 data, both started from NNDSVDa:

* per iteration (one update of W and of H): project HALS against scikit-learn's 'cd' (the same
  coordinate descent), project MU against scikit-learn's 'mu'. Project: the median step time over
  windows of a fit with ``tol=0`` after a warm-up (``fit_iter`` rows, read on the host, so the GPU is
  done). scikit-learn: (time of a full fit - time of a 1-iteration fit) / (n_iter - 1), so its
  initialisation is not counted.
* time to scikit-learn's final error: scikit-learn fits with its defaults (``tol=1e-4``, ``max_iter``
  200, less where noted in the row, as ``sk_max_iter``); its wall time, init included, is the
  reference. The project fits with ``tol=0`` and stops at the first logged step (every 5) whose
  ``||X - WH||_F`` is at or below scikit-learn's final one; its wall time from the call, init and the
  copy of the data to the device included. Rows for HALS against both scikit-learn solvers' errors,
  and MU against MU. A target not reached within the step cap gives ``"project": null`` and the
  error it got to (never dropped).

Data: ``digits`` (minmax) at (1797, 64, 32); elsewhere synthetic non-negative data of the given rank
(sparse non-negative factors, 5% noise), fixed seed. Per-iteration repeats: ``--repeats`` windows; the
scikit-learn fits run ``--sk-repeats`` times (default: 3 on CPU sizes, 1 on GPU sizes, recorded).

Usage (from the repository root)::

    .venv/bin/python bench/nmf_speed.py --device cpu          # a few minutes on 2 cores
    .venv/bin/python bench/nmf_speed.py --device cuda         # (70000,784,100), (200000,1024,256): ~8 min
    .venv/bin/python bench/nmf_speed.py --device cuda --configs 70000,784,100

The last line of stdout is one JSON object ``{"device", "results": [{"config", "project", "reference",
"unit", "speedup", ...}], ...}``; speedup > 1 means the project is faster.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.decomposition import NMF as SklearnNMF  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from common import log, median, now, report, resolve, row  # noqa: E402
from core.models import create  # noqa: E402

# (samples, features, rank): scikit-learn max_iter for ('cd', 'mu')
CPU_CONFIGS = {(1797, 64, 32): (200, 200), (10000, 784, 50): (200, 200)}
# cd at (200000, 1024, 256) runs ~10 s an iteration on 16 cores: capped so one run fits in minutes
CUDA_CONFIGS = {(70000, 784, 100): (200, 200), (200000, 1024, 256): (20, 200)}
PROJECT_SOLVER = {"cd": "hals", "mu": "mu"}
LOG_EVERY = 5


def make_data(n_samples: int, n_features: int, rank: int, seed: int = 0) -> tuple[np.ndarray, str]:
    if (n_samples, n_features) == (1797, 64):
        from core import datasets
        return datasets.load("digits", scale="minmax").X.astype(np.float32), "digits (minmax)"
    rng = np.random.default_rng(seed)
    W = rng.exponential(1.0, (n_samples, rank)).astype(np.float32) * (rng.random((n_samples, rank)) < 0.3)
    H = rng.exponential(1.0, (rank, n_features)).astype(np.float32) * (rng.random((rank, n_features)) < 0.3)
    X = W @ H
    X += 0.05 * X.std() * np.abs(rng.standard_normal(X.shape, dtype=np.float32))
    return X.astype(np.float32), f"synthetic rank-{rank} non-negative + 5% noise"


def sklearn_fit(X, rank, solver, max_iter, tol=1e-4):
    model = SklearnNMF(rank, solver=solver, init="nndsvda", max_iter=max_iter, tol=tol, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X)
        seconds = time.perf_counter() - start
    return seconds, model


def project_per_step(X, rank, solver, device, args) -> float:
    """Median seconds per step over ``args.repeats`` windows after a warm-up."""
    window = args.window
    total = args.warmup + args.repeats * window
    model = create("nmf", n_components=rank, solver=solver, init="nndsvda", max_steps=total, tol=0,
                   log_every=window, device=str(device), random_state=0)
    times, last = [], None
    for r in model.fit_iter(X):
        stamp = time.perf_counter()
        if r["step"] > args.warmup and last is not None:
            times.append(stamp - last)
        last = stamp
    del model
    gc.collect()
    return median(times) / window


def project_time_to(X, rank, solver, device, target: float, max_steps: int, max_seconds: float):
    """Wall time for the project to reach ``||X - WH||_F <= target``; (seconds or None, steps, best error)."""
    size = X.size
    start = now(device)
    model = create("nmf", n_components=rank, solver=solver, init="nndsvda", max_steps=max_steps, tol=0,
                   log_every=LOG_EVERY, device=str(device), random_state=0)
    rows = model.fit_iter(X)
    reached, steps, best = None, 0, math.inf
    for r in rows:
        error = math.sqrt(max(r["mse"], 0.0) * size)
        best, steps = min(best, error), r["step"]
        if error <= target:
            reached = time.perf_counter() - start
            break
        if time.perf_counter() - start > max_seconds:
            break
    rows.close()
    del model, rows
    gc.collect()
    return reached, steps, best


def bench_config(n_samples, n_features, rank, caps, device, args, results, errors):
    X, source = make_data(n_samples, n_features, rank)
    base = f"samples={n_samples} features={n_features} rank={rank}"
    sk_repeats = args.sk_repeats or (3 if n_samples * n_features <= 10_000 * 784 else 1)
    # warm-up: CUDA context, kernels, allocator
    for solver in ("hals", "mu"):
        for _ in create("nmf", n_components=rank, solver=solver, max_steps=2 * LOG_EVERY, tol=0,
                        log_every=LOG_EVERY, device=str(device)).fit_iter(X[: min(len(X), 4096)]):
            pass
    for sk_solver, cap in zip(("cd", "mu"), caps):
        cap = args.sk_max_iter or cap
        solver = PROJECT_SOLVER[sk_solver]
        targets_for = ["hals"] if sk_solver == "cd" else ["hals", "mu"]
        log(f"{base}: scikit-learn {sk_solver} (max_iter={cap}, {sk_repeats} run(s)) against nmf "
            f"{', '.join(targets_for)} ...")
        # scikit-learn's fits and the project's runs alternate, so that a busy machine slows both alike
        full, one, reached = [], [], {s: [] for s in targets_for}
        per_step = None
        for repeat in range(sk_repeats):
            seconds, sk_model = sklearn_fit(X, rank, sk_solver, cap)
            full.append(seconds)
            one.append(sklearn_fit(X, rank, sk_solver, 1, tol=0)[0])
            sk_iters, sk_error = int(sk_model.n_iter_), float(sk_model.reconstruction_err_)
            for project_solver in targets_for:
                reached[project_solver].append(project_time_to(
                    X, rank, project_solver, device, sk_error, max(50 * sk_iters, 2000),
                    max_seconds=max(60.0, 20 * seconds)))
            if repeat == 0:
                try:
                    per_step = project_per_step(X, rank, solver, device, args)
                except RuntimeError as error:
                    errors.append({"config": f"{base} per-iteration {solver}",
                                   "error": f"{type(error).__name__}: {error}"})
                    log(f"  FAILED: {error}")
        sk_info = {"sk_n_iter": sk_iters, "sk_max_iter": cap, "sk_converged": sk_iters < cap,
                   "sk_error": sk_error, "sk_repeats": sk_repeats, "data": source}
        sk_per_iter = (median(full) - median(one)) / max(1, sk_iters - 1)
        log(f"  scikit-learn {sk_solver}: {median(full):.3f} s, {sk_iters} iterations, "
            f"{1e3 * sk_per_iter:.3f} ms/iteration, error {sk_error:.6g}")
        if per_step is not None:
            results.append(row(f"{base} per-iteration: nmf {solver} vs sklearn {sk_solver}", per_step,
                               sk_per_iter, "s/iteration", higher_is_better=False, **sk_info))
            log(f"  project {solver}: {1e3 * per_step:.3f} ms/step -> speedup {results[-1]['speedup']:.2f}")
        for project_solver, runs in reached.items():
            config = f"{base} time to sklearn {sk_solver}'s error: nmf {project_solver} vs sklearn {sk_solver}"
            steps = max(r[1] for r in runs)
            best = min(r[2] for r in runs)
            info = {**sk_info, "project_steps": steps, "project_best_error": best}
            if any(r[0] is None for r in runs):
                results.append({"config": config, "project": None, "reference": median(full), "unit": "s",
                                "speedup": None, "reached": False, **info})
                log(f"  project {project_solver}: did NOT reach {sk_error:.6g} in {steps} steps (best {best:.6g})")
                continue
            seconds = median([r[0] for r in runs])
            results.append(row(config, seconds, median(full), "s", higher_is_better=False, reached=True, **info))
            log(f"  project {project_solver}: {seconds:.3f} s ({steps} steps) to {sk_error:.6g} vs "
                f"{median(full):.3f} s -> speedup {results[-1]['speedup']:.2f}")


def parse_configs(text, device):
    defaults = CUDA_CONFIGS if device.type == "cuda" else CPU_CONFIGS
    if not text:
        return defaults
    configs = {}
    for part in text.split(";"):
        key = tuple(int(v) for v in part.split(","))
        configs[key] = {**CPU_CONFIGS, **CUDA_CONFIGS}.get(key, (200, 200))
    return configs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--configs", help="'samples,features,rank;...' (default: the issue's sizes for the device)")
    parser.add_argument("--repeats", type=int, default=5, help="timed windows of the project's step time")
    parser.add_argument("--window", type=int, default=10, help="steps per window")
    parser.add_argument("--warmup", type=int, default=10, help="steps before the first window")
    parser.add_argument("--sk-repeats", type=int, default=None, help="scikit-learn fits per solver")
    parser.add_argument("--sk-max-iter", type=int, default=None, help="override scikit-learn's max_iter caps")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch and for scikit-learn's BLAS (default: each library's own)")
    args = parser.parse_args(argv)
    device = resolve(args.device)
    if args.warmup % args.window:
        parser.error("--warmup must be a multiple of --window")
    limits = contextlib.nullcontext()
    if args.threads:  # both sides: torch's intra-op threads and scikit-learn's BLAS / OpenMP pools
        torch.set_num_threads(args.threads)
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(args.threads)
    results, errors = [], []
    with limits:
        for (n_samples, n_features, rank), caps in parse_configs(args.configs, device).items():
            bench_config(n_samples, n_features, rank, caps, device, args, results, errors)
    report(device, results, errors=errors, threads=torch.get_num_threads(),
           note="per-iteration: s/iteration; time to error: s (scikit-learn's init included on both sides)")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
