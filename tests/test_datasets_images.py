"""Tests for core.datasets' image sets: a folder or a .zip of images (nested, mixed sizes), uploads of them,
and the archives refused (unsafe paths, zip bombs, broken images). The rest of core.datasets is
tests/test_datasets.py."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from datasets_fixtures import (  # noqa: F401  (offline_cache is an autouse fixture)
    image_bytes,
    mixed_image_entries,
    offline_cache,
    write_tree,
    zip_bytes,
)
from PIL import Image

from core.datasets import DatasetError, images, load, load_bytes


def _check_mixed_images(data):
    assert data.X.shape == (4, 24) and data.image_shape == (6, 4)  # the most common size; the 10x10 one resized
    assert data.labels.tolist() == [0, 0, 1, 1]  # cats (with a nested folder), dogs
    np.testing.assert_allclose(data.X.mean(axis=1), [0.0, 1.0, 1.0, 1.0], atol=0.02)


def test_folder_of_nested_mixed_images(tmp_path):
    write_tree(tmp_path / "images", mixed_image_entries())
    _check_mixed_images(load(tmp_path / "images"))
    resized = load(tmp_path / "images", image_shape=(5, 5), n_samples=3, seed=1)
    assert resized.X.shape == (3, 25) and resized.image_shape == (5, 5)


def test_zip_of_nested_mixed_images(tmp_path):
    archive = zip_bytes(mixed_image_entries())
    (tmp_path / "images.zip").write_bytes(archive)
    _check_mixed_images(load(tmp_path / "images.zip"))
    _check_mixed_images(load_bytes(archive, "upload.zip"))


@pytest.mark.parametrize("bad_name", ["../evil.png", "/etc/evil.png", "ok/../../evil.png"])
def test_zip_with_unsafe_paths_is_refused(bad_name):
    # zipfile.writestr strips leading slashes, so build the entry by hand through ZipInfo.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fine.png", image_bytes(3, 3))
        info = zipfile.ZipInfo("placeholder")
        info.filename = bad_name
        archive.writestr(info, image_bytes(3, 3))
    with pytest.raises(DatasetError, match="unsafe path"):
        load_bytes(buffer.getvalue(), "evil.zip")


def test_zip_bombs_are_refused(monkeypatch):
    archive = zip_bytes({"a.png": image_bytes(20, 20), "b.png": image_bytes(20, 20)})
    monkeypatch.setattr(images, "MAX_ZIP_UNCOMPRESSED_BYTES", 100)
    with pytest.raises(DatasetError, match="zip bomb"):
        load_bytes(archive, "bomb.zip")
    monkeypatch.setattr(images, "MAX_ZIP_UNCOMPRESSED_BYTES", 1 << 30)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 20x20 = 400 pixels: over twice the limit
    with pytest.raises(DatasetError, match="too large to decode"):
        load_bytes(archive, "bomb.zip")


@pytest.mark.parametrize(
    ("entries", "words"),
    [
        ({"readme.txt": b"hi"}, ["no images"]),
        ({"a.png": image_bytes(3, 3), "b.png": b"\x89PNG broken"}, ["b.png", "not a readable image"]),
    ],
)
def test_bad_image_sets(tmp_path, entries, words):
    write_tree(tmp_path / "folder", entries)
    for source in (lambda: load(tmp_path / "folder"), lambda: load_bytes(zip_bytes(entries), "x.zip")):
        with pytest.raises(DatasetError) as caught:
            source()
        for word in words:
            assert word in str(caught.value)


def test_corrupt_zip():
    with pytest.raises(DatasetError, match="not a valid zip"):
        load_bytes(b"PK\x03\x04 truncated", "broken.zip")
