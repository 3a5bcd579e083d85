"""Faces built from parts, the offline stand-in for Lee & Seung's (1999) NMF-versus-eigenfaces result.

Each 32 x 32 face is the sum of an outline and one variant of each of four features (brows, eyes, nose,
mouth), every part at its own strength, under one lighting factor for the whole face. The parts are the
ground truth: NMF, which can only add, recovers them; PCA, whose orthogonal components follow how the
features vary together (lighting, face type), gives holistic eigenfaces instead.
"""

from __future__ import annotations

import numpy as np
from skimage.draw import ellipse_perimeter, line

from .base import Dataset, check_float
from .synthetic import generated

FACE_SIZE = 32
# The outline encloses features that keep to rows of their own, so no two parts share a pixel and every
# face is exactly the sum of its parts (values stay in [0, 1]).
_OUTLINE_CENTRE, _OUTLINE_RADII = (16, 16), (14, 11)  # (row, column), (row radius, column radius)


def _canvas() -> np.ndarray:
    return np.zeros((FACE_SIZE, FACE_SIZE))


def _mirrored(*segments: tuple[int, int, int, int]) -> np.ndarray:
    """Line segments (row0, col0, row1, col1) on the left half, mirrored onto the right half."""
    image = _segments(*segments)
    return np.maximum(image, image[:, ::-1])


def _segments(*segments: tuple[int, int, int, int]) -> np.ndarray:
    image = _canvas()
    for r0, c0, r1, c1 in segments:
        image[line(r0, c0, r1, c1)] = 1.0
    return image


def _ring(centre: tuple[int, int], radii: tuple[int, int]) -> np.ndarray:
    image = _canvas()
    image[ellipse_perimeter(*centre, *radii, shape=image.shape)] = 1.0
    return image


# The variants of one feature do not share a pixel either, so each is a part of its own, like the
# positions of a swimmer's limb. Rows: brows 5-9, eyes 11-14, nose 15-20, mouth 22-28.
def _brows() -> list[np.ndarray]:
    raised, level, frowning = (5, 10, 5, 13), (7, 9, 7, 13), (8, 9, 9, 13)
    return [_mirrored(raised), _mirrored(level), _mirrored(frowning)]


def _eyes() -> list[np.ndarray]:
    open_eyes = _mirrored((11, 10, 11, 12), (12, 10, 12, 12))
    wide_set = _mirrored((11, 7, 11, 8), (12, 7, 12, 8))
    closed = _mirrored((14, 9, 14, 13))
    return [open_eyes, wide_set, closed]


def _nose() -> list[np.ndarray]:
    straight = _segments((15, 15, 18, 15), (15, 16, 18, 16))
    crooked = _segments((15, 19, 19, 17))
    nostrils = _mirrored((19, 12, 19, 13), (20, 12, 20, 13))
    return [straight, crooked, nostrils]


def _mouth() -> list[np.ndarray]:
    smile = _mirrored((22, 10, 24, 12), (24, 12, 24, 15))
    flat = _segments((25, 12, 25, 19))
    open_mouth = _ring((27, 16), (1, 2))
    return [smile, flat, open_mouth]


PART_GROUPS: dict[str, int] = {"outline": 1, "brows": 3, "eyes": 3, "nose": 3, "mouth": 3}


def face_parts() -> np.ndarray:
    """The 13 parts as flattened 32 x 32 binary images: the outline, then 3 variants of brows, eyes, nose, mouth."""
    parts = [_ring(_OUTLINE_CENTRE, _OUTLINE_RADII), *_brows(), *_eyes(), *_nose(), *_mouth()]
    return np.stack(parts).reshape(len(parts), -1)


def make_face_parts(
    n_samples: int, rng: np.random.Generator, *, likeness: float = 0.5, strength_spread: float = 0.5
) -> Dataset:
    """Faces = lighting * (outline + one variant of each feature), each part at its own strength.

    Each face has a type (0, 1 or 2); each feature takes that type's variant with probability ``likeness``,
    else a random one, so features go together as in real faces (what makes PCA's components whole faces)
    while every combination still occurs (what lets NMF tell the parts apart).
    Strengths are uniform in [1 - strength_spread, 1]; the lighting factor, shared by the whole face, too.
    Varying strengths make every part, the always-present outline included, a direction of its own.
    """
    likeness = check_float("likeness", likeness, 0.0, 1.0)
    spread = check_float("strength_spread", strength_spread, 0.0, 0.9)
    parts = face_parts()
    group_sizes = list(PART_GROUPS.values())
    first_index = np.cumsum([0, *group_sizes[:-1]])
    face_type = rng.integers(max(group_sizes), size=n_samples)
    columns = []
    for first, size in zip(first_index, group_sizes):
        follows_type = rng.random(n_samples) < likeness
        columns.append(first + np.where(follows_type, face_type % size, rng.integers(size, size=n_samples)))
    choice = np.stack(columns, axis=1)
    strengths = rng.uniform(1.0 - spread, 1.0, size=choice.shape)
    lighting = rng.uniform(1.0 - spread, 1.0, size=(n_samples, 1))
    codes = np.zeros((n_samples, len(parts)))
    np.put_along_axis(codes, choice, strengths * lighting, axis=1)
    description = (
        f"Face parts: {n_samples:,} faces of {FACE_SIZE}x{FACE_SIZE}, each an outline plus one of 3 brows, "
        f"eyes, noses and mouths (likeness {likeness:g}), strengths in [{1 - spread:g}, 1]; "
        f"truth = the {len(parts)} parts."
    )
    return generated(codes @ parts, "face-parts", description, truth=parts, image_shape=(FACE_SIZE, FACE_SIZE))
