"""The registry of built-in data sets, and the real-image ones (digits, faces, natural image patches)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .base import Dataset, check_bool, check_float, check_int
from .face_parts import make_face_parts
from .online import load_online
from .preprocess import cs294a_normalize, remove_dc, zca_whiten
from .synthetic import make_bars, make_sparse_synthetic, make_spiked_gaussian, make_swimmer
from .text_embeddings import make_text_embeddings


def make_digits() -> Dataset:
    """scikit-learn's 1,797 handwritten digits, 8x8, raw 0..16 divided by 16 into [0, 1]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return Dataset(
        X=(digits.data / 16.0).astype(np.float32),
        name="digits",
        description="Digits (scikit-learn): 1,797 handwritten digits, 8x8 grayscale in [0, 1]; labels = digit.",
        image_shape=(8, 8),
        labels=digits.target.astype(np.int64),
    )


def make_faces(*, include_non_faces: bool = False) -> Dataset:
    """scikit-image's LFW subset: its 100 faces, 25x25 in [0, 1]; ``include_non_faces`` adds its 100 non-face crops.

    The non-faces (the subset's second half) are there for face detection; mixed in, they hide the faces'
    structure from a factorisation, so they come only on request, with labels 1 = face, 0 = non-face.
    """
    from skimage.data import lfw_subset

    include_non_faces = check_bool("include_non_faces", include_non_faces)
    images = lfw_subset()
    n_faces = images.shape[0] // 2  # skimage documents the first half as faces, the second as non-faces
    if not include_non_faces:
        images = images[:n_faces]
        return Dataset(
            X=images.reshape(n_faces, -1).astype(np.float32),
            name="faces",
            description=(
                f"Faces (LFW subset, scikit-image): {n_faces} faces, 25x25 in [0, 1] "
                "(include_non_faces adds its 100 non-face crops)."
            ),
            image_shape=images.shape[1:],
        )
    labels = np.r_[np.ones(n_faces, dtype=np.int64), np.zeros(images.shape[0] - n_faces, dtype=np.int64)]
    return Dataset(
        X=images.reshape(images.shape[0], -1).astype(np.float32),
        name="faces",
        description="Faces (LFW subset, scikit-image): 100 faces and 100 non-faces, 25x25 in [0, 1]; labels = face.",
        image_shape=images.shape[1:],
        labels=labels,
    )


# Natural photographs shipped inside scikit-image and scikit-learn, so patches work offline. Scenes and
# objects, not close-up textures (scikit-image's grass and gravel): Olshausen & Field's and CS294A's patches
# come from natural scenes, whose edges are what the sparse codes learn; texture patches are mostly
# pixel-scale clutter that turns the learned features into noisy gratings.
_SKIMAGE_PHOTOS = ("camera", "astronaut", "coffee", "chelsea", "rocket")


@lru_cache(maxsize=1)
def natural_images() -> tuple[np.ndarray, ...]:
    """The bundled natural photographs as grayscale float64 arrays in [0, 1]."""
    from skimage import color, data
    from sklearn.datasets import load_sample_images

    photos = [getattr(data, name)() for name in _SKIMAGE_PHOTOS] + list(load_sample_images().images)
    grayscale = []
    for photo in photos:
        if photo.ndim == 3:
            photo = color.rgb2gray(photo[..., :3])  # already float in [0, 1]
        elif photo.dtype == np.uint8:
            photo = photo / 255.0
        grayscale.append(np.asarray(photo, dtype=np.float64))
    return tuple(grayscale)


