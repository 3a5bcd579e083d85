"""Inspect's Recognition tab says on how many training samples it will fit, as ``recognition`` then does.

``core.analysis.recognition`` measures on a random subset of at most 5,000 samples; the tab's cost line
counted the training samples of all the run's samples (up to 10,000: "7,500 training samples" where the
table then said 3,750).
"""

from __future__ import annotations

import numpy as np
import pytest

from app_support import app_state, open_page
from core import analysis, models
from core.datasets.base import Dataset
from core.store import RunStore
from ui.session import DataChoice


def test_recognition_sizes_are_the_sizes_recognition_uses():
    rng = np.random.default_rng(0)
    for n, fraction in ((6000, 0.25), (1797, 0.3), (40, 0.1)):
        X, labels = rng.random((n, 3), dtype=np.float32), rng.integers(0, 3, n)
        (row,) = analysis.recognition(estimators={}, X=X, labels=labels, test_fraction=fraction)
        used, n_train, n_test = analysis.recognition_sizes(n, fraction)
        assert (n_train, n_test) == (row["n_train"], row["n_test"]) and used == n_train + n_test
    assert analysis.recognition_sizes(6000, 0.25)[0] == analysis.RECOGNITION_MAX_SAMPLES


@pytest.fixture
def large_upload(tmp_path, monkeypatch):
    """A labelled upload of 6,000 samples, loaded in the session, and a PCA run saved on it."""
    root = tmp_path / "runs"
    monkeypatch.setenv("SAE_EXPLORER_RUNS", str(root))
    rng = np.random.default_rng(0)
    X, labels = rng.random((6000, 6), dtype=np.float32), rng.integers(0, 3, 6000)
    record = RunStore(root).save_run(models.create("pca", n_components=3).fit(X), dataset="upload: acts.npz", X=X)
    return record, Dataset(X=X, name="acts.npz", labels=labels)


def _cost_line(large_upload) -> str:
    """The Recognition tab's cost line for the saved run, with its upload loaded in the session."""
    record, dataset = large_upload
    at = open_page("views/inspect.py")
    state = app_state(at)
    state.data, state.dataset = DataChoice("acts.npz", {}, upload="acts.npz"), dataset
    at.selectbox(key="inspect:run").set_value(record.id).run()
    assert not at.exception and not at.error, at.exception or at.error
    (cost,) = [c.value for c in at.caption if c.value.startswith("Fits ")]
    return cost


def test_the_cost_line_counts_the_samples_recognition_fits_on(large_upload):
    cost = _cost_line(large_upload)
    assert "on 3,750 training samples (of a random 5,000 of the run's 6,000 samples)" in cost, cost


def test_the_cost_line_says_which_models_are_this_runs_and_which_sae(large_upload):
    cost = _cost_line(large_upload)
    # a PCA run: PCA is refitted with its settings, NMF (non-negative data) and the SAE are the page's own
    assert cost.startswith("Fits PCA (this run's settings), NMF (200 steps), SAE (sae-topk, k = 3, 500 steps) on "), cost
