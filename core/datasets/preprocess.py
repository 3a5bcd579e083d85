"""Checking raw arrays and the preprocessing steps that ``load`` applies.

Validation turns any numeric array into a clean (n_samples, n_features) float32 matrix or raises a
DatasetError that says what is wrong and how to fix it. The transforms (scaling, centring, the
CS294A patch normalisation and ZCA whitening) work on float32 data with float64 statistics.
"""

from __future__ import annotations

import math

import numpy as np

from .base import DatasetError
from .option_names import where_set

SCALE_CHOICES = (None, "minmax", "standard")
_MAX_POSITIONS_SHOWN = 5


def as_data_matrix(array, where: str) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Validate ``array`` and return (X float32 C-contiguous 2-D, image_shape from a 3-D stack or None).

    A 3-D array is read as a stack of (height, width) images. ``where`` names the source in messages.
    """
    array = np.asarray(array)
    _check_numeric_dtype(array, where)
    image_shape = None
    if array.ndim == 0:
        raise DatasetError(f"{where} holds a single number, not a data matrix. Save a 2-D array (n_samples, n_features).")
    if array.ndim == 1:
        raise DatasetError(
            f"{where} is 1-D (length {array.shape[0]}); a data matrix must be 2-D (n_samples, n_features). "
            f"Reshape it first, e.g. X.reshape(-1, n_features), or X.reshape(-1, 1) for a single feature."
        )
    if array.ndim == 3:
        image_shape = (int(array.shape[1]), int(array.shape[2]))
        array = array.reshape(array.shape[0], -1)
    elif array.ndim > 3:
        raise DatasetError(
            f"{where} has shape {array.shape}; expected 2-D (n_samples, n_features) or 3-D (n_images, height, "
            "width). Convert colour images to grayscale and flatten extra axes first."
        )
    n_samples, n_features = array.shape
    if n_samples == 0:
        raise DatasetError(f"{where} has no samples (shape {array.shape}). Provide at least 2 rows.")
    if n_features == 0:
        raise DatasetError(f"{where} has zero features (shape {array.shape}). Each sample needs at least one value.")
    if n_samples == 1:
        raise DatasetError(
            f"{where} has a single sample (shape {array.shape}); models need at least 2. If each column is a "
            "sample, transpose it (X.T)."
        )
    check_finite(array, where)
    # only wider floats can leave float32's range; max and min, not abs(): no copy of the data
    largest = max(float(array.max()), -float(array.min())) if array.dtype.kind == "f" and array.itemsize > 4 else 0.0
    if largest > float(np.finfo(np.float32).max):
        raise DatasetError(
            f"{where} holds values up to {largest:.3g}, beyond the float32 range (about 3.4e38) models train in. "
            "Rescale the data first (e.g. divide by its largest value).")
    X = np.ascontiguousarray(array, dtype=np.float32)
    return X, image_shape


def _check_numeric_dtype(array: np.ndarray, where: str) -> None:
    kind = array.dtype.kind
    if kind == "O":
        raise DatasetError(f"{where} holds Python objects, not numbers. Save a numeric array, e.g. X.astype(np.float32).")
    if kind == "c":
        raise DatasetError(f"{where} holds complex numbers. Keep the real part or the magnitude (np.abs) first.")
    if kind not in "biuf":
        raise DatasetError(
            f"{where} has dtype {array.dtype} (text, dates or records), not numbers. Convert it to a numeric array."
        )


def check_finite(X: np.ndarray, where: str) -> None:
    """Raise DatasetError naming how many NaN/Inf values there are and where the first ones sit."""
    bad = ~np.isfinite(X)
    if not bad.any():
        return
    n_nan = int(np.isnan(X).sum())
    n_inf = int(bad.sum()) - n_nan
    rows, cols = np.nonzero(bad)
    shown = ", ".join(f"(row {r}, column {c})" for r, c in zip(rows[:_MAX_POSITIONS_SHOWN], cols[:_MAX_POSITIONS_SHOWN]))
    more = " ..." if rows.size > _MAX_POSITIONS_SHOWN else ""
    raise DatasetError(
        f"{where} contains {n_nan} NaN and {n_inf} infinite value(s) in {np.unique(rows).size} row(s), first at "
        f"{shown}{more} (0-based). Drop those rows or impute them (e.g. np.nan_to_num or a column mean) first."
    )


def resolve_image_shape(
    n_features: int, given=None, known: tuple[int, int] | None = None, *, infer_square: bool = True
) -> tuple[int, int] | None:
    """The (height, width) for rows of ``n_features`` values: ``given`` if it fits, else ``known``,
    else a square when ``n_features`` is a perfect square (4 or more) and ``infer_square``."""
    if given is not None:
        height, width = parse_image_shape(given)
        if height * width != n_features:
            fitting = max(h for h in range(1, math.isqrt(n_features) + 1) if n_features % h == 0)
            raise DatasetError(
                f"A picture of {height} x {width} holds {height * width:,} pixels, but each sample has "
                f"{n_features:,} features. Give a height x width of {n_features:,}, e.g. "
                f"{where_set('image_shape', (fitting, n_features // fitting))}, or let it be guessed: "
                f"{where_set('image_shape', None)}."
            )
        return (height, width)
    if known is not None:
        return (int(known[0]), int(known[1]))
    side = math.isqrt(n_features)
    if infer_square and n_features >= 4 and side * side == n_features:
        return (side, side)
    return None


def parse_image_shape(given) -> tuple[int, int]:
    """``given`` as a (height, width) pair of positive whole numbers, or a DatasetError saying how to write it."""
    try:
        height, width = (int(v) for v in given)
    except (TypeError, ValueError):
        height = width = 0
    if height < 1 or width < 1:
        raise DatasetError(f"image_shape={given!r} must be a pair (height, width) of positive whole numbers, e.g. "
                           f"{where_set('image_shape', (28, 28))}.")
    return (height, width)


def subset_indices(n_total: int, n_samples: int | None, seed: int) -> np.ndarray | None:
    """Sorted random row indices for an ``n_samples`` subset (deterministic in ``seed``), or None for all."""
    if n_samples is None or n_samples == n_total:
        return None
    if n_samples > n_total:
        raise DatasetError(
            f"n_samples={n_samples} asks for more samples than the data set has ({n_total:,}). Ask for "
            f"{n_total:,} or fewer, {where_set('n_samples', n_total)}, or for all of them, "
            f"{where_set('n_samples', None)}."
        )
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=n_samples, replace=False))


def scale_data(X: np.ndarray, scale: str | None) -> np.ndarray:
    """Apply ``scale``: None (unchanged), 'minmax' (whole set to [0, 1]) or 'standard' (per feature)."""
    if scale is None:
        return X
    if scale == "minmax":
        # One min and max for the whole set keeps pixel ratios and non-negativity (NMF needs both).
        low, high = float(X.min()), float(X.max())
        span = high - low if high > low else 1.0
        return ((X - low) / span).astype(np.float32)
    if scale == "standard":
        mean = X.mean(axis=0, dtype=np.float64)
        std = X.std(axis=0, dtype=np.float64)
        std[std == 0] = 1.0  # constant features stay at zero instead of dividing by zero
        return ((X - mean) / std).astype(np.float32)
    raise unknown_scale(scale)


def unknown_scale(scale) -> DatasetError:
    return DatasetError(f"scale={scale!r} is not known. Choose one of {', '.join(map(repr, SCALE_CHOICES))}, "
                        f"e.g. {where_set('scale', 'minmax')}.")


def center_data(X: np.ndarray) -> np.ndarray:
    """Subtract the per-feature mean."""
    return (X - X.mean(axis=0, dtype=np.float64)).astype(np.float32)


def remove_dc(patches: np.ndarray) -> np.ndarray:
    """Subtract each patch's own mean brightness (its DC component)."""
    return patches - patches.mean(axis=1, keepdims=True)


