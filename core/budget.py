"""What a run will cost before it starts: its memory and its time, from samples x features x atoms.

``estimate(n_samples, n_features, n_components, model_name, ...)`` returns an ``Estimate``: the bytes the
run holds at its peak, the seconds per step and for the whole run, and a verdict against two limits:

* memory: ``SAE_EXPLORER_RUN_MEMORY`` (MiB, or e.g. ``3G``) when set, else ``MEMORY_SHARE`` of the memory
  available now on the run's device (``MemAvailable`` of /proc/meminfo for the CPU, the free memory of a
  CUDA GPU). A run over it is refused (``Estimate.fits`` is False).
* time: a run whose first feedback (its first logged metrics) would take over ``SLOW_FIRST_FEEDBACK``
  seconds, or whose whole run over ``SAE_EXPLORER_SLOW_RUN_SECONDS`` (default ``SLOW_RUN_SECONDS``),
  is slow (``Estimate.slow``): it fits, but the caller asks before starting it.

The figures are a model of the cost, not a measurement: training holds about ``PARAM_COPIES`` float32
matrices of n_components x n_features (weights, gradients, Adam's moments, the atoms sent to the page);
each step costs a fixed ``STEP_OVERHEAD_SECONDS`` (Python, the optimiser's bookkeeping, the logging: what a
small model's step takes almost all of) plus about ``SECONDS_PER_PARAMETER`` per weight (memory-bound
updates) plus its matrix products at ``FLOPS``; each run adds ``RUN_SETUP_SECONDS`` (creating the model,
scoring and saving it), PCA and NMF's start an SVD, every run its PCA reference. The CPU constants were
measured on a shared 2-core machine with one torch thread (bench/RESULTS.md, "Very large inputs"; the step
overhead by bench/budget_step_overhead.py); a loaded machine can be several times slower. The GPU ones are
unmeasured guesses (no GPU was at hand).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from core import models

MIB = 2**20
GIB = 2**30
MEMORY_ENV = "SAE_EXPLORER_RUN_MEMORY"
SLOW_ENV = "SAE_EXPLORER_SLOW_RUN_SECONDS"
#: the share of the memory available now that one run may take (the server and other runs need the rest)
MEMORY_SHARE = 0.6
#: a whole run longer than this is slow (seconds)
SLOW_RUN_SECONDS = 600.0
#: a run whose first metrics come later than this is slow (seconds): the page would show nothing meanwhile
SLOW_FIRST_FEEDBACK = 10.0
#: n_components x n_features float32 matrices an autoencoder's training holds at its peak (measured 17-21)
PARAM_COPIES = 20
#: n_samples x n_features float32 copies of the data a run holds (the page's, the worker's, the final
#: reconstruction for the metrics, one more for NMF's and PCA's products)
DATA_COPIES = 4
#: what any run adds besides its matrices (torch's own buffers)
BASE_BYTES = 300 * MIB
#: seconds per weight per step (memory-bound: Adam's moments, the unit-norm projection)
SECONDS_PER_PARAMETER = {"cpu": 40e-9, "cuda": 0.5e-9}
#: floating-point operations per second of the matrix products
FLOPS = {"cpu": 75e9, "cuda": 20e12}
#: an SVD of an n x d matrix (PCA, NMF's start) takes this per min(n, d) x n x d (measured 0.07 ns at
#: 70,000 x 784, 0.7 ns at 2,000 x 20,000 on this CPU)
SVD_SECONDS_PER_UNIT = {"cpu": 1e-10, "cuda": 2e-12}
#: NMF's HALS updates each atom in turn: this per k x k x (n + d) (memory-bound)
HALS_SECONDS_PER_UNIT = {"cpu": 0.2e-9, "cuda": 5e-12}
#: a run's set-up (initialisation, first allocations) counted in steps, besides its SVDs
SETUP_STEPS = 5
#: the fixed cost of one training step whatever its size (measured 1.0-1.5 ms for SAEs, 0.4-0.8 ms for NMF's
#: HALS step, on digits with one torch thread; on a GPU: the kernel launches, a guess)
STEP_OVERHEAD_SECONDS = {"cpu": 1.2e-3, "cuda": 0.5e-3}
#: the fixed cost of one run: the model made, its metrics scored, its weights saved (on a GPU also the first
#: kernels' compilation and cuBLAS's start, a guess)
RUN_SETUP_SECONDS = {"cpu": 0.05, "cuda": 1.0}


@dataclass(frozen=True)
class Estimate:
    """The cost of one run and whether it may start."""

    n_samples: int
    n_features: int
    n_components: int
    model_name: str
    device: str  # "cpu" or "cuda"
    memory_bytes: int
    limit_bytes: int
    limit_source: str  # where the limit comes from, in words
    seconds_per_step: float
    first_feedback_seconds: float
    seconds: float  # the whole run
    most_atoms: int  # the most atoms that fit the memory limit with these samples and features
    data_bytes: int  # the part of memory_bytes that grows with the samples
    step_overhead_seconds: float = 0.0  # the part of seconds_per_step that is the same for any size

    @property
    def fits(self) -> bool:
        return self.memory_bytes <= self.limit_bytes

    @property
    def slow(self) -> bool:
        return self.fits and (self.first_feedback_seconds > SLOW_FIRST_FEEDBACK or self.seconds > slow_run_seconds())

    def summary(self) -> str:
        """The cost in one phrase: 'about 4.3 GiB and 5.2 s a step (about 3 h in all)'."""
        return (f"about {format_bytes(self.memory_bytes)} and {format_seconds(self.seconds_per_step)} a step "
                f"(about {format_seconds(self.seconds)} in all, first metrics after about "
                f"{format_seconds(self.first_feedback_seconds)})")

    def refusal(self) -> str | None:
        """Why the run cannot start and what to change, or None when it fits."""
        if self.fits:
            return None
        fixes = []
        if 1 <= self.most_atoms < self.n_components:
            fixes.append(f"fewer atoms (at most {self.most_atoms:,} fit)")
        fixes.append("fewer features (a crop of the images, or a subset of the columns)")
        if self.data_bytes > self.memory_bytes / 4:  # fewer samples helps only when the data weighs
            fixes.append("a sample of the rows (fewer samples)")
        return (f"{self.n_components:,} atoms (n_components) on {self.n_samples:,} samples x {self.n_features:,} "
                f"features is too large: {self.model_name} needs about {format_bytes(self.memory_bytes)} to train, "
                f"more than the limit of {format_bytes(self.limit_bytes)} ({self.limit_source}). Use "
                f"{', or '.join(fixes)}; or raise {MEMORY_ENV} (in MiB) if the machine has the memory.")

    def warning(self) -> str | None:
        """What makes the run slow, or None when it is not."""
        if not self.slow:
            return None
        return (f"{self.model_name} with {self.n_components:,} atoms on {self.n_samples:,} samples x "
                f"{self.n_features:,} features will be slow on the {self.device.upper()}: {self.summary()}. "
                "Fewer atoms, fewer features (a crop) or fewer steps make it faster.")


def estimate(n_samples: int, n_features: int, n_components: int | None, model_name: str, *,
             max_steps: int | None = None, batch_size: int | None = None, log_every: int | None = None,
             tied: bool = False, device: str = "cpu") -> Estimate:
    """The cost of training ``model_name`` with ``n_components`` atoms on an n_samples x n_features matrix.

    ``device`` is "cpu" or "cuda" (a resolved device's type). ``n_components=None`` (PCA, NMF) means
    min(n_samples, n_features)."""
    n, d = int(n_samples), int(n_features)
    k = int(n_components) if n_components else min(n, d)
    kind = "cuda" if str(device).startswith("cuda") else "cpu"
    per_atom, fixed, step_seconds, setup_seconds = _costs(model_name, n, d, batch_size, tied, kind)
    memory = fixed + per_atom * k
    closed_form = not models.family(model_name).iterative  # PCA: one solve
    steps = 1 if closed_form else int(max_steps or 1)
    overhead = 0.0 if closed_form else STEP_OVERHEAD_SECONDS[kind]
    per_step = step_seconds(k) + overhead
    first_rows = 1 if closed_form else min(steps, int(log_every or 10))
    # every run also computes its PCA reference (core.metrics.pca_mse: the Gram matrix of the smaller side)
    warm_up = 0.0 if closed_form else SETUP_STEPS * per_step
    setup = warm_up + setup_seconds + RUN_SETUP_SECONDS[kind] + 2.0 * min(n, d) ** 2 * max(n, d) / FLOPS[kind]
    limit, source = memory_limit(kind)
    return Estimate(
        n_samples=n, n_features=d, n_components=k, model_name=model_name, device=kind,
        memory_bytes=int(memory), limit_bytes=int(limit), limit_source=source,
        seconds_per_step=per_step, first_feedback_seconds=setup + first_rows * per_step,
        seconds=setup + steps * per_step, most_atoms=max(0, int((limit - fixed) // per_atom)),
        data_bytes=int(fixed - BASE_BYTES), step_overhead_seconds=overhead,
    )


def check_fits(runs, n_samples: int, n_features: int) -> None:
    """Raise a ValueError with the refusal (the limit and the fix) of the first of ``runs``, (model, name)
    pairs of created models, that is over the memory limit on data of this size."""
    for model, name in runs:
        refusal = estimate_model(model, n_samples, n_features, name).refusal()
        if refusal:
            raise ValueError(refusal)


def data_refusal(n_samples: int, n_features: int, where: str) -> str | None:
    """Why data of this size cannot be loaded to train on (the limit and the fixes), or None when it fits: a
    run holds ``DATA_COPIES`` float32 copies of it, whatever the model."""
    n, d = int(n_samples), int(n_features)
    need = DATA_COPIES * 4 * n * d
    limit, source = memory_limit("cpu")
    if need <= limit:
        return None
    most_rows = int(limit // (DATA_COPIES * 4 * max(d, 1)))
    rows = f"n_samples={most_rows:,} or fewer fit" if most_rows >= 2 else "not even 2 rows fit"
    return (f"{where}: {n:,} samples x {d:,} features is too large to train on here: a run holds about "
            f"{format_bytes(need)} of it ({DATA_COPIES} float32 copies), more than the limit of "
            f"{format_bytes(limit)} ({source}). Load a sample of the rows (the n_samples option; {rows}), or a "
            f"smaller file; or raise {MEMORY_ENV} (in MiB) if the machine has the memory.")


def estimate_model(model, n_samples: int, n_features: int, model_name: str | None = None) -> Estimate:
    """``estimate`` for a created (unfitted) model of ``core.models``, from its parameters."""
    from core.device import resolve_device

    params = model.get_params()
    try:
        device = resolve_device(params.get("device", "auto")).type
    except ValueError:
        device = "cpu"  # the model refuses the device itself when it fits, with its own message
    return estimate(n_samples, n_features, params.get("n_components"), model_name or models.name_of(model),
                    max_steps=params.get("max_steps"), batch_size=params.get("batch_size"),
                    log_every=params.get("log_every"), tied=bool(params.get("tied", False)), device=device)


def _costs(model_name: str, n: int, d: int, batch_size: int | None, tied: bool, kind: str):
    """(bytes per atom, fixed bytes, seconds per step as a function of the atoms, seconds of set-up) of one
    model family."""
    data = DATA_COPIES * 4 * n * d + BASE_BYTES
    flops, per_weight = FLOPS[kind], SECONDS_PER_PARAMETER[kind]
    svd = SVD_SECONDS_PER_UNIT[kind] * min(n, d) * n * d  # PCA's fit, and NMF's NNDSVD start
    family = models.family(model_name)
    if not family.iterative:  # PCA
        return 4 * 2 * d, data + 4 * 3 * min(n, d) * max(n, d), lambda k: svd, 0.0
    if family.factorisation:  # NMF, full batch: X H^T and W^T X, then a pass per atom over W and H (HALS)
        step = lambda k: 4.0 * n * k * d / flops + HALS_SECONDS_PER_UNIT[kind] * k * k * (n + d)  # noqa: E731
        return 4 * (6 * d + 6 * n), data, step, svd
    matrices = 1 if tied else 2
    batch = min(int(batch_size or 256), n)
    # autoencoders: encoder and decoder, their gradients and Adam's moments, and the batch's activations
    per_atom = 4 * (PARAM_COPIES * d * matrices // 2 + 4 * batch)
    return per_atom, data, lambda k: 6.0 * matrices * batch * k * d / flops + per_weight * matrices * k * d, 0.0


def memory_limit(kind: str = "cpu") -> tuple[int, str]:
    """(bytes, where it comes from in words) that one run may use on a device of ``kind``."""
    text = os.environ.get(MEMORY_ENV, "").strip()
    if text:
        return parse_size(text), f"{MEMORY_ENV}={text}"
    if kind == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info()
        return int(MEMORY_SHARE * free), f"{MEMORY_SHARE:.0%} of the GPU memory free now"
    return int(MEMORY_SHARE * available_memory()), f"{MEMORY_SHARE:.0%} of the memory available on this machine now"


def available_memory() -> int:
    """Bytes of memory the machine can give now: MemAvailable of /proc/meminfo, else its physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): no limit known
        return 2**62


