"""Generated data sets with known ground truth, so learned atoms can be scored against it.

- swimmer: Donoho & Stodden's articulated figure, the textbook case where NMF finds the parts.
- bars: Foldiak's bars, a sparse OR of horizontal and vertical lines.
- sparse-synthetic: sparse codes times a known unit-norm dictionary (the sparse coding model an SAE inverts).
- gaussian: Refinetti & Goldt's spiked covariance model, whose principal components are the spikes.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from skimage.draw import line

from .base import Dataset, DatasetError, check_bool, check_float, check_int

# Swimmer geometry on a 32 x 32 canvas. Each limb lives in its own quadrant around the torso, so parts
# of different limbs never share a pixel and every image is exactly the sum of its parts.
_SWIMMER_SIZE = 32
_TORSO_ROWS = (10, 21)  # inclusive
_TORSO_COLUMNS = (15, 16)
_LIMB_LENGTH = 9
_LIMB_ANGLES_DEGREES = (0, 30, 60, 90)  # from horizontal towards vertical
# (joint row, joint column, row direction, column direction): left arm, right arm, left leg, right leg.
_LIMB_JOINTS = ((10, 14, -1, -1), (10, 17, -1, 1), (21, 14, 1, -1), (21, 17, 1, 1))


def generated(X: np.ndarray, name: str, description: str, *, truth: np.ndarray | None = None, **fields) -> Dataset:
    """A generated data set: ``X`` and ``truth`` (the atoms that made it, if known) as float32 copies, the other
    ``Dataset`` fields (``image_shape``, ``labels``, ``texts``, ...) as given."""
    return Dataset(X=X.astype(np.float32), name=name, description=description,
                   truth=None if truth is None else truth.astype(np.float32), **fields)


def swimmer_parts() -> np.ndarray:
    """The 17 swimmer parts as flattened 32 x 32 binary images: the torso, then 4 positions per limb."""
    canvas = (_SWIMMER_SIZE, _SWIMMER_SIZE)
    torso = np.zeros(canvas)
    torso[_TORSO_ROWS[0] : _TORSO_ROWS[1] + 1, _TORSO_COLUMNS[0] : _TORSO_COLUMNS[1] + 1] = 1.0
    parts = [torso]
    for joint_row, joint_col, row_sign, col_sign in _LIMB_JOINTS:
        for angle in np.deg2rad(_LIMB_ANGLES_DEGREES):
            end_row = joint_row + row_sign * round(_LIMB_LENGTH * np.sin(angle))
            end_col = joint_col + col_sign * round(_LIMB_LENGTH * np.cos(angle))
            limb = np.zeros(canvas)
            limb[line(joint_row, joint_col, end_row, end_col)] = 1.0
            parts.append(limb)
    return np.stack(parts).reshape(len(parts), -1)


def make_swimmer() -> Dataset:
    """All 4^4 = 256 poses: torso plus one of 4 positions for each of the 4 limbs."""
    parts = swimmer_parts()
    n_positions = len(_LIMB_ANGLES_DEGREES)
    poses = np.array(list(itertools.product(range(n_positions), repeat=len(_LIMB_JOINTS))))
    limb_part_index = 1 + np.arange(len(_LIMB_JOINTS)) * n_positions + poses  # (256, 4) rows of `parts`
    X = parts[0] + parts[limb_part_index].sum(axis=1)
    description = "Swimmer (Donoho & Stodden): 256 binary 32x32 poses; truth = torso + 16 limb parts."
    return generated(X, "swimmer", description, truth=parts, image_shape=(_SWIMMER_SIZE, _SWIMMER_SIZE))


def make_bars(n_samples: int, rng: np.random.Generator, *, size: int = 8, bar_probability: float = 0.125) -> Dataset:
    """Foldiak bars: each of the ``2 * size`` horizontal and vertical bars is on independently; overlaps stay 1."""
    size = check_int("size", size, 2, 64)
    bar_probability = check_float("bar_probability", bar_probability, 0.0, 1.0)
    bars = np.zeros((2 * size, size, size))
    for i in range(size):
        bars[i, i, :] = 1.0  # horizontal bar in row i
        bars[size + i, :, i] = 1.0  # vertical bar in column i
    bars = bars.reshape(2 * size, -1)
    active = rng.random((n_samples, 2 * size)) < bar_probability
    X = np.minimum(active.astype(np.float64) @ bars, 1.0)  # OR of the bars that are on
    description = f"Foldiak bars: {size}x{size} images, each of {2 * size} bars on with p={bar_probability:g}."
    return generated(X, "bars", description, truth=bars, image_shape=(size, size))


def make_sparse_synthetic(
    n_samples: int,
    rng: np.random.Generator,
    *,
    n_features: int = 64,
    n_atoms: int = 128,
    k: int = 3,
    noise: float = 0.01,
    non_negative: bool = False,
) -> Dataset:
    """X = codes @ D + noise with a random unit-norm dictionary D and exactly ``k`` active atoms per sample.

    Code magnitudes are uniform in [0.5, 1.5] (random sign unless ``non_negative``), so an active atom
    is never hidden by a near-zero coefficient. With ``non_negative`` D and the codes are non-negative
    and noisy values are clipped at 0, so X suits NMF.
    """
    n_features = check_int("n_features", n_features, 1)
    n_atoms = check_int("n_atoms", n_atoms, 1)
    k = check_int("k", k, 1, n_atoms)
    noise = check_float("noise", noise, 0.0)
    non_negative = check_bool("non_negative", non_negative)

    dictionary = rng.standard_normal((n_atoms, n_features))
    if non_negative:
        dictionary = np.abs(dictionary)
    dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)

    active = np.argsort(rng.random((n_samples, n_atoms)), axis=1)[:, :k]  # k distinct atoms per row
    magnitudes = rng.uniform(0.5, 1.5, size=(n_samples, k))
    if not non_negative:
        magnitudes *= rng.choice((-1.0, 1.0), size=(n_samples, k))
    codes = np.zeros((n_samples, n_atoms))
    np.put_along_axis(codes, active, magnitudes, axis=1)

    X = codes @ dictionary + noise * rng.standard_normal((n_samples, n_features))
    if non_negative:
        X = np.maximum(X, 0.0)
    sign = "non-negative" if non_negative else "signed"
    description = (f"Sparse synthetic: {k} of {n_atoms} {sign} unit-norm atoms per sample in {n_features} "
                   f"dimensions, noise {noise:g}; truth = the dictionary.")
    return generated(X, "sparse-synthetic", description, truth=dictionary)


def make_spiked_gaussian(
    n_samples: int,
    rng: np.random.Generator,
    *,
    n_features: int = 100,
    n_spikes: int = 4,
    spike_strength: float | Sequence[float] = 10.0,
    noise: float = 1.0,
) -> Dataset:
    """Refinetti & Goldt's spiked covariance data: x = sum_m sqrt(s_m) c_m u_m + noise * xi, c, xi ~ N(0, 1).

    The covariance is noise^2 I + sum_m s_m u_m u_m^T, so its top principal components are the
    orthonormal spikes u_m (the truth, strongest first). A number for ``spike_strength`` is the largest
    strength and the others step down evenly (10, 7.5, 5, 2.5 for 4 spikes), giving distinct eigenvalues
    whose sequential learning the paper studies; a sequence gives each strength and sets ``n_spikes``.
    """
    n_features = check_int("n_features", n_features, 1)
    noise = check_float("noise", noise, 0.0)
    if isinstance(spike_strength, (Sequence, np.ndarray)) and not isinstance(spike_strength, str):
        strengths = np.array([check_float("spike_strength", s, 0.0, low_open=True) for s in spike_strength])
        n_spikes = check_int("n_spikes (the length of spike_strength)", len(strengths), 1, n_features)
        strengths = np.sort(strengths)[::-1]
    else:
        n_spikes = check_int("n_spikes", n_spikes, 1, n_features)
        largest = check_float("spike_strength", spike_strength, 0.0, low_open=True)
        strengths = largest * np.arange(n_spikes, 0, -1) / n_spikes

    directions, _ = np.linalg.qr(rng.standard_normal((n_features, n_spikes)))
    directions = directions.T  # (n_spikes, n_features), orthonormal rows
    latents = rng.standard_normal((n_samples, n_spikes))
    X = (latents * np.sqrt(strengths)) @ directions + noise * rng.standard_normal((n_samples, n_features))
    description = (f"Spiked Gaussian (Refinetti & Goldt): {n_features} features, {n_spikes} spikes of strength "
                   f"{', '.join(f'{s:g}' for s in strengths)} over noise {noise:g}; truth = spike directions.")
    return generated(X, "gaussian", description, truth=directions)
