"""Correctness of the engine's fast paths on a device (run it on the GPU before trusting the timings).

Checks, each against the straightforward computation on the same device:

* ``centered_linear``: the encoder's custom backward (decoder bias gradient as one vector-matrix product)
  against autograd, in fp32 and bf16.
* ``sparse_decoder``: decoding the k active atoms (``F.embedding_bag``) against the dense product: output
  and gradients, fp32 and bf16.
* ``decoders_agree``: `sae-topk` trained with the dense and with the sparse decoder gives the same loss
  curve; ``precisions``: bf16 (and TF32 on CUDA) train to within 10% of fp32's loss.
* ``auxk_skip_exact``: skipping AuxK while no latent can be dead changes nothing (same history as a run
  that computes it every step).
* ``no_host_sync`` (CUDA only): ``sae-topk`` and ``nmf`` steps between two log steps run under
  ``torch.cuda.set_sync_debug_mode("error")``: any host sync raises.
* ``nmf_hals``: the row-wise HALS sweep against the textbook column-by-column update.

Usage: ``.venv/bin/python bench/check_fast_paths.py --device cpu|cuda``. The last stdout line is a JSON
object ``{"device", "checks": [{"name", "ok", "detail"}]}``; the exit status is 1 if any check failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from common import device_name, log, resolve  # noqa: E402
from core.models import create  # noqa: E402
from core.models.nmf_math import hals_rows  # noqa: E402
from core.models import sae_topk  # noqa: E402


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def check_centered_linear(device):
    g = torch.Generator(device=device).manual_seed(0)
    B, d, n = 64, 48, 96
    x = torch.randn(B, d, generator=g, device=device)
    out = {}
    for dtype, tol in ((None, 1e-5), (torch.bfloat16, 3e-2)):
        params = [torch.randn(shape, generator=g, device=device, requires_grad=True)
                  for shape in ((d,), (n, d), (n,))]
        b_dec, W, b = params
        upstream = torch.randn(B, n, generator=g, device=device)
        fast = sae_topk._CenteredLinear.apply(x, b_dec, W, b, dtype)
        grads_fast = torch.autograd.grad((fast.float() * upstream).sum(), params)
        slow = (x - b_dec) @ W.T + b
        grads_slow = torch.autograd.grad((slow * upstream).sum(), params)
        errors = [rel(fast.float(), slow)] + [rel(a, b) for a, b in zip(grads_fast, grads_slow)]
        out[str(dtype)] = max(errors)
        if max(errors) > tol:
            return False, f"{dtype}: relative errors (out, b_dec, W, b) {errors} above {tol}"
    return True, f"max relative error {out}"


def check_sparse_decoder(device):
    g = torch.Generator(device=device).manual_seed(1)
    B, n, d, k = 64, 512, 40, 8
    out = {}
    for dtype, tol in ((torch.float32, 1e-5), (torch.bfloat16, 3e-2)):
        W = torch.randn(n, d, generator=g, device=device).to(dtype).requires_grad_()
        pre = torch.randn(B, n, generator=g, device=device)
        values, indices = pre.topk(k, dim=1)
        values = values.relu().to(dtype).requires_grad_()
        upstream = torch.randn(B, d, generator=g, device=device)
        sparse = F.embedding_bag(indices, W, per_sample_weights=values, mode="sum")
        grads_sparse = torch.autograd.grad((sparse.float() * upstream).sum(), [W, values])
        dense_codes = torch.zeros(B, n, device=device, dtype=dtype).scatter(1, indices, values)
        dense = dense_codes.float() @ W.float()
        grads_dense = torch.autograd.grad((dense * upstream).sum(), [W, values])
        errors = [rel(sparse.float(), dense)] + [rel(a.float(), b.float()) for a, b in zip(grads_sparse, grads_dense)]
        out[str(dtype)] = max(errors)
        if max(errors) > tol:
            return False, f"{dtype}: relative errors (out, W, values) {errors} above {tol}"
    return True, f"max relative error {out}"


def _data(seed=0, n=4096, d=64):
    rng = np.random.default_rng(seed)
    atoms = rng.standard_normal((256, d)).astype(np.float32)
    codes = rng.exponential(1.0, (n, 256)).astype(np.float32) * (rng.random((n, 256)) < 0.03)
    return (codes @ atoms + 0.05 * rng.standard_normal((n, d))).astype(np.float32)


def _fit(device, steps=150, decoder="auto", **params):
    params = {"n_components": 256, "k": 8, "batch_size": 256, **params}
    model = create("sae-topk", max_steps=steps, random_state=0, device=str(device), **params)
    model._decoder = decoder
    model.fit(_data())
    return model


def check_decoders_agree(device):
    dense, sparse = _fit(device, decoder="dense"), _fit(device, decoder="sparse")
    a = np.array([r["loss"] for r in dense.history_])
    b = np.array([r["loss"] for r in sparse.history_])
    worst = float(np.max(np.abs(a - b) / a))
    return worst < 1e-3, f"max relative loss difference over {len(a)} logged steps: {worst:.2e}"


def check_precisions(device):
    reference = _fit(device, precision="fp32").history_[-1]["loss"]
    detail, ok = {"fp32": reference}, True
    for precision in (["tf32", "bf16"] if device.type == "cuda" else ["bf16"]):
        for decoder in ("dense", "sparse"):
            loss = _fit(device, precision=precision, decoder=decoder).history_[-1]["loss"]
            detail[f"{precision}/{decoder}"] = loss
            ok &= bool(np.isfinite(loss) and abs(loss - reference) / reference < 0.1)
    return ok, f"final losses {detail}"


def check_auxk_skip(device):
    params = dict(n_components=256, k=4, batch_size=256, dead_window=512, auxk_coef=1 / 32)
    skipping = _fit(device, steps=200, **params)
    original = sae_topk.TopKSAE._auxk_needed
    sae_topk.TopKSAE._auxk_needed = lambda self: True  # compute AuxK at every step, as before
    try:
        always = _fit(device, steps=200, **params)
    finally:
        sae_topk.TopKSAE._auxk_needed = original
    keys = ("loss", "mse", "auxk", "dead_fraction")
    a = np.array([[r[k] for k in keys] for r in skipping.history_])
    b = np.array([[r[k] for k in keys] for r in always.history_])
    exact = device.type == "cpu"
    worst = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))
    fired = float(b[:, 3].max())
    ok = (worst == 0.0 if exact else worst < 1e-4) and fired > 0
    return ok, f"max relative difference {worst:.2e} (dead fraction reached {fired:.2f}; exact on the CPU)"


def check_no_host_sync(device):
    if device.type != "cuda":
        return None, "CUDA only (the CPU has no host-device sync)"
    X = _data()
    checked = []
    for name, params in (("sae-topk", dict(n_components=256, k=8, batch_size=256, auxk_coef=0.0)),
                         ("sae-topk", dict(n_components=256, k=8, batch_size=256, precision="bf16",
                                           auxk_coef=0.0)),
                         ("sae-topk", dict(n_components=256, k=8, batch_size=256, precision="bf16")),
                         ("nmf", dict(n_components=16, solver="hals")), ("nmf", dict(n_components=16, solver="mu"))):
        model = create(name, max_steps=60, random_state=0, device="cuda", log_every=10, **params)
        model._begin_fit(np.abs(X) if name == "nmf" else X)
        for step in range(1, 41):
            if step % 10 == 0:  # a log step: core.training reads the metrics (a sync, by design)
                for value in model._train_step(step).values():
                    float(value)
                continue
            if name == "sae-topk" and params.get("auxk_coef", 1) and step in (1, 2):
                model._train_step(step)  # AuxK's horizon check: one sync per horizon, by design
                continue
            torch.cuda.set_sync_debug_mode("error")
            try:
                model._train_step(step)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        torch.cuda.synchronize()
        model._end_fit(40)
        checked.append(f"{name} {params.get('precision', params.get('solver', 'auto'))}")
    return True, f"no sync in non-log steps of {checked}"


def check_nmf_hals(device):
    g = torch.Generator(device=device).manual_seed(2)
    n, r, m = 300, 12, 50
    A = torch.rand(n, r, generator=g, device=device)
    B = torch.rand(r, m, generator=g, device=device)
    Y = torch.rand(n, m, generator=g, device=device)
    B[3] = 0  # a dead atom: its codes must stay as they are
    cross, gram = Y @ B.T - 0.01, B @ B.T + 0.1 * torch.eye(r, device=device)
    expected = A.clone()
    diagonal = gram.diagonal().clamp_min(torch.finfo(gram.dtype).tiny)
    for j in range(r):  # the textbook update, one column at a time
        step = (cross[:, j] - expected @ gram[:, j]) / diagonal[j]
        expected[:, j] = (expected[:, j] + step).clamp_min(0)
    got = A.T.contiguous()  # hals_rows updates rows: the codes transposed, and their cross term too
    hals_rows(got, cross.T.contiguous(), gram)
    error = rel(got.T, expected)
    return error < 1e-5, f"relative difference {error:.2e}"


CHECKS = {"centered_linear": check_centered_linear, "sparse_decoder": check_sparse_decoder,
          "decoders_agree": check_decoders_agree, "precisions": check_precisions,
          "auxk_skip_exact": check_auxk_skip, "no_host_sync": check_no_host_sync, "nmf_hals": check_nmf_hals}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--only", help="comma-separated check names")
    args = parser.parse_args(argv)
    device = resolve(args.device)
    names = args.only.split(",") if args.only else list(CHECKS)
    checks, failed = [], False
    for name in names:
        try:
            ok, detail = CHECKS[name](device)
        except Exception as error:  # noqa: BLE001 - a crash is a failed check, reported with its trace
            ok, detail = False, f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=4)}"
        status = "SKIPPED" if ok is None else ("ok" if ok else "FAILED")
        failed |= ok is False
        log(f"{name}: {status}: {detail}")
        checks.append({"name": name, "ok": ok, "detail": detail})
    print(json.dumps({"device": device_name(device), "checks": checks}), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
