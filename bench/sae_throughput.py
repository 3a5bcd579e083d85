"""Training throughput of the project's `sae-topk` against a plain PyTorch TopK SAE loop.

Both train a TopK sparse autoencoder (dense encoder, TopK, decoder, MSE, Adam, decoder rows renormalised
after each step) on the same random data with the data already on the device, at the same precision;
timings are steady-state windows after a warm-up, alternated between the two (project, reference,
project, ...) so that a busy machine slows both alike, and the median of the repeats is reported.

* project: ``core.models.create("sae-topk", ...)`` driven through ``fit_iter`` (``core.training``), with
  its default logging (a metrics row, and so one host sync, every ``log_every`` = 10 steps), its gradient
  projection and dead-latent counters. Rows ``... topk`` use ``auxk_coef=0`` (the same objective as the
  reference); rows ``... topk+auxk`` the model's defaults (AuxK on dead latents: more work than the
  reference does, shown for the record).
* reference: the loop a user would write (``PlainTopKSAE`` below): ``nn.Linear`` encoder and decoder,
  ``torch.topk`` + ``scatter`` into dense codes, default ``torch.optim.Adam``, ``W_dec /= norm``;
  bf16 through ``torch.autocast``, TF32 through ``torch.backends.cuda.matmul.fp32_precision``.

Precisions: fp32 (IEEE), tf32 (CUDA only: TF32 matmuls) and bf16 (autocast / the model's bf16 casts).

Usage (from the repository root)::

    .venv/bin/python bench/sae_throughput.py --device cpu
    .venv/bin/python bench/sae_throughput.py --device cuda            # 3 sizes x 3 precisions, ~5 min
    .venv/bin/python bench/sae_throughput.py --device cuda --configs 4096,65536,4096,64 --precisions bf16

The last line of stdout is one JSON object ``{"device", "results": [{"config", "project", "reference",
"unit": "samples/s", "speedup", ...}], "skipped", "errors", ...}``; speedup > 1 means the project is faster.
On CUDA each row also has the peak GPU memory of each side (``project_peak_gib``, ``reference_peak_gib``:
``torch.cuda.max_memory_allocated`` over a short separate run, data included).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from common import log, median, now, report, resolve, row, sync  # noqa: E402
from core.models import create  # noqa: E402
from core.models import sae_topk  # noqa: E402

CPU_CONFIGS = [(64, 128, 256, 8)]
CUDA_CONFIGS = [(784, 4096, 4096, 32), (768, 24576, 4096, 32), (4096, 65536, 4096, 64)]
LEARNING_RATE = 3e-4
LOG_EVERY = 10  # the model's default


@contextlib.contextmanager
def matmul_mode(device: torch.device, precision: str):
    """The reference's precision: TF32 or IEEE fp32 CUDA matmuls, bf16 autocast."""
    with contextlib.ExitStack() as stack:
        if device.type == "cuda":
            matmul = torch.backends.cuda.matmul
            old = matmul.fp32_precision
            matmul.fp32_precision = "tf32" if precision == "tf32" else "ieee"
            stack.callback(setattr, matmul, "fp32_precision", old)
        yield


