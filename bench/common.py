"""Helpers shared by the benchmark scripts: timing, device names, the JSON report."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/x.py` from the repository root
    sys.path.insert(0, str(ROOT))


def training_workers(parent: int) -> list[int]:
    """The training worker processes (``core.jobs.worker``) that process ``parent`` started (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                if b"worker_main" in Path(f"/proc/{entry}/cmdline").read_bytes():
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):  # gone meanwhile
            continue
    return sorted(found)


def log(message: str) -> None:
    """Progress goes to stderr; stdout's last line is the JSON report."""
    print(message, file=sys.stderr, flush=True)


def resolve(device: str) -> torch.device:
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda was asked for, but torch sees no CUDA GPU here "
                         f"(torch {torch.__version__}). Run with --device cpu, or on a machine with a GPU.")
    return torch.device(device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU ({name}, {torch.get_num_threads()} torch threads, {os.cpu_count()} cores)"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def now(device: torch.device) -> float:
    sync(device)
    return time.perf_counter()


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def report(device: torch.device, results: list[dict], **extra) -> None:
    """Print the one-line JSON report as the last line of stdout."""
    payload = {"device": device_name(device), "results": results, "torch": torch.__version__,
               "commit": commit(), "date": time.strftime("%Y-%m-%d"), **extra}
    print(json.dumps(payload), flush=True)


def row(config: str, project: float, reference: float, unit: str, higher_is_better: bool, **extra) -> dict:
    """A result row; speedup > 1 means the project is faster whatever the unit."""
    speedup = project / reference if higher_is_better else reference / project
    return {"config": config, "project": project, "reference": reference, "unit": unit,
            "speedup": round(speedup, 3), **extra}