def make_patches(
    n_samples: int, rng: np.random.Generator, *, patch_size: int = 8, whiten: bool = False, epsilon: float = 1e-3
) -> Dataset:
    """Random square patches from natural photographs, as in Ng's CS294A sparse autoencoder exercise.

    Default: CS294A normalisation (DC removed per patch, clipped at 3 std, mapped to [0.1, 0.9]).
    ``whiten``: DC removal then ZCA whitening with ``epsilon`` added to the covariance eigenvalues
    (pixels in [0, 1]; larger epsilon = stronger low-pass). Whitened patches are signed.
    """
    images = natural_images()
    smallest_side = min(min(image.shape) for image in images)
    patch_size = check_int("patch_size", patch_size, 2, min(smallest_side, 64))
    whiten = check_bool("whiten", whiten)
    epsilon = check_float("epsilon", epsilon, 0.0, low_open=True)

    source = rng.integers(len(images), size=n_samples)
    patches = np.empty((n_samples, patch_size * patch_size))
    for index, image in enumerate(images):
        chosen = np.flatnonzero(source == index)
        rows = rng.integers(image.shape[0] - patch_size + 1, size=chosen.size)
        cols = rng.integers(image.shape[1] - patch_size + 1, size=chosen.size)
        windows = np.lib.stride_tricks.sliding_window_view(image, (patch_size, patch_size))
        patches[chosen] = windows[rows, cols].reshape(chosen.size, -1)

    if whiten:
        X, how = zca_whiten(remove_dc(patches), epsilon), f"ZCA-whitened (epsilon {epsilon:g})"
    else:
        X, how = cs294a_normalize(patches), "CS294A-normalised to [0.1, 0.9]"
    return Dataset(
        X=X,
        name="patches",
        description=f"Natural image patches: {patch_size}x{patch_size} grayscale from {len(images)} photos, {how}.",
        image_shape=(patch_size, patch_size),
    )


@dataclass(frozen=True)
class BuiltinSet:
    """How to make one built-in set.

    ``generated`` sets are made with ``make(n_samples, rng, **options)`` and ``default_n_samples`` rows;
    fixed sets are made with ``make(**options)`` and subsampled afterwards.
    """

    make: Callable[..., Dataset]
    summary: str
    options: dict = field(default_factory=dict)
    generated: bool = False
    default_n_samples: int | None = None
    online: bool = False


BUILTIN_SETS: dict[str, BuiltinSet] = {
    "digits": BuiltinSet(make_digits, "1,797 handwritten digits, 8x8, in [0, 1], with labels (offline)."),
    "faces": BuiltinSet(
        make_faces,
        "100 LFW faces, 25x25 (include_non_faces adds 100 non-face crops, labelled) (offline).",
        {"include_non_faces": False},
    ),
    "face-parts": BuiltinSet(
        make_face_parts,
        "Cartoon faces, 32x32: outline + one of 3 brows, eyes, noses, mouths; truth = the 13 parts (offline).",
        {"likeness": 0.5, "strength_spread": 0.5},
        generated=True,
        default_n_samples=1_000,
    ),
    "patches": BuiltinSet(
        make_patches,
        "Random natural image patches (CS294A), normalised to [0.1, 0.9] or ZCA-whitened (offline).",
        {"patch_size": 8, "whiten": False, "epsilon": 1e-3},
        generated=True,
        default_n_samples=10_000,
    ),
    "swimmer": BuiltinSet(make_swimmer, "256 swimmer poses, 32x32; truth = 17 parts NMF should find (offline)."),
    "bars": BuiltinSet(
        make_bars,
        "Foldiak bars: sparse OR of horizontal and vertical bars; truth = the bars (offline).",
        {"size": 8, "bar_probability": 0.125},
        generated=True,
        default_n_samples=2_000,
    ),
    "sparse-synthetic": BuiltinSet(
        make_sparse_synthetic,
        "k-sparse codes times a known unit-norm dictionary; truth = the dictionary (offline).",
        {"n_features": 64, "n_atoms": 128, "k": 3, "noise": 0.01, "non_negative": False},
        generated=True,
        default_n_samples=5_000,
    ),
    "gaussian": BuiltinSet(
        make_spiked_gaussian,
        "Spiked-covariance Gaussian (Refinetti & Goldt); truth = the spike (principal) directions (offline).",
        {"n_features": 100, "n_spikes": 4, "spike_strength": 10.0, "noise": 1.0},
        generated=True,
        default_n_samples=5_000,
    ),
    "text-embeddings": BuiltinSet(
        make_text_embeddings,
        "Sentences about 6 topics embedded by TF-IDF + SVD to 64 signed dims; texts and topic labels (offline).",
        {"dims": 64, "topic_mix": 0.2},
        generated=True,
        default_n_samples=2_000,
    ),
    "olivetti": BuiltinSet(
        lambda: load_online("olivetti"),
        "400 Olivetti faces of 40 people, 64x64, with labels (one download, then cached).",
        online=True,
    ),
    "mnist": BuiltinSet(
        lambda: load_online("mnist"),
        "70,000 MNIST digits, 28x28, in [0, 1], with labels (one download, then cached).",
        online=True,
    ),
}
