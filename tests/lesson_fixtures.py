"""Small stand-ins for the lessons' online data sets, written in the loader's real cache format, so that a
lesson on Olivetti runs offline in the tests (imported by the test files, not a conftest)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core import datasets
from core.datasets import online
from tests.datasets_fixtures import go_offline

OLIVETTI_SHAPE = (64, 64)


def olivetti_shaped_faces() -> tuple[np.ndarray, np.ndarray]:
    """Real photographed faces offline: the 100 faces of the bundled `faces` set (LFW crops, 25x25) enlarged to
    Olivetti's 64x64, as float32 in [0, 1], with person-like labels (the cache's arrays X and labels)."""
    faces = datasets.load("faces")
    images = faces.X.reshape(-1, *faces.image_shape)
    enlarged = [np.asarray(Image.fromarray(image).resize(OLIVETTI_SHAPE[::-1], Image.BILINEAR)) for image in images]
    X = np.clip(np.stack(enlarged).reshape(len(images), -1), 0.0, 1.0).astype(np.float32)
    return X, np.arange(len(X), dtype=np.int64) % 40


@pytest.fixture
def no_downloads(tmp_path, monkeypatch):
    """An empty download cache in a fresh folder, every download failing as it does offline."""
    return go_offline(monkeypatch, tmp_path / "data-cache")


@pytest.fixture
def olivetti_cache(no_downloads):
    """The Olivetti cache file holding ``olivetti_shaped_faces`` (no download can happen)."""
    X, labels = olivetti_shaped_faces()
    no_downloads.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(online.cache_file("olivetti"), X=X, labels=labels)
    return no_downloads
