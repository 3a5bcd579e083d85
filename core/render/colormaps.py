"""Values to colours: the colour maps of ``core.render`` (re-exported there) and ``colorize``.

``'gray'`` (black to white), ``'viridis'`` (a small look-up table), ``'diverging'`` (blue, white at 0, red: for
signed atoms) and ``'auto'`` (diverging when any value is negative, else gray).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.metrics import as_numpy

#: the accepted ``cmap`` names
CMAPS = ("auto", "gray", "diverging", "viridis")
NORMALIZATIONS = ("each", "global")


@dataclass(frozen=True)
class _Colormap:
    """Piecewise-linear colour map: ``positions`` (increasing) are mapped to ``colors`` (k, 3) in 0..255.

    A ``signed`` map takes values in [-1, 1] (0 in the middle); the others take values in [0, 1].
    """

    positions: tuple[float, ...]
    colors: tuple[tuple[int, int, int], ...]
    signed: bool

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """RGB uint8 of shape ``values.shape + (3,)``."""
        channels = [np.interp(values, self.positions, [c[k] for c in self.colors]) for k in range(3)]
        return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


_COLORMAPS = {
    "gray": _Colormap((0.0, 1.0), ((0, 0, 0), (255, 255, 255)), signed=False),
    # The ends of ColorBrewer RdBu: negative blue, zero white, positive red.
    "diverging": _Colormap((-1.0, 0.0, 1.0), ((33, 102, 172), (255, 255, 255), (178, 24, 43)), signed=True),
    # viridis sampled at nine evenly spaced points.
    "viridis": _Colormap(
        tuple(np.linspace(0.0, 1.0, 9)),
        (
            (68, 1, 84), (72, 40, 120), (62, 73, 137), (49, 104, 142), (38, 130, 142),
            (31, 158, 137), (53, 183, 121), (110, 206, 88), (253, 231, 37),
        ),
        signed=False,
    ),
}


def _as_rows(atoms) -> np.ndarray:
    """Finite float64 (n_atoms, n_features); a single vector becomes one row, NaN and inf become 0."""
    atoms = np.atleast_2d(as_numpy(atoms).astype(np.float64))
    if atoms.ndim != 2 or atoms.shape[0] == 0 or atoms.shape[1] == 0:
        raise ValueError(f"atoms must be a non-empty array (n_atoms, n_features), got shape {atoms.shape}.")
    return np.nan_to_num(atoms, nan=0.0, posinf=0.0, neginf=0.0)


def _resolve_cmap(atoms: np.ndarray, cmap: str) -> str:
    if cmap not in CMAPS:
        raise ValueError(f"Unknown cmap {cmap!r}; choose one of {', '.join(CMAPS)}.")
    if cmap == "auto":
        return "diverging" if atoms.min() < 0 else "gray"
    return cmap


def _normalized(atoms: np.ndarray, signed: bool, normalize: str) -> np.ndarray:
    """Values scaled per atom (``'each'``) or over all atoms (``'global'``).

    signed: ``a / max|a|``, in [-1, 1] with 0 kept at 0. Otherwise ``(a - min) / (max - min)``, in
    [0, 1]. A constant (or zero) atom maps to 0.
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"Unknown normalize {normalize!r}; choose one of {', '.join(NORMALIZATIONS)}.")
    axis = 1 if normalize == "each" else None
    if signed:
        low, span = 0.0, np.abs(atoms).max(axis=axis, keepdims=True)
    else:
        low = atoms.min(axis=axis, keepdims=True)
        span = atoms.max(axis=axis, keepdims=True) - low
    return np.divide(atoms - low, span, out=np.zeros_like(atoms), where=span > 0)


def colorize(atoms, cmap: str = "auto", normalize: str = "each") -> np.ndarray:
    """RGB colours of every value of ``atoms``: uint8 of shape (n_atoms, n_features, 3)."""
    atoms = _as_rows(atoms)
    colormap = _COLORMAPS[_resolve_cmap(atoms, cmap)]
    return colormap(_normalized(atoms, colormap.signed, normalize))