def parse_size(text: str) -> int:
    """'3000' (MiB), '512M', '3G' or '3GiB' as bytes; a ValueError naming the setting otherwise."""
    cleaned = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = {"G": GIB, "M": MIB, "K": 1024}.get(cleaned[-1:], None)
    number = cleaned[:-1] if unit else cleaned
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"{MEMORY_ENV}={text!r} is not a size: write MiB as a number, or e.g. 3G or 512M.") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{MEMORY_ENV}={text!r} must be a positive size, e.g. 3G.")
    return int(value * (unit or MIB))


def slow_run_seconds() -> float:
    text = os.environ.get(SLOW_ENV, "").strip()
    try:
        return float(text) if text else SLOW_RUN_SECONDS
    except ValueError:
        raise ValueError(f"{SLOW_ENV}={text!r} is not a number of seconds; write e.g. 600.") from None


def format_bytes(size: float) -> str:
    return f"{size / GIB:,.1f} GiB" if size >= GIB else f"{size / MIB:,.0f} MiB"


def format_seconds(seconds: float) -> str:
    if seconds < 0.001:
        return "under 1 ms"
    if seconds < 1:
        return f"{seconds * 1000:,.0f} ms"
    if seconds < 90:
        return f"{seconds:,.1f} s" if seconds < 10 else f"{seconds:,.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:,.0f} min"
    return f"{seconds / 3600:,.1f} h"
