"""What a page's text boxes take: sample numbers (``parse_indices``) and sweep values (``parse_values``), read
and checked, with an error that names the problem and the fix; and the values a sweep's box starts with."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def parse_indices(text: str, n: int, limit: int = 12) -> list[int]:
    """Sample indices typed as ``0, 5, 12`` (each in ``0 .. n-1``, at most ``limit``); ValueError otherwise."""
    values = []
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise ValueError(f"{part!r} is not a sample number; type whole numbers from 0 to {n - 1}, "
                             "separated by commas.")
        if int(part) >= n:
            raise ValueError(f"Sample {part} does not exist: this data set has {n} samples (0 to {n - 1}).")
        values.append(int(part))
    values = list(dict.fromkeys(values))
    if not values:
        raise ValueError(f"Type at least one sample number (0 to {n - 1}).")
    if len(values) > limit:
        raise ValueError(f"At most {limit} samples at once; {len(values)} were given.")
    return values


_DEFAULT_VALUES = {"k": [2, 4, 8, 16, 32], "l1_coef": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
                   "n_components": [8, 16, 32, 64], "sparsity_target": [0.02, 0.05, 0.1, 0.2],
                   "l0_coef": [1e-4, 1e-3, 1e-2], "alpha_W": [0, 1e-3, 1e-2, 1e-1], "learning_rate": [3e-4, 1e-3, 3e-3]}
_INTEGER_PARAMS = ("k", "n_components")


def default_sweep_values(param: str) -> list[float]:
    return list(_DEFAULT_VALUES.get(param, []))


def parse_values(text: str, param: str) -> list[Any]:
    """Sweep values typed as ``2, 4, 8`` (or ``a:b:n`` for n log-spaced values from a to b), checked.

    k and n_components must be positive whole numbers; l1_coef >= 0; sparsity_target strictly in (0, 1).
    Raises ValueError with the problem and the fix.
    """
    text = (text or "").strip()
    if not text:
        raise ValueError("Type the values to sweep, separated by commas (e.g. 2, 4, 8, 16).")
    if text.count(":") == 2 and "," not in text:
        try:
            low, high, count = (float(part) for part in text.split(":"))
        except ValueError:
            raise ValueError(f"{text!r}: a range is low:high:count, e.g. 1e-4:1e-1:6.") from None
        if not all(math.isfinite(v) for v in (low, high, count)):
            raise ValueError(f"{param} takes finite numbers (not inf or nan); got {text!r}.")
        if low <= 0 or high <= 0 or count < 1 or count != int(count):
            raise ValueError("A range low:high:count needs low, high > 0 and a whole count >= 1.")
        values = list(np.geomspace(low, high, int(count)))
        if param in _INTEGER_PARAMS:  # 8:256:6 for k: 8, 16, ..., 256 (geomspace gives 15.999...)
            values = [float(round(v)) for v in values]
    else:
        values = []
        for part in text.replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            try:
                values.append(float(part))
            except ValueError:
                raise ValueError(f"{part!r} is not a number; type numbers separated by commas.") from None
    if not values:
        raise ValueError("Type at least one value to sweep.")
    if not all(math.isfinite(v) for v in values):  # 'inf', 'nan', 1e400: float() takes them
        raise ValueError(f"{param} takes finite numbers (not inf or nan); got {text!r}.")
    if param in _INTEGER_PARAMS:
        if any(v != int(v) or v < 1 for v in values):
            raise ValueError(f"{param} takes whole numbers of at least 1; got {text!r}.")
        values = [int(v) for v in values]
    elif param == "sparsity_target" and any(not 0 < v < 1 for v in values):
        raise ValueError(f"rho (sparsity_target) must lie strictly between 0 and 1; got {text!r}.")
    elif any(v < 0 for v in values):
        raise ValueError(f"{param} takes non-negative numbers; got {text!r}.")
    else:
        values = [float(f"{v:.6g}") for v in values]
    unique = list(dict.fromkeys(values))
    if len(unique) > 32:
        raise ValueError(f"{len(unique)} values is too many for one sweep; use at most 32.")
    return unique
