"""The comparison picture draws a pair's |cos| green exactly when the page counts it among the pairs with
|cos| >= 0.8: the colour was read off the rounded text, so a pair at 0.7951 ("0.80") was green but not counted."""

from __future__ import annotations

import math

import numpy as np

from core import analysis

GREEN = (22, 101, 52)


def _green_pixels(cosine: float) -> int:
    left = np.array([[1.0, 0.0, 0.0]])
    right = np.array([[cosine, math.sqrt(1 - cosine ** 2), 0.0]])
    picture = analysis.comparison_image(left, right)
    return int(np.all(np.asarray(picture.convert("RGB")) == GREEN, axis=-1).sum())


def test_green_follows_the_similarity_not_its_rounded_text():
    assert analysis.pair_atoms([[1.0, 0.0, 0.0]], [[0.7951, math.sqrt(1 - 0.7951 ** 2), 0.0]]).similarity[0] < 0.8
    assert _green_pixels(0.7951) == 0  # shown as "0.80", below the 0.8 the page counts
    assert _green_pixels(0.81) > 0
    assert _green_pixels(0.5) == 0
