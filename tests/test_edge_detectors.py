"""CS294A's edge detectors (issue 19): the two measures of core.analysis.receptive_fields tell an edge from a
grating and from noise, and full-batch L-BFGS keeps descending where its line search once stalled for good.
(The lesson itself, cs294a-edges, is run by tests/test_lessons.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from core import datasets, lessons, models
from core.analysis.receptive_fields import orientation_selectivity, width_across

SHAPE = (8, 8)


def _edge(angle: float, offset: float = 0.0) -> np.ndarray:
    """A light/dark edge through the patch at ``angle``, its profile a derivative of a Gaussian (width 1 px)."""
    rows, cols = np.mgrid[0:8, 0:8] - 3.5
    across = cols * np.cos(angle) + rows * np.sin(angle) - offset
    return (across * np.exp(-across ** 2 / 2)).ravel()


def _grating(angle: float, frequency: float = 0.25) -> np.ndarray:
    rows, cols = np.mgrid[0:8, 0:8]
    return np.cos(2 * np.pi * frequency * (cols * np.cos(angle) + rows * np.sin(angle))).ravel()


def test_an_edge_is_oriented_and_narrow_a_grating_oriented_and_wide_noise_neither():
    edges = np.stack([_edge(a, o) for a, o in [(0, 0), (np.pi / 4, 1), (np.pi / 2, -1), (2.0, 0.5)]])
    gratings = np.stack([_grating(a) for a in (0, np.pi / 2)])
    noise = np.random.default_rng(0).standard_normal((200, 64))
    assert orientation_selectivity(edges, SHAPE).min() > 0.6  # oblique ones leak a little on an 8 x 8 grid
    assert width_across(edges, SHAPE).max() < 0.6
    assert orientation_selectivity(gratings, SHAPE).min() > 0.9
    assert width_across(gratings, SHAPE).min() > 0.9
    assert np.median(orientation_selectivity(noise, SHAPE)) < 0.25
    assert np.median(width_across(noise, SHAPE)) > 0.8
    # a round blob has no orientation
    rows, cols = np.mgrid[0:8, 0:8] - 3.5
    blob = np.exp(-(rows ** 2 + cols ** 2) / 4).ravel()
    assert orientation_selectivity(blob[None], SHAPE)[0] < 0.1
    with pytest.raises(ValueError, match=r"atoms must be \(n_atoms, 64\)"):
        width_across(np.ones((3, 10)), SHAPE)


def test_full_batch_lbfgs_keeps_descending_after_a_failed_line_search():
    """On these patches L-BFGS's line search once found no step down at step ~30, and with its history kept
    every later step failed the same way: the loss stayed flat to the end. Forgetting the history there
    (a restart from steepest descent) lets it go on down."""
    X = datasets.load("patches", whiten=True, epsilon=0.1, n_samples=4000, seed=0).X
    model = models.create("sae-kl", n_components=25, optimizer="lbfgs", max_steps=80, sparsity_target=0.035,
                          sparsity_weight=5.0, weight_decay=3e-3, random_state=0, device="cpu").fit(X)
    loss = {row["step"]: row["loss"] for row in model.history_}
    assert loss[80] < loss[40] - 0.02 and loss[40] < loss[30], loss


def test_the_edge_lesson_opens_on_train_with_cs294a_settings():
    lesson = lessons.get("cs294a-edges")
    assert lesson.page == "train" and lesson.data == "patches" and lesson.data_options["whiten"] is True
    (run,) = lesson.runs
    assert run.model == "sae-kl" and run.params["optimizer"] == "lbfgs"
