"""Choosing the torch device: the GPU when one is present, else the CPU."""

from __future__ import annotations

import os

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return the torch device for ``device`` ('auto' picks CUDA when available).

    Raises ValueError for an unknown name, or for 'cuda' on a machine without a CUDA GPU.
    """
    if isinstance(device, torch.device):
        return device
    name = "auto" if device is None else str(device).lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was asked for, but no CUDA GPU is available here. "
                "Use device='cpu' or device='auto'."
            )
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ValueError(f"Unknown device {device!r}. Choose one of {', '.join(DEVICE_CHOICES)}.")


def device_label(device: torch.device | str | None = "auto") -> str:
    """A human-readable name: the GPU's name, or 'CPU'."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return "CPU"


def device_memory(device: torch.device | str | None = "auto") -> tuple[int, str]:
    """(bytes, description) of the memory a run on ``device`` can use at most: the GPU's total
    memory, or the machine's physical memory for the CPU."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        return int(torch.cuda.get_device_properties(dev).total_memory), f"GPU memory on {device_label(dev)}"
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")), "this machine's memory"
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows): no limit known
        return 2**62, "this machine's memory"