class PlainTopKSAE:
    """The straightforward TopK SAE training loop (the reference)."""

    def __init__(self, X: torch.Tensor, n_latents: int, k: int, batch: int, precision: str, seed: int = 0):
        d = X.shape[1]
        self.X, self.k, self.batch, self.precision = X, k, batch, precision
        torch.manual_seed(seed)
        self.encoder = nn.Linear(d, n_latents, device=X.device)
        self.decoder = nn.Linear(n_latents, d, device=X.device)
        with torch.no_grad():
            self.decoder.weight.copy_(torch.randn(d, n_latents, device=X.device))
            self.decoder.weight /= self.decoder.weight.norm(dim=0, keepdim=True)
            self.encoder.weight.copy_(self.decoder.weight.T)
            self.encoder.bias.zero_()
            self.decoder.bias.copy_(X.mean(0))
        self.optimizer = torch.optim.Adam([*self.encoder.parameters(), *self.decoder.parameters()],
                                          lr=LEARNING_RATE)
        self.loss = None

    def step(self) -> None:
        x = self.X[torch.randint(0, self.X.shape[0], (self.batch,), device=self.X.device)]
        with torch.autocast(self.X.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            pre = self.encoder(x - self.decoder.bias)
            values, indices = pre.topk(self.k, dim=1)
            codes = torch.zeros_like(pre).scatter(1, indices, torch.relu(values))
            x_hat = self.decoder(codes)
        loss = (x_hat.float() - x).pow(2).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        with torch.no_grad():
            self.decoder.weight /= self.decoder.weight.norm(dim=0, keepdim=True)
        self.loss = loss.detach()

    def run(self, steps: int) -> None:
        with matmul_mode(self.X.device, self.precision):
            for _ in range(steps):
                self.step()


def project_model(d, n, k, batch, precision, device, steps, auxk, decoder):
    params = dict(n_components=n, k=k, batch_size=batch, max_steps=steps, learning_rate=LEARNING_RATE,
                  random_state=0, device=str(device), log_every=LOG_EVERY, precision=precision)
    if not auxk:
        params["auxk_coef"] = 0.0
    model = create("sae-topk", **params)
    if decoder != "auto":
        model._decoder = decoder
    return model


def data(d: int, batch: int, seed: int = 0) -> np.ndarray:
    """Random activations-like data: anisotropic Gaussian with a non-zero mean, 8 batches' worth."""
    rng = np.random.default_rng(seed)
    n_samples = max(8 * batch, 4096)
    scales = (1.0 / np.sqrt(np.arange(1, d + 1))).astype(np.float32)
    return (rng.standard_normal((n_samples, d), dtype=np.float32) * scales + 0.5).astype(np.float32)


def time_config(d, n, batch, k, precision, device, args, auxk):
    """Median samples/s of the project and of the reference, alternating windows of ``args.steps``."""
    X = data(d, batch)
    steps, warmup = args.steps, args.warmup
    if device.type == "cpu" and precision == "bf16":  # emulated on most CPUs: ~25x slower, shorter windows
        steps, warmup = max(LOG_EVERY, steps // 40 * LOG_EVERY), max(LOG_EVERY, warmup // 40 * LOG_EVERY)
    total = warmup + args.repeats * steps
    model = project_model(d, n, k, batch, precision, device, total, auxk, args.decoder)
    rows = model.fit_iter(X)
    X_device = torch.as_tensor(X, device=device)
    reference = PlainTopKSAE(X_device, n, k, batch, precision)

    done = 0
    while done < warmup:  # project warm-up (and the first host-to-device copy of X)
        done = next(rows)["step"]
    reference.run(warmup)
    sync(device)

    project_times, reference_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        target = done + steps
        while done < target:
            done = next(rows)["step"]  # a logged row: the step's metrics were read, so the GPU is done
        project_times.append(time.perf_counter() - start)
        start = now(device)
        reference.run(steps)
        reference_times.append(now(device) - start)
    for _ in rows:  # let the fit finish normally (nothing left to run)
        pass
    if reference.loss is not None and not torch.isfinite(reference.loss):
        raise RuntimeError("the reference loop diverged")
    info = {"project_ms_per_step": 1e3 * median(project_times) / steps,
            "reference_ms_per_step": 1e3 * median(reference_times) / steps,
            "project_final_mse": model.history_[-1]["mse"], "reference_final_mse": float(reference.loss),
            "project_decoder": "sparse" if model_sparse(model, k) else "dense"}  # noqa: E501
    del model, rows, reference, X_device
    gc.collect()
    info["steps_per_window"] = steps
    return batch * steps / median(project_times), batch * steps / median(reference_times), info


def model_sparse(model, k) -> bool:
    """Which decoder the model's 'auto' picked (the same cost model, on the same sizes)."""
    if model._decoder != "auto":
        return model._decoder == "sparse"
    from core.models.precision import resolve_precision
    device = torch.device(model.device)
    return sae_topk.sparse_decode_is_faster(model.batch_size, model.n_components, model.n_features_in_, k,
                                            device, resolve_precision(model.precision, device))


def peak_memory(d, n, batch, k, precision, device, args, auxk) -> tuple[float, float]:
    """Peak GPU memory (GiB) of a short run of each, alone, data on the device included."""
    X = data(d, batch)
    peaks = []
    for side in ("project", "reference"):
        gc.collect()
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        if side == "project":
            model = project_model(d, n, k, batch, precision, device, 3 * LOG_EVERY, auxk, args.decoder)
            for _ in model.fit_iter(X):
                pass
            del model
        else:
            reference = PlainTopKSAE(torch.as_tensor(X, device=device), n, k, batch, precision)
            reference.run(3 * LOG_EVERY)
            sync(device)
            del reference
        peaks.append((torch.cuda.max_memory_allocated(device) - base) / 2**30)
    gc.collect()
    torch.cuda.empty_cache()
    return peaks[0], peaks[1]


def parse_configs(text: str | None, device: torch.device):
    if not text:
        return CUDA_CONFIGS if device.type == "cuda" else CPU_CONFIGS
    configs = []
    for part in text.split(";"):
        d, n, batch, k = (int(v) for v in part.split(","))
        configs.append((d, n, batch, k))
    return configs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--configs", help="'d,n,batch,k;d,n,batch,k' (default: the issue's sizes for the device)")
    parser.add_argument("--precisions", default=None,
                        help="comma-separated of fp32,tf32,bf16 (default: all three; tf32 is CUDA only)")
    parser.add_argument("--repeats", type=int, default=None, help="timed windows per side (CPU 25, GPU 7)")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed window (a multiple of 10)")
    parser.add_argument("--warmup", type=int, default=None, help="steps before timing (a multiple of 10)")
    parser.add_argument("--no-auxk", action="store_true", help="skip the rows with the model's default AuxK")
    parser.add_argument("--decoder", choices=sae_topk.DECODERS, default="auto",
                        help="force the project's decoder (default: its cost model)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args(argv)
    device = resolve(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    # short windows, many of them, on the CPU: a busy machine's bursts then hit both sides alike
    if args.repeats is None:
        args.repeats = 25 if device.type == "cpu" else 7
    if args.steps is None:
        args.steps = 20 if device.type == "cpu" else 50
    if args.warmup is None:
        args.warmup = 100 if device.type == "cpu" else 30
    for name in ("steps", "warmup"):
        if getattr(args, name) % LOG_EVERY:
            parser.error(f"--{name} must be a multiple of {LOG_EVERY} (the model logs every {LOG_EVERY} steps)")
    precisions = (args.precisions or "fp32,tf32,bf16").split(",")
    results, skipped, errors = [], [], []
    for d, n, batch, k in parse_configs(args.configs, device):
        for precision in precisions:
            base = f"d={d} n={n} batch={batch} k={k} {precision}"
            if precision == "tf32" and device.type != "cuda":
                skipped.append({"config": base, "reason": "TF32 is a CUDA matmul mode; on the CPU it is fp32"})
                log(f"skip {base}: TF32 is CUDA only")
                continue
            for auxk in ([False] if args.no_auxk else [False, True]):
                config = base + (" topk+auxk" if auxk else " topk")
                log(f"{config} ...")
                try:
                    project, reference, info = time_config(d, n, batch, k, precision, device, args, auxk)
                    if device.type == "cuda":
                        info["project_peak_gib"], info["reference_peak_gib"] = peak_memory(
                            d, n, batch, k, precision, device, args, auxk)
                except (RuntimeError, ValueError) as error:  # e.g. out of memory: recorded, not hidden
                    errors.append({"config": config, "error": f"{type(error).__name__}: {error}"})
                    log(f"  FAILED: {error}")
                    gc.collect()
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                    continue
                result = row(config, project, reference, "samples/s", higher_is_better=True, **info)
                results.append(result)
                log(f"  project {project:,.0f} samples/s ({info['project_ms_per_step']:.3f} ms/step), "
                    f"reference {reference:,.0f} ({info['reference_ms_per_step']:.3f} ms/step), "
                    f"speedup {result['speedup']:.2f}")
    report(device, results, skipped=skipped, errors=errors, repeats=args.repeats, steps_per_window=args.steps,
           warmup_steps=args.warmup, threads=torch.get_num_threads(), decoder=args.decoder)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
