"""The job system's settings, read in one place from the environment (README's settings table).

``SAE_EXPLORER_MAX_JOBS``: jobs (runs and sweeps) training at once, default 2; ``SAE_EXPLORER_MAX_SWEEPS``:
how many of those may be sweeps, default 1; ``SAE_EXPLORER_JOB_TIMEOUT``: seconds a job goes on with no
page reading it, default 45; ``SAE_EXPLORER_JOB_PROCESSES=0``: train in threads of this process instead
of worker processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class JobSettings:
    max_running: int
    max_sweeps: int
    idle_timeout: float
    processes: bool


def _whole_number(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip() or str(default)
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} is {text!r}: set a whole number of at least 1, or unset it for the default "
                         f"{default}.")
    return int(text)


def job_settings() -> JobSettings:
    timeout_text = os.environ.get("SAE_EXPLORER_JOB_TIMEOUT", "").strip() or "45"
    try:
        idle_timeout = float(timeout_text)
    except ValueError:
        idle_timeout = -1.0
    if not idle_timeout > 0:
        raise ValueError(f"SAE_EXPLORER_JOB_TIMEOUT is {timeout_text!r}: set the seconds a run goes on with no "
                         "page reading it (a number above 0), or unset it for the default 45.")
    return JobSettings(max_running=_whole_number("SAE_EXPLORER_MAX_JOBS", 2),
                       max_sweeps=_whole_number("SAE_EXPLORER_MAX_SWEEPS", 1), idle_timeout=idle_timeout,
                       processes=os.environ.get("SAE_EXPLORER_JOB_PROCESSES", "1").strip() != "0")
