"""The swimmer lesson's Home card (when-sae-and-nmf-agree): the signed TopK SAE's atoms must be readable, not
pale. Its limbs are lines one pixel wide at a fraction of the atom's peak; drawn on the atom's own full scale they
were near-white. The card draws each signed atom on its own symmetric scale, full colour from half its peak, and
says so."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from core import datasets, lessons
from core.lessons import cards

NAME = "when-sae-and-nmf-agree"


def _fitted(truth: np.ndarray) -> list:
    """NMF and the non-negative SAE: the true parts; the signed SAE: each part at 0.4 minus the next part at
    0.4, with one pixel at its peak 1 (a signed atom's limbs lie well below its peak)."""
    signed = 0.4 * truth / truth.max(axis=1, keepdims=True) - 0.4 * np.roll(truth, 1, axis=0) / truth.max()
    signed[np.arange(len(truth)), np.argmax(truth, axis=1)] = 1.0
    return [SimpleNamespace(components_=truth), SimpleNamespace(components_=truth.copy()),
            SimpleNamespace(components_=signed.astype(np.float32))]


def test_the_signed_atoms_limbs_are_drawn_in_deep_colour_and_the_caption_states_the_scale():
    lesson, data = lessons.get(NAME), datasets.load("swimmer")
    truth = np.asarray(data.truth, dtype=np.float64)
    fitted = _fitted(truth)
    picture, caption = cards.picture(lesson, data, fitted)
    pixels = np.asarray(picture).astype(int)
    deep = int(((pixels.max(axis=2) - pixels.min(axis=2)) > 100).sum())  # saturated red or blue, not pale
    limb_pixels = int((np.abs(fitted[2].components_) >= 0.39).sum())
    assert deep >= 0.8 * limb_pixels, (deep, limb_pixels)
    assert "white 0, full colour from 50% of its largest |value|" in caption