def cs294a_normalize(patches: np.ndarray) -> np.ndarray:
    """Ng's CS294A patch normalisation: remove DC per patch, clip to +/-3 standard deviations, map to [0.1, 0.9].

    The [0.1, 0.9] range suits sigmoid decoders, whose outputs never reach 0 or 1.
    """
    patches = remove_dc(np.asarray(patches, dtype=np.float64))
    limit = 3.0 * patches.std()
    if limit == 0:
        return np.full(patches.shape, 0.5, dtype=np.float32)
    patches = np.clip(patches, -limit, limit) / limit
    return ((patches + 1.0) * 0.4 + 0.1).astype(np.float32)


def zca_whiten(X: np.ndarray, epsilon: float) -> np.ndarray:
    """ZCA whitening (CS294A/UFLDL): rotate to PCA axes, divide by sqrt(eigenvalue + epsilon), rotate back.

    ``epsilon`` regularises small eigenvalues (a low-pass filter that keeps pixel noise from blowing up).
    The result stays in pixel space, so whitened patches still look like images.
    """
    X = np.asarray(X, dtype=np.float64)
    X = X - X.mean(axis=0)
    covariance = X.T @ X / X.shape[0]
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eigenvalues = np.clip(eigenvalues, 0.0, None)  # round-off can make the null direction slightly negative
    transform = (eigenvectors / np.sqrt(eigenvalues + epsilon)) @ eigenvectors.T
    return np.ascontiguousarray(X @ transform, dtype=np.float32)
