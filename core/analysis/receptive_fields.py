"""Is an image atom an edge detector? Two numbers per atom, each 0 to 1, defined so that an edge or bar
scores high on the first and low on the second, a grating (a Fourier or PCA component) high on both, and a
blob or noise low on the first.

orientation_selectivity: how much of the atom's (mean-removed) power spectrum lies along one orientation,
    |sum_f P(f) exp(2i theta_f)| / sum_f P(f), the resultant length of the doubled frequency angles weighted by
    the power (circular statistics; doubled because theta and theta + pi are one orientation). 1: all power
    at one orientation (a straight edge, bar or grating); about 0: power spread over every orientation
    (a round blob, white noise).
width_across: how narrow the atom's energy is across its orientation: the standard deviation of its squared
    weights along their narrowest axis (the smaller eigenvalue of their spatial covariance), divided by that of
    a uniform patch. An edge or bar is narrow across itself (well below 1); a grating or noise fills the patch
    (about 1).

Hubel & Wiesel's simple cells, Olshausen & Field's sparse codes and CS294A's autoencoder features are
oriented and localised: high selectivity and low width. PCA's components are oriented gratings (wide); random
atoms are neither.
"""

from __future__ import annotations

import numpy as np


def _images(atoms, image_shape: tuple[int, int]) -> np.ndarray:
    atoms = np.asarray(atoms, dtype=np.float64)
    height, width = image_shape
    if atoms.ndim != 2 or atoms.shape[1] != height * width:
        raise ValueError(f"atoms must be (n_atoms, {height * width}) for image shape {image_shape}, "
                         f"got {atoms.shape}.")
    return atoms.reshape(-1, height, width)


def orientation_selectivity(atoms, image_shape: tuple[int, int]) -> np.ndarray:
    """(n_atoms,) in [0, 1]: the concentration of each atom's power spectrum on one orientation."""
    images = _images(atoms, image_shape)
    images = images - images.mean(axis=(1, 2), keepdims=True)
    power = np.abs(np.fft.fft2(images)) ** 2
    fy = np.fft.fftfreq(image_shape[0])[:, None]
    fx = np.fft.fftfreq(image_shape[1])[None, :]
    doubled = np.exp(2j * np.arctan2(fy, fx))
    doubled[0, 0] = 0  # the constant has no orientation
    total = power.sum(axis=(1, 2))
    return np.abs((power * doubled).sum(axis=(1, 2))) / np.maximum(total, 1e-30)


def width_across(atoms, image_shape: tuple[int, int]) -> np.ndarray:
    """(n_atoms,): the spread of each atom's energy along its narrowest axis, relative to a uniform patch's."""
    images = _images(atoms, image_shape)
    energy = images ** 2
    energy = energy / np.maximum(energy.sum(axis=(1, 2), keepdims=True), 1e-30)
    rows, cols = np.mgrid[0:image_shape[0], 0:image_shape[1]].astype(np.float64)
    mean_r = (energy * rows).sum(axis=(1, 2), keepdims=True)
    mean_c = (energy * cols).sum(axis=(1, 2), keepdims=True)
    dr, dc = rows - mean_r, cols - mean_c
    covariance = np.stack([np.stack([(energy * dr * dr).sum(axis=(1, 2)), (energy * dr * dc).sum(axis=(1, 2))], -1),
                           np.stack([(energy * dr * dc).sum(axis=(1, 2)), (energy * dc * dc).sum(axis=(1, 2))], -1)],
                          -2)
    narrowest = np.sqrt(np.clip(np.linalg.eigvalsh(covariance)[:, 0], 0, None))
    uniform = np.sqrt(min(rows.var(), cols.var()))
    return narrowest / uniform
