"""Numeric precision of a training step: a model's ``precision`` parameter ('auto', 'fp32', 'tf32', 'bf16')
as CUDA matmul modes (TF32) and bf16 autocast, for the autoencoder family's step (core.models.autoencoder)."""

from __future__ import annotations

import contextlib
import threading

import torch

#: values of a model's ``precision`` parameter; 'auto' is 'tf32' on CUDA and 'fp32' on the CPU
PRECISIONS = ("auto", "fp32", "tf32", "bf16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """'fp32', 'tf32' or 'bf16' for ``precision`` on ``device``. TF32 is a CUDA matmul mode: on the CPU
    it is plain fp32 (so 'auto' keeps CPU results identical to fp32)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    if precision == "auto":
        return "tf32" if device.type == "cuda" else "fp32"
    if precision == "tf32" and device.type != "cuda":
        return "fp32"
    return precision


# The flag is process-wide: two runs in threads of one process (SAE_EXPLORER_JOB_PROCESSES=0) would flip it
# under each other's steps. A step holds the lock while it launches its kernels (the GIL serialises launches
# anyway; the GPU still runs them asynchronously).
_PRECISION_LOCK = threading.RLock()


@contextlib.contextmanager
def _cuda_matmul_fp32_precision(mode: str):
    """Set CUDA fp32 matmuls to 'tf32' or 'ieee' inside the block (process-wide flag, restored after)."""
    matmul = torch.backends.cuda.matmul
    with _PRECISION_LOCK:
        try:  # the torch >= 2.9 API; mixing it with the legacy allow_tf32 flag is an error, so follow the user
            old, attribute = matmul.fp32_precision, "fp32_precision"
            new = mode
        except (AttributeError, RuntimeError):
            old, attribute = matmul.allow_tf32, "allow_tf32"
            new = mode == "tf32"
        if old == new:
            yield
            return
        setattr(matmul, attribute, new)
        try:
            yield
        finally:
            setattr(matmul, attribute, old)


def matmul_precision(precision: str, device: torch.device):
    """CUDA fp32 matmuls in TF32 for 'tf32', in IEEE fp32 otherwise, inside the block; nothing on the CPU
    (which has no TF32). Wraps a whole training step: forward, backward and optimiser step."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    return _cuda_matmul_fp32_precision("tf32" if precision == "tf32" else "ieee")


def autocast(precision: str, device: torch.device):
    """bf16 autocast (CUDA or CPU) for 'bf16', else nothing. Wraps the forward pass and the loss only."""
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
